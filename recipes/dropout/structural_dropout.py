"""Structural dropout (Knodt 2022, "Structural Dropout for Model Width Compression").

Lecture, "Regularization – Structural Dropout": "rather than randomly selecting indices to prune,
during training Structural Dropout prunes all nodes after a uniformly randomly selected index, and
normalizes the expectation based on the number of features dropped."

For ``d`` features (last axis), training draws a kept width ``k ~ Uniform{k_min, …, d}`` and
computes

    y_i = (d / k) · x_i · 1[i < k],

i.e. a random *prefix* of the units is kept and rescaled by the fraction kept (like inverted
dropout with keep-fraction k/d). Because every prefix width is trained, the first ``w`` units form a
working narrower layer: at inference the layer applies the same map with a chosen width ``w``
(default ``d``: identity), so one trained model serves several widths, and the units after ``w``
(with the weights that read them) can be removed.
"""
import numbers

import keras
from keras import ops

from augment.checks import check_int, check_number, check_positive_int, check_seed


@keras.saving.register_keras_serializable(package="recipes")
class StructuralDropout(keras.layers.Layer):
    """Keep a uniformly random prefix of the last axis in training; a chosen prefix at inference.

    Training: ``k ~ Uniform{k_min, …, d}`` (one draw per example with ``per_example=True``, the
    default, else one per batch), ``y = (d/k) · x ⊙ 1[i < k]``. Inference: the same with ``k = w``,
    the layer's inference width (a non-trainable variable, saved with the model; ``w = d`` is the
    identity). Set it with :meth:`set_width` or :func:`set_structural_width`.

    Args:
        min_units: smallest kept width ``k_min`` ≥ 1 (default 1); capped at ``d``.
        per_example: draw ``k`` per example (default) or once per batch.
        seed: int seed of the layer's ``keras.random.SeedGenerator``.
    """

    def __init__(self, min_units=1, per_example=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.min_units = check_positive_int("min_units", min_units)
        self.per_example = bool(per_example)
        self.seed = check_seed("seed", seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.supports_masking = True

    def build(self, input_shape):
        d = input_shape[-1]
        if d is None:
            raise ValueError("StructuralDropout needs a known last dimension")
        self.units = int(d)
        self.width = self.add_weight(
            shape=(), dtype="int32", initializer=keras.initializers.Constant(self.units),
            trainable=False, name="inference_width",
        )

    def set_width(self, width):
        """Set the inference width ``w`` (an int in [1, d], or a float fraction in (0, 1] of d)."""
        if not self.built:
            raise ValueError("build the layer (call it once) before setting its width")
        self.width.assign(_resolve_width(width, self.units))

    def _apply(self, inputs, k):
        # k broadcasts against the mask's leading axes: shape (batch, 1, ..., 1) or ().
        idx = ops.arange(self.units, dtype="int32")
        keep = ops.cast(idx < k, inputs.dtype)
        scale = ops.cast(self.units, inputs.dtype) / ops.cast(k, inputs.dtype)
        return inputs * keep * scale

    def sample_widths(self, batch_size):
        """Draw kept widths ``k ~ Uniform{k_min, …, d}``: shape ``(batch_size,)`` or ``()``."""
        low = min(self.min_units, self.units)
        shape = (batch_size,) if self.per_example else ()
        return keras.random.randint(shape, low, self.units + 1, dtype="int32", seed=self.seed_generator)

    def call(self, inputs, training=False):
        if not training:
            return self._apply(inputs, self.width)
        k = self.sample_widths(ops.shape(inputs)[0])
        if self.per_example:
            k = ops.reshape(k, (-1,) + (1,) * (len(inputs.shape) - 1))
        return self._apply(inputs, k)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"min_units": self.min_units, "per_example": self.per_example, "seed": self.seed})
        return config


def _resolve_width(width, units):
    """k for ``width``: an integer in [1, d], or a fraction f in (0, 1] of d, k = max(1, round(f·d))."""
    if isinstance(width, bool) or not isinstance(width, numbers.Real):
        raise TypeError(f"width must be an integer in [1, {units}] or a fraction in (0, 1], got {width!r}")
    if isinstance(width, numbers.Integral):
        return check_int("width", width, 1, units)
    return max(1, int(round(check_number("width", width, 0.0, 1.0, low_open=True) * units)))


def set_structural_width(model, width):
    """Set the inference width of every ``StructuralDropout`` in ``model`` (int, or fraction of each d).

    Returns the list of widths set. Takes effect in compiled ``predict``/``evaluate`` too (the width
    is a variable).
    """
    widths = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, StructuralDropout):
            layer.set_width(width)
            widths.append(int(ops.convert_to_numpy(layer.width)))
    if not widths:
        raise ValueError("model has no StructuralDropout layer")
    return widths
