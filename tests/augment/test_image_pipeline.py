import numpy as np
import pytest
import tensorflow as tf

from augment import presets
from augment.image_pipeline import AUGMENTATIONS, make_eval_dataset, make_train_dataset, register_augmentation


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


def test_order_and_keys_come_from_presets():
    """Batch i of epoch e holds the examples epoch_order(N, B, seed, e)[i] and is augmented by ImageAugmenter
    with step_key(seed, e * steps + i), the ids and the epoch: the pipeline adds nothing of its own."""
    x = np.random.default_rng(1).integers(0, 256, (24, 8, 8, 3)).astype(np.uint8)
    y = np.arange(24) % 10
    ds, steps = make_train_dataset(x, y, 8, augment="airbench", seed=9, start_epoch=1, epochs=3, one_hot=False)
    aug = presets.ImageAugmenter("airbench")
    for t, (images, labels) in enumerate(ds.as_numpy_iterator(), start=steps):
        e, i = divmod(t, steps)
        ids = presets.epoch_order(24, 8, 9, e)[i]
        ref = aug(tf.cast(tf.gather(x, ids), tf.float32), seed=presets.step_key(9, t), ids=ids, epoch=e)[0]
        np.testing.assert_array_equal(images, ref.numpy())
        np.testing.assert_array_equal(labels, y[ids])
        assert labels.dtype == np.int32
    assert t == 3 * steps - 1


def test_spec_argument_and_registered_functions():
    x = np.random.default_rng(2).integers(0, 256, (16, 8, 8, 3)).astype(np.uint8)
    y = np.arange(16) % 10
    spec = presets.augment_spec("airbench", cutout=4)
    a = list(make_train_dataset(x, y, 8, augment=spec, seed=1, epochs=1)[0].as_numpy_iterator())
    assert (a[0][0] == 0).all(axis=-1).sum() >= 8 * 4  # every image has a cut-out square (>= 2x2 inside)
    calls = []

    @register_augmentation("test_invert")
    def invert(images, labels, seed):
        """T(x) = 255 - x, recording the step keys it was given."""
        calls.append(seed)
        return 255.0 - images, labels

    try:
        out = list(make_train_dataset(x, y, 8, augment="test_invert", seed=1, epochs=1)[0].as_numpy_iterator())
        ids = presets.epoch_order(16, 8, 1, 0)
        np.testing.assert_array_equal(out[1][0], 255.0 - x[ids[1]])
        np.testing.assert_array_equal(out[1][1], np.eye(10)[y[ids[1]]])
        with pytest.raises(ValueError, match="one_hot must be True for augment='test_invert'"):
            make_train_dataset(x, y, 8, augment="test_invert", one_hot=False)
    finally:
        del AUGMENTATIONS["test_invert"]
    with pytest.raises(ValueError, match="one_hot must be True for augment='mixup'"):
        make_train_dataset(x, y, 8, augment="mixup", one_hot=False)
    # the 0.1 batch-function API still works for presets
    images, labels = AUGMENTATIONS["standard"](tf.constant(x[:4], tf.float32), tf.eye(10)[:4], tf.constant([1, 2]))
    assert images.shape == (4, 8, 8, 3) and labels.shape == (4, 10)


def test_bad_arguments():
    x, y = np.zeros((10, 4, 4, 3)), np.zeros(10, int)
    with pytest.raises(ValueError, match="augment"):
        make_train_dataset(x, y, 2, augment="rotate-everything")
    with pytest.raises(ValueError, match="batch_size"):
        make_train_dataset(x, y, 11)
    with pytest.raises(ValueError, match=r"label 10 is outside \[0, 10\)"):
        make_train_dataset(x, np.full(10, 10), 2)
    assert set(presets.PRESETS) <= set(AUGMENTATIONS)
    with pytest.raises(ValueError, match="start_epoch"):
        make_train_dataset(x, y, 2, start_epoch=2, epochs=1)


def test_eval_dataset_keeps_order_and_last_batch():
    x = np.arange(5)[:, None, None, None] * np.ones((5, 2, 2, 3), np.uint8)
    batches = list(make_eval_dataset(x, np.arange(5), batch_size=2).as_numpy_iterator())
    assert [len(b[0]) for b in batches] == [2, 2, 1]
    np.testing.assert_array_equal(np.concatenate([b[0][:, 0, 0, 0] for b in batches]), np.arange(5))
