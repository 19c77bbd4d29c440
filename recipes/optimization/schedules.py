"""Learning-rate schedules.

``LinearDecay`` is the lecture's SGD schedule: ε_k = (1 − k/τ) ε₀ + (k/τ) ε_τ for k ≤ τ, and ε_k = ε_τ after
step τ (the lecture advises ε_τ ≈ 1 % of ε₀ and τ a few hundred passes through the data).
"""
from __future__ import annotations

import keras

from augment.checks import check_number, check_positive_int


@keras.saving.register_keras_serializable(package="recipes")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """ε_k = (1 − k/τ) ε₀ + (k/τ) ε_τ for 0 ≤ k ≤ τ, then ε_τ (k = optimizer step, counted from 0).

    Args:
        initial_learning_rate: ε₀ > 0.
        final_learning_rate: ε_τ >= 0 (the lecture: about 1 % of ε₀).
        decay_steps: τ >= 1.
    """

    def __init__(self, initial_learning_rate, final_learning_rate, decay_steps, name="LinearDecay"):
        super().__init__()
        self.initial_learning_rate = check_number("initial_learning_rate", initial_learning_rate, 0.0, low_open=True)
        self.final_learning_rate = check_number("final_learning_rate", final_learning_rate, 0.0)
        self.decay_steps = check_positive_int("decay_steps", decay_steps)
        self.name = name

    def __call__(self, step):
        k = keras.ops.minimum(keras.ops.cast(step, "float32"), float(self.decay_steps))
        alpha = k / float(self.decay_steps)
        return (1.0 - alpha) * self.initial_learning_rate + alpha * self.final_learning_rate

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "final_learning_rate": self.final_learning_rate,
            "decay_steps": self.decay_steps,
            "name": self.name,
        }
