"""Tests of recipes/early_stopping/policies.py (the lecture's policies #1 and #2) and their callbacks."""
import keras
import numpy as np
import pytest

from callbacks.early_stopping import StopAtStep, ValidationTargetStopping
from recipes.early_stopping.policies import retrain_steps_for, steps_per_epoch, train_with_early_stopping

B = 8


def _data(n, seed, noise=0.5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 10)).astype("float32")
    w = np.linspace(-1, 1, 10).astype("float32")
    y = (x @ w + noise * rng.normal(size=n)).astype("float32")[:, None]
    return x, y


def _builder(log=None):
    def build():
        keras.utils.set_random_seed(123)
        model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(64, activation="relu"),
                                  keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        if log is not None:
            log.append([np.array(w, copy=True) for w in model.get_weights()])
        return model
    return build


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


def test_policy1_trains_exactly_i_star_steps_from_a_fresh_initialization():
    # 6 steps per epoch on the subtrain, 8 on all 64 examples; noisy targets, so that the validation loss turns
    # up early (with these seeds i* = 35: the retraining crosses epoch boundaries mid-epoch).
    sub, val = _data(44, 0, noise=1.5), _data(20, 1, noise=1.5)
    inits = []
    res = train_with_early_stopping(_builder(inits), sub, val, policy="retrain", eval_every=7, patience=3,
                                    batch_size=B, max_epochs=20, fit_kwargs={"shuffle": False})
    assert len(inits) == 2 and _same(inits[0], inits[1])  # built twice, same seed: the same random θ₀
    assert res.best_step > 0 and res.retrain_steps == res.best_step
    assert int(res.model.optimizer.iterations) == res.best_step
    # Reference: from that same θ₀, i* plain steps on X_train = subtrain ∪ valid, in order. Bit for bit.
    ref = _builder()()
    x_all, y_all = np.concatenate([sub[0], val[0]]), np.concatenate([sub[1], val[1]])
    ref.fit(x_all, y_all, batch_size=B, epochs=100, shuffle=False, verbose=0, callbacks=[StopAtStep(res.best_step)])
    assert _same(res.model.get_weights(), ref.get_weights())
    # ... and that is not θ* of the early-stopping phase (trained on the subtrain only).
    assert not _same(res.model.get_weights(), inits[0])


def test_policy1_same_number_of_epochs():
    sub, val = _data(44, 0, noise=1.5), _data(20, 1, noise=1.5)
    res = train_with_early_stopping(_builder(), sub, val, policy="retrain", retrain_length="epochs", eval_every=7,
                                    patience=3, batch_size=B, max_epochs=20, fit_kwargs={"shuffle": False})
    # e* = i*/⌈44/8⌉ epochs = round(i* · 8/6) steps on the 64 examples.
    assert res.retrain_steps == round(res.best_step * 8 / 6)
    assert int(res.model.optimizer.iterations) == res.retrain_steps
    assert retrain_steps_for(30, 44, 64, 8, "epochs") == 40 and retrain_steps_for(30, 44, 64, 8, "steps") == 30
    assert steps_per_epoch(44, 8) == 6


class _Script:
    def __init__(self, values):
        self.values, self.calls = list(values), 0

    def __call__(self, model):
        self.calls += 1
        return self.values[self.calls - 1]


@pytest.mark.parametrize("values, stop_step, reached", [
    ([5.0, 4.0, 3.0, 2.7, 1.0, 1.0, 1.0], 8, True),   # first evaluation at or below ε = 2.7 is the 4th (step 8)
    ([5.0, 2.69, 1.0, 1.0], 4, True),
    ([5.0] * 10, 8, False),                            # never: max_extra_steps=7 rounds up to 8 = 4 evaluations
])
def test_policy2_loop_stops_at_first_value_at_or_below_epsilon_or_at_bound(values, stop_step, reached):
    x, y = _data(64, 0)
    model = _builder()()
    cb = ValidationTargetStopping(2.7, eval_every=2, max_extra_steps=7, validation_fn=_Script(values))
    model.fit(x, y, batch_size=B, epochs=10, verbose=0, callbacks=[cb])
    assert cb.stopped_step == stop_step and int(model.optimizer.iterations) == stop_step
    assert cb.reached is reached
    assert cb.curve_steps == list(range(2, stop_step + 1, 2))
    assert ("bound" in cb.message) is (not reached)


def test_policy2_end_to_end_epsilon_and_first_crossing():
    # A noisier validation set than subtrain, so that J(θ*, X_valid) starts above ε = J(θ*, X_subtrain).
    sub, val = _data(44, 0, noise=1.0), _data(20, 1, noise=2.0)
    res = train_with_early_stopping(_builder(), sub, val, policy="continue", eval_every=2, patience=3,
                                    batch_size=B, max_epochs=20, max_extra_steps=60, fit_kwargs={"shuffle": False})
    assert res.continue_values[0] > res.epsilon and res.extra_steps > 0
    # ε is J(θ*, X_subtrain); the loop checks J(θ, X_valid) every n steps, starting at 0 extra steps.
    assert res.epsilon is not None and res.continue_steps[0] == 0
    assert all(s % 2 == 0 for s in res.continue_steps)
    assert all(v > res.epsilon for v in res.continue_values[:-1])  # it did not run past a crossing
    if res.reached_target:
        assert res.continue_values[-1] <= res.epsilon
    else:
        assert res.extra_steps == 60 and "bound" in res.message
    assert res.extra_steps == res.continue_steps[-1]


def test_policy2_bound_ends_it_with_a_message():
    sub = _data(44, 0, noise=0.01)
    xv, _ = _data(20, 1)
    val = (xv, (10.0 * np.random.default_rng(5).normal(size=(20, 1))).astype("float32"))  # unlearnable targets
    res = train_with_early_stopping(_builder(), sub, val, policy="continue", eval_every=2, patience=2,
                                    batch_size=B, max_epochs=5, max_extra_steps=5)
    assert res.reached_target is False and res.extra_steps == 6  # 5 rounded up to a multiple of n=2
    assert "bound reached" in res.message and "max_extra_steps=6" in res.message
    assert int(res.model.optimizer.iterations) == res.es_steps + 6


def test_bad_arguments():
    sub, val = _data(16, 0), _data(8, 1)
    with pytest.raises(ValueError, match="policy must be one of none, retrain, continue, got 'both'"):
        train_with_early_stopping(_builder(), sub, val, policy="both")
    with pytest.raises(ValueError, match="retrain_length must be one of steps, epochs, got 'time'"):
        train_with_early_stopping(_builder(), sub, val, retrain_length="time")
    with pytest.raises(ValueError, match=r"patience must be an integer in \[1, inf\), got 0"):
        train_with_early_stopping(_builder(), sub, val, patience=0)
    with pytest.raises(ValueError, match=r"eval_every must be an integer in \[1, inf\), got 0"):
        train_with_early_stopping(_builder(), sub, val, eval_every=0)
    with pytest.raises(ValueError, match=r"max_extra_steps must be an integer in \[1, inf\), got 0"):
        train_with_early_stopping(_builder(), sub, val, max_extra_steps=0)
    with pytest.raises(TypeError, match=r"max_epochs must be an integer in \[1, inf\), got 2.0"):
        train_with_early_stopping(_builder(), sub, val, max_epochs=2.0)
    with pytest.raises(ValueError, match="steps"):
        StopAtStep(0)
    with pytest.raises(ValueError, match="target"):
        ValidationTargetStopping(float("nan"))


def test_callbacks_config_round_trip():
    for cb in (StopAtStep(17), ValidationTargetStopping(0.25, eval_every=3, max_extra_steps=10, monitor="loss")):
        cfg = cb.get_config()
        again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cb))
        assert type(again) is type(cb) and again.get_config() == cfg


@pytest.mark.slow
def test_cifar10_experiment_script_smoke(cifar10_dir, tmp_path):
    # The experiment end to end on a tiny real subset, in-process (no second TensorFlow import): every run is
    # reported, policy 1 ran exactly i* steps, and the plot is drawn. The numbers themselves are in the README.
    import csv
    import json

    from tests.helpers import load_script

    module = load_script("early_stopping_cifar10")
    out = tmp_path / "out"
    assert module.main(["--data-dir", str(cifar10_dir), "--model", "mlp", "--train-limit", "200",
                        "--val-size", "64", "--test-limit", "100", "--epochs", "2", "--batch-size", "32",
                        "--eval-every", "2", "--patience", "2", "--skip-all-data-baseline",
                        "--output-dir", str(out)]) == 0
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["no ES", "early stopping", "policy 1 (retrain)", "policy 1 (epochs)",
                                        "policy 2 (continue)"]
    summary = json.loads((out / "results.json").read_text())
    assert summary["policy1"]["retrain_steps"] == summary["early_stopping"]["best_step"] == int(rows[2]["steps"])
    assert (out / "early_stopping_cifar10.png").stat().st_size > 10_000


def test_train_cifar10_flags_reach_the_config_and_are_checked(repo_root, tmp_path):
    import importlib.util

    from recipes.training.engine import TrainConfig, validate_config

    spec = importlib.util.spec_from_file_location("train_cifar10", repo_root / "scripts" / "train_cifar10.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = module.build_parser().parse_args(["--early-stopping", "--patience", "3", "--eval-every", "25",
                                             "--policy", "continue", "--val-size", "500", "--max-extra-steps", "90"])
    cfg = TrainConfig(**vars(args))
    assert (cfg.early_stopping, cfg.patience, cfg.eval_every, cfg.policy, cfg.max_extra_steps) == (
        True, 3, 25, "continue", 90)
    validate_config(cfg)
    out = str(tmp_path)
    for kwargs, flag in [({"patience": 0}, "--patience"), ({"eval_every": 0}, "--eval-every"),
                         ({"val_size": 0}, "--val-size"), ({"policy": "both"}, "--policy"),
                         ({"max_extra_steps": 0}, "--max-extra-steps")]:
        with pytest.raises(ValueError, match=flag):
            validate_config(TrainConfig(**{"early_stopping": True, "val_size": 100, "output_dir": out, **kwargs}))
    with pytest.raises(ValueError, match="--early-stopping"):
        validate_config(TrainConfig(policy="retrain", val_size=100, output_dir=out))
