"""Sophia: NumPy reference step by step (with weight decay and Hessian refreshes), the clipping bound, loss
reduction on an ill-conditioned quadratic, unbiasedness of the Hutchinson and GNB estimators, model.fit with
the callback, .keras round trip, argument checks."""
import numpy as np
import pytest
import keras

from recipes.optimization import model_autodiff
from recipes.optimization.sophia import Sophia, SophiaHessianUpdate, gnb_estimate, hutchinson_estimate, make_gnb_gradient


def _np(t):
    return np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64)


@pytest.mark.parametrize("weight_decay", [None, 0.2])
def test_update_matches_numpy_reference(weight_decay):
    lr, b1, b2, gamma, eps = 0.05, 0.9, 0.95, 0.5, 1e-3
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(6,))
    var = keras.Variable(theta.astype("float32"))
    opt = Sophia(learning_rate=lr, beta_1=b1, beta_2=b2, gamma=gamma, epsilon=eps, weight_decay=weight_decay)
    opt.build([var])
    m, h = np.zeros(6), np.zeros(6)
    for step in range(7):
        if step % 3 == 0:  # refresh h every k = 3 steps, with some negative / tiny estimates
            h_hat = rng.normal(size=(6,)) * 2.0
            opt.update_hessian([h_hat.astype("float32")])
            h = b2 * h + (1 - b2) * h_hat
        g = rng.normal(size=(6,))
        opt.apply([keras.ops.convert_to_tensor(g.astype("float32"))], [var])
        if weight_decay:
            theta = theta - lr * weight_decay * theta
        m = b1 * m + (1 - b1) * g
        theta = theta - lr * np.clip(m / np.maximum(gamma * h, eps), -1, 1)
        np.testing.assert_allclose(_np(var), theta, atol=2e-5)  # float32 over 7 steps
        np.testing.assert_allclose(_np(opt.hessians[0]), h, atol=1e-6)


def test_step_never_exceeds_learning_rate():
    rng = np.random.default_rng(1)
    lr = 0.01
    var = keras.Variable(rng.normal(size=(200,)).astype("float32"))
    opt = Sophia(learning_rate=lr, beta_1=0.5, gamma=0.01)
    opt.build([var])
    opt.update_hessian([(rng.normal(size=(200,)) * 1e-3).astype("float32")])  # tiny and negative curvature
    for _ in range(10):
        before = _np(var)
        g = rng.normal(size=(200,)) * 1e4  # huge gradients
        opt.apply([keras.ops.convert_to_tensor(g.astype("float32"))], [var])
        step = np.abs(_np(var) - before)
        assert step.max() <= lr * (1 + 1e-5)  # clip(., 1) bound, float32 slack
        assert np.mean(np.isclose(step, lr, rtol=1e-3)) > 0.5  # and most coordinates hit it


def test_reduces_loss_on_ill_conditioned_quadratic():
    # J = 1/2 sum a_i theta_i^2 with condition number 1e4; h = exact diag(H) = a
    a = np.logspace(0, 4, 8)
    theta0 = np.ones(8)
    var = keras.Variable(theta0.astype("float32"))
    opt = Sophia(learning_rate=0.1, beta_1=0.5, beta_2=0.0, gamma=1.0)
    opt.build([var])
    opt.update_hessian([a.astype("float32")])
    losses = []
    for _ in range(100):
        theta = _np(var)
        losses.append(0.5 * np.sum(a * theta ** 2))
        opt.apply([keras.ops.convert_to_tensor((a * theta).astype("float32"))], [var])
    final = 0.5 * np.sum(a * _np(var) ** 2)
    # Plain GD would need lr < 2/a_max = 2e-4 and reduce the a_0 = 1 coordinate by < 2 % in 100 steps;
    # the diagonal-Newton step shrinks every coordinate geometrically.
    assert final < 1e-6 * losses[0]
    assert all(l1 <= l0 * (1 + 1e-6) for l0, l1 in zip(losses, losses[1:]))


def _linear_problem(n=128, d=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x @ rng.normal(size=(d, 1)) + 0.1 * rng.normal(size=(n, 1))).astype("float32")
    model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(1)])
    return model, x, y


def test_hutchinson_is_unbiased_for_the_hessian_diagonal():
    model, x, y = _linear_problem()
    xb = np.c_[x, np.ones(len(x))].astype(np.float64)
    hessian = 2.0 / len(x) * xb.T @ xb  # MSE Hessian in (kernel, bias)
    rng = np.random.default_rng(3)
    draws = 200
    hvp = model_autodiff.make_hessian_vector_product(model, "mse")
    est = np.array([np.concatenate([e.ravel() for e in hutchinson_estimate(model, "mse", x, y, rng, hvp)])
                    for _ in range(draws)])
    diag = np.diag(hessian)
    # Var of one draw for u ~ N(0, I): 2 H_ii^2 + sum_{j != i} H_ij^2; allow 5 standard errors
    var = 2 * diag ** 2 + (hessian ** 2).sum(axis=1) - diag ** 2
    np.testing.assert_array_less(np.abs(est.mean(axis=0) - diag), 5 * np.sqrt(var / draws))


def test_gnb_is_unbiased_for_the_gauss_newton_diagonal():
    rng = np.random.default_rng(4)
    n, d, c = 48, 3, 3
    x = rng.normal(size=(n, d)).astype("float32")
    model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(c)])
    z = x.astype(np.float64) @ _np(model.layers[0].kernel) + _np(model.layers[0].bias)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    q = p * (1 - p)  # softmax GGN diagonal for logit c: p_c (1 - p_c)
    expected_kernel = (x.astype(np.float64) ** 2).T @ q / n
    expected_bias = q.mean(axis=0)
    draws = 200
    est_k, est_b = np.zeros((d, c)), np.zeros(c)
    grad_fn = make_gnb_gradient(model)
    for _ in range(draws):
        k_hat, b_hat = gnb_estimate(model, x, rng, grad_fn)
        est_k += k_hat / draws
        est_b += b_hat / draws
    # each draw is B * ghat^2, ghat ~ approx. normal => relative std sqrt(2); 200 draws -> 10 % standard
    # error; 40 % is 4 standard errors
    np.testing.assert_allclose(est_k, expected_kernel, rtol=0.4)
    np.testing.assert_allclose(est_b, expected_bias, rtol=0.4)


@pytest.mark.parametrize("estimator", ["hutchinson", "gnb"])
def test_fit_with_callback_reduces_loss_and_round_trips(tmp_path, estimator):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("int32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(2)])
    opt = Sophia(learning_rate=0.02, gamma=0.05, weight_decay=1e-4)
    model.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    callback = SophiaHessianUpdate(x, y, estimator=estimator, every=4, batch_size=64, seed=1)
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[callback])
    assert callback.updates == 6  # 24 steps, refreshed after steps 1, 5, 9, ..., 21
    assert all(np.all(np.isfinite(_np(h))) for h in opt.hessians)
    assert np.any(_np(opt.hessians[-1]) > 0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    path = tmp_path / "sophia.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.optimizer, Sophia)
    assert loaded.optimizer.get_config() == opt.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(opt.hessians, loaded.optimizer.hessians):
        np.testing.assert_array_equal(_np(a), _np(b))


@pytest.mark.parametrize("kwargs,error,match", [
    ({"learning_rate": 0.0}, ValueError, r"learning_rate must be a finite number in \(0, inf\), got 0.0"),
    ({"beta_1": 1.0}, ValueError, r"beta_1 must be a finite number in \[0, 1\), got 1.0"),
    ({"beta_2": -0.5}, ValueError, r"beta_2 must be a finite number in \[0, 1\), got -0.5"),
    ({"gamma": 0.0}, ValueError, r"gamma must be a finite number in \(0, inf\), got 0.0"),
    ({"epsilon": -1.0}, ValueError, r"epsilon must be a finite number in \(0, inf\), got -1.0"),
    ({"epsilon": "1e-12"}, TypeError, r"epsilon must be a number in \(0, inf\), got '1e-12'"),
    ({"weight_decay": -0.1}, ValueError, r"weight_decay must be a finite number in \[0, inf\), got -0.1"),
    ({"clipvalue": -1.0}, ValueError, r"clipvalue must be a finite number in \(0, inf\), got -1.0"),
])
def test_bad_arguments_raise_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        Sophia(**kwargs)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"estimator": "fisher"}, ValueError, "estimator must be one of hutchinson, gnb, got 'fisher'"),
    ({"every": 0}, ValueError, r"every must be an integer in \[1, inf\), got 0"),
    ({"batch_size": 0}, ValueError, r"batch_size must be an integer in \[1, inf\), got 0"),
    ({"batch_size": 2.0}, TypeError, r"batch_size must be an integer in \[1, inf\), got 2.0"),
    ({"y": None}, ValueError, "y must be given .* with estimator='hutchinson', got None"),
])
def test_callback_bad_arguments_raise_by_name(kwargs, error, match):
    args = {"x": np.zeros((4, 2)), "y": np.zeros(4), **kwargs}
    with pytest.raises(error, match=match):
        SophiaHessianUpdate(**args)


def test_update_hessian_checks_length():
    var = keras.Variable(np.zeros(3, "float32"))
    opt = Sophia()
    with pytest.raises(ValueError, match="built"):
        opt.update_hessian([np.zeros(3)])
    opt.build([var])
    with pytest.raises(ValueError, match="estimates"):
        opt.update_hessian([np.zeros(3), np.zeros(3)])
