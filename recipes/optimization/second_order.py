"""Second-order and quasi-Newton minimization of a small Keras model on the full batch.

The lecture's "Approximate Second-Order Methods": with :math:`\\mathbf g = \\nabla_{\\boldsymbol\\theta}J` and
:math:`\\mathbf H = \\nabla^2_{\\boldsymbol\\theta}J` at :math:`\\boldsymbol\\theta_0`, the quadratic model
:math:`J(\\boldsymbol\\theta) \\approx J(\\boldsymbol\\theta_0) + (\\boldsymbol\\theta-\\boldsymbol\\theta_0)^T\\mathbf g
+ \\tfrac12(\\boldsymbol\\theta-\\boldsymbol\\theta_0)^T\\mathbf H(\\boldsymbol\\theta-\\boldsymbol\\theta_0)` is minimized by
Newton's step :math:`\\boldsymbol\\theta^* = \\boldsymbol\\theta_0 - \\mathbf H^{-1}\\mathbf g`, or by the regularized
step :math:`\\boldsymbol\\theta^* = \\boldsymbol\\theta_0 - (\\mathbf H + \\alpha\\mathbf I)^{-1}\\mathbf g`.
CG (nonlinear conjugate gradients, Polak–Ribière), BFGS and L-BFGS avoid forming :math:`\\mathbf H`.

``minimize(model, x, y, loss, method=...)`` works on the model's trainable weights flattened into one vector
:math:`\\boldsymbol\\theta` (``recipes.optimization.model_autodiff.flat_weights``) and evaluates :math:`J` on the whole
``(x, y)`` at once (full batch, ``training=False``, regularization losses included):

* ``"newton"``: the regularized Newton iteration above (:math:`\\alpha` = ``damping``, unit step), with the
  exact Hessian from autodiff (``recipes.optimization.model_autodiff.flat_hessian``: ``tape.jacobian`` on TensorFlow,
  ``jax.hessian`` on JAX) — :math:`O(n^2)` memory, :math:`O(n^3)` per step: small models only;
* ``"cg"``, ``"bfgs"``, ``"lbfgs"``: ``scipy.optimize.minimize`` with methods ``CG``, ``BFGS``, ``L-BFGS-B``
  (no bounds), fed the exact loss and gradient.

Stopping rule, the same for all four: success means :math:`\\|\\mathbf g\\|_\\infty \\le` ``tol`` at the returned
:math:`\\boldsymbol\\theta`, and nothing else. SciPy's CG and BFGS use this test (``gtol``, ``norm=inf``); L-BFGS-B also
stops on a small relative decrease of :math:`J` (``ftol``), which is switched off here (``ftol=0``), so it runs
until ``gtol`` is met, ``max_iter`` is reached or the line search fails (``success=False``). Every result is
checked once more against the rule: ``success`` is False whenever the final gradient is above ``tol``.

The model's weights are left at the solution. :math:`J`, its gradient and Hessian are computed in the model's
dtype (that of its weights; a Keras ``Loss`` instance is evaluated in that dtype too, whatever its own ``dtype``,
see ``model_autodiff.resolve_loss``): a float32 model gives gradients good to about 1e-7 relative, so ``tol``
below about 1e-6 is then out of reach; a float64 model reaches float64 precision.
"""
import numpy as np
import scipy.linalg
import scipy.optimize

from augment.checks import check_choice, check_number, check_positive_int
from recipes.optimization import model_autodiff

METHODS = ("newton", "cg", "bfgs", "lbfgs")
_SCIPY_METHOD = {"cg": "CG", "bfgs": "BFGS", "lbfgs": "L-BFGS-B"}


def newton_step(hessian, gradient, damping=0.0):
    """The lecture's regularized Newton update :math:`\\Delta\\boldsymbol\\theta = -(\\mathbf H + \\alpha\\mathbf I)^{-1}
    \\mathbf g` (``damping`` = :math:`\\alpha \\ge 0`) for NumPy arrays ``hessian`` (n, n) and ``gradient`` (n,)."""
    hessian = np.asarray(hessian, dtype=np.float64)
    gradient = np.asarray(gradient, dtype=np.float64)
    if hessian.ndim != 2 or hessian.shape[0] != hessian.shape[1] or hessian.shape[0] != gradient.size:
        raise ValueError(f"hessian must be (n, n) with n = gradient.size = {gradient.size}, got {hessian.shape}")
    damping = check_number("damping", damping, 0.0)
    regularized = hessian + damping * np.eye(gradient.size)
    try:
        return -scipy.linalg.solve(regularized, gradient, assume_a="sym")
    except np.linalg.LinAlgError:
        return -np.linalg.lstsq(regularized, gradient, rcond=None)[0]


def minimize(model, x, y, loss, method="lbfgs", max_iter=100, tol=1e-6, damping=0.0, callback=None):
    """Minimize :math:`J(\\boldsymbol\\theta)` of ``model`` on the full batch ``(x, y)``.

    Args:
        model: a built Keras model (its trainable weights are optimized in place).
        x, y: the whole training set (arrays).
        loss: Keras loss name, instance or callable ``loss(y_true, y_pred)``.
        method: ``"newton"`` (regularized Newton :math:`\\boldsymbol\\theta \\leftarrow \\boldsymbol\\theta -
            (\\mathbf H+\\alpha\\mathbf I)^{-1}\\mathbf g`), ``"cg"``, ``"bfgs"`` or ``"lbfgs"``.
        max_iter: maximum number of iterations (Newton steps or scipy iterations), >= 1.
        tol: stop when :math:`\\|\\mathbf g\\|_\\infty \\le` ``tol`` (scipy's ``gtol``; L-BFGS-B's ``ftol`` test is
            off), > 0. This is the only criterion that reports ``success=True``.
        damping: :math:`\\alpha \\ge 0`, Newton only.
        callback: optional ``callback(theta)`` called after each iteration.

    Returns:
        ``scipy.optimize.OptimizeResult`` with ``x`` (final :math:`\\boldsymbol\\theta`), ``fun``, ``jac``,
        ``nit``, ``success``, ``message`` and ``method``.
    """
    method = check_choice("method", method.lower() if isinstance(method, str) else method, METHODS)
    max_iter = check_positive_int("max_iter", max_iter)
    tol = check_number("tol", tol, 0.0, low_open=True)
    damping = check_number("damping", damping, 0.0)
    if damping and method != "newton":
        raise ValueError(f"damping must be 0 with method={method!r} (it applies to method='newton' only), "
                         f"got {damping!r}")
    model_autodiff.resolve_loss(loss)  # a bad loss is named before any work
    if not model.built:
        model(x[:1])
    loss = model_autodiff.resolve_loss(loss, model)
    theta0 = model_autodiff.flat_weights(model)
    if theta0.size == 0:
        raise ValueError("model has no trainable weights")

    fun = model_autodiff.make_flat_loss_and_gradient(model, loss, x, y)
    if method == "newton":
        theta = theta0
        value, grad = fun(theta)
        nit, success = 0, bool(np.max(np.abs(grad)) <= tol)
        while not success and nit < max_iter:
            hessian = model_autodiff.flat_hessian(model, loss, x, y)
            theta = theta + newton_step(hessian, grad, damping)
            value, grad = fun(theta)
            nit += 1
            success = bool(np.max(np.abs(grad)) <= tol)
            if callback is not None:
                callback(theta)
        result = scipy.optimize.OptimizeResult(
            x=theta, fun=value, jac=grad, nit=nit, success=success,
            message="gradient norm below tol" if success else "max_iter reached")
    else:
        options = {"maxiter": int(max_iter), "gtol": float(tol)}
        if method == "lbfgs":
            options["ftol"] = 0.0  # no stop on the decrease of J: only the gradient test
        else:
            options["norm"] = np.inf  # scipy's default, stated: ‖g‖∞
        result = scipy.optimize.minimize(
            fun, theta0, jac=True,
            method=_SCIPY_METHOD[method], options=options, callback=callback)
        grad_norm = float(np.max(np.abs(result.jac)))
        if result.success and not grad_norm <= tol:  # L-BFGS-B also stops when J did not decrease at all
            result.success = False
            result.message = f"{result.message} (but the gradient norm {grad_norm:.3g} > tol={tol:g})"
    model_autodiff.set_flat_weights(model, result.x)
    result.method = method
    return result
