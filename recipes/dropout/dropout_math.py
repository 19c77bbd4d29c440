"""Dropout as regularization for a linear unit (Baldi and Sadowski 2013, "Understanding Dropout").

Lecture, "Dropout Mathematics". A linear unit with inputs ``I_i``, weights ``w_i``, target ``t`` and
dropout masks ``δ_i ~ Bernoulli(p_i)``:

    E_N = ½ (t − Σ_i p_i w_i I_i)²                  (complete, i.e. mean, network)
    E_D = ½ (t − Σ_i δ_i w_i I_i)²                  (dropout network)
    ∂E_D/∂w_i = −(t − Σ_j δ_j w_j I_j) δ_i I_i
    E[∂E_D/∂w_i] = ∂E_N/∂w_i + w_i p_i (1 − p_i) I_i²       (because E[δ_i²] = p_i² + Var δ_i)

so the expected dropout gradient is the gradient of the regularized error

    E_R = ½ (t − Σ_i p_i w_i I_i)² + ½ Σ_i p_i (1 − p_i) w_i² I_i².

(The slide writes E_R without the ½ on the penalty; with it, ∂E_R/∂w_i matches the expected
gradient above, which is what Baldi and Sadowski state.) The penalty ``p(1 − p)`` is largest at
p = 0.5 — the lecture's "why p = 0.5".
"""
import numpy as np


def _arrays(w, inputs, p):
    w = np.asarray(w, dtype=np.float64)
    inputs = np.asarray(inputs, dtype=np.float64)
    p = np.broadcast_to(np.asarray(p, dtype=np.float64), w.shape)
    if w.shape != inputs.shape or w.ndim != 1:
        raise ValueError(f"w and inputs must be 1-D of equal length, got {w.shape} and {inputs.shape}")
    bad = ~((p > 0) & (p <= 1))  # NaN included
    if np.any(bad):
        raise ValueError(f"p must be keep-probabilities in (0, 1], got {p[bad][0].item()!r}")
    return w, inputs, p


def complete_network_gradient(w, inputs, t, p):
    """``∂E_N/∂w_i = −(t − Σ_j p_j w_j I_j) p_i I_i``."""
    w, inputs, p = _arrays(w, inputs, p)
    return -(t - np.sum(p * w * inputs)) * p * inputs


def expected_dropout_gradient(w, inputs, t, p):
    """Closed form ``E[∂E_D/∂w_i] = ∂E_N/∂w_i + w_i p_i (1 − p_i) I_i²``."""
    w, inputs, p = _arrays(w, inputs, p)
    return complete_network_gradient(w, inputs, t, p) + w * p * (1 - p) * inputs**2


def dropout_regularized_error(w, inputs, t, p):
    """``E_R = ½ (t − Σ p_i w_i I_i)² + ½ Σ p_i (1 − p_i) w_i² I_i²`` (its gradient is the expected one)."""
    w, inputs, p = _arrays(w, inputs, p)
    return 0.5 * (t - np.sum(p * w * inputs)) ** 2 + 0.5 * np.sum(p * (1 - p) * w**2 * inputs**2)


def sample_dropout_gradients(w, inputs, t, p, num_samples, seed=0):
    """Monte Carlo draws of ``∂E_D/∂w = −(t − Σ δ_j w_j I_j) δ ⊙ I``, ``δ ~ Bernoulli(p)``: ``(num_samples, n)``."""
    w, inputs, p = _arrays(w, inputs, p)
    rng = np.random.default_rng(seed)
    delta = (rng.random((int(num_samples), w.size)) < p).astype(np.float64)
    out = delta @ (w * inputs)
    return -(t - out)[:, None] * delta * inputs[None]
