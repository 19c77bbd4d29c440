"""augment.presets: the specs and presets, the one entry point ImageAugmenter (its exact composition for known
keys), the data order epoch_order and the step keys. No tf.data here: runs under both backends
(``KERAS_BACKEND=jax python -m pytest -q tests/augment/test_presets.py``)."""
import dataclasses

import keras
import numpy as np
import pytest

from augment import image_ops as io
from augment import presets as pr
from tests.augment.test_image_ops import _hash31_reference


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture
def images():
    return np.random.RandomState(0).uniform(0, 255, size=(32, 8, 8, 3)).astype("float32")


# ------------------------------------------------------------------------------ specs


def test_presets_are_the_documented_pipelines():
    std = dict(flip="random", translate=4, translate_fill="constant")
    assert pr.PRESETS == {
        "none": pr.AugmentSpec("none", 0, "constant", 0, None, None),
        "standard": pr.AugmentSpec(**std),
        "cutout": pr.AugmentSpec(**std, cutout=16),
        "randaugment": pr.AugmentSpec(**std, policy="randaugment"),
        "mixup": pr.AugmentSpec(**std, mixing="mixup"),
        "cutmix": pr.AugmentSpec(**std, mixing="cutmix"),
        "airbench": pr.AugmentSpec(flip="alternating", translate=2, translate_fill="reflect"),
    }
    assert [n for n, s in pr.PRESETS.items() if s.mixes_labels] == ["mixup", "cutmix"]
    assert [n for n, s in pr.PRESETS.items() if s.needs_context] == ["airbench"]


def test_augment_spec_overrides_the_preset_fields():
    """The fast command's --flip/--translate/--cutout name the same pipelines as --augment."""
    assert pr.augment_spec() == pr.PRESETS["standard"]
    assert pr.augment_spec("airbench", cutout=12) == pr.AugmentSpec("alternating", 2, "reflect", 12)
    assert pr.augment_spec("airbench", flip="random", translate=0) == pr.AugmentSpec("random", 0, "reflect", 0)
    assert pr.augment_spec("cutout", flip="none", cutout=0) == pr.AugmentSpec("none", 4, "constant", 0)
    with pytest.raises(ValueError, match="preset must be one of none, standard, .*, got 'fast'"):
        pr.augment_spec("fast")
    with pytest.raises(ValueError, match=r"translate must be an integer in \[0, inf\), got -1"):
        pr.augment_spec("airbench", translate=-1)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(flip="sometimes"), ValueError, "flip must be one of none, random, alternating, got 'sometimes'"),
    (dict(translate=-2), ValueError, r"translate must be an integer in \[0, inf\), got -2"),
    (dict(translate=2.0), TypeError, "translate must be an integer"),
    (dict(translate_fill="wrap"), ValueError, "translate_fill must be one of constant, reflect"),
    (dict(cutout=-1), ValueError, "cutout"),
    (dict(policy="autoaugment"), ValueError, "policy must be one of None, randaugment"),
    (dict(mixing="mosaic"), ValueError, "mixing must be one of None, mixup, cutmix"),
])
def test_spec_rejects_bad_fields_by_name(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        pr.AugmentSpec(**kwargs)


def test_spec_is_frozen_and_resolves_from_names_and_dicts():
    spec = pr.PRESETS["airbench"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.flip = "none"
    assert pr.resolve_spec("airbench") is spec and pr.resolve_spec(spec.to_dict()) == spec
    with pytest.raises(ValueError, match=r"spec has unknown fields \['rotate'\]"):
        pr.resolve_spec({"rotate": 3})
    with pytest.raises(TypeError, match="spec must be an AugmentSpec"):
        pr.resolve_spec(3)


# ------------------------------------------------------------------------------ order and keys


def test_epoch_order_is_the_hash_sort_and_a_fresh_permutation_per_epoch():
    order = pr.epoch_order(103, 10, seed=4, epoch=2)
    assert order.shape == (10, 10) and order.dtype == np.int32
    ref = sorted(range(103), key=lambda i: _hash31_reference(io.TAG_ORDER, (4, 2, i)))
    np.testing.assert_array_equal(order.ravel(), ref[:100])  # exact: the formula of the docstring
    assert len(set(order.ravel().tolist())) == 100  # no repeats; the last 3 examples dropped this epoch
    np.testing.assert_array_equal(order, pr.epoch_order(103, 10, 4, 2))
    assert not np.array_equal(order, pr.epoch_order(103, 10, 4, 3))
    assert not np.array_equal(order, pr.epoch_order(103, 10, 5, 2))


def test_epoch_order_is_uniform_over_positions():
    """4,000 epochs of 8 examples: the example in the first position is each of the 8 with probability 1/8,
    count ~ Binomial(4000, 1/8): mean 500, sd 20.9; the 5-sd band is +-105. Also every example is first in
    some epoch and consecutive epochs agree on it at the chance rate 1/8 (+-0.026, 5 sd)."""
    first = np.array([pr.epoch_order(8, 8, 11, e)[0, 0] for e in range(4000)])
    counts = np.bincount(first, minlength=8)
    assert np.all(np.abs(counts - 500) < 105), counts
    assert abs(np.mean(first[1:] == first[:-1]) - 0.125) < 0.026


def test_step_key_numpy_and_tensor_agree():
    np.testing.assert_array_equal(pr.step_key(7, 123), [7, 123])
    assert pr.step_key(7, 123).dtype == np.int32
    tensor = pr.step_key(7, keras.ops.convert_to_tensor(np.array([123], "int32")))
    np.testing.assert_array_equal(_np(tensor), [7, 123])
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2147483647\], got -1"):
        pr.step_key(-1, 0)
    with pytest.raises(ValueError, match=r"step must be an integer in \[0, 2147483647\]"):
        pr.step_key(0, -3)


@pytest.mark.parametrize("kwargs,match", [
    (dict(num_examples=0, batch_size=1, seed=0, epoch=0), "num_examples"),
    (dict(num_examples=10, batch_size=11, seed=0, epoch=0), r"batch_size must be an integer in \[1, 10\]"),
    (dict(num_examples=10, batch_size=2, seed=2 ** 31, epoch=0), "seed"),
    (dict(num_examples=10, batch_size=2, seed=0, epoch=-1), "epoch"),
])
def test_epoch_order_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pr.epoch_order(**kwargs)


# ------------------------------------------------------------------------------ ImageAugmenter


def test_standard_is_pad_crop_then_flip_with_the_derived_stage_keys(images):
    """The exact composition: stage k draws with key s^(k) = _StatelessSeeds(key).next() (k-th), so the output
    equals PadCrop.apply then RandomFlip.apply with the parameters drawn from those keys."""
    key = pr.step_key(3, 17)
    out, labels = pr.ImageAugmenter("standard")(images, None, seed=key)
    assert labels is None
    pad, flip = io.PadCrop(padding=4), io.RandomFlip()
    stages = io._StatelessSeeds(key, pad.backend)
    p_pad = pad.sample(images.shape, io._StatelessSeeds(stages.next(), pad.backend))
    p_flip = flip.sample(images.shape, io._StatelessSeeds(stages.next(), flip.backend))
    ref = flip.apply(pad.apply(keras.ops.convert_to_tensor(images), p_pad), p_flip)
    np.testing.assert_array_equal(_np(out), _np(ref))
    np.testing.assert_array_equal(_np(pr.ImageAugmenter("standard")(images, seed=key)[0]), _np(out))  # pure
    assert not np.array_equal(_np(pr.ImageAugmenter("standard")(images, seed=pr.step_key(3, 18))[0]), _np(out))
    offsets = set(zip(_np(p_pad["offset_y"]).tolist(), _np(p_pad["offset_x"]).tolist()))
    assert len(offsets) > 8  # 32 images: per-image draws, not one per batch


def test_airbench_flips_the_other_way_next_epoch_and_translates_with_reflection(images):
    """Same key, epochs e and e + 1: the translation draws are equal, the flips complementary, so each output
    is exactly the mirror image of the other; and every output is a window of the reflect-padded image."""
    aug = pr.ImageAugmenter("airbench")
    ids = np.arange(500, 532)
    key = pr.step_key(1, 40)
    even = _np(aug(images, seed=key, ids=ids, epoch=4)[0])
    odd = _np(aug(images, seed=key, ids=ids, epoch=5)[0])
    np.testing.assert_array_equal(odd, even[:, :, ::-1])
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    for i in range(len(images)):
        windows = [padded[i, a:a + 8, b:b + 8] for a in range(5) for b in range(5)]
        assert any(np.array_equal(even[i], w) or np.array_equal(even[i], w[:, ::-1]) for w in windows)
    with pytest.raises(ValueError, match="ids and epoch must be given for flip='alternating'"):
        aug(images, seed=key)


def test_cutout_randaugment_and_mixing_specs(images):
    key = pr.step_key(0, 5)
    flat = np.full((16, 32, 32, 3), 200.0, "float32")
    cut = _np(pr.ImageAugmenter(pr.AugmentSpec(cutout=16))(flat, seed=key)[0])
    erased = (cut == 0).all(axis=-1).sum(axis=(1, 2))  # a 16x16 square keeps >= 8x8 of it inside the image
    assert erased.min() >= 64 and erased.max() <= 256 and len(set(erased.tolist())) > 1
    ra = _np(pr.ImageAugmenter(pr.AugmentSpec(policy="randaugment"))(images, seed=key)[0])
    assert ra.shape == images.shape and ra.min() >= 0 and ra.max() <= 255 and not np.array_equal(ra, images)
    labels = np.eye(10, dtype="float32")[np.arange(32) % 10]
    for mixing in ("mixup", "cutmix"):
        aug = pr.ImageAugmenter(pr.AugmentSpec(mixing=mixing))
        assert aug.mixes_labels
        out, mixed = aug(images, labels, seed=key)
        np.testing.assert_allclose(_np(mixed).sum(axis=1), 1.0, atol=1e-5)
        assert (_np(mixed).max(axis=1) < 0.999).sum() > 8
        with pytest.raises(ValueError, match=f"labels must be given for mixing='{mixing}'"):
            aug(images, seed=key)
    with pytest.raises(ValueError, match="seed must be the"):
        pr.ImageAugmenter("standard")(images)
    none, same = pr.ImageAugmenter("none")(images, labels, seed=key)
    assert none is images and same is labels
