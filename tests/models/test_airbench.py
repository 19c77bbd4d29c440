"""Patch-whitening math and the airbench network."""
import keras
import numpy as np
import pytest

from recipes.models.airbench import build_airbench, extract_patches, patch_whitening_kernel


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
    lam = np.linalg.eigvalsh(p.T @ p / len(p))
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


def test_whitening_layer_is_frozen_and_model_round_trips(tmp_path):
    x = (np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3))).astype("float32")
    mean, std = x.mean((0, 1, 2)), x.std((0, 1, 2))
    kernel = patch_whitening_kernel((x - mean) / std, 2)
    model = build_airbench((4, 8, 8), input_shape=(16, 16, 3), mean=mean, std=std, whitening_kernel=kernel)
    assert model.get_layer("whiten").trainable is False
    assert all("whiten" not in v.path for v in model.trainable_variables)
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
])
def test_bad_model_args_raise_by_name(kwargs, word):
    with pytest.raises(ValueError, match=word):
        build_airbench(**kwargs)


def test_bad_whitening_args_raise_by_name():
    with pytest.raises(ValueError, match=r"eps must be a finite number in \(0, inf\), got 0"):
        patch_whitening_kernel(np.zeros((1, 4, 4, 3)), 2, eps=0)
    with pytest.raises(ValueError, match=r"patch_size must be an integer in \[1, inf\), got 0"):
        patch_whitening_kernel(np.zeros((1, 4, 4, 3)), 0)
