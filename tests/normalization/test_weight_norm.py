"""Weight normalization W = g·v/‖v‖: forward pass, the lecture's gradient formulas against autodiff,
Salimans & Kingma's data-dependent initialization, .keras round trip, argument checks."""
import numpy as np
import pytest
import keras

from tests.helpers import backend_grads as _grads

from recipes.normalization.weight_norm import WeightNormalization, weight_norm_conv_factory, weight_norm_data_init




def _cases():
    return {
        "dense": (lambda: keras.layers.Dense(5, activation="tanh"), (8, 7)),
        "conv2d": (lambda: keras.layers.Conv2D(4, 3, padding="same", activation="tanh"), (2, 6, 6, 3)),
        "conv1d": (lambda: keras.layers.Conv1D(3, 2, strides=2, activation="tanh"), (3, 8, 2)),
    }


def _built(name, seed=0):
    make, shape = _cases()[name]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype("float32")
    wn = WeightNormalization(make())
    wn.build(shape)
    # Random g and bias so that W ≠ v and the test does not rely on the g = ‖v‖ initialisation.
    wn.g.assign(rng.uniform(0.5, 2.0, wn.g.shape).astype("float32"))
    wn.layer.bias.assign(rng.normal(size=wn.layer.bias.shape).astype("float32"))
    return wn, x


def _numpy_w(wn):
    v = keras.ops.convert_to_numpy(wn.v).astype("float64")
    g = keras.ops.convert_to_numpy(wn.g).astype("float64")
    norm = np.sqrt((v ** 2).sum(axis=tuple(range(v.ndim - 1)), keepdims=True))
    return g * v / norm, v, g, norm


@pytest.mark.parametrize("name", ["dense", "conv2d", "conv1d"])
def test_forward_equals_plain_layer_with_w(name):
    wn, x = _built(name)
    w, _, g, _ = _numpy_w(wn)
    plain = _cases()[name][0]()
    plain.build(x.shape)
    plain.set_weights([w.astype("float32"), keras.ops.convert_to_numpy(wn.layer.bias)])
    np.testing.assert_allclose(np.asarray(wn(x)), np.asarray(plain(x)), atol=1e-5)  # float32 rounding
    # ‖w_j‖ = g_j for every output unit.
    np.testing.assert_allclose(np.sqrt((w ** 2).sum(axis=tuple(range(w.ndim - 1)))), g, rtol=1e-9)


def test_wrapping_does_not_change_the_initial_function():
    dense = keras.layers.Dense(4)
    x = np.random.default_rng(3).normal(size=(5, 6)).astype("float32")
    before = np.asarray(dense(x))
    after = np.asarray(WeightNormalization(dense)(x))
    np.testing.assert_allclose(after, before, atol=1e-5)


@pytest.mark.parametrize("name", ["dense", "conv2d"])
def test_gradients_equal_lecture_formulas(name):
    """∂L/∂g = (v/‖v‖)·∇_W L and ∂L/∂v = (g/‖v‖)∇_W L − (g ∂L/∂g/‖v‖²) v, per output unit, with ∇_W L from
    autodiff of the plain layer at kernel W, compared to autodiff through the wrapper."""
    wn, x = _built(name)
    w, v, g, norm = _numpy_w(wn)
    rng = np.random.default_rng(4)
    out_shape = tuple(wn.compute_output_shape(x.shape))
    c = rng.normal(size=out_shape).astype("float32")  # L = Σ c ⊙ layer(x): a non-trivial linear functional
    names = [var.path.split("/")[-1] for var in wn.trainable_variables]
    i_v, i_b, i_g = names.index("kernel"), names.index("bias"), names.index("g")
    values = [var.value for var in wn.trainable_variables]

    def loss_wn(v_, g_):
        vals = list(values)
        vals[i_v], vals[i_g] = v_, g_
        y, _ = wn.stateless_call(vals, [], x)
        return keras.ops.sum(y * c)

    dv_auto, dg_auto = _grads(loss_wn, v.astype("float32"), g.astype("float32"))

    plain = _cases()[name][0]()
    plain.build(x.shape)
    bias = keras.ops.convert_to_numpy(wn.layer.bias)

    def loss_plain(w_):
        y, _ = plain.stateless_call([w_, bias], [], x)
        return keras.ops.sum(y * c)

    (dw,) = _grads(loss_plain, w.astype("float32"))
    dw = dw.astype("float64")
    axes = tuple(range(v.ndim - 1))
    dg = ((v / norm) * dw).sum(axis=axes)                       # ∂L/∂g = v/‖v‖ · ∇_W L
    dv = g / norm * dw - g * dg / norm ** 2 * v                 # ∂L/∂v
    # float32 autodiff vs float64 formulas; gradients are O(1), 1e-4 absolute ≈ 100 ulps.
    np.testing.assert_allclose(dg_auto, dg, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(dv_auto, dv, atol=1e-4, rtol=1e-4)
    assert np.abs(dg).max() > 1e-2 and np.abs(dv).max() > 1e-2
    # ∂L/∂v is orthogonal to v (the projection in the formula), unlike ∇_W L.
    np.testing.assert_allclose((dv * v).sum(axis=axes), 0, atol=1e-9)
    assert np.abs((dw * v).sum(axis=axes)).max() > 1e-2


def test_data_dependent_init_normalizes_each_layer_in_turn():
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(64, 6, 6, 3)) * 4 + 2).astype("float32")
    inp = keras.Input((6, 6, 3))
    h1 = WeightNormalization(keras.layers.Conv2D(4, 3, padding="same"), name="wn1")(inp)
    h2 = WeightNormalization(keras.layers.Conv2D(5, 3), init_scale=0.5, name="wn2")(keras.layers.ReLU()(h1))
    out = WeightNormalization(keras.layers.Dense(3), name="wn3")(keras.layers.Flatten()(h2))
    model = keras.Model(inp, [h1, h2, out])
    assert weight_norm_data_init(model, x) == 3
    t1, t2, t3 = (np.asarray(t, "float64") for t in model(x))
    # After init, every unit's pre-activation (these layers are linear) has mean 0 and std s on the init
    # batch: exact up to float32 rounding (1e-4).
    for t, s in [(t1, 1.0), (t2, 0.5), (t3, 1.0)]:
        axes = tuple(range(t.ndim - 1))
        np.testing.assert_allclose(t.mean(axis=axes), 0, atol=1e-4)
        np.testing.assert_allclose(t.std(axis=axes), s, rtol=1e-4)
    # The init was data-dependent: another batch is not exactly normalized.
    t_other = np.asarray(model(x[:8] * 2)[0], "float64")
    assert np.abs(t_other.std(axis=(0, 1, 2)) - 1).max() > 0.1


def test_initialize_from_data_single_layer():
    rng = np.random.default_rng(6)
    x = (rng.normal(size=(50, 4)) * 3 - 1).astype("float32")
    wn = WeightNormalization(keras.layers.Dense(2, activation="relu"))
    wn.initialize_from_data(x)
    v = keras.ops.convert_to_numpy(wn.v).astype("float64")
    t = x @ (v / np.linalg.norm(v, axis=0))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(wn.g), 1 / t.std(axis=0), rtol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(wn.layer.bias), -t.mean(axis=0) / t.std(axis=0),
                               rtol=1e-4, atol=1e-5)


def test_keras_round_trip_and_training(tmp_path):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(32, 6, 6, 2)).astype("float32")
    y = rng.normal(size=(32, 2)).astype("float32")
    model = keras.Sequential([
        keras.Input((6, 6, 2)),
        WeightNormalization(keras.layers.Conv2D(3, 3, activation="relu"), init_scale=0.7),
        keras.layers.Flatten(),
        WeightNormalization(keras.layers.Dense(2)),
    ])
    weight_norm_data_init(model, x)
    model.compile(keras.optimizers.SGD(0.05), "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before  # g and v are trained
    path = tmp_path / "wn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), np.asarray(model.predict(x, verbose=0)),
                               atol=1e-6)
    assert loaded.layers[0].init_scale == 0.7


def test_bad_arguments_raise_by_name():
    with pytest.raises(TypeError, match="layer"):
        WeightNormalization(keras.layers.Conv2DTranspose(2, 3))
    with pytest.raises(TypeError, match="layer"):
        WeightNormalization(keras.layers.DepthwiseConv2D(3))
    with pytest.raises(TypeError, match="layer"):
        WeightNormalization("dense")
    with pytest.raises(ValueError, match=r"init_scale must be a finite number in \(0, inf\), got 0"):
        WeightNormalization(keras.layers.Dense(2), init_scale=0)
    with pytest.raises(ValueError, match=r"epsilon must be a finite number in \[0, inf\), got -1.0"):
        WeightNormalization(keras.layers.Dense(2), epsilon=-1.0)
    with pytest.raises(ValueError, match="layer must not use padding='causal'"):
        WeightNormalization(keras.layers.Conv1D(2, 3, padding="causal"))
    with pytest.raises(ValueError, match=r"init_scale must be a finite number in \(0, inf\), got -1"):
        weight_norm_conv_factory(init_scale=-1)
    model = keras.Sequential([keras.Input((3,)), WeightNormalization(keras.layers.Dense(2))])
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[2, inf\), got 1"):
        weight_norm_data_init(model, np.zeros((4, 3)), batch_size=1)
    with pytest.raises(ValueError, match="WeightNormalization"):
        weight_norm_data_init(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), np.zeros((4, 3)))


def test_weight_norm_resnet20_through_the_conv_hook():
    from recipes.models.resnet import build_resnet
    from recipes.normalization.weight_norm import weight_norm_conv_factory
    model = build_resnet("resnet20", conv=weight_norm_conv_factory(), norm="none")
    wn = [l for l in model.layers if isinstance(l, WeightNormalization)]
    assert len(wn) == 21 and all(l.layer.use_bias for l in wn)  # norm="none": convs get biases
    x = np.random.default_rng(8).normal(size=(16, 32, 32, 3)).astype("float32")
    weight_norm_data_init(model, x)
    # The stem conv's output (its input is the raw batch) is normalized per channel after the init.
    stem = keras.Model(model.inputs, model.get_layer(wn[0].name).output)
    t = np.asarray(stem(x), "float64")
    np.testing.assert_allclose(t.mean(axis=(0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(t.std(axis=(0, 1, 2)), 1, rtol=1e-3)
    assert np.isfinite(np.asarray(model(x))).all()
