"""recipes.regularizers.closed_forms: direct == eigen form == independent solves; the lecture's numbers; the L1
soft-threshold is the true minimizer; ridge against least squares on an augmented system."""
import numpy as np
import pytest
from scipy import optimize

from recipes.regularizers import closed_forms as cf

H_LECTURE = np.array([[2.0, -1, 0], [-1, 2, -1], [0, -1, 2]])
W_STAR_LECTURE = np.array([0.81, 0.91, 0.13])


def _random_spd(rng, p):
    a = rng.normal(size=(p, p))
    return a @ a.T + 0.1 * np.eye(p)


def test_l2_direct_equals_eigen_form_and_gradient_is_zero():
    rng = np.random.default_rng(0)
    for _ in range(5):
        H = _random_spd(rng, 6)
        w_star = rng.normal(size=6)
        alpha = float(rng.uniform(0.01, 3))
        direct = cf.l2_regularized_optimum(H, w_star, alpha)
        eigen = cf.l2_regularized_optimum_eigen(H, w_star, alpha)
        # both are O(1e-15)-accurate double-precision solves; 1e-10 is generous yet meaningful
        np.testing.assert_allclose(direct, eigen, atol=1e-10)
        # optimality of ½(w − w*)ᵀH(w − w*) + (α/2)‖w‖²: gradient H(w − w*) + αw = 0
        np.testing.assert_allclose(H @ (direct - w_star) + alpha * direct, 0.0, atol=1e-10)
        # and a generic minimizer agrees
        f = lambda w: 0.5 * (w - w_star) @ H @ (w - w_star) + 0.5 * alpha * w @ w
        res = optimize.minimize(f, np.zeros(6), jac=lambda w: H @ (w - w_star) + alpha * w, tol=1e-12)
        np.testing.assert_allclose(res.x, direct, atol=1e-6)


def test_lecture_numerical_example_exact_values():
    """The slide's example (H tridiagonal, α = 2, w* = [0.81, 0.91, 0.13]) in exact arithmetic.

    H + 2I has determinant 56 and (H + 2I)⁻¹H = [[26, −8, −2], [−8, 24, −8], [−2, −8, 26]] / 56 exactly, so
    w~ = [169, 179, −69] / 700 = [0.241428…, 0.255714…, −0.098571…] and ‖w~‖ = √65363 / 700 = 0.365231…;
    H = QΛQᵀ with Λ = diag(2 − √2, 2, 2 + √2) and factors λ/(λ + 2). Double precision gives these to ~1e-15.
    """
    lam, factors, Q = cf.l2_shrinkage_factors(H_LECTURE, 2.0)
    r2 = np.sqrt(2.0)
    np.testing.assert_allclose(lam, [2 - r2, 2.0, 2 + r2], rtol=1e-14)
    np.testing.assert_allclose(factors, [(2 - r2) / (4 - r2), 0.5, (2 + r2) / (4 + r2)], rtol=1e-14)
    M = Q @ np.diag(factors) @ Q.T
    M_exact = np.array([[26.0, -8, -2], [-8, 24, -8], [-2, -8, 26]]) / 56
    np.testing.assert_allclose(M, M_exact, rtol=0, atol=1e-15)
    w_exact = np.array([169.0, 179.0, -69.0]) / 700
    for w in (cf.l2_regularized_optimum(H_LECTURE, W_STAR_LECTURE, 2.0),
              cf.l2_regularized_optimum_eigen(H_LECTURE, W_STAR_LECTURE, 2.0)):
        np.testing.assert_allclose(w, w_exact, rtol=1e-14)
        np.testing.assert_allclose(np.linalg.norm(w), np.sqrt(65363.0) / 700, rtol=1e-14)


def test_lecture_slide_figures_are_the_exact_values_rounded():
    """Documented comparison with the printed slide: Λ and the factors are the exact values to 4 decimals, the
    matrix is the exact one to 2 decimals, and the slide's w~ = [0.24, 0.2597, −0.1] (‖w~‖ = 0.3675) is that
    ROUNDED matrix times w* — not the exact w~ = [0.2414, 0.2557, −0.0986] (‖w~‖ = 0.3652) of the test above."""
    lam, factors, Q = cf.l2_shrinkage_factors(H_LECTURE, 2.0)
    np.testing.assert_array_equal(np.round(lam, 4), [0.5858, 2.0, 3.4142])
    np.testing.assert_array_equal(np.round(factors, 4), [0.2265, 0.5, 0.6306])
    M_slide = np.round(Q @ np.diag(factors) @ Q.T, 2)
    np.testing.assert_array_equal(M_slide, [[0.46, -0.14, -0.04], [-0.14, 0.43, -0.14], [-0.04, -0.14, 0.46]])
    w_slide = M_slide @ W_STAR_LECTURE
    np.testing.assert_allclose(w_slide, [0.24, 0.2597, -0.1], rtol=0, atol=1e-14)
    assert round(float(np.linalg.norm(w_slide)), 4) == 0.3675
    assert round(float(np.linalg.norm(W_STAR_LECTURE)), 4) == 1.2252
    w = cf.l2_regularized_optimum(H_LECTURE, W_STAR_LECTURE, 2.0)
    assert abs(w[1] - 0.2597) > 0.003  # the slide's second entry is off by 0.004 from the exact optimum


def test_l1_soft_threshold_is_the_minimizer_with_exact_zeros():
    rng = np.random.default_rng(1)
    w_star = np.array([2.0, -0.3, 0.05, -1.5, 0.8, 0.0])
    h = rng.uniform(0.5, 3.0, size=6)
    alpha = 0.9
    w = cf.l1_regularized_optimum(w_star, h, alpha)
    zero = np.abs(w_star) <= alpha / h
    assert zero.any() and (~zero).any()
    assert np.all(w[zero] == 0.0)  # exact zeros, not just small
    # brute force per coordinate: minimize ½hᵢ(wᵢ − wᵢ*)² + α|wᵢ| (bounded scalar search)
    for i in range(6):
        f = lambda t: 0.5 * h[i] * (t - w_star[i]) ** 2 + alpha * abs(t)
        res = optimize.minimize_scalar(f, bounds=(-5, 5), method="bounded", options={"xatol": 1e-10})
        assert abs(res.x - w[i]) < 1e-6
    np.testing.assert_array_equal(cf.soft_threshold([3.0, -3.0, 0.5], 1.0), [2.0, -2.0, 0.0])


def test_ridge_matches_augmented_least_squares_and_svd_path():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 5))
    X[:, 4] = X[:, 3] + 1e-3 * rng.normal(size=40)  # near collinear: XᵀX near singular
    y = rng.normal(size=40)
    alphas = [0.0, 0.01, 1.0, 100.0]
    path = cf.ridge_path(X, y, alphas)
    for a, w_path in zip(alphas, path):
        w = cf.ridge(X, y, a)
        # ½‖Xw − y‖² + (α/2)‖w‖² = ½‖[X; √α I]w − [y; 0]‖²
        A = np.vstack([X, np.sqrt(a) * np.eye(5)])
        b = np.concatenate([y, np.zeros(5)])
        w_ls = np.linalg.lstsq(A, b, rcond=None)[0]
        # α = 0 with cond(XᵀX) ~ 1e7 loses ~7 digits in the normal equations, hence rtol 1e-6
        np.testing.assert_allclose(w, w_ls, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(w_path, w_ls, rtol=1e-6, atol=1e-8)
    norms = np.linalg.norm(path, axis=1)
    assert np.all(np.diff(norms) < 0)  # ‖w~(α)‖ decreases with α
    # ridge IS the L2 optimum of the quadratic with H = XᵀX and w* = OLS
    w_ols = cf.ridge(X, y, 0.0)
    np.testing.assert_allclose(cf.ridge(X, y, 1.0), cf.l2_regularized_optimum(X.T @ X, w_ols, 1.0), rtol=1e-5)
    assert cf.ridge_alpha_from_keras(0.01, 50) == pytest.approx(0.5)


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"alpha must be a finite number in \[0, inf\), got -1.0"):
        cf.l2_regularized_optimum(H_LECTURE, W_STAR_LECTURE, -1.0)
    with pytest.raises(TypeError, match=r"alpha must be a number in \[0, inf\), got '1'"):
        cf.ridge(np.ones((4, 2)), np.ones(4), "1")
    with pytest.raises(ValueError, match=r"alphas\[1\] must be a finite number in \[0, inf\), got nan"):
        cf.ridge_path(np.ones((4, 2)), np.ones(4), [0.1, float("nan")])
    with pytest.raises(ValueError, match=r"num_samples must be an integer in \[1, inf\), got 0"):
        cf.ridge_alpha_from_keras(0.01, 0)
    with pytest.raises(ValueError, match=r"eta must be a finite number in \[0, inf\), got -0.5"):
        cf.l2_constrained_optimum(H_LECTURE, W_STAR_LECTURE, -0.5)
    with pytest.raises(ValueError, match="H"):
        cf.l2_regularized_optimum(np.ones((2, 3)), [1, 2], 1.0)
    with pytest.raises(ValueError, match="w_star"):
        cf.l2_regularized_optimum_eigen(H_LECTURE, [1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match=r"h_diag must be in \(0, inf\), got -1.0"):
        cf.l1_regularized_optimum([1.0, 2.0], [1.0, -1.0], 0.1)
    with pytest.raises(ValueError, match="y"):
        cf.ridge(np.ones((4, 2)), np.ones(3), 0.1)
    with pytest.raises(ValueError, match=r"threshold must be a finite number in \[0, inf\), got -0.5"):
        cf.soft_threshold([1.0], -0.5)


def test_penalty_equals_norm_constraint_geometric_perspective():
    rng = np.random.default_rng(3)
    H = _random_spd(rng, 4)
    w_star = rng.normal(size=4) * 2
    eta = 0.5 * np.linalg.norm(w_star)
    w, alpha = cf.l2_constrained_optimum(H, w_star, eta)
    assert alpha > 0
    np.testing.assert_allclose(np.linalg.norm(w), eta, rtol=1e-9)  # constraint active
    np.testing.assert_allclose(w, cf.l2_regularized_optimum(H, w_star, alpha), atol=1e-9)
    # an independent constrained solver (SLSQP) finds the same point; its tolerance ~1e-6
    res = optimize.minimize(
        lambda v: 0.5 * (v - w_star) @ H @ (v - w_star), np.zeros(4), jac=lambda v: H @ (v - w_star),
        constraints=[{"type": "ineq", "fun": lambda v: eta**2 - v @ v, "jac": lambda v: -2 * v}],
        method="SLSQP", options={"ftol": 1e-12, "maxiter": 500},
    )
    np.testing.assert_allclose(res.x, w, atol=1e-5)
    # inactive constraint: α = 0 and w = w*
    w2, a2 = cf.l2_constrained_optimum(H, w_star, 10 * np.linalg.norm(w_star))
    assert a2 == 0.0 and np.array_equal(w2, w_star)
