"""Monte Carlo dropout (Gal 2016): T stochastic passes with dropout on, batch-norm in inference mode.

Lecture, "Monte Carlo Dropout". With ``ŷ_t(x)``, t = 1..T, the outputs of T passes with
independent dropout masks,

    E[y]   ≈ (1/T) Σ_t ŷ_t(x),
    Var(y) ≈ τ⁻¹ I_D + (1/T) Σ_t ŷ_t(x) ŷ_t(x)ᵀ − E[y] E[y]ᵀ,

τ being the model precision (Gal: ``τ = p l² / (2 N λ)`` for keep-probability p, prior length-scale
l, N training points and weight decay λ; or chosen on held-out data, :func:`select_tau`).

The pitfall: ``model(x, training=True)`` turns dropout on but *also* puts batch normalization in
training mode — it normalizes with the batch statistics and, in Keras 3, updates the moving mean
and variance on every pass. :func:`mc_dropout_model` instead clones the functional/sequential graph
reusing every layer (and so every weight) as it is, wrapping only the dropout-type layers in a
wrapper that calls them with ``training=True``; the clone is then called with ``training=False``,
so batch-norm uses (and keeps) its moving statistics.

The MC-dropout model saves and loads like any model (``mc.save("mc.keras")``, ``recipes.load_model``):
:class:`ForceTraining` is a registered ``keras.layers.Wrapper`` whose config holds the wrapped layer's (rate,
seed, …). As everywhere in Keras, a random layer's *state* is not saved, only its seed: a reloaded model draws
the masks that the original drew from its first pass on (same seeds → same MC samples); a dropout layer built
with ``seed=None`` draws new masks after each load. :func:`mc_dropout_model` and :class:`MCDropoutPredictor`
accept such a reloaded MC-dropout model as it is.
"""
import math

import keras
import numpy as np

from augment.checks import check_int, check_number, check_positive_int
from recipes.dropout.direct_dropout import DirectDropout
from recipes.dropout.dropconnect import DropConnectConv2D, DropConnectDense
from recipes.dropout.fast_dropout import FastDropoutDense

DROPOUT_LAYER_TYPES = (
    keras.layers.Dropout,  # includes SpatialDropout1D/2D/3D
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    DirectDropout,
    DropConnectDense,
    DropConnectConv2D,
    FastDropoutDense,
)
"""Layers kept stochastic by default. ``GaussianNoise``, ``AdditiveGaussianNoise`` and ``StructuralDropout`` are not
dropout of the Bayesian-approximation kind; pass ``layer_types`` to include them."""


@keras.saving.register_keras_serializable(package="recipes")
class ForceTraining(keras.layers.Wrapper):
    """Calls the wrapped layer with ``training=True`` whatever the caller says (shares its weights).

    A ``keras.layers.Wrapper``: ``get_config`` holds the wrapped layer's config, its weights are saved with it.
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(f"layer must be a keras Layer, got {type(layer).__name__}")
        kwargs.setdefault("name", f"mc_{layer.name}")
        super().__init__(layer, **kwargs)

    def call(self, inputs, training=None):
        return self.layer(inputs, training=True)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)


def mc_dropout_model(model, layer_types=DROPOUT_LAYER_TYPES):
    """A model sharing ``model``'s layers and weights whose dropout-type layers are always on.

    Every other layer (batch-norm included) is reused unchanged and follows the ``training`` flag
    the clone is called with. Nested Sequential/Functional models are handled (recursive clone).
    Subclassed models cannot be cloned: build them with a dropout layer that takes its own flag.
    Layers already wrapped in :class:`ForceTraining` (an MC-dropout model, e.g. reloaded from a ``.keras`` file)
    are kept as they are.

    Raises:
        TypeError: ``model`` is not a Functional or Sequential model.
        ValueError: no layer of ``layer_types`` was found.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Functional or Sequential keras.Model, got {type(model).__name__}")
    layer_types = tuple(layer_types)
    found = []

    def clone_function(layer):
        if isinstance(layer, ForceTraining):
            found.append(layer.layer.name)
            return layer
        if isinstance(layer, layer_types):
            found.append(layer.name)
            return ForceTraining(layer)
        return layer  # reuse: same object, same weights

    try:
        clone = keras.models.clone_model(model, clone_function=clone_function, recursive=True)
    except ValueError as err:  # subclassed model
        raise TypeError(f"mc_dropout_model needs a Functional or Sequential model: {err}") from err
    if not found:
        raise ValueError(f"model has no layer of types {[t.__name__ for t in layer_types]}")
    return clone


def mc_moments(samples, tau=None, full_covariance=False):
    """Mean and variance of MC samples ``ŷ_t`` (array ``(T, N, D)``).

    Returns ``(mean (N, D), var)`` with ``var = τ⁻¹ I + (1/T) Σ_t ŷ_t ŷ_tᵀ − E[y] E[y]ᵀ``: its
    diagonal ``(N, D)`` by default, the full ``(N, D, D)`` matrix with ``full_covariance=True``.
    ``tau=None`` means τ⁻¹ = 0 (only the spread of the passes).
    """
    y = np.asarray(samples, dtype=np.float64)
    if y.ndim == 2:
        y = y[..., None]
    if y.ndim != 3:
        raise ValueError(f"samples must have shape (T, N, D), got {y.shape}")
    inv_tau = _inv_tau(tau)
    mean = y.mean(axis=0)
    if full_covariance:
        second = np.einsum("tnd,tne->nde", y, y) / y.shape[0]
        var = second - np.einsum("nd,ne->nde", mean, mean)
        var = var + inv_tau * np.eye(y.shape[-1])[None]
    else:
        var = (y * y).mean(axis=0) - mean * mean + inv_tau
    return mean, var


def _inv_tau(tau):
    if tau is None:
        return 0.0
    return 1.0 / check_number("tau", tau, 0.0, low_open=True)


class MCDropoutPredictor:
    """Monte Carlo dropout predictions of a trained Keras model.

    Args:
        model: a trained Functional or Sequential model with dropout-type layers.
        num_samples: T, the number of stochastic passes (≥ 2; default 50).
        tau: model precision τ (``None``: τ⁻¹ = 0); see :func:`tau_from_prior`, :meth:`fit_tau`.
        output_fn: optional NumPy function applied to each pass's output before averaging (e.g.
            :func:`softmax` when the model returns logits and probabilities are wanted).
        layer_types: which layers stay stochastic (default :data:`DROPOUT_LAYER_TYPES`).
    """

    def __init__(self, model, num_samples=50, tau=None, output_fn=None, layer_types=DROPOUT_LAYER_TYPES):
        num_samples = check_int("num_samples", num_samples, 2)
        _inv_tau(tau)
        self.model = model
        self.num_samples = num_samples
        self.tau = tau
        self.output_fn = output_fn
        self.mc_model = mc_dropout_model(model, layer_types)

    def sample(self, x, batch_size=256):
        """The T stochastic outputs ``ŷ_t(x)``, an array ``(T, N, D)``.

        Efficiently: each chunk of ≤ ``batch_size`` examples is repeated T times and run through
        one ``predict`` with that chunk size as the batch size, so every predict batch is exactly
        one pass t — new masks per batch (per-batch DropConnect masks included), independent
        per-example masks inside it.
        """
        x = np.asarray(x)
        n = len(x)
        batch_size = check_positive_int("batch_size", batch_size)
        chunks = []
        for start in range(0, n, batch_size):
            xc = x[start:start + batch_size]
            tiled = np.concatenate([xc] * self.num_samples, axis=0)
            y = np.asarray(self.mc_model.predict(tiled, batch_size=len(xc), verbose=0))
            chunks.append(y.reshape((self.num_samples, len(xc)) + y.shape[1:]))
        out = np.concatenate(chunks, axis=1)
        return self.output_fn(out) if self.output_fn is not None else out

    def predict(self, x, batch_size=256, full_covariance=False):
        """``(E[y], Var(y))`` for inputs ``x`` (diagonal variance unless ``full_covariance``)."""
        return mc_moments(self.sample(x, batch_size), self.tau, full_covariance)

    def fit_tau(self, x, y, batch_size=256):
        """Choose τ maximizing the Gaussian log-likelihood of held-out targets ``y``; sets ``self.tau``."""
        mean, var = mc_moments(self.sample(x, batch_size), None)
        self.tau = select_tau(y, mean, var)
        return self.tau


def tau_from_prior(length_scale, keep_prob, num_train, weight_decay):
    """Gal's model precision ``τ = p l² / (2 N λ)`` (prior length-scale l, keep-prob p, N, λ)."""
    for name, v in (("length_scale", length_scale), ("num_train", num_train), ("weight_decay", weight_decay)):
        check_number(name, v, 0.0, low_open=True)
    check_number("keep_prob", keep_prob, 0.0, 1.0, low_open=True)
    return keep_prob * length_scale**2 / (2.0 * num_train * weight_decay)


def gaussian_log_likelihood(y, mean, var):
    """Mean over entries of ``log N(y; mean, var)`` (diagonal)."""
    y, mean, var = (np.asarray(a, dtype=np.float64) for a in (y, mean, var))
    y = y.reshape(mean.shape)
    return float(np.mean(-0.5 * np.log(2 * np.pi * var) - 0.5 * (y - mean) ** 2 / var))


def select_tau(y, mean, mc_var, bounds=(1e-6, 1e6)):
    """τ maximizing ``mean log N(y; E[y], τ⁻¹ + s²)`` on held-out data, ``s²`` the MC variance.

    One-dimensional bounded search over ``log τ⁻¹`` (``scipy.optimize.minimize_scalar``).
    """
    from scipy.optimize import minimize_scalar

    lo, hi = math.log(1.0 / bounds[1]), math.log(1.0 / bounds[0])
    res = minimize_scalar(
        lambda log_inv_tau: -gaussian_log_likelihood(y, mean, np.asarray(mc_var) + math.exp(log_inv_tau)),
        bounds=(lo, hi), method="bounded",
    )
    return 1.0 / math.exp(res.x)


def softmax(logits, axis=-1):
    """NumPy softmax, for ``output_fn`` when the model returns logits."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def predictive_entropy(mean_probs):
    """``H[E[y]] = −Σ_c p̄_c log p̄_c`` of the MC-averaged class probabilities (per example)."""
    p = np.clip(np.asarray(mean_probs, dtype=np.float64), 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=-1)


def mutual_information(prob_samples):
    """BALD: ``H[E[y]] − E[H[y]]`` from MC class-probability samples ``(T, N, C)`` (epistemic part)."""
    s = np.clip(np.asarray(prob_samples, dtype=np.float64), 1e-12, 1.0)
    return predictive_entropy(s.mean(axis=0)) + (s * np.log(s)).sum(axis=-1).mean(axis=0)
