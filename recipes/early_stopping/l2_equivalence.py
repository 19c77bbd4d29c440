"""Early stopping ≡ L2 regularization on a quadratic objective (lecture: "Regularization - Early Stopping Theory").

Around the optimum w*, J is approximated by the quadratic ``Ĵ(w) = J(w*) + ½ (w − w*)ᵀ H (w − w*)`` with
``H = Q Λ Qᵀ`` (eigenvalues λᵢ ≥ 0). Gradient descent from ``w⁽⁰⁾ = 0`` with rate ε,

    w⁽ᵗ⁾ = w⁽ᵗ⁻¹⁾ − ε H (w⁽ᵗ⁻¹⁾ − w*),

gives after τ steps (exactly, for any ε; it converges when |1 − ελᵢ| < 1)

    Qᵀ w⁽ᵗ⁾ = [I − (I − εΛ)^τ] Qᵀ w*.                                  (early stopping)

The minimizer of ``Ĵ(w) + (α/2)‖w‖²`` is

    Qᵀ w̃ = (Λ + αI)⁻¹ Λ Qᵀ w* = [I − (Λ + αI)⁻¹ α] Qᵀ w*.              (L2)

Both multiply the i-th eigen-component of w* by a *shrink factor*: ``s_ES = 1 − (1 − ελᵢ)^τ`` and
``s_L2 = λᵢ / (λᵢ + α)``. Equating ``(I − εΛ)^τ ≈ I − τεΛ`` with ``(I + Λ/α)⁻¹ ≈ I − Λ/α`` gives the lecture's
``α = 1/(τε)``: the number of steps τ (times ε) plays the role of the inverse L2 coefficient.

How near "nearly equal" is (proved in the docstrings below and checked in tests/early_stopping/test_l2_equivalence.py):

- with ``u = λᵢ/α = τελᵢ`` and ``x = ελᵢ ∈ [0, 1]``: ``0 ≤ s_ES − s_L2 ≤ u²`` for every τ. Lower bound:
  ``(1 − x)^τ ≤ e^{−u} ≤ 1/(1 + u)``, so early stopping keeps at least as much of every component; upper bound:
  ``s_ES ≤ u`` (Bernoulli's inequality) and ``s_L2 = u/(1+u) ≥ u − u²``. They agree to first order in u;
- the approximation is first order in u, not only in ελᵢ: for ε → 0 at fixed α, ``s_ES → 1 − e^{−u}``, and the
  largest gap ``max_u [1/(1+u) − e^{−u}] ≈ 0.204`` (at u ≈ 2.5) does not vanish. The two agree closely where
  u ≪ 1 (both ≈ u: the direction is suppressed) and u ≫ 1 (both ≈ 1: the direction is learned).
"""
import numpy as np

from augment.checks import check_int, check_number


def _eig(H):
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(f"H must be a square matrix, got shape {H.shape}")
    if not np.allclose(H, H.T, atol=1e-12 * max(1.0, np.abs(H).max())):
        raise ValueError("H must be symmetric")
    lam, Q = np.linalg.eigh(H)
    if lam.min() < -1e-12 * max(1.0, abs(lam).max()):
        raise ValueError(f"H must be positive semi-definite, smallest eigenvalue {lam.min()}")
    return np.clip(lam, 0.0, None), Q


def equivalent_alpha(eps, tau):
    """The lecture's L2 coefficient equivalent to τ steps of rate ε: α = 1/(τε)."""
    eps, tau = check_number("eps", eps, 0.0, low_open=True), check_int("tau", tau, 0)
    if tau == 0:
        return np.inf
    return 1.0 / (tau * eps)


def gradient_descent(H, w_star, eps, tau, w0=None):
    """Runs w⁽ᵗ⁾ = w⁽ᵗ⁻¹⁾ − εH(w⁽ᵗ⁻¹⁾ − w*) for t = 1..τ from w⁽⁰⁾ (default 0). Returns (τ+1, d) iterates."""
    eps, tau = check_number("eps", eps, 0.0, low_open=True), check_int("tau", tau, 0)
    H = np.asarray(H, dtype=np.float64)
    w_star = np.asarray(w_star, dtype=np.float64)
    w = np.zeros_like(w_star) if w0 is None else np.asarray(w0, dtype=np.float64).copy()
    out = [w.copy()]
    for _ in range(int(tau)):
        w = w - eps * H @ (w - w_star)
        out.append(w.copy())
    return np.stack(out)


def shrink_early_stopping(lam, eps, tau):
    """Per-direction factor of early stopping: s_ES = 1 − (1 − ελᵢ)^τ  (Qᵀw⁽ᵗ⁾ = s_ES ⊙ Qᵀw*)."""
    eps, tau = check_number("eps", eps, 0.0, low_open=True), check_int("tau", tau, 0)
    return 1.0 - (1.0 - eps * np.asarray(lam, dtype=np.float64)) ** int(tau)


def shrink_l2(lam, alpha):
    """Per-direction factor of L2: s_L2 = λᵢ/(λᵢ + α) = 1 − α/(λᵢ + α)  (Qᵀw̃ = s_L2 ⊙ Qᵀw*)."""
    alpha = check_number("alpha", alpha, 0.0, finite=False)  # α = inf: τ = 0 steps, w̃ = 0
    lam = np.asarray(lam, dtype=np.float64)
    if np.isinf(alpha):
        return np.zeros_like(lam)
    return lam / (lam + alpha)


def early_stopping_weights(H, w_star, eps, tau):
    """Closed form of τ steps of gradient descent from 0: w⁽ᵗ⁾ = Q [I − (I − εΛ)^τ] Qᵀ w*."""
    lam, Q = _eig(H)
    return Q @ (shrink_early_stopping(lam, eps, tau) * (Q.T @ np.asarray(w_star, dtype=np.float64)))


def l2_weights(H, w_star, alpha):
    """Minimizer of ½(w − w*)ᵀH(w − w*) + (α/2)‖w‖²: w̃ = Q (Λ + αI)⁻¹ Λ Qᵀ w*."""
    lam, Q = _eig(H)
    return Q @ (shrink_l2(lam, alpha) * (Q.T @ np.asarray(w_star, dtype=np.float64)))


def max_gap_small_eps_limit():
    """max over u ≥ 0 of 1/(1+u) − e^{−u}: the gap s_ES − s_L2 left when ε → 0 at fixed α = 1/(τε).

    Returns (u_at_max, gap). Found by a bounded scalar search (scipy); ≈ (2.513, 0.2036).
    """
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda u: -(1.0 / (1.0 + u) - np.exp(-u)), bounds=(0.0, 20.0), method="bounded",
                          options={"xatol": 1e-10})
    return float(res.x), float(-res.fun)
