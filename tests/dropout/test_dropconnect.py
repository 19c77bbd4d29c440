import keras
import numpy as np
import pytest

from tests.dropout_testing import assert_mean_var, assert_rejects_rates, assert_round_trip, assert_seed_reproducible
from recipes.dropout.dropconnect import DropConnectConv2D, DropConnectDense

RNG = np.random.default_rng(0)
W = RNG.normal(size=(5, 3)).astype("float32")
B = np.array([0.5, -1.0, 2.0], "float32")
X1 = RNG.normal(size=(1, 5)).astype("float32")


def _dense(mask, rate=0.5, seed=1):
    layer = DropConnectDense(3, rate=rate, mask=mask, seed=seed, kernel_initializer=keras.initializers.Constant(W),
                             bias_initializer=keras.initializers.Constant(B))
    layer.build((None, 5))
    return layer


def _expected(rate):
    p = 1 - rate
    mean = X1[0] @ W + B  # E[u] = Wᵀx + b
    var = (1 - p) / p * ((X1[0] ** 2) @ (W**2) + B**2)  # Var[u] = (1−p)/p (Σ W²x² + b²)
    return mean, var


@pytest.mark.parametrize("rate", [0.5, 0.2])
def test_per_example_moments(rate):
    layer = _dense("example", rate)
    y = np.asarray(layer(np.tile(X1, (20000, 1)), training=True))  # 20,000 independent masks
    assert_mean_var(y, *_expected(rate))
    # inference is the mean network
    np.testing.assert_allclose(np.asarray(layer(X1)), X1 @ W + B, rtol=1e-5)


def test_per_batch_mask_is_shared_and_has_the_same_moments():
    layer = _dense("batch")
    y = np.asarray(layer(np.tile(X1, (4, 1)), training=True))
    assert np.all(y == y[:1])  # one mask for the whole batch
    step = keras.ops.convert_to_numpy
    draws = np.stack([step(layer(X1, training=True))[0] for _ in range(400)])  # 400 masks (eager calls cost ~10 ms)
    assert_mean_var(draws, *_expected(0.5))


def test_conv2d_per_batch_moments_and_inference():
    k = RNG.normal(size=(3, 3, 2, 2)).astype("float32")
    b = np.array([0.3, -0.7], "float32")
    layer = DropConnectConv2D(2, 3, rate=0.5, seed=3, kernel_initializer=keras.initializers.Constant(k),
                              bias_initializer=keras.initializers.Constant(b))
    x = RNG.normal(size=(1, 3, 3, 2)).astype("float32")  # one 3×3 patch → one output position
    np.testing.assert_allclose(np.asarray(layer(x))[0, 0, 0], np.einsum("hwc,hwcf->f", x[0], k) + b, rtol=1e-5)
    y2 = np.asarray(layer(np.tile(x, (3, 1, 1, 1)), training=True))
    assert np.all(y2 == y2[:1])
    draws = np.stack([np.asarray(layer(x, training=True))[0, 0, 0] for _ in range(400)])  # 400 masks
    mean = np.einsum("hwc,hwcf->f", x[0], k) + b
    var = (np.einsum("hwc,hwcf->f", x[0] ** 2, k**2) + b**2)  # (1−p)/p = 1 at p = 0.5
    assert_mean_var(draws, mean, var)


def test_validation_seed_and_round_trip():
    assert_rejects_rates(lambda r: DropConnectDense(3, rate=r))
    assert_rejects_rates(lambda r: DropConnectConv2D(2, 3, rate=r))
    with pytest.raises(ValueError, match="mask"):
        DropConnectDense(3, mask="unit")
    with pytest.raises(ValueError, match="2-D"):
        DropConnectDense(3)(np.ones((2, 4, 5), "float32"))
    x = RNG.normal(size=(8, 5)).astype("float32")
    for mask in ("example", "batch"):
        assert_seed_reproducible(lambda s: _dense(mask, seed=s), x)
        assert_round_trip(DropConnectDense(3, mask=mask, seed=5, activation="relu"), x)
    assert_round_trip(DropConnectConv2D(2, 3, seed=5), RNG.normal(size=(2, 5, 5, 2)).astype("float32"))
    assert DropConnectDense(3).rate == 0.5 and DropConnectDense(3).mask == "example"


def test_trains_in_graph_mode():
    x = RNG.normal(size=(64, 5)).astype("float32")
    y = x @ W
    for mask in ("example", "batch"):
        model = keras.Sequential([keras.Input((5,)), DropConnectDense(3, rate=0.2, mask=mask, seed=0)])
        model.compile("adam", "mse")
        hist = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        assert np.all(np.isfinite(hist.history["loss"]))
    model = keras.Sequential([keras.Input((6, 6, 2)), DropConnectConv2D(2, 3, seed=0), keras.layers.Flatten()])
    model.compile("adam", "mse")
    model.fit(RNG.normal(size=(8, 6, 6, 2)), RNG.normal(size=(8, 32)), epochs=1, verbose=0)
