import keras
import numpy as np
import pytest
from scipy import stats

from tests.dropout_testing import assert_round_trip, assert_seed_reproducible
from recipes.dropout.structural_dropout import StructuralDropout, set_structural_width

D = 8


def _widths(y):
    """Kept width of every row = number of nonzero features (inputs are all positive)."""
    return (y != 0).sum(axis=1)


@pytest.mark.parametrize("min_units", [1, 3])
def test_kept_width_is_uniform_and_a_prefix(min_units):
    layer = StructuralDropout(min_units=min_units, seed=0)
    x = np.ones((40000, D), "float32")
    y = np.asarray(layer(x, training=True))
    k = _widths(y)
    # prefix: row r is nonzero exactly on its first k_r features
    np.testing.assert_array_equal(y != 0, np.arange(D)[None] < k[:, None])
    # normalization: kept features scaled by d/k, so Σ_i y_i = d for every row
    np.testing.assert_allclose(y.sum(axis=1), D, rtol=1e-5)
    # uniform on {min_units..D}: chi-square goodness of fit, false-failure probability 1e-4
    values = np.arange(min_units, D + 1)
    counts = np.array([(k == v).sum() for v in values])
    assert counts.sum() == len(k)
    chi2 = ((counts - len(k) / len(values)) ** 2 / (len(k) / len(values))).sum()
    assert chi2 < stats.chi2.ppf(1 - 1e-4, df=len(values) - 1)


def test_per_batch_draw_and_inference_width():
    layer = StructuralDropout(per_example=False, seed=1)
    y = np.asarray(layer(np.ones((5, D), "float32"), training=True))
    assert len(set(_widths(y))) == 1  # one width for the batch
    x = np.arange(1, 2 * D + 1, dtype="float32").reshape(2, D)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)  # default inference width d: identity
    layer.set_width(3)
    expected = x * (np.arange(D) < 3) * (D / 3)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-6)
    layer.set_width(0.5)
    assert int(np.asarray(layer.width)) == 4
    for bad, range_ in ((0, r"an integer in \[1, 8\]"), (D + 1, r"an integer in \[1, 8\]"),
                        (1.5, r"a finite number in \(0, 1\]"), (0.0, r"a finite number in \(0, 1\]")):
        with pytest.raises(ValueError, match=f"width must be {range_}, got {bad}"):
            layer.set_width(bad)
    for bad in (True, "half"):
        with pytest.raises(TypeError, match=r"width must be an integer in \[1, 8\] or a fraction in \(0, 1\]"):
            layer.set_width(bad)


def test_model_width_setting_survives_compiled_predict_and_save():
    x = np.random.default_rng(0).random((4, 6)).astype("float32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(D), StructuralDropout(seed=2), keras.layers.Dense(2)])
    full = model.predict(x, verbose=0)
    assert set_structural_width(model, 2) == [2]
    narrow = model.predict(x, verbose=0)  # width is a variable: the compiled predict sees the change
    h = x @ np.asarray(model.layers[0].kernel) + np.asarray(model.layers[0].bias)
    h = h * (np.arange(D) < 2) * (D / 2)
    np.testing.assert_allclose(narrow, h @ np.asarray(model.layers[2].kernel) + np.asarray(model.layers[2].bias),
                               rtol=1e-4, atol=1e-5)
    assert not np.allclose(full, narrow)
    loaded = assert_round_trip(StructuralDropout(min_units=2, seed=3), x)
    assert int(np.asarray(loaded.layers[0].width)) == 6
    with pytest.raises(ValueError, match="StructuralDropout"):
        set_structural_width(keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)]), 1)


def test_validation_and_seed():
    for bad, error in ((0, ValueError), (-1, ValueError), (1.5, TypeError)):
        with pytest.raises(error, match=rf"min_units must be an integer in \[1, inf\), got {bad}"):
            StructuralDropout(min_units=bad)
    assert_seed_reproducible(lambda s: StructuralDropout(seed=s), np.ones((64, D), "float32"))
