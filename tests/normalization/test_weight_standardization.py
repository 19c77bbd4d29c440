"""Weight standardization V = (W − μ_j)/σ_j per output channel, WSConv2D, and the WS + GN block."""
import numpy as np
import pytest
import keras

from tests.helpers import backend_grads as _grads

from recipes.normalization.weight_standardization import WSConv2D, standardize_kernel, ws_conv_factory, ws_gn_block




def test_standardized_kernel_zero_mean_unit_variance_per_output_channel():
    conv = WSConv2D(6, 3, ws_epsilon=1e-5)
    conv.build((None, 8, 8, 4))
    rng = np.random.default_rng(0)
    # Give each output channel its own offset and scale, so standardization has work to do.
    w = (rng.normal(size=(3, 3, 4, 6)) * rng.uniform(0.05, 2, 6) + rng.normal(0, 1, 6)).astype("float32")
    conv.kernel.assign(w)
    v = np.asarray(conv.standardized_kernel(), "float64").reshape(-1, 6)
    s2 = w.astype("float64").reshape(-1, 6).var(axis=0)
    # S = 36 weights per channel: mean 0 up to float32 rounding; variance exactly σ²/(σ² + ε) (≈ 1 − ε/σ²).
    np.testing.assert_allclose(v.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(v.var(axis=0), s2 / (s2 + 1e-5), rtol=1e-5)
    np.testing.assert_allclose(v.var(axis=0), 1, atol=1e-3)
    # Before standardization the channels are far from that.
    assert np.abs(w.reshape(-1, 6).mean(axis=0)).max() > 0.1


def test_wsconv_equals_conv2d_with_standardized_numpy_kernel():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 7, 7, 3)).astype("float32")
    conv = WSConv2D(4, 3, strides=2, padding="same", use_bias=True, ws_epsilon=1e-4)
    conv.build(x.shape)
    w = keras.ops.convert_to_numpy(conv.kernel).astype("float64")
    mu = w.mean(axis=(0, 1, 2))
    v = (w - mu) / np.sqrt(((w - mu) ** 2).mean(axis=(0, 1, 2)) + 1e-4)
    conv.bias.assign(rng.normal(size=4).astype("float32"))
    plain = keras.layers.Conv2D(4, 3, strides=2, padding="same")
    plain.build(x.shape)
    plain.set_weights([v.astype("float32"), keras.ops.convert_to_numpy(conv.bias)])
    np.testing.assert_allclose(np.asarray(conv(x)), np.asarray(plain(x)), atol=1e-4)  # float32 conv sums


def test_gradient_wrt_w_is_invariant_to_per_channel_shift_and_scale():
    """V is invariant to W_j → a W_j + b per channel (up to ε), so ∂L/∂W_j sums to 0 and is orthogonal to
    W_j − μ_j (exactly at ε → 0; here ε = 1e-10 relative to σ² ≈ 0.1)."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 5, 3)).astype("float32")
    conv = WSConv2D(4, 3, ws_epsilon=1e-10)
    conv.build(x.shape)
    w = keras.ops.convert_to_numpy(conv.kernel)
    c = rng.normal(size=(2, 3, 3, 4)).astype("float32")

    def loss(w_):
        y, _ = conv.stateless_call([w_], [], x)
        return keras.ops.sum(y * c)

    (dw,) = _grads(loss, w)
    dw = dw.reshape(-1, 4).astype("float64")
    wc = w.reshape(-1, 4).astype("float64")
    wc = wc - wc.mean(axis=0)
    scale = np.abs(dw).max()
    assert scale > 1e-2
    np.testing.assert_allclose(dw.sum(axis=0) / scale, 0, atol=1e-4)  # float32: relative 1e-4
    np.testing.assert_allclose((dw * wc).sum(axis=0) / (scale * np.abs(wc).sum(axis=0)), 0, atol=1e-4)


def test_ws_gn_block_trains_with_micro_batches_and_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 2, 16)
    inp = keras.Input((8, 8, 3))
    h = ws_gn_block(inp, 12, groups=8, name="b1")   # 8 does not divide 12: capped to 6 groups
    h = ws_gn_block(h, 16, strides=2, groups=32, name="b2")  # capped to 16 groups
    out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inp, out)
    assert model.get_layer("b1_gn").groups == 6 and model.get_layer("b2_gn").groups == 16
    assert isinstance(model.get_layer("b1_wsconv"), WSConv2D) and not model.get_layer("b1_wsconv").use_bias
    model.compile(keras.optimizers.SGD(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=4, batch_size=2, verbose=0)  # micro-batches of 2
    assert model.evaluate(x, y, verbose=0) < before
    path = tmp_path / "wsgn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_layer("b1_wsconv").ws_epsilon == 1e-5
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_ws_gn_resnet20_through_the_conv_hook():
    from recipes.models.resnet import build_resnet
    conv = ws_conv_factory(1e-4)(8, 3, 2, "c", kernel_regularizer=keras.regularizers.L2(1e-4))
    assert isinstance(conv, WSConv2D) and conv.strides == (2, 2) and conv.ws_epsilon == 1e-4
    assert conv.kernel_regularizer is not None and not conv.use_bias
    model = build_resnet("resnet20", conv=ws_conv_factory(), norm="group")
    ws = [l for l in model.layers if isinstance(l, WSConv2D)]
    assert len(ws) == 21  # 19 3x3 convs + 2 projection shortcuts
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in model.layers)
    x = np.random.default_rng(5).normal(size=(2, 32, 32, 3)).astype("float32")
    assert model(x).shape == (2, 10)


def test_standardize_kernel_dense_shape():
    w = np.random.default_rng(4).normal(size=(10, 3)).astype("float32") * 5 + 1
    v = np.asarray(standardize_kernel(w, 1e-8), "float64")
    np.testing.assert_allclose(v.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(v.std(axis=0), 1, atol=1e-5)


def test_bad_arguments_raise_by_name():
    with pytest.raises(ValueError, match=r"ws_epsilon must be a finite number in \(0, inf\), got 0"):
        WSConv2D(4, 3, ws_epsilon=0)
    with pytest.raises(ValueError, match="groups must be 1 for WSConv2D, got 2"):
        WSConv2D(4, 3, groups=2)
    with pytest.raises(ValueError, match=r"groups must be -1 \(one group per channel\) or an integer in \[1, inf\), got 0"):
        ws_gn_block(keras.Input((4, 4, 3)), 4, groups=0)
    with pytest.raises(TypeError, match="groups must be -1 .*, got 2.0"):
        ws_gn_block(keras.Input((4, 4, 3)), 4, groups=2.0)
    with pytest.raises(ValueError, match=r"filters must be an integer in \[1, inf\), got 0"):
        ws_gn_block(keras.Input((4, 4, 3)), 0)
    with pytest.raises(ValueError, match=r"ws_epsilon must be a finite number in \(0, inf\), got -1"):
        ws_conv_factory(-1)
