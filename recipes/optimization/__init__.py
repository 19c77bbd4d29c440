"""Optimization: learning-rate schedules, signSGD, Sophia, second-order methods, gradient noise and clipping, curriculum learning, weight averaging."""
