"""Early stopping ≡ L2 on the quadratic J(w) = ½(w − w*)ᵀH(w − w*) (recipes/early_stopping/l2_equivalence.py)."""
import keras
import numpy as np
import pytest

from recipes.early_stopping import l2_equivalence as el


def _problem(d=6, seed=0, lam_max=10.0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    lam = np.logspace(-3, np.log10(lam_max), d)
    H = Q @ np.diag(lam) @ Q.T
    w_star = rng.normal(size=d)
    return H, w_star, lam


def test_gradient_descent_matches_closed_form():
    # Qᵀw⁽ᵗ⁾ = [I − (I − εΛ)^τ]Qᵀw*: exact algebra, so only float64 round-off over ≤ 1000 steps (rtol 1e-10).
    H, w_star, _ = _problem()
    eps = 0.05  # ελ_max = 0.5 < 1
    traj = el.gradient_descent(H, w_star, eps, 1000)
    for tau in (0, 1, 7, 100, 1000):
        np.testing.assert_allclose(traj[tau], el.early_stopping_weights(H, w_star, eps, tau), rtol=1e-10, atol=1e-12)


def test_keras_sgd_is_the_gradient_descent_of_the_lecture():
    # keras.optimizers.SGD(ε) on a float32 variable with gradient H(w − w*): float32 round-off over 200 steps,
    # so atol 1e-4·‖w*‖ (≈ 200 steps × 1e-7 relative error, with a margin of 5).
    H, w_star, _ = _problem()
    eps, tau = 0.05, 200
    w = keras.Variable(np.zeros(6, "float32"))
    opt = keras.optimizers.SGD(learning_rate=eps)
    Hk, wk = keras.ops.convert_to_tensor(H, "float32"), keras.ops.convert_to_tensor(w_star, "float32")
    for _ in range(tau):
        grad = keras.ops.matmul(Hk, w.value - wk)
        opt.apply_gradients([(grad, w)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(w.value), el.early_stopping_weights(H, w_star, eps, tau),
                               atol=1e-4 * np.linalg.norm(w_star))


def test_l2_closed_form_is_the_regularized_minimizer():
    # Stationarity of ½(w − w*)ᵀH(w − w*) + (α/2)‖w‖²: H(w̃ − w*) + αw̃ = 0 (float64, atol 1e-12).
    H, w_star, _ = _problem()
    for alpha in (1e-3, 0.1, 2.0, 50.0):
        w = el.l2_weights(H, w_star, alpha)
        np.testing.assert_allclose(H @ (w - w_star) + alpha * w, 0.0, atol=1e-12)


def test_early_stopping_and_l2_agree_to_first_order_with_alpha_one_over_tau_eps():
    # With u = τελᵢ = λᵢ/α and ελᵢ ∈ [0, 1]: 0 ≤ s_ES − s_L2 ≤ u² (proof in the module docstring). Checked on a grid
    # of (ελ, τ) with a float64 slack of 1e-12.
    x = np.concatenate([np.logspace(-6, 0, 300), [0.0]])
    for tau in (1, 2, 5, 10, 100, 1000, 10_000):
        eps = 1.0  # only ελ and τ matter
        s_es = el.shrink_early_stopping(x, eps, tau)
        s_l2 = el.shrink_l2(x, el.equivalent_alpha(eps, tau))
        u = tau * x
        gap = s_es - s_l2
        assert np.all(gap >= -1e-12)
        assert np.all(gap <= u ** 2 + 1e-12)
    # Weights: for a problem whose τελ_max = 0.05, ‖w⁽ᵗ⁾ − w̃‖ ≤ (τελ_max)²‖w*‖ = 0.0025‖w*‖.
    H, w_star, lam = _problem()
    eps, tau = 1e-3, 5  # τελ_max = 0.05
    w_es = el.early_stopping_weights(H, w_star, eps, tau)
    w_l2 = el.l2_weights(H, w_star, el.equivalent_alpha(eps, tau))
    assert np.linalg.norm(w_es - w_l2) <= (tau * eps * lam.max()) ** 2 * np.linalg.norm(w_star)


def test_the_approximation_is_first_order_in_lambda_over_alpha():
    # ε → 0 at fixed α = 1/(τε): s_ES → 1 − e^{−u}, so the largest gap over directions tends to
    # max_u [1/(1+u) − e^{−u}] ≈ 0.2036, not to 0. With ε = 1e-5 the finite-ε correction is O(ε·u²) < 1e-3.
    u_max, gap_max = el.max_gap_small_eps_limit()
    assert abs(u_max - 2.513) < 1e-3 and abs(gap_max - 0.2036) < 1e-4
    alpha, eps = 1.0, 1e-5
    tau = int(round(1.0 / (alpha * eps)))
    lam = np.linspace(0.0, 20.0, 4001)  # u = λ/α from 0 to 20, ελ ≤ 2e-4
    gap = el.shrink_early_stopping(lam, eps, tau) - el.shrink_l2(lam, alpha)
    assert abs(gap.max() - gap_max) < 1e-3
    # ...while in the directions with u ≤ 0.1 or u ≥ 30 they agree within 0.034 (gap ≤ u² ≤ 0.01, resp.
    # gap ≤ 1/(1+u) ≤ 1/31 ≈ 0.0323, plus the O(εu²) finite-ε slack).
    lam2 = np.concatenate([np.linspace(0.0, 0.1, 50), np.linspace(30.0, 1000.0, 50)])
    gap2 = el.shrink_early_stopping(lam2, eps, tau) - el.shrink_l2(lam2, alpha)
    assert np.all(np.abs(gap2) <= 0.034)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"eps must be a finite number in \(0, inf\), got 0.0"):
        el.shrink_early_stopping([1.0], 0.0, 3)
    with pytest.raises(ValueError, match=r"tau must be an integer in \[0, inf\), got -1"):
        el.equivalent_alpha(0.1, -1)
    with pytest.raises(TypeError, match=r"tau must be an integer in \[0, inf\), got 2.5"):
        el.gradient_descent(np.eye(2), np.ones(2), 0.1, 2.5)
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, inf\), got -1.0"):
        el.shrink_l2([1.0], -1.0)
    assert np.all(el.shrink_l2([1.0, 2.0], el.equivalent_alpha(0.1, 0)) == 0)  # τ = 0 ⇔ α = inf
    with pytest.raises(ValueError, match="symmetric"):
        el.l2_weights(np.array([[1.0, 2.0], [0.0, 1.0]]), np.ones(2), 1.0)
    with pytest.raises(ValueError, match="semi-definite"):
        el.l2_weights(np.diag([1.0, -1.0]), np.ones(2), 1.0)


def test_script_draws_the_plot(tmp_path, capsys):
    # In-process (the script is NumPy + matplotlib only).
    from tests.helpers import load_script

    module = load_script("early_stopping_l2")
    module.main(["--output-dir", str(tmp_path), "--taus", "5", "50"])
    assert (tmp_path / "early_stopping_vs_l2.png").stat().st_size > 10_000
    rows = (tmp_path / "early_stopping_vs_l2.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 12  # header + d=12 directions for each τ
    assert "max |s_ES - s_L2|" in capsys.readouterr().out
