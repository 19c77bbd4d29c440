"""Gaussian dropout, multiplicative ``δ ~ N(1, σ²)`` and additive ``δ ~ N(0, σ²)``, as the lecture writes them.

Lecture, "Regularization – Dropout, some variations". This module maps the lecture's σ (and
keep-probability p) onto Keras layers and checks the arguments:

* multiplicative: ``y_i = δ_i x_i``, ``δ_i ~ N(1, σ²)`` is ``keras.layers.GaussianDropout(rate)``,
  whose noise has ``σ² = rate / (1 − rate)``, i.e. ``rate = σ² / (1 + σ²)``. Matching Bernoulli
  inverted dropout with keep-probability p (``δ/p`` has mean 1, variance ``(1 − p)/p``) gives
  ``σ² = (1 − p)/p`` — the same ``rate = 1 − p`` as ``keras.layers.Dropout``.
* additive: ``y_i = x_i + δ_i``, ``δ_i ~ N(0, σ²)`` is :class:`AdditiveGaussianNoise` (σ), for any
  ``σ ≥ 0``. The lecture puts no bound on σ; Keras' ``GaussianNoise`` rejects ``stddev > 1``, so this layer
  draws the same noise as ``GaussianNoise`` (the same ``keras.random.normal`` call: for σ ≤ 1 and the same seed
  the outputs are identical) without that limit.

Both are identities at inference. ``E[y] = x`` in training; ``Var[y_i] = σ² x_i²``
(multiplicative) or ``σ²`` (additive).
"""
import math

import keras
from keras import ops

from augment.checks import check_number, check_rate, check_seed
from recipes.dropout.rates import HIDDEN_RATE


def sigma_to_rate(sigma):
    """Keras ``GaussianDropout`` rate for multiplicative noise std σ: ``rate = σ² / (1 + σ²)``."""
    sigma = check_number("sigma", sigma, 0.0)
    return sigma * sigma / (1.0 + sigma * sigma)


def rate_to_sigma(rate):
    """σ of ``GaussianDropout(rate)``: ``σ = sqrt(rate / (1 − rate)) = sqrt((1 − p)/p)``."""
    rate = check_rate("rate", rate)
    return math.sqrt(rate / (1.0 - rate))


def multiplicative_gaussian_dropout(sigma=None, rate=None, seed=None, **kwargs):
    """Multiplicative Gaussian dropout ``y = δ ⊙ x``, ``δ_i ~ N(1, σ²)``.

    Give either ``sigma`` (the lecture's parameter) or ``rate`` (= 1 − p, the Bernoulli dropout
    with the same mean and variance). Default: ``rate = 0.5`` (hidden-layer p = 0.5, σ = 1).
    Returns ``keras.layers.GaussianDropout`` (serializable as it is).
    """
    if sigma is not None and rate is not None:
        raise ValueError(f"sigma and rate must not both be given (one defines the other), got sigma={sigma!r}, "
                         f"rate={rate!r}")
    if sigma is None:
        rate = check_rate("rate", HIDDEN_RATE if rate is None else rate)
    else:
        rate = sigma_to_rate(sigma)
    return keras.layers.GaussianDropout(rate, seed=check_seed("seed", seed), **kwargs)


@keras.saving.register_keras_serializable(package="recipes")
class AdditiveGaussianNoise(keras.layers.Layer):
    """Additive Gaussian noise ``y = x + δ``, ``δ_i ~ N(0, σ²)`` i.i.d. per entry, in training only (identity at
    inference), for any ``σ ≥ 0`` (``keras.layers.GaussianNoise`` accepts only ``σ ≤ 1``).

    Args:
        stddev: ``σ ≥ 0`` (finite).
        seed: int or None, seeds a :class:`keras.random.SeedGenerator` (as ``GaussianNoise``: for ``σ ≤ 1`` and
            the same seed both layers add the same noise).
        **kwargs: as :class:`keras.layers.Layer`.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        stddev = check_number("stddev", stddev, 0.0)
        seed = check_seed("seed", seed)
        super().__init__(**kwargs)
        self.stddev = float(stddev)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if training and self.stddev > 0:
            return inputs + keras.random.normal(
                shape=ops.shape(inputs), mean=0.0, stddev=self.stddev, dtype=self.compute_dtype,
                seed=self.seed_generator,
            )
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"stddev": self.stddev, "seed": self.seed})
        return config


def additive_gaussian_dropout(sigma, seed=None, **kwargs):
    """Additive Gaussian noise ``y = x + δ``, ``δ_i ~ N(0, σ²)``, any ``σ ≥ 0``: :class:`AdditiveGaussianNoise`."""
    return AdditiveGaussianNoise(check_number("sigma", sigma, 0.0), seed=check_seed("seed", seed), **kwargs)
