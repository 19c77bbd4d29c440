"""Test-time augmentation (TTA) for CIFAR-10 classifiers, as in airbench.

Level 0: logits f(x). Level 1 (flip): ½[f(x) + f(flip x)]. Level 2 (flip + translate):
½ m(x) + ¼ m(T₊x) + ¼ m(T₋x), where m(x) = ½[f(x) + f(flip x)] and T± shifts the image by one pixel
down-right / up-left with reflect padding.
"""
from __future__ import annotations

from keras import ops

TTA_LEVELS = (0, 1, 2)


def shift_images(x, dy, dx):
    """Reflect-pad by 1 and crop at offset (1 − dy, 1 − dx): content moves by (dy, dx) ∈ {−1, 0, 1}²."""
    h, w = x.shape[1], x.shape[2]
    xp = ops.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    return xp[:, 1 - dy:1 - dy + h, 1 - dx:1 - dx + w, :]


def tta_logits(predict, x, level=2):
    """Average of ``predict`` (a function images → logits) over the level's views, with the weights above."""
    if level not in TTA_LEVELS:
        raise ValueError(f"level must be one of {TTA_LEVELS}, got {level!r}")
    if level == 0:
        return predict(x)

    def mirror(z):
        return 0.5 * (predict(z) + predict(ops.flip(z, axis=2)))

    base = mirror(x)
    if level == 1:
        return base
    return 0.5 * base + 0.25 * mirror(shift_images(x, 1, 1)) + 0.25 * mirror(shift_images(x, -1, -1))
