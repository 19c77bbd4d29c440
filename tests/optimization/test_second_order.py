"""Second-order minimize on a float64 least-squares problem, checked against the closed form to float64 precision:
Newton solves the quadratic in one step, the regularized step equals -(H + alpha I)^-1 g, CG / BFGS / L-BFGS stop
only when ||g||_inf <= tol (L-BFGS-B's function-decrease test is off) and then lie within the distance that tol
allows; a Keras Loss instance (float32 by default) is evaluated in the model's dtype; the exact Hessian and
Hessian-vector products of model_autodiff equal the closed form; argument checks.

The float64 checks run on TensorFlow: on JAX, Keras 3.15 reduces float64 tensors in float32 (keras.ops.mean inside
its losses), so J there is good to float32 precision only (documented in recipes/optimization/model_autodiff.py).
"""
import numpy as np
import pytest
import keras

from recipes.optimization import model_autodiff
from recipes.optimization.second_order import minimize, newton_step

float64_backend = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                     reason="float64 precision of Keras losses: TensorFlow backend only")


def _problem(n=64, d=5, seed=0):
    """x (n, d) float64 with one column scaled by 5 (cond(H) ~ 49), y = x w + 0.5 + noise; the least-squares
    solution (kernel, bias) from numpy's lstsq and the Hessian H = (2/n) XbᵀXb of the mean squared error."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x[:, 1] *= 5.0  # some ill-conditioning
    y = x @ rng.normal(size=(d, 1)) + 0.5 + 0.1 * rng.normal(size=(n, 1))
    xb = np.c_[x, np.ones(n)]
    solution = np.linalg.lstsq(xb, y, rcond=None)[0].ravel()
    return x, y, xb, solution


def _model(d=5, dtype="float64", **dense_kwargs):
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((d,), dtype=dtype), keras.layers.Dense(1, dtype=dtype, **dense_kwargs)])


def _distance_bound(xb, tol):
    """‖θ − θ*‖∞ ≤ ‖g‖₂ / λ_min(H) ≤ √n_params · tol / λ_min for a quadratic J stopped at ‖g‖∞ ≤ tol."""
    h = 2.0 / len(xb) * xb.T @ xb
    return np.sqrt(h.shape[0]) * tol / np.linalg.eigvalsh(h)[0]


@float64_backend
def test_exact_hessian_and_hvp_match_closed_form():
    x, y, xb, _ = _problem()
    model = _model()
    hessian = 2.0 / len(x) * xb.T @ xb  # MSE of a linear model, weights ordered (kernel, bias)
    np.testing.assert_allclose(model_autodiff.flat_hessian(model, keras.losses.MeanSquaredError(), x, y), hessian,
                               rtol=1e-13, atol=1e-13 * np.abs(hessian).max())
    u = np.random.default_rng(2).normal(size=6)
    hu = model_autodiff.hessian_vector_product(model, "mse", x, y, [u[:5].reshape(5, 1), u[5:]])
    np.testing.assert_allclose(np.concatenate([np.asarray(h).ravel() for h in hu]), hessian @ u,
                               rtol=1e-13, atol=1e-13 * np.abs(hessian @ u).max())


@float64_backend
@pytest.mark.parametrize("loss", ["mse", keras.losses.MeanSquaredError()], ids=["name", "Loss_instance"])
def test_newton_solves_quadratic_in_one_step(loss):
    x, y, _, solution = _problem()
    model = _model()
    result = minimize(model, x, y, loss, method="newton", tol=1e-10, max_iter=500)
    assert result.nit == 1 and result.success and np.max(np.abs(result.jac)) <= 1e-10
    np.testing.assert_allclose(model_autodiff.flat_weights(model), solution, rtol=1e-12, atol=1e-13)


@float64_backend
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
    np.testing.assert_allclose(result.x, expected, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(newton_step(h, g, alpha), expected - theta0, rtol=1e-12)


@float64_backend
@pytest.mark.parametrize("loss", ["mse", keras.losses.MeanSquaredError()], ids=["name", "Loss_instance"])
@pytest.mark.parametrize("method", ["cg", "bfgs", "lbfgs"])
def test_quasi_newton_reach_least_squares_to_float64_precision(method, loss):
    x, y, xb, solution = _problem()
    # float64 limit of a line search on J: at the optimum J ≈ 0.008, so J resolves decreases of ~2e-18 ≈ ‖g‖²/λ
    # only down to ‖g‖ ~ 1e-9 (CG at tol = 1e-10 ends with "precision loss"); ‖θ − θ*‖ ≤ 2.5e-9 follows
    tol = 1e-9
    model = _model()
    result = minimize(model, x, y, loss, method=method, tol=tol, max_iter=500)
    # success means exactly ‖g‖∞ ≤ tol (before: L-BFGS-B stopped on its ftol test at ‖g‖∞ ~ 3e-5 and said
    # success; with a float32 Loss instance CG and BFGS ended with "precision loss", success=False)
    assert result.success, result.message
    assert np.max(np.abs(result.jac)) <= tol
    np.testing.assert_allclose(result.x, solution, rtol=0, atol=_distance_bound(xb, tol))
    np.testing.assert_array_equal(model_autodiff.flat_weights(model), result.x)  # left at the solution
    j_min = np.mean((xb @ solution - y.ravel()) ** 2)
    assert result.fun == pytest.approx(j_min, rel=1e-13)


@float64_backend
def test_loss_instance_is_evaluated_in_the_model_dtype_without_changing_it():
    x, y, xb, _ = _problem()
    model = _model()
    loss = keras.losses.MeanSquaredError()  # dtype None -> floatx() = float32
    assert model_autodiff.model_dtype(model) == "float64" and loss.dtype == "float32"
    value, grads = model_autodiff.loss_and_gradients(model, loss, x, y)
    theta = model_autodiff.flat_weights(model)
    residual = xb @ theta - y.ravel()
    assert keras.backend.standardize_dtype(value.dtype) == "float64"
    assert float(value) == pytest.approx(np.mean(residual**2), rel=1e-14)
    np.testing.assert_allclose(np.concatenate([np.asarray(g).ravel() for g in grads]),
                               2.0 / len(x) * xb.T @ residual, rtol=1e-12)
    assert loss.dtype == "float32"  # the caller's instance is untouched (a copy computes in float64)
    assert model_autodiff.model_dtype(_model(dtype="float32")) == "float32"


def test_lbfgs_does_not_report_success_above_tol():
    """The issue's case: a float32 model cannot reach ‖g‖∞ ≤ 1e-9; L-BFGS-B's ftol test used to stop it and report
    success=True at ‖g‖∞ ~ 1e-6. Now success=False and the message says why."""
    x, y, _, _ = _problem()
    model = _model(dtype="float32")
    result = minimize(model, x.astype("float32"), y.astype("float32"), "mse", method="lbfgs", tol=1e-9,
                      max_iter=500)
    assert np.max(np.abs(result.jac)) > 1e-9
    assert not result.success, result.message


@float64_backend
def test_regularization_losses_are_part_of_the_objective():
    # ridge: J = mean((X w + b - y)^2) + l2 * ||w||^2 has the closed form below
    x, y, xb, _ = _problem()
    l2 = 0.5
    model = _model(kernel_regularizer=keras.regularizers.L2(l2))
    result = minimize(model, x, y, "mse", method="newton", tol=1e-10)
    assert result.nit == 1 and result.success
    n = len(x)
    penalty = np.diag([l2] * 5 + [0.0])
    expected = np.linalg.solve(xb.T @ xb / n + penalty, xb.T @ y.ravel() / n)
    np.testing.assert_allclose(model_autodiff.flat_weights(model), expected, rtol=1e-12, atol=1e-13)


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
        minimize(_model(dtype="float32"), x, y, "mse", **kwargs)


def test_newton_step_checks_shapes():
    with pytest.raises(ValueError, match="hessian"):
        newton_step(np.eye(3), np.ones(2))
