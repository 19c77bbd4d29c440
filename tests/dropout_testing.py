"""Shared checks for the dropout-family tests (imported by tests/test_*dropout*.py, test_dropconnect.py)."""
import os
import tempfile

import keras
import numpy as np
import pytest

# Tolerance of every moment check: 5 standard errors estimated from the samples themselves.
# For a (near-)Gaussian sample mean the chance of a false failure is < 1e-6 per entry checked.
NUM_SE = 5.0


def assert_mean_var(samples, mean, var, axis=0):
    """Sample mean and variance along ``axis`` equal ``mean``/``var`` within NUM_SE standard errors."""
    s = np.asarray(samples, dtype=np.float64)
    n = s.shape[axis]
    m = s.mean(axis=axis)
    v = s.var(axis=axis)
    se_mean = np.sqrt(v / n) + 1e-12
    dev2 = (s - np.expand_dims(m, axis)) ** 2
    se_var = dev2.std(axis=axis) / np.sqrt(n) + 1e-12
    mean = np.broadcast_to(mean, m.shape)
    var = np.broadcast_to(var, v.shape)
    assert np.all(np.abs(m - mean) < NUM_SE * se_mean), (m, mean, se_mean)
    assert np.all(np.abs(v - var) < NUM_SE * se_var), (v, var, se_var)


def assert_rejects_rates(factory):
    """``factory(rate)`` raises ValueError naming ``rate``, its range [0, 1) and the value for rates outside it,
    and TypeError for a rate that is no number."""
    for bad in (-0.1, 1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match=rf"rate must be a finite number in \[0, 1\), got {bad!r}"):
            factory(bad)
    with pytest.raises(TypeError, match="rate must be a number in \\[0, 1\\), got '0.5'"):
        factory("0.5")


def assert_round_trip(layer, x, training_check=True):
    """Model(layer) survives .keras save/load with identical inference predictions and config."""
    model = keras.Sequential([keras.Input(x.shape[1:]), layer])
    expected = np.asarray(model.predict(x, verbose=0))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    got = np.asarray(loaded.predict(x, verbose=0))
    np.testing.assert_array_equal(got, expected)
    assert type(loaded.layers[0]) is type(layer)
    cfg_a, cfg_b = layer.get_config(), loaded.layers[0].get_config()
    cfg_a.pop("name"), cfg_b.pop("name")
    assert cfg_a == cfg_b
    return loaded


def assert_seed_reproducible(make_layer, x):
    """Same seed → identical training outputs; different seed → different outputs."""
    a = np.asarray(make_layer(7)(x, training=True))
    b = np.asarray(make_layer(7)(x, training=True))
    c = np.asarray(make_layer(8)(x, training=True))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
