import keras
import numpy as np
import pytest

from tests.dropout_testing import assert_mean_var, assert_rejects_rates, assert_round_trip, assert_seed_reproducible
from recipes.dropout.direct_dropout import DirectDropout, inverted_dropout
from recipes.dropout.rates import HIDDEN_RATE, INPUT_RATE, keep_prob_to_rate, rate_to_keep_prob

X = np.tile(np.array([[1.0, -2.0, 0.5, 3.0]], "float32"), (20000, 1))  # 20,000 draws of one example


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_direct_dropout_training_moments_and_inference_scaling(rate):
    p = 1 - rate
    layer = DirectDropout(rate, seed=1)
    y = np.asarray(layer(X, training=True))
    assert set(np.unique(y / X[0])) <= {0.0, 1.0}  # δ ∈ {0, 1}: no 1/p scaling in training
    assert_mean_var(y, p * X[0], p * (1 - p) * X[0] ** 2)  # E[δx] = px, Var = p(1−p)x²
    np.testing.assert_allclose(np.asarray(layer(X[:3])), p * X[:3], rtol=1e-6)  # test time: × p


def test_direct_and_inverted_agree_in_expectation():
    rate, p = 0.5, 0.5
    direct = np.asarray(DirectDropout(rate, seed=2)(X, training=True))
    inverted = np.asarray(inverted_dropout(rate, seed=3)(X, training=True))
    # E[direct]/p = E[inverted] = x, each within 5 standard errors.
    assert_mean_var(direct / p, X[0], (1 - p) / p * X[0] ** 2)
    assert_mean_var(inverted, X[0], (1 - p) / p * X[0] ** 2)
    # At test time: direct gives p·x, inverted gives x, so a next layer W (direct) equals p·W (inverted).
    w = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    d_test = np.asarray(DirectDropout(rate)(X[:5])) @ w
    i_test = np.asarray(inverted_dropout(rate)(X[:5])) @ (p * w)
    np.testing.assert_allclose(d_test, i_test, rtol=1e-5)


def test_noise_shape_shares_mask():
    x = np.ones((3, 5, 4), "float32")
    y = np.asarray(DirectDropout(0.5, noise_shape=(None, 1, 4), seed=0)(x, training=True))
    assert np.all(y == y[:, :1, :])


def test_rates_seed_roundtrip_defaults():
    assert_rejects_rates(lambda r: DirectDropout(r))
    assert_rejects_rates(lambda r: inverted_dropout(r))
    with pytest.raises(TypeError, match=r"seed must be an integer in \[0, 2147483647\], got 1.5"):
        DirectDropout(0.5, seed=1.5)
    assert_seed_reproducible(lambda s: DirectDropout(0.5, seed=s), X[:50])
    assert_round_trip(DirectDropout(0.3, seed=4), X[:4])
    assert DirectDropout().rate == HIDDEN_RATE == 0.5 and INPUT_RATE == 0.2
    assert keep_prob_to_rate(0.8) == pytest.approx(0.2) and rate_to_keep_prob(0.2) == pytest.approx(0.8)
    with pytest.raises(ValueError, match=r"rate must be a finite number in \[0, 1\), got 1.0"):
        rate_to_keep_prob(1.0)
    with pytest.raises(ValueError, match=r"p must be a finite number in \(0, 1\], got 0.0"):
        keep_prob_to_rate(0.0)


def test_direct_dropout_trains_in_graph_mode():
    model = keras.Sequential([keras.Input((4,)), DirectDropout(0.2, seed=0), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    hist = model.fit(X[:64], X[:64, :1], epochs=2, batch_size=32, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))
