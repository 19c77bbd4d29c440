"""SGD with parameter groups, in PyTorch's form: per-variable learning-rate scales, coupled weight decay and a
step after which a variable stops training — what ``torch.optim.SGD`` with ``param_groups`` does, for Keras 3.

Keras optimizers have one learning rate for every variable; PyTorch's take a list of parameter groups, each with
its own ``lr`` and ``weight_decay``. For SGD with momentum the two agree once the group's factor is moved into the
gradient. PyTorch's step for a parameter w of a group with learning rate c·ε_k and decay λ/c is

    d_k = g_k + (λ/c)·w_k,   b_k = μ b_{k−1} + d_k,   w_{k+1} = w_k − c ε_k (d_k + μ b_k)   (Nesterov)

and with b' = c·b this is exactly

    d'_k = c·g_k + λ·w_k,    b'_k = μ b'_{k−1} + d'_k,  w_{k+1} = w_k − ε_k (d'_k + μ b'_k),

which is the rule of :class:`GroupedSGD` with gradient scale c and coupled decay λ: scaling a variable's
gradient by c is scaling its learning rate by c (but not its weight decay). Two more points where PyTorch's SGD
and Keras' ``keras.optimizers.SGD`` differ, and this class follows PyTorch:

* the decay is *coupled*: λw is added to the gradient and so goes through the momentum buffer (Keras'
  ``weight_decay`` is decoupled, w ← w − ε λ w outside the momentum);
* the learning rate multiplies the buffer at the update (w ← w − ε_k(d_k + μ b_k)); Keras folds ε_k into the
  velocity (v ← μ v − ε_k g_k), which differs from PyTorch whenever ε_k changes from step to step (warm-up,
  decay).

airbench94 (Jordan 2024) in these terms: mean loss over the batch, ε = 1.5 (its lr 11.5/(1024·(1 + 1/(1 − μ)))
times the batch of the summed loss), μ = 0.85, λ = 0.0153/11.5 on every trainable variable, c = 64 on the
BatchNorm biases, and the whitening layer's bias trained for the first 3 epochs only.
"""
from __future__ import annotations

import re

import keras
from keras import ops

from augment.checks import check_int, check_learning_rate, check_number

__all__ = ["GroupedSGD", "param_group"]


def param_group(pattern, lr_scale=1.0, weight_decay=None, train_steps=None):
    """One parameter group of :class:`GroupedSGD`, as a JSON-able dict (checked).

    Args:
        pattern: a regular expression searched (``re.search``) in each variable's ``path``
            (``"airbench/group1_bn1/beta"``); the first group that matches a variable is its group.
        lr_scale: c > 0, the factor on the variable's gradient (= on its learning rate).
        weight_decay: λ >= 0 for this group, or ``None`` for the optimizer's ``coupled_weight_decay``.
        train_steps: S >= 0: the variable is updated in steps 0 … S − 1 only (its value, momentum and decay are
            frozen from step S on, as with ``requires_grad = False`` in PyTorch); ``None``: always.
    """
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a regular expression (str), got {pattern!r}")
    try:
        re.compile(pattern)
    except re.error as err:
        raise ValueError(f"pattern must be a valid regular expression, got {pattern!r}: {err}") from None
    group = {"pattern": pattern, "lr_scale": check_number("lr_scale", lr_scale, 0.0, low_open=True)}
    group["weight_decay"] = None if weight_decay is None else check_number("weight_decay", weight_decay, 0.0)
    group["train_steps"] = None if train_steps is None else check_int("train_steps", train_steps, 0)
    return group


@keras.saving.register_keras_serializable(package="recipes")
class GroupedSGD(keras.optimizers.Optimizer):
    """SGD with (Nesterov) momentum in PyTorch's form, with parameter groups (module docstring):

        d_k = c_v g_k + λ_v w_k,   b_k = μ b_{k−1} + d_k (b_{−1} = 0),
        w_{k+1} = w_k − ε_k (d_k + μ b_k) with Nesterov, w_k − ε_k b_k without (w_k − ε_k d_k when μ = 0),

    where g_k is the gradient of the loss Keras minimizes, ε_k the learning rate (a float or a schedule of the
    step k), c_v and λ_v the gradient scale and coupled weight decay of the variable's group (c = 1 and
    λ = ``coupled_weight_decay`` for variables in no group). A group with ``train_steps`` S leaves its variables
    and their momentum untouched from step S on.

    Args:
        learning_rate: ε > 0, a float or a ``LearningRateSchedule``.
        momentum: μ in [0, 1).
        nesterov: Nesterov's form of the momentum update.
        coupled_weight_decay: λ >= 0 for variables whose group sets none (added to the gradient, so it goes
            through the momentum buffer, as PyTorch's ``weight_decay``).
        groups: a sequence of :func:`param_group` dicts (or their keyword arguments as dicts).
        **kwargs: Keras' optimizer arguments (``global_clipnorm``, ``clipnorm``, ``name``, …); Keras' own
            (decoupled) ``weight_decay`` is refused, use ``coupled_weight_decay``.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, coupled_weight_decay=0.0, groups=(),
                 name="grouped_sgd", **kwargs):
        learning_rate = check_learning_rate("learning_rate", learning_rate)
        momentum = check_number("momentum", momentum, 0.0, 1.0, high_open=True)
        coupled_weight_decay = check_number("coupled_weight_decay", coupled_weight_decay, 0.0)
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        if kwargs.get("weight_decay") not in (None, 0, 0.0):
            raise ValueError("weight_decay (Keras' decoupled decay) is not used by GroupedSGD: pass "
                             "coupled_weight_decay (λw added to the gradient), got "
                             f"weight_decay={kwargs['weight_decay']!r}")
        kwargs.pop("weight_decay", None)
        if isinstance(groups, (str, dict)) or not hasattr(groups, "__iter__"):
            raise TypeError(f"groups must be a sequence of param_group dicts, got {groups!r}")
        checked = []
        for i, group in enumerate(groups):
            if not isinstance(group, dict):
                raise TypeError(f"groups[{i}] must be a dict of param_group's arguments, got {group!r}")
            unknown = sorted(set(group) - {"pattern", "lr_scale", "weight_decay", "train_steps"})
            if unknown:
                raise ValueError(f"groups[{i}] has unknown keys {unknown}; allowed: pattern, lr_scale, "
                                 "weight_decay, train_steps")
            checked.append(param_group(**group))
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = momentum
        self.nesterov = nesterov
        self.coupled_weight_decay = coupled_weight_decay
        self.groups = checked

    def group_of(self, variable):
        """The group dict of ``variable`` (the first whose pattern is found in its path), or ``None``."""
        path = getattr(variable, "path", None) or variable.name
        for group in self.groups:
            if re.search(group["pattern"], path):
                return group
        return None

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._rules = []  # per variable index: (c, λ, S)
        for v in variables:
            group = self.group_of(v) or {}
            decay = group.get("weight_decay")
            self._rules.append((group.get("lr_scale", 1.0),
                                self.coupled_weight_decay if decay is None else decay, group.get("train_steps")))
        self.momentums = self.add_optimizer_variables(variables, "momentum") if self.momentum else []

    def update_step(self, gradient, variable, learning_rate):
        """One step of the rule in the class docstring for ``variable``."""
        index = self._get_variable_index(variable)
        scale, decay, train_steps = self._rules[index]
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        d = ops.cast(gradient, dtype)
        if scale != 1.0:
            d = d * ops.cast(scale, dtype)
        if decay:
            d = d + ops.cast(decay, dtype) * variable
        active = None
        if train_steps is not None:
            active = ops.cast(ops.less(self.iterations, train_steps), dtype)  # 1 in steps 0 … S−1, then 0
        if self.momentum:
            b = self.momentums[index]
            mu = ops.cast(self.momentum, dtype)
            b_new = mu * b + d
            step = d + mu * b_new if self.nesterov else b_new
            if active is not None:
                b_new = active * b_new + (1.0 - active) * b
            self.assign(b, b_new)
        else:
            step = d
        if active is not None:
            step = active * step
        self.assign_sub(variable, lr * step)

    def get_config(self):
        config = super().get_config()
        config.pop("weight_decay", None)
        config.update(momentum=self.momentum, nesterov=self.nesterov,
                      coupled_weight_decay=self.coupled_weight_decay, groups=[dict(g) for g in self.groups])
        return config
