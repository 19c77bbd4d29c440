"""Patch-whitening math and the airbench network."""
import keras
import numpy as np
import pytest

from recipes.models.airbench import (
    DiracUniform, PatchWhitening, build_airbench, extract_patches, patch_whitening_kernel,
)


def _correlated_images(n=200, size=8, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, size, size, 3))
    # neighbouring pixels and channels strongly correlated, like natural images
    x = base + np.roll(base, 1, axis=1) + np.roll(base, 1, axis=2) + base[..., :1]
    return (x - x.mean((0, 1, 2))) / x.std((0, 1, 2))


def test_whitened_patches_have_identity_second_moment():
    x = _correlated_images()
    eps = 1e-4
    kernel = patch_whitening_kernel(x, 2, eps)
    assert kernel.shape == (2, 2, 3, 24)
    p = extract_patches(x, 2)
    z = p @ kernel.reshape(12, 24).astype(np.float64)
    m = z[:, :12].T @ z[:, :12] / len(z)
    lam = np.linalg.eigvalsh(p.T @ p / len(p))[::-1]  # largest first, as airbench94 orders its filters
    # exact: E[zzᵀ] = diag(λ/(λ+ε)); float32 kernel → 1e-4 relative rounding
    np.testing.assert_allclose(m, np.diag(lam / (lam + eps)), atol=2e-4)
    # and ≈ I: every λ here is ≫ ε, so λ/(λ+ε) > 0.99
    np.testing.assert_allclose(m, np.eye(12), atol=1e-2)
    # the negated half mirrors the first
    np.testing.assert_array_equal(kernel[..., 12:], -kernel[..., :12])
    # the raw patches are far from white (the test could fail if whitening did nothing)
    assert np.abs(p.T @ p / len(p) - np.eye(12)).max() > 0.3


def test_keras_conv_with_kernel_equals_patch_products():
    x = _correlated_images(n=4).astype("float32")
    kernel = patch_whitening_kernel(x, 2)
    conv = keras.layers.Conv2D(24, 2, padding="valid", use_bias=False)
    conv.build((None, 8, 8, 3))
    conv.set_weights([kernel])
    out = keras.ops.convert_to_numpy(conv(x)).reshape(-1, 24)
    ref = extract_patches(x, 2) @ kernel.reshape(12, 24)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)  # float32 convolution


@pytest.mark.parametrize("whiten_bias", [False, True])
def test_whitening_layer_is_frozen_and_model_round_trips(tmp_path, whiten_bias):
    x = (np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3))).astype("float32")
    mean, std = x.mean((0, 1, 2)), x.std((0, 1, 2))
    kernel = patch_whitening_kernel((x - mean) / std, 2)
    model = build_airbench((4, 8, 8), input_shape=(16, 16, 3), mean=mean, std=std, whitening_kernel=kernel,
                           whiten_bias=whiten_bias)
    # the kernel never trains; the bias (zero at the start) does when asked for
    assert [v.path for v in model.trainable_variables if "whiten" in v.path] == (
        ["whiten/bias"] if whiten_bias else [])
    if whiten_bias:
        model.get_layer("whiten").bias.assign(np.linspace(-1, 1, 24).astype("float32"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.get_layer("whiten").kernel), kernel)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, word", [
    ({"widths": (4, 8)}, r"widths must be three integers in \[1, inf\) \(one per conv group\), got \(4, 8\)"),
    ({"widths": (4, 0, 8)}, r"widths\[1\] must be an integer in \[1, inf\), got 0"),
    ({"bn_momentum": 1.0}, r"bn_momentum must be a finite number in \[0, 1\), got 1.0"),
    ({"num_classes": 1}, r"num_classes must be an integer in \[2, inf\), got 1"),
    ({"whitening_kernel": np.zeros((3, 3, 3, 24))}, "whitening_kernel must have shape"),
    ({"mean": [0.0, 0.0, 0.0]}, "mean and std must be given together"),
    ({"init": "he"}, r"init must be one of"),
    ({"bn_epsilon": 0.0}, r"bn_epsilon must be a finite number in \(0, inf\), got 0.0"),
])
def test_bad_model_args_raise_by_name(kwargs, word):
    with pytest.raises(ValueError, match=word):
        build_airbench(**kwargs)


def test_bad_whitening_args_raise_by_name():
    with pytest.raises(ValueError, match=r"eps must be a finite number in \(0, inf\), got 0"):
        patch_whitening_kernel(np.zeros((1, 4, 4, 3)), 2, eps=0)
    with pytest.raises(ValueError, match=r"patch_size must be an integer in \[1, inf\), got 0"):
        patch_whitening_kernel(np.zeros((1, 4, 4, 3)), 0)


def test_dirac_uniform_is_identity_on_the_first_filters_and_torch_uniform_elsewhere():
    """First min(C_in, C_out) filters: the identity filter (a 3×3 conv then copies channel j to channel j); the
    rest: U(−1/√fan_in, 1/√fan_in), fan_in = 9·C_in (mean 0, variance 1/(3·fan_in))."""
    keras.utils.set_random_seed(0)
    w = keras.ops.convert_to_numpy(DiracUniform()((3, 3, 16, 200)))
    dirac = np.zeros((3, 3, 16, 16))
    dirac[1, 1, np.arange(16), np.arange(16)] = 1
    np.testing.assert_array_equal(w[..., :16], dirac)
    rest, bound = w[..., 16:], 1 / np.sqrt(9 * 16)
    assert np.abs(rest).max() <= bound and np.abs(rest).max() > 0.99 * bound
    assert abs(rest.mean()) < 0.02 * bound and rest.var() == pytest.approx(bound ** 2 / 3, rel=0.03)
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 16)).astype("float32")
    y = keras.ops.convert_to_numpy(keras.ops.conv(x, w, padding="same"))
    np.testing.assert_allclose(y[..., :16], x, atol=1e-6)  # identity on the first 16 channels
    narrow = keras.ops.convert_to_numpy(DiracUniform(seed=3)((3, 3, 8, 4)))  # C_out < C_in: all four filters
    assert narrow[1, 1, np.arange(4), np.arange(4)].tolist() == [1, 1, 1, 1] and np.count_nonzero(narrow) == 4
    assert DiracUniform.from_config(DiracUniform(seed=3).get_config()).seed == 3


def test_network_matches_airbench94_settings():
    model = build_airbench((8, 16, 16), input_shape=(32, 32, 3))
    bn = model.get_layer("group1_bn1")
    assert bn.momentum == 0.6 and bn.epsilon == 1e-12 and bn.scale is False and bn.center is True
    conv2 = keras.ops.convert_to_numpy(model.get_layer("group2_conv2").kernel)  # 16 -> 16: all identity
    assert np.count_nonzero(conv2) == 16 and np.all(conv2[1, 1] == np.eye(16))
    head = keras.ops.convert_to_numpy(model.get_layer("head").kernel)
    assert np.abs(head).max() <= 1 / np.sqrt(16)
    glorot = build_airbench((8, 16, 16), input_shape=(32, 32, 3), init="glorot")
    assert np.count_nonzero(keras.ops.convert_to_numpy(glorot.get_layer("group2_conv2").kernel)) > 16 * 16


def test_patch_whitening_layer_equals_a_conv_plus_bias():
    x = _correlated_images(n=3).astype("float32")
    kernel = patch_whitening_kernel(x, 2)
    layer = PatchWhitening(24, 2, use_bias=True)
    layer.build(x.shape)
    layer.kernel.assign(kernel)
    b = np.arange(24, dtype="float32") / 10
    layer.bias.assign(b)
    out = keras.ops.convert_to_numpy(layer(x)).reshape(-1, 24)
    np.testing.assert_allclose(out, extract_patches(x, 2) @ kernel.reshape(12, 24) + b, rtol=1e-4, atol=1e-4)
    assert [v.name for v in layer.trainable_variables] == ["bias"]
