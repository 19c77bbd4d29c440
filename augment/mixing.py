"""Image stitching / mixing with label mixing: MixUp, CutMix and mosaic, per image, vectorized.

Each layer takes a batch ``{"images": x, "labels": y}`` (or a tuple ``(x, y)``; the same
structure comes back, other dict entries passed through) with ``x`` of shape ``(N, H, W, C)``. Partners
are other images of the same batch, chosen by a random permutation ``π``; every image draws its own
mixing weight. The mixed label is the convex combination with the weights actually used, so it sums to
1 and a loss on it is the matching mixture of losses.

Labels (one contract for training and inference, eager, compiled and symbolic calls):

* one-hot / soft labels of shape ``(N, K)`` (``K = num_classes`` when that is given), or integer labels
  ``y_i ∈ {0, …, K - 1}`` of shape ``(N,)`` with ``num_classes = K`` given; integer labels are one-hot
  encoded, so the labels always come back as ``(N, K)`` — mixed in training, the one-hot rows at
  inference (``training=False``, where the images are returned unchanged);
* the labels come back in the layer's **label dtype**, the dtype policy's variable dtype: float32 also
  under ``mixed_float16`` / ``mixed_bfloat16`` (the mixing weights λ keep float32 precision and the rows
  sum to 1 to float32 rounding), while the images come back in the compute dtype (float16 / bfloat16);
* an integer label outside ``[0, K)`` (or a non-integer value in ``(N,)`` labels) is never turned into a
  plausible row (a one-hot encoding of 11 with K = 10 would be all zeros): when the values are known (an
  eager call) the layer raises ``ValueError`` naming the label, its index and K before any work; inside a
  compiled graph (a ``tf.data`` map, ``jax.jit``, a ``tf.function``), where no value can be read, the
  row of that label becomes NaN (and so does every mixed row it enters), so the loss is NaN at once.

Like :mod:`augment.image_ops`, the layers are Keras ``DataLayer`` s (run in ``tf.data`` under any
backend), draw from their ``SeedGenerator`` or, with ``layer(data, seed=s)``, from ``s`` alone,
and split into ``sample`` / ``apply``. They need labels, so they belong in the input pipeline
(or a custom ``train_step``), not in the model's forward pass; a lone image tensor raises ``TypeError``.
"""
import math
import sys

import keras
import numpy as np

from augment.checks import check_int
from augment.checks import check_number
from augment.checks import check_pair
from augment.image_ops import ImageAugmentation
from augment.image_ops import _per_image

#: Largest α of MixUp / CutMix: Beta(α, α) has standard deviation 1 / (2 √(2α + 1)), 0.35 % at α = 10^4, so a
#: larger α is λ = 1/2 for every image; past float32's 3.4e38 the Beta draw itself is NaN.
ALPHA_MAX = 1e4


def _check_alpha(alpha):
    return check_number("alpha", alpha, 0.0, ALPHA_MAX, low_open=True)


def _concrete(x):
    """``x``'s values as a NumPy array when they can be read now (NumPy input, an eager tensor), else None
    (a symbolic ``tf.Tensor`` in a ``tf.data`` map or ``tf.function``, a JAX tracer under ``jit``)."""
    if isinstance(x, (np.ndarray, np.generic, int, float, list, tuple)):
        return np.asarray(x)
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(x, jax.core.Tracer):
        return None
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(x, tf.Tensor):
        return None if tf.is_symbolic_tensor(x) else x.numpy()
    return np.asarray(keras.ops.convert_to_numpy(x))


def split_batch(data, name):
    """``(images, labels)`` of a mixing layer's input: a tuple/list ``(x, y)`` or a dict with "images" and
    "labels"; anything else raises ``TypeError`` naming what was given."""
    if isinstance(data, dict):
        if not {"images", "labels"} <= set(data):
            raise TypeError(f"{name} takes {{'images': x, 'labels': y}} or (x, y), got a dict with keys {sorted(data)}")
        return data["images"], data["labels"]
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data[0], data[1]
    what = f"a tensor of shape {tuple(data.shape)}" if hasattr(data, "shape") else type(data).__name__
    raise TypeError(f"{name} mixes labels: it takes (images, labels) or {{'images': x, 'labels': y}}, got {what}")


def join_batch(data, images, labels):
    """The input's structure with ``images`` and ``labels`` replaced."""
    if isinstance(data, dict):
        return {**data, "images": images, "labels": labels}
    return (images, labels)


class MixingAugmentation(ImageAugmentation):
    """Base of the label-mixing augmentations: ``(x̃_i, ỹ_i) = T_{θ_i}((x, y))``.

    Args:
        num_classes: K >= 2; needed for integer labels (N,), and checked against one-hot labels (N, K).
    """

    mixes_labels = True
    image_ranks = (4,)

    def __init__(self, num_classes=None, **kwargs):
        kwargs.setdefault("value_range", None)
        super().__init__(**kwargs)
        self.num_classes = None if num_classes is None else check_int("num_classes", num_classes, 2)

    @property
    def label_dtype(self):
        """Dtype of the labels out: the policy's variable dtype (float32 under the mixed policies)."""
        return self.dtype_policy.variable_dtype

    def _check_label_shape(self, images_shape, labels_shape):
        name = type(self).__name__
        if len(labels_shape) == 1:
            if self.num_classes is None:
                raise ValueError(
                    f"{name}: labels of shape (N,) need num_classes (give one-hot labels of shape (N, K) "
                    f"or set num_classes), got labels of shape {tuple(labels_shape)} and num_classes=None")
        elif len(labels_shape) == 2:
            k = labels_shape[1]
            if self.num_classes is not None and k is not None and k != self.num_classes:
                raise ValueError(f"{name}: one-hot labels must have num_classes={self.num_classes} columns, got "
                                 f"shape {tuple(labels_shape)}")
        else:
            raise ValueError(f"{name}: labels must be integers of shape (N,) or one-hot / soft labels of shape "
                             f"(N, K), got shape {tuple(labels_shape)}")
        n, m = images_shape[0], labels_shape[0]
        if n is not None and m is not None and n != m:
            raise ValueError(f"{name}: images and labels must hold the same number of examples, got images of "
                             f"shape {tuple(images_shape)} and labels of shape {tuple(labels_shape)}")

    def _labels(self, labels):
        """(N, K) labels in the label dtype: one-hot rows for integer labels; an integer label outside [0, K)
        raises ``ValueError`` when the values can be read, else gives a NaN row (module docstring)."""
        B = self.backend
        if len(labels.shape) == 2:
            return B.cast(labels, self.label_dtype)
        k = self.num_classes
        values = _concrete(labels)
        if values is not None:
            bad = ~np.isfinite(values) | (values < 0) | (values >= k) | (values != np.round(values)) \
                if values.dtype.kind == "f" else (values < 0) | (values >= k)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(f"{type(self).__name__}: labels must be integers in [0, {k}) (num_classes={k}), "
                                 f"got label {values[i].item()!r} at index {i}")
        labels = B.convert_to_tensor(labels)
        ints = B.cast(labels, "int32")
        valid = B.numpy.logical_and(ints >= 0, ints < k)
        if "float" in str(labels.dtype):  # 2.5 is no class either
            valid = B.numpy.logical_and(valid, B.numpy.equal(B.cast(ints, labels.dtype), labels))
        one_hot = B.nn.one_hot(B.numpy.where(valid, ints, 0), k, dtype=self.label_dtype)
        return B.numpy.where(B.numpy.expand_dims(valid, -1), one_hot, B.numpy.full_like(one_hot, math.nan))

    def _check_batch(self, data):
        images, labels = split_batch(data, type(self).__name__)
        self._check_rank(images.shape)
        self._check_label_shape(images.shape, labels.shape)
        return images, labels

    def augment(self, data, seed=None, context=None):
        """Draw per-image parameters and mix (``context`` is accepted for a uniform call and unused)."""
        B = self.backend
        images, labels = self._check_batch(data)
        labels = self._labels(labels)
        images = B.cast(images, self.compute_dtype)
        params = self.sample(B.shape(images), self._seeds(seed))
        images, labels = self.apply((images, labels), params)
        return join_batch(data, B.cast(images, self.compute_dtype), B.cast(labels, self.label_dtype))

    def identity(self, data):
        """Inference: the images unchanged in the compute dtype, the labels as (N, K) rows in the label dtype."""
        images, labels = self._check_batch(data)
        return join_batch(data, self.backend.cast(images, self.compute_dtype), self._labels(labels))

    def _permutation(self, n, seed):
        B = self.backend
        return B.random.shuffle(B.numpy.arange(n, dtype="int32"), seed=seed)

    def output_spec(self, inputs, image_dtype=None, label_dtype=None):
        """The symbolic output for symbolic ``inputs``: images (N, H, W, C) in ``image_dtype`` (default: the
        compute dtype), labels (N, K) in ``label_dtype`` (default: the label dtype)."""
        images, labels = self._check_batch(inputs)
        k = self.num_classes if len(labels.shape) == 1 else labels.shape[1]
        return join_batch(inputs, keras.KerasTensor(images.shape, dtype=image_dtype or self.compute_dtype),
                          keras.KerasTensor((labels.shape[0], k), dtype=label_dtype or self.label_dtype))

    def compute_output_spec(self, inputs, *args, **kwargs):
        return self.output_spec(inputs)

    def compute_output_shape(self, input_shape):
        images, labels = split_batch(input_shape, type(self).__name__)
        self._check_rank(images)
        self._check_label_shape(images, labels)
        k = self.num_classes if len(labels) == 1 else labels[1]
        return join_batch(input_shape, tuple(images), (labels[0], k))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="recipes")
class MixUp(MixingAugmentation):
    """MixUp (Zhang et al. 2018): ``x̃_i = λ_i x_i + (1 - λ_i) x_{π(i)}``,
    ``ỹ_i = λ_i y_i + (1 - λ_i) y_{π(i)}``, ``λ_i ~ Beta(α, α)`` per image.

    Args:
        alpha: α in (0, 10^4] (:data:`ALPHA_MAX`; 0.2 is the paper's ImageNet value; 1.0 draws λ uniformly).
        num_classes: K, for integer labels (see the module docstring).
    """

    def __init__(self, alpha=0.2, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _check_alpha(alpha)

    def sample(self, shape, seed):
        B = self.backend
        n = shape[0]
        return {
            "lam": B.random.beta((n,), self.alpha, self.alpha, seed=seed),
            "perm": self._permutation(n, seed),
        }

    def apply(self, data, params):
        B = self.backend
        images, labels = data
        lam = B.cast(params["lam"], images.dtype)
        perm = params["perm"]
        images = _per_image(lam, B) * images + (1.0 - _per_image(lam, B)) * B.numpy.take(images, perm, axis=0)
        lam = B.numpy.expand_dims(B.cast(params["lam"], labels.dtype), -1)
        labels = lam * labels + (1.0 - lam) * B.numpy.take(labels, perm, axis=0)
        return images, labels

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


def _box_mask(top, bottom, left, right, height, width, B):
    """(N, H, W, 1) boolean mask of rows [top, bottom) × columns [left, right), per image."""
    rows = B.numpy.arange(height, dtype="int32")[None, :]
    cols = B.numpy.arange(width, dtype="int32")[None, :]
    in_rows = B.numpy.logical_and(rows >= top[:, None], rows < bottom[:, None])
    in_cols = B.numpy.logical_and(cols >= left[:, None], cols < right[:, None])
    return B.numpy.logical_and(in_rows[:, :, None, None], in_cols[:, None, :, None])


@keras.saving.register_keras_serializable(package="recipes")
class CutMix(MixingAugmentation):
    """CutMix (Yun et al. 2019): paste a box of ``x_{π(i)}`` into ``x_i``.

    Per image: ``λ_i ~ Beta(α, α)``, box side ratio ``√(1 - λ_i)``, box centre uniform over the
    image, box clipped by the border. The label weight is then the area actually kept,
    ``λ̂_i = 1 - |box_i| / (H W)``: ``x̃_i = (1 - M_i) ⊙ x_i + M_i ⊙ x_{π(i)}``,
    ``ỹ_i = λ̂_i y_i + (1 - λ̂_i) y_{π(i)}``.

    Args:
        alpha: α in (0, 10^4] (:data:`ALPHA_MAX`; the paper uses 1.0).
        num_classes: K, for integer labels (see the module docstring).
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _check_alpha(alpha)

    def sample(self, shape, seed):
        B = self.backend
        n, h, w = shape[0], shape[1], shape[2]
        lam = B.random.beta((n,), self.alpha, self.alpha, seed=seed)
        ratio = B.numpy.sqrt(1.0 - lam)
        cut_h = B.cast(ratio * float(h), "int32")
        cut_w = B.cast(ratio * float(w), "int32")
        cy = B.random.randint((n,), 0, h, seed=seed)
        cx = B.random.randint((n,), 0, w, seed=seed)
        top = B.numpy.clip(cy - cut_h // 2, 0, h)
        left = B.numpy.clip(cx - cut_w // 2, 0, w)
        return {
            "top": top,
            "bottom": B.numpy.clip(cy - cut_h // 2 + cut_h, 0, h),
            "left": left,
            "right": B.numpy.clip(cx - cut_w // 2 + cut_w, 0, w),
            "perm": self._permutation(n, seed),
        }

    def apply(self, data, params):
        B = self.backend
        images, labels = data
        h, w = images.shape[1], images.shape[2]
        mask = _box_mask(params["top"], params["bottom"], params["left"], params["right"], h, w, B)
        perm = params["perm"]
        images = B.numpy.where(mask, B.numpy.take(images, perm, axis=0), images)
        area = B.cast((params["bottom"] - params["top"]) * (params["right"] - params["left"]), labels.dtype)
        lam = 1.0 - area / float(h * w)
        lam = B.numpy.expand_dims(lam, -1)
        labels = lam * labels + (1.0 - lam) * B.numpy.take(labels, perm, axis=0)
        return images, labels

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@keras.saving.register_keras_serializable(package="recipes")
class Mosaic(MixingAugmentation):
    """Mosaic (image stitching, after YOLOv4): four images share one canvas.

    Per image: a split point ``(c_y, c_x)`` uniform in the central ``[lo, hi]`` fraction of the
    image; the top-left quadrant keeps ``x_i``, the other three show the same region of
    ``x_{π1(i)}``, ``x_{π2(i)}``, ``x_{π3(i)}`` (no rescaling, so every pixel keeps its scale).
    Labels are weighted by quadrant area: ``ỹ_i = Σ_q (|Q_q| / (H W)) y_{π_q(i)}``.

    Args:
        center_range: pair (lo, hi), 0 <= lo <= hi <= 1, fractions of the size where the split
            point may fall.
        num_classes: K, for integer labels (see the module docstring).
    """

    def __init__(self, center_range=(0.25, 0.75), **kwargs):
        super().__init__(**kwargs)
        self.center_range = check_pair("center_range", center_range, 0.0, 1.0)

    def sample(self, shape, seed):
        B = self.backend
        n, h, w = shape[0], shape[1], shape[2]
        lo, hi = self.center_range
        cy = B.random.randint((n,), int(round(lo * h)), int(round(hi * h)) + 1, seed=seed)
        cx = B.random.randint((n,), int(round(lo * w)), int(round(hi * w)) + 1, seed=seed)
        return {
            "center_y": cy,
            "center_x": cx,
            "perm1": self._permutation(n, seed),
            "perm2": self._permutation(n, seed),
            "perm3": self._permutation(n, seed),
        }

    def apply(self, data, params):
        B = self.backend
        images, labels = data
        h, w = images.shape[1], images.shape[2]
        cy, cx = B.cast(params["center_y"], "int32"), B.cast(params["center_x"], "int32")
        rows = B.numpy.arange(h, dtype="int32")[None, :, None, None]
        cols = B.numpy.arange(w, dtype="int32")[None, None, :, None]
        top = rows < B.numpy.reshape(cy, (-1, 1, 1, 1))
        left = cols < B.numpy.reshape(cx, (-1, 1, 1, 1))
        take = lambda key: B.numpy.take(images, params[key], axis=0)  # noqa: E731
        bottom_half = B.numpy.where(left, take("perm2"), take("perm3"))
        top_half = B.numpy.where(left, images, take("perm1"))
        images = B.numpy.where(top, top_half, bottom_half)
        fy = B.cast(cy, labels.dtype)[:, None] / float(h)
        fx = B.cast(cx, labels.dtype)[:, None] / float(w)
        take_y = lambda key: B.numpy.take(labels, params[key], axis=0)  # noqa: E731
        labels = (
            fy * fx * labels
            + fy * (1.0 - fx) * take_y("perm1")
            + (1.0 - fy) * fx * take_y("perm2")
            + (1.0 - fy) * (1.0 - fx) * take_y("perm3")
        )
        return images, labels

    def get_config(self):
        return {**super().get_config(), "center_range": self.center_range}
