"""Averages of the weights along the SGD trajectory: an exponential moving average (EMA) and Lookahead.

EMA (Polyak averaging with exponential forgetting): θ̄ ← β_k θ̄ + (1 − β_k) θ, applied every ``every`` steps;
the averaged θ̄ is used for evaluation. Lookahead (Zhang et al. 2019, as used by airbench): the same update of
the slow weights θ̄, after which the fast weights are reset, θ ← θ̄. With ``warmup_power`` q the decay follows
β_k = β · (k/K)^q (airbench: β = 0.95⁵ every 5 steps, q = 3), so early averages follow θ closely.
Non-trainable floating-point state (BatchNorm moving mean/variance) is averaged too.
"""
from __future__ import annotations

import contextlib

import keras
import numpy as np
from keras import ops

from augment.checks import check_choice, check_number, check_positive_int

MODES = ("ema", "lookahead")


@keras.saving.register_keras_serializable(package="recipes")
class WeightAveraging:
    """θ̄ ← β_k θ̄ + (1 − β_k) θ every ``every`` steps, β_k = decay · (k/total_steps)^warmup_power.

    Args:
        mode: "ema" (θ untouched; evaluate θ̄) or "lookahead" (also θ ← θ̄ after each update).
        decay: β in [0, 1).
        every: update period in steps, >= 1.
        warmup_power: q >= 0 (0: constant β).
        total_steps: K >= 1, the length of training (needed when q > 0).
    """

    def __init__(self, mode="lookahead", decay=0.95 ** 5, every=5, warmup_power=3.0, total_steps=1):
        self.mode = check_choice("mode", mode, MODES)
        self.decay = check_number("decay", decay, 0.0, 1.0, high_open=True)
        self.every = check_positive_int("every", every)
        self.warmup_power = check_number("warmup_power", warmup_power, 0.0)
        self.total_steps = check_positive_int("total_steps", total_steps)

    def decay_at(self, step):
        """β_k for optimizer step k (a Python number)."""
        frac = min(max(step / self.total_steps, 0.0), 1.0)
        return self.decay * frac ** self.warmup_power

    def due(self, step):
        """Whether an update happens after step ``step`` (1-based count of completed steps)."""
        return step % self.every == 0

    @staticmethod
    def update(averages, values, beta):
        """Return [β θ̄ + (1 − β) θ] for each pair (θ̄, θ); integer tensors are copied from θ."""
        out = []
        for a, v in zip(averages, values):
            if "int" in str(v.dtype) or "bool" in str(v.dtype):
                out.append(ops.copy(v))  # a buffer of its own (see WeightAveragingCallback)
            else:
                out.append(ops.cast(beta * ops.cast(a, "float32") + (1.0 - beta) * ops.cast(v, "float32"), v.dtype))
        return out

    def get_config(self):
        return {"mode": self.mode, "decay": self.decay, "every": self.every,
                "warmup_power": self.warmup_power, "total_steps": self.total_steps}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class WeightAveragingCallback(keras.callbacks.Callback):
    """Applies a ``WeightAveraging`` rule during ``fit``: after optimizer step k with k mod ``every`` = 0,
    θ̄ ← β_k θ̄ + (1 − β_k) θ over the model's weights (trainable ones and the non-trainable floating-point state,
    e.g. BatchNorm's moving mean and variance); with ``mode="lookahead"`` the fast weights are then reset, θ ← θ̄.

    θ̄ starts as the weights at the first training step (after a backup was restored). ``swapped_in()`` is a context
    in which the model holds θ̄ (for an evaluation) and θ afterwards; ``assign_average()`` leaves θ̄ in the model
    (at the end of training, before saving). Under JAX the trainer's device state is synced into the variables
    only on the steps that update θ̄, and θ̄ never shares a buffer with a variable: the JAX trainer donates the
    variables' buffers to each compiled step, which would delete an average assigned without a copy. Not
    serialized with the model (callbacks never are).
    """

    def __init__(self, averaging: WeightAveraging):
        super().__init__()
        if not isinstance(averaging, WeightAveraging):
            raise TypeError(f"averaging must be a WeightAveraging, got {type(averaging).__name__}")
        self.averaging = averaging
        self.average = None
        self._variables = None
        self._step = None

    def _model_weights(self):
        seen, out = set(), []
        for v in self.model.weights:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    def _sync(self):
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()

    def on_train_batch_begin(self, batch, logs=None):
        if self._step is None:  # first step of this fit: every on_train_begin (a backup restore) has run
            self._sync()
            self._variables = self._model_weights()
            restored = getattr(self, "_restored", None)
            if restored is not None:
                if len(restored) != len(self._variables):
                    raise ValueError(f"the restored averages hold {len(restored)} tensors, the model has "
                                     f"{len(self._variables)} weights")
                self.average = [ops.convert_to_tensor(a, dtype=v.dtype) for a, v in zip(restored, self._variables)]
                self._restored = None
            else:
                self.average = [ops.copy(v.value) for v in self._variables]
            self._step = int(ops.convert_to_numpy(self.model.optimizer.iterations))

    def backup_state(self):
        """θ̄ as NumPy arrays (``average<i>``), for ``callbacks.backup_and_restore.AtomicBackupAndRestore``."""
        if self.average is None:
            return {}
        return {f"average{i}": np.asarray(ops.convert_to_numpy(a)) for i, a in enumerate(self.average)}

    def restore_state(self, state):
        """Take θ̄ from a backup; used at the first step of the resumed ``fit``."""
        keys = sorted((k for k in state if k.startswith("average")), key=lambda k: int(k[len("average"):]))
        self._restored = [np.asarray(state[k]) for k in keys] if keys else None

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1  # counted here: reading optimizer.iterations every step would wait for the device
        if not self.averaging.due(self._step):
            return
        self._sync()
        values = [v.value for v in self._variables]
        self.average = WeightAveraging.update(self.average, values, self.averaging.decay_at(self._step))
        if self.averaging.mode == "lookahead":
            for v, a in zip(self._variables, self.average):
                v.assign(ops.copy(a))

    def assign_average(self):
        """Put θ̄ into the model (a no-op before the first step, unless θ̄ was restored from a backup)."""
        if self.average is None and getattr(self, "_restored", None) is not None:
            self._variables = self._model_weights()
            self.average = [ops.convert_to_tensor(a, dtype=v.dtype) for a, v in zip(self._restored, self._variables)]
            self._restored = None
        if self.average is None:
            return
        self._sync()
        for v, a in zip(self._variables, self.average):
            v.assign(ops.copy(a))

    @contextlib.contextmanager
    def swapped_in(self):
        """Within the block the model holds θ̄; afterwards θ again."""
        if self.average is None:
            yield
            return
        self._sync()
        current = [ops.copy(v.value) for v in self._variables]
        self.assign_average()
        try:
            yield
        finally:
            for v, c in zip(self._variables, current):
                v.assign(c)
