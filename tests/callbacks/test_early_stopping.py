"""Tests of callbacks/early_stopping.py: the lecture's early-stopping meta-algorithm, evaluated every n steps.

Most tests drive the callback with a *scripted* validation curve (``validation_fn`` returns a fixed sequence),
so the evaluation at which it must stop, i* and v are known in advance; a spy callback records the weights after
every step so that "θ* restored bit for bit" is checked with ``np.array_equal`` (tolerance 0).
Runs under both backends: ``KERAS_BACKEND=jax python -m pytest -q tests/callbacks/test_early_stopping.py``.
"""
import math

import keras
import numpy as np
import pytest

from callbacks.early_stopping import StepEarlyStopping, StopAtStep, ValidationTargetStopping

N_SAMPLES, BATCH = 64, 8  # 8 steps per epoch


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_SAMPLES, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], dtype="float32") + 0.1 * rng.normal(size=N_SAMPLES)).astype("float32")
    return x, y[:, None]


def _model(seed=0, eager=False):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", run_eagerly=eager)
    return model


class _Script:
    """validation_fn returning a fixed sequence of values, one per evaluation."""

    def __init__(self, values):
        self.values = list(values)
        self.calls = 0

    def __call__(self, model):
        value = self.values[self.calls]
        self.calls += 1
        return value


class _WeightSpy(keras.callbacks.Callback):
    """Copies all weights after every optimizer step: snapshots[i] = θ after step i (snapshots[0] = θ₀)."""

    def on_train_begin(self, logs=None):
        self.snapshots = {0: [np.array(w, copy=True) for w in self.model.get_weights()]}
        self.step = 0

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self.snapshots[self.step] = [np.array(w, copy=True) for w in self.model.get_weights()]


def _same(ws1, ws2):
    return len(ws1) == len(ws2) and all(np.array_equal(a, b) for a, b in zip(ws1, ws2))


def _fit(cb, epochs=20, spy=True, eager=False):
    x, y = _data()
    model = _model(eager=eager)
    spy_cb = _WeightSpy()
    model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, shuffle=False,
              callbacks=[cb, spy_cb] if spy else [cb])
    return model, spy_cb


def test_stops_at_right_evaluation_and_restores_theta_star_bit_for_bit():
    # Evaluations every n=3 steps (they straddle the 8-step epochs). Scripted v':
    # eval: 1    2    3    4    5    6    7    8
    # v'  : 5.0  4.0  3.0  3.5  2.9  3.0  3.1  3.2
    # j   : 0    0    0    1    0    1    2    3 -> stop at evaluation 8 (step 24); i* = step 15, v = 2.9.
    script = _Script([5.0, 4.0, 3.0, 3.5, 2.9, 3.0, 3.1, 3.2] + [0.0] * 50)
    cb = StepEarlyStopping(eval_every=3, patience=3, validation_fn=script, mode="min")
    model, spy = _fit(cb)
    assert script.calls == 8
    assert cb.curve_steps == [3, 6, 9, 12, 15, 18, 21, 24]
    assert cb.best_step == 15 and cb.best_value == 2.9
    assert cb.stopped_step == 24 and cb.step == 24 and cb.wait == 3
    assert int(model.optimizer.iterations) == 24  # training really stopped at step 24
    assert "no improvement" in cb.stop_reason
    # θ* is exactly the weights after step 15, not those at the stop (which differ: the test can fail).
    assert _same(model.get_weights(), spy.snapshots[15])
    assert not _same(spy.snapshots[24], spy.snapshots[15])
    steps, values = cb.validation_curve
    np.testing.assert_array_equal(steps, [3, 6, 9, 12, 15, 18, 21, 24])
    np.testing.assert_array_equal(values, [5.0, 4.0, 3.0, 3.5, 2.9, 3.0, 3.1, 3.2])


def test_evaluates_every_n_steps_across_epochs_not_at_epoch_ends():
    # 3 epochs of 40 steps with n = 50: evaluations at steps 50 and 100 only (Keras's EarlyStopping would look
    # at steps 40, 80, 120).
    x = np.zeros((320, 4), "float32")
    y = np.zeros((320, 1), "float32")
    seen = []

    def fn(model):
        seen.append(int(model.optimizer.iterations))
        return 1.0 / (len(seen))  # always improving

    cb = StepEarlyStopping(eval_every=50, patience=1, validation_fn=fn, mode="min")
    model = _model()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[cb])
    assert cb.curve_steps == [50, 100]
    assert seen == [50, 100]  # the optimizer had taken exactly i steps at the evaluation
    assert cb.step == 120 and cb.stopped_step is None and cb.best_step == 100


def test_steps_per_execution_counts_real_optimizer_steps():
    # With steps_per_execution=4 Keras calls on_train_batch_end once per 4 steps (and with a nominal index at
    # the end of a 10-step epoch): executions end at steps 4, 8, 10, 14, 18, 20, ... . With n=5 the evaluation
    # happens at the first execution boundary at or after each multiple of n, and i is the true step count.
    from callbacks.early_stopping import StopAtStep

    seen = []

    def fn(model):
        seen.append(int(model.optimizer.iterations))
        return 1.0 / len(seen)

    x, y = np.zeros((80, 4), "float32"), np.zeros((80, 1), "float32")
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", steps_per_execution=4)
    cb = StepEarlyStopping(eval_every=5, patience=3, validation_fn=fn, mode="min")
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[cb])
    assert cb.curve_steps == seen == [8, 10, 18, 20, 28, 30]
    assert cb.step == 30 == int(model.optimizer.iterations)
    stop = StopAtStep(13)
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[stop])
    assert stop.step == 14 and int(model.optimizer.iterations) == 30 + 14


def test_min_delta_and_max_mode():
    # max mode with min_delta=0.1: 0.5, 0.55 (+0.05: not an improvement), 0.7 (improvement), 0.75, 0.79 -> stop
    script = _Script([0.5, 0.55, 0.7, 0.75, 0.79] + [0.0] * 20)
    cb = StepEarlyStopping(eval_every=2, patience=2, validation_fn=script, monitor="val_accuracy", min_delta=0.1)
    _fit(cb)
    assert cb._direction == "max"  # mode="auto" read it from the name
    assert cb.best_step == 6 and cb.best_value == 0.7 and cb.stopped_step == 10


def test_never_stops_during_warmup():
    # Always worsening after the first evaluation: without warm-up, p=2 stops at evaluation 3 (step 9);
    # with warmup_steps=12 the evaluations at 3..12 do not count and it stops at evaluation 6 (step 18).
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0] + [10.0] * 50
    cb0 = StepEarlyStopping(eval_every=3, patience=2, validation_fn=_Script(values), mode="min")
    _fit(cb0, spy=False)
    assert cb0.stopped_step == 9
    cb = StepEarlyStopping(eval_every=3, patience=2, validation_fn=_Script(values), mode="min", warmup_steps=12)
    model, spy = _fit(cb)
    assert cb.curve_steps == [3, 6, 9, 12, 15, 18]
    assert cb.stopped_step == 18 and cb.stopped_step > cb.warmup_steps
    assert cb.best_step == 3  # the warm-up's best still counts as θ*
    assert _same(model.get_weights(), spy.snapshots[3])


def test_nan_counts_as_no_improvement():
    # eval: 1    2    3    4    5    6    7    8
    # v'  : 3    2    nan  nan  1.5  nan  inf  nan
    # j   : 0    0    1    2    0    1    2    3  -> stop at evaluation 8; i* = 5th evaluation (step 10), v = 1.5
    script = _Script([3.0, 2.0, math.nan, math.nan, 1.5, math.nan, math.inf, math.nan] + [0.0] * 20)
    cb = StepEarlyStopping(eval_every=2, patience=3, validation_fn=script, mode="min")
    model, spy = _fit(cb)
    assert cb.stopped_step == 16 and cb.best_step == 10 and cb.best_value == 1.5
    assert math.isnan(cb.curve_values[2]) and len(cb.curve_values) == 8
    assert _same(model.get_weights(), spy.snapshots[10])


def test_nan_policy_stop_stops_at_once_with_message():
    script = _Script([3.0, 2.0, math.nan, 1.0] + [0.0] * 20)
    cb = StepEarlyStopping(eval_every=2, patience=5, validation_fn=script, mode="min", nan_policy="stop")
    model, spy = _fit(cb)
    assert cb.stopped_step == 6 and int(model.optimizer.iterations) == 6
    assert "nan" in cb.stop_reason.lower() and "nan_policy" in cb.stop_reason
    assert cb.best_step == 4 and _same(model.get_weights(), spy.snapshots[4])


def test_first_value_nan_keeps_theta0():
    # v starts at ∞ and θ* at θ₀ (lecture's initialization): a run that is NaN from the start restores θ₀.
    cb = StepEarlyStopping(eval_every=2, patience=2, validation_fn=lambda m: float("nan"), mode="min")
    model, spy = _fit(cb)
    assert cb.best_step == 0 and cb.best_value == math.inf and cb.stopped_step == 4
    assert _same(model.get_weights(), spy.snapshots[0])


def test_validation_data_uses_model_evaluate_and_keeps_train_logs():
    x, y = _data()
    xv, yv = _data(seed=1)
    model = _model(eager=False)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    spy = _WeightSpy()
    cb = StepEarlyStopping(eval_every=5, patience=100, validation_data=(xv, yv), monitor="val_mae")
    hist = model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0, shuffle=False, callbacks=[cb, spy])
    assert cb._direction == "min"  # from the MeanAbsoluteError metric's own direction
    assert cb.curve_steps == [5, 10, 15, 20]
    # Each curve value is the validation MAE of the weights after that step, recomputed in NumPy from the
    # model's outputs (float32 sums over 64 examples: rtol 1e-5).
    probe = _model()

    def outputs(weights, xs):
        probe.set_weights(weights)
        return keras.ops.convert_to_numpy(probe(xs))

    for step, value in zip(cb.curve_steps, cb.curve_values):
        np.testing.assert_allclose(value, np.mean(np.abs(outputs(spy.snapshots[step], xv) - yv)), rtol=1e-5)
    # The epoch's training loss was not reset by the evaluations: it equals the mean of the 8 step losses,
    # recomputed from the snapshots (MSE of batch k under the weights before step k).
    losses = [np.mean((outputs(spy.snapshots[k], x[(k - 16) * BATCH:(k - 15) * BATCH])
                       - y[(k - 16) * BATCH:(k - 15) * BATCH]) ** 2) for k in range(16, 24)]
    np.testing.assert_allclose(hist.history["loss"][2], np.mean(losses), rtol=1e-5)
    # θ* = weights at the best evaluation.
    best = int(np.argmin(cb.curve_values))
    assert cb.best_step == cb.curve_steps[best]
    assert _same(model.get_weights(), spy.snapshots[cb.best_step])


def test_config_round_trip():
    cb = StepEarlyStopping(eval_every=7, patience=4, monitor="val_accuracy", min_delta=0.01, mode="max",
                           warmup_steps=30, restore_best_weights=False, nan_policy="stop", verbose=1,
                           validation_batch_size=256)
    cfg = cb.get_config()
    assert StepEarlyStopping.from_config(cfg).get_config() == cfg
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cb))
    assert isinstance(restored, StepEarlyStopping) and restored.get_config() == cfg
    assert keras.saving.get_registered_name(StepEarlyStopping) == "recipes>StepEarlyStopping"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"patience": 0}, ValueError, r"patience must be an integer in \[1, inf\), got 0"),
        ({"patience": -1}, ValueError, r"patience must be an integer in \[1, inf\), got -1"),
        ({"patience": 2.5}, TypeError, r"patience must be an integer in \[1, inf\), got 2.5"),
        ({"eval_every": 0}, ValueError, r"eval_every must be an integer in \[1, inf\), got 0"),
        ({"eval_every": -3}, ValueError, r"eval_every must be an integer in \[1, inf\), got -3"),
        ({"mode": "down"}, ValueError, "mode must be one of auto, min, max, got 'down'"),
        ({"min_delta": -0.1}, ValueError, r"min_delta must be a finite number in \[0, inf\), got -0.1"),
        ({"warmup_steps": -1}, ValueError, r"warmup_steps must be an integer in \[0, inf\), got -1"),
        ({"nan_policy": "ignore"}, ValueError, "nan_policy must be one of .*, got 'ignore'"),
        ({"validation_batch_size": 0}, ValueError, r"validation_batch_size must be an integer in \[1, inf\), got 0"),
        ({"verbose": 3}, ValueError, "verbose must be one of 0, 1, 2, got 3"),
        ({"validation_data": (np.zeros((2, 6)), np.zeros((2, 3))), "validation_fn": lambda m: 1.0}, ValueError,
         "validation_data and validation_fn must not both be given"),
    ],
)
def test_rejects_bad_arguments_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        StepEarlyStopping(**kwargs)


def test_stop_at_step_and_target_stopping_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"steps must be an integer in \[1, inf\), got 0"):
        StopAtStep(0)
    with pytest.raises(ValueError, match=r"target must be a finite number in \(-inf, inf\), got nan"):
        ValidationTargetStopping(float("nan"))
    with pytest.raises(ValueError, match=r"max_extra_steps must be an integer in \[1, inf\), got 0"):
        ValidationTargetStopping(0.5, max_extra_steps=0)


def test_needs_validation_and_direction():
    # Checked in on_train_begin, before the first step (called directly: a failing fit is slow to unwind).
    model = _model()
    for cb, match in ((StepEarlyStopping(eval_every=2, patience=2), "validation_data"),
                      (StepEarlyStopping(monitor="val_weird", validation_fn=lambda m: 1.0), "mode")):
        cb.set_model(model)
        with pytest.raises(ValueError, match=match):
            cb.on_train_begin()
    with pytest.raises(TypeError, match="validation_fn"):
        StepEarlyStopping(validation_fn=3)
