import numpy as np
import pytest
import tensorflow as tf

from augment.image_pipeline import (
    AUGMENTATIONS, make_eval_dataset, make_train_dataset, random_flip_left_right, random_pad_crop,
)


def _images(n=16, size=8):
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3)).astype(np.float32)


def test_pad_crop_is_a_window_of_the_padded_image_with_offset_in_range():
    x = _images()
    out = random_pad_crop(tf.constant(x), tf.constant([1, 2]), padding=4).numpy()
    padded = np.pad(x, [(0, 0), (4, 4), (4, 4), (0, 0)])
    offsets = set()
    for b in range(len(x)):
        matches = [(i, j) for i in range(9) for j in range(9)
                   if np.array_equal(out[b], padded[b, i:i + 8, j:j + 8])]
        assert matches, "output is not an 8×8 window of the zero-padded image"
        offsets.add(matches[0])
    assert len(offsets) > 1  # per-image randomness: not one offset for the whole batch


def test_flip_flips_about_half_independently():
    x = _images(n=400, size=4)
    out = random_flip_left_right(tf.constant(x), tf.constant([3, 4])).numpy()
    flipped = np.array([np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, x)])
    assert np.all(flipped | kept)
    # Binomial(400, 0.5): mean 200, sd 10; 4 sd band
    assert 160 < flipped.sum() < 240


def test_train_dataset_epochs_permutations_and_labels():
    x = np.arange(10)[:, None, None, None] * np.ones((10, 4, 4, 3))
    y = np.arange(10) % 3
    ds, steps = make_train_dataset(x, y, batch_size=4, num_classes=3, augment="none", seed=5, epochs=2)
    assert steps == 2
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 4
    for images, labels in batches:
        ids = images[:, 0, 0, 0].astype(int)
        np.testing.assert_array_equal(labels, np.eye(3)[y[ids]])  # one-hot labels travel with images
    epoch0 = np.concatenate([b[0][:, 0, 0, 0] for b in batches[:2]])
    epoch1 = np.concatenate([b[0][:, 0, 0, 0] for b in batches[2:]])
    assert len(set(epoch0)) == 8 and len(set(epoch1)) == 8  # no repeats within an epoch (last 2 dropped)
    assert not np.array_equal(epoch0, epoch1)  # reshuffled every epoch


def test_same_seed_same_stream_and_resume_is_exact():
    x = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 3)).astype(np.uint8)
    y = np.arange(40) % 10
    full, _ = make_train_dataset(x, y, batch_size=8, seed=1, epochs=3)
    again, _ = make_train_dataset(x, y, batch_size=8, seed=1, epochs=3)
    resumed, _ = make_train_dataset(x, y, batch_size=8, seed=1, start_epoch=1, epochs=3)
    other, _ = make_train_dataset(x, y, batch_size=8, seed=2, epochs=3)
    a, b, r, o = (list(d.as_numpy_iterator()) for d in (full, again, resumed, other))
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert len(r) == 10
    for (xa, ya), (xr, yr) in zip(a[5:], r):  # epochs 1 and 2 identical to the uninterrupted stream
        np.testing.assert_array_equal(xa, xr)
        np.testing.assert_array_equal(ya, yr)
    assert not np.array_equal(a[0][0], o[0][0])


def test_bad_arguments():
    x, y = np.zeros((10, 4, 4, 3)), np.zeros(10, int)
    with pytest.raises(ValueError, match="augment"):
        make_train_dataset(x, y, 2, augment="rotate-everything")
    with pytest.raises(ValueError, match="batch_size"):
        make_train_dataset(x, y, 11)
    with pytest.raises(ValueError, match=r"label 10 is outside \[0, 10\)"):
        make_train_dataset(x, np.full(10, 10), 2)
    assert {"none", "standard"} <= set(AUGMENTATIONS)


def test_eval_dataset_keeps_order_and_last_batch():
    x = np.arange(5)[:, None, None, None] * np.ones((5, 2, 2, 3), np.uint8)
    batches = list(make_eval_dataset(x, np.arange(5), batch_size=2).as_numpy_iterator())
    assert [len(b[0]) for b in batches] == [2, 2, 1]
    np.testing.assert_array_equal(np.concatenate([b[0][:, 0, 0, 0] for b in batches]), np.arange(5))
