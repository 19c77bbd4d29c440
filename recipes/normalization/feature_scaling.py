"""Input feature scaling fitted from the training set: min-max scaling and z-score standardization.

The lecture's "Simple Methods" of the Normalization section, for feature k of sample i:

* min-max scaling to [0, 1]:   x̃_ki = (x_ki − min_k) / (max_k − min_k)
* min-max scaling to [−1, 1]:  x̃_ki = (2 x_ki − (max_k + min_k)) / (max_k − min_k)
  (any target range [a, b]:    x̃_ki = a + (b − a)(x_ki − min_k) / (max_k − min_k))
* z-score standardization:     x̃_ki = (x_ki − m_k) / sqrt(σ_k² + ε),
  m_k = (1/N) Σ_i x_ki,  σ_k² = (1/N) Σ_i (x_ki − m_k)²,
  optionally followed by a learnable scale and shift x̂_ki = γ_k x̃_ki + β_k.

min_k, max_k, m_k and σ_k² are statistics of the *training set*, computed once by ``adapt`` (streaming over
batches when the data is a ``tf.data.Dataset`` or an iterable of batches) and stored as non-trainable weights, so
they are saved with the model and the same transform is applied at test time.

``ZScoreNormalization`` reuses ``keras.layers.Normalization`` (its ``adapt`` computes exactly m_k and the
population variance σ_k²); it only changes the denominator to the lecture's sqrt(σ_k² + ε) (Keras divides by
max(σ_k, 1e-7)) and adds the optional γ, β.

Example::

    scale = MinMaxScaling(feature_range=(-1, 1))
    scale.adapt(x_train)                       # min_k, max_k over the training set
    z = ZScoreNormalization(scale_shift=True)  # learnable γ, β, initialised to 1 and 0
    z.adapt(x_train)
    model = keras.Sequential([keras.Input(x_train.shape[1:]), z, keras.layers.Dense(10)])
"""
import numbers

import numpy as np
import keras
from keras import ops

from augment.checks import check_finite_array, check_number, check_pair

__all__ = ["MinMaxScaling", "ZScoreNormalization"]


def _normalize_axis(axis):
    if axis is None:
        return ()
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        return (int(axis),)
    if isinstance(axis, (tuple, list)) and all(
        isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis
    ):
        return tuple(int(a) for a in axis)
    raise TypeError(f"axis must be None, an int or a tuple of ints, got {axis!r}")


def _iter_batches(data):
    """Yields NumPy batches from an array, a backend tensor, a tf.data.Dataset or an iterable of batches
    (elements that are tuples (x, y[, w]) contribute their x)."""
    if isinstance(data, np.ndarray) or keras.ops.is_tensor(data):
        yield np.asarray(keras.ops.convert_to_numpy(data))
        return
    if not hasattr(data, "__iter__"):
        raise TypeError(
            "data must be a NumPy array, a tensor, a tf.data.Dataset or an iterable of batches, "
            f"got {type(data).__name__}"
        )
    for batch in data:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        yield np.asarray(keras.ops.convert_to_numpy(batch))


@keras.saving.register_keras_serializable(package="recipes")
class MinMaxScaling(keras.layers.Layer):
    """Min-max scaling x̃_ki = a + (b − a)(x_ki − min_k)/(max_k − min_k) into ``feature_range`` = (a, b).

    With (a, b) = (0, 1) this is the lecture's x̃ = (x − min_k)/(max_k − min_k) ∈ [0, 1]; with (−1, 1) it is
    x̃ = (2x − (max_k + min_k))/(max_k − min_k) ∈ [−1, 1]. min_k and max_k are taken over the training set by
    ``adapt`` (or passed as ``minimum`` / ``maximum``), one per index of the kept ``axis`` (like
    ``keras.layers.Normalization``: ``axis=-1`` = one statistic per feature/channel, ``None`` = one scalar).
    A constant feature (max_k = min_k) is mapped to a. Values outside [min_k, max_k] at test time are mapped
    outside [a, b] (no clipping) unless ``clip=True``.

    Args:
        feature_range: (a, b) with a < b, default (0, 1).
        axis: kept axis or axes (one min/max per index), default -1; None for a single scalar min/max.
        minimum, maximum: optional fixed statistics (both or neither), broadcastable to the kept axes.
        clip: clip the output to [a, b].
        invert: apply the inverse map x = min_k + (x̃ − a)(max_k − min_k)/(b − a).
    """

    def __init__(self, feature_range=(0.0, 1.0), axis=-1, minimum=None, maximum=None, clip=False,
                 invert=False, **kwargs):
        super().__init__(**kwargs)
        a, b = check_pair("feature_range", feature_range)
        if a == b:
            raise ValueError(f"feature_range must be a pair (a, b) with a < b, got {feature_range!r}")
        if (minimum is None) != (maximum is None):
            raise ValueError(f"minimum and maximum must be given together (both or neither), got minimum={minimum!r}, "
                             f"maximum={maximum!r}")
        if minimum is not None:
            low, high = np.broadcast_arrays(check_finite_array("minimum", np.asarray(minimum, "float64")),
                                            check_finite_array("maximum", np.asarray(maximum, "float64")))
            if np.any(high < low):
                i = tuple(int(j) for j in np.argwhere(high < low)[0])
                raise ValueError(f"maximum must be >= minimum for every feature, got maximum={high[i].item()!r} < "
                                 f"minimum={low[i].item()!r} at index {i}")
        self.feature_range = (a, b)
        self.axis = _normalize_axis(axis)
        self.input_minimum = None if minimum is None else np.asarray(minimum, "float32").tolist()
        self.input_maximum = None if maximum is None else np.asarray(maximum, "float32").tolist()
        self.clip = bool(clip)
        self.invert = bool(invert)
        self.supports_masking = True

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"axis values must be in [-{ndim}, {ndim}) for inputs of rank {ndim}, got {self.axis}")
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError(f"kept axis {d} must have a known size, got input_shape={input_shape}")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(input_shape[d] if d in self._keep_axis else 1 for d in range(ndim))
        stat_shape = tuple(input_shape[d] for d in self._keep_axis)
        self._build_input_shape = tuple(input_shape)
        self.minimum = self.add_weight(name="minimum", shape=stat_shape, initializer="zeros", trainable=False)
        self.maximum = self.add_weight(name="maximum", shape=stat_shape, initializer="ones", trainable=False)
        if self.input_minimum is not None:
            self.minimum.assign(np.broadcast_to(np.asarray(self.input_minimum, "float32"), stat_shape))
            self.maximum.assign(np.broadcast_to(np.asarray(self.input_maximum, "float32"), stat_shape))

    def adapt(self, data):
        """Sets min_k = min_i x_ki and max_k = max_i x_ki over all of ``data`` (array, tensor, tf.data.Dataset
        or iterable of batches; for tuples (x, y) only x is used)."""
        lo = hi = None
        for batch in _iter_batches(data):
            if not self.built:
                self.build(batch.shape)
            elif tuple(batch.shape[d] for d in self._keep_axis) != tuple(
                self._build_input_shape[d] for d in self._keep_axis
            ):
                raise ValueError(
                    f"adapt data has shape {batch.shape}, incompatible with the built input shape "
                    f"{self._build_input_shape} on the kept axes {self._keep_axis}"
                )
            b_lo = batch.min(axis=self._reduce_axis)
            b_hi = batch.max(axis=self._reduce_axis)
            lo = b_lo if lo is None else np.minimum(lo, b_lo)
            hi = b_hi if hi is None else np.maximum(hi, b_hi)
        if lo is None:
            raise ValueError("adapt() received no data (an empty iterable)")
        self.minimum.assign(lo.astype("float32"))
        self.maximum.assign(hi.astype("float32"))

    def call(self, inputs):
        a, b = self.feature_range
        inputs = ops.cast(inputs, self.compute_dtype)
        lo = ops.reshape(ops.cast(self.minimum, self.compute_dtype), self._broadcast_shape)
        hi = ops.reshape(ops.cast(self.maximum, self.compute_dtype), self._broadcast_shape)
        span = hi - lo
        safe = ops.where(span > 0, span, ops.ones_like(span))
        if self.invert:
            return lo + (inputs - a) * span / (b - a)
        outputs = a + (b - a) * (inputs - lo) / safe
        outputs = ops.where(span > 0, outputs, a * ops.ones_like(outputs))
        if self.clip:
            outputs = ops.clip(outputs, a, b)
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "feature_range": list(self.feature_range),
            "axis": list(self.axis) if len(self.axis) != 1 else self.axis[0],
            "minimum": self.input_minimum,
            "maximum": self.input_maximum,
            "clip": self.clip,
            "invert": self.invert,
        })
        if not self.axis:
            config["axis"] = None
        return config


@keras.saving.register_keras_serializable(package="recipes")
class ZScoreNormalization(keras.layers.Normalization):
    """Z-score standardization x̃_ki = (x_ki − m_k)/sqrt(σ_k² + ε), optionally x̂_ki = γ_k x̃_ki + β_k.

    m_k and σ_k² = (1/N) Σ_i (x_ki − m_k)² are the training-set mean and (population) variance computed by
    ``keras.layers.Normalization.adapt`` (this class subclasses it; ``axis``, ``mean``, ``variance`` and
    ``adapt`` behave exactly as there). Differences: the denominator is the lecture's sqrt(σ_k² + ε) with a
    configurable ``epsilon`` (Keras uses max(σ_k, 1e-7)), and with ``scale_shift=True`` the layer owns
    trainable γ (init 1) and β (init 0), one per kept index, learned by back-propagation with the model.

    Args:
        axis, mean, variance, invert: as in ``keras.layers.Normalization``.
        epsilon: ε ≥ 0 added to σ_k², default 1e-7.
        scale_shift: add the learnable γ, β.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, epsilon=1e-7, scale_shift=False,
                 **kwargs):
        epsilon = check_number("epsilon", epsilon, 0.0)
        if not isinstance(scale_shift, bool):
            raise TypeError(f"scale_shift must be a bool, got {scale_shift!r}")
        if invert and scale_shift:
            raise ValueError("scale_shift must be False with invert=True (the inverse map has no γ, β), got True")
        super().__init__(axis=axis, mean=mean, variance=variance, invert=invert, **kwargs)
        self.epsilon = epsilon
        self.scale_shift = scale_shift
        self.gamma = None
        self.beta = None

    def build(self, input_shape):
        super().build(input_shape)
        if self.scale_shift and self.gamma is None:
            shape = tuple(input_shape[d] for d in self._keep_axis)
            self.gamma = self.add_weight(name="gamma", shape=shape, initializer="ones", trainable=True)
            self.beta = self.add_weight(name="beta", shape=shape, initializer="zeros", trainable=True)

    def call(self, inputs):
        if self.mean is None:
            raise ValueError("build the layer (or call adapt) before using it")
        np_ = self.backend.numpy
        inputs = self.backend.core.convert_to_tensor(inputs, dtype=self.compute_dtype)
        mean = self.convert_weight(self.mean)
        std = np_.sqrt(np_.add(self.convert_weight(self.variance), self.epsilon))
        if self.invert:
            return np_.add(mean, np_.multiply(inputs, std))
        outputs = np_.divide(np_.subtract(inputs, mean), std)
        if self.scale_shift:
            gamma = np_.reshape(self.convert_weight(self.gamma), self._broadcast_shape)
            beta = np_.reshape(self.convert_weight(self.beta), self._broadcast_shape)
            outputs = np_.add(np_.multiply(outputs, gamma), beta)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon, "scale_shift": self.scale_shift})
        return config
