"""augment.albumentations_pipeline: the presets do what they state, per image, and both
tf.numpy_function routes restore shapes and feed model.fit."""
import keras
import numpy as np
import pytest

from augment import albumentations_pipeline as ap


@pytest.fixture
def images():
    return np.random.RandomState(0).randint(1, 256, size=(16, 32, 32, 3)).astype("uint8")


def _is_standard_of(out, image, padding=4):
    padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    for oy in range(2 * padding + 1):
        for ox in range(2 * padding + 1):
            crop = padded[oy : oy + 32, ox : ox + 32]
            if np.array_equal(out, crop) or np.array_equal(out, crop[:, ::-1]):
                return True
    return False


def test_standard_is_a_pad_crop_and_flip_drawn_per_image(images):
    out = ap.augment_batch(ap.build_compose("standard", seed=0), images)
    assert out.dtype == np.uint8 and out.shape == images.shape
    assert all(_is_standard_of(out[i], images[i]) for i in range(len(images)))
    assert sum(np.array_equal(out[i], images[i]) for i in range(16)) < 8  # 1/81 chance each of identity


def test_cutout_preset_zeroes_one_square(images):
    compose = ap.build_compose("cutout", padding=0, cutout_size=8, seed=1)
    out = ap.augment_batch(compose, images)  # no padding: only flip and the cutout change pixels
    for i in range(len(images)):
        zero = np.all(out[i] == 0, axis=-1)
        rows, cols = np.nonzero(zero)
        assert zero.sum() == 64 and rows.max() - rows.min() == 7 and cols.max() - cols.min() == 7
    np.testing.assert_array_equal(ap.augment_batch(ap.build_compose("none"), images), images)


@pytest.mark.parametrize("per", ["batch", "image"])
def test_numpy_function_routes_restore_shapes_and_fit(images, per):
    tf = pytest.importorskip("tensorflow")
    labels = np.arange(16) % 10
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    fn = ap.numpy_map(ap.build_compose("cutout", seed=2), per=per)
    ds = ds.batch(8).map(fn) if per == "batch" else ds.map(fn).batch(8)
    assert ds.element_spec[0].shape.as_list() == [None, 32, 32, 3]
    first = next(iter(ds))[0].numpy()
    assert first.dtype == np.uint8 and not np.array_equal(first, images[:8])
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(ds, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="preset must be one of none, standard, cutout, got 'mixup'"):
        ap.build_compose("mixup")
    with pytest.raises(ValueError, match=r"cutout_size must be an integer in \[1, 32\], got 0"):
        ap.build_compose("cutout", cutout_size=0)
    with pytest.raises(ValueError, match=r"padding must be an integer in \[0, inf\), got -2"):
        ap.build_compose(padding=-2)
    with pytest.raises(TypeError, match=r"seed must be an integer in \[0, 2147483647\], got 1.5"):
        ap.build_compose(seed=1.5)
    with pytest.raises(ValueError, match="per must be one of batch, image, got 'pixel'"):
        ap.numpy_map(ap.build_compose(), per="pixel")
