"""recipes.regularizers.parameter_tying: Ω = ‖ω⁽ᴬ⁾ − ω⁽ᴮ⁾‖² value/gradient, the pull it exerts during training
(exact geometric contraction under SGD), hard sharing's summed gradient, serialization, errors."""
import numpy as np
import pytest

import keras

from recipes.regularizers.multitask import build_soft_sharing_model
from recipes.regularizers.parameter_tying import ParameterTying, build_shared_encoder_model, tying_penalty


def _np(t):
    return keras.ops.convert_to_numpy(t).astype(np.float64)


def _grads(fn, arrays):
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return [np.asarray(g) for g in jax.grad(lambda *a: fn(*a), argnums=tuple(range(len(arrays))))(*arrays)]
    import tensorflow as tf

    vs = [tf.Variable(a) for a in arrays]
    with tf.GradientTape() as tape:
        v = fn(*vs)
    return [g.numpy() for g in tape.gradient(v, vs)]


def test_tying_penalty_value_and_gradient():
    rng = np.random.default_rng(0)
    a1, b1 = rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(3, 4)).astype("float32")
    a2, b2 = rng.normal(size=(4,)).astype("float32"), rng.normal(size=(4,)).astype("float32")
    ref = np.sum((a1 - b1) ** 2) + np.sum((a2 - b2) ** 2)
    np.testing.assert_allclose(float(tying_penalty([a1, a2], [b1, b2])), ref, rtol=1e-5)
    ga1, ga2, gb1, gb2 = _grads(lambda p, q, r, s: tying_penalty([p, q], [r, s]), [a1, a2, b1, b2])
    np.testing.assert_allclose(ga1, 2 * (a1 - b1), rtol=1e-5)  # ∂Ω/∂ω⁽ᴬ⁾ = 2(ω⁽ᴬ⁾ − ω⁽ᴮ⁾)
    np.testing.assert_allclose(gb2, -2 * (a2 - b2), rtol=1e-5)


def test_tying_penalty_alone_contracts_the_difference_geometrically():
    lam, lr = 0.5, 0.1
    keras.utils.set_random_seed(0)
    model = build_soft_sharing_model((3,), {"a": 1, "b": 1}, tower_units=(5,), tying_strength=lam)
    # zero task weights: the loss is λ‖ω_a − ω_b‖² only. SGD: a − b ← (1 − 4ελ)(a − b), a + b fixed.
    model.compile(optimizer=keras.optimizers.SGD(lr), loss={"a": "mse", "b": "mse"},
                  loss_weights={"a": 0.0, "b": 0.0})
    ka, kb = model.inner.get_layer("a_tower_0").kernel, model.inner.get_layer("b_tower_0").kernel
    d0, s0 = _np(ka) - _np(kb), _np(ka) + _np(kb)
    x = np.zeros((8, 3), "float32")
    y = {"a": np.zeros((8, 1), "float32"), "b": np.zeros((8, 1), "float32")}
    steps = 5
    for _ in range(steps):
        model.train_on_batch(x, y)
    # float32 arithmetic: relative 1e-5
    np.testing.assert_allclose(_np(ka) - _np(kb), d0 * (1 - 4 * lr * lam) ** steps, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(_np(ka) + _np(kb), s0, rtol=1e-5, atol=1e-6)


def test_tying_pulls_towers_together_during_training():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(128, 4)).astype("float32")
    w = rng.normal(size=(4, 1))
    y = {"a": (np.tanh(x @ w)).astype("float32"), "b": (np.tanh(x @ w) + 0.1 * x[:, :1]).astype("float32")}

    def distance_curve(lam):
        keras.utils.set_random_seed(2)
        model = build_soft_sharing_model((4,), {"a": 1, "b": 1}, tower_units=(8,), tying_strength=lam)
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss={"a": "mse", "b": "mse"})
        dist = [float(model.penalty())]
        record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: dist.append(float(model.penalty())))
        model.fit(x, y, batch_size=32, epochs=4, verbose=0, callbacks=[record])
        return np.array(dist)

    tied, free = distance_curve(1.0), distance_curve(0.0)
    assert tied[0] == pytest.approx(free[0])  # same initialization
    assert np.all(np.diff(tied) < 0)  # Ω decreases epoch after epoch with λ > 0
    assert tied[-1] < 0.05 * tied[0]
    assert free[-1] > 0.5 * free[0]  # without the penalty the towers stay apart


def test_hard_sharing_gradient_is_sum_over_uses():
    keras.utils.set_random_seed(0)
    model = build_shared_encoder_model(3, units=4)
    enc = model.get_layer("encoder")
    assert sum(int(np.prod(v.shape)) for v in enc.weights) == 3 * 4 + 4  # one set of parameters
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(5, 3)).astype("float32"), rng.normal(size=(5, 3)).astype("float32")
    k, b = _np(enc.kernel).astype("float32"), _np(enc.bias).astype("float32")
    head_k, head_b = _np(model.get_layer("head").kernel), _np(model.get_layer("head").bias)

    def loss(k1, b1, k2, b2):  # the same network with two SEPARATE encoder copies
        h1 = keras.ops.tanh(keras.ops.matmul(x1, k1) + b1)
        h2 = keras.ops.tanh(keras.ops.matmul(x2, k2) + b2)
        return keras.ops.sum(keras.ops.matmul((h1 - h2) ** 2, head_k.astype("float32")) + head_b)

    gk1, gb1, gk2, gb2 = _grads(loss, [k, b, k, b])

    def shared_loss(kk, bb):
        return loss(kk, bb, kk, bb)

    gk, gb = _grads(shared_loss, [k, b])
    np.testing.assert_allclose(gk, gk1 + gk2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gb, gb1 + gb2, rtol=1e-5, atol=1e-6)
    # and the Keras model computes exactly this function
    np.testing.assert_allclose(float(keras.ops.sum(model([x1, x2]))), float(shared_loss(k, b)), rtol=1e-5)


def test_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_soft_sharing_model((3,), {"a": 2, "b": 1}, tower_units=(4, 4), tying_strength=0.3)
    model.compile(optimizer="adam", loss={"a": "mse", "b": "mse"})
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    model.train_on_batch(x, {"a": np.zeros((8, 2)), "b": np.ones((8, 1))})
    model.save(tmp_path / "t.keras")
    loaded = keras.models.load_model(tmp_path / "t.keras")
    assert isinstance(loaded, ParameterTying) and loaded.strength == 0.3 and loaded.pairs == model.pairs
    out, out2 = model(x), loaded(x)
    for t in ("a", "b"):
        np.testing.assert_array_equal(_np(out[t]), _np(out2[t]))
    np.testing.assert_allclose(float(loaded.penalty()), float(model.penalty()), rtol=1e-6)
    shared = build_shared_encoder_model(3)
    shared.save(tmp_path / "s.keras")
    l2 = keras.models.load_model(tmp_path / "s.keras")
    np.testing.assert_array_equal(_np(shared([x, x[::-1]])), _np(l2([x, x[::-1]])))


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="weights_a\\[0\\] and weights_b\\[0\\]"):
        tying_penalty([np.ones((2, 3))], [np.ones((3, 2))])
    with pytest.raises(ValueError, match="same number"):
        tying_penalty([np.ones(2)], [np.ones(2), np.ones(2)])
    inp = keras.Input((3,))
    a = keras.layers.Dense(4, name="a")(inp)
    b = keras.layers.Dense(5, name="b")(inp)
    m = keras.Model(inp, [a, b])
    with pytest.raises(ValueError, match="pairs"):
        ParameterTying(m, [("a", "b")])  # 3×4 vs 3×5
    with pytest.raises(ValueError, match=r"pairs must name layers of the model, got \['nope'\]"):
        ParameterTying(m, [("a", "nope")])
    with pytest.raises(ValueError, match=r"strength must be a finite number in \[0, inf\), got -1.0"):
        ParameterTying(m, [("a", "a")], strength=-1.0)
    with pytest.raises(ValueError, match="weights must be one of kernel, all, got 'bias'"):
        ParameterTying(m, [("a", "a")], weights="bias")
    with pytest.raises(TypeError, match=r"units must be an integer in \[1, inf\), got 2.0"):
        build_shared_encoder_model(3, units=2.0)
