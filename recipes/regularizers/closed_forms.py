"""Closed-form optima of penalized quadratics, for checking and teaching (NumPy).

Convention — the lecture's ``α/2`` form. Around the unpenalized minimum ``w*`` the objective is the
quadratic ``Ĵ(w) = J(w*) + ½ (w − w*)ᵀ H (w − w*)`` and

* L2: ``J~(w) = Ĵ(w) + (α/2) ‖w‖₂²``   →   ``w~ = (H + αI)⁻¹ H w*``
                                           ``= Q diag(λᵢ / (λᵢ + α)) Qᵀ w*``   (``H = Q Λ Qᵀ``)
* L1 (diagonal ``H``): ``J~(w) = Ĵ(w) + α ‖w‖₁``   →   ``wᵢ = sign(wᵢ*) max(|wᵢ*| − α / Hᵢᵢ, 0)``
* ridge: ``J~(w) = ½ ‖Xw − y‖₂² + (α/2) ‖w‖₂²``   →   ``w~ = (XᵀX + αI)⁻¹ Xᵀ y``

Geometric perspective: minimizing ``Ĵ(w) + (α/2)‖w‖²`` is equivalent to minimizing ``Ĵ(w)`` subject
to ``‖w‖₂ ≤ η`` with ``η = ‖w~(α)‖`` (:func:`l2_constrained_optimum` finds the ``α`` for a given
``η``); Keras' ``keras.constraints.MaxNorm`` enforces such a constraint by projection instead.

(the lecture's regression slide writes ``‖Xw − y‖² + (α/2)‖w‖²`` but gives the solution of the form
above, which holds when both terms carry the same factor; the code uses ``½ … + (α/2) …``).

Link to Keras' coefficients (:mod:`recipes.regularizers.penalties`): Keras' ``L2(λ)`` adds ``λ ‖w‖²``, i.e.
``α = 2 λ`` in the L2 formula; with a mean-squared-error loss over ``N`` samples,
``(1/N) ‖Xw − y‖² + λ ‖w‖²`` has the ridge minimizer with ``α = N λ`` (see
:func:`ridge_alpha_from_keras`), and ``(1/N) ‖Xw − y‖² + λ ‖w‖₁`` has ``H = (2/N) XᵀX`` and L1
``α = λ``.
"""
from __future__ import annotations

import numpy as np

from augment.checks import check_number, check_positive_int

__all__ = [
    "l2_regularized_optimum",
    "l2_regularized_optimum_eigen",
    "l2_shrinkage_factors",
    "soft_threshold",
    "l1_regularized_optimum",
    "ridge",
    "ridge_path",
    "ridge_alpha_from_keras",
    "l2_constrained_optimum",
]


def _square_symmetric(H, name="H"):
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {H.shape}")
    if not np.allclose(H, H.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(H).max(initial=0.0))):
        raise ValueError(f"{name} must be symmetric (a Hessian)")
    return H


def _vector(w, n, name):
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {w.shape}")
    return w


def l2_regularized_optimum(H, w_star, alpha):
    """``w~ = (H + αI)⁻¹ H w*``: the minimizer of ``½ (w − w*)ᵀH(w − w*) + (α/2)‖w‖²`` (direct solve)."""
    H = _square_symmetric(H)
    w_star = _vector(w_star, H.shape[0], "w_star")
    alpha = check_number("alpha", alpha, 0.0)
    return np.linalg.solve(H + alpha * np.eye(H.shape[0]), H @ w_star)


def l2_shrinkage_factors(H, alpha):
    """Eigenvalues ``λᵢ`` of ``H`` and the factors ``λᵢ / (λᵢ + α)`` by which L2 scales ``Qᵀw*``.

    Directions of large curvature (``λᵢ ≫ α``) are kept, those of small curvature shrink to 0.
    Returns ``(eigenvalues, factors, Q)`` with eigenvalues ascending.
    """
    H = _square_symmetric(H)
    alpha = check_number("alpha", alpha, 0.0)
    lam, Q = np.linalg.eigh(H)
    if lam.min() + alpha <= 0:
        raise ValueError("H + alpha*I must be positive definite (alpha too small for this H)")
    return lam, lam / (lam + alpha), Q


def l2_regularized_optimum_eigen(H, w_star, alpha):
    """``w~ = Q diag(λᵢ / (λᵢ + α)) Qᵀ w*`` with ``H = Q Λ Qᵀ`` (eigen form of the L2 optimum)."""
    H = _square_symmetric(H)
    w_star = _vector(w_star, H.shape[0], "w_star")
    _, factors, Q = l2_shrinkage_factors(H, alpha)
    return Q @ (factors * (Q.T @ w_star))


def soft_threshold(w, threshold):
    """``sign(w) max(|w| − t, 0)`` elementwise — the proximal operator of ``t ‖·‖₁``.

    ``threshold`` may be a scalar or broadcast against ``w``; it must be ``>= 0``.
    """
    w = np.asarray(w, dtype=np.float64)
    t = np.asarray(threshold, dtype=np.float64)
    bad = ~(np.isfinite(t) & (t >= 0))
    if np.any(bad):
        raise ValueError(f"threshold must be a finite number in [0, inf), got {t[bad].flat[0].item()!r}")
    return np.sign(w) * np.maximum(np.abs(w) - t, 0.0)


def l1_regularized_optimum(w_star, h_diag, alpha):
    """``wᵢ = sign(wᵢ*) max(|wᵢ*| − α / Hᵢᵢ, 0)``: minimizer of ``Σᵢ ½Hᵢᵢ(wᵢ − wᵢ*)² + α|wᵢ|``.

    Args:
        w_star: the unpenalized optimum ``w*``.
        h_diag: the diagonal of the (assumed diagonal) Hessian, all ``> 0``.
        alpha: the L1 coefficient ``α ≥ 0``.
    Coordinates with ``|wᵢ*| ≤ α/Hᵢᵢ`` are exactly zero (the L1 "sparsifier").
    """
    w_star = np.asarray(w_star, dtype=np.float64)
    if w_star.ndim != 1:
        raise ValueError(f"w_star must be a vector, got shape {w_star.shape}")
    h_diag = _vector(h_diag, w_star.size, "h_diag")
    if not np.all(h_diag > 0):  # a positive diagonal Hessian
        raise ValueError(f"h_diag must be in (0, inf), got {h_diag[~(h_diag > 0)][0].item()!r}")
    alpha = check_number("alpha", alpha, 0.0)
    return soft_threshold(w_star, alpha / h_diag)


def ridge(X, y, alpha):
    """``w~ = (XᵀX + αI)⁻¹ Xᵀ y``: minimizer of ``½‖Xw − y‖² + (α/2)‖w‖²`` (no intercept).

    With ``α = 0`` this is ordinary least squares (``XᵀX`` must then be invertible).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D matrix, got shape {X.shape}")
    y = np.asarray(y, dtype=np.float64)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have {X.shape[0]} rows like X, got shape {y.shape}")
    alpha = check_number("alpha", alpha, 0.0)
    return np.linalg.solve(X.T @ X + alpha * np.eye(X.shape[1]), X.T @ y)


def ridge_path(X, y, alphas):
    """Ridge coefficients for each ``α`` in ``alphas`` via one SVD ``X = U S Vᵀ``:
    ``w~(α) = V diag(sᵢ / (sᵢ² + α)) Uᵀ y``. Returns an array ``(len(alphas), p)``."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (n, p) and y (n,), got {X.shape} and {y.shape}")
    alphas = [check_number(f"alphas[{i}]", a, 0.0) for i, a in enumerate(alphas)]
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    Uty = U.T @ y
    return np.stack([Vt.T @ (s / (s**2 + a) * Uty) for a in alphas])


def ridge_alpha_from_keras(l2, num_samples):
    """The ridge ``α`` equivalent to Keras' ``L2(l2)`` on a mean-squared-error loss over ``N`` samples.

    ``(1/N)‖Xw − y‖² + λ‖w‖²`` and ``½‖Xw − y‖² + (α/2)‖w‖²`` have the same minimizer for
    ``α = N λ`` (multiply the first by ``N/2``).
    """
    l2 = check_number("l2", l2, 0.0)
    return check_positive_int("num_samples", num_samples) * l2


def l2_constrained_optimum(H, w_star, eta, tol=1e-12, max_iter=200):
    """Minimizer of ``½ (w − w*)ᵀH(w − w*)`` subject to ``‖w‖₂ ≤ η`` (lecture, "Geometric Perspective").

    If ``‖w*‖ ≤ η`` the constraint is inactive (``α = 0``). Otherwise the solution is the L2
    optimum ``w~(α) = (H + αI)⁻¹Hw*`` whose norm equals ``η``; ``‖w~(α)‖`` decreases in ``α``, so
    ``α`` is found by bisection (``α`` is the Lagrange multiplier of the constraint).
    Returns ``(w, alpha)``. ``H`` must be positive definite.
    """
    H = _square_symmetric(H)
    w_star = _vector(w_star, H.shape[0], "w_star")
    eta = check_number("eta", eta, 0.0)
    lam, Q = np.linalg.eigh(H)
    if lam.min() <= 0:
        raise ValueError("H must be positive definite")
    z = Q.T @ w_star
    norm = lambda a: np.linalg.norm(lam / (lam + a) * z)  # noqa: E731  ‖w~(α)‖ (Q orthogonal)
    if norm(0.0) <= eta:
        return w_star.copy(), 0.0
    lo, hi = 0.0, 1.0
    while norm(hi) > eta:
        hi *= 2.0
    for _ in range(max_iter):
        mid = 0.5 * (lo + hi)
        if norm(mid) > eta:
            lo = mid
        else:
            hi = mid
        if hi - lo <= tol * max(1.0, hi):
            break
    alpha = 0.5 * (lo + hi)
    return Q @ (lam / (lam + alpha) * z), alpha
