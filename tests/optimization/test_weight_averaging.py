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


def test_lookahead_in_fit_keeps_its_averages_alive_and_matches_the_rule():
    """Lookahead every 2 steps inside ``fit`` (6 steps), then θ̄ read back (backup) and swapped in: equal to the rule
    applied by hand. Under JAX the trainer donates the variables' buffers to each compiled step: an average that
    shared a buffer with a variable (θ ← θ̄ assigned without a copy) was deleted by the next step."""
    import keras

    from recipes.optimization.weight_averaging import WeightAveragingCallback

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(24, 3)).astype("float32"), rng.normal(size=(24, 1)).astype("float32")

    def model():
        keras.utils.set_random_seed(1)
        m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])
        m.compile(keras.optimizers.SGD(0.05, momentum=0.5), "mse")
        return m

    m = model()
    cb = WeightAveragingCallback(WeightAveraging("lookahead", 0.5, 2, warmup_power=0.0, total_steps=6))
    m.fit(x, y, batch_size=8, epochs=2, shuffle=False, callbacks=[cb], verbose=0)  # 3 steps an epoch
    ref = model()
    avg = [np.array(w) for w in ref.get_weights()]
    for k in range(6):
        j = k % 3
        ref.train_on_batch(x[8 * j:8 * j + 8], y[8 * j:8 * j + 8])
        if (k + 1) % 2 == 0:
            avg = [0.5 * a + 0.5 * np.array(w) for a, w in zip(avg, ref.get_weights())]
            ref.set_weights(avg)
    state = cb.backup_state()
    for i, a in enumerate(avg):
        np.testing.assert_allclose(state[f"average{i}"], a, rtol=1e-5, atol=1e-6)
    with cb.swapped_in():
        got = [np.array(w) for w in m.get_weights()]
    for u, v in zip(got, avg):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    m.fit(x, y, batch_size=8, epochs=1, shuffle=False, callbacks=[cb], verbose=0)  # training goes on afterwards
    cb.assign_average()
    assert all(np.isfinite(np.array(w)).all() for w in m.get_weights())
