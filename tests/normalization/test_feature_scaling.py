"""Min-max scaling and z-score standardization fitted with adapt, against the lecture's formulas in NumPy."""
import numpy as np
import pytest
import keras

from recipes.normalization.feature_scaling import MinMaxScaling, ZScoreNormalization


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    # The lecture's example: features on very different scales (1..5 and 100..10000).
    return np.stack([rng.uniform(1, 5, 200), rng.uniform(100, 10000, 200), rng.normal(-3, 0.1, 200)],
                    axis=1).astype("float32")


def test_min_max_0_1(data):
    layer = MinMaxScaling()
    layer.adapt(data)
    lo, hi = data.min(axis=0), data.max(axis=0)
    y = np.asarray(layer(data))
    # float32 division: relative error ~1e-7 of values in [0, 1].
    np.testing.assert_allclose(y, (data - lo) / (hi - lo), atol=1e-6)
    np.testing.assert_allclose(y.min(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(y.max(axis=0), 1, atol=1e-6)


def test_min_max_minus1_1_is_lecture_formula(data):
    layer = MinMaxScaling(feature_range=(-1, 1))
    layer.adapt(data)
    lo, hi = data.min(axis=0).astype("float64"), data.max(axis=0).astype("float64")
    expected = (2 * data - (hi + lo)) / (hi - lo)
    np.testing.assert_allclose(np.asarray(layer(data)), expected, atol=1e-5)


def test_min_max_adapt_streaming_equals_full(data):
    import tensorflow as tf
    full = MinMaxScaling(feature_range=(-1, 1))
    full.adapt(data)
    batched = MinMaxScaling(feature_range=(-1, 1))
    batched.adapt([data[i:i + 32] for i in range(0, 200, 32)])
    ds = MinMaxScaling(feature_range=(-1, 1))
    ds.adapt(tf.data.Dataset.from_tensor_slices((data, np.zeros(200))).batch(50))
    for other in (batched, ds):
        np.testing.assert_array_equal(np.asarray(other.minimum), np.asarray(full.minimum))
        np.testing.assert_array_equal(np.asarray(other.maximum), np.asarray(full.maximum))


def test_min_max_image_channels_scalar_axis_constant_and_invert():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(10, 4, 4, 3)).astype("float32")
    per_channel = MinMaxScaling(axis=-1)
    per_channel.adapt(img)
    assert np.asarray(per_channel.minimum).shape == (3,)
    np.testing.assert_allclose(np.asarray(per_channel.minimum), img.min(axis=(0, 1, 2)))
    scalar = MinMaxScaling(axis=None)
    scalar.adapt(img)
    np.testing.assert_allclose(np.asarray(scalar(img)), (img - img.min()) / (img.max() - img.min()), atol=1e-6)
    const = MinMaxScaling(feature_range=(-1, 1))
    const.adapt(np.array([[1.0, 2.0], [1.0, 4.0]], "float32"))
    np.testing.assert_allclose(np.asarray(const(np.array([[1.0, 3.0]], "float32"))), [[-1.0, 0.0]])
    inv = MinMaxScaling(feature_range=(-1, 1), minimum=[0.0, 10.0], maximum=[2.0, 30.0], invert=True)
    fwd = MinMaxScaling(feature_range=(-1, 1), minimum=[0.0, 10.0], maximum=[2.0, 30.0])
    x = np.array([[0.5, 12.0], [3.0, 5.0]], "float32")
    np.testing.assert_allclose(np.asarray(inv(fwd(x))), x, atol=1e-5)
    clipped = MinMaxScaling(minimum=[0.0, 10.0], maximum=[2.0, 30.0], clip=True)
    np.testing.assert_allclose(np.asarray(clipped(x)), [[0.25, 0.1], [1.0, 0.0]], atol=1e-6)


def test_z_score_is_lecture_formula(data):
    layer = ZScoreNormalization(epsilon=1e-3)
    layer.adapt(data)
    m = data.astype("float64").mean(axis=0)
    s2 = data.astype("float64").var(axis=0)  # (1/N) Σ (x − m)²: the population variance
    y = np.asarray(layer(data))
    np.testing.assert_allclose(y, (data - m) / np.sqrt(s2 + 1e-3), atol=1e-4)  # float32 on values ~1e4
    # ε matters for the feature with σ² = 0.01: std of the output is sqrt(σ²/(σ² + ε)) < 1.
    np.testing.assert_allclose(y.std(axis=0), np.sqrt(s2 / (s2 + 1e-3)), rtol=1e-4)


def test_z_score_learnable_gamma_beta(data, tmp_path):
    layer = ZScoreNormalization(scale_shift=True)
    layer.adapt(data)
    assert [w.path.split("/")[-1] for w in layer.trainable_weights] == ["gamma", "beta"]
    gamma, beta = np.array([2.0, 0.5, -1.0], "float32"), np.array([1.0, 0.0, 3.0], "float32")
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    m, s2 = data.astype("float64").mean(axis=0), data.astype("float64").var(axis=0)
    np.testing.assert_allclose(np.asarray(layer(data)), gamma * (data - m) / np.sqrt(s2 + 1e-7) + beta,
                               atol=1e-4)
    # γ, β are learned with the model: fitting y = 3 x̃_0 + 1 moves them.
    model = keras.Sequential([keras.Input((3,)), layer, keras.layers.Lambda(lambda t: t[:, :1])])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    target = 3 * (data[:, :1] - m[0]) / np.sqrt(s2[0]) + 1
    model.fit(data, target, epochs=10, batch_size=50, verbose=0)  # 40 steps; contraction ≈ 0.8 per step
    np.testing.assert_allclose(np.asarray(layer.gamma)[0], 3, atol=0.05)
    np.testing.assert_allclose(np.asarray(layer.beta)[0], 1, atol=0.05)


def test_round_trip(data, tmp_path):
    z = ZScoreNormalization(scale_shift=True, epsilon=1e-5)
    z.adapt(data)
    mm = MinMaxScaling(feature_range=(-1, 1))
    mm.adapt(data)
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Concatenate()([z(inp), mm(inp)])))
    z.gamma.assign([1.5, 2.0, 0.5])
    path = tmp_path / "scaling.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0), atol=1e-6)


def test_bad_arguments_raise_by_name():
    with pytest.raises(ValueError, match=r"feature_range must be a pair \(lo, hi\) with lo <= hi, got \(1, 0\)"):
        MinMaxScaling(feature_range=(1, 0))
    with pytest.raises(ValueError, match=r"feature_range must be a pair \(a, b\) with a < b, got \(1, 1\)"):
        MinMaxScaling(feature_range=(1, 1))
    with pytest.raises(ValueError, match=r"feature_range\[1\] must be a finite number .*, got inf"):
        MinMaxScaling(feature_range=(0, float("inf")))
    with pytest.raises(TypeError, match=r"feature_range must be a pair \(lo, hi\)"):
        MinMaxScaling(feature_range=(0, 1, 2))
    with pytest.raises(ValueError, match="minimum and maximum must be given together"):
        MinMaxScaling(minimum=[0.0])
    with pytest.raises(ValueError, match="maximum must be >= minimum for every feature, got maximum=0.0 < minimum=1.0"):
        MinMaxScaling(minimum=[1.0], maximum=[0.0])
    with pytest.raises(ValueError, match=r"minimum must be finite \(no NaN or inf\), got nan"):
        MinMaxScaling(minimum=[float("nan")], maximum=[0.0])
    with pytest.raises(TypeError, match="axis"):
        MinMaxScaling(axis="x")
    with pytest.raises(ValueError, match=r"epsilon must be a finite number in \[0, inf\), got -1"):
        ZScoreNormalization(epsilon=-1)
    with pytest.raises(ValueError, match="scale_shift must be False with invert=True"):
        ZScoreNormalization(mean=[0.0], variance=[1.0], invert=True, scale_shift=True)
    with pytest.raises(TypeError, match="scale_shift"):
        ZScoreNormalization(scale_shift="yes")
    with pytest.raises(ValueError, match="adapt"):
        MinMaxScaling().adapt([])
