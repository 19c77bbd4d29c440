"""Batched on-device CIFAR augmentation written with ``keras.ops`` (runs under TensorFlow and JAX).

The images stay on the accelerator as one tensor; each training batch is gathered and augmented there.
Only the random *parameters* (one flip bit, two translation offsets and a cutout centre per image, a few bytes
per image) are drawn on the host with NumPy from a seeded generator, so runs are reproducible on every backend
and nothing random has to live inside a compiled step.

- ``flip_lr(x, flip)``: x̃ = x[:, :, ::-1] where flip = 1.
- Alternating flip (Jordan 2024): each image gets one random bit b_i at the start; in epoch e it is flipped
  iff b_i XOR (e mod 2). Odd epochs therefore show exactly the mirror images the even epochs did not, so every
  image is seen both ways in every pair of epochs (``alternating_flip_mask``).
- ``translate(x, dy, dx, pad)``: reflect-pad by ``pad`` pixels and crop a 32×32 window at offset
  (pad + dy, pad + dx), dy, dx ∈ {−pad, …, pad}.
- ``cutout(x, cy, cx, size)``: zero a size×size square centred at (cy, cx) (DeVries and Taylor 2017).
"""
from __future__ import annotations

import dataclasses

import numpy as np
from keras import ops


def flip_lr(x, flip):
    """Mirror the images ``x`` (B, H, W, C) left–right where ``flip`` (B,) is 1."""
    f = ops.reshape(ops.cast(flip, x.dtype), (-1, 1, 1, 1))
    return f * ops.flip(x, axis=2) + (1 - f) * x


def _select(stack, onehot):
    """stack (K, B, ...) and one-hot (B, K) → (B, ...) = Σ_k onehot[:, k] · stack[k] (exact for 0/1 weights)."""
    w = ops.transpose(ops.cast(onehot, stack.dtype))  # (K, B)
    w = ops.reshape(w, ops.shape(w) + (1,) * (len(stack.shape) - 2))
    return ops.sum(w * stack, axis=0)


def translate(x, dy, dx, pad=2):
    """Shift each image by (dy_i, dx_i) ∈ [−pad, pad]² with reflect padding: out[i] = pad(x)[i, pad+dy:…, pad+dx:…]."""
    if pad == 0:
        return x
    b, h, w, c = x.shape
    xp = ops.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    k = 2 * pad + 1
    rows = ops.stack([xp[:, i:i + h, :, :] for i in range(k)], axis=0)  # (K, B, H, W+2p, C)
    xr = _select(rows, ops.one_hot(ops.cast(dy, "int32") + pad, k))
    cols = ops.stack([xr[:, :, j:j + w, :] for j in range(k)], axis=0)
    return _select(cols, ops.one_hot(ops.cast(dx, "int32") + pad, k))


def cutout(x, cy, cx, size):
    """Zero the size×size square with top-left corner (cy − size//2, cx − size//2) of each image (clipped)."""
    if size == 0:
        return x
    h, w = x.shape[1], x.shape[2]
    top = ops.reshape(ops.cast(cy, "int32") - size // 2, (-1, 1))
    left = ops.reshape(ops.cast(cx, "int32") - size // 2, (-1, 1))
    r = ops.reshape(ops.arange(h, dtype="int32"), (1, -1))
    col = ops.reshape(ops.arange(w, dtype="int32"), (1, -1))
    in_r = ops.logical_and(r >= top, r < top + size)  # (B, H)
    in_c = ops.logical_and(col >= left, col < left + size)  # (B, W)
    hole = ops.logical_and(ops.expand_dims(in_r, 2), ops.expand_dims(in_c, 1))  # (B, H, W)
    return x * ops.cast(ops.logical_not(ops.expand_dims(hole, -1)), x.dtype)


def alternating_flip_mask(base_bits, epoch):
    """Flip bits of epoch e: b XOR (e mod 2) (NumPy; ``base_bits`` drawn once per run)."""
    return np.bitwise_xor(np.asarray(base_bits, dtype=np.uint8), np.uint8(epoch % 2))


@dataclasses.dataclass
class AugmentConfig:
    """Which augmentations to apply: ``flip`` in {"none", "random", "alternating"}, ``translate`` pad in
    pixels (0 = off), ``cutout`` square side (0 = off)."""

    flip: str = "alternating"
    translate: int = 2
    cutout: int = 0

    def __post_init__(self):
        if self.flip not in ("none", "random", "alternating"):
            raise ValueError(f"flip must be one of none, random, alternating; got {self.flip!r}")
        if not isinstance(self.translate, int) or not 0 <= self.translate <= 8:
            raise ValueError(f"translate must be an integer in [0, 8], got {self.translate!r}")
        if not isinstance(self.cutout, int) or not 0 <= self.cutout <= 32:
            raise ValueError(f"cutout must be an integer in [0, 32], got {self.cutout!r}")


class BatchAugmenter:
    """Draws per-epoch augmentation parameters on the host (seeded) and applies them on the device."""

    def __init__(self, config: AugmentConfig, num_images: int, seed: int = 0, image_size=(32, 32)):
        if not isinstance(num_images, int) or num_images < 1:
            raise ValueError(f"num_images must be an integer >= 1, got {num_images!r}")
        self.config = config
        self.num_images = num_images
        self.image_size = image_size
        self.rng = np.random.default_rng(seed)
        self.base_flip = self.rng.integers(0, 2, num_images, dtype=np.uint8)

    def epoch_params(self, epoch):
        """(flip, dy, dx, cy, cx) for every image of the training set in epoch ``epoch`` (NumPy int arrays)."""
        n, cfg = self.num_images, self.config
        if cfg.flip == "alternating":
            flip = alternating_flip_mask(self.base_flip, epoch)
        elif cfg.flip == "random":
            flip = self.rng.integers(0, 2, n, dtype=np.uint8)
        else:
            flip = np.zeros(n, np.uint8)
        p = cfg.translate
        dy = self.rng.integers(-p, p + 1, n).astype(np.int8)
        dx = self.rng.integers(-p, p + 1, n).astype(np.int8)
        cy = self.rng.integers(0, self.image_size[0], n).astype(np.int8)
        cx = self.rng.integers(0, self.image_size[1], n).astype(np.int8)
        return np.stack([flip.astype(np.int8), dy, dx, cy, cx], axis=1)  # (N, 5)

    def apply(self, x, params):
        """Augment the float batch ``x`` (B, H, W, C) with its rows ``params`` (B, 5) of ``epoch_params``."""
        params = ops.cast(params, "int32")
        cfg = self.config
        if cfg.flip != "none":
            x = flip_lr(x, params[:, 0])
        if cfg.translate:
            x = translate(x, params[:, 1], params[:, 2], cfg.translate)
        if cfg.cutout:
            x = cutout(x, params[:, 3], params[:, 4], cfg.cutout)
        return x
