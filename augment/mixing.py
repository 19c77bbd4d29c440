"""Image stitching / mixing with label mixing: MixUp, CutMix and mosaic, per image, vectorized.

Each layer takes a batch ``{"images": x, "labels": y}`` (or a tuple ``(x, y)``; the same
structure comes back) with ``x`` of shape ``(N, H, W, C)`` and ``y`` one-hot / soft labels of
shape ``(N, K)`` (integer labels of shape ``(N,)`` are one-hot encoded when ``num_classes``
is given). Partners are other images of the same batch, chosen by a random permutation ``π``;
every image draws its own mixing weight. The mixed label is the convex combination with the
weights actually used, so it sums to 1 and a loss on it is the matching mixture of losses.

Like :mod:`augment.image_ops`, the layers are Keras ``DataLayer`` s (run in ``tf.data`` under any
backend), draw from their ``SeedGenerator`` or, with ``layer(data, seed=s)``, from ``s`` alone,
and split into ``sample`` / ``apply``. They need labels, so they belong in the input pipeline
(or a custom ``train_step``), not in the model's forward pass.
"""
import keras

from augment.checks import check_int
from augment.checks import check_number
from augment.checks import check_pair
from augment.image_ops import ImageAugmentation
from augment.image_ops import _per_image


class MixingAugmentation(ImageAugmentation):
    """Base of the label-mixing augmentations: ``(x̃_i, ỹ_i) = T_{θ_i}((x, y))``."""

    mixes_labels = True

    def __init__(self, num_classes=None, **kwargs):
        kwargs.setdefault("value_range", None)
        super().__init__(**kwargs)
        self.num_classes = None if num_classes is None else check_int("num_classes", num_classes, 2)

    def _labels(self, labels):
        B = self.backend
        if len(labels.shape) == 1:
            if self.num_classes is None:
                raise ValueError(
                    "labels of shape (N,) need num_classes (give one-hot labels of shape (N, K) "
                    "or set num_classes)"
                )
            labels = B.nn.one_hot(B.cast(labels, "int32"), self.num_classes)
        return B.cast(labels, self.compute_dtype)

    def augment(self, data, seed=None, context=None):
        """Draw per-image parameters and mix (``context`` is accepted for a uniform call and unused)."""
        B = self.backend
        as_dict = isinstance(data, dict)
        images, labels = (data["images"], data["labels"]) if as_dict else data
        images = B.cast(images, self.compute_dtype)
        if len(images.shape) != 4:
            raise ValueError(f"images must be a batch (N, H, W, C), got shape {images.shape}")
        labels = self._labels(labels)
        params = self.sample(B.shape(images), self._seeds(seed))
        images, labels = self.apply((images, labels), params)
        if as_dict:
            return {**data, "images": images, "labels": labels}
        return (images, labels)

    def _permutation(self, n, seed):
        B = self.backend
        return B.random.shuffle(B.numpy.arange(n, dtype="int32"), seed=seed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="recipes")
class MixUp(MixingAugmentation):
    """MixUp (Zhang et al. 2018): ``x̃_i = λ_i x_i + (1 - λ_i) x_{π(i)}``,
    ``ỹ_i = λ_i y_i + (1 - λ_i) y_{π(i)}``, ``λ_i ~ Beta(α, α)`` per image.

    Args:
        alpha: α > 0 (0.2 is the paper's ImageNet value; 1.0 draws λ uniformly).
    """

    def __init__(self, alpha=0.2, **kwargs):
        super().__init__(**kwargs)
        self.alpha = check_number("alpha", alpha, 0.0, low_open=True)

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
        lam = B.numpy.expand_dims(lam, -1)
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
        alpha: α > 0 (the paper uses 1.0).
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = check_number("alpha", alpha, 0.0, low_open=True)

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
