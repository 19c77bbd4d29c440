"""tf.data pipelines for image arrays, with per-image, seeded, resumable augmentation in batches.

The lecture's stochastic transform: each training image x is replaced, every time it is seen, by T(x) with T
drawn at random, the label y kept (or mixed, for MixUp/CutMix). Here T is drawn independently for every
image, from a stateless generator keyed by (seed, epoch, step): the same seed gives the same stream, and a
run resumed at epoch e sees exactly the batches an uninterrupted run would have seen from epoch e on.

Augmentations are registered in ``AUGMENTATIONS`` as functions
``f(images, labels, seed) -> (images, labels)`` on a whole batch: ``images`` float32 (B, H, W, C) in the
0..255 scale, ``labels`` float32 one-hot (B, K), ``seed`` an int32 tensor of shape (2,) for
``tf.random.stateless_*``. ``register_augmentation`` adds one.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

AUGMENTATIONS = {}


def register_augmentation(name):
    """Decorator: register ``f(images, labels, seed) -> (images, labels)`` under ``name``."""

    def wrap(fn):
        AUGMENTATIONS[name] = fn
        return fn

    return wrap


def _split_seed(seed, n):
    """n independent (2,) seeds derived from one (2,) seed."""
    return tf.random.experimental.stateless_split(seed, num=n)


def random_pad_crop(images, seed, padding=4):
    """Zero-pad each image by ``padding`` pixels and crop back to H×W at a uniform offset in [0, 2·padding]².

    The offset (o_y, o_x) is drawn independently per image; output[b, i, j] = padded[b, i + o_y[b], j + o_x[b]].
    """
    shape = tf.shape(images)
    b, h, w = shape[0], shape[1], shape[2]
    padded = tf.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
    offsets = tf.random.stateless_uniform([b, 2], seed, minval=0, maxval=2 * padding + 1, dtype=tf.int32)
    rows = offsets[:, :1] + tf.range(h)[None, :]  # (B, H)
    cols = offsets[:, 1:] + tf.range(w)[None, :]  # (B, W)
    out = tf.gather(padded, rows, axis=1, batch_dims=1)  # (B, H, W + 2p, C)
    return tf.gather(out, cols, axis=2, batch_dims=1)  # (B, H, W, C)


def random_flip_left_right(images, seed, probability=0.5):
    """Mirror each image horizontally (x[:, ::-1]) with the given probability, independently per image."""
    flip = tf.random.stateless_uniform([tf.shape(images)[0]], seed) < probability
    return tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)


@register_augmentation("none")
def no_augmentation(images, labels, seed):
    """Identity: T(x) = x."""
    return images, labels


@register_augmentation("standard")
def standard_augmentation(images, labels, seed):
    """The standard CIFAR augmentation (He et al. 2016): pad-4 random crop, then a random horizontal flip."""
    s_crop, s_flip = tf.unstack(_split_seed(seed, 2))
    return random_flip_left_right(random_pad_crop(images, s_crop), s_flip), labels


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
                       start_epoch=0, epochs=1):
    """Training batches for epochs ``start_epoch … epochs − 1`` (``steps_per_epoch = N // batch_size``).

    Each epoch visits a fresh permutation of the N examples (drawn from (seed, epoch)), drops the last
    incomplete batch, and augments every batch with ``AUGMENTATIONS[augment]`` keyed by
    (seed, global step). Returns ``(dataset, steps_per_epoch)``; the dataset yields
    ``(float32 images in 0..255, float32 one-hot labels)``.
    """
    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {sorted(AUGMENTATIONS)}, got {augment!r}")
    x = np.asarray(x)
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x and y differ in length: {n} vs {len(y)}")
    if not isinstance(batch_size, int) or batch_size < 1 or batch_size > n:
        raise ValueError(f"batch_size must be an integer in [1, {n}] (the number of training examples), got {batch_size!r}")
    if not 0 <= start_epoch <= epochs:
        raise ValueError(f"start_epoch must be in [0, epochs={epochs}], got {start_epoch}")
    labels = _as_one_hot(y, num_classes)
    steps = n // batch_size
    fn = AUGMENTATIONS[augment]
    images_t = tf.constant(x)
    labels_t = tf.constant(labels)

    def epoch_batches(epoch):
        keys = tf.random.stateless_uniform([n], tf.stack([tf.cast(seed, tf.int64), epoch]), dtype=tf.float32)
        order = tf.argsort(keys, stable=True)[: steps * batch_size]
        batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order, [steps, batch_size]))
        step_ids = tf.data.Dataset.range(steps)
        return tf.data.Dataset.zip((batches, step_ids)).map(lambda idx, s: (idx, epoch * steps + s))

    def load(idx, global_step):
        images = tf.cast(tf.gather(images_t, idx), tf.float32)
        batch_labels = tf.gather(labels_t, idx)
        step_seed = tf.cast(tf.stack([tf.cast(seed, tf.int64) + 7919, global_step]), tf.int32)
        images, batch_labels = fn(images, batch_labels, step_seed)
        images = tf.ensure_shape(images, (batch_size,) + tuple(x.shape[1:]))
        batch_labels = tf.ensure_shape(batch_labels, (batch_size, num_classes))
        return images, batch_labels

    ds = tf.data.Dataset.range(start_epoch, epochs).flat_map(epoch_batches)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE), steps


def make_eval_dataset(x, y, batch_size=1000, num_classes=10):
    """Un-augmented batches (float32 images in 0..255, one-hot labels), in order, last batch kept."""
    labels = _as_one_hot(y, num_classes)
    ds = tf.data.Dataset.from_tensor_slices((np.asarray(x), labels)).batch(batch_size)
    return ds.map(lambda a, b: (tf.cast(a, tf.float32), b)).prefetch(tf.data.AUTOTUNE)


# Presets built on the per-image Keras layers of augment.image_ops / augment.mixing / augment.randaugment
# (vectorized, seeded by the same (seed, step) key). Each layer is built once, outside any tf.data graph.
_LAYERS = {}


def _layer(name, build):
    if name not in _LAYERS:
        with tf.init_scope():
            _LAYERS[name] = build()
    return _LAYERS[name]


@register_augmentation("cutout")
def cutout_augmentation(images, labels, seed):
    """standard, then one 16×16 square per image set to 0 (DeVries and Taylor 2017, CIFAR-10)."""
    from augment.image_ops import Cutout

    s_std, s_cut = tf.unstack(_split_seed(seed, 2))
    images, labels = standard_augmentation(images, labels, s_std)
    return _layer("cutout", lambda: Cutout(size=16))(images, seed=s_cut), labels


@register_augmentation("randaugment")
def randaugment_augmentation(images, labels, seed):
    """standard, then RandAugment (N = 2 operations, M = 9) with the operations drawn per image."""
    from augment.randaugment import RandAugment

    s_std, s_ra = tf.unstack(_split_seed(seed, 2))
    images, labels = standard_augmentation(images, labels, s_std)
    return _layer("randaugment", lambda: RandAugment(num_ops=2, magnitude=9))(images, seed=s_ra), labels


@register_augmentation("mixup")
def mixup_augmentation(images, labels, seed):
    """standard, then MixUp with λ_i ~ Beta(1, 1) per image (Zhang et al. 2018's CIFAR setting)."""
    from augment.mixing import MixUp

    s_std, s_mix = tf.unstack(_split_seed(seed, 2))
    images, labels = standard_augmentation(images, labels, s_std)
    return _layer("mixup", lambda: MixUp(alpha=1.0))((images, labels), seed=s_mix)


@register_augmentation("cutmix")
def cutmix_augmentation(images, labels, seed):
    """standard, then CutMix with λ_i ~ Beta(1, 1) per image (Yun et al. 2019)."""
    from augment.mixing import CutMix

    s_std, s_mix = tf.unstack(_split_seed(seed, 2))
    images, labels = standard_augmentation(images, labels, s_std)
    return _layer("cutmix", lambda: CutMix(alpha=1.0))((images, labels), seed=s_mix)
