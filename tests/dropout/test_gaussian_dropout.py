import keras
import numpy as np
import pytest

from tests.dropout_testing import assert_mean_var, assert_round_trip, assert_seed_reproducible
from recipes.dropout import gaussian_dropout
from recipes.dropout.gaussian_dropout import (additive_gaussian_dropout, multiplicative_gaussian_dropout, rate_to_sigma,
                                              sigma_to_rate)

X = np.tile(np.array([[1.0, -2.0, 0.5]], "float32"), (20000, 1))  # 20,000 draws of one example


@pytest.mark.parametrize("sigma", [0.5, 1.0])
def test_multiplicative_moments(sigma):
    layer = multiplicative_gaussian_dropout(sigma=sigma, seed=1)
    assert isinstance(layer, keras.layers.GaussianDropout)
    y = np.asarray(layer(X, training=True))
    assert_mean_var(y, X[0], sigma**2 * X[0] ** 2)  # δ ~ N(1, σ²): E = x, Var = σ²x²
    np.testing.assert_array_equal(np.asarray(layer(X[:3])), X[:3])  # identity at inference


def test_multiplicative_from_rate_matches_bernoulli_variance():
    rate = 0.2  # p = 0.8: inverted Bernoulli dropout has Var[δ/p] = (1−p)/p = 0.25
    layer = multiplicative_gaussian_dropout(rate=rate, seed=2)
    y = np.asarray(layer(X, training=True))
    assert_mean_var(y, X[0], 0.25 * X[0] ** 2)
    assert rate_to_sigma(rate) == pytest.approx(0.5) and sigma_to_rate(0.5) == pytest.approx(0.2)
    assert multiplicative_gaussian_dropout().rate == 0.5  # hidden-layer default p = 0.5, σ = 1


@pytest.mark.parametrize("sigma", [0.7, 1.0, 3.0, 25.0])
def test_additive_moments(sigma):
    """δ ~ N(0, σ²) has no bound on σ (before: σ > 1 was accepted, then Keras' GaussianNoise raised)."""
    layer = additive_gaussian_dropout(sigma, seed=3)
    y = np.asarray(layer(X, training=True))
    assert_mean_var(y, X[0], sigma**2)  # E = x, Var = σ²
    np.testing.assert_array_equal(np.asarray(layer(X[:3])), X[:3])  # identity at inference
    np.testing.assert_array_equal(np.asarray(layer(X[:3], training=False)), X[:3])


def test_additive_noise_is_keras_gaussian_noise_where_keras_accepts_sigma():
    x = X[:50]
    for sigma in (0.0, 0.3, 1.0):
        ours = gaussian_dropout.AdditiveGaussianNoise(sigma, seed=5)
        theirs = keras.layers.GaussianNoise(sigma, seed=5)
        for _ in range(2):  # the same stream, call after call
            np.testing.assert_array_equal(np.asarray(ours(x, training=True)), np.asarray(theirs(x, training=True)))


def test_additive_noise_saves_and_loads_with_large_sigma(tmp_path):
    layer = gaussian_dropout.AdditiveGaussianNoise(4.0, seed=11, name="noise")
    loaded = assert_round_trip(layer, X[:5]).layers[0]
    assert isinstance(loaded, gaussian_dropout.AdditiveGaussianNoise) and loaded.stddev == 4.0 and loaded.seed == 11
    # the seed is in the config: the reloaded layer draws what a fresh layer with that seed draws
    fresh = gaussian_dropout.AdditiveGaussianNoise(4.0, seed=11)
    np.testing.assert_array_equal(np.asarray(loaded(X[:5], training=True)), np.asarray(fresh(X[:5], training=True)))
    y = np.asarray(loaded(X, training=True))
    assert_mean_var(y, X[0], 16.0)


def test_validation_and_seed():
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="rate"):
            multiplicative_gaussian_dropout(rate=bad)
    with pytest.raises(ValueError, match=r"sigma must be a finite number in \[0, inf\), got -1.0"):
        multiplicative_gaussian_dropout(sigma=-1.0)
    with pytest.raises(ValueError, match="sigma must be a finite number in .*, got inf"):
        additive_gaussian_dropout(float("inf"))
    with pytest.raises(ValueError, match=r"stddev must be a finite number in \[0, inf\), got -0.5"):
        gaussian_dropout.AdditiveGaussianNoise(-0.5)
    with pytest.raises(ValueError, match=r"stddev must be a finite number in \[0, inf\), got nan"):
        gaussian_dropout.AdditiveGaussianNoise(float("nan"))
    with pytest.raises(ValueError, match="sigma and rate must not both be given"):
        multiplicative_gaussian_dropout(sigma=1.0, rate=0.5)
    assert_seed_reproducible(lambda s: multiplicative_gaussian_dropout(sigma=1.0, seed=s), X[:20])
    assert_seed_reproducible(lambda s: additive_gaussian_dropout(1.0, seed=s), X[:20])
