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


# ---------------------------------------------------------------------------------------------------------------
# Which weights: kernels by role, on every layer type of Keras and of this toolkit that has weights
# ---------------------------------------------------------------------------------------------------------------
def _every_layer_type():
    """A functional model with one branch per layer type; returns (model, {layer name: kernels expected})."""
    from recipes.analysis.replicas import ReplicaDense
    from recipes.dropout.dropconnect import DropConnectConv2D, DropConnectDense
    from recipes.dropout.fast_dropout import FastDropoutDense
    from recipes.normalization.feature_scaling import ZScoreNormalization
    from recipes.normalization.weight_norm import WeightNormalization
    from recipes.normalization.weight_standardization import WSConv2D
    from recipes.regularizers.noise_robustness import WeightNoiseDense

    L = keras.layers
    k = lambda l: [l.kernel]  # noqa: E731
    cell = lambda l: [l.cell.kernel, l.cell.recurrent_kernel]  # noqa: E731
    specs = [  # (layer, input shape, expected kernels)
        (L.Dense(3, name="dense"), (4,), k),
        (L.Conv1D(2, 3, name="conv1d"), (8, 3), k),
        (L.Conv2D(2, 3, name="conv2d"), (8, 8, 3), k),
        (L.Conv3D(2, 3, name="conv3d"), (5, 5, 5, 2), k),
        (L.DepthwiseConv1D(3, name="depthwise1d"), (8, 3), k),
        (L.DepthwiseConv2D(3, name="depthwise2d"), (8, 8, 3), k),
        (L.SeparableConv1D(2, 3, name="separable1d"), (8, 3), lambda l: [l.depthwise_kernel, l.pointwise_kernel]),
        (L.SeparableConv2D(2, 3, name="separable2d"), (8, 8, 3), lambda l: [l.depthwise_kernel, l.pointwise_kernel]),
        (L.Conv1DTranspose(2, 3, name="conv1d_t"), (8, 3), k),
        (L.Conv2DTranspose(2, 3, name="conv2d_t"), (8, 8, 3), k),
        (L.Conv3DTranspose(2, 3, name="conv3d_t"), (5, 5, 5, 2), k),
        (L.EinsumDense("ab,bc->ac", 3, bias_axes="c", name="einsum"), (4,), k),
        (L.Embedding(10, 3, name="embedding"), (4,), lambda l: []),
        (L.SimpleRNN(3, name="simple_rnn"), (5, 2), cell),
        (L.GRU(3, name="gru"), (5, 2), cell),
        (L.LSTM(3, name="lstm"), (5, 2), cell),
        (L.Bidirectional(L.LSTM(3), name="bidirectional"), (5, 2),
         lambda l: cell(l.forward_layer) + cell(l.backward_layer)),
        (L.ConvLSTM2D(2, 3, name="conv_lstm2d"), (3, 6, 6, 2), cell),
        (L.BatchNormalization(name="batch_norm"), (4,), lambda l: []),
        (L.LayerNormalization(name="layer_norm"), (4,), lambda l: []),
        (L.GroupNormalization(2, name="group_norm"), (4,), lambda l: []),
        (L.RMSNormalization(name="rms_norm"), (4,), lambda l: []),
        (L.PReLU(name="prelu"), (4,), lambda l: []),
        (WeightNormalization(L.Dense(3), name="weight_norm_dense"), (4,), lambda l: [l.layer.kernel]),
        (WeightNormalization(L.Conv2D(2, 3), name="weight_norm_conv"), (8, 8, 3), lambda l: [l.v]),
        (WSConv2D(2, 3, use_bias=True, name="ws_conv2d"), (8, 8, 3), k),
        (DropConnectDense(3, name="dropconnect_dense"), (4,), k),
        (DropConnectConv2D(2, 3, name="dropconnect_conv2d"), (8, 8, 3), k),
        (FastDropoutDense(3, name="fast_dropout_dense"), (4,), k),
        (ReplicaDense(3, replicas=2, name="replica_dense"), (2, 4), k),
        (WeightNoiseDense(3, name="weight_noise_dense"), (4,), k),
        (ZScoreNormalization(mean=[0.0] * 4, variance=[1.0] * 4, scale_shift=True, name="zscore"), (4,), lambda l: []),
    ]
    inputs, outputs = [], []
    for layer, shape, _ in specs:
        inp = keras.Input(shape, dtype="int32" if isinstance(layer, L.Embedding) else "float32")
        inputs.append(inp)
        outputs.append(layer(inp))
    query = keras.Input((5, 4))
    inputs.append(query)
    outputs.append(L.MultiHeadAttention(2, 3, name="attention")(query, query))
    model = keras.Model(inputs, outputs)
    expected = {layer.name: expect(layer) for layer, _, expect in specs}
    mha = model.get_layer("attention")
    expected["attention"] = [mha._query_dense.kernel, mha._key_dense.kernel, mha._value_dense.kernel,
                             mha._output_dense.kernel]
    return model, expected


def test_weight_decay_variables_are_the_kernels_of_every_layer_type():
    from recipes.regularizers.penalties import weight_decay_variables

    model, expected = _every_layer_type()
    want = [v for kernels in expected.values() for v in kernels]
    got = weight_decay_variables(model)
    assert {id(v) for v in got} == {id(v) for v in want}, sorted(v.path for v in got)
    assert len(got) == len(want)
    assert [v.path for v in got] == [v.path for v in model.trainable_variables if any(v is w for w in got)]
    # everything else is a bias, a normalization γ/β/scale, WeightNormalization's g, PReLU's α or an embedding
    others = {v.name for v in model.trainable_variables if not any(v is w for w in got)}
    assert others == {"bias", "gamma", "beta", "g", "alpha", "scale", "embeddings"}, others
    with_embeddings = weight_decay_variables(model, include_embeddings=True)
    assert {id(v) for v in with_embeddings} == {id(v) for v in want} | {id(model.get_layer("embedding").embeddings)}


def test_weight_decay_variables_name_rule_equals_role_rule_on_every_layer_type():
    """Before the model exists the optimizer uses NON_KERNEL_NAME_PATTERN: the same set on all these layers."""
    import re

    from recipes.regularizers.penalties import NON_KERNEL_NAME_PATTERN, non_kernel_name_pattern, \
        weight_decay_variables

    model, _ = _every_layer_type()
    for include_embeddings, pattern in ((False, NON_KERNEL_NAME_PATTERN), (True, non_kernel_name_pattern(True))):
        by_role = weight_decay_variables(model, include_embeddings=include_embeddings)
        # Keras matches v.name ("kernel") on JAX, the tf.Variable's name ("dense/kernel:0") on TensorFlow
        for name in (lambda v: v.name, lambda v: f"{v.path}:0"):
            by_name = [v for v in model.trainable_variables if re.search(pattern, name(v)) is None]
            assert [v.path for v in by_name] == [v.path for v in by_role]


def _zero_gradient_step(model, optimizer):
    """One optimizer step with ∇J = 0 on every variable, from random non-zero weights; returns (before, after)."""
    rng = np.random.default_rng(5)
    for v in model.trainable_variables:
        v.assign(rng.uniform(0.5, 1.5, size=v.shape) * rng.choice([-1, 1], size=v.shape))
    before = [np.array(ops.convert_to_numpy(v)) for v in model.trainable_variables]
    optimizer.apply_gradients([(ops.zeros(v.shape, v.dtype), v) for v in model.trainable_variables])
    return before, [np.array(ops.convert_to_numpy(v)) for v in model.trainable_variables]


def _assert_only_kernels_moved(model, before, after, step):
    """Kernels (by role) become ``step(w)``, every other variable is unchanged, both exactly (up to float32)."""
    from recipes.regularizers.penalties import weight_decay_variables

    kernels = {id(v) for v in weight_decay_variables(model)}
    for v, b, a in zip(model.trainable_variables, before, after):
        if id(v) in kernels:
            np.testing.assert_allclose(a, step(b), rtol=1e-6, atol=1e-7, err_msg=v.path)
        else:
            np.testing.assert_array_equal(a, b, err_msg=v.path)


@pytest.mark.parametrize("route", ["names", "model", "restrict"])
def test_decoupled_decay_touches_exactly_the_kernels_of_every_layer_type(route):
    from recipes.regularizers.penalties import restrict_weight_decay

    model, _ = _every_layer_type()
    lr, d = 0.1, 0.5
    if route == "names":  # built before the model exists (the training engine's order)
        optimizer = decoupled_weight_decay_optimizer("sgd", lr, d)
    elif route == "model":
        optimizer = decoupled_weight_decay_optimizer("sgd", lr, d, model=model)
    else:
        optimizer = decoupled_weight_decay_optimizer("sgd", lr, d, exclude_names=("bias", "gamma", "beta"))
        restrict_weight_decay(optimizer, model)  # replaces the name patterns
    before, after = _zero_gradient_step(model, optimizer)
    _assert_only_kernels_moved(model, before, after, lambda w: w * (1 - lr * d))


@pytest.mark.parametrize("route", ["default", "restrict"])
def test_proximal_sgd_thresholds_exactly_the_kernels_of_every_layer_type(route):
    from recipes.regularizers.penalties import restrict_weight_decay
    from recipes.regularizers.proximal_sgd import ProximalSGD

    model, _ = _every_layer_type()
    lr, l1 = 0.5, 1.2  # threshold 0.6 inside the weights' range [0.5, 1.5]: some become exact zeros
    optimizer = ProximalSGD(lr, l1=l1)
    if route == "restrict":
        restrict_weight_decay(optimizer, model)
    before, after = _zero_gradient_step(model, optimizer)
    _assert_only_kernels_moved(model, before, after, lambda w: np.sign(w) * np.maximum(np.abs(w) - lr * l1, 0))


def test_weight_normalization_gain_and_prelu_alpha_are_not_decayed_by_default():
    """The issue: exclusion by the names bias|gamma|beta decayed WeightNormalization's g (and PReLU's α) with
    decoupled weight decay and thresholded g with ProximalSGD. Uses only the 0.1 API."""
    from recipes.normalization.weight_norm import WeightNormalization
    from recipes.regularizers.proximal_sgd import ProximalSGD

    for make in (lambda: decoupled_weight_decay_optimizer("sgd", 0.1, 0.5), lambda: ProximalSGD(0.5, l1=1.2)):
        keras.utils.set_random_seed(0)
        inp = keras.Input((4,))
        h = WeightNormalization(keras.layers.Dense(3), name="wn")(inp)
        model = keras.Model(inp, keras.layers.PReLU(alpha_initializer="ones", name="prelu")(h))
        wn = model.get_layer("wn")
        g0, v0 = np.array(ops.convert_to_numpy(wn.g)), np.array(ops.convert_to_numpy(wn.layer.kernel))
        make().apply_gradients([(ops.zeros(v.shape, v.dtype), v) for v in model.trainable_variables])
        np.testing.assert_array_equal(ops.convert_to_numpy(wn.g), g0)  # the gain g is a scale, not a kernel
        np.testing.assert_array_equal(ops.convert_to_numpy(model.get_layer("prelu").alpha), np.ones(3))
        assert not np.array_equal(ops.convert_to_numpy(wn.layer.kernel), v0)  # the direction v is a kernel


def test_a_layer_may_declare_more_decay_variables():
    from recipes.regularizers.penalties import restrict_weight_decay, weight_decay_variables

    class Scaled(keras.layers.Dense):
        """Dense with an extra trainable matrix ``mix`` it declares as decayed."""

        def build(self, input_shape):
            super().build(input_shape)
            self.mix = self.add_weight(name="mix", shape=(self.units, self.units), initializer="ones")

        @property
        def decay_variables(self):
            return [self.mix]

        def call(self, x):
            return ops.matmul(super().call(x), self.mix)

    inp = keras.Input((4,))
    model = keras.Model(inp, Scaled(3, name="scaled")(inp))
    layer = model.get_layer("scaled")
    assert [v.name for v in weight_decay_variables(model)] == ["kernel", "mix"]
    optimizer = keras.optimizers.SGD(0.1, weight_decay=0.5)
    assert [v.name for v in restrict_weight_decay(optimizer, model)] == ["kernel", "mix"]
    before, after = _zero_gradient_step(model, optimizer)
    for v, b, a in zip(model.trainable_variables, before, after):
        expected = b if v is layer.bias else b * (1 - 0.1 * 0.5)
        np.testing.assert_allclose(a, expected, rtol=1e-6, err_msg=v.path)


def test_engine_call_by_names_still_works_and_role_arguments_are_checked():
    """The training engine builds the optimizer before the model with exclude_names=(...): still the 0.1 rule."""
    from recipes.regularizers.penalties import restrict_weight_decay, weight_decay_variables

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.BatchNormalization()])
    optimizer = decoupled_weight_decay_optimizer("sgd", 0.1, weight_decay=0.5, exclude_names=("bias", "gamma", "beta"))
    before, after = _zero_gradient_step(model, optimizer)
    for v, b, a in zip(model.trainable_variables, before, after):
        np.testing.assert_allclose(a, b * (0.95 if v.name == "kernel" else 1.0), rtol=1e-6, err_msg=v.path)
    with pytest.raises(ValueError, match="optimizer must not have taken a step yet"):
        restrict_weight_decay(optimizer, model)
    with pytest.raises(ValueError, match="model must be built"):
        weight_decay_variables(keras.Sequential([keras.layers.Dense(2)]))
    with pytest.raises(TypeError, match="model must be a built Keras model or layer, got str"):
        weight_decay_variables("model")
    with pytest.raises(TypeError, match="optimizer must be a Keras optimizer, got str"):
        restrict_weight_decay("sgd", model)
    with pytest.raises(TypeError, match="model must be a built Keras model or None, got str"):
        decoupled_weight_decay_optimizer("sgd", 0.1, model="model")
