"""On-device batched augmentation against NumPy references."""
import numpy as np
import pytest
from keras import ops

from augment.gpu_augment import (
    AugmentConfig, BatchAugmenter, alternating_flip_mask, cutout, flip_lr, translate,
)


def _images(n=6, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 3)).astype("float32")


def test_alternating_flip_flips_exactly_the_complement_on_odd_epochs():
    aug = BatchAugmenter(AugmentConfig("alternating", 0, 0), 1000, seed=3)
    even = [aug.epoch_params(e)[:, 0] for e in (0, 2, 4)]
    odd = [aug.epoch_params(e)[:, 0] for e in (1, 3)]
    for m in even[1:]:
        np.testing.assert_array_equal(m, even[0])  # the same half every even epoch
    for m in odd:
        np.testing.assert_array_equal(m, 1 - even[0])  # exactly the other half every odd epoch
    assert 400 < even[0].sum() < 600  # about half (binomial(1000, 1/2): 6 sd margin)
    np.testing.assert_array_equal(alternating_flip_mask([0, 1, 1], 3), [1, 0, 0])


def test_flip_matches_numpy():
    x, f = _images(), np.array([1, 0, 1, 1, 0, 0])
    out = ops.convert_to_numpy(flip_lr(ops.convert_to_tensor(x), f))
    ref = np.where(f[:, None, None, None] == 1, x[:, :, ::-1], x)
    np.testing.assert_array_equal(out, ref)  # exact: 0/1 weights


def test_translate_matches_numpy_reflect_crop():
    x = _images()
    dy, dx = np.array([-2, -1, 0, 1, 2, 2]), np.array([2, 0, -2, 1, -1, 2])
    out = ops.convert_to_numpy(translate(ops.convert_to_tensor(x), dy, dx, pad=2))
    xp = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    ref = np.stack([xp[i, 2 + dy[i]:10 + dy[i], 2 + dx[i]:10 + dx[i]] for i in range(6)])
    np.testing.assert_array_equal(out, ref)


def test_cutout_matches_numpy():
    x = _images()
    cy, cx, size = np.array([0, 3, 7, 4, 1, 6]), np.array([0, 4, 7, 0, 6, 2]), 4
    out = ops.convert_to_numpy(cutout(ops.convert_to_tensor(x), cy, cx, size))
    ref = x.copy()
    for i in range(6):
        t, l = max(cy[i] - 2, 0), max(cx[i] - 2, 0)
        ref[i, t:cy[i] + 2, l:cx[i] + 2] = 0
    np.testing.assert_array_equal(out, ref)


def test_bad_config_raises_by_name():
    for kwargs, word in (({"flip": "sometimes"}, "flip"), ({"translate": -1}, "translate"), ({"cutout": 40}, "cutout")):
        with pytest.raises(ValueError, match=word):
            AugmentConfig(**kwargs)
    with pytest.raises(ValueError, match="num_images"):
        BatchAugmenter(AugmentConfig(), 0)
