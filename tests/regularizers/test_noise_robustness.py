"""recipes.regularizers.noise_robustness: label smoothing (lecture's vector, one-hot and integer), the smoothed
sparse cross-entropy vs NumPy, weight-noise and input-noise statistics, serialization."""
import numpy as np
import pytest

import keras

from recipes.regularizers.noise_robustness import (
    SparseCategoricalCrossentropyWithSmoothing,
    WeightNoiseDense,
    smooth_labels,
    with_input_noise,
)


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _compiled(fn):
    """``fn`` compiled by the backend: ``tf.function`` on TensorFlow, ``jax.jit`` on JAX (label values unknown
    while the graph is built)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    import tensorflow as tf

    return tf.function(fn)


def _eager_tensors(values):
    """The labels as the backend's eager tensor, plus the other backend's eager tensor where it is importable
    (TensorFlow EagerTensor and JAX Array both reach smooth_labels in practice)."""
    out = [keras.ops.convert_to_tensor(values)]
    if keras.backend.backend() == "jax":
        tf = pytest.importorskip("tensorflow")
        out.append(tf.constant(values))
    else:
        jnp = pytest.importorskip("jax.numpy")
        out.append(jnp.asarray(values))
    return out


def test_label_smoothing_gives_lecture_vector_for_one_hot_and_integer_labels():
    # Lecture: [0, 1, 0] → [0.01, 0.98, 0.01]; y~ = (1 − ε)y + ε/K with ε = 0.03, K = 3.
    np.testing.assert_allclose(_np(smooth_labels(np.array([[0.0, 1.0, 0.0]]), 0.03)), [[0.01, 0.98, 0.01]], atol=1e-7)
    np.testing.assert_allclose(_np(smooth_labels(np.array([1]), 0.03, num_classes=3)), [[0.01, 0.98, 0.01]], atol=1e-7)
    y = np.array([0, 2, 1, 2])
    s = _np(smooth_labels(y, 0.2, num_classes=4))
    np.testing.assert_allclose(s.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(s[np.arange(4), y], 0.8 + 0.05, atol=1e-7)
    # matches Keras' own parameterization in CategoricalCrossentropy(label_smoothing=ε)
    logits = np.random.default_rng(0).normal(size=(4, 4)).astype("float32")
    onehot = np.eye(4, dtype="float32")[y]
    keras_ce = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)(onehot, logits)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    np.testing.assert_allclose(float(keras_ce), -(s * logp).sum(1).mean(), rtol=1e-5)


def test_sparse_smoothed_cross_entropy_matches_numpy():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 5)).astype("float32")
    y = rng.integers(0, 5, size=6)
    eps = 0.1
    smoothed = (1 - eps) * np.eye(5)[y] + eps / 5
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    ref = -(smoothed * logp).sum(1).mean()
    loss = SparseCategoricalCrossentropyWithSmoothing(eps, from_logits=True)
    np.testing.assert_allclose(float(loss(y, logits)), ref, rtol=1e-5)
    np.testing.assert_allclose(float(loss(y[:, None], logits)), ref, rtol=1e-5)  # (N, 1) labels
    probs = np.exp(logp)
    np.testing.assert_allclose(float(SparseCategoricalCrossentropyWithSmoothing(eps)(y, probs)), ref, rtol=1e-4)
    # ε = 0 is Keras' sparse cross-entropy
    np.testing.assert_allclose(
        float(SparseCategoricalCrossentropyWithSmoothing(0.0, from_logits=True)(y, logits)),
        float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)),
        rtol=1e-5,
    )


@pytest.mark.parametrize("labels,bad", [([0, 3], 3), ([-1, 1], -1), ([2, 1, 5], 5)])
def test_smooth_labels_reject_out_of_range_labels_eagerly(labels, bad):
    """NumPy, lists and eager tensors of both backends: ValueError naming the label and K (before: a backend tensor
    label 3 with K = 3 became [0.01, 0.01, 0.01], a row that does not sum to 1)."""
    message = rf"y has label {bad} outside \[0, num_classes=3\)"
    for y in [np.array(labels), list(labels), *_eager_tensors(np.array(labels, "int32"))]:
        with pytest.raises(ValueError, match=message):
            smooth_labels(y, 0.03, num_classes=3)


def test_smooth_labels_out_of_range_in_compiled_graph_is_nan():
    """Inside tf.function / jax.jit the row of a bad label is NaN (never a plausible row); good rows unchanged."""
    fn = _compiled(lambda y: smooth_labels(y, 0.03, num_classes=3))
    out = _np(fn(keras.ops.convert_to_tensor(np.array([1, 3, -1, 0], "int32"))))
    np.testing.assert_allclose(out[[0, 3]], [[0.01, 0.98, 0.01], [0.98, 0.01, 0.01]], atol=1e-7)
    assert np.isnan(out[[1, 2]]).all()
    good = _np(fn(keras.ops.convert_to_tensor(np.array([2, 0], "int32"))))
    np.testing.assert_allclose(good.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("labels,bad", [([0, 7], 7), ([-1, 2], -1), ([1.5, 2.0], 1.5)])
def test_sparse_smoothed_loss_rejects_bad_labels_eagerly(labels, bad):
    """Before: label 7 with K = 4 gave a finite loss (its one-hot row is all zeros)."""
    logits = np.random.default_rng(3).normal(size=(len(labels), 4)).astype("float32")
    loss = SparseCategoricalCrossentropyWithSmoothing(0.1, from_logits=True)
    message = rf"y_true has label {bad} outside \[0, K=4\)"
    for y in [np.array(labels), list(labels), *_eager_tensors(np.array(labels))]:
        with pytest.raises(ValueError, match=message):
            loss(y, logits)


def test_sparse_smoothed_loss_with_bad_labels_in_compiled_graph_is_nan():
    logits = np.random.default_rng(3).normal(size=(3, 4)).astype("float32")
    loss = SparseCategoricalCrossentropyWithSmoothing(0.1, from_logits=True)
    per_example = SparseCategoricalCrossentropyWithSmoothing(0.1, from_logits=True, reduction=None)
    fn, fn_each = _compiled(lambda y, p: loss(y, p)), _compiled(lambda y, p: per_example(y, p))
    y_bad = keras.ops.convert_to_tensor(np.array([0, 7, 2], "int32"))
    assert np.isnan(float(_np(fn(y_bad, logits))))
    each = _np(fn_each(y_bad, logits))
    assert np.isnan(each[1]) and np.isfinite(each[[0, 2]]).all()
    y_good = keras.ops.convert_to_tensor(np.array([0, 3, 2], "int32"))
    np.testing.assert_allclose(float(_np(fn(y_good, logits))), float(_np(loss(np.array([0, 3, 2]), logits))),
                               rtol=1e-6)


def test_compiled_fit_with_a_bad_label_gives_nan_and_eager_fit_raises():
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = np.array([0, 1, 2, 3, 0, 1, 9, 2])  # 9 is outside [0, 4)
    for run_eagerly in (False, True):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
        model.compile("sgd", SparseCategoricalCrossentropyWithSmoothing(0.1, from_logits=True), run_eagerly=run_eagerly)
        if run_eagerly:
            with pytest.raises(ValueError, match=r"y_true has label 9 outside \[0, K=4\)"):
                model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        else:
            history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
            assert np.isnan(history.history["loss"][0])


def test_weight_noise_statistics_and_inference_is_clean():
    sigma = 0.1
    layer = WeightNoiseDense(400, stddev=sigma, seed=3, use_bias=True, bias_initializer="ones")
    x = np.array([[1.0, -2.0, 0.5]], dtype="float32")
    clean = _np(layer(x))
    np.testing.assert_array_equal(_np(layer(x, training=False)), clean)
    k, b = _np(layer.kernel), _np(layer.bias)
    np.testing.assert_allclose(clean, x @ k + b, rtol=1e-5)
    noisy = np.concatenate([_np(layer(x, training=True)) - clean for _ in range(5)], axis=1).ravel()
    # x(W + η) − xW = xη ~ N(0, σ²‖x‖²) per unit: 2000 samples. Mean: |m| < 4·σ‖x‖/√2000.
    # Variance: standard error √(2/n) ≈ 3.2 %, tolerance 12 % (≈ 4 standard errors).
    s2 = sigma**2 * float(np.sum(x**2))
    assert abs(noisy.mean()) < 4 * np.sqrt(s2 / noisy.size)
    assert abs(noisy.var() / s2 - 1) < 0.12


@pytest.mark.parametrize("sigma", [0.5, 2.0])
def test_input_noise_statistics(sigma):
    """Any σ ≥ 0 (before: σ = 2 passed the argument check, then Keras' GaussianNoise raised)."""
    base = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)])
    noisy_model = with_input_noise(base, stddev=sigma, seed=1)
    x = np.tile(np.array([[0.2, -0.1, 0.3]], "float32"), (4000, 1))
    np.testing.assert_array_equal(_np(noisy_model(x, training=False)), _np(base(x)))
    out = _np(noisy_model(x, training=True))[:, 0] - _np(base(x))[:, 0]
    # w·ε with w = 1 ∈ R³: Var = σ²‖w‖² = 3σ²; 4000 samples ⇒ standard error 2.2 %, tolerance 10 %.
    assert abs(out.var() / (3 * sigma**2) - 1) < 0.10
    from recipes.dropout.gaussian_dropout import AdditiveGaussianNoise

    assert type(noisy_model.get_layer("input_noise")) is AdditiveGaussianNoise


def test_round_trip(tmp_path):
    inp = keras.Input((4,))
    h = WeightNoiseDense(8, stddev=0.05, seed=1, activation="relu", name="noisy")(inp)
    out = keras.layers.Dense(3)(h)
    model = keras.Model(inp, out)
    model.compile(optimizer="adam", loss=SparseCategoricalCrossentropyWithSmoothing(0.1, from_logits=True))
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = np.random.default_rng(1).integers(0, 3, size=16)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "n.keras")
    loaded = keras.models.load_model(tmp_path / "n.keras")
    np.testing.assert_array_equal(_np(model(x)), _np(loaded(x)))
    assert loaded.get_layer("noisy").stddev == 0.05
    assert isinstance(loaded.loss, SparseCategoricalCrossentropyWithSmoothing) and loaded.loss.epsilon == 0.1


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"epsilon must be a finite number in \[0, 1\], got 1.5"):
        smooth_labels(np.eye(3), 1.5)
    with pytest.raises(ValueError, match="num_classes must be given .* for integer labels y, got None"):
        smooth_labels(np.array([0, 1]), 0.1)
    with pytest.raises(ValueError, match=r"num_classes must be an integer in \[2, inf\), got 1"):
        smooth_labels(np.array([0, 0]), 0.1, num_classes=1)
    with pytest.raises(ValueError, match="num_classes"):
        smooth_labels(np.eye(3), 0.1, num_classes=4)
    with pytest.raises(ValueError, match=r"epsilon must be a finite number in \[0, 1\], got -0.1"):
        SparseCategoricalCrossentropyWithSmoothing(-0.1)
    with pytest.raises(ValueError, match=r"stddev must be a finite number in \[0, inf\), got -1.0"):
        WeightNoiseDense(3, stddev=-1.0)
    with pytest.raises(TypeError, match=r"seed must be an integer in \[0, 2147483647\], got 0.5"):
        WeightNoiseDense(3, seed=0.5)
    base = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"stddev must be a finite number in \[0, inf\), got -0.5"):
        with_input_noise(base, -0.5)
