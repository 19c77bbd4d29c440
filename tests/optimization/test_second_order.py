"""Second-order minimize: Newton solves a quadratic in one step, the regularized step equals
-(H + alpha I)^-1 g, CG / BFGS / L-BFGS reach the least-squares solution; the exact Hessian and
Hessian-vector products of model_autodiff equal the closed form; argument checks."""
import numpy as np
import pytest
import keras

from recipes.optimization import model_autodiff
from recipes.optimization.second_order import minimize, newton_step


def _problem(n=64, d=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    x[:, 1] *= 5.0  # some ill-conditioning
    y = (x @ rng.normal(size=(d, 1)) + 0.5 + 0.1 * rng.normal(size=(n, 1))).astype("float32")
    xb = np.c_[x, np.ones(n)].astype(np.float64)
    solution = np.linalg.lstsq(xb, y.astype(np.float64), rcond=None)[0].ravel()
    return x, y, xb, solution


def _model(d=5):
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((d,)), keras.layers.Dense(1)])


def test_exact_hessian_and_hvp_match_closed_form():
    x, y, xb, _ = _problem()
    model = _model()
    hessian = 2.0 / len(x) * xb.T @ xb  # MSE of a linear model, weights ordered (kernel, bias)
    # float32 model: relative 1e-4 of the largest entry
    np.testing.assert_allclose(model_autodiff.flat_hessian(model, "mse", x, y), hessian,
                               atol=1e-4 * np.abs(hessian).max())
    u = np.random.default_rng(2).normal(size=6)
    hu = model_autodiff.hessian_vector_product(model, "mse", x, y,
                                               [u[:5].reshape(5, 1).astype("float32"), u[5:].astype("float32")])
    np.testing.assert_allclose(np.concatenate([np.asarray(h).ravel() for h in hu]), hessian @ u,
                               rtol=1e-4, atol=1e-4 * np.abs(hessian @ u).max())


def test_newton_solves_quadratic_in_one_step():
    x, y, _, solution = _problem()
    model = _model()
    result = minimize(model, x, y, "mse", method="newton", tol=1e-4)
    assert result.nit == 1 and result.success
    # float32 gradient/Hessian: the solution is reached to ~1e-5 relative
    np.testing.assert_allclose(model_autodiff.flat_weights(model), solution, atol=1e-4)


def test_regularized_newton_step_formula():
    x, y, xb, _ = _problem()
    model = _model()
    theta0 = model_autodiff.flat_weights(model)
    alpha = 3.0
    h = 2.0 / len(x) * xb.T @ xb
    g = 2.0 / len(x) * xb.T @ (xb @ theta0 - y.ravel())
    expected = theta0 - np.linalg.solve(h + alpha * np.eye(6), g)
    result = minimize(model, x, y, "mse", method="newton", damping=alpha, max_iter=1, tol=1e-12)
    assert result.nit == 1 and not result.success  # one damped step does not reach the optimum
    np.testing.assert_allclose(result.x, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(newton_step(h, g, alpha), expected - theta0, rtol=1e-12)


@pytest.mark.parametrize("method", ["cg", "bfgs", "lbfgs"])
def test_quasi_newton_reach_least_squares(method):
    x, y, _, solution = _problem()
    model = _model()
    result = minimize(model, x, y, "mse", method=method, tol=1e-5, max_iter=200)
    # float32 loss/gradient limit the attainable accuracy to about 1e-4 on weights of size ~1
    np.testing.assert_allclose(result.x, solution, atol=1e-3)
    np.testing.assert_allclose(model_autodiff.flat_weights(model), result.x, atol=1e-6)  # left at solution
    assert result.fun == pytest.approx(np.mean((x @ solution[:5] + solution[5] - y.ravel()) ** 2), rel=1e-4)


def test_regularization_losses_are_part_of_the_objective():
    # ridge: J = mean((X w + b - y)^2) + l2 * ||w||^2 has the closed form below
    x, y, xb, _ = _problem()
    l2 = 0.5
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L2(l2))])
    minimize(model, x, y, "mse", method="newton", tol=1e-4)
    n = len(x)
    penalty = np.diag([l2] * 5 + [0.0])
    expected = np.linalg.solve(xb.T @ xb / n + penalty, xb.T @ y.astype(np.float64).ravel() / n)
    np.testing.assert_allclose(model_autodiff.flat_weights(model), expected, atol=1e-4)


@pytest.mark.parametrize("kwargs,match", [
    ({"method": "adam"}, "method must be one of newton, cg, bfgs, lbfgs, got 'adam'"),
    ({"max_iter": 0}, r"max_iter must be an integer in \[1, inf\), got 0"),
    ({"tol": 0.0}, r"tol must be a finite number in \(0, inf\), got 0.0"),
    ({"damping": -1.0}, r"damping must be a finite number in \[0, inf\), got -1.0"),
    ({"method": "bfgs", "damping": 1.0}, "damping must be 0 with method='bfgs' .*, got 1.0"),
])
def test_bad_arguments_raise_by_name(kwargs, match):
    x, y, _, _ = _problem()
    with pytest.raises(ValueError, match=match):
        minimize(_model(), x, y, "mse", **kwargs)


def test_newton_step_checks_shapes():
    with pytest.raises(ValueError, match="hessian"):
        newton_step(np.eye(3), np.ones(2))
