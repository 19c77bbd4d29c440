"""Learning-rate schedule with a short linear warm-up, then the lecture's linear decay.

ε_k = ε₀ · (s + (1 − s) k/w) for k < w (warm-up from s·ε₀), then ε_k = (1 − a) ε₀ + a ε_τ with
a = (k − w)/(τ − w), and ε_τ after step τ.
"""
from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="recipes")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up over ``warmup_steps`` w from ``warmup_start_fraction``·ε₀ to ε₀, then linear decay to ε_τ
    at ``total_steps`` τ (constant after).

    Args:
        initial_learning_rate: peak ε₀ > 0.
        final_learning_rate: ε_τ >= 0.
        total_steps: τ >= 1.
        warmup_steps: w in [0, τ).
        warmup_start_fraction: s in [0, 1].
    """

    def __init__(self, initial_learning_rate, final_learning_rate, total_steps, warmup_steps=0,
                 warmup_start_fraction=0.2, name="WarmupLinearDecay"):
        super().__init__()
        if not float(initial_learning_rate) > 0:
            raise ValueError(f"initial_learning_rate must be > 0, got {initial_learning_rate!r}")
        if not float(final_learning_rate) >= 0:
            raise ValueError(f"final_learning_rate must be >= 0, got {final_learning_rate!r}")
        if not isinstance(total_steps, int) or isinstance(total_steps, bool) or total_steps < 1:
            raise ValueError(f"total_steps must be an integer >= 1, got {total_steps!r}")
        if not isinstance(warmup_steps, int) or isinstance(warmup_steps, bool) or not 0 <= warmup_steps < total_steps:
            raise ValueError(f"warmup_steps must be an integer in [0, total_steps={total_steps}), got {warmup_steps!r}")
        if not 0 <= float(warmup_start_fraction) <= 1:
            raise ValueError(f"warmup_start_fraction must be in [0, 1], got {warmup_start_fraction!r}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.final_learning_rate = float(final_learning_rate)
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.warmup_start_fraction = float(warmup_start_fraction)
        self.name = name

    def __call__(self, step):
        ops = keras.ops
        k = ops.cast(step, "float32")
        e0, et, s = self.initial_learning_rate, self.final_learning_rate, self.warmup_start_fraction
        w, tau = float(self.warmup_steps), float(self.total_steps)
        warm = e0 * (s + (1.0 - s) * k / max(w, 1.0))
        a = ops.clip((k - w) / (tau - w), 0.0, 1.0)
        decay = (1.0 - a) * e0 + a * et
        return ops.where(k < w, warm, decay)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "final_learning_rate": self.final_learning_rate,
                "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
                "warmup_start_fraction": self.warmup_start_fraction, "name": self.name}
