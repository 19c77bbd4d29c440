"""Noise robustness: train on ``Loss(f(X + ε), Y + δ)`` (lecture, "Noise Robustness").

* **Input noise** ``X + ε``, ``ε ~ N(0, σ²)``: :func:`with_input_noise` puts Keras'
  :class:`keras.layers.GaussianNoise` (active only in training) in front of a model.
* **Weight noise** ``w + η``, ``η ~ N(0, σ²)`` drawn afresh at every training step (Graves 2011):
  :class:`WeightNoiseDense`; at inference the clean weights are used.
* **Output noise / label smoothing** ``Y + δ``: :func:`smooth_labels` and
  :class:`SparseCategoricalCrossentropyWithSmoothing`.

Label-smoothing parameterization (the one Keras' ``CategoricalCrossentropy(label_smoothing=ε)``
uses): ``y~ = (1 − ε) y + ε / K`` for ``K`` classes, so the true class gets ``1 − ε + ε/K`` and every
other class ``ε/K``. The lecture's example ``[0, 1, 0] → [0.01, 0.98, 0.01]`` is ``ε = 0.03`` with
``K = 3`` (equivalently: "take ``ε' = 0.02`` away from the true class and share it among the
``K − 1 = 2`` others", ``ε' = ε (K − 1)/K``).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from augment.checks import check_int, check_number, check_probability, check_seed

__all__ = [
    "smooth_labels",
    "SparseCategoricalCrossentropyWithSmoothing",
    "WeightNoiseDense",
    "with_input_noise",
]


def smooth_labels(y, epsilon, num_classes=None):
    """``y~ = (1 − ε) y + ε/K`` for one-hot labels or integer class labels.

    Args:
        y: one-hot (or soft) labels of shape ``(..., K)`` — then ``num_classes`` may be omitted —
            or integer labels of shape ``(...)`` with ``num_classes = K`` given.
        epsilon: ``ε ∈ [0, 1]``; the lecture's ``[0, 1, 0] → [0.01, 0.98, 0.01]`` is ``ε = 0.03``.
        num_classes: ``K``; required for integer labels, checked against the last axis otherwise.

    Returns a float tensor of shape ``(..., K)`` (a Keras backend tensor).
    """
    epsilon = check_probability("epsilon", epsilon)
    if num_classes is not None:
        num_classes = check_int("num_classes", num_classes, 2)
    if isinstance(y, (list, tuple, np.ndarray)) and np.issubdtype(np.asarray(y).dtype, np.integer) \
            and num_classes is not None and np.asarray(y).size:
        labels = np.asarray(y)  # concrete labels: one_hot would silently map an out-of-range label to zeros
        if labels.min() < 0 or labels.max() >= num_classes:
            bad = labels[(labels < 0) | (labels >= num_classes)].flat[0]
            raise ValueError(f"y has label {bad} outside [0, num_classes={num_classes})")
    y = ops.convert_to_tensor(y)
    if "int" in str(y.dtype):
        if num_classes is None:
            raise ValueError("num_classes must be given (an integer in [2, inf)) for integer labels y, got None")
        y = ops.one_hot(y, num_classes, dtype="float32")
    else:
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
    """

    def __init__(self, epsilon=0.1, from_logits=False, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy_with_smoothing", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.epsilon = check_probability("epsilon", epsilon)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(ops.convert_to_tensor(y_true), "int32")
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, axis=-1)
        one_hot = ops.one_hot(y_true, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, from_logits=self.from_logits, label_smoothing=self.epsilon
        )

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
    """Return a model ``x ↦ f(x + ε)``, ``ε ~ N(0, σ²)`` in training only (Keras' ``GaussianNoise``).

    ``model`` must have a single input with a known shape; its weights are shared, not copied.
    """
    stddev = check_number("stddev", stddev, 0.0)
    seed = check_seed("seed", seed)
    if len(model.inputs) != 1:
        raise ValueError(f"model must have exactly one input, got {len(model.inputs)}")
    inp = keras.Input(shape=model.inputs[0].shape[1:], dtype=model.inputs[0].dtype)
    x = keras.layers.GaussianNoise(stddev, seed=seed, name="input_noise")(inp)
    return keras.Model(inp, model(x), name=name or f"{model.name}_with_input_noise")
