"""recipes.regularizers.penalties: values and gradients vs NumPy, kernels-only attachment, training effect,
coupled L2 vs decoupled weight decay, serialization, argument checks."""
import numpy as np
import pytest

import keras
from keras import ops

from recipes.regularizers import closed_forms
from recipes.regularizers.penalties import (
    ElasticNet,
    apply_penalty,
    decoupled_weight_decay_optimizer,
    make_penalty,
    penalized_variables,
)


def value_and_grad(fn, x):
    """Value and gradient of scalar fn at NumPy x, with the active backend's autodiff."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        v, g = jax.value_and_grad(lambda t: fn(t))(jax.numpy.asarray(x))
        return float(v), np.asarray(g)
    if backend == "tensorflow":
        import tensorflow as tf

        t = tf.Variable(x)
        with tf.GradientTape() as tape:
            v = fn(t)
        return float(v), tape.gradient(v, t).numpy()
    pytest.skip(f"no gradient helper for backend {backend}")


RNG = np.random.default_rng(0)
W = RNG.normal(size=(5, 3)).astype("float32")


@pytest.mark.parametrize(
    "kind,lam,alpha,ref_value,ref_grad",
    [
        ("l2", 0.3, None, lambda w: 0.3 * np.sum(w**2), lambda w: 0.6 * w),
        ("l1", 0.3, None, lambda w: 0.3 * np.sum(np.abs(w)), lambda w: 0.3 * np.sign(w)),
        (
            "elastic_net",
            0.3,
            0.25,
            lambda w: 0.3 * (0.25 * np.sum(w**2) + 0.75 * np.sum(np.abs(w))),
            lambda w: 0.3 * (0.5 * w + 0.75 * np.sign(w)),
        ),
    ],
)
def test_penalty_value_and_gradient_match_numpy(kind, lam, alpha, ref_value, ref_grad):
    reg = make_penalty(kind, lam, alpha if alpha is not None else 0.5)
    v, g = value_and_grad(lambda t: reg(t), W)
    # float32 sums of 15 terms: relative error ~1e-6; 1e-5 leaves room.
    np.testing.assert_allclose(v, ref_value(W.astype(np.float64)), rtol=1e-5)
    np.testing.assert_allclose(g, ref_grad(W.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_elastic_net_endpoints_are_l2_and_l1():
    w = ops.convert_to_tensor(W)
    np.testing.assert_allclose(float(ElasticNet(0.2, 1.0)(w)), float(keras.regularizers.L2(0.2)(w)), rtol=1e-6)
    np.testing.assert_allclose(float(ElasticNet(0.2, 0.0)(w)), float(keras.regularizers.L1(0.2)(w)), rtol=1e-6)
    assert make_penalty("l2", 0.0) is None


def _model():
    inp = keras.Input((6,), name="x")
    emb_in = keras.Input((3,), dtype="int32", name="tokens")
    e = keras.layers.Embedding(10, 4, name="emb")(emb_in)
    e = keras.layers.Flatten()(e)
    h = keras.layers.Dense(8, name="d1")(inp)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.LayerNormalization(name="ln")(h)
    h = keras.layers.Concatenate()([h, e])
    out = keras.layers.Dense(2, name="d2")(h)
    return keras.Model([inp, emb_in], out)


def _np(v):
    return keras.ops.convert_to_numpy(v).astype(np.float64)


def test_apply_penalty_touches_kernels_only_and_sums_like_numpy():
    model = _model()
    attached = apply_penalty(model, {"d1": 0.1, "d2": 0.02, "emb": 5.0, "bn": 1.0, "ln": 1.0}, kind="l2")
    paths = sorted(p for p, _ in attached)
    assert paths == sorted([model.get_layer("d1").kernel.path, model.get_layer("d2").kernel.path])
    pen = penalized_variables(model)
    for v in model.trainable_variables:
        if v.name in ("bias", "gamma", "beta", "embeddings"):
            assert v.path not in pen, v.path
    expected = 0.1 * np.sum(_np(model.get_layer("d1").kernel) ** 2) + 0.02 * np.sum(
        _np(model.get_layer("d2").kernel) ** 2
    )
    np.testing.assert_allclose(float(sum(model.losses)), expected, rtol=1e-5)
    # the layer config carries the penalty too (used when the layer is rebuilt / saved)
    assert model.get_layer("d1").get_config()["kernel_regularizer"] is not None
    assert model.get_layer("d1").get_config()["bias_regularizer"] is None


def test_apply_penalty_include_and_callable():
    model = _model()
    apply_penalty(model, lambda layer: 0.5 if layer.name in ("emb", "bn") else None, kind="l1",
                  include=("embedding", "norm"))
    pen = penalized_variables(model)
    assert set(pen) == {
        model.get_layer("emb").embeddings.path,
        model.get_layer("bn").gamma.path,
        model.get_layer("bn").beta.path,
    }


def test_apply_penalty_before_build_and_in_training_loss():
    model = keras.Sequential([keras.layers.Dense(4, name="a"), keras.layers.Dense(1, name="b")])
    apply_penalty(model, 0.25)  # unbuilt: sets kernel_regularizer, used by build()
    model.build((None, 3))
    assert len(model.losses) == 2
    model.compile(optimizer="sgd", loss="mse")
    x = RNG.normal(size=(16, 3)).astype("float32")
    y = RNG.normal(size=(16, 1)).astype("float32")
    data = np.mean((_np(model(x)) - y) ** 2)
    pen = 0.25 * sum(np.sum(_np(model.get_layer(n).kernel) ** 2) for n in "ab")
    # evaluate() reports data loss + penalty; float32, tolerance 1e-5 relative.
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0, batch_size=16), data + pen, rtol=1e-5)


def test_l2_penalty_gradient_descent_converges_to_ridge_closed_form():
    """min (1/N)‖Xw − y‖² + λ‖w‖² by full-batch GD in Keras == (XᵀX + NλI)⁻¹Xᵀy."""
    rng = np.random.default_rng(1)
    n, p, lam = 64, 4, 0.05
    x = rng.normal(size=(n, p))
    x[:, 3] = x[:, 2] + 0.3 * rng.normal(size=n)  # some collinearity
    y = x @ np.array([1.0, -2.0, 0.5, 0.5]) + 0.1 * rng.normal(size=n)
    model = keras.Sequential([keras.Input((p,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    apply_penalty(model, lam)
    model.compile(optimizer=keras.optimizers.SGD(0.2), loss="mse")
    reps = 300  # 300 full-batch steps in one epoch (no shuffling)
    model.fit(np.tile(x, (reps, 1)), np.tile(y, reps), batch_size=n, epochs=1, shuffle=False, verbose=0)
    w = _np(model.layers[0].kernel)[:, 0]
    w_ridge = closed_forms.ridge(x, y, closed_forms.ridge_alpha_from_keras(lam, n))
    # Condition number of (2/N)XᵀX + 2λI is ~20, so 300 steps with lr 0.2 contract the error by
    # far more than 1e-6; what is left is float32 round-off (~1e-6 relative), hence atol 1e-4.
    np.testing.assert_allclose(w, w_ridge, atol=1e-4)
    w_ols = closed_forms.ridge(x, y, 0.0)
    assert np.linalg.norm(w_ridge) < np.linalg.norm(w_ols)  # the penalty really shrank something


def test_decoupled_weight_decay_equals_l2_for_plain_sgd_and_skips_biases():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = rng.normal(size=(32, 2)).astype("float32")
    lam, lr = 0.05, 0.1

    def net():
        keras.utils.set_random_seed(3)
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, use_bias=False)])

    coupled = net()
    apply_penalty(coupled, lam)
    coupled.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    decoupled = net()
    decoupled.compile(optimizer=decoupled_weight_decay_optimizer("sgd", lr, 2 * lam), loss="mse")
    for _ in range(5):
        coupled.train_on_batch(x, y)
        decoupled.train_on_batch(x, y)
    # w ← w − ε(∇J + 2λw) vs w ← w − ε·2λ·w − ε∇J: the same update; float32 tolerance.
    np.testing.assert_allclose(_np(coupled.weights[0]), _np(decoupled.weights[0]), atol=1e-6)

    # With zero data gradient only the decay acts: kernel × (1 − ε d) per step, bias unchanged.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, bias_initializer="ones")])
    model.compile(optimizer=decoupled_weight_decay_optimizer("adamw", lr, 0.5), loss="mse")
    k0, b0 = _np(model.layers[0].kernel), _np(model.layers[0].bias)
    x0 = np.zeros((4, 3), "float32")
    y0 = np.ones((4, 2), "float32")  # = prediction b, so ∇J = 0 for kernel and bias
    for _ in range(3):
        model.train_on_batch(x0, y0)
    np.testing.assert_allclose(_np(model.layers[0].kernel), k0 * (1 - lr * 0.5) ** 3, rtol=1e-5)
    np.testing.assert_array_equal(_np(model.layers[0].bias), b0)


def test_elastic_net_model_round_trips_through_keras_file(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="d"), keras.layers.Dense(1)])
    apply_penalty(model, 0.1, kind="elastic_net", alpha=0.3)
    model.compile(optimizer="sgd", loss="mse")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = RNG.normal(size=(5, 3)).astype("float32")
    np.testing.assert_array_equal(_np(model(x)), _np(loaded(x)))
    reg = loaded.get_layer("d").kernel.regularizer
    assert isinstance(reg, ElasticNet) and (reg.strength, reg.alpha) == (0.1, 0.3)
    np.testing.assert_allclose(float(sum(loaded.losses)), float(sum(model.losses)), rtol=1e-6)


def test_bad_arguments_name_the_argument():
    model = _model()
    with pytest.raises(ValueError, match=r"strength must be a finite number in \[0, inf\), got -0.1"):
        apply_penalty(model, -0.1)
    with pytest.raises(ValueError, match=r"alpha must be a finite number in \[0, 1\], got 1.5"):
        apply_penalty(model, 0.1, kind="elastic_net", alpha=1.5)
    with pytest.raises(ValueError, match=r"alpha must be a finite number in \[0, 1\], got -0.2"):
        ElasticNet(0.1, -0.2)
    with pytest.raises(ValueError, match=r"strength must be a finite number in \[0, inf\), got -1.0"):
        ElasticNet(-1.0, 0.5)
    with pytest.raises(TypeError, match=r"strength must be a number in \[0, inf\), got '0.1'"):
        make_penalty("l2", "0.1")
    with pytest.raises(ValueError, match="kind must be one of l2, l1, elastic_net, got 'l3'"):
        apply_penalty(model, 0.1, kind="l3")
    assert isinstance(make_penalty("L2", 0.1), keras.regularizers.L2)  # kind is case-insensitive
    with pytest.raises(ValueError, match="include must be a non-empty subset of bias, embedding, kernel, norm"):
        apply_penalty(model, 0.1, include=("weights",))
    with pytest.raises(ValueError, match="strength names layers that are not in the model"):
        apply_penalty(model, {"no_such_layer": 0.1})
    with pytest.raises(ValueError, match=r"strength\('.*'\) must be a finite number in \[0, inf\), got -1.0"):
        apply_penalty(model, lambda layer: -1.0)
    with pytest.raises(ValueError, match=r"weight_decay must be a finite number in \[0, inf\), got -0.0001"):
        decoupled_weight_decay_optimizer("adamw", 1e-3, -1e-4)
    with pytest.raises(ValueError, match=r"learning_rate must be a finite number in \(0, inf\), got 0.0"):
        decoupled_weight_decay_optimizer("adamw", 0.0)
