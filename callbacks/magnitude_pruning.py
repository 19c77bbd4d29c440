"""Magnitude pruning: sparse parameters kept at exactly zero (lecture, "Sparse Parameters").

At each pruning step ``t`` every pruned kernel ``W`` gets the mask ``M = 1[|W| > τ]`` where ``τ`` is
the ``s_t``-quantile of ``|W|`` in that layer (layer-wise magnitude pruning), and ``W ← M ⊙ W``.
After *every* training batch the mask is applied again, so pruned weights stay exactly 0 even
though the optimizer (momentum, weight decay, noise) moves them during the step.

Target sparsity schedule (Zhu and Gupta 2017, "To prune, or not to prune"):

    s_t = s_f + (s_i − s_f) (1 − (t − t₀)/(t₁ − t₀))³        for t₀ ≤ t ≤ t₁,

``s_t = s_f`` after ``t₁`` (with ``t₀ = t₁`` the full sparsity is applied at once). Combine with an
L1 penalty or :class:`recipes.regularizers.proximal_sgd.ProximalSGD` to let training choose which weights become
small first.
"""
from __future__ import annotations

import keras
import numpy as np

from augment.checks import check_int, check_number, check_positive_int

__all__ = ["MagnitudePruning", "layer_sparsity"]

_KERNEL_NAMES = ("kernel", "depthwise_kernel", "pointwise_kernel")


def layer_sparsity(model, kernels_only=True):
    """``{variable path: fraction of entries exactly 0}`` for the model's kernels (or all weights)."""
    out = {}
    for v in model.trainable_variables:
        if kernels_only and v.name not in _KERNEL_NAMES:
            continue
        a = keras.ops.convert_to_numpy(v)
        out[v.path] = float(np.mean(a == 0))
    return out


@keras.saving.register_keras_serializable(package="recipes")
class MagnitudePruning(keras.callbacks.Callback):
    """Prune the smallest-magnitude kernel weights of each layer and keep them at exactly 0.

    Args:
        final_sparsity: ``s_f ∈ [0, 1)``, fraction of each kernel set to 0 at the end.
        initial_sparsity: ``s_i ∈ [0, s_f]`` at ``begin_step``.
        begin_step: ``t₀``, training step (batch count) of the first pruning.
        end_step: ``t₁ ≥ t₀``, step at which ``s_f`` is reached; the mask is frozen afterwards.
        frequency: recompute masks every ``frequency`` steps between ``t₀`` and ``t₁`` (masks are
            *applied* after every batch regardless).
        layer_names: names of the layers to prune (default: every layer with a ``kernel``,
            ``depthwise_kernel`` or ``pointwise_kernel``). Biases are never pruned.
        verbose: 1 prints per-layer sparsity at the end of each epoch.

    After each epoch ``logs["sparsity"]`` holds the overall sparsity of the pruned kernels and
    :attr:`history` a list of per-layer dicts; :meth:`sparsity` returns the current per-layer values.
    """

    def __init__(self, final_sparsity=0.5, initial_sparsity=0.0, begin_step=0, end_step=0, frequency=1,
                 layer_names=None, verbose=0):
        super().__init__()
        # s_f in [0, 1), s_i in [0, s_f]; 0 <= t0 <= t1
        self.final_sparsity = check_number("final_sparsity", final_sparsity, 0.0, 1.0, high_open=True)
        self.initial_sparsity = check_number("initial_sparsity", initial_sparsity, 0.0, self.final_sparsity)
        self.begin_step = check_int("begin_step", begin_step, 0)
        self.end_step = check_int("end_step", end_step, self.begin_step)
        self.frequency = check_positive_int("frequency", frequency)
        self.layer_names = list(layer_names) if layer_names is not None else None
        self.verbose = verbose
        self.history = []
        self._masks = {}
        self._step = 0

    def get_config(self):
        return {
            "final_sparsity": self.final_sparsity,
            "initial_sparsity": self.initial_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "frequency": self.frequency,
            "layer_names": self.layer_names,
            "verbose": self.verbose,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -- schedule -------------------------------------------------------------------------------
    def target_sparsity(self, step):
        """``s_t`` of the cubic schedule (0 before ``t₀``)."""
        if step < self.begin_step:
            return 0.0
        if self.end_step == self.begin_step or step >= self.end_step:
            return self.final_sparsity
        frac = (step - self.begin_step) / (self.end_step - self.begin_step)
        return self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (1.0 - frac) ** 3

    # -- helpers --------------------------------------------------------------------------------
    def _variables(self):
        if self.layer_names is not None:
            names = {layer.name for layer in self.model._flatten_layers(include_self=False)}
            unknown = sorted(set(self.layer_names) - names)
            if unknown:
                raise ValueError(f"layer_names has layers that are not in the model: {unknown}")
        out = []
        for v in self.model.trainable_variables:
            if v.name not in _KERNEL_NAMES:
                continue
            owner = v.path.split("/")[-2] if "/" in v.path else ""
            if self.layer_names is None or owner in self.layer_names:
                out.append(v)
        return out

    def _sync(self):
        # JAX trainer keeps the state outside the variables during an epoch.
        if hasattr(self.model, "jax_state_sync"):
            self.model.jax_state_sync()

    def _update_masks(self, sparsity):
        for v in self._vars:
            w = keras.ops.convert_to_numpy(v)
            k = int(round(sparsity * w.size))
            mask = np.ones(w.shape, dtype=bool)
            if k > 0:
                order = np.argsort(np.abs(w), axis=None, kind="stable")[:k]
                mask.flat[order] = False
            self._masks[v.path] = mask

    def _apply_masks(self):
        for v in self._vars:
            mask = self._masks.get(v.path)
            if mask is None:
                continue
            w = keras.ops.convert_to_numpy(v)
            v.assign(np.where(mask, w, np.zeros_like(w)))

    # -- callback hooks -------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._vars = self._variables()
        if not self._vars:
            raise ValueError("MagnitudePruning found no kernels to prune (check layer_names)")

    def on_train_batch_end(self, batch, logs=None):
        step = self._step
        self._step += 1
        prune_now = self.begin_step <= step <= self.end_step and (
            (step - self.begin_step) % self.frequency == 0 or step == self.end_step
        )
        if not prune_now and not self._masks:
            return
        self._sync()
        if prune_now:
            self._update_masks(self.target_sparsity(step))
        self._apply_masks()

    def sparsity(self):
        """``{variable path: fraction exactly 0}`` of the pruned kernels now."""
        return {v.path: float(np.mean(keras.ops.convert_to_numpy(v) == 0)) for v in self._vars}

    def on_epoch_end(self, epoch, logs=None):
        self._sync()
        per_layer = self.sparsity()
        self.history.append(per_layer)
        total = sum(int(np.prod(v.shape)) for v in self._vars)
        zeros = sum(per_layer[v.path] * int(np.prod(v.shape)) for v in self._vars)
        if logs is not None:
            logs["sparsity"] = zeros / total
        if self.verbose:
            print(f"epoch {epoch + 1}: sparsity " + ", ".join(f"{k}={s:.3f}" for k, s in per_layer.items()))
