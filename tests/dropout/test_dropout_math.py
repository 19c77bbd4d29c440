import numpy as np
import pytest

from recipes.dropout.dropout_math import (complete_network_gradient, dropout_regularized_error, expected_dropout_gradient,
                                  sample_dropout_gradients)

RNG = np.random.default_rng(0)
W = RNG.normal(size=6)
I = RNG.normal(size=6)
T = 0.7


@pytest.mark.parametrize("p", [0.5, 0.8, np.array([1.0, 0.9, 0.8, 0.5, 0.3, 0.5])])
def test_baldi_sadowski_identity_by_monte_carlo(p):
    """E[∂E_D/∂w_i] = ∂E_N/∂w_i + w_i p_i (1 − p_i) I_i², checked over 400,000 dropout masks."""
    g = sample_dropout_gradients(W, I, T, p, num_samples=400_000, seed=1)
    se = g.std(axis=0) / np.sqrt(len(g)) + 1e-12
    expected = expected_dropout_gradient(W, I, T, p)
    assert np.all(np.abs(g.mean(axis=0) - expected) < 5 * se)  # 5 standard errors
    # and the regularization term is really there: the complete-network gradient alone is rejected
    penalty = expected - complete_network_gradient(W, I, T, p)
    big = np.abs(penalty) > 10 * se
    assert np.any(big) or np.allclose(p, 1.0)
    assert np.all(np.abs(g.mean(axis=0) - complete_network_gradient(W, I, T, p))[big] > 5 * se[big])


def test_expected_gradient_is_gradient_of_regularized_error():
    p = np.array([0.9, 0.5, 0.5, 0.8, 0.7, 0.6])
    eps = 1e-6
    numeric = np.array([
        (dropout_regularized_error(W + eps * e, I, T, p) - dropout_regularized_error(W - eps * e, I, T, p)) / (2 * eps)
        for e in np.eye(len(W))
    ])
    np.testing.assert_allclose(numeric, expected_dropout_gradient(W, I, T, p), rtol=1e-6, atol=1e-8)


def test_sample_gradient_is_gradient_of_dropout_error():
    """Per mask δ: ∂/∂w ½(t − Σ δ w I)² by central differences equals the sampled gradient."""
    p = 0.5
    g = sample_dropout_gradients(W, I, T, p, num_samples=1, seed=3)[0]
    delta = (np.random.default_rng(3).random((1, 6)) < p).astype(float)[0]
    e_d = lambda w: 0.5 * (T - np.sum(delta * w * I)) ** 2
    numeric = np.array([(e_d(W + 1e-6 * e) - e_d(W - 1e-6 * e)) / 2e-6 for e in np.eye(6)])
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)


def test_penalty_is_largest_at_p_half_and_input_checks():
    ps = np.linspace(0.05, 1.0, 20)
    pen = [dropout_regularized_error(W, I, 0.0, p) - 0.5 * np.sum(p * W * I) ** 2 for p in ps]
    assert abs(ps[int(np.argmax(pen))] - 0.5) < 0.06
    for bad in (0.0, 1.5, np.nan):
        with pytest.raises(ValueError, match=rf"p must be keep-probabilities in \(0, 1\], got {bad}"):
            expected_dropout_gradient(W, I, T, bad)
    with pytest.raises(ValueError, match="w and inputs"):
        expected_dropout_gradient(W, I[:3], T, 0.5)
