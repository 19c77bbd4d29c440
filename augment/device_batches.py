"""The on-device placement of the image augmentation: uint8 batches from the host, augmented inside the model.

:class:`TrainBatches` yields the raw training batches in :func:`augment.presets.epoch_order`, each with the
images' indices and the global step; :class:`AugmentOnDevice` is the model's first layer and augments them on
the accelerator with :class:`augment.presets.ImageAugmenter` keyed by ``step_key(seed, step)``, ids and
``epoch = step // steps_per_epoch`` — the same call the ``tf.data`` placement
(:func:`augment.image_pipeline.make_train_dataset`) makes, so both feed the network the same images::

    batches = TrainBatches(x_train, y_train, batch_size=1024, seed=seed, start_epoch=start)
    inputs = {"images": keras.Input((32, 32, 3), dtype="uint8", name="images"),
              "ids": keras.Input((), dtype="int32", name="ids"), "step": keras.Input((), dtype="int32", name="step")}
    augment = AugmentOnDevice("airbench", seed=seed, steps_per_epoch=batches.steps_per_epoch)
    train_model = keras.Model(inputs, network(augment(inputs)))
    train_model.fit(batches, epochs=epochs, initial_epoch=start, shuffle=False,
                    callbacks=[batches.epoch_callback()])

Only 4 bytes of ids and steps per image travel with the uint8 pixels; nothing random lives on the host.
No TensorFlow here: runs under JAX without TensorFlow installed.
"""
from __future__ import annotations

import keras
import numpy as np

from augment.checks import check_int
from augment.checks import check_positive_int
from augment.presets import ImageAugmenter, epoch_order, resolve_spec, step_key

__all__ = ["TrainBatches", "AugmentOnDevice"]


class TrainBatches(keras.utils.PyDataset):
    """Training batches ``({"images": uint8 (B, H, W, C), "ids": int32 (B,), "step": int32 (B,)}, int32 (B,))``.

    Batch ``i`` of epoch ``e`` holds the examples ``epoch_order(N, B, seed, e)[i]`` and the global step
    ``t = e · steps_per_epoch + i`` (repeated B times, so it travels as a per-example input). The epoch starts at
    ``start_epoch`` and is advanced in ``on_epoch_end``; a batch is a pure function of (epoch, i), and the
    dataset runs in the calling thread (no workers, no multiprocessing), so the stream is deterministic and a
    run resumed at ``start_epoch`` sees exactly the batches of an uninterrupted one.

    Keras calls ``on_epoch_end`` once more than there are epochs (``fit`` resets its iterator before the first
    epoch) and may read batches before an epoch begins (to infer shapes or build the model); so the epoch only
    advances at the end of an epoch whose every batch was read, in order, after ``on_epoch_begin``. Reading
    out of order within an epoch (``fit(shuffle=True)``) raises ``ValueError``: pass ``shuffle=False``. One
    case cannot be told apart from a real epoch: with ``steps_per_epoch == 1`` under JAX, the first ``fit`` of a
    freshly compiled model reads batch 0 to build it. :meth:`epoch_callback` (a Keras callback that sets the
    epoch to ``fit``'s own epoch index at each epoch's start) is exact in every case; use it with ``fit``.

    Args:
        x: uint8 images (N, H, W, C).
        y: integer labels (N,).
        batch_size: B in [1, N]; ``steps_per_epoch = N // B`` (the last incomplete batch is dropped).
        seed: the run's seed in [0, 2^31).
        start_epoch: first epoch >= 0.
        num_classes: if given, labels must lie in [0, num_classes).
    """

    def __init__(self, x, y, batch_size, seed=0, start_epoch=0, num_classes=None):
        super().__init__(workers=1, use_multiprocessing=False, max_queue_size=10)
        x = np.asarray(x)
        if x.dtype != np.uint8 or x.ndim != 4:
            raise TypeError(f"x must be uint8 images (N, H, W, C), got dtype {x.dtype} and shape {x.shape}")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(x) or (y.size and y.dtype.kind not in "iu"):
            raise ValueError(f"y must be integer labels of shape ({len(x)},), got dtype {y.dtype} and shape {y.shape}")
        if num_classes is not None:
            num_classes = check_int("num_classes", num_classes, 2)
            if y.size and (y.min() < 0 or y.max() >= num_classes):
                bad = y[(y < 0) | (y >= num_classes)][0]
                raise ValueError(f"label {bad} is outside [0, {num_classes}) (num_classes={num_classes})")
        self.batch_size = check_int("batch_size", batch_size, 1, max(len(x), 1))
        self.seed = check_int("seed", seed, 0, 2 ** 31 - 1)
        self.epoch = check_int("start_epoch", start_epoch, 0)
        self.x, self.y = x, y.astype(np.int32)
        self.steps_per_epoch = len(x) // self.batch_size
        self._order_of = (None, None)  # (epoch, its epoch_order), the one cached epoch
        self._reading = None  # indices read since on_epoch_begin; None outside an epoch

    def __len__(self):
        return self.steps_per_epoch

    def order(self, epoch):
        """``epoch_order(N, B, seed, epoch)`` (cached for the last epoch asked)."""
        if self._order_of[0] != epoch:
            self._order_of = (epoch, epoch_order(len(self.x), self.batch_size, self.seed, epoch))
        return self._order_of[1]

    def batch(self, epoch, i):
        """Batch ``i`` of epoch ``epoch`` (a pure function of both)."""
        i = check_int("i", i, 0, self.steps_per_epoch - 1)
        ids = self.order(epoch)[i]
        step = np.full(self.batch_size, epoch * self.steps_per_epoch + i, dtype=np.int32)
        return {"images": self.x[ids], "ids": ids, "step": step}, self.y[ids]

    def __getitem__(self, i):
        if not 0 <= i < self.steps_per_epoch:
            raise IndexError(f"batch index must be in [0, {self.steps_per_epoch}), got {i}")
        if self._reading is not None:
            if i != len(self._reading):
                raise ValueError(
                    f"TrainBatches must be read in order within an epoch (batch {len(self._reading)} next, got "
                    f"{i}); call fit(..., shuffle=False): the batches are already shuffled by epoch_order")
            self._reading.append(i)
        return self.batch(self.epoch, i)

    def on_epoch_begin(self):
        self._reading = []

    def on_epoch_end(self):
        if self._reading is not None and len(self._reading) == self.steps_per_epoch:
            self.epoch += 1
        self._reading = None

    def epoch_callback(self):
        """A Keras callback that sets ``self.epoch`` to ``fit``'s epoch index at the start of every epoch."""
        batches = self

        class _SetEpoch(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                batches.epoch = int(epoch)

        return _SetEpoch()


@keras.saving.register_keras_serializable(package="recipes")
class AugmentOnDevice(keras.layers.Layer):
    """Training-time augmentation as a model's first layer:
    ``x̃ = ImageAugmenter(spec)(float(x), seed=step_key(seed, t), ids=ids, epoch=⌊t / steps_per_epoch⌋)``.

    Takes ``{"images": (B, H, W, C), "ids": (B,), "step": (B,)}`` (what :class:`TrainBatches` yields; ``t`` is
    ``step[0]``) and returns float32 images in 0..255; with ``training=False`` (or given the images alone) it
    returns the images as float32, unchanged. Specs that mix labels are refused: the labels do not pass
    through the model (use :func:`augment.image_pipeline.make_train_dataset`).

    Mixed precision: the layer's dtype is ``"float32"`` unless ``dtype=`` says otherwise, also under a global
    ``mixed_float16`` / ``mixed_bfloat16`` policy. The augmentation is pixel arithmetic on 0..255 values
    (bilinear resampling, blends), which float16 (11 significant bits) and bfloat16 (8 bits) would round, and
    it is a negligible share of a step's work; so it computes, and returns, float32 in training and at
    inference, and the network's first layer casts to the policy's compute dtype as it does for any float32
    input. With an explicit ``dtype=`` the images come back in that policy's compute dtype (computed in
    float32 all the same).

    Args:
        spec: an :class:`augment.presets.AugmentSpec`, a preset name or a dict of its fields.
        seed: the run's seed in [0, 2^31) (the same as :class:`TrainBatches`').
        steps_per_epoch: >= 1, to turn the global step into the epoch.
    """

    def __init__(self, spec="airbench", seed=0, steps_per_epoch=1, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.spec = resolve_spec(spec)
        if self.spec.mixes_labels:
            raise ValueError(
                f"spec must not mix labels on the device (the labels do not pass through the model), got "
                f"mixing={self.spec.mixing!r}; use augment.image_pipeline.make_train_dataset for it")
        self.seed = check_int("seed", seed, 0, 2 ** 31 - 1)
        self.steps_per_epoch = check_positive_int("steps_per_epoch", steps_per_epoch)
        self.augmenter = ImageAugmenter(self.spec)

    def call(self, inputs, training=None):
        images = inputs["images"] if isinstance(inputs, dict) else inputs
        images = keras.ops.cast(images, "float32")
        if not training:
            return keras.ops.cast(images, self.compute_dtype)
        if not isinstance(inputs, dict) or not {"ids", "step"} <= set(inputs):
            raise ValueError("AugmentOnDevice needs inputs {'images', 'ids', 'step'} (TrainBatches' batches) in "
                             f"training, got {sorted(inputs) if isinstance(inputs, dict) else 'a tensor'}")
        step = keras.ops.cast(keras.ops.reshape(inputs["step"], (-1,))[0], "int32")
        epoch = keras.ops.floor_divide(step, self.steps_per_epoch)
        ids = keras.ops.cast(inputs["ids"], "int32")
        out = self.augmenter(images, seed=step_key(self.seed, step), ids=ids, epoch=epoch)[0]
        return keras.ops.cast(out, self.compute_dtype)

    def compute_output_spec(self, inputs, training=None):
        images = inputs["images"] if isinstance(inputs, dict) else inputs
        return keras.KerasTensor(images.shape, dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "spec": self.spec.to_dict(), "seed": self.seed,
                "steps_per_epoch": self.steps_per_epoch}
