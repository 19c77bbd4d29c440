"""AdaBoost for K classes (SAMME, Zhu, Zou, Rosset and Hastie 2009) with Keras weak learners.

Lecture, "ensemble methods": "Boosting: each data and classifier has its own weight (determined
with the boosting procedure); AdaBoost is the best known method."

SAMME, with N examples, K classes, learning rate η and weights ``w_i`` (initially 1/N):
for m = 1..M

1. fit ``G_m`` with per-example loss weights ``w_i`` (Keras ``sample_weight = N·w_i``, mean 1,
   so the optimizer's step size means the same as without weights);
2. ``err_m = Σ_i w_i 1[G_m(x_i) ≠ y_i] / Σ_i w_i``;
3. ``α_m = η (log((1 − err_m)/err_m) + log(K − 1))``;
4. ``w_i ← w_i exp(α_m 1[G_m(x_i) ≠ y_i])``, renormalized to sum 1.

Prediction: ``C(x) = argmax_k Σ_m α_m 1[G_m(x) = k]``.

The two edge cases are handled as scikit-learn's ``AdaBoostClassifier(algorithm="SAMME")`` does
(``sklearn/ensemble/_weight_boosting.py``, ``_boost_discrete`` and ``BaseWeightBoosting.fit``):

* a **perfect** learner (``err_m = 0``, where ``α_m`` would be infinite) is *kept* with weight ``α_m = 1``
  (whatever η) and ends boosting, at any round — so a first learner with ``err = 0.45`` (``α = log(0.55/0.45)
  + log 2 = 0.894`` for K = 3) followed by a perfect one gives the vote ``0.894`` vs ``1``, and the perfect
  learner decides every disagreement; note that earlier learners whose weights add up to more than 1 can still
  outvote it, exactly as in scikit-learn;
* a learner **no better than chance** (``err_m ≥ 1 − 1/K``) is discarded and boosting stops; if it is the
  first, there is no ensemble and ``fit`` raises ``ValueError``.

As in scikit-learn, the weights are floored at the float64 machine epsilon before each round (so that no example
is forgotten for good), and boosting stops, keeping the learner, if the reweighting overflows.
"""
import math
import warnings

import numpy as np

from augment.checks import check_int, check_number, check_positive_int, check_seed
from recipes.ensembles.combining import accuracy, predict_numpy


def samme_update(sample_weight, miss, num_classes, learning_rate=1.0):
    """One SAMME step: returns ``(new_weights, α, err)`` (see module doc, steps 2–4).

    ``miss`` is the boolean vector ``1[G(x_i) ≠ y_i]``. Requires ``0 < err < 1 − 1/K``.
    """
    num_classes = check_int("num_classes", num_classes, 2)
    learning_rate = check_number("learning_rate", learning_rate, 0.0, low_open=True)
    w = np.asarray(sample_weight, dtype=np.float64)
    miss = np.asarray(miss, dtype=bool)
    if w.shape != miss.shape:
        raise ValueError(f"sample_weight and miss must have the same shape, got {w.shape} and {miss.shape}")
    w = w / w.sum()
    err = float(np.sum(w[miss]))
    if not 0.0 < err < 1.0 - 1.0 / num_classes:
        raise ValueError(f"SAMME needs 0 < err < 1 - 1/K = {1 - 1 / num_classes:.4f}, got err={err:.4f}")
    alpha = learning_rate * (math.log((1.0 - err) / err) + math.log(num_classes - 1.0))
    with np.errstate(over="ignore", invalid="ignore"):
        w = np.exp(np.log(w) + alpha * miss)
        return w / w.sum(), alpha, err


class AdaBoostSAMME:
    """AdaBoost-SAMME over Keras classifiers trained with ``sample_weight``.

    Args:
        build_fn: ``build_fn(m) -> compiled keras.Model`` returning class scores (logits or
            probabilities; only their argmax is used).
        num_classes: K ≥ 2.
        num_rounds: M, the most weak learners (default 10).
        learning_rate: η > 0 (default 1, plain SAMME).
        seed: seeds Keras's initializers.
    """

    def __init__(self, build_fn, num_classes, num_rounds=10, learning_rate=1.0, seed=0):
        if not callable(build_fn):
            raise TypeError(f"build_fn must be callable: build_fn(m) -> compiled keras.Model, got {build_fn!r}")
        self.build_fn = build_fn
        self.num_classes = check_int("num_classes", num_classes, 2)
        self.num_rounds = check_positive_int("num_rounds", num_rounds)
        self.learning_rate = check_number("learning_rate", learning_rate, 0.0, low_open=True)
        self.seed = check_seed("seed", seed, optional=False)
        self.learners, self.alphas, self.errors, self.weight_history = [], [], [], []

    def fit(self, x, y, epochs=5, batch_size=128, verbose=0, **fit_kwargs):
        """Run up to M boosting rounds; returns ``self``. ``weight_history[m]`` are the w used by round m."""
        import keras

        keras.utils.set_random_seed(self.seed)
        y = np.asarray(y).reshape(-1)
        n = len(y)
        w = np.full(n, 1.0 / n)
        self.learners, self.alphas, self.errors, self.weight_history = [], [], [], []
        eps = np.finfo(np.float64).eps
        for m in range(self.num_rounds):
            w = np.maximum(w, eps)  # scikit-learn's floor (its issue #20320)
            learner = self.build_fn(m)
            learner.fit(x, y, sample_weight=(w * n).astype("float32"), epochs=epochs, batch_size=batch_size,
                        verbose=verbose, **fit_kwargs)
            miss = np.argmax(predict_numpy(learner, x), axis=-1) != y
            err = float(np.sum(w[miss]) / np.sum(w))
            self.weight_history.append(w.copy())
            if err <= 0.0:  # perfect: kept with weight 1, boosting ends (scikit-learn)
                self.learners.append(learner)
                self.alphas.append(1.0)
                self.errors.append(0.0)
                break
            if err >= 1.0 - 1.0 / self.num_classes:  # no better than chance: discarded, boosting ends
                if not self.learners:
                    raise ValueError(f"first weak learner is no better than chance: err={err:.4f} >= 1 - 1/K = "
                                     f"{1 - 1 / self.num_classes:.4f} (num_classes={self.num_classes})")
                break
            w_next, alpha, err = samme_update(w, miss, self.num_classes, self.learning_rate)
            self.learners.append(learner)
            self.alphas.append(alpha)
            self.errors.append(err)
            if not np.all(np.isfinite(w_next)):  # exp(α) overflowed: stop, keeping this learner (scikit-learn)
                warnings.warn(f"AdaBoostSAMME: sample weights overflowed at round {m}; boosting stopped "
                              f"(lower learning_rate)", RuntimeWarning, stacklevel=2)
                break
            w = w_next
        return self

    def decision_function(self, x, num_learners=None):
        """``Σ_m α_m onehot(G_m(x))`` over the first ``num_learners`` learners: ``(N, K)``."""
        if not self.learners:
            raise ValueError("call fit first")
        scores = 0.0
        for learner, alpha in list(zip(self.learners, self.alphas))[:num_learners]:
            scores = scores + alpha * np.eye(self.num_classes)[np.argmax(predict_numpy(learner, x), axis=-1)]
        return scores

    def predict(self, x):
        """``C(x) = argmax_k Σ_m α_m 1[G_m(x) = k]``."""
        return np.argmax(self.decision_function(x), axis=-1)

    def evaluate(self, x, y):
        """Each learner's accuracy, the ensemble's, and its accuracy after each round."""
        member = [accuracy(predict_numpy(m, x), y) for m in self.learners]
        staged = [accuracy(self.decision_function(x, k + 1), y) for k in range(len(self.learners))]
        return {"member_accuracy": member, "ensemble_accuracy": staged[-1], "staged_accuracy": staged,
                "alphas": list(self.alphas), "weighted_errors": list(self.errors)}
