"""RandAugment (Cubuk et al. 2020) with the operation drawn per image, vectorized over the batch.

``keras.layers.RandAugment`` (Keras 3.15) draws its ``num_ops`` operation indices once per
*batch* (``randint((num_ops,))``), so every image of a batch gets the same operations; the lecture
asks for randomness per image. This layer draws, for each of the ``N_ops`` steps,
an operation ``o_{i,t} ~ U{ops}`` and a sign ``±1`` per image ``i``, and applies

    x̃_i = T_{o_{i,N}, m} ∘ … ∘ T_{o_{i,1}, m} (x_i)

with the shared magnitude ``m = magnitude / 30`` (the paper's 0..30 scale; torchvision's maxima:
rotate 30°, shear 0.3, translate 0.45·size, enhance factors 1 ± 0.9, posterize 8 → 4 bits,
solarize threshold 1 → 0 of the range). Geometric operations (rotate, shear x/y, translate x/y)
become one affine matrix per image — the identity for images that drew a colour operation — and
one resampling; colour operations are computed on the whole batch and selected per image.
Equalize (a per-image histogram) is left out; the other 13 operations of the paper are here.
"""
import math

import keras

from augment.checks import check_number
from augment.checks import check_positive_int
from augment.image_ops import ImageAugmentation
from augment.image_ops import _per_image

OPERATIONS = (
    "identity",
    "auto_contrast",
    "rotate",
    "solarize",
    "color",
    "posterize",
    "contrast",
    "brightness",
    "sharpness",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
)
_GEOMETRIC = ("rotate", "shear_x", "shear_y", "translate_x", "translate_y")


@keras.saving.register_keras_serializable(package="recipes")
class RandAugment(ImageAugmentation):
    """RandAugment with per-image operations (see the module docstring for the formula).

    Args:
        num_ops: operations applied in sequence to each image, >= 1 (the paper's N).
        magnitude: shared strength in [0, 30] (the paper's M; 9 is a common CIFAR value).
        operations: subset of ``OPERATIONS`` to draw from (default: all 13).
        fill_value: value of pixels that a geometric operation brings in from outside.
    """

    def __init__(self, num_ops=2, magnitude=9, operations=None, fill_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_ops = check_positive_int("num_ops", num_ops)
        self.magnitude = check_number("magnitude", magnitude, 0.0, 30.0)
        operations = tuple(OPERATIONS if operations is None else operations)
        unknown = [op for op in operations if op not in OPERATIONS]
        if unknown or not operations:
            raise ValueError(f"operations must be a non-empty subset of {OPERATIONS}, got {operations!r}")
        self.operations = operations
        self.fill_value = check_number("fill_value", fill_value)
        if self.value_range is None:
            raise ValueError("value_range must be given (lo, hi) for RandAugment, got None")

    def sample(self, shape, seed):
        B = self.backend
        n = shape[0]
        return {
            "ops": B.random.randint((n, self.num_ops), 0, len(self.operations), seed=seed),
            "signs": B.numpy.sign(self._uniform((n, self.num_ops), -1.0, 1.0, seed)),
        }

    # -- one step: geometric part
    def _affine_rows(self, op, sign, h, w):
        B = self.backend
        m = self.magnitude / 30.0
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        one = B.numpy.ones_like(sign)
        zero = B.numpy.zeros_like(sign)
        rows = B.numpy.stack([one, zero, zero, zero, one, zero, zero, zero], axis=1)  # identity
        for name in _GEOMETRIC:
            if name not in self.operations:
                continue
            if name == "rotate":  # input = R(-θ)(u - c) + c
                theta = sign * (30.0 * m) * math.pi / 180.0
                c, s = B.numpy.cos(theta), B.numpy.sin(theta)
                r = [c, s, cx - c * cx - s * cy, -s, c, cy + s * cx - c * cy, zero, zero]
            elif name == "shear_x":  # x_in = x + k (y - c_y)
                k = sign * 0.3 * m
                r = [one, k, -k * cy, zero, one, zero, zero, zero]
            elif name == "shear_y":  # y_in = y + k (x - c_x)
                k = sign * 0.3 * m
                r = [one, zero, zero, k, one, -k * cx, zero, zero]
            elif name == "translate_x":  # x_in = x - t
                t = sign * 0.45 * m * w
                r = [one, zero, -t, zero, one, zero, zero, zero]
            else:  # translate_y
                t = sign * 0.45 * m * h
                r = [one, zero, zero, zero, one, -t, zero, zero]
            chosen = B.numpy.expand_dims(op == self.operations.index(name), -1)
            rows = B.numpy.where(chosen, B.numpy.stack(r, axis=1), rows)
        return rows

    # -- one step: colour part, on images scaled to [0, 1]
    def _colour(self, x, op, sign):
        B = self.backend
        m = self.magnitude / 30.0
        factor = _per_image(1.0 + sign * 0.9 * m, B)
        weights = B.convert_to_tensor([0.299, 0.587, 0.114], dtype=x.dtype)
        out = x
        for name in self.operations:
            if name in _GEOMETRIC or name == "identity":
                continue
            if name == "auto_contrast":
                lo = B.numpy.min(x, axis=(1, 2), keepdims=True)
                hi = B.numpy.max(x, axis=(1, 2), keepdims=True)
                y = B.numpy.where(hi > lo, (x - lo) / B.numpy.maximum(hi - lo, 1e-6), x)
            elif name == "solarize":
                y = B.numpy.where(x < 1.0 - m, x, 1.0 - x)
            elif name == "posterize":
                bits = 8 - int(round(4 * m))
                step = 2.0 ** (8 - bits)
                y = B.numpy.floor(x * 255.0 / step) * step / 255.0
            elif name in ("color", "contrast"):
                grey = B.numpy.sum(x * weights, axis=-1, keepdims=True) if x.shape[-1] == 3 else x
                base = grey if name == "color" else B.numpy.mean(grey, axis=(1, 2, 3), keepdims=True)
                y = base + factor * (x - base)
            elif name == "brightness":
                y = factor * x
            else:  # sharpness: blend with PIL's smoothing kernel
                c = x.shape[-1]
                kernel = B.convert_to_tensor([[1, 1, 1], [1, 5, 1], [1, 1, 1]], dtype=x.dtype) / 13.0
                kernel = B.numpy.tile(B.numpy.reshape(kernel, (3, 3, 1, 1)), (1, 1, c, 1))
                smooth = B.nn.depthwise_conv(x, kernel, strides=1, padding="same", data_format="channels_last")
                y = smooth + factor * (x - smooth)
            out = B.numpy.where(_per_image(op == self.operations.index(name), B), y, out)
        return B.numpy.clip(out, 0.0, 1.0)

    def apply(self, images, params):
        B = self.backend
        lo, hi = self.value_range
        h, w = images.shape[1], images.shape[2]
        x = (images - lo) / (hi - lo)
        fill = (self.fill_value - lo) / (hi - lo)
        ops, signs = params["ops"], B.cast(params["signs"], x.dtype)
        geometric = any(name in self.operations for name in _GEOMETRIC)
        for t in range(self.num_ops):
            op, sign = ops[:, t], signs[:, t]
            if geometric:
                x = B.image.affine_transform(
                    x,
                    self._affine_rows(op, sign, h, w),
                    interpolation="bilinear",
                    fill_mode="constant",
                    fill_value=fill,
                    data_format="channels_last",
                )
            x = self._colour(x, op, sign)
        return x * (hi - lo) + lo

    def get_config(self):
        return {
            **super().get_config(),
            "num_ops": self.num_ops,
            "magnitude": self.magnitude,
            "operations": self.operations,
            "fill_value": self.fill_value,
        }
