"""Warm-up + linear decay schedule against its closed form."""
import keras
import numpy as np
import pytest

from recipes.optimization.warmup_schedule import WarmupLinearDecay


def test_values_match_closed_form_and_round_trip():
    s = WarmupLinearDecay(1.0, 0.1, total_steps=10, warmup_steps=4, warmup_start_fraction=0.2)
    got = [float(keras.ops.convert_to_numpy(s(k))) for k in range(13)]
    ref = [0.2 + 0.8 * k / 4 if k < 4 else (1 - min((k - 4) / 6, 1)) * 1.0 + min((k - 4) / 6, 1) * 0.1
           for k in range(13)]
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    s2 = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(s))
    assert isinstance(s2, WarmupLinearDecay) and s2.get_config() == s.get_config()


@pytest.mark.parametrize("kwargs, word", [
    ({"initial_learning_rate": 0}, r"initial_learning_rate must be a finite number in \(0, inf\), got 0"),
    ({"final_learning_rate": -1}, r"final_learning_rate must be a finite number in \[0, inf\), got -1"),
    ({"total_steps": 0}, r"total_steps must be an integer in \[1, inf\), got 0"),
    ({"warmup_steps": 10}, r"warmup_steps must be an integer in \[0, 9\], got 10"),
    ({"warmup_start_fraction": 2}, r"warmup_start_fraction must be a finite number in \[0, 1\], got 2"),
])
def test_bad_args_raise_by_name(kwargs, word):
    args = {"initial_learning_rate": 1.0, "final_learning_rate": 0.0, "total_steps": 10, "warmup_steps": 2}
    args.update(kwargs)
    with pytest.raises(ValueError, match=word):
        WarmupLinearDecay(**args)
