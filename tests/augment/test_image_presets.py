"""The presets of augment.image_pipeline (cutout, randaugment, mixup, cutmix, airbench):
per-image effects, label mixing and resumability through make_train_dataset."""
import numpy as np
import pytest

from augment import image_pipeline as ip


@pytest.fixture
def data():
    x = np.full((64, 32, 32, 3), 200, "uint8")
    y = np.arange(64) % 10
    return x, y


def _batches(x, y, augment, **kw):
    ds, steps = ip.make_train_dataset(x, y, 32, augment=augment, seed=3, **kw)
    return [(a.numpy(), b.numpy()) for a, b in ds], steps


@pytest.mark.parametrize("name", ["cutout", "randaugment", "mixup", "cutmix", "airbench"])
def test_presets_registered_shapes_labels_and_resume(data, name):
    assert name in ip.AUGMENTATIONS
    x, y = data
    full, steps = _batches(x, y, name, epochs=2)
    assert len(full) == 2 * steps and full[0][0].shape == (32, 32, 32, 3)
    for images, labels in full:
        np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-5)
        assert images.min() >= 0 and images.max() <= 255
    resumed, _ = _batches(x, y, name, start_epoch=1, epochs=2)
    for (a, b), (c, d) in zip(full[steps:], resumed):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def _zeros_off_the_padding(images):
    """Per image: zero pixels outside the all-zero rows/columns that pad-and-crop brings in."""
    zero = (images == 0).all(axis=-1)  # (N, H, W)
    pad_rows = zero.all(axis=2, keepdims=True)
    pad_cols = zero.all(axis=1, keepdims=True)
    return (zero & ~pad_rows & ~pad_cols).sum(axis=(1, 2))


def test_cutout_preset_erases_a_square_in_every_image(data):
    x, y = data
    cut = _batches(x, y, "cutout", epochs=1)[0][0][0]
    std = _batches(x, y, "standard", epochs=1)[0][0][0]
    # Constant images: pad-and-crop only adds whole zero rows/columns (at most 4 each side). A 16x16
    # square centred anywhere keeps >= 8x8 pixels inside the image, of which >= 4x4 lie off those strips.
    assert np.all(_zeros_off_the_padding(std) == 0)
    assert _zeros_off_the_padding(cut).min() >= 16


def test_mixing_presets_make_soft_labels(data):
    x, y = data
    for name in ("mixup", "cutmix"):
        labels = _batches(x, y, name, epochs=1)[0][0][1]
        assert (labels.max(axis=1) < 0.999).sum() > 8, name  # most images mixed with another class
