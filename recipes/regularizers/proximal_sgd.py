"""Proximal gradient descent for the L1 penalty (ISTA): a step that produces *exact* zeros.

Adding ``α‖w‖₁`` to the loss and following its subgradient (the lecture's
``w ← w − ε(α sign(w) + ∇J)``) never lands on 0: a weight whose optimum is 0 keeps jumping across it
by about ``εα`` per step. The proximal step splits the update in two,

    w ← prox_{εα‖·‖₁}(w − ε ∇J(w)) = sign(v) max(|v| − εα, 0),      v = w − ε ∇J(w),

i.e. a gradient step on the data term ``J`` only, then the soft-threshold of
:func:`recipes.regularizers.closed_forms.soft_threshold` with threshold ``εα``. Its fixed points are exactly the
minimizers of ``J + α‖w‖₁``, zeros included; under a diagonal Hessian that is the lecture's
``wᵢ = sign(wᵢ*) max(|wᵢ*| − α/Hᵢᵢ, 0)``.

Do **not** also put an L1 regularizer on the same weights: the optimizer applies the penalty itself.

Which weights: the kernels, by role (:func:`recipes.regularizers.penalties.weight_decay_variables`), never
biases, normalization ``γ``/``β`` or WeightNormalization's gain ``g``. The optimizer keeps this choice in Keras'
weight-decay exclusions: by default the rule on names (:data:`~recipes.regularizers.penalties.NON_KERNEL_NAME_PATTERN`,
exact for every layer of Keras and of this toolkit); ``restrict_weight_decay(optimizer, model)`` gives the exact
rule for a built model (layers' declared ``decay_variables`` included) before the first step.
"""
from __future__ import annotations

import re

import keras
from keras import ops

from augment.checks import check_learning_rate, check_number
from recipes.regularizers.penalties import NON_KERNEL_NAME_PATTERN

__all__ = ["ProximalSGD"]


@keras.saving.register_keras_serializable(package="recipes")
class ProximalSGD(keras.optimizers.SGD):
    """SGD followed by the L1 proximal map (soft-threshold by ``ε·l1``) on penalized variables.

    With ``momentum=0`` this is ISTA for ``J(w) + l1 ‖w‖₁``: ``w ← S_{ε l1}(w − ε ∇J)`` with
    ``S_t(v) = sign(v) max(|v| − t, 0)``. With momentum the thresholding is applied after the
    momentum step (a common heuristic, not a convergence-guaranteed method).

    Args:
        learning_rate: ``ε`` (float or schedule).
        l1: ``α ≥ 0``, the L1 coefficient of ``α ‖w‖₁`` (same scale as ``keras.regularizers.L1``).
        exclude_names: ``None`` (default): only kernels are thresholded (the rule by role, on names until
            ``restrict_weight_decay(optimizer, model)`` is called); or regular-expression fragments: variables
            whose *name* matches any of them get the plain SGD step only (0.1's default was
            ``("bias", "gamma", "beta")``, which thresholded WeightNormalization's ``g``).
        momentum, nesterov, **kwargs: as :class:`keras.optimizers.SGD`.
    """

    def __init__(
        self,
        learning_rate=0.01,
        l1=0.0,
        exclude_names=None,
        momentum=0.0,
        nesterov=False,
        name="proximal_sgd",
        **kwargs,
    ):
        l1 = check_number("l1", l1, 0.0)
        learning_rate = check_learning_rate("learning_rate", learning_rate)
        momentum = check_number("momentum", momentum, 0.0, 1.0, high_open=True)
        if isinstance(exclude_names, str):
            exclude_names = (exclude_names,)
        if exclude_names is not None:
            exclude_names = tuple(exclude_names)
        for pattern in exclude_names or ():
            if not isinstance(pattern, str):
                raise TypeError(f"exclude_names must contain strings, got {pattern!r}")
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"exclude_names has an invalid pattern {pattern!r}: {e}") from None
        super().__init__(
            learning_rate=learning_rate,
            momentum=momentum,
            nesterov=nesterov,
            name=name,
            **kwargs,
        )
        self.l1 = l1
        self.exclude_names = exclude_names
        names = [NON_KERNEL_NAME_PATTERN] if exclude_names is None else list(exclude_names)
        self.exclude_from_weight_decay(var_names=names or None)

    def _is_penalized(self, variable):
        # Keras' weight-decay exclusions: set here from exclude_names, or by restrict_weight_decay(self, model)
        return self._use_weight_decay(variable)

    def update_step(self, gradient, variable, learning_rate):
        super().update_step(gradient, variable, learning_rate)
        if self.l1 == 0.0 or not self._is_penalized(variable):
            return
        threshold = ops.cast(learning_rate, variable.dtype) * ops.cast(self.l1, variable.dtype)
        v = ops.convert_to_tensor(variable)
        shrunk = ops.sign(v) * ops.maximum(ops.abs(v) - threshold, ops.zeros_like(v))
        self.assign(variable, shrunk)

    def get_config(self):
        config = super().get_config()
        config.update({"l1": self.l1,
                       "exclude_names": None if self.exclude_names is None else list(self.exclude_names)})
        return config
