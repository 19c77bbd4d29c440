"""Bias–variance decomposition of the expected test error of a learning algorithm.

Lecture notation ("The Bias-Variance Tradeoff"): a training set D ~ P^N, the learned hypothesis
h_D = A(D), the expected classifier h̄(x) = E_D[h_D(x)] and the expected label ȳ(x) = E_{y|x}[y].
For the squared loss

    E_{x,y,D}[(h_D(x) − y)²] =  E_{x,D}[(h_D(x) − h̄(x))²]   (Variance)
                              + E_{x,y}[(ȳ(x) − y)²]        (irreducible Noise)
                              + E_x[(h̄(x) − ȳ(x))²]         (Bias²).

Only finitely many training sets D_1 … D_T can be drawn, so every expectation over D becomes a mean
over the T trials and h̄ becomes the sample mean h̄_T(x) = (1/T) Σ_t h_{D_t}(x). Two protocols draw
the D_t from one finite training set of size N (:func:`draw_training_sets`):

* ``"split"`` — Yang, Yu, You, Steinhardt & Ma (2020), "Rethinking Bias-Variance Trade-off for
  Generalization of Neural Networks": the training set is randomly split into T *disjoint* parts
  (independent draws from P^{N/T}); the split may be repeated with fresh permutations and the
  estimates averaged. Variance uses their unbiased correction

      Var = E_x [ 1/(T−1) Σ_t ‖h_{D_t}(x) − h̄_T(x)‖² ]  =  T/(T−1) · (plug-in variance),

  and Bias² = Risk − Var (with unknown ȳ this "bias²" contains the noise; Yang et al. report it so).
* ``"bootstrap"`` — the protocol of mlxtend's ``bias_variance_decomp``: T bootstrap resamples (with
  replacement) of the training set. With ``correction=False`` the numbers equal mlxtend's
  (``avg_expected_loss``, ``avg_bias`` = ‖h̄_T − y‖² averaged, ``avg_var``).

Losses (all output dimensions of a multi-output model are kept: for vector outputs the squared loss
is the squared Euclidean norm ‖·‖² summed over output dimensions, as Yang et al. do for one-hot
targets; outputs of a multi-head model are decomposed head by head):

* squared error — the lecture's decomposition above (:func:`squared_error_decomposition`);
* 0-1 loss — Domingos (2000), "A Unified Bias-Variance Decomposition"
  (:func:`zero_one_decomposition`);
* cross-entropy — Yang et al. (2020)'s Bregman (KL) form (:func:`cross_entropy_decomposition`).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from augment.checks import check_choice, check_int, check_positive_int

__all__ = [
    "BiasVarianceResult",
    "squared_error_decomposition",
    "zero_one_decomposition",
    "cross_entropy_decomposition",
    "decompose",
    "draw_training_sets",
    "estimate_bias_variance",
    "predict_batched",
]

LOSSES = ("squared_error", "zero_one", "cross_entropy")
PROTOCOLS = ("split", "bootstrap")


@dataclasses.dataclass
class BiasVarianceResult:
    """Decomposition of the expected test error, Risk = Bias² + Variance + Noise.

    Attributes:
        loss: ``"squared_error"``, ``"zero_one"`` or ``"cross_entropy"``.
        risk: measured expected test error E_{x,y,D}[L(h_D(x), y)] (mean over trials and test points).
        bias2: Bias² (for the 0-1 loss Domingos' bias E_x[B(x)], which is 0 or 1 per point).
            Defined so that ``risk == bias2 + variance + noise`` (Yang et al.: Bias² = Risk − Var).
        variance: Variance, with the unbiased T/(T−1) correction when ``correction`` was set.
        noise: irreducible noise E_{x,y}[L(ȳ(x), y)] when the true function / class probabilities are
            known, else ``None`` (then ``bias2`` contains the noise).
        trials: number T of training sets per group.
        details: further estimates (plug-in variance, the direct Bias² estimate E_x‖h̄_T − ȳ‖² − Var/T,
            Domingos' net variance, ...).
    """

    loss: str
    risk: float
    bias2: float
    variance: float
    noise: float | None
    trials: int
    details: dict = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {"loss": self.loss, "risk": self.risk, "bias2": self.bias2,
               "variance": self.variance, "noise": self.noise, "trials": self.trials}
        out.update(self.details)
        return out


def _check_trials(predictions, name="predictions"):
    """The shape rule of every decomposition: (trials T, n examples, ...) with T >= 2 (a variance needs two)."""
    if predictions.ndim < 2 or predictions.shape[0] < 2:
        raise ValueError(f"{name} must have shape (trials, n, ...) with trials in [2, inf), "
                         f"got shape {predictions.shape}")


def _sum_trailing(a, start):
    """Sum over all axes from ``start`` on (the output dimensions), keeping leading ones."""
    if a.ndim <= start:
        return a
    return a.reshape(a.shape[:start] + (-1,)).sum(axis=-1)


def squared_error_decomposition(predictions, y, f_true=None, correction=True) -> BiasVarianceResult:
    """Squared-loss decomposition E‖h_D(x) − y‖² = Var + Noise + Bias² from T trials.

    Args:
        predictions: array (T, n, *out) — h_{D_t}(x_i) for T training sets and n test points.
            Output dimensions are not flattened into points: the loss of one point is ‖·‖² summed
            over ``out`` (for one-hot targets this is Yang et al.'s MSE risk).
        y: observed test targets, shape (n, *out).
        f_true: optional ȳ(x_i) = E[y|x_i] (the true function on synthetic data), shape (n, *out).
        correction: apply the unbiased factor T/(T−1) to the variance (Yang et al. 2020).

    Estimates (means over i = 1..n and t = 1..T):
        Risk      = mean_{t,i} ‖h_t(x_i) − y_i‖²
        Var_plug  = mean_i (1/T) Σ_t ‖h_t(x_i) − h̄_T(x_i)‖²,    Var = T/(T−1)·Var_plug if correction
        Noise     = mean_i ‖y_i − ȳ(x_i)‖²                       (only with ``f_true``)
        Bias²     = Risk − Var − Noise                          (Noise := 0 without ``f_true``)
        details["bias2_direct"] = mean_i ‖h̄_T(x_i) − ȳ(x_i)‖² − Var/T  (unbiased for E_x‖h̄ − ȳ‖²,
            since E‖h̄_T − ȳ‖² = ‖h̄ − ȳ‖² + Var/T; with ``f_true`` only)
    The sample identity Risk = mean_i ‖h̄_T(x_i) − y_i‖² + Var_plug holds exactly.
    """
    p = np.asarray(predictions, dtype=np.float64)
    _check_trials(p)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != p.shape[1:]:
        raise ValueError(f"y must have shape {p.shape[1:]} (predictions.shape[1:]), got {y.shape}")
    t = p.shape[0]
    h_bar = p.mean(axis=0)
    risk = float(_sum_trailing((p - y) ** 2, 2).mean())
    var_plugin = float(_sum_trailing((p - h_bar) ** 2, 2).mean())
    variance = var_plugin * t / (t - 1) if correction else var_plugin
    details = {
        "variance_plugin": var_plugin,
        "mean_prediction_error": float(_sum_trailing((h_bar - y) ** 2, 1).mean()),
        "correction_factor": t / (t - 1) if correction else 1.0,
    }
    noise = None
    if f_true is not None:
        f = np.asarray(f_true, dtype=np.float64)
        if f.shape != y.shape:
            raise ValueError(f"f_true must have shape {y.shape}, got {f.shape}")
        noise = float(_sum_trailing((y - f) ** 2, 1).mean())
        direct = float(_sum_trailing((h_bar - f) ** 2, 1).mean())
        details["bias2_direct"] = direct - (variance / t if correction else 0.0)
    bias2 = risk - variance - (noise or 0.0)
    return BiasVarianceResult("squared_error", risk, bias2, variance, noise, t, details)


def zero_one_decomposition(pred_labels, labels=None, class_probs=None) -> BiasVarianceResult:
    """Domingos (2000) decomposition of the 0-1 loss, E_{D,t}[L(t, h_D)] = c₁N + B + c₂V, per point x.

    With the main prediction y_m(x) = mode over D of h_D(x) and the optimal (Bayes) prediction
    y*(x) = argmax_c p(c|x):
        N(x) = P_t(t ≠ y*)            noise             B(x) = 1[y_m ≠ y*]     bias
        V(x) = P_D(h_D ≠ y_m)         variance
        c₂ = 1 if B = 0, else −P_D(h_D = y* | h_D ≠ y_m)   (variance *adds* on unbiased points and
                                                           *subtracts* on biased ones)
        c₁ = P_D(h_D = y*) − E_D[1(h_D ≠ y*) P_t(t = h_D | t ≠ y*)].
    The identity holds exactly for the empirical distribution of the T trials.

    Args:
        pred_labels: int array (T, n, *out) of predicted classes h_{D_t}(x_i).
        labels: observed labels (n, *out). Without ``class_probs`` the labels are taken as noise-free
            (p(·|x) = one-hot(label), N = 0: the noise is inside B, as when y* is unknown).
        class_probs: optional true p(c|x_i), shape (n, *out, C); the risk is then the exact expected
            loss over t ~ p(·|x) and the noise term is reported separately.

    Result: ``risk``, ``bias2`` = mean B, ``noise`` = mean c₁N (None without ``class_probs``),
    ``variance`` = net variance mean c₂V, so risk = bias2 + variance + noise exactly.
    details: ``variance_total`` = mean V, ``variance_unbiased`` = mean V·1[B=0],
    ``variance_biased`` = mean V·1[B=1], ``noise_plain`` = mean N, ``risk_observed`` (with labels).
    No finite-T correction is defined for this decomposition; none is applied.
    """
    h = np.asarray(pred_labels)
    _check_trials(h, "pred_labels")
    if not np.issubdtype(h.dtype, np.integer):
        raise TypeError(f"pred_labels must be integer class indices, got dtype {h.dtype}")
    if class_probs is None:
        if labels is None:
            raise ValueError("zero_one_decomposition needs labels or class_probs")
        labels = np.asarray(labels)
        if labels.shape != h.shape[1:]:
            raise ValueError(f"labels must have shape {h.shape[1:]}, got {labels.shape}")
        num_classes = int(max(h.max(), labels.max())) + 1
        probs = np.eye(num_classes)[labels]
    else:
        probs = np.asarray(class_probs, dtype=np.float64)
        if probs.shape[:-1] != h.shape[1:]:
            raise ValueError(f"class_probs must have shape {h.shape[1:]} + (C,), got {probs.shape}")
        num_classes = probs.shape[-1]
        if h.max() >= num_classes or h.min() < 0:
            raise ValueError(f"pred_labels must be in [0, {num_classes}), got range "
                             f"[{h.min()}, {h.max()}]")
    t = h.shape[0]
    h = h.reshape(t, -1)
    probs = probs.reshape(-1, num_classes)
    n = h.shape[1]
    counts = np.zeros((n, num_classes))
    for k in range(t):
        np.add.at(counts, (np.arange(n), h[k]), 1.0)
    y_m = counts.argmax(axis=1)                      # main prediction (ties: lowest class)
    y_star = probs.argmax(axis=1)
    idx = np.arange(n)
    noise_pt = 1.0 - probs[idx, y_star]
    bias_pt = (y_m != y_star).astype(np.float64)
    var_pt = 1.0 - counts[idx, y_m] / t
    p_hit = counts[idx, y_star] / t                   # P_D(h_D = y*)
    # P_D(h_D = y* | h_D ≠ y_m); only used where B = 1 (then y* ≠ y_m).
    with np.errstate(invalid="ignore", divide="ignore"):
        c2 = np.where(bias_pt == 0, 1.0, -np.where(var_pt > 0, p_hit / var_pt, 0.0))
        q = np.where(noise_pt[:, None] > 0, probs / noise_pt[:, None], 0.0)  # P_t(t=c | t≠y*)
    q[idx, y_star] = 0.0
    c1 = p_hit - (counts / t * q).sum(axis=1)
    risk_pt = 1.0 - (counts / t * probs).sum(axis=1)  # E_D E_t 1[h_D ≠ t]
    details = {
        "variance_total": float(var_pt.mean()),
        "variance_unbiased": float((var_pt * (bias_pt == 0)).mean()),
        "variance_biased": float((var_pt * (bias_pt == 1)).mean()),
        "noise_plain": float(noise_pt.mean()),
    }
    if labels is not None:
        lab = np.asarray(labels).reshape(-1)
        details["risk_observed"] = float((h != lab[None]).mean())
    noise = float((c1 * noise_pt).mean()) if class_probs is not None else None
    return BiasVarianceResult("zero_one", float(risk_pt.mean()), float(bias_pt.mean()),
                              float((c2 * var_pt).mean()), noise, t, details)


def _log_softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def cross_entropy_decomposition(outputs, labels=None, class_probs=None, from_logits=True,
                                correction=True, eps=1e-12) -> BiasVarianceResult:
    """Yang et al. (2020) Bregman decomposition of the cross-entropy CE(y, π) = −Σ_c y_c log π_c.

    With the normalized geometric mean π̄(x) = exp(E_D log π_D(x)) / Z(x) (the "average model" of
    the KL Bregman divergence), for any target distribution y:

        E_D[CE(y, π_D)] = CE(y, π̄) + E_D[KL(π̄ ‖ π_D)],   and   E_D[KL(π̄ ‖ π_D)] = −log Z(x),

    so Risk = Bias² + Variance with Variance = E_x E_D KL(π̄ ‖ π_D) and Bias² = E_x CE(y, π̄); for
    true class probabilities p(·|x), CE(p, π̄) = H(p) + KL(p ‖ π̄) separates Noise = E_x H(p(·|x)).

    Args:
        outputs: (T, n, *out, C) logits (``from_logits=True``) or probabilities.
        labels: int labels (n, *out) or one-hot/soft targets (n, *out, C).
        class_probs: optional true p(c|x) (n, *out, C): risk is then the expectation over t ~ p.
        correction: multiply the plug-in variance by T/(T−1) (first-order bias correction, exact for
            the quadratic approximation KL ≈ ½χ²; Yang et al. apply it to all their losses); Bias² is
            then Risk − Variance − Noise.
    details: ``variance_plugin``, ``bias2_direct`` = E_x KL(y ‖ π̄) (plug-in).
    """
    z = np.asarray(outputs, dtype=np.float64)
    _check_trials(z, "outputs")
    logp = _log_softmax(z) if from_logits else np.log(np.clip(z, eps, None))
    t, num_classes = z.shape[0], z.shape[-1]
    if class_probs is not None:
        target = np.asarray(class_probs, dtype=np.float64)
    elif labels is not None:
        lab = np.asarray(labels)
        if lab.shape == z.shape[1:-1]:
            target = np.eye(num_classes)[lab]
        else:
            target = lab.astype(np.float64)
    else:
        raise ValueError("cross_entropy_decomposition needs labels or class_probs")
    if target.shape != z.shape[1:]:
        raise ValueError(f"targets must have shape {z.shape[1:]} (or labels {z.shape[1:-1]}), "
                         f"got {target.shape}")
    mean_logp = logp.mean(axis=0)
    m = mean_logp.max(axis=-1, keepdims=True)
    log_z = (m + np.log(np.exp(mean_logp - m).sum(axis=-1, keepdims=True)))[..., 0]
    log_pbar = mean_logp - log_z[..., None]
    risk = float((-(target[None] * logp).sum(axis=-1)).mean())
    var_plugin = float((-log_z).mean())
    variance = var_plugin * t / (t - 1) if correction else var_plugin
    xlogx = np.where(target > 0, target * np.log(np.clip(target, eps, None)), 0.0)
    entropy = -xlogx.sum(axis=-1)
    kl_bias = (xlogx - target * log_pbar).sum(axis=-1)
    noise = float(entropy.mean()) if class_probs is not None else None
    details = {"variance_plugin": var_plugin, "bias2_direct": float(kl_bias.mean()),
               "entropy_targets": float(entropy.mean()),
               "correction_factor": t / (t - 1) if correction else 1.0}
    bias2 = risk - variance - (noise or 0.0)
    return BiasVarianceResult("cross_entropy", risk, bias2, variance, noise, t, details)


def decompose(predictions, y, loss="squared_error", *, f_true=None, class_probs=None,
              from_logits=True, correction=True, one_hot=None) -> BiasVarianceResult:
    """Dispatch to the decomposition of ``loss`` for predictions of shape (T, n, *out).

    ``squared_error`` on class labels: if ``y`` has one dimension less than the predictions per trial
    (int labels (n,) against outputs (n, C)), y is one-hot encoded (Yang et al.'s MSE on one-hot
    targets); ``one_hot=False`` turns that off. ``zero_one`` takes predicted classes (T, n, *out) or
    scores (T, n, *out, C) (then argmax over the last axis).
    """
    check_choice("loss", loss, LOSSES)
    p = np.asarray(predictions)
    if loss == "squared_error":
        y = np.asarray(y)
        if one_hot is not False and y.ndim == p.ndim - 2 and np.issubdtype(y.dtype, np.integer):
            y = np.eye(p.shape[-1])[y]
        return squared_error_decomposition(p, y, f_true=f_true, correction=correction)
    if loss == "zero_one":
        if not np.issubdtype(p.dtype, np.integer):
            p = p.argmax(axis=-1)
        labels = None if y is None else np.asarray(y)
        if labels is not None and labels.ndim == p.ndim:   # one-hot labels
            labels = labels.argmax(axis=-1)
        return zero_one_decomposition(p, labels, class_probs=class_probs)
    return cross_entropy_decomposition(p, y, class_probs=class_probs, from_logits=from_logits,
                                       correction=correction)


def draw_training_sets(n, protocol="split", trials=2, train_size=None, repeats=1, seed=0):
    """Index sets of the training sets D_1 … D_T, grouped as ``repeats`` lists of ``trials`` arrays.

    ``"split"`` (Yang et al. 2020): per repeat, a fresh random permutation of range(n) cut into
    ``trials`` disjoint parts of ``train_size`` (default n // trials) indices — independent draws
    from P^{train_size}. ``"bootstrap"`` (mlxtend): ``trials`` resamples with replacement of size
    ``train_size`` (default n) per repeat.
    """
    n = check_positive_int("n", n)
    check_choice("protocol", protocol, PROTOCOLS)
    trials = check_int("trials", trials, 2)
    repeats = check_positive_int("repeats", repeats)
    if protocol == "split":  # disjoint splits: train_size <= n // trials
        if n // trials < 1:
            raise ValueError(f"trials must be an integer in [2, n={n}] for disjoint splits, got {trials}")
        size = n // trials if train_size is None else check_int("train_size", train_size, 1, n // trials)
    else:
        size = n if train_size is None else check_positive_int("train_size", train_size)
    rng = np.random.default_rng(seed)
    groups = []
    for _ in range(repeats):
        if protocol == "split":
            perm = rng.permutation(n)
            groups.append([np.sort(perm[k * size:(k + 1) * size]) for k in range(trials)])
        else:
            groups.append([rng.integers(0, n, size=size) for _ in range(trials)])
    return groups


def _take(data, idx):
    import keras
    return keras.tree.map_structure(lambda a: np.asarray(a)[idx], data)


def predict_batched(model, x, batch_size=1024):
    """h(x) by direct (eager) calls ``model(x_b, training=False)`` over batches of ``batch_size``.

    Avoids ``model.predict``'s per-model tracing, which dominates for many small models.
    """
    import keras

    n = len(keras.tree.flatten(x)[0])
    outs = []
    for start in range(0, n, batch_size):
        xb = keras.tree.map_structure(lambda a: np.asarray(a)[start:start + batch_size], x)
        outs.append(keras.tree.map_structure(keras.ops.convert_to_numpy, model(xb, training=False)))
    return keras.tree.map_structure(lambda *parts: np.concatenate(parts, axis=0), *outs)


def _average(results: list[BiasVarianceResult]) -> BiasVarianceResult:
    if len(results) == 1:
        return results[0]
    r0 = results[0]
    mean = lambda vals: float(np.mean(vals))  # noqa: E731
    details = {k: mean([r.details[k] for r in results]) for k in r0.details}
    details["repeats"] = len(results)
    details["variance_std_over_repeats"] = float(np.std([r.variance for r in results]))
    return BiasVarianceResult(
        r0.loss, mean([r.risk for r in results]), mean([r.bias2 for r in results]),
        mean([r.variance for r in results]),
        None if r0.noise is None else mean([r.noise for r in results]), r0.trials, details)


def estimate_bias_variance(build_model: Callable[[], Any], x_train, y_train, x_test, y_test, *,
                           loss="squared_error", protocol="split", trials=2, repeats=1,
                           train_size=None, fit_kwargs=None, train_fn=None, f_test=None,
                           class_probs=None, from_logits=True, correction=True, seed=0,
                           return_predictions=False, predict_fn=None, predict_batch_size=1024):
    """Train one model per training set D_t and decompose its test error (see module docstring).

    For every group r = 1..repeats and trial t = 1..T: ``keras.utils.set_random_seed(seed + 1000 r
    + t)``, ``model = build_model()`` (a compiled Keras model), ``model.fit(x[D_t], y[D_t],
    **fit_kwargs)`` (or ``train_fn(model, x_t, y_t)``), then h_{D_t}(x_test) = model(x_test,
    training=False) in batches of ``predict_batch_size`` (or ``predict_fn(model, x_test)``).
    The decomposition is computed per group and averaged over groups (Yang et al. repeat their splits).

    ``x_train``/``y_train`` may be nested structures (dicts/lists of arrays indexed on axis 0).
    A model with several outputs (list or dict from ``predict``) is decomposed output by output:
    then ``y_test`` (and ``f_test``) have the same structure and a dict ``{output: result}`` is
    returned. Returns a :class:`BiasVarianceResult` (and the predictions (repeats, T, n, *out) if
    ``return_predictions``).
    """
    import keras

    check_choice("loss", loss, LOSSES)
    if not callable(build_model):
        raise TypeError(f"build_model must be callable, got {type(build_model).__name__}")
    n = len(keras.tree.flatten(x_train)[0])
    groups = draw_training_sets(n, protocol, trials, train_size, repeats, seed)
    fit_kwargs = dict(fit_kwargs or {})
    fit_kwargs.setdefault("verbose", 0)
    all_preds = []
    for r, group in enumerate(groups):
        preds = []
        for t, idx in enumerate(group):
            keras.utils.set_random_seed(seed + 1000 * (r + 1) + t)
            model = build_model()
            x_t, y_t = _take(x_train, idx), _take(y_train, idx)
            if train_fn is not None:
                train_fn(model, x_t, y_t)
            else:
                model.fit(x_t, y_t, **fit_kwargs)
            if predict_fn is not None:
                preds.append(predict_fn(model, x_test))
            else:
                preds.append(predict_batched(model, x_test, predict_batch_size))
        all_preds.append(preds)

    first = all_preds[0][0]
    kwargs = dict(loss=loss, from_logits=from_logits, correction=correction)
    if isinstance(first, (list, tuple, dict)):
        keys = list(first.keys()) if isinstance(first, dict) else list(range(len(first)))
        out = {}
        for key in keys:
            res = []
            for preds in all_preds:
                stacked = np.stack([np.asarray(p[key]) for p in preds])
                res.append(decompose(stacked, y_test[key],
                                     f_true=None if f_test is None else f_test[key],
                                     class_probs=None if class_probs is None else class_probs[key],
                                     **kwargs))
            out[key] = _average(res)
        result = out
    else:
        res = [decompose(np.stack([np.asarray(p) for p in preds]), y_test, f_true=f_test,
                         class_probs=class_probs, **kwargs) for preds in all_preds]
        result = _average(res)
    if return_predictions:
        return result, all_preds
    return result


def analytic_ols_bias_variance(d, n, sigma, intercept=0.0):
    """Closed form for OLS without intercept on x ~ N(0, I_d), y = xᵀw + c + ε, ε ~ N(0, σ²).

    h̄(x) = xᵀw (odd symmetry of the design), so Bias² = c²; Variance = (σ² + c²)·d/(n − d − 1)
    (E tr (XᵀX)⁻¹ = d/(n−d−1) for the Wishart matrix, and 1ᵀX(XᵀX)⁻²Xᵀ1 has the same mean by
    rotation invariance); Noise = σ². Needs n > d + 1.
    """
    d = check_positive_int("d", d)
    n = check_int("n", n, d + 2)  # E tr (XᵀX)⁻¹ = d/(n − d − 1) needs n > d + 1
    var = (sigma ** 2 + intercept ** 2) * d / (n - d - 1)
    return {"bias2": intercept ** 2, "variance": var, "noise": sigma ** 2,
            "risk": intercept ** 2 + var + sigma ** 2}


__all__.append("analytic_ols_bias_variance")
