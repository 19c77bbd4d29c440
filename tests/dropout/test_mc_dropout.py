import keras
import numpy as np
import pytest

from tests.dropout_testing import assert_mean_var

from recipes.dropout.dropconnect import DropConnectDense
from recipes.dropout.mc_dropout import (MCDropoutPredictor, gaussian_log_likelihood, mc_dropout_model, mc_moments,
                                mutual_information, predictive_entropy, select_tau, softmax, tau_from_prior)

RNG = np.random.default_rng(0)


def _linear_bn_dropout_model(rate, seed=0):
    """x → Dense(6) → BatchNorm → Dropout(rate) → Dense(2): linear, so MC moments have a closed form."""
    inp = keras.Input((4,))
    h = keras.layers.Dense(6, name="d1")(inp)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.Dropout(rate, seed=seed, name="drop")(h)
    out = keras.layers.Dense(2, name="d2")(h)
    model = keras.Model(inp, out)
    model.get_layer("bn").moving_mean.assign(RNG.normal(size=6))
    model.get_layer("bn").moving_variance.assign(RNG.uniform(0.5, 2.0, size=6))
    return model


def test_mc_dropout_leaves_batchnorm_statistics_untouched_unlike_training_true():
    model = _linear_bn_dropout_model(0.5)
    bn = model.get_layer("bn")
    before = [np.array(v) for v in (bn.moving_mean, bn.moving_variance)]
    x = RNG.normal(size=(16, 4)).astype("float32")
    MCDropoutPredictor(model, num_samples=5).predict(x)
    for b, v in zip(before, (bn.moving_mean, bn.moving_variance)):
        np.testing.assert_array_equal(np.asarray(v), b)
    model(x, training=True)  # the pitfall: training=True also updates the batch-norm statistics
    assert not np.allclose(np.asarray(bn.moving_mean), before[0])


def test_mc_moments_match_closed_form_of_linear_dropout_network():
    rate, p, tau, T = 0.5, 0.5, 4.0, 1000
    model = _linear_bn_dropout_model(rate)
    x = RNG.normal(size=(3, 4)).astype("float32")
    h = np.asarray(keras.Model(model.input, model.get_layer("bn").output)(x))  # BN in inference mode
    w2, b2 = (np.asarray(v) for v in model.get_layer("d2").weights)
    exact_mean = h @ w2 + b2  # E over masks of a linear network = the deterministic network
    exact_var = (1 - p) / p * (h**2) @ (w2**2)  # Σ_i Var(δ_i/p) h_i² w_ij²
    samples = MCDropoutPredictor(model, num_samples=T, tau=tau).sample(x, batch_size=3)
    mean, var = mc_moments(samples, tau)
    assert_mean_var(samples, exact_mean, exact_var)  # 5 standard errors, estimated from the samples
    np.testing.assert_allclose(mean, samples.astype(np.float64).mean(0), rtol=1e-10)
    np.testing.assert_allclose(var, samples.astype(np.float64).var(0) + 1 / tau, rtol=1e-8)  # τ⁻¹ + (1/T)Σŷ² − E[y]²
    _, full = mc_moments(samples, tau, full_covariance=True)
    np.testing.assert_allclose(np.diagonal(full, axis1=1, axis2=2), var, rtol=1e-10)
    np.testing.assert_allclose(full, np.transpose(full, (0, 2, 1)))
    # covariance of the 2 outputs: Σ_i Var(δ_i/p) h_i² w_i1 w_i2
    exact_cov = (1 - p) / p * (h**2) @ (w2[:, 0] * w2[:, 1])
    assert np.all(np.abs(full[:, 0, 1] - exact_cov) < 5 * np.sqrt(exact_var.prod(1) / T) + 1e-9)


def test_variance_shrinks_to_inverse_tau_when_dropout_is_off():
    model = _linear_bn_dropout_model(0.0)
    x = RNG.normal(size=(5, 4)).astype("float32")
    mean, var = MCDropoutPredictor(model, num_samples=10, tau=2.5).predict(x)
    np.testing.assert_allclose(var, 1 / 2.5, atol=1e-6)
    np.testing.assert_allclose(mean, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    _, full = MCDropoutPredictor(model, num_samples=10, tau=2.5).predict(x, full_covariance=True)
    np.testing.assert_allclose(full, np.broadcast_to(np.eye(2) / 2.5, full.shape), atol=1e-6)


def test_nested_models_dropconnect_and_shared_weights():
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5), keras.layers.Dropout(0.5, seed=1)])
    outer = keras.Sequential([keras.Input((4,)), inner, DropConnectDense(2, mask="batch", seed=2)])
    mc = mc_dropout_model(outer)
    assert mc.count_params() == outer.count_params()
    x = RNG.normal(size=(3, 4)).astype("float32")
    a, b = mc.predict(x, verbose=0), mc.predict(x, verbose=0)
    assert not np.allclose(a, b)  # stochastic in compiled predict
    # one pass per predict batch: a per-batch DropConnect mask is shared inside a pass, new across passes
    only_dc = keras.Sequential([keras.Input((4,)), DropConnectDense(3, mask="batch", seed=3)])
    s = MCDropoutPredictor(only_dc, num_samples=6).sample(np.tile(x[:1], (4, 1)), batch_size=4)
    assert np.all(s == s[:, :1]) and len({tuple(np.round(r[0], 5)) for r in s}) > 1
    outer.layers[-1].kernel.assign(np.zeros((5, 2)))  # weights are shared, not copied
    outer.layers[-1].bias.assign(np.zeros(2))
    np.testing.assert_array_equal(mc.predict(x, verbose=0), 0.0)


def _seeded_mc_model():
    """Dense → BatchNorm → Dropout(seed) inside a nested Sequential, then DropConnectDense(seed), as MC dropout."""
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6), keras.layers.BatchNormalization(),
                              keras.layers.Dropout(0.5, seed=11)], name="inner")
    model = keras.Sequential([keras.Input((4,)), inner, DropConnectDense(3, rate=0.3, mask="batch", seed=12)])
    inner.layers[1].moving_mean.assign(RNG.normal(size=6))
    return model


def test_mc_dropout_model_saves_and_loads_with_the_same_mc_samples(tmp_path):
    """Before: ForceTraining had no get_config and mc_dropout_model(model).save(...) raised NotImplementedError."""
    import recipes

    model = _seeded_mc_model()
    mc = mc_dropout_model(model)
    mc.save(tmp_path / "mc.keras")
    loaded = recipes.load_model(tmp_path / "mc.keras")
    assert [type(l).__name__ for l in loaded.layers] == ["Sequential", "ForceTraining"]
    for a, b in zip(mc.weights, loaded.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    x = RNG.normal(size=(5, 4)).astype("float32")
    # same seeds → the same MC samples: the reloaded model draws what the original draws from its first pass on
    ours = MCDropoutPredictor(model, num_samples=6).sample(x, batch_size=5)
    theirs = MCDropoutPredictor(loaded, num_samples=6).sample(x, batch_size=5)  # an MC model is used as it is
    np.testing.assert_array_equal(ours, theirs)
    assert np.std(ours, axis=0).max() > 0.01  # and they are random: the dropout-type layers are on
    bn = loaded.layers[0].layers[1]
    np.testing.assert_array_equal(np.asarray(bn.moving_mean), np.asarray(model.layers[0].layers[1].moving_mean))
    # the loaded layers keep their configuration
    wrapped = loaded.layers[1].layer
    assert isinstance(wrapped, DropConnectDense) and (wrapped.rate, wrapped.seed, wrapped.mask) == (0.3, 12, "batch")
    nested = loaded.layers[0].layers[2]  # the nested model's Dropout, wrapped too
    assert type(nested).__name__ == "ForceTraining" and isinstance(nested.layer, keras.layers.Dropout)
    assert (nested.layer.rate, nested.layer.seed) == (0.5, 11)


def test_errors_and_tau_helpers():
    with pytest.raises(ValueError, match="no layer"):
        mc_dropout_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))

    class Sub(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(TypeError, match="Functional or Sequential"):
        mc_dropout_model(Sub())
    with pytest.raises(ValueError, match="num_samples"):
        MCDropoutPredictor(_linear_bn_dropout_model(0.5), num_samples=1)
    with pytest.raises(ValueError, match="tau"):
        mc_moments(np.zeros((2, 1, 1)), tau=-1.0)
    # Gal: τ = p l² / (2 N λ)
    assert tau_from_prior(length_scale=1e-2, keep_prob=0.5, num_train=1000, weight_decay=1e-6) == pytest.approx(0.025)
    # select_tau recovers the noise precision when the MC spread is 0 and residuals ~ N(0, 1/τ)
    y = RNG.normal(scale=0.5, size=(20000, 1))  # τ = 4
    tau = select_tau(y, np.zeros_like(y), np.zeros_like(y))
    assert tau == pytest.approx(4.0, rel=0.05)  # SE of a variance estimate at n = 20000 ≈ 1 %
    assert gaussian_log_likelihood(y, 0 * y, 0 * y + 1 / tau) >= gaussian_log_likelihood(y, 0 * y, 0 * y + 1.0)


def test_classification_uncertainty_helpers():
    probs = softmax(np.array([[[10.0, 0.0]], [[0.0, 10.0]]]))  # two confident passes that disagree
    assert predictive_entropy(probs.mean(0))[0] == pytest.approx(np.log(2), rel=1e-3)
    assert mutual_information(probs)[0] == pytest.approx(np.log(2), rel=1e-2)
    same = softmax(np.array([[[10.0, 0.0]], [[10.0, 0.0]]]))
    assert mutual_information(same)[0] == pytest.approx(0.0, abs=1e-6)


def test_fit_tau_recovers_the_noise_precision():
    """With dropout off the MC spread is 0, so the held-out likelihood is maximized at τ⁻¹ = residual variance."""
    model = _linear_bn_dropout_model(0.0)
    x = RNG.normal(size=(4000, 4)).astype("float32")
    y = model.predict(x, verbose=0) + RNG.normal(scale=0.5, size=(4000, 2))  # τ = 1/0.25 = 4
    predictor = MCDropoutPredictor(model, num_samples=2)
    tau = predictor.fit_tau(x, y, batch_size=1000)
    assert predictor.tau == tau and tau == pytest.approx(4.0, rel=0.1)  # SE of a variance at n = 8000 ≈ 1.6 %
