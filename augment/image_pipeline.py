"""tf.data pipelines for image arrays, with per-image, seeded, resumable augmentation in batches.

The lecture's stochastic transform: each training image x is replaced, every time it is seen, by T(x) with T
drawn at random, the label y kept (or mixed, for MixUp/CutMix). The batches and the draws come from
:mod:`augment.presets`, shared with the on-device placement (:mod:`augment.device_batches`): epoch ``e`` visits
the examples in ``epoch_order(N, B, seed, e)``; global step ``t`` is augmented by
``ImageAugmenter(spec)(images, labels, seed=step_key(seed, t), ids=batch indices, epoch=e)``. The same seed
gives the same stream, and a run resumed at epoch e sees exactly the batches an uninterrupted run would have
seen from epoch e on.

Augmentations are named in ``AUGMENTATIONS``: the presets of :data:`augment.presets.PRESETS` (none, standard,
cutout, randaugment, mixup, cutmix, airbench) and functions registered with ``register_augmentation`` (the 0.1
API): ``f(images, labels, seed) -> (images, labels)`` on a whole batch, ``images`` float32 (B, H, W, C) in the
0..255 scale, ``labels`` float32 one-hot (B, K), ``seed`` the int32 (2,) key of the step.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from augment.presets import PRESETS, AugmentSpec, ImageAugmenter, epoch_order, step_key

AUGMENTATIONS = {}


def register_augmentation(name):
    """Decorator: register ``f(images, labels, seed) -> (images, labels)`` under ``name``."""

    def wrap(fn):
        AUGMENTATIONS[name] = fn
        return fn

    return wrap


def _preset_function(name):
    """``AUGMENTATIONS[name]`` for a preset: ``f(images, labels, seed, ids=None, epoch=None)`` through
    :class:`ImageAugmenter` (built once per number of classes, outside any tf.data graph)."""
    spec = PRESETS[name]
    augmenters = {}

    def fn(images, labels, seed, ids=None, epoch=None):
        k = int(labels.shape[-1])
        if k not in augmenters:
            with tf.init_scope():
                augmenters[k] = ImageAugmenter(spec, num_classes=max(k, 2))
        return augmenters[k](images, labels, seed=seed, ids=ids, epoch=epoch)

    fn.__name__ = f"{name}_augmentation"
    fn.__doc__ = f"The {name!r} preset, {spec} (see augment.presets)."
    fn.spec = spec
    return fn


for _name in PRESETS:
    register_augmentation(_name)(_preset_function(_name))


def _resolve_augment(augment):
    """(spec, None) for a preset or an AugmentSpec, (None, f) for a user-registered batch function."""
    if isinstance(augment, AugmentSpec):
        return augment, None
    if isinstance(augment, str) and augment in AUGMENTATIONS:
        fn = AUGMENTATIONS[augment]
        spec = getattr(fn, "spec", None)
        return (spec, None) if isinstance(spec, AugmentSpec) else (None, fn)
    raise ValueError(f"augment must be one of {sorted(AUGMENTATIONS)} or an AugmentSpec, got {augment!r}")


def _check_finite_images(x):
    """Float images must be finite: a NaN or inf pixel would turn the loss into NaN at its first batch."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating) and x.size and not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))[0])
        raise ValueError(f"x contains NaN or inf values (first in image {bad})")
    return x


def _as_one_hot(y, num_classes):
    y = np.asarray(y)
    if y.ndim == 2:
        if y.shape[1] != num_classes:
            raise ValueError(f"one-hot labels have {y.shape[1]} columns, expected num_classes={num_classes}")
        return y.astype(np.float32)
    if y.ndim != 1:
        raise ValueError(f"labels must be integers (N,) or one-hot (N, K), got shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        bad = y[(y < 0) | (y >= num_classes)][0]
        raise ValueError(f"label {bad} is outside [0, {num_classes}) (num_classes={num_classes})")
    return np.eye(num_classes, dtype=np.float32)[y.astype(np.int64)]


def make_train_dataset(x, y, batch_size, num_classes=10, augment="standard", seed=0,
                       start_epoch=0, epochs=1, one_hot=True):
    """Training batches for epochs ``start_epoch … epochs − 1`` (``steps_per_epoch = N // batch_size``).

    Epoch e visits the examples in ``epoch_order(N, batch_size, seed, e)`` (a fresh permutation per (seed, e),
    the last incomplete batch dropped); global step t = e · steps_per_epoch + i is augmented with
    ``augment`` keyed by ``step_key(seed, t)``, with the batch's indices as ``ids`` and ``e`` as ``epoch``.

    Args:
        augment: a preset name of ``AUGMENTATIONS``, an :class:`augment.presets.AugmentSpec`, or the name of
            a function registered with ``register_augmentation``.
        one_hot: True: float32 one-hot labels (B, K); False: int32 labels (B,) (only for augmentations that
            do not mix labels).

    Returns ``(dataset, steps_per_epoch)``; the dataset yields ``(float32 images in 0..255, labels)``.
    """
    spec, fn = _resolve_augment(augment)
    x = _check_finite_images(x)
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x and y differ in length: {n} vs {len(y)}")
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an integer in [1, {n}] (the number of training examples), got {batch_size!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if isinstance(start_epoch, bool) or not isinstance(start_epoch, (int, np.integer)) or not 0 <= start_epoch <= epochs:
        raise ValueError(f"start_epoch must be an integer in [0, epochs={epochs}], got {start_epoch!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 31:
        raise ValueError(f"seed must be an integer in [0, 2147483647], got {seed!r}")
    if not isinstance(one_hot, bool):
        raise TypeError(f"one_hot must be True or False, got {one_hot!r}")
    if not one_hot and (fn is not None or spec.mixes_labels):
        what = f"mixing={spec.mixing!r} mixes labels" if fn is None else "a registered batch function takes one-hot labels"
        raise ValueError(f"one_hot must be True for augment={augment!r} ({what}), got one_hot=False")
    labels = _as_one_hot(y, num_classes)
    if not one_hot:
        labels = np.argmax(labels, axis=1).astype(np.int32)
    batch_size, seed, steps = int(batch_size), int(seed), n // int(batch_size)
    augmenter = ImageAugmenter(spec, num_classes=num_classes) if fn is None else None
    images_t = tf.constant(x)
    labels_t = tf.constant(labels)

    def plan(epoch):
        """(order (steps, B), keys (steps, 2)) of one epoch, from augment.presets (NumPy)."""
        epoch = int(epoch)
        keys = np.stack([step_key(seed, epoch * steps + i) for i in range(steps)])
        return epoch_order(n, batch_size, seed, epoch), keys

    def epoch_batches(epoch):
        order, keys = tf.numpy_function(plan, [epoch], (tf.int32, tf.int32), stateful=False)
        order = tf.ensure_shape(order, (steps, batch_size))
        keys = tf.ensure_shape(keys, (steps, 2))
        epochs_t = tf.fill([steps], tf.cast(epoch, tf.int32))
        return tf.data.Dataset.from_tensor_slices((order, keys, epochs_t))

    def load(idx, key, epoch):
        images = tf.cast(tf.gather(images_t, idx), tf.float32)
        batch_labels = tf.gather(labels_t, idx)
        if fn is not None:
            images, batch_labels = fn(images, batch_labels, key)
        else:
            images, batch_labels = augmenter(images, batch_labels, seed=key, ids=idx, epoch=epoch)
        images = tf.ensure_shape(images, (batch_size,) + tuple(x.shape[1:]))
        batch_labels = tf.ensure_shape(batch_labels, (batch_size, num_classes) if one_hot else (batch_size,))
        return images, batch_labels

    ds = tf.data.Dataset.range(start_epoch, epochs).flat_map(epoch_batches)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE), steps


def make_eval_dataset(x, y, batch_size=1000, num_classes=10, one_hot=True):
    """Un-augmented batches (float32 images in 0..255; one-hot float32 labels, or int32 labels with
    ``one_hot=False``), in order, last batch kept."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not isinstance(one_hot, bool):
        raise TypeError(f"one_hot must be True or False, got {one_hot!r}")
    x = _check_finite_images(x)
    labels = _as_one_hot(y, num_classes)
    if not one_hot:
        labels = np.argmax(labels, axis=1).astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices((np.asarray(x), labels)).batch(batch_size)
    return ds.map(lambda a, b: (tf.cast(a, tf.float32), b)).prefetch(tf.data.AUTOTUNE)
