"""EMA / Lookahead against a NumPy reference."""
import numpy as np
import pytest
from keras import ops

from recipes.optimization.weight_averaging import WeightAveraging


def test_ema_matches_numpy_reference():
    wa = WeightAveraging("ema", decay=0.9, every=2, warmup_power=1.0, total_steps=10)
    rng = np.random.default_rng(0)
    thetas = rng.normal(size=(10, 5)).astype("float32")
    avg = [ops.convert_to_tensor(thetas[0])]
    ref = thetas[0].astype(np.float64)
    for k in range(1, 11):
        if wa.due(k):
            beta = wa.decay_at(k)
            assert beta == pytest.approx(0.9 * k / 10)  # β_k = β (k/K)^q
            avg = WeightAveraging.update(avg, [ops.convert_to_tensor(thetas[k - 1])], beta)
            ref = beta * ref + (1 - beta) * thetas[k - 1]
    np.testing.assert_allclose(ops.convert_to_numpy(avg[0]), ref, rtol=1e-6)  # float32 arithmetic


def test_integer_state_is_copied_not_averaged():
    out = WeightAveraging.update([ops.convert_to_tensor(np.array([1, 2], "int32"))],
                                 [ops.convert_to_tensor(np.array([7, 9], "int32"))], 0.5)
    np.testing.assert_array_equal(ops.convert_to_numpy(out[0]), [7, 9])


def test_config_round_trip_and_bad_args():
    wa = WeightAveraging("lookahead", 0.8, 5, 3.0, 100)
    assert WeightAveraging.from_config(wa.get_config()).get_config() == wa.get_config()
    for kwargs, word in (({"mode": "swa"}, "mode must be one of ema, lookahead, got 'swa'"),
                         ({"decay": 1.0}, r"decay must be a finite number in \[0, 1\), got 1.0"),
                         ({"every": 0}, r"every must be an integer in \[1, inf\), got 0"),
                         ({"warmup_power": -1}, r"warmup_power must be a finite number in \[0, inf\), got -1"),
                         ({"total_steps": 0}, r"total_steps must be an integer in \[1, inf\), got 0")):
        with pytest.raises(ValueError, match=word):
            WeightAveraging(**kwargs)
