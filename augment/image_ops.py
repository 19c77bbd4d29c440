"""Vectorized stochastic image transforms (the lecture's "Data Augmentation - Image" list).

Each transform is a Keras layer that works on a whole batch ``x`` of shape ``(N, H, W, C)``
(channels last, pixel values in ``value_range``, 0..255 by default) and draws its random
parameters **per image**: image ``i`` gets its own ``θ_i ~ p(θ)`` and the layer returns
``x̃_i = T_{θ_i}(x_i)``. The same layer runs

* inside a model (``training=True`` only; identity at inference), e.g. on the GPU, and
* inside a ``tf.data`` pipeline on batches (the layers derive from Keras' ``DataLayer``, which
  switches to TensorFlow ops inside a ``tf.data`` graph whatever ``KERAS_BACKEND`` is).

Randomness. Without a call-time seed the layer uses its own ``keras.random.SeedGenerator(seed)``
(reproducible for a fresh layer with the same ``seed``). With ``layer(x, seed=s)`` (an int or an
integer tensor of shape ``(2,)``) the draws are a pure function of ``s`` — this is what a
resumable ``tf.data`` pipeline uses, with ``s`` derived from (seed, epoch, batch index).

Each layer splits into ``sample(shape, seed) -> params`` (the per-image draws, a dict of
tensors with leading dimension ``N``) and ``apply(images, params)`` (deterministic), so a test
can check an exact effect for known parameters.

Transforms: :class:`RandomFlip` (mirroring), :class:`PadCrop` (translation by pad-and-crop, the
CIFAR "standard" augmentation), :class:`RandomAffine` (rotation, translation, scaling, shear),
:class:`RandomResizedCrop` (random crop, then rescale), :class:`RandomColor`
(brightness / contrast / colour saturation), :class:`Cutout` (random erasing of a square),
:class:`AdditiveNoise` and :class:`MultiplicativeNoise`. Image mixing (MixUp, CutMix, mosaic)
is in :mod:`augment.mixing`.
"""
import math

import keras
from keras.src.layers.preprocessing.data_layer import DataLayer

# ---------------------------------------------------------------------------------------------
# argument checks (raise before any work starts, naming the argument and the allowed range)


def _check_seed(seed):
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise TypeError(f"seed must be an int or None, got {seed!r}")


def _check_number(name, value, low=None, high=None, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    bad = (
        (low is not None and (value < low or (low_open and value == low)))
        or (high is not None and (value > high or (high_open and value == high)))
    )
    if bad or math.isnan(value):
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        rng = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
        raise ValueError(f"{name} must be in {rng}, got {value}")
    return float(value)


def _check_range(name, value, low=None, high=None, symmetric=False):
    """A factor given as ``a`` (meaning ``(-a, a)`` if symmetric) or as a pair ``(lo, hi)``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if symmetric:
            a = _check_number(name, value, 0.0, high)
            return (-a, a)
        raise TypeError(f"{name} must be a pair (lo, hi), got {value!r}")
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a number or a pair (lo, hi), got {value!r}")
    lo = _check_number(f"{name}[0]", value[0], low, high)
    hi = _check_number(f"{name}[1]", value[1], low, high)
    if lo > hi:
        raise ValueError(f"{name} must have lo <= hi, got {value}")
    return (lo, hi)


def _check_value_range(value_range):
    if value_range is None:
        return None
    lo, hi = _check_range("value_range", value_range)
    if lo >= hi:
        raise ValueError(f"value_range must have lo < hi, got {value_range}")
    return (lo, hi)


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# seeds


class _StatelessSeeds(keras.random.SeedGenerator):
    """A seed stream that is a pure function of one seed ``s``: the k-th draw uses ``(s0, s1+k)``.

    Passed wherever Keras accepts a ``SeedGenerator``; it holds no variable (no state to save),
    so a ``tf.data`` map with ``seed = f(epoch, step)`` is deterministic and resumable.
    """

    def __init__(self, seed, backend):  # noqa: D107 -- deliberately skips SeedGenerator.__init__
        self._backend = backend
        dtype = backend.random_seed_dtype()
        if isinstance(seed, int):
            seed = backend.convert_to_tensor([seed & 0x7FFFFFFF, 0], dtype=dtype)
        else:
            seed = backend.cast(backend.convert_to_tensor(seed), dtype)
        self._base = seed
        self._count = 0

    def next(self, ordered=True):
        self._count += 1
        offset = self._backend.convert_to_tensor([0, 7919 * self._count], dtype=self._base.dtype)
        return self._backend.numpy.add(self._base, offset)


# ---------------------------------------------------------------------------------------------
# base class


class ImageAugmentation(DataLayer):
    """Base of the per-image random transforms: ``x̃_i = T_{θ_i}(x_i)``, ``θ_i ~ p(θ)`` i.i.d.

    Subclasses implement ``sample(shape, seed)`` (per-image parameters) and
    ``apply(images, params)``. ``call(images, training=True, seed=None)`` draws and applies;
    with ``training=False`` it is the identity.
    """

    def __init__(self, seed=None, value_range=(0.0, 255.0), **kwargs):
        super().__init__(**kwargs)
        _check_seed(seed)
        self.seed = seed
        self.value_range = _check_value_range(value_range)
        self.generator = keras.random.SeedGenerator(seed)
        self.supports_masking = False

    # -- to override
    def sample(self, shape, seed):
        raise NotImplementedError

    def apply(self, images, params):
        raise NotImplementedError

    # -- helpers for subclasses
    def _seeds(self, seed):
        if seed is None:
            return self._get_seed_generator(self.backend._backend)
        return _StatelessSeeds(seed, self.backend)

    def _clip(self, images):
        if self.value_range is None:
            return images
        return self.backend.numpy.clip(images, self.value_range[0], self.value_range[1])

    def _uniform(self, shape, low, high, seed):
        return self.backend.random.uniform(shape, minval=low, maxval=high, seed=seed)

    def augment(self, images, seed=None):
        """Draw per-image parameters and apply them (no ``training`` switch)."""
        B = self.backend
        images = B.cast(images, self.compute_dtype)
        unbatched = len(images.shape) == 3
        if unbatched:
            images = B.numpy.expand_dims(images, 0)
        params = self.sample(B.shape(images), self._seeds(seed))
        out = self.apply(images, params)
        if unbatched:
            out = B.numpy.squeeze(out, 0)
        return out

    def call(self, images, training=True, seed=None):
        if not training:
            return images
        return self.augment(images, seed=seed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed, "value_range": self.value_range})
        return config


def _per_image(x, B):
    """Reshape a per-image vector (N,) to (N, 1, 1, 1) for broadcasting against images."""
    return B.numpy.reshape(x, (-1, 1, 1, 1))


# ---------------------------------------------------------------------------------------------
# geometric transforms


@keras.saving.register_keras_serializable(package="recipes")
class RandomFlip(ImageAugmentation):
    """Mirroring: ``x̃_i = x_i[:, ::-1]`` (horizontal) with probability ``p``, per image.

    Args:
        mode: "horizontal", "vertical" or "horizontal_and_vertical" (each axis drawn
            independently).
        p: flip probability per image and axis, in [0, 1].
    """

    def __init__(self, mode="horizontal", p=0.5, **kwargs):
        super().__init__(**kwargs)
        self.mode = _check_choice("mode", mode, ("horizontal", "vertical", "horizontal_and_vertical"))
        self.p = _check_number("p", p, 0.0, 1.0)

    def sample(self, shape, seed):
        n = shape[0]
        return {
            "flip_h": self._uniform((n,), 0.0, 1.0, seed) < self.p,
            "flip_v": self._uniform((n,), 0.0, 1.0, seed) < self.p,
        }

    def apply(self, images, params):
        B = self.backend
        # x (1 - f) + flip(x) f with f in {0, 1}: exact, and faster on CPU than a broadcast select
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            f = _per_image(B.cast(params["flip_h"], images.dtype), B)
            images = images * (1.0 - f) + B.numpy.flip(images, axis=2) * f
        if self.mode in ("vertical", "horizontal_and_vertical"):
            f = _per_image(B.cast(params["flip_v"], images.dtype), B)
            images = images * (1.0 - f) + B.numpy.flip(images, axis=1) * f
        return images

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "p": self.p}


@keras.saving.register_keras_serializable(package="recipes")
class PadCrop(ImageAugmentation):
    """Translation by pad-and-crop (the CIFAR "standard" augmentation, He et al. 2016).

    ``x̃_i = pad(x_i, P)[o_y : o_y + H, o_x : o_x + W]`` with integer offsets
    ``o_y, o_x ~ U{0, ..., 2P}`` per image, i.e. a shift by ``(P - o_y, P - o_x)`` pixels.
    Computed as ``x̃_b = S_y,b x_b S_x,bᵀ`` with per-image 0/1 selection matrices (two batched
    matrix products, exact, GPU-friendly), never materializing the padded batch.

    Args:
        padding: P >= 0, pixels on each side.
        fill_mode: "constant" (zero padding, ``fill_value``) or "reflect" (edge-mirrored,
            NumPy's ``symmetric``).
        fill_value: value of the padding for ``fill_mode="constant"``.
    """

    def __init__(self, padding=4, fill_mode="constant", fill_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding must be an int >= 0, got {padding!r}")
        self.padding = padding
        self.fill_mode = _check_choice("fill_mode", fill_mode, ("constant", "reflect"))
        self.fill_value = _check_number("fill_value", fill_value)

    def sample(self, shape, seed):
        n = shape[0]
        B = self.backend
        p = self.padding
        return {
            "offset_y": B.random.randint((n,), 0, 2 * p + 1, seed=seed),
            "offset_x": B.random.randint((n,), 0, 2 * p + 1, seed=seed),
        }

    def _selection(self, offset, n):
        """(N, n, n) 0/1 matrices S with S[b, i, p] = 1 iff output index i reads input index p:
        ``p = i + o_b - P`` (reflected back into range for "reflect"; no p, a zero row, outside
        the image for "constant")."""
        B = self.backend
        i = B.numpy.arange(n, dtype="int32")[None, :, None]
        p = B.numpy.arange(n, dtype="int32")[None, None, :]
        q = i + B.numpy.reshape(B.cast(offset, "int32"), (-1, 1, 1)) - self.padding
        if self.fill_mode == "reflect":  # NumPy's "symmetric": (c b a | a b c | c b a)
            q = B.numpy.where(q < 0, -q - 1, q)
            q = B.numpy.where(q >= n, 2 * n - 1 - q, q)
        return B.cast(B.numpy.equal(p, q), self.compute_dtype)

    def apply(self, images, params):
        B = self.backend
        h, w = images.shape[1], images.shape[2]
        rows = self._selection(params["offset_y"], h)  # (N, H, H)
        cols = self._selection(params["offset_x"], w)  # (N, W, W)
        # x̃[b, i, j, c] = Σ_p Σ_q S_y[b, i, p] x[b, p, q, c] S_x[b, j, q]: one term is 1 · x, so exact.
        out = B.numpy.einsum("bip,bpqc,bjq->bijc", rows, images, cols)
        if self.fill_mode == "constant" and self.fill_value != 0.0:
            inside = B.numpy.sum(rows, axis=2)[:, :, None, None] * B.numpy.sum(cols, axis=2)[:, None, :, None]
            out = out + (1.0 - inside) * self.fill_value
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "padding": self.padding,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
        }


def affine_rows(angle, shear, scale, tx, ty, height, width, B):
    """Per-image rows of ``affine_transform`` for ``T = translate(t) ∘ R(θ) ∘ Shear(φ) ∘ S(s)``
    about the image centre ``c``: the forward map is ``u = A (v - c) + c + t`` with
    ``A = R(θ) [[1, -tan φ], [0, 1]] s``, and the rows hold its inverse
    ``v = A⁻¹ (u - c - t) + c`` (affine_transform maps output to input points).
    Angles are in radians, ``t`` in pixels; all arguments are (N,) tensors.
    """
    cos, sin, tan = B.numpy.cos(angle), B.numpy.sin(angle), B.numpy.tan(shear)
    # A = s * R @ Sh, R = [[cos, -sin], [sin, cos]], Sh = [[1, -tan], [0, 1]]
    a11 = scale * cos
    a12 = scale * (-cos * tan - sin)
    a21 = scale * sin
    a22 = scale * (-sin * tan + cos)
    det = a11 * a22 - a12 * a21
    i11, i12, i21, i22 = a22 / det, -a12 / det, -a21 / det, a11 / det
    cx = (width - 1) / 2.0
    cy = (height - 1) / 2.0
    ux = -cx - tx
    uy = -cy - ty
    b1 = i11 * ux + i12 * uy + cx
    b2 = i21 * ux + i22 * uy + cy
    zero = B.numpy.zeros_like(angle)
    return B.numpy.stack([i11, i12, b1, i21, i22, b2, zero, zero], axis=1)


@keras.saving.register_keras_serializable(package="recipes")
class RandomAffine(ImageAugmentation):
    """Rotation, translation, scaling and shear in one resampling, drawn per image.

    ``θ_i ~ U(rotation)``, ``φ_i ~ U(shear)`` (degrees), ``s_i ~ U(scale)``,
    ``t_i ~ U(translation) · (W, H)``; ``x̃_i(u) = x_i(A_i⁻¹ (u - c - t_i) + c)`` with
    ``A_i = s_i R(θ_i) Shear(φ_i)`` (see :func:`affine_rows`), bilinear interpolation.
    Set a factor to 0 (or (1, 1) for ``scale``) to switch that transform off. Image rows run
    downwards, so a positive angle turns the picture clockwise on screen.

    Args:
        rotation: degrees, ``a`` for ``(-a, a)`` or a pair; |a| <= 180.
        translation: fraction of the image size, ``a`` or a pair, in [-1, 1].
        scale: pair ``(lo, hi)`` of zoom factors, > 0 (``s > 1`` enlarges the content).
        shear: degrees, ``a`` or a pair, |a| < 90.
        fill_mode: "constant", "reflect", "nearest" or "wrap".
        interpolation: "bilinear" or "nearest".
    """

    def __init__(
        self,
        rotation=0.0,
        translation=0.0,
        scale=(1.0, 1.0),
        shear=0.0,
        fill_mode="constant",
        fill_value=0.0,
        interpolation="bilinear",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.rotation = _check_range("rotation", rotation, -180.0, 180.0, symmetric=True)
        self.translation = _check_range("translation", translation, -1.0, 1.0, symmetric=True)
        self.scale = _check_range("scale", scale, 1e-3, 1e3)
        self.shear = _check_range("shear", shear, -89.0, 89.0, symmetric=True)
        self.fill_mode = _check_choice("fill_mode", fill_mode, ("constant", "reflect", "nearest", "wrap"))
        self.fill_value = _check_number("fill_value", fill_value)
        self.interpolation = _check_choice("interpolation", interpolation, ("bilinear", "nearest"))

    def sample(self, shape, seed):
        n, h, w = shape[0], shape[1], shape[2]
        deg = math.pi / 180.0
        u = self._uniform
        return {
            "angle": u((n,), self.rotation[0] * deg, self.rotation[1] * deg, seed),
            "shear": u((n,), self.shear[0] * deg, self.shear[1] * deg, seed),
            "scale": u((n,), self.scale[0], self.scale[1], seed),
            "tx": u((n,), self.translation[0], self.translation[1], seed) * float(w),
            "ty": u((n,), self.translation[0], self.translation[1], seed) * float(h),
        }

    def apply(self, images, params):
        B = self.backend
        h, w = images.shape[1], images.shape[2]
        rows = affine_rows(params["angle"], params["shear"], params["scale"], params["tx"], params["ty"], h, w, B)
        return B.image.affine_transform(
            images,
            rows,
            interpolation=self.interpolation,
            fill_mode=self.fill_mode,
            fill_value=self.fill_value,
            data_format="channels_last",
        )

    def get_config(self):
        return {
            **super().get_config(),
            "rotation": self.rotation,
            "translation": self.translation,
            "scale": self.scale,
            "shear": self.shear,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "interpolation": self.interpolation,
        }


@keras.saving.register_keras_serializable(package="recipes")
class RandomResizedCrop(ImageAugmentation):
    """Random crop, then rescale to the input size (Szegedy et al. 2015's "Inception crop").

    Per image: area fraction ``a ~ U(scale)``, log aspect ``log r ~ U(log ratio)``; the crop is
    ``w_c = min(W, W √(a r))``, ``h_c = min(H, H √(a / r))`` at offset ``x_0 ~ U[0, W - w_c]``,
    ``y_0 ~ U[0, H - h_c]``, and is resampled bilinearly to ``H × W``:
    ``x̃(u, v) = x(x_0 + (u + ½) w_c / W - ½, y_0 + (v + ½) h_c / H - ½)``.

    Args:
        scale: pair of area fractions in (0, 1].
        ratio: pair of aspect ratios w/h, > 0.
    """

    def __init__(self, scale=(0.25, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), **kwargs):
        super().__init__(**kwargs)
        self.scale = _check_range("scale", scale, 1e-6, 1.0)
        self.ratio = _check_range("ratio", ratio, 1e-3, 1e3)

    def sample(self, shape, seed):
        B = self.backend
        n, h, w = shape[0], float(shape[1]), float(shape[2])
        area = self._uniform((n,), self.scale[0], self.scale[1], seed)
        log_r = self._uniform((n,), math.log(self.ratio[0]), math.log(self.ratio[1]), seed)
        r = B.numpy.exp(log_r)
        crop_w = B.numpy.minimum(w, w * B.numpy.sqrt(area * r))
        crop_h = B.numpy.minimum(h, h * B.numpy.sqrt(area / r))
        x0 = self._uniform((n,), 0.0, 1.0, seed) * (w - crop_w)
        y0 = self._uniform((n,), 0.0, 1.0, seed) * (h - crop_h)
        return {"x0": x0, "y0": y0, "crop_w": crop_w, "crop_h": crop_h}

    def apply(self, images, params):
        B = self.backend
        h, w = float(images.shape[1]), float(images.shape[2])
        sx = params["crop_w"] / w
        sy = params["crop_h"] / h
        zero = B.numpy.zeros_like(sx)
        rows = B.numpy.stack(
            [sx, zero, params["x0"] + 0.5 * sx - 0.5, zero, sy, params["y0"] + 0.5 * sy - 0.5, zero, zero],
            axis=1,
        )
        return B.image.affine_transform(
            images, rows, interpolation="bilinear", fill_mode="nearest", data_format="channels_last"
        )

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "ratio": self.ratio}


# ---------------------------------------------------------------------------------------------
# photometric transforms


@keras.saving.register_keras_serializable(package="recipes")
class RandomColor(ImageAugmentation):
    """Brightness, contrast and colour (saturation) jitter, per image, then clipped to range.

    With ``L`` = value range width, ``m_i`` = mean of image ``i`` and ``g_i`` = its luminance
    (0.299 R + 0.587 G + 0.114 B):
    ``x ← x + β_i L`` (``β_i ~ U(brightness)``), ``x ← m_i + γ_i (x - m_i)``
    (``γ_i ~ U(contrast)``), ``x ← g_i + σ_i (x - g_i)`` (``σ_i ~ U(saturation)``).

    Args:
        brightness: ``a`` for ``(-a, a)`` or a pair, fractions of the value range, in [-1, 1].
        contrast: pair of factors >= 0 (1 = unchanged).
        saturation: pair of factors >= 0 (0 = grey, 1 = unchanged); needs 3 channels.
    """

    def __init__(self, brightness=0.0, contrast=(1.0, 1.0), saturation=(1.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        self.brightness = _check_range("brightness", brightness, -1.0, 1.0, symmetric=True)
        self.contrast = _check_range("contrast", contrast, 0.0, 100.0)
        self.saturation = _check_range("saturation", saturation, 0.0, 100.0)

    def sample(self, shape, seed):
        n = shape[0]
        u = self._uniform
        return {
            "brightness": u((n,), self.brightness[0], self.brightness[1], seed),
            "contrast": u((n,), self.contrast[0], self.contrast[1], seed),
            "saturation": u((n,), self.saturation[0], self.saturation[1], seed),
        }

    def apply(self, images, params):
        B = self.backend
        width = 255.0 if self.value_range is None else self.value_range[1] - self.value_range[0]
        images = images + _per_image(params["brightness"], B) * width
        mean = B.numpy.mean(images, axis=(1, 2, 3), keepdims=True)
        images = mean + _per_image(params["contrast"], B) * (images - mean)
        if images.shape[-1] == 3:
            weights = B.convert_to_tensor([0.299, 0.587, 0.114], dtype=images.dtype)
            grey = B.numpy.sum(images * weights, axis=-1, keepdims=True)
            images = grey + _per_image(params["saturation"], B) * (images - grey)
        return self._clip(images)

    def get_config(self):
        return {
            **super().get_config(),
            "brightness": self.brightness,
            "contrast": self.contrast,
            "saturation": self.saturation,
        }


@keras.saving.register_keras_serializable(package="recipes")
class Cutout(ImageAugmentation):
    """Cutout / random erasing (DeVries and Taylor 2017): blank ``count`` squares per image.

    Per image and square: centre ``(c_y, c_x) ~ U{0..H-1} × U{0..W-1}``; pixels with
    ``c_y - ⌊s/2⌋ <= r < c_y - ⌊s/2⌋ + s`` and the same for columns are set to ``fill_value``
    (the square may be cut by the border, as in the paper). Applied with probability ``p``.

    Args:
        size: side s of the square in pixels, >= 1.
        count: squares per image, >= 1.
        fill_value: value written into the square.
        p: probability of erasing, per image, in [0, 1].
    """

    def __init__(self, size=8, count=1, fill_value=0.0, p=1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be an int >= 1, got {size!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be an int >= 1, got {count!r}")
        self.size = size
        self.count = count
        self.fill_value = _check_number("fill_value", fill_value)
        self.p = _check_number("p", p, 0.0, 1.0)

    def sample(self, shape, seed):
        B = self.backend
        n, h, w = shape[0], shape[1], shape[2]
        return {
            "center_y": B.random.randint((n, self.count), 0, h, seed=seed),
            "center_x": B.random.randint((n, self.count), 0, w, seed=seed),
            "apply": self._uniform((n,), 0.0, 1.0, seed) < self.p,
        }

    def mask(self, shape, params):
        """Boolean (N, H, W, 1) mask of the erased pixels."""
        B = self.backend
        h, w = shape[1], shape[2]
        top = B.numpy.expand_dims(params["center_y"] - self.size // 2, -1)  # (N, K, 1)
        left = B.numpy.expand_dims(params["center_x"] - self.size // 2, -1)
        rows = B.numpy.arange(h, dtype="int32")[None, None, :]
        cols = B.numpy.arange(w, dtype="int32")[None, None, :]
        top = B.cast(top, "int32")
        left = B.cast(left, "int32")
        in_rows = B.numpy.logical_and(rows >= top, rows < top + self.size)  # (N, K, H)
        in_cols = B.numpy.logical_and(cols >= left, cols < left + self.size)  # (N, K, W)
        m = B.numpy.logical_and(in_rows[:, :, :, None], in_cols[:, :, None, :])  # (N, K, H, W)
        m = B.numpy.any(m, axis=1)
        m = B.numpy.logical_and(m, B.numpy.reshape(params["apply"], (-1, 1, 1)))
        return B.numpy.expand_dims(m, -1)

    def apply(self, images, params):
        B = self.backend
        erased = B.cast(self.mask(B.shape(images), params), images.dtype)
        # x (1 - m) + v m with m in {0, 1}: exact, and faster on CPU than a broadcast select
        out = images * (1.0 - erased)
        if self.fill_value != 0.0:
            out = out + self.fill_value * erased
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "count": self.count,
            "fill_value": self.fill_value,
            "p": self.p,
        }


@keras.saving.register_keras_serializable(package="recipes")
class AdditiveNoise(ImageAugmentation):
    """Additive Gaussian noise: ``x̃ = clip(x + σ_i ε)``, ``ε ~ N(0, I)`` per pixel,
    ``σ_i ~ U(0, stddev)`` per image (so a batch mixes clean and noisy images).

    Args:
        stddev: largest noise standard deviation in pixel units, >= 0.
    """

    def __init__(self, stddev=8.0, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _check_number("stddev", stddev, 0.0)

    def sample(self, shape, seed):
        B = self.backend
        return {
            "sigma": self._uniform((shape[0],), 0.0, self.stddev, seed),
            "noise": B.random.normal(tuple(shape), seed=seed),
        }

    def apply(self, images, params):
        return self._clip(images + _per_image(params["sigma"], self.backend) * params["noise"])

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


@keras.saving.register_keras_serializable(package="recipes")
class MultiplicativeNoise(AdditiveNoise):
    """Multiplicative (speckle) noise: ``x̃ = clip(x ⊙ (1 + σ_i ε))``, ``ε ~ N(0, I)`` per pixel,
    ``σ_i ~ U(0, stddev)`` per image.

    Args:
        stddev: largest relative standard deviation, >= 0.

    Draws its parameters as ``AdditiveNoise`` does; only ``apply`` differs.
    """

    def __init__(self, stddev=0.1, **kwargs):
        super().__init__(stddev=stddev, **kwargs)

    def apply(self, images, params):
        return self._clip(images * (1.0 + _per_image(params["sigma"], self.backend) * params["noise"]))


@keras.saving.register_keras_serializable(package="recipes")
class Sequential(ImageAugmentation):
    """Composition ``T = T_K ∘ … ∘ T_1`` of image augmentations, each drawing per image.

    A call-time ``seed`` is split into one stream per stage, so the whole chain stays a pure
    function of it. Unlike ``keras.Sequential`` it passes ``seed`` through and works in
    ``tf.data`` under any backend.
    """

    def __init__(self, layers, **kwargs):
        kwargs.setdefault("value_range", None)
        super().__init__(**kwargs)
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, ImageAugmentation):
                raise TypeError(f"layers[{i}] must be an ImageAugmentation, got {type(layer).__name__}")
        self.stages = layers

    def build(self, input_shape):
        for layer in self.stages:
            if not layer.built:
                layer.build(input_shape)
        self.built = True

    def augment(self, images, seed=None):
        B = self.backend
        base = None if seed is None else _StatelessSeeds(seed, B)
        for layer in self.stages:
            layer.backend.set_backend(B._backend)
            try:
                images = layer.augment(images, seed=None if base is None else base.next())
            finally:
                layer.backend.reset()
        return images

    def get_config(self):
        config = super().get_config()
        config["layers"] = [keras.saving.serialize_keras_object(layer) for layer in self.stages]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layers"] = [keras.saving.deserialize_keras_object(c) for c in config["layers"]]
        return cls(**config)
