"""Test-time augmentation averaging math."""
import numpy as np
import pytest
from keras import ops

from recipes.training.tta import shift_images, tta_logits

W = np.random.default_rng(1).normal(size=(8 * 8 * 3, 4)).astype("float32")


def _predict(x):  # a linear "network", so the expected average is explicit
    return ops.matmul(ops.reshape(x, (ops.shape(x)[0], -1)), ops.convert_to_tensor(W))


def test_shift_images_matches_numpy():
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    np.testing.assert_array_equal(ops.convert_to_numpy(shift_images(x, 1, 1)), xp[:, 0:8, 0:8])
    np.testing.assert_array_equal(ops.convert_to_numpy(shift_images(x, -1, -1)), xp[:, 2:10, 2:10])


def test_tta_levels_average_with_airbench_weights():
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 3)).astype("float32")
    f = lambda z: np.asarray(z).reshape(len(z), -1) @ W
    m = lambda z: 0.5 * (f(z) + f(z[:, :, ::-1]))
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    expected = {0: f(x), 1: m(x), 2: 0.5 * m(x) + 0.25 * m(xp[:, :8, :8]) + 0.25 * m(xp[:, 2:, 2:])}
    for level, ref in expected.items():
        out = ops.convert_to_numpy(tta_logits(_predict, ops.convert_to_tensor(x), level))
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)  # float32 matmul of 192 terms
    with pytest.raises(ValueError, match="level"):
        tta_logits(_predict, x, 3)
