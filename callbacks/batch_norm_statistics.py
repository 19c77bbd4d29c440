"""Callback: replace batch normalization's running averages by the population estimate after training.

See :mod:`recipes.normalization.batch_norm_statistics` for the two estimators. After ``model.fit`` (and, with
``every_epoch=True``, after each epoch) every trainable ``BatchNormalization`` layer gets
E[x] = E_B[μ_B] and Var[x] = m/(m − 1)·E_B[σ²_B] over the mini-batches of the training data given here, computed
with the final weights (the running average instead mixes statistics of the weights of the last ~1/(1 − λ) steps).
"""
import numbers

import keras

from recipes.normalization.batch_norm_statistics import _ESTIMATORS, apply_population_statistics

__all__ = ["PopulationBatchNormStatistics"]


class PopulationBatchNormStatistics(keras.callbacks.Callback):
    """Re-estimates every BN layer's moving_mean/moving_variance as E_B[μ_B], m/(m − 1)·E_B[σ²_B].

    Args:
        data: training inputs (array cut into ``batch_size`` batches, or an iterable of batches / tf.data.Dataset).
        batch_size: batch size m's batch dimension (use the training batch size).
        estimator: "unbiased" (the lecture) or "pooled" (exact moments of all BN inputs seen).
        steps: at most this many batches per re-estimation (None = one pass).
        every_epoch: also re-estimate at the end of every epoch (the next epoch's training is unaffected: BN
            uses batch statistics in training mode; only evaluation and the saved running averages change).
        verbose: print one line per re-estimation.
    Not serialized with the model (callbacks never are).
    """

    def __init__(self, data, batch_size=128, estimator="unbiased", steps=None, every_epoch=False, seed=0,
                 verbose=0):
        super().__init__()
        if estimator not in _ESTIMATORS:
            raise ValueError(f"estimator must be one of {_ESTIMATORS}, got {estimator!r}")
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 2:
            raise ValueError(f"batch_size must be an integer >= 2, got {batch_size!r}")
        if steps is not None and (not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 1):
            raise ValueError(f"steps must be None or an integer >= 1, got {steps!r}")
        self.data = data
        self.batch_size = int(batch_size)
        self.estimator = estimator
        self.steps = steps
        self.every_epoch = bool(every_epoch)
        self.seed = seed
        self.verbose = verbose
        self.statistics = None

    def _reestimate(self, when):
        self.statistics = apply_population_statistics(
            self.model, self.data, batch_size=self.batch_size, estimator=self.estimator, steps=self.steps,
            seed=self.seed)
        if self.verbose:
            print(f"PopulationBatchNormStatistics: re-estimated {len(self.statistics)} BN layers {when}")

    def on_epoch_end(self, epoch, logs=None):
        if self.every_epoch:
            self._reestimate(f"after epoch {epoch + 1}")

    def on_train_end(self, logs=None):
        if not self.every_epoch:
            self._reestimate("after training")
