"""albumentations ``Compose`` pipelines fed into ``tf.data`` through ``tf.numpy_function``.

The CPU route of the lecture's stochastic transforms: albumentations (OpenCV underneath) draws
new parameters for every image it is called on, so randomness is per image whichever way it is
fed. Two ways into ``tf.data``:

* per batch (recommended): ``ds.batch(b).map(numpy_map(compose, per="batch"))`` — one Python
  call per batch, a loop over its images inside NumPy;
* per image: ``ds.map(numpy_map(compose, per="image")).batch(b)`` — one ``tf.numpy_function``
  call per image; the Python / GIL overhead per call makes it several times slower
  (measured in ``scripts/bench_augment.py``).

``tf.numpy_function`` loses static shapes; :func:`numpy_map` restores them (batch dimension
unknown, image dimensions as given) so ``model.fit`` and later ops see ``(None, H, W, C)``.

Reproducibility: ``Compose(seed=s)`` fixes the sequence of draws; the stream is only
reproducible when the map runs sequentially (no ``num_parallel_calls``), since parallel calls
consume it in nondeterministic order. The vectorized route (:mod:`augment.image_ops`) has no
such restriction.
"""
import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from augment.checks import check_choice, check_int, check_positive_int, check_seed  # noqa: E402

PRESETS = ("none", "standard", "cutout")


def build_compose(preset="standard", size=32, padding=4, cutout_size=8, seed=None):
    """An albumentations ``Compose`` for a named preset.

    * "none": identity;
    * "standard": zero-pad by ``padding``, random ``size × size`` crop (offsets uniform in
      ``{0..2·padding}``), horizontal flip with p = 0.5;
    * "cutout": "standard", then one ``cutout_size`` square set to 0 (CoarseDropout, p = 1).
    """
    check_choice("preset", preset, PRESETS)
    size = check_positive_int("size", size)
    padding = check_int("padding", padding, 0)
    cutout_size = check_int("cutout_size", cutout_size, 1, size)
    seed = check_seed("seed", seed)
    transforms = []
    if preset in ("standard", "cutout"):
        transforms += [
            A.PadIfNeeded(size + 2 * padding, size + 2 * padding, border_mode=cv2.BORDER_CONSTANT, fill=0),
            A.RandomCrop(size, size),
            A.HorizontalFlip(p=0.5),
        ]
    if preset == "cutout":
        transforms.append(
            A.CoarseDropout(
                num_holes_range=(1, 1),
                hole_height_range=(cutout_size, cutout_size),
                hole_width_range=(cutout_size, cutout_size),
                fill=0,
                p=1.0,
            )
        )
    return A.Compose(transforms, seed=seed)


def augment_batch(compose, images):
    """Apply ``compose`` to each image of a NumPy batch ``(N, H, W, C)``; same dtype and shape."""
    images = np.asarray(images)
    out = np.empty_like(images)
    for i in range(images.shape[0]):
        out[i] = compose(image=images[i])["image"]
    return out


def numpy_map(compose, per="batch"):
    """A ``tf.data`` map function ``(images, labels) -> (augmented, labels)`` through
    ``tf.numpy_function``, with the static image shape restored afterwards.

    Args:
        compose: an albumentations ``Compose`` (or any ``f(image=...) -> {"image": ...}``).
        per: "batch" (the element is a batch ``(N, H, W, C)``) or "image" (``(H, W, C)``).
    """
    import tensorflow as tf

    check_choice("per", per, ("batch", "image"))

    def _one(image):
        return compose(image=image)["image"]

    fn = (lambda x: augment_batch(compose, x)) if per == "batch" else _one

    def _map(images, labels):
        shape = images.shape
        out = tf.numpy_function(fn, [images], images.dtype, stateful=True)
        out.set_shape(shape)
        return out, labels

    return _map
