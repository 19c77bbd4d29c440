"""The image-augmentation presets, the one entry point that applies them, and the one data order and seeding.

Both placements of the training-time augmentation go through here:

* ``tf.data`` on the host (:func:`augment.image_pipeline.make_train_dataset`), and
* on the accelerator inside the model (:class:`augment.device_batches.AugmentOnDevice`, fed by
  :class:`augment.device_batches.TrainBatches`).

Each calls :class:`ImageAugmenter` on a batch with the same three things: the key
``step_key(seed, step)`` of the global training step, the batch's image indices ``ids`` and the
``epoch``; the batch itself is the ``step``-th row of :func:`epoch_order`. So for the same seed
the two placements feed the network the same images (bit-identical under the TensorFlow backend,
whose generators both use), and a run resumed at epoch ``e`` sees exactly the batches an
uninterrupted run would have seen from ``e`` on.

An :class:`AugmentSpec` names a pipeline ``x ↦ mix(cutout(policy(flip(translate(x)))))`` (stages
that are off are skipped), each stage one layer of :mod:`augment.image_ops` /
:mod:`augment.randaugment` / :mod:`augment.mixing`:

* ``translate`` P > 0: :class:`~augment.image_ops.PadCrop` (P, ``translate_fill``): a shift by
  ``U{-P..P}²`` pixels, zero ("constant") or mirror ("reflect", NumPy/PyTorch reflect) filled;
* ``flip``: "random" — :class:`~augment.image_ops.RandomFlip` (p = 1/2 per image); "alternating"
  — :class:`~augment.image_ops.AlternatingFlip` (every image once each way in every two epochs);
* ``policy`` "randaugment": :class:`~augment.randaugment.RandAugment` (N = 2, M = 9), per image;
* ``cutout`` s > 0: :class:`~augment.image_ops.Cutout` (one s×s square per image);
* ``mixing``: :class:`~augment.mixing.MixUp` / :class:`~augment.mixing.CutMix` with
  ``λ ~ Beta(1, 1)`` per image; labels become soft (one-hot (B, K) in, mixed (B, K) out).

No TensorFlow here: the module runs under JAX without TensorFlow installed. Keras and the layers of
:mod:`augment.image_ops` are imported where they are used, so that the names of the presets (a command's
``--help``) come without loading Keras.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from augment.checks import check_choice
from augment.checks import check_int
from augment.checks import check_positive_int

__all__ = ["AugmentSpec", "PRESETS", "augment_spec", "resolve_spec", "ImageAugmenter", "epoch_order", "step_key"]

FLIPS = ("none", "random", "alternating")
TRANSLATE_FILLS = ("constant", "reflect")
POLICIES = (None, "randaugment")
MIXINGS = (None, "mixup", "cutmix")
#: RandAugment's (N, M) and the mixing layers' α in the presets.
RANDAUGMENT_OPS, RANDAUGMENT_MAGNITUDE, MIXING_ALPHA = 2, 9, 1.0


@dataclasses.dataclass(frozen=True)
class AugmentSpec:
    """Which augmentations, in the order ``translate → flip → policy → cutout → mixing`` (module docstring).

    Args:
        flip: "none", "random" (each image mirrored with probability 1/2) or "alternating"
            (image i mirrored in epoch e iff b_i ⊕ (e mod 2); needs the images' ids and the epoch).
        translate: P >= 0 pixels of pad-and-crop translation (0 = off).
        translate_fill: "constant" (zeros) or "reflect" (mirror without repeating the edge pixel).
        cutout: side s >= 0 of one erased square per image (0 = off).
        policy: None or "randaugment".
        mixing: None, "mixup" or "cutmix" (the labels are mixed too).
    """

    flip: str = "none"
    translate: int = 0
    translate_fill: str = "constant"
    cutout: int = 0
    policy: str | None = None
    mixing: str | None = None

    def __post_init__(self):
        check_choice("flip", self.flip, FLIPS)
        object.__setattr__(self, "translate", check_int("translate", self.translate, 0))
        check_choice("translate_fill", self.translate_fill, TRANSLATE_FILLS)
        object.__setattr__(self, "cutout", check_int("cutout", self.cutout, 0))
        check_choice("policy", self.policy, POLICIES)
        check_choice("mixing", self.mixing, MIXINGS)

    @property
    def mixes_labels(self):
        """True when the labels are mixed too (MixUp, CutMix)."""
        return self.mixing is not None

    @property
    def needs_context(self):
        """True when the draws depend on the images' ids and the epoch (the alternating flip)."""
        return self.flip == "alternating"

    def to_dict(self):
        return dataclasses.asdict(self)


_STANDARD = dict(flip="random", translate=4, translate_fill="constant")
#: Preset name -> spec. "standard" is the CIFAR augmentation of He et al. 2016 (pad 4 with zeros, random crop,
#: random horizontal flip); "airbench" the fast recipe's (Jordan 2024: alternating flip, 2-pixel reflect translate).
PRESETS = {
    "none": AugmentSpec(),
    "standard": AugmentSpec(**_STANDARD),
    "cutout": AugmentSpec(**_STANDARD, cutout=16),
    "randaugment": AugmentSpec(**_STANDARD, policy="randaugment"),
    "mixup": AugmentSpec(**_STANDARD, mixing="mixup"),
    "cutmix": AugmentSpec(**_STANDARD, mixing="cutmix"),
    "airbench": AugmentSpec(flip="alternating", translate=2, translate_fill="reflect"),
}


def augment_spec(preset="standard", flip=None, translate=None, cutout=None):
    """``PRESETS[preset]`` with the given fields replaced (None keeps the preset's): how the fast command's
    ``--flip/--translate/--cutout`` flags and ``--augment`` name the same pipelines."""
    check_choice("preset", preset, tuple(PRESETS))
    changes = {k: v for k, v in (("flip", flip), ("translate", translate), ("cutout", cutout)) if v is not None}
    return dataclasses.replace(PRESETS[preset], **changes)


def resolve_spec(spec, name="spec"):
    """An :class:`AugmentSpec` from a spec, a preset name or a dict of its fields (a saved config)."""
    if isinstance(spec, AugmentSpec):
        return spec
    if isinstance(spec, str):
        check_choice(name, spec, tuple(PRESETS))
        return PRESETS[spec]
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - {f.name for f in dataclasses.fields(AugmentSpec)})
        if unknown:
            raise ValueError(f"{name} has unknown fields {unknown}; AugmentSpec has "
                             f"{[f.name for f in dataclasses.fields(AugmentSpec)]}")
        return AugmentSpec(**spec)
    raise TypeError(f"{name} must be an AugmentSpec, a preset name ({', '.join(PRESETS)}) or a dict of "
                    f"AugmentSpec fields, got {spec!r}")


class ImageAugmenter:
    """The one entry point of the image augmentation: ``(x̃, ỹ) = T_spec(x, y; key, ids, epoch)``.

    Builds the stages of ``spec`` once (one :class:`augment.image_ops.Sequential`, float32), and each call
    draws every image's parameters from the step key ``seed`` alone (plus ``ids`` and ``epoch`` for the
    alternating flip), so a call is a pure function of its arguments. Works eagerly, in a compiled step
    (JAX or TensorFlow) and in a ``tf.data`` map (the layers switch to TensorFlow ops there).

    Args:
        spec: an :class:`AugmentSpec` or a preset name.
        num_classes: K >= 2, for integer labels given to a mixing spec.
    """

    def __init__(self, spec, num_classes=10):
        from augment import image_ops

        self.spec = resolve_spec(spec)
        self.num_classes = check_int("num_classes", num_classes, 2)
        s = self.spec
        stages = []
        if s.translate:
            stages.append(image_ops.PadCrop(padding=s.translate, fill_mode=s.translate_fill, dtype="float32"))
        if s.flip == "random":
            stages.append(image_ops.RandomFlip(dtype="float32"))
        elif s.flip == "alternating":
            stages.append(image_ops.AlternatingFlip(dtype="float32"))
        if s.policy == "randaugment":
            from augment.randaugment import RandAugment

            stages.append(RandAugment(num_ops=RANDAUGMENT_OPS, magnitude=RANDAUGMENT_MAGNITUDE, dtype="float32"))
        if s.cutout:
            stages.append(image_ops.Cutout(size=s.cutout, dtype="float32"))
        if s.mixing is not None:
            from augment import mixing

            layer = {"mixup": mixing.MixUp, "cutmix": mixing.CutMix}[s.mixing]
            stages.append(layer(alpha=MIXING_ALPHA, num_classes=self.num_classes, dtype="float32"))
        self.layer = image_ops.Sequential(stages, dtype="float32")

    @property
    def mixes_labels(self):
        """True when the spec mixes labels (then ``labels`` are required and come back soft)."""
        return self.spec.mixes_labels

    def __call__(self, images, labels=None, seed=None, ids=None, epoch=None):
        """Augment a batch.

        Args:
            images: float32 (B, H, W, C), pixel values 0..255.
            labels: one-hot (B, K) (or int (B,)) — required when the spec mixes labels, else passed through.
            seed: the (2,) integer key of this step, :func:`step_key` (a NumPy array or a tensor).
            ids: (B,) integer indices of the images in the training set (for the alternating flip).
            epoch: int scalar (or (B,)) epoch of this step (for the alternating flip).

        Returns:
            ``(images, labels)``: float32 images in 0..255 and the labels (mixed (B, K) if the spec mixes).
        """
        if seed is None:
            raise ValueError("seed must be the (2,) key of the step, step_key(seed, step), got None")
        if self.spec.needs_context and (ids is None or epoch is None):
            raise ValueError(
                f"ids and epoch must be given for flip={self.spec.flip!r} (image i is mirrored in epoch e iff "
                f"b_i XOR (e mod 2)), got ids={'None' if ids is None else 'given'}, "
                f"epoch={'None' if epoch is None else 'given'}")
        if self.mixes_labels and labels is None:
            raise ValueError(f"labels must be given for mixing={self.spec.mixing!r} (they are mixed too), got None")
        context = {"ids": ids, "epoch": epoch} if self.spec.needs_context else None
        if not self.layer.stages:
            return images, labels
        if self.mixes_labels:
            return tuple(self.layer((images, labels), seed=seed, context=context))
        return self.layer(images, seed=seed, context=context), labels


def epoch_order(num_examples, batch_size, seed, epoch):
    """The training examples of epoch ``epoch``, batch by batch: an int32 array (steps, batch_size) with
    ``steps = num_examples // batch_size`` (the last incomplete batch is dropped).

    A fresh permutation per (seed, epoch): the examples sorted by ``hash31(TAG_ORDER, (seed, epoch, i))``
    (:func:`augment.image_ops.hash31`, a bijection in ``i``, so no ties). Pure integer arithmetic in NumPy:
    the same order on every machine and NumPy version, which is what makes a resumed run bit-identical.
    """
    n = check_positive_int("num_examples", num_examples)
    batch_size = check_int("batch_size", batch_size, 1, n)
    seed = check_int("seed", seed, 0, 2 ** 31 - 1)
    epoch = check_int("epoch", epoch, 0, 2 ** 31 - 1)
    from augment import image_ops

    keys = image_ops.hash31(image_ops.TAG_ORDER, (np.int32(seed), np.int32(epoch), np.arange(n, dtype=np.int32)), np)
    steps = n // batch_size
    order = np.argsort(keys, kind="stable")[: steps * batch_size]
    return order.astype(np.int32).reshape(steps, batch_size)


def step_key(seed, step):
    """The (2,) int32 key of global training step ``step``: ``(seed, step)``.

    The first component names the run (kept by every key derived from it, so the alternating flip's base
    bits depend on the seed only); the second the step. ``step`` is an int (returns a NumPy array) or an
    integer scalar tensor of the Keras backend (returns a tensor, for a compiled step on the device).
    """
    seed = check_int("seed", seed, 0, 2 ** 31 - 1)
    if isinstance(step, (int, np.integer)) and not isinstance(step, bool):
        step = check_int("step", step, 0, 2 ** 31 - 1)
        return np.array([seed, step], dtype=np.int32)
    import keras

    step = keras.ops.reshape(keras.ops.cast(step, "int32"), ())
    return keras.ops.stack([keras.ops.convert_to_tensor(seed, dtype="int32"), step])
