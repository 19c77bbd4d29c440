"""BN inference statistics: the population estimate E_B[μ_B], m/(m−1)·E_B[σ²_B] against exact training-set
statistics, the callback, and the running average's lag after few steps."""
import numpy as np
import pytest
import keras

from recipes.normalization.batch_norm_statistics import (PopulationBatchNormStatistics, apply_population_statistics,
                                                         batch_norm_layers, estimate_population_statistics,
                                                         running_statistics)


def _first_bn_model(c=3):
    inp = keras.Input((c,))
    h = keras.layers.BatchNormalization(name="bn0")(inp)
    out = keras.layers.Dense(2)(keras.layers.BatchNormalization(name="bn1")(keras.layers.Dense(4)(h)))
    return keras.Model(inp, out)


@pytest.fixture
def x():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(96, 3)) * [1.0, 5.0, 0.2] + [3.0, -2.0, 10.0]).astype("float32")


def test_pooled_estimate_equals_exact_training_set_statistics(x):
    model = _first_bn_model()
    stats = estimate_population_statistics(model, x, batch_size=8, estimator="pooled")
    mean, var = stats["bn0"]
    # bn0 sees the raw inputs: its population statistics are the training set's, up to float32 (1e-5 rel.).
    np.testing.assert_allclose(mean, x.astype("float64").mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(var, x.astype("float64").var(axis=0), rtol=1e-5)


def test_unbiased_estimate_is_the_lecture_formula(x):
    model = _first_bn_model()
    m = 8
    stats = estimate_population_statistics(model, x, batch_size=m, estimator="unbiased", seed=3)
    order = np.random.default_rng(3).permutation(len(x))
    batches = x[order].astype("float64").reshape(-1, m, 3)
    # E[x] = E_B[μ_B] is the exact mean (equal batches partition the set); Var[x] = m/(m−1) E_B[σ²_B].
    np.testing.assert_allclose(stats["bn0"][0], x.astype("float64").mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats["bn0"][1], m / (m - 1) * batches.var(axis=1).mean(axis=0), rtol=1e-5)


def test_unbiased_estimate_is_unbiased_over_random_batchings():
    """Each batch of a random partition is a uniform sample of m of the N examples, so
    E[m/(m−1) σ²_B] = S² = Σ (x − x̄)²/(N − 1) (finite-population sampling). Averaged over R = 100 random
    batchings the estimate is within 4 standard errors of S², while the biased E_B[σ²_B] misses it."""
    rng = np.random.default_rng(1)
    n, m, reps = 18, 3, 100
    x = rng.normal(size=(n, 1)).astype("float32")
    inp = keras.Input((1,))
    model = keras.Model(inp, keras.layers.BatchNormalization(name="bn")(inp))
    est = np.array([estimate_population_statistics(model, x, batch_size=m, seed=s)["bn"][1][0]
                    for s in range(reps)])
    s2 = x.astype("float64").var(ddof=1)
    se = est.std(ddof=1) / np.sqrt(reps)
    assert abs(est.mean() - s2) < 4 * se
    biased = est * (m - 1) / m
    assert abs(biased.mean() - s2) > 4 * se


def test_conv_bn_uses_m_equal_batch_times_pixels():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(12, 5, 5, 2)).astype("float32")
    inp = keras.Input((5, 5, 2))
    feat = keras.layers.Conv2D(3, 3, name="conv")(inp)
    model = keras.Model(inp, keras.layers.BatchNormalization(name="bn")(feat))
    f = np.asarray(keras.Model(inp, feat).predict(x, verbose=0), "float64")  # (12, 3, 3, 3)
    pooled = estimate_population_statistics(model, x, batch_size=4, estimator="pooled")["bn"]
    np.testing.assert_allclose(pooled[0], f.mean(axis=(0, 1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pooled[1], f.var(axis=(0, 1, 2)), rtol=1e-5)
    unbiased = estimate_population_statistics(model, x, batch_size=4, shuffle=False)["bn"]
    m = 4 * 3 * 3
    per_batch = f.reshape(3, 4, 3, 3, 3).var(axis=(1, 2, 3)).mean(axis=0)
    np.testing.assert_allclose(unbiased[1], m / (m - 1) * per_batch, rtol=1e-5)


def test_estimate_changes_nothing_and_apply_writes(x):
    model = _first_bn_model()
    model(x[:8], training=True)  # make the moving statistics non-trivial
    before = [np.array(w) for w in model.get_weights()]
    momenta = [l.momentum for l in batch_norm_layers(model)]
    stats = estimate_population_statistics(model, x, batch_size=8)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [l.momentum for l in batch_norm_layers(model)] == momenta
    applied = apply_population_statistics(model, x, batch_size=8)
    for name, (mean, var) in stats.items():
        np.testing.assert_array_equal(applied[name][0], mean)
        np.testing.assert_allclose(running_statistics(model)[name][0], mean)
        np.testing.assert_allclose(running_statistics(model)[name][1], var)


def test_nested_model_and_iterable_data(x):
    inner_in = keras.Input((3,))
    inner = keras.Model(inner_in, keras.layers.BatchNormalization(name="inner_bn")(inner_in), name="inner")
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(1)(inner(inp)))
    assert [l.name for l in batch_norm_layers(model)] == ["inner_bn"]
    batches = [(x[i:i + 12], np.zeros(12)) for i in range(0, 96, 12)]
    stats = estimate_population_statistics(model, batches, estimator="pooled")
    np.testing.assert_allclose(stats["inner_bn"][1], x.astype("float64").var(axis=0), rtol=1e-5)


def test_running_average_lags_after_few_steps_population_estimate_does_not():
    """After 20 steps with λ = 0.99 the running mean still carries weight 0.99^20 = 0.82 on its initial 0: it
    is far from the data mean 10, and inference with it is badly off; the population estimate is exact."""
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(160, 2)) * 2 + 10).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    inp = keras.Input((2,))
    model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.BatchNormalization(name="bn")(inp)))
    model.compile(keras.optimizers.SGD(1e-3), "mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)  # 20 steps
    run_mean, run_var = running_statistics(model)["bn"]
    # Closed form of the running average: μ̂ = Σ_t (1 − λ) λ^(T−t) μ_B(t), T = 20.
    mus = x.reshape(20, 8, 2).mean(axis=1)
    lam = 0.99
    expected = sum((1 - lam) * lam ** (19 - t) * mus[t] for t in range(20))
    np.testing.assert_allclose(run_mean, expected, rtol=1e-4)
    assert np.all(run_mean < 2.5)
    pop = apply_population_statistics(model, x, batch_size=8)["bn"]
    np.testing.assert_allclose(pop[0], x.mean(axis=0), rtol=1e-5)
    # With population statistics, inference-mode BN output of the training set has mean 0, variance ≈ 1.
    bn = model.get_layer("bn")
    bn_out = np.asarray(bn(x, training=False), "float64")
    bn_out = (bn_out - np.asarray(bn.beta)) / np.asarray(bn.gamma)  # undo the learned γ, β
    np.testing.assert_allclose(bn_out.mean(axis=0), 0, atol=1e-4)
    # The variance estimate from 20 batches of 8 has a sampling error of about sqrt(2/(20·7)) = 12 %: allow
    # 30 %. The running variance (≈ 0.82·1 + 0.18·4) is off by a factor of about 2.5.
    np.testing.assert_allclose(pop[1], x.var(axis=0, ddof=1), rtol=0.3)
    assert np.all(run_var < 0.6 * x.var(axis=0))


def test_callback_applies_population_statistics_after_fit(x):
    model = _first_bn_model()
    model.compile(keras.optimizers.SGD(0.01), "mse")
    cb = PopulationBatchNormStatistics(x, batch_size=8, estimator="pooled")
    model.fit(x, np.zeros((96, 2)), batch_size=8, epochs=1, verbose=0, callbacks=[cb])
    assert set(cb.statistics) == {"bn0", "bn1"}
    running = running_statistics(model)
    np.testing.assert_allclose(running["bn0"][0], x.mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(running["bn0"][1], x.var(axis=0), rtol=1e-5)
    np.testing.assert_allclose(running["bn1"][0], cb.statistics["bn1"][0])


def test_round_trip_keeps_population_statistics(x, tmp_path):
    model = _first_bn_model()
    apply_population_statistics(model, x, batch_size=8)
    path = tmp_path / "bn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_bad_arguments_raise_by_name(x):
    model = _first_bn_model()
    with pytest.raises(ValueError, match="estimator"):
        estimate_population_statistics(model, x, estimator="mean")
    with pytest.raises(ValueError, match="batch_size"):
        estimate_population_statistics(model, x, batch_size=1)
    with pytest.raises(ValueError, match="steps"):
        estimate_population_statistics(model, x, steps=0)
    with pytest.raises(ValueError, match="batch_size"):
        estimate_population_statistics(model, x, batch_size=1000)
    with pytest.raises(TypeError, match="model"):
        batch_norm_layers("model")
    with pytest.raises(ValueError, match="estimator"):
        PopulationBatchNormStatistics(x, estimator="x")
    with pytest.raises(ValueError, match="batch_size"):
        PopulationBatchNormStatistics(x, batch_size=0)


def test_callback_path_of_version_0_1_still_imports():
    import importlib
    import sys

    import recipes.normalization.batch_norm_statistics as moved

    sys.modules.pop("callbacks.batch_norm_statistics", None)
    with pytest.warns(DeprecationWarning, match="recipes.normalization.batch_norm_statistics"):
        old = importlib.import_module("callbacks.batch_norm_statistics")
    assert old.PopulationBatchNormStatistics is moved.PopulationBatchNormStatistics
