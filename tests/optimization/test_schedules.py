import keras
import numpy as np
import pytest

from recipes.optimization.schedules import LinearDecay


def test_linear_decay_values():
    eps0, eps_tau, tau = 0.1, 0.001, 200
    s = LinearDecay(eps0, eps_tau, tau)
    values = [float(keras.ops.convert_to_numpy(s(k))) for k in (0, tau // 2, tau, 2 * tau, 10 * tau)]
    # ε_k = (1 − k/τ)ε₀ + (k/τ)ε_τ, constant ε_τ after τ
    np.testing.assert_allclose(values, [eps0, (eps0 + eps_tau) / 2, eps_tau, eps_tau, eps_tau], rtol=1e-6)
    k = 37
    assert float(keras.ops.convert_to_numpy(s(k))) == pytest.approx((1 - k / tau) * eps0 + k / tau * eps_tau, rel=1e-6)


def test_linear_decay_round_trip_and_in_optimizer(tmp_path):
    s = LinearDecay(0.5, 0.0, 10)
    s2 = LinearDecay.from_config(s.get_config())
    assert s2.get_config() == s.get_config()
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(keras.optimizers.SGD(s), loss="mse")
    # one step of plain SGD from w=0 on (x=1, y=1): g = 2(w−1) = −2, w ← 0 − ε₀·g = 1.0
    model.fit(np.ones((1, 1)), np.ones((1, 1)), verbose=0)
    assert model.get_weights()[0][0, 0] == pytest.approx(1.0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer.learning_rate if not hasattr(loaded.optimizer, "_learning_rate") else loaded.optimizer._learning_rate, LinearDecay)


@pytest.mark.parametrize("args,error,match", [
    ((0.0, 0.0, 10), ValueError, r"initial_learning_rate must be a finite number in \(0, inf\), got 0.0"),
    ((0.1, -1.0, 10), ValueError, r"final_learning_rate must be a finite number in \[0, inf\), got -1.0"),
    ((0.1, 0.0, 0), ValueError, r"decay_steps must be an integer in \[1, inf\), got 0"),
    ((0.1, 0.0, 2.5), TypeError, r"decay_steps must be an integer in \[1, inf\), got 2.5"),
])
def test_linear_decay_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        LinearDecay(*args)
