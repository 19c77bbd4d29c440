"""Noise robustness: train on ``Loss(f(X + ε), Y + δ)`` (lecture, "Noise Robustness").

* **Input noise** ``X + ε``, ``ε ~ N(0, σ²)``, any ``σ ≥ 0``: :func:`with_input_noise` puts
  :class:`recipes.dropout.gaussian_dropout.AdditiveGaussianNoise` (active only in training; Keras'
  ``GaussianNoise`` without its ``σ ≤ 1`` limit) in front of a model.
* **Weight noise** ``w + η``, ``η ~ N(0, σ²)`` drawn afresh at every training step (Graves 2011):
  :class:`WeightNoiseDense`; at inference the clean weights are used.
* **Output noise / label smoothing** ``Y + δ``: :func:`smooth_labels` and
  :class:`SparseCategoricalCrossentropyWithSmoothing`.

Label-smoothing parameterization (the one Keras' ``CategoricalCrossentropy(label_smoothing=ε)``
uses): ``y~ = (1 − ε) y + ε / K`` for ``K`` classes, so the true class gets ``1 − ε + ε/K`` and every
other class ``ε/K``. The lecture's example ``[0, 1, 0] → [0.01, 0.98, 0.01]`` is ``ε = 0.03`` with
``K = 3`` (equivalently: "take ``ε' = 0.02`` away from the true class and share it among the
``K − 1 = 2`` others", ``ε' = ε (K − 1)/K``).

Integer labels outside ``[0, K)`` (or, for the loss, not whole numbers) never give a plausible number: one-hot
encoding would silently turn them into an all-zero row (``y~ = ε/K`` everywhere, a row that does not sum to 1,
and a finite, wrong loss). When the label values are known at call time — NumPy arrays, lists, eager TensorFlow
tensors, JAX arrays outside ``jax.jit`` — a ``ValueError`` names the first bad label and ``K`` before anything is
computed. Inside a compiled graph (``tf.function``, ``jax.jit``, a compiled ``model.fit``) the values are not
known when the graph is built, so the result for such an example is NaN instead (its row of ``y~``, its loss,
and so a ``sum_over_batch_size`` loss is NaN too) — what TensorFlow's own sparse cross-entropy does on GPU.
"""
from __future__ import annotations

import sys

import keras
import numpy as np
from keras import ops

from augment.checks import check_int, check_number, check_probability, check_seed
from recipes.dropout.gaussian_dropout import AdditiveGaussianNoise

__all__ = [
    "smooth_labels",
    "SparseCategoricalCrossentropyWithSmoothing",
    "WeightNoiseDense",
    "with_input_noise",
]


def _known_values(x):
    """``x`` as a NumPy array when its values are known now (NumPy, list, scalar, eager TensorFlow tensor, JAX
    array outside ``jax.jit``); ``None`` for a symbolic tensor (``tf.function`` graph, JAX tracer, KerasTensor)."""
    if isinstance(x, keras.KerasTensor):
        return None
    tf = sys.modules.get("tensorflow")
    if tf is not None and tf.is_tensor(x) and tf.is_symbolic_tensor(x):
        return None
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(x, jax.core.Tracer):
        return None
    try:
        return np.asarray(x)
    except Exception:  # noqa: BLE001 - an object whose values cannot be read now: treated as symbolic
        return None


def _first_bad_label(values, num_classes, integral=True):
    """The first entry of ``values`` outside [0, num_classes) or (``integral``) not a whole number, else None."""
    values = np.asarray(values)
    if values.size == 0 or not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        return None
    bad = (values < 0) | (values >= num_classes)
    if integral and np.issubdtype(values.dtype, np.floating):
        bad |= ~np.isfinite(values) | (values != np.floor(values))
    if not bad.any():
        return None
    value = values[bad].flat[0]
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, float) and value.is_integer() else value  # 7.0 (Keras casts) -> 7


def _valid_label_mask(labels, num_classes):
    """Backend mask ``0 <= label < K`` (and a whole number, for float labels) of a label tensor."""
    valid = ops.logical_and(ops.greater_equal(labels, 0), ops.less(labels, ops.cast(num_classes, labels.dtype)))
    if "float" in str(labels.dtype):
        valid = ops.logical_and(valid, ops.equal(labels, ops.floor(labels)))
    return valid


def smooth_labels(y, epsilon, num_classes=None):
    """``y~ = (1 − ε) y + ε/K`` for one-hot labels or integer class labels.

    Args:
        y: one-hot (or soft) labels of shape ``(..., K)`` — then ``num_classes`` may be omitted —
            or integer labels of shape ``(...)`` with ``num_classes = K`` given.
        epsilon: ``ε ∈ [0, 1]``; the lecture's ``[0, 1, 0] → [0.01, 0.98, 0.01]`` is ``ε = 0.03``.
        num_classes: ``K``; required for integer labels, checked against the last axis otherwise.

    Returns a float tensor of shape ``(..., K)`` (a Keras backend tensor).

    Raises:
        ValueError: an integer label outside ``[0, K)`` whose value is known now (NumPy, list, eager tensor,
            JAX array outside ``jax.jit``), naming the label and ``K``. Inside ``tf.function``/``jax.jit`` the
            row of such a label is NaN instead (see the module docstring).
    """
    epsilon = check_probability("epsilon", epsilon)
    if num_classes is not None:
        num_classes = check_int("num_classes", num_classes, 2)
    values = _known_values(y)
    if values is not None and np.issubdtype(values.dtype, np.integer) and num_classes is not None:
        bad = _first_bad_label(values, num_classes)
        if bad is not None:  # one_hot would silently map an out-of-range label to a row of zeros
            raise ValueError(f"y has label {bad} outside [0, num_classes={num_classes})")
    y = ops.convert_to_tensor(y)
    if "int" in str(y.dtype):
        if num_classes is None:
            raise ValueError("num_classes must be given (an integer in [2, inf)) for integer labels y, got None")
        valid = _valid_label_mask(y, num_classes)
        y = ops.one_hot(y, num_classes, dtype="float32")
        k = ops.cast(num_classes, y.dtype)
        smoothed = y * (1.0 - epsilon) + epsilon / k
        return ops.where(ops.expand_dims(valid, -1), smoothed, ops.full_like(smoothed, float("nan")))
    if num_classes is not None and y.shape[-1] != num_classes:
        raise ValueError(
            f"num_classes={num_classes} does not match the last axis of y ({y.shape[-1]})"
        )
    if y.shape[-1] is not None and y.shape[-1] < 2:
        raise ValueError(f"y must have >= 2 classes on its last axis, got shape {y.shape}")
    k = ops.cast(ops.shape(y)[-1], y.dtype)
    return y * (1.0 - epsilon) + epsilon / k


@keras.saving.register_keras_serializable(package="recipes")
class SparseCategoricalCrossentropyWithSmoothing(keras.losses.Loss):
    """Cross-entropy against smoothed *integer* labels: ``−Σ_k y~_k log p_k`` with
    ``y~ = (1 − ε) onehot(y) + ε/K``.

    Keras' ``SparseCategoricalCrossentropy`` has no ``label_smoothing``; this loss one-hot encodes
    the integer labels (``K`` from the prediction's last axis) and calls Keras'
    ``categorical_crossentropy(..., label_smoothing=ε)``, which uses the same parameterization.
    Labels of shape ``(N,)`` or ``(N, 1)`` are accepted.

    A label outside ``[0, K)`` or not a whole number raises ``ValueError`` (naming it and ``K``) when the labels'
    values are known at call time (eager call, ``run_eagerly=True``); inside a compiled graph (a compiled
    ``fit``/``evaluate``, ``tf.function``, ``jax.jit``) that example's loss is NaN, so the batch loss is NaN.
    """

    def __init__(self, epsilon=0.1, from_logits=False, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy_with_smoothing", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.epsilon = check_probability("epsilon", epsilon)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        num_classes = ops.shape(y_pred)[-1]
        values = _known_values(y_true)
        if values is not None and isinstance(num_classes, int):
            bad = _first_bad_label(values, num_classes)
            if bad is not None:
                raise ValueError(f"y_true has label {bad} outside [0, K={num_classes}) "
                                 f"(K = the last axis of y_pred); labels must be whole numbers in [0, K)")
        y_true = ops.convert_to_tensor(y_true)
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, axis=-1)
        valid = _valid_label_mask(y_true, num_classes)
        one_hot = ops.one_hot(ops.cast(y_true, "int32"), num_classes, dtype=y_pred.dtype)
        loss = keras.losses.categorical_crossentropy(
            one_hot, y_pred, from_logits=self.from_logits, label_smoothing=self.epsilon
        )
        return ops.where(valid, loss, ops.full_like(loss, float("nan")))

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon, "from_logits": self.from_logits})
        return config


@keras.saving.register_keras_serializable(package="recipes")
class WeightNoiseDense(keras.layers.Dense):
    """Dense layer trained with additive Gaussian weight noise: ``y = φ(x (W + η) + b)``,
    ``η ~ N(0, σ²)`` i.i.d., redrawn at every training call; ``y = φ(xW + b)`` at inference.

    For a squared loss, averaging over ``η`` adds ``σ² Σ ‖x‖² ‖∂y/∂…‖²``-type terms — weight noise acts
    as a regularizer that prefers flat minima (Graves 2011; Goodfellow et al. §7.5). The bias is not
    perturbed.

    Args:
        units: output size.
        stddev: ``σ ≥ 0``.
        seed: int or None, seeds a :class:`keras.random.SeedGenerator`.
        **kwargs: as :class:`keras.layers.Dense`.
    """

    def __init__(self, units, stddev=0.01, seed=None, **kwargs):
        stddev = check_number("stddev", stddev, 0.0)
        seed = check_seed("seed", seed)
        super().__init__(units, **kwargs)
        self.stddev = stddev
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        kernel = self.kernel
        if training and self.stddev > 0:
            kernel = kernel + keras.random.normal(
                ops.shape(kernel), stddev=self.stddev, dtype=kernel.dtype, seed=self.seed_generator
            )
        x = ops.matmul(inputs, kernel)
        if self.use_bias:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x

    def get_config(self):
        config = super().get_config()
        config.update({"stddev": self.stddev, "seed": self.seed})
        return config


def with_input_noise(model, stddev, seed=None, name=None):
    """Return a model ``x ↦ f(x + ε)``, ``ε ~ N(0, σ²)`` in training only, any ``σ ≥ 0``
    (:class:`~recipes.dropout.gaussian_dropout.AdditiveGaussianNoise` named ``"input_noise"``).

    ``model`` must have a single input with a known shape; its weights are shared, not copied.
    """
    stddev = check_number("stddev", stddev, 0.0)
    seed = check_seed("seed", seed)
    if len(model.inputs) != 1:
        raise ValueError(f"model must have exactly one input, got {len(model.inputs)}")
    inp = keras.Input(shape=model.inputs[0].shape[1:], dtype=model.inputs[0].dtype)
    x = AdditiveGaussianNoise(stddev, seed=seed, name="input_noise")(inp)
    return keras.Model(inp, model(x), name=name or f"{model.name}_with_input_noise")
