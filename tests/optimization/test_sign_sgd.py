"""signSGD / Signum: step-by-step agreement with a NumPy reference (incl. decoupled weight decay), .keras round
trip, argument checks."""
import numpy as np
import pytest
import keras

from recipes.optimization.sign_sgd import SignSGD, Signum


def _run(optimizer, theta0, grads):
    var = keras.Variable(theta0.astype("float32"))
    history = []
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g.astype("float32"))], [var])
        history.append(keras.ops.convert_to_numpy(var).copy())
    return history


def _grads(steps, shape, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for _ in range(steps)]


def test_signsgd_update_is_lr_times_sign():
    rng = np.random.default_rng(1)
    theta0 = rng.normal(size=(5, 3))
    g = rng.normal(size=(5, 3)) * 10.0 ** rng.integers(-6, 6, size=(5, 3))  # wildly scaled gradients
    g[0, 0] = 0.0
    (theta1,) = _run(SignSGD(learning_rate=0.01), theta0, [g])
    # float32 arithmetic: one rounding of theta, so 1e-6 absolute is ample
    np.testing.assert_allclose(theta1, theta0 - 0.01 * np.sign(g), atol=1e-6)
    assert theta1[0, 0] == pytest.approx(theta0[0, 0], abs=1e-7)  # sign(0) = 0: no move


@pytest.mark.parametrize("weight_decay", [None, 0.1])
def test_signum_matches_numpy_reference(weight_decay):
    lr, beta, steps = 0.05, 0.9, 6
    theta0 = np.random.default_rng(2).normal(size=(4,))
    grads = _grads(steps, (4,), seed=3)
    got = _run(Signum(learning_rate=lr, momentum=beta, weight_decay=weight_decay), theta0, grads)
    theta, m = theta0.copy(), np.zeros(4)
    for g, theta_k in zip(grads, got):
        if weight_decay:
            theta = theta - lr * weight_decay * theta  # Keras decoupled weight decay, applied first
        m = beta * m + (1 - beta) * g
        theta = theta - lr * np.sign(m)
        np.testing.assert_allclose(theta_k, theta, atol=1e-5)  # float32 accumulation over 6 steps


def test_exclude_from_weight_decay_by_name():
    opt = SignSGD(learning_rate=0.1, weight_decay=0.5)
    decayed = keras.Variable(np.ones(3, "float32"), name="kernel")
    excluded = keras.Variable(np.ones(3, "float32"), name="bias")
    opt.exclude_from_weight_decay(var_names=["bias"])
    g = keras.ops.ones((3,))
    opt.apply([g, g], [decayed, excluded])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(decayed), 1 - 0.1 * 0.5 - 0.1, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(excluded), 1 - 0.1, atol=1e-6)


@pytest.mark.parametrize("cls,kwargs", [(SignSGD, {"momentum": 0.0}), (Signum, {"momentum": 0.8})])
def test_keras_round_trip(tmp_path, cls, kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(cls(learning_rate=0.01, weight_decay=1e-3, **kwargs), "mse")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.optimizer) is cls
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


@pytest.mark.parametrize("kwargs,error,match", [
    ({"learning_rate": -1.0}, ValueError, r"learning_rate must be a finite number in \(0, inf\), got -1.0"),
    ({"learning_rate": "fast"}, TypeError, r"learning_rate must be a number in \(0, inf\) or a schedule"),
    ({"momentum": 1.0}, ValueError, r"momentum must be a finite number in \[0, 1\), got 1.0"),
    ({"momentum": -0.1}, ValueError, r"momentum must be a finite number in \[0, 1\), got -0.1"),
    ({"weight_decay": -1.0}, ValueError, r"weight_decay must be a finite number in \[0, inf\), got -1.0"),
    ({"clipnorm": 0.0}, ValueError, r"clipnorm must be a finite number in \(0, inf\), got 0.0"),
    ({"global_clipnorm": float("inf")}, ValueError, r"global_clipnorm must be .*, got inf"),
])
def test_bad_arguments_raise_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        SignSGD(**kwargs)


def test_signum_rejects_zero_momentum():
    with pytest.raises(ValueError, match=r"momentum must be a finite number in \(0, 1\), got 0.0"):
        Signum(momentum=0.0)
