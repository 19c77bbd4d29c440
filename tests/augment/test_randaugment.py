"""augment.randaugment: each operation's formula for a forced choice, operations drawn per image,
seeded determinism, config round trip and argument checks."""
import keras
import numpy as np
import pytest
from scipy import ndimage

from augment import image_ops as io
from augment.randaugment import OPERATIONS, RandAugment


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _forced(layer, x, op, sign=1.0):
    n = len(x)
    params = {
        "ops": keras.ops.convert_to_tensor(np.full((n, layer.num_ops), layer.operations.index(op), "int32")),
        "signs": keras.ops.convert_to_tensor(np.full((n, layer.num_ops), sign, "float32")),
    }
    return _np(layer.apply(keras.ops.convert_to_tensor(x), params))


@pytest.fixture
def images():
    return np.random.RandomState(0).uniform(0, 255, size=(8, 20, 20, 3)).astype("float32")


def test_colour_operations_follow_their_formulas(images):
    layer = RandAugment(num_ops=1, magnitude=9)  # m = 0.3
    np.testing.assert_allclose(_forced(layer, images, "identity"), images, atol=1e-3)
    np.testing.assert_allclose(
        _forced(layer, images, "solarize"), np.where(images < 0.7 * 255, images, 255 - images), atol=1e-3
    )
    np.testing.assert_allclose(_forced(layer, images, "posterize"), np.floor(images / 2) * 2, atol=1e-3)  # 7 bits
    np.testing.assert_allclose(
        _forced(layer, images, "brightness", sign=-1.0), images * (1 - 0.27), rtol=1e-5, atol=1e-3
    )
    auto = _forced(layer, images, "auto_contrast")
    np.testing.assert_allclose(auto.min(axis=(1, 2)), 0, atol=1e-3)
    np.testing.assert_allclose(auto.max(axis=(1, 2)), 255, atol=1e-3)
    grey = images @ np.array([0.299, 0.587, 0.114], "float32")
    colour = _forced(layer, images, "color", sign=-1.0)
    np.testing.assert_allclose(colour, np.clip(grey[..., None] + 0.73 * (images - grey[..., None]), 0, 255), atol=1e-2)


def test_geometric_operations(images):
    layer = RandAugment(num_ops=1, magnitude=10)  # m = 1/3: translate 0.15 * 20 = 3 px, rotate 10°
    shifted = _forced(layer, images, "translate_x")
    np.testing.assert_allclose(shifted[:, :, 3:], images[:, :, :-3], atol=1e-3)
    np.testing.assert_array_equal(shifted[:, :, :3], 0)
    rotated = _forced(layer, images, "rotate")
    reference = _np(io.RandomAffine(rotation=(10, 10), value_range=None)(images))
    np.testing.assert_allclose(rotated, np.clip(reference, 0, 255), atol=1e-2)
    sheared = _forced(layer, images, "shear_x", sign=-1.0)  # x_in = x + k (y - c_y), k = -0.1
    yy, xx = np.mgrid[0:20, 0:20].astype(float)
    cols = xx - 0.1 * (yy - 9.5)
    inside = (cols >= 1) & (cols <= 18)
    for i in range(2):
        ref = np.stack([ndimage.map_coordinates(images[i, ..., k], [yy, cols], order=1) for k in range(3)], -1)
        np.testing.assert_allclose(sheared[i][inside], ref[inside], atol=1e-2)  # float32 bilinear


def test_operations_are_drawn_per_image_and_seeded(images):
    same = np.repeat(images[:1], 64, axis=0)
    layer = RandAugment(num_ops=2, magnitude=9)
    params = layer.sample(keras.ops.shape(same), io._StatelessSeeds(1, layer.backend))
    ops = _np(params["ops"])
    # 13 equally likely operations: P(fewer than 8 distinct among 64 first-step draws) is negligible.
    assert len(np.unique(ops[:, 0])) >= 8 and ops.min() >= 0 and ops.max() < len(OPERATIONS)
    out = _np(layer(same, seed=3))
    assert len({o.tobytes() for o in out}) > 32
    np.testing.assert_array_equal(out, _np(RandAugment(num_ops=2, magnitude=9)(same, seed=3)))
    np.testing.assert_array_equal(_np(RandAugment(seed=4)(same)), _np(RandAugment(seed=4)(same)))
    assert out.min() >= 0 and out.max() <= 255


def test_config_round_trip_and_bad_arguments(images):
    layer = RandAugment(num_ops=3, magnitude=5, operations=("rotate", "solarize"))
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    np.testing.assert_array_equal(_np(restored(images, seed=2)), _np(layer(images, seed=2)))
    with pytest.raises(ValueError, match="num_ops"):
        RandAugment(num_ops=0)
    with pytest.raises(ValueError, match="magnitude"):
        RandAugment(magnitude=31)
    with pytest.raises(ValueError, match="operations"):
        RandAugment(operations=("equalize",))
    with pytest.raises(ValueError, match="value_range"):
        RandAugment(value_range=None)
