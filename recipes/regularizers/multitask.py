"""Multitask learning: hard and soft parameter sharing (lecture, "Multitasking Learning").

* **Hard sharing** (:func:`build_hard_sharing_model`): one trunk ``h = f(ω_shared, x)`` shared by all
  tasks, one head per task ``ŷ_t = g_t(ω_t, h)``.
* **Soft sharing** (:func:`build_soft_sharing_model`): one tower per task ``ŷ_t = f_t(ω_t, x)``, the
  towers' corresponding layers tied by ``λ Σ_{t<u} ‖ω_t − ω_u‖²`` (the lecture's "cross-talk":
  distance between parameters used as regularizer; :class:`recipes.regularizers.parameter_tying.ParameterTying`).

Both are trained on ``J = Σ_t c_t J_t(ŷ_t, y_t)`` (+ the tying penalty) with Keras' per-output
losses and ``loss_weights`` (:func:`compile_multitask`); outputs are a dict keyed by task name.
"""
from __future__ import annotations

import keras

from augment.checks import check_int_sequence, check_number, check_positive_int
from recipes.regularizers.parameter_tying import ParameterTying

__all__ = ["build_hard_sharing_model", "build_soft_sharing_model", "compile_multitask"]


def _tasks(tasks, min_tasks=1):
    """``tasks``: a dict {identifier: number of outputs in [1, inf)} with at least ``min_tasks`` entries."""
    if not isinstance(tasks, dict) or len(tasks) < min_tasks:
        raise ValueError(f"tasks must be a dict {{task name: number of outputs}} with at least {min_tasks} "
                         f"task{'s' if min_tasks > 1 else ''}, got {tasks!r}")
    for name, n in tasks.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"tasks must have identifiers as task names, got {name!r}")
        check_positive_int(f"tasks[{name!r}]", n)
    return tasks


def build_hard_sharing_model(input_shape, tasks, trunk_units=(64,), head_units=(), activation="relu",
                             name="hard_sharing"):
    """Shared trunk + one head per task: ``ŷ_t = g_t(f(x; ω_shared); ω_t)``.

    Args:
        input_shape: shape of one input, e.g. ``(2,)``.
        tasks: ``{task name: outputs}``; each head ends in a linear ``Dense(outputs)`` named after
            the task (logits / regression values).
        trunk_units: widths of the shared ``Dense`` layers (named ``trunk_0``, ``trunk_1``, ...).
        head_units: widths of extra per-task hidden layers (``<task>_hidden_0``, ...).
    """
    _tasks(tasks)
    trunk_units = check_int_sequence("trunk_units", trunk_units, 1, min_length=1)
    head_units = check_int_sequence("head_units", head_units, 1)
    inp = keras.Input(input_shape, name="x")
    h = inp
    for i, u in enumerate(trunk_units):
        h = keras.layers.Dense(u, activation=activation, name=f"trunk_{i}")(h)
    outputs = {}
    for task, n in tasks.items():
        z = h
        for i, u in enumerate(head_units):
            z = keras.layers.Dense(u, activation=activation, name=f"{task}_hidden_{i}")(z)
        outputs[task] = keras.layers.Dense(n, name=task)(z)
    return keras.Model(inp, outputs, name=name)


def build_soft_sharing_model(input_shape, tasks, tower_units=(64,), tying_strength=1e-2, activation="relu",
                             name="soft_sharing"):
    """One tower per task, corresponding hidden layers tied by ``λ Σ_{t<u} ‖ω_t − ω_u‖²``.

    Tower ``t`` has ``Dense`` layers ``<t>_tower_0, <t>_tower_1, ...`` and a linear output
    ``Dense(outputs)`` named ``t``. Hidden layer ``i`` of every pair of towers is tied (kernels
    only; the output layers differ in size in general and are not tied). Returns a
    :class:`~recipes.regularizers.parameter_tying.ParameterTying` model whose outputs are ``{task: ŷ_t}``.
    """
    _tasks(tasks, min_tasks=2)  # soft sharing ties at least two towers
    tower_units = check_int_sequence("tower_units", tower_units, 1, min_length=1)
    tying_strength = check_number("tying_strength", tying_strength, 0.0)
    inp = keras.Input(input_shape, name="x")
    outputs = {}
    for task, n in tasks.items():
        h = inp
        for i, u in enumerate(tower_units):
            h = keras.layers.Dense(u, activation=activation, name=f"{task}_tower_{i}")(h)
        outputs[task] = keras.layers.Dense(n, name=task)(h)
    towers = keras.Model(inp, outputs, name=f"{name}_towers")
    names = list(tasks)
    pairs = [
        (f"{a}_tower_{i}", f"{b}_tower_{i}")
        for i in range(len(tower_units))
        for j, a in enumerate(names)
        for b in names[j + 1:]
    ]
    return ParameterTying(towers, pairs, strength=tying_strength, name=name)


def compile_multitask(model, losses, loss_weights=None, optimizer="adam", metrics=None, **kwargs):
    """``model.compile`` for ``J = Σ_t c_t J_t``: ``losses`` and ``loss_weights`` are dicts keyed by
    task name (missing weights default to 1). Raises ``ValueError`` on unknown task names."""
    if not isinstance(losses, dict) or not losses:
        raise ValueError(f"losses must be a non-empty dict {{task name: loss}}, got {losses!r}")
    loss_weights = dict(loss_weights or {})
    for t, c in loss_weights.items():
        if t not in losses:
            raise ValueError(f"loss_weights must name tasks of losses ({', '.join(losses)}), got {t!r}")
        check_number(f"loss_weights[{t!r}]", c, 0.0)
    weights = {t: float(loss_weights.get(t, 1.0)) for t in losses}
    model.compile(optimizer=optimizer, loss=losses, loss_weights=weights, metrics=metrics, **kwargs)
    return model
