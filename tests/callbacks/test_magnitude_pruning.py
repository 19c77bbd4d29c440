"""callbacks.magnitude_pruning: the smallest |w| per layer are zeroed at the scheduled sparsity,
stay EXACTLY zero while momentum SGD keeps training, biases untouched; the cubic schedule; errors."""
import numpy as np
import pytest

import keras

from callbacks.magnitude_pruning import MagnitudePruning, layer_sparsity


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _model():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(20, activation="relu", name="h"), keras.layers.Dense(3, name="out")]
    )


def test_pruning_keeps_smallest_weights_at_exact_zero_and_reports_sparsity():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = rng.normal(size=(64, 3)).astype("float32")
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    cb = MagnitudePruning(final_sparsity=0.6, begin_step=0, end_step=0)  # prune 60 % after step 0
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[cb])
    for name, n in (("h", 6 * 20), ("out", 20 * 3)):
        k = _np(model.get_layer(name).kernel)
        assert np.sum(k == 0) == round(0.6 * n), name  # exact count of exact zeros
    # the mask fixed at step 0 is what stays zero (momentum pushes those weights every step)
    mask = cb._masks[model.get_layer("h").kernel.path]
    assert np.all(_np(model.get_layer("h").kernel)[~mask] == 0)
    assert np.all(_np(model.get_layer("h").kernel)[mask] != 0)
    assert np.all(_np(model.get_layer("h").bias) != 0)  # biases are never pruned (trained away from 0)
    # reported sparsity = measured sparsity
    assert history.history["sparsity"][-1] == pytest.approx((72 + 36) / 180)
    assert cb.history[-1] == layer_sparsity(model)


def test_pruned_set_is_the_smallest_magnitudes():
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")  # lr 0: weights only change by pruning
    k0 = _np(model.get_layer("h").kernel).copy()
    cb = MagnitudePruning(final_sparsity=0.25, layer_names=["h"])
    model.fit(np.zeros((8, 6), "float32"), np.zeros((8, 3), "float32"), batch_size=8, epochs=1, verbose=0,
              callbacks=[cb])
    k = _np(model.get_layer("h").kernel)
    pruned = k == 0
    assert pruned.sum() == 30
    assert np.abs(k0[pruned]).max() <= np.abs(k0[~pruned]).min()
    np.testing.assert_array_equal(k[~pruned], k0[~pruned])
    assert np.all(_np(model.get_layer("out").kernel) != 0)  # not in layer_names


def test_cubic_schedule():
    cb = MagnitudePruning(final_sparsity=0.8, initial_sparsity=0.2, begin_step=10, end_step=20)
    assert cb.target_sparsity(5) == 0.0
    assert cb.target_sparsity(10) == pytest.approx(0.2)
    # s_t = s_f + (s_i − s_f)(1 − (t − t0)/(t1 − t0))³ at t = 15: 0.8 − 0.6·0.125
    assert cb.target_sparsity(15) == pytest.approx(0.8 - 0.6 * 0.125)
    assert cb.target_sparsity(20) == pytest.approx(0.8)
    assert cb.target_sparsity(100) == pytest.approx(0.8)


def test_gradual_pruning_reaches_target_and_config_round_trip():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.normal(size=(32, 3)).astype("float32")
    model = _model()
    model.compile(optimizer="adam", loss="mse")
    cb = MagnitudePruning(final_sparsity=0.5, begin_step=0, end_step=6, frequency=2)
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[cb])  # 12 steps
    sp = [list(h.values()) for h in cb.history]
    assert sp[0][0] < 0.5 and sp[-1] == [0.5, 0.5]  # grows, then holds s_f exactly
    clone = MagnitudePruning.from_config(cb.get_config())
    assert clone.get_config() == cb.get_config()


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"final_sparsity must be a finite number in \[0, 1\), got 1.0"):
        MagnitudePruning(final_sparsity=1.0)
    with pytest.raises(ValueError, match=r"initial_sparsity must be a finite number in \[0, 0.3\], got 0.5"):
        MagnitudePruning(final_sparsity=0.3, initial_sparsity=0.5)
    with pytest.raises(ValueError, match=r"end_step must be an integer in \[5, inf\), got 2"):
        MagnitudePruning(begin_step=5, end_step=2)
    with pytest.raises(TypeError, match=r"begin_step must be an integer in \[0, inf\), got 1.0"):
        MagnitudePruning(begin_step=1.0)
    with pytest.raises(ValueError, match=r"frequency must be an integer in \[1, inf\), got 0"):
        MagnitudePruning(frequency=0)
    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="layer_names"):
        model.fit(np.zeros((4, 6)), np.zeros((4, 3)), verbose=0, callbacks=[MagnitudePruning(layer_names=["zz"])])
