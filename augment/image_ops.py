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

Seeding, the one scheme of the package. A call-time key ``s = (s_0, s_1)`` is expanded into a
stream of keys ``s^(k) = (s_0, r_k)``, k = 1, 2, …, with ``r`` random integers drawn once with the
key ``s`` (:class:`_StatelessSeeds`): a :class:`Sequential` gives stage k the key ``s^(k)``, and a
layer makes its j-th random draw with the key ``(s^(k))^(j)``. No key is used twice by construction
(the old offsets ``s_1 + 7919 k`` made draw j of stage k reuse the key of stage k + j). ``s_0`` (the
run: :func:`augment.presets.step_key` puts the run's seed there and the global step in ``s_1``) is
never changed, so a draw that must stay fixed for a whole run, such as the base bit of
:class:`AlternatingFlip`, reads it.

Context. ``layer(x, seed=s, context={"ids": ids, "epoch": e})`` passes draws that depend on which
image is augmented and when: ``ids`` (N,) are the images' indices in the training set and ``e``
the epoch (a scalar, or (N,)). :class:`Sequential` forwards it to every stage; only layers with
``needs_context = True`` (:class:`AlternatingFlip`) read it, and they raise ``ValueError`` without it.

Dtypes and shapes (one contract for training and inference, eager, compiled and symbolic calls). A
layer takes one image ``(H, W, C)`` or a batch ``(N, H, W, C)`` (any other rank raises ``ValueError`` naming
the shape) of any real dtype and returns it in the layer's compute dtype: ``float32`` by default,
``float16`` / ``bfloat16`` under the ``mixed_float16`` / ``mixed_bfloat16`` policies (the random
parameters are drawn in float32 and cast to the images' dtype), also at inference, where the images
are otherwise unchanged. Inputs are not autocast on entry: :meth:`augment` casts the images itself
(and the mixing layers cast labels to their own dtype, :mod:`augment.mixing`).

Each layer splits into ``sample(shape, seed) -> params`` (the per-image draws, a dict of
tensors with leading dimension ``N``; ``sample(shape, seed, context)`` for layers that need
context) and ``apply(images, params)`` (deterministic), so a test can check an exact effect for
known parameters.

Transforms: :class:`RandomFlip` (mirroring), :class:`AlternatingFlip` (mirroring every image
once in each pair of epochs, Jordan 2024), :class:`PadCrop` (translation by pad-and-crop, the
CIFAR "standard" augmentation), :class:`RandomAffine` (rotation, translation, scaling, shear),
:class:`RandomResizedCrop` (random crop, then rescale), :class:`RandomColor`
(brightness / contrast / colour saturation), :class:`Cutout` (random erasing of a square),
:class:`AdditiveNoise` and :class:`MultiplicativeNoise`. Image mixing (MixUp, CutMix, mosaic)
is in :mod:`augment.mixing`.
"""
import math
import sys

import keras
import numpy as np
from keras.src.layers.preprocessing.data_layer import DataLayer
from keras.src.utils import backend_utils
from keras.src.utils import jax_utils

from augment.checks import check_choice
from augment.checks import check_int
from augment.checks import check_number
from augment.checks import check_pair
from augment.checks import check_positive_int
from augment.checks import check_probability
from augment.checks import check_seed

# ---------------------------------------------------------------------------------------------
# argument parsing on top of augment.checks (raise before any work starts, naming the argument)


def _factor_range(name, value, low=None, high=None, symmetric=False):
    """A factor given as ``a`` (meaning ``(-a, a)``, only if ``symmetric``) or as a pair ``(lo, hi)``."""
    if symmetric and isinstance(value, (int, float)) and not isinstance(value, bool):
        a = check_number(name, value, 0.0, high)
        return (-a, a)
    if not isinstance(value, (tuple, list)):
        what = "a number a >= 0 (for (-a, a)) or a pair (lo, hi)" if symmetric else "a pair (lo, hi)"
        raise TypeError(f"{name} must be {what}, got {value!r}")
    return check_pair(name, value, low, high)


def _value_range(value_range):
    if value_range is None:
        return None
    lo, hi = check_pair("value_range", value_range)
    if lo >= hi:
        raise ValueError(f"value_range must be a pair (lo, hi) with lo < hi, got {value_range!r}")
    return (lo, hi)


# ---------------------------------------------------------------------------------------------
# the integer hash (int32-safe, the same bits under NumPy, TensorFlow and JAX, on CPU and GPU)

MASK31 = 0x7FFFFFFF
_MUL1 = 0x2C1B3C6D  # odd multipliers whose low 16 bits are < 2^15 (see _mulmod31)
_MUL2 = 0x297A2D39
TAG_FLIP = 0x0C2B2AE3  # domain tags: flip base bits, data order
TAG_ORDER = 0x27D4EB2F


def _mulmod31(x, a, xp):
    """``(x a) mod 2^31`` for int32 ``x`` in [0, 2^31) and a constant ``a = a_h 2^16 + a_l`` with
    ``a_l < 2^15``, without any intermediate leaving [0, 2^31): with ``x = x_h 2^16 + x_l``,
    ``x a ≡ x_l a_l + 2^16 ((x_h a_l + x_l a_h) mod 2^15)  (mod 2^31)``."""
    a_l, a_h = a & 0xFFFF, a >> 16
    x_l = xp.bitwise_and(x, 0xFFFF)  # < 2^16
    x_h = xp.right_shift(x, 16)  # < 2^15
    low = xp.multiply(x_l, a_l)  # < 2^31
    cross = xp.add(xp.bitwise_and(xp.multiply(x_h, a_l), 0x7FFF), xp.bitwise_and(xp.multiply(x_l, a_h), 0x7FFF))
    high = xp.bitwise_and(xp.add(xp.right_shift(low, 16), cross), 0x7FFF)
    return xp.bitwise_or(xp.left_shift(high, 16), xp.bitwise_and(low, 0xFFFF))


def mix31(x, xp):
    """A bijection of [0, 2^31) with avalanche (a 31-bit variant of MurmurHash3's finalizer):
    ``x ← x ⊕ (x >> 16); x ← x·M_1 mod 2^31; x ← x ⊕ (x >> 15); x ← x·M_2 mod 2^31; x ← x ⊕ (x >> 16)``.
    ``x`` is an int32 array/tensor with values in [0, 2^31); ``xp`` is ``numpy`` or a Keras backend's
    ``numpy`` (``keras.ops``): the arithmetic never overflows int32, so every backend gives the same bits."""
    x = xp.bitwise_xor(x, xp.right_shift(x, 16))
    x = _mulmod31(x, _MUL1, xp)
    x = xp.bitwise_xor(x, xp.right_shift(x, 15))
    x = _mulmod31(x, _MUL2, xp)
    return xp.bitwise_xor(x, xp.right_shift(x, 16))


def hash31(tag, values, xp):
    """``h = tag; h ← mix31(h ⊕ (v mod 2^31))`` for each ``v`` of ``values`` in turn: an int32 in [0, 2^31).
    For fixed earlier values it is a bijection in the last one (distinct ids give distinct hashes).
    ``values`` are int32 arrays/tensors (broadcast together) with values in [0, 2^31) or Python ints."""
    h = tag
    for v in values:
        if isinstance(v, int):
            v = v & MASK31
        h = mix31(xp.bitwise_xor(v, h), xp)
    return h


def _as_int31(x, B):
    """An integer tensor (any int dtype) reduced mod 2^31 and cast to int32, on backend ``B``."""
    x = B.convert_to_tensor(x)
    if "int" not in str(x.dtype):
        raise TypeError(f"expected an integer tensor, got dtype {x.dtype}")
    return B.cast(B.numpy.bitwise_and(x, MASK31), "int32")


# ---------------------------------------------------------------------------------------------
# seeds


class _Key(keras.random.SeedGenerator):
    """A fixed key where Keras wants a ``SeedGenerator`` (its ``next()`` is always ``key``)."""

    def __init__(self, key):  # noqa: D107 -- deliberately skips SeedGenerator.__init__ (no variable)
        self._key = key

    def next(self, ordered=True):
        return self._key


class _StatelessSeeds(keras.random.SeedGenerator):
    """A seed stream that is a pure function of one key ``s = (s_0, s_1)``: the k-th draw (k = 1, …, 64) uses
    ``(s_0, r_k)`` with ``r = randint(64 values in [0, 2^31 - 1), key s)`` drawn once (one generator call, so
    a chain of layers in a ``tf.data`` map adds a few ops per batch, not a hash per draw). An int ``s``
    means ``(s, 0)``.

    Passed wherever Keras accepts a ``SeedGenerator``; it holds no variable (no state to save),
    so a ``tf.data`` map with ``seed = f(epoch, step)`` is deterministic and resumable. ``s`` itself is
    never a draw's key and the derived keys are random, so no two stages or draws share a key by
    construction (the old offsets ``s_1 + 7919 k`` gave draw j of stage k the key of stage k + j).
    ``s_0`` is kept in every derived key (:class:`AlternatingFlip` reads the run from it).
    """

    DRAWS = 64

    def __init__(self, seed, backend):  # noqa: D107 -- deliberately skips SeedGenerator.__init__
        self._backend = backend
        dtype = backend.random_seed_dtype()
        if isinstance(seed, int):
            seed = backend.convert_to_tensor([seed & MASK31, 0], dtype=dtype)
        else:
            seed = backend.cast(backend.convert_to_tensor(seed), dtype)
        self._base = seed
        self._count = 0
        self._derived = None

    def next(self, ordered=True):
        B = self._backend
        if self._count >= self.DRAWS:
            raise RuntimeError(f"a seed stream gives at most {self.DRAWS} keys; this layer asked for more")
        if self._derived is None:
            self._derived = B.random.randint((self.DRAWS,), 0, MASK31, dtype="int32", seed=_Key(self._base))
        r = self._derived[self._count]
        self._count += 1
        return B.numpy.stack([self._base[0], B.cast(r, self._base.dtype)])


# ---------------------------------------------------------------------------------------------
# base class


class ImageAugmentation(DataLayer):
    """Base of the per-image random transforms: ``x̃_i = T_{θ_i}(x_i)``, ``θ_i ~ p(θ)`` i.i.d.

    Subclasses implement ``sample(shape, seed)`` (per-image parameters) and
    ``apply(images, params)``. ``call(images, training=True, seed=None, context=None)`` draws and
    applies; with ``training=False`` it is the identity. A subclass whose draws depend on the
    images' identity sets ``needs_context = True`` and implements ``sample(shape, seed, context)``.
    """

    needs_context = False
    mixes_labels = False
    #: ranks of the images the layer takes: one image (H, W, C) or a batch (N, H, W, C)
    image_ranks = (3, 4)

    def __init__(self, seed=None, value_range=(0.0, 255.0), **kwargs):
        super().__init__(**kwargs)
        self.seed = check_seed("seed", seed)
        self.value_range = _value_range(value_range)
        self.generator = keras.random.SeedGenerator(seed)
        self.supports_masking = False
        # no cast on entry: augment() casts the images to the compute dtype, and a mixing layer's labels keep
        # their precision (float32) under a mixed policy
        self.autocast = False

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

    def _sample(self, shape, seeds, context):
        if not self.needs_context:
            return self.sample(shape, seeds)
        return self.sample(shape, seeds, _check_context(self, context))

    def _check_rank(self, shape, name="images"):
        """``ValueError`` naming the shape unless ``len(shape)`` is one of :attr:`image_ranks`."""
        if len(shape) not in self.image_ranks:
            allowed = " or ".join({3: "(H, W, C)", 4: "(N, H, W, C)"}[r] for r in self.image_ranks)
            raise ValueError(f"{type(self).__name__}: {name} must have shape {allowed}, got shape "
                             f"{tuple(shape)} (rank {len(shape)})")

    def augment(self, images, seed=None, context=None):
        """Draw per-image parameters and apply them (no ``training`` switch)."""
        B = self.backend
        self._check_rank(images.shape)
        images = B.cast(images, self.compute_dtype)
        unbatched = len(images.shape) == 3
        if unbatched:
            images = B.numpy.expand_dims(images, 0)
        params = self._sample(B.shape(images), self._seeds(seed), context)
        out = self.apply(images, params)
        if unbatched:
            out = B.numpy.squeeze(out, 0)
        return B.cast(out, self.compute_dtype)

    def identity(self, images):
        """The inference output: the images unchanged, in the compute dtype (the same rank check and dtype as
        :meth:`augment`)."""
        self._check_rank(images.shape)
        return self.backend.cast(images, self.compute_dtype)

    def __call__(self, inputs, *args, context=None, **kwargs):
        if context is not None:
            kwargs["context"] = _context_tensors(context)
        sample = keras.tree.flatten(inputs)[0]
        if (not isinstance(sample, keras.KerasTensor) and backend_utils.in_tf_graph()
                and not jax_utils.is_in_jax_tracing_scope(sample)):
            # A tf.data map: what DataLayer.__call__ does (TensorFlow ops whatever the backend), except that
            # every input keeps its dtype. DataLayer casts them all to the compute dtype, which turns integer
            # label 257 into 256 under mixed_bfloat16; augment() casts images and labels itself.
            self.backend.set_backend("tensorflow")
            inputs = keras.tree.map_structure(self.backend.convert_to_tensor, inputs)
            convert, self._convert_input_args = self._convert_input_args, False
            try:
                return keras.layers.Layer.__call__(self, inputs, *args, **kwargs)
            finally:
                self.backend.reset()
                self._convert_input_args = convert
        return super().__call__(inputs, *args, **kwargs)

    def call(self, images, training=True, seed=None, context=None):
        if not training:
            return self.identity(images)
        return self.augment(images, seed=seed, context=context)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed, "value_range": self.value_range})
        return config


def _context_tensors(context):
    """The context's values all of one kind (Keras refuses a call argument mixing tensors and plain
    values): TensorFlow tensors if any value is one (a ``tf.data`` map), else backend tensors if any
    value is one, else NumPy arrays."""
    if not isinstance(context, dict):
        return context
    values = list(context.values())
    if any(type(v).__module__.startswith("tensorflow") for v in values):
        tf = sys.modules["tensorflow"]  # already imported by whoever made the tensors
        return {k: tf.convert_to_tensor(v) for k, v in context.items()}
    if any(keras.ops.is_tensor(v) or isinstance(v, keras.KerasTensor) for v in values):
        return {k: v if keras.ops.is_tensor(v) or isinstance(v, keras.KerasTensor) else keras.ops.convert_to_tensor(v)
                for k, v in context.items()}
    return {k: np.asarray(v) for k, v in context.items()}


def _check_context(layer, context):
    """The context dict of a layer that needs one: ``{"ids": (N,) ints, "epoch": int scalar or (N,)}``."""
    name = type(layer).__name__
    if context is None:
        raise ValueError(
            f"{name} needs context={{'ids': (N,) image indices, 'epoch': int}} (its draws depend on which "
            "image is augmented and in which epoch), got context=None; call it as layer(x, seed=s, "
            "context={'ids': ids, 'epoch': epoch}) or through augment.presets.ImageAugmenter(ids=..., epoch=...)"
        )
    if not isinstance(context, dict) or not {"ids", "epoch"} <= set(context):
        got = sorted(context) if isinstance(context, dict) else type(context).__name__
        raise ValueError(f"{name}: context must be a dict with keys 'ids' and 'epoch', got {got}")
    return context


def _per_image(x, B):
    """Reshape a per-image vector (N,) to (N, 1, 1, 1) for broadcasting against images."""
    return B.numpy.reshape(x, (-1, 1, 1, 1))


# ---------------------------------------------------------------------------------------------
# geometric transforms


def _mirror(images, flags, axis, B):
    """``x̃_i = flip(x_i, axis)`` where ``flags_i`` is true, else ``x_i`` (``flags`` (N,) bool or 0/1).

    Computed as ``x (1 - f) + flip(x) f`` with ``f ∈ {0, 1}``: exact, and faster on CPU than a
    broadcast select. The one mirroring of the package (:class:`RandomFlip`, :class:`AlternatingFlip`).
    """
    f = _per_image(B.cast(flags, images.dtype), B)
    return images * (1.0 - f) + B.numpy.flip(images, axis=axis) * f


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
        self.mode = check_choice("mode", mode, ("horizontal", "vertical", "horizontal_and_vertical"))
        self.p = check_probability("p", p)

    def sample(self, shape, seed):
        n = shape[0]
        return {
            "flip_h": self._uniform((n,), 0.0, 1.0, seed) < self.p,
            "flip_v": self._uniform((n,), 0.0, 1.0, seed) < self.p,
        }

    def apply(self, images, params):
        B = self.backend
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            images = _mirror(images, params["flip_h"], 2, B)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            images = _mirror(images, params["flip_v"], 1, B)
        return images

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "p": self.p}


def alternating_flip_bits(run, ids, epoch, xp):
    """Flip bits of the alternating flip: ``f_i = b_i ⊕ (e mod 2)`` with the base bit
    ``b_i = hash31(TAG_FLIP, (run, id_i)) mod 2``.

    ``run`` (an int or an int32 scalar in [0, 2^31)) names the run, ``ids`` (N,) int32 are the images'
    indices, ``epoch`` an int32 scalar or (N,). ``xp`` is ``numpy`` or a backend's ``numpy``; all of them
    give the same bits (int32-safe arithmetic, see :func:`mix31`). Returns int32 0/1 of shape (N,).
    """
    base = xp.bitwise_and(hash31(TAG_FLIP, (run, ids), xp), 1)
    return xp.bitwise_xor(base, xp.bitwise_and(epoch, 1))


@keras.saving.register_keras_serializable(package="recipes")
class AlternatingFlip(ImageAugmentation):
    """Alternating horizontal flip (Jordan 2024, airbench): image ``i`` is mirrored in epoch ``e`` iff
    ``b_i ⊕ (e mod 2)``, so in any two consecutive epochs every image is seen once each way.

    The base bit ``b_i = hash31(TAG_FLIP, (s_0, id_i)) mod 2`` (:func:`alternating_flip_bits`) is a
    fixed pseudo-random bit per (run, image): ``s_0`` is the first component of the call-time key
    (the run's seed, see :func:`augment.presets.step_key`), or the layer's own seed without one.
    Needs ``context={"ids": (N,) image indices, "epoch": e}`` (``ValueError`` without it).
    """

    needs_context = True

    def sample(self, shape, seed, context):
        B = self.backend
        key = seed.next() if hasattr(seed, "next") else seed
        run = _as_int31(key[0], B)
        ids = _as_int31(context["ids"], B)
        epoch = _as_int31(context["epoch"], B)
        if len(ids.shape) != 1:
            raise ValueError(f"AlternatingFlip: context['ids'] must have shape (N,), got {tuple(ids.shape)}")
        return {"flip_h": B.numpy.equal(alternating_flip_bits(run, ids, epoch, B.numpy), 1)}

    def apply(self, images, params):
        return _mirror(images, params["flip_h"], 2, self.backend)


@keras.saving.register_keras_serializable(package="recipes")
class PadCrop(ImageAugmentation):
    """Translation by pad-and-crop (the CIFAR "standard" augmentation, He et al. 2016).

    ``x̃_i = pad(x_i, P)[o_y : o_y + H, o_x : o_x + W]`` with integer offsets
    ``o_y, o_x ~ U{0, ..., 2P}`` per image, i.e. a shift by ``(P - o_y, P - o_x)`` pixels.
    Computed as one gather of whole pixels, ``x̃[b, i, j] = x[b, q_y(b, i), q_x(b, j)]`` with the source
    row/column ``q = i + o - P`` mirrored into the image (or, for "constant", outside it and then
    replaced by ``fill_value``): exact, O(N H W C), and never materializing the padded batch.

    Args:
        padding: P >= 0, pixels on each side.
        fill_mode: how ``pad`` fills, as in ``np.pad`` (and ``keras.ops.pad``):

            * "constant": ``fill_value`` (zero padding by default);
            * "reflect": mirrored about the edge pixel, which is not repeated,
              ``(d c b | a b c d | c b a)`` (NumPy's and PyTorch's "reflect", airbench's translate);
              needs ``P <= H - 1`` and ``P <= W - 1``;
            * "symmetric": mirrored with the edge pixel repeated, ``(c b a | a b c | c b a)``
              (NumPy's "symmetric"; what "reflect" meant in keras-recipes 0.1); needs ``P <= H, W``.
        fill_value: value of the padding for ``fill_mode="constant"``.
    """

    def __init__(self, padding=4, fill_mode="constant", fill_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.padding = check_int("padding", padding, 0)
        self.fill_mode = check_choice("fill_mode", fill_mode, ("constant", "reflect", "symmetric"))
        self.fill_value = check_number("fill_value", fill_value)

    def sample(self, shape, seed):
        n = shape[0]
        B = self.backend
        p = self.padding
        return {
            "offset_y": B.random.randint((n,), 0, 2 * p + 1, seed=seed),
            "offset_x": B.random.randint((n,), 0, 2 * p + 1, seed=seed),
        }

    def _source(self, offset, n):
        """(N, n) source indices ``q = i + o_b - P`` of output index ``i``, mirrored back into [0, n) for
        "reflect" (``-q``, ``2n - 2 - q``) and "symmetric" (``-q - 1``, ``2n - 1 - q``), and whether the
        source lies inside the image (always, except for "constant")."""
        B = self.backend
        i = B.numpy.arange(n, dtype="int32")[None, :]
        q = i + B.numpy.reshape(B.cast(offset, "int32"), (-1, 1)) - self.padding
        if self.fill_mode == "reflect":  # (d c b | a b c d | c b a)
            q = B.numpy.where(q < 0, -q, q)
            q = B.numpy.where(q >= n, 2 * n - 2 - q, q)
        elif self.fill_mode == "symmetric":  # (c b a | a b c | c b a)
            q = B.numpy.where(q < 0, -q - 1, q)
            q = B.numpy.where(q >= n, 2 * n - 1 - q, q)
        inside = B.numpy.logical_and(q >= 0, q < n)
        return B.numpy.clip(q, 0, n - 1), inside

    def _check_size(self, h, w):
        limit = {"reflect": 1, "symmetric": 0}.get(self.fill_mode)
        if limit is not None and None not in (h, w) and self.padding > min(h, w) - limit:
            raise ValueError(
                f"padding must be in [0, {min(h, w) - limit}] for fill_mode={self.fill_mode!r} on "
                f"{h}x{w} images (one mirror image of the border), got {self.padding}"
            )

    def apply(self, images, params):
        B = self.backend
        n, h, w, c = B.shape(images)[0], images.shape[1], images.shape[2], images.shape[3]
        self._check_size(h, w)
        rows, rows_in = self._source(params["offset_y"], h)  # (N, H)
        cols, cols_in = self._source(params["offset_x"], w)  # (N, W)
        # x̃[b, i, j] = x[b, q_y(b, i), q_x(b, j)]: one gather of whole pixels from the flattened batch (exact)
        base = B.numpy.reshape(B.numpy.arange(n, dtype="int32") * (h * w), (-1, 1, 1))
        index = base + rows[:, :, None] * w + cols[:, None, :]  # (N, H, W)
        out = B.numpy.take(B.numpy.reshape(images, (-1, c)), B.numpy.reshape(index, (-1,)), axis=0)
        out = B.numpy.reshape(out, (-1, h, w, c))
        if self.fill_mode == "constant":
            inside = B.numpy.logical_and(rows_in[:, :, None, None], cols_in[:, None, :, None])
            out = B.numpy.where(inside, out, B.cast(self.fill_value, out.dtype))
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
        self.rotation = _factor_range("rotation", rotation, -180.0, 180.0, symmetric=True)
        self.translation = _factor_range("translation", translation, -1.0, 1.0, symmetric=True)
        self.scale = _factor_range("scale", scale, 1e-3, 1e3)
        self.shear = _factor_range("shear", shear, -89.0, 89.0, symmetric=True)
        self.fill_mode = check_choice("fill_mode", fill_mode, ("constant", "reflect", "nearest", "wrap"))
        self.fill_value = check_number("fill_value", fill_value)
        self.interpolation = check_choice("interpolation", interpolation, ("bilinear", "nearest"))

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
        self.scale = _factor_range("scale", scale, 1e-6, 1.0)
        self.ratio = _factor_range("ratio", ratio, 1e-3, 1e3)

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
        saturation: pair of factors >= 0 (0 = grey, 1 = unchanged); other than (1, 1) it needs 3 channels
            (a ValueError naming the shape otherwise).
    """

    def __init__(self, brightness=0.0, contrast=(1.0, 1.0), saturation=(1.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        self.brightness = _factor_range("brightness", brightness, -1.0, 1.0, symmetric=True)
        self.contrast = _factor_range("contrast", contrast, 0.0, 100.0)
        self.saturation = _factor_range("saturation", saturation, 0.0, 100.0)

    def _check_rank(self, shape, name="images"):
        """The rank check, and 3 channels when the saturation jitter is on (it mixes R, G, B with the luma
        weights; on other channel counts it would be skipped silently)."""
        super()._check_rank(shape, name)
        if tuple(self.saturation) != (1.0, 1.0) and shape[-1] is not None and shape[-1] != 3:
            raise ValueError(f"RandomColor: saturation={tuple(self.saturation)} needs 3 (RGB) channels, got {name} "
                             f"of shape {tuple(shape)}; use saturation=(1.0, 1.0) for other channel counts")

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
        param = lambda key: _per_image(B.cast(params[key], images.dtype), B)  # noqa: E731 -- drawn in float32
        width = 255.0 if self.value_range is None else self.value_range[1] - self.value_range[0]
        images = images + param("brightness") * width
        mean = B.numpy.mean(images, axis=(1, 2, 3), keepdims=True)
        images = mean + param("contrast") * (images - mean)
        if images.shape[-1] == 3:
            weights = B.convert_to_tensor([0.299, 0.587, 0.114], dtype=images.dtype)
            grey = B.numpy.sum(images * weights, axis=-1, keepdims=True)
            images = grey + param("saturation") * (images - grey)
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
        self.size = check_positive_int("size", size)
        self.count = check_positive_int("count", count)
        self.fill_value = check_number("fill_value", fill_value)
        self.p = check_probability("p", p)

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
        self.stddev = check_number("stddev", stddev, 0.0)

    def sample(self, shape, seed):
        B = self.backend
        return {
            "sigma": self._uniform((shape[0],), 0.0, self.stddev, seed),
            "noise": B.random.normal(tuple(shape), seed=seed),
        }

    def _scaled_noise(self, images, params):
        """``σ_i ε`` in the images' dtype (both are drawn in float32)."""
        B = self.backend
        return _per_image(B.cast(params["sigma"], images.dtype), B) * B.cast(params["noise"], images.dtype)

    def apply(self, images, params):
        return self._clip(images + self._scaled_noise(images, params))

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
        return self._clip(images * (1.0 + self._scaled_noise(images, params)))


@keras.saving.register_keras_serializable(package="recipes")
class Sequential(ImageAugmentation):
    """Composition ``T = T_K ∘ … ∘ T_1`` of image augmentations, each drawing per image.

    A call-time key ``s`` is expanded into one key per stage, ``s^(k) = (s_0, r_k)``
    (:class:`_StatelessSeeds`), so the whole chain stays a pure function of ``s``; ``context`` is
    passed to every stage. The last stage may be a label-mixing layer (:mod:`augment.mixing`): the
    chain then takes and returns ``(images, labels)`` (or a dict with those keys), the earlier
    stages transforming the images only. Unlike ``keras.Sequential`` it passes ``seed`` and
    ``context`` through and works in ``tf.data`` under any backend.

    Dtypes: each stage computes in its own compute dtype; the chain returns the images in *its* compute
    dtype (e.g. float16 for ``Sequential(stages, dtype="mixed_float16")`` even when the stages are float32)
    and, with a mixing stage, the labels in its label dtype (the policy's variable dtype, float32 under the
    mixed policies), in training and at inference alike.
    """

    def __init__(self, layers, **kwargs):
        kwargs.setdefault("value_range", None)
        super().__init__(**kwargs)
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, ImageAugmentation):
                raise TypeError(f"layers[{i}] must be an ImageAugmentation, got {type(layer).__name__}")
            if layer.mixes_labels and i != len(layers) - 1:
                raise ValueError(
                    f"layers[{i}] ({type(layer).__name__}) mixes labels: only the last stage may, got it at "
                    f"position {i} of {len(layers)}"
                )
        self.stages = layers

    @property
    def mixes_labels(self):
        return bool(self.stages) and self.stages[-1].mixes_labels

    @property
    def needs_context(self):
        return any(layer.needs_context for layer in self.stages)

    @property
    def image_ranks(self):
        ranks = {3, 4}
        for layer in self.stages:
            ranks &= set(layer.image_ranks)
        return tuple(sorted(ranks))

    @property
    def label_dtype(self):
        """Dtype of the labels out (with a mixing stage): the policy's variable dtype."""
        return self.dtype_policy.variable_dtype

    def build(self, input_shape=None):
        # ((N, H, W, C), (N, K)) or {"images": …, "labels": …}; None for TensorFlow tensors under another backend
        if self.mixes_labels and input_shape is not None:
            input_shape = input_shape["images"] if isinstance(input_shape, dict) else input_shape[0]
        for layer in self.stages:
            if not layer.built:
                layer.build(input_shape)
        self.built = True

    def _own_dtypes(self, out):
        """The chain's output in its own dtypes (images: compute dtype; labels: label dtype)."""
        B = self.backend
        if not self.mixes_labels:
            return B.cast(out, self.compute_dtype)
        from augment.mixing import join_batch, split_batch

        images, labels = split_batch(out, type(self).__name__)
        return join_batch(out, B.cast(images, self.compute_dtype), B.cast(labels, self.label_dtype))

    def _on_backend(self, layer, method, *args, **kwargs):
        layer.backend.set_backend(self.backend._backend)
        try:
            return getattr(layer, method)(*args, **kwargs)
        finally:
            layer.backend.reset()

    def augment(self, images, seed=None, context=None):
        B = self.backend
        base = None if seed is None else _StatelessSeeds(seed, B)
        data = images
        if self.mixes_labels:
            from augment.mixing import split_batch

            images = split_batch(data, type(self).__name__)[0]
        self._check_rank(images.shape)
        for layer in self.stages:
            stage_seed = None if base is None else base.next()
            if layer.mixes_labels:
                mixed = {**data, "images": images} if isinstance(data, dict) else (images, data[1])
                return self._own_dtypes(self._on_backend(layer, "augment", mixed, seed=stage_seed))
            images = self._on_backend(layer, "augment", images, seed=stage_seed, context=context)
        return self._own_dtypes(images)

    def identity(self, data):
        if self.mixes_labels:
            return self._own_dtypes(self._on_backend(self.stages[-1], "identity", data))
        return super().identity(data)

    def compute_output_spec(self, inputs, *args, **kwargs):
        if self.mixes_labels:
            return self.stages[-1].output_spec(inputs, self.compute_dtype, self.label_dtype)
        self._check_rank(inputs.shape)
        return keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        if self.mixes_labels:
            return self.stages[-1].compute_output_shape(input_shape)
        return super().compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config["layers"] = [keras.saving.serialize_keras_object(layer) for layer in self.stages]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layers"] = [keras.saving.deserialize_keras_object(c) for c in config["layers"]]
        return cls(**config)
