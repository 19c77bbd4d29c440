"""Learning-rate schedule with a short linear warm-up, then the lecture's linear decay.

ε_k = ε₀ · (s + (1 − s) k/w) for k < w (warm-up from s·ε₀), then ε_k = (1 − a) ε₀ + a ε_τ with
a = (k − w)/(τ − w), and ε_τ after step τ.
"""
from __future__ import annotations

import keras

from augment.checks import check_int, check_number, check_positive_int


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
        self.initial_learning_rate = check_number("initial_learning_rate", initial_learning_rate, 0.0, low_open=True)
        self.final_learning_rate = check_number("final_learning_rate", final_learning_rate, 0.0)
        self.total_steps = check_positive_int("total_steps", total_steps)
        self.warmup_steps = check_int("warmup_steps", warmup_steps, 0, self.total_steps - 1)  # w in [0, τ)
        self.warmup_start_fraction = check_number("warmup_start_fraction", warmup_start_fraction, 0.0, 1.0)
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
