import keras
import numpy as np

from tests.dropout_testing import NUM_SE, assert_mean_var, assert_rejects_rates, assert_round_trip, assert_seed_reproducible
from recipes.dropout.fast_dropout import FastDropoutDense, fast_dropout_moments

RNG = np.random.default_rng(1)
W = RNG.normal(size=(20, 3)).astype("float32")
B = np.array([0.1, 0.0, -0.4], "float32")
X1 = RNG.normal(size=(1, 20)).astype("float32")
N = 20000


def _fast(rate=0.5, seed=0):
    layer = FastDropoutDense(3, rate=rate, seed=seed, kernel_initializer=keras.initializers.Constant(W),
                             bias_initializer=keras.initializers.Constant(B))
    layer.build((None, 20))
    return layer


def test_fast_dropout_matches_monte_carlo_dropout_moments():
    rate = 0.5
    p = 1 - rate
    mu = X1[0] @ W + B
    s2 = (1 - p) / p * (X1[0] ** 2) @ (W**2)  # Var of Σ (δ_i/p) W_ij x_i
    m, v = (np.asarray(a)[0] for a in fast_dropout_moments(X1, W, B, rate))
    np.testing.assert_allclose(m, mu, rtol=1e-5)
    np.testing.assert_allclose(v, s2, rtol=1e-5)
    # Monte Carlo dropout: real Bernoulli masks on the inputs, then the same Dense.
    mc = np.asarray(keras.layers.Dropout(rate, seed=1)(np.tile(X1, (N, 1)), training=True)) @ W + B
    fast = np.asarray(_fast(rate)(np.tile(X1, (N, 1)), training=True))
    assert_mean_var(mc, mu, s2)
    assert_mean_var(fast, mu, s2)
    # and the two samples agree with each other: difference of means within 5 combined SE
    se = np.sqrt(mc.var(0) / N + fast.var(0) / N)
    assert np.all(np.abs(mc.mean(0) - fast.mean(0)) < NUM_SE * se)


def test_inference_is_mean_network_and_training_is_gaussian():
    layer = _fast()
    np.testing.assert_allclose(np.asarray(layer(X1)), X1 @ W + B, rtol=1e-5)
    z = (np.asarray(layer(np.tile(X1, (N, 1)), training=True)) - (X1 @ W + B)) / np.sqrt(
        (X1[0] ** 2) @ (W**2))
    # fourth standardized moment of a Gaussian is 3 (Bernoulli dropout sums differ at small fan-in)
    kurt = (z**4).mean(0) / (z**2).mean(0) ** 2
    assert np.all(np.abs(kurt - 3.0) < 0.25)  # SE of the kurtosis ≈ sqrt(24/N) ≈ 0.035; 0.25 ≈ 7 SE


def test_validation_seed_round_trip_and_zero_input_gradient():
    assert_rejects_rates(lambda r: FastDropoutDense(3, rate=r))
    assert_seed_reproducible(lambda s: _fast(seed=s), np.tile(X1, (4, 1)))
    assert_round_trip(FastDropoutDense(3, seed=2, activation="relu"), np.tile(X1, (3, 1)))
    model = keras.Sequential([keras.Input((20,)), FastDropoutDense(2, seed=0)])
    model.compile("sgd", "mse")
    x = np.vstack([np.zeros((4, 20)), RNG.normal(size=(4, 20))]).astype("float32")  # s² = 0 rows
    hist = model.fit(x, np.ones((8, 2)), epochs=2, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))
    assert all(np.all(np.isfinite(np.asarray(w))) for w in model.weights)
