"""The one training engine: both recipes as configurations, both augmentation placements, the optimizer builder,
fractional epochs, seeds, weight averaging; the fast command rejects a bad flag by name."""
import math
import subprocess
import sys

import keras
import numpy as np
import pytest

from recipes.data.cifar10 import CIFAR10Splits, channel_mean_std
from recipes.training import engine
from recipes.training.config import config_for, total_steps, validate_config


def _synthetic(n, seed, size=16):
    """Images whose class sets a colour and a bright quadrant, plus noise: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    colours = rng.integers(40, 216, (10, 3))
    x = np.repeat(colours[y][:, None, None, :], size, axis=1).repeat(size, axis=2).astype("float64")
    h = size // 2
    for i in range(n):
        r, c = ((y[i] % 4) // 2) * h, (y[i] % 2) * h
        x[i, r:r + h, c:c + h] += 30
    x += rng.normal(0, 20, x.shape)
    return np.clip(x, 0, 255).astype("uint8"), y.astype("int64")


def _splits(n_train=256, n_test=100, size=16, val=0):
    x, y = _synthetic(n_train + val, 0, size)
    mean, std = channel_mean_std(x[:n_train])
    return CIFAR10Splits((x[:n_train], y[:n_train]), (x[n_train:], y[n_train:]), _synthetic(n_test, 1, size),
                         mean, std, "synthetic")


def test_fast_recipe_lowers_the_loss_and_saves_the_averaged_network(tmp_path):
    splits = _splits(512, 200)
    cfg = config_for("fast", widths=(8, 16, 16), epochs=4, batch_size=128, lr=2.0, whiten_images=256,
                     averaging_every=2, tta=1, eval_batch_size=100, cutout=4, mixed_precision="off", verbose=0)
    r = engine.run_seed(cfg, splits, 0, out=None, log=lambda *a: None)
    assert r["steps"] == 16 and r["train_s"] > 0 and r["compile_s"] > 0 and r["images_per_s"] > 0
    # 16 SGD steps on an easy problem (logits scaled by 1/9, so the fall is slow: measured 2.29 → 2.10)
    assert r["last_loss"] < r["first_loss"] - 0.1, (r["first_loss"], r["last_loss"])
    model = r["model"]
    x, y = splits.test
    # the reported accuracy is the TTA accuracy of the saved (averaged) network
    acc, _ = engine.evaluate(engine.tta_model(model, 1), x, y, 100)
    assert acc == pytest.approx(r["test_accuracy"], abs=1e-9)
    path = tmp_path / "fast.keras"
    model.save(path)
    np.testing.assert_array_equal(keras.models.load_model(path).predict(x[:8].astype("float32"), verbose=0),
                                  model.predict(x[:8].astype("float32"), verbose=0))


def _final_weights(cfg, splits):
    r = engine.run_seed(cfg, splits, 3, out=None, log=lambda *a: None)
    return r, [np.asarray(w) for w in r["model"].get_weights()]


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the tf.data placement needs TensorFlow")
@pytest.mark.parametrize("augment", ["standard", "airbench"])
def test_data_and_device_placements_train_identically(augment):
    """One augmentation core: the tf.data map and the in-model layer give the same batches, so the same run."""
    splits = _splits(64, 20, size=32)
    common = dict(model="resnet20", width=2, epochs=2, batch_size=16, augment=augment, output_dir=None,
                  verbose=0, tensorboard=False)
    a, wa = _final_weights(config_for("standard", augment_on="data", **common), splits)
    b, wb = _final_weights(config_for("standard", augment_on="device", **common), splits)
    assert a["steps"] == b["steps"] == 8
    for u, v in zip(wa, wb):
        np.testing.assert_array_equal(u, v)
    assert a["test_accuracy"] == b["test_accuracy"]


def test_fractional_epochs_and_max_steps():
    assert total_steps(config_for("standard", epochs=1.5, batch_size=16), 64) == (4, 6, 2)
    assert total_steps(config_for("standard", epochs=3, batch_size=16, max_steps=5), 64) == (4, 5, 2)
    assert total_steps(config_for("fast", epochs=9.9), 50000) == (48, 476, 10)  # airbench94: ceil(48 · 9.9)
    splits = _splits(64, 20, size=32)
    cfg = config_for("standard", model="resnet20", width=2, epochs=1.5, batch_size=16, output_dir=None, verbose=0,
                     tensorboard=False)
    r = engine.run_seed(cfg, splits, 0, out=None, log=lambda *a: None)
    assert r["steps"] == 6 and int(r["model"].optimizer.iterations) == 6


def test_seeds_write_a_folder_each_and_a_summary(tmp_path, monkeypatch):
    import json

    splits = _splits(64, 20, size=32)
    monkeypatch.setattr(engine, "prepare_cifar10", lambda *a, **k: splits)
    cfg = config_for("standard", model="resnet20", width=2, epochs=1, batch_size=16, seeds=2, seed=5,
                     output_dir=str(tmp_path / "run"), verbose=0, tensorboard=False)
    summary = engine.run_training(cfg, log=lambda *a: None)
    accs = [r["test_accuracy"] for r in summary["runs"]]
    assert [r["seed"] for r in summary["runs"]] == [5, 6]
    assert summary["test_accuracy"] == pytest.approx(np.mean(accs))
    for seed in (5, 6):
        assert (tmp_path / "run" / f"seed{seed}" / "model.keras").exists()
        assert json.loads((tmp_path / "run" / f"seed{seed}" / "metrics.json").read_text())["seed"] == seed
    rows = (tmp_path / "run" / "results.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("seed,test_accuracy")
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["test_accuracy_std"] == pytest.approx(
        np.std(accs))


@pytest.mark.parametrize("with_model", [False, True])
def test_optimizer_builder_decays_kernels_only_and_clips(with_model):
    """Decoupled decay w ← w − ε λ w on kernels, never on biases or BN γ, β (by role with the model, by the
    name rule without); clipping α·g/‖g‖ is global."""
    cfg = config_for("standard", weight_decay_mode="decoupled", weight_decay=0.1, lr=0.5, schedule="constant",
                     momentum=0.0, clipnorm=2.0)
    inp = keras.Input((3,))
    out = keras.layers.Dense(2)(keras.layers.BatchNormalization()(keras.layers.Dense(4)(inp)))
    model = keras.Model(inp, out)
    opt = engine.build_optimizer(cfg, 10, 5, model=model if with_model else None)
    assert opt.global_clipnorm == 2.0
    before = {v.path: np.array(v) for v in model.trainable_variables}
    opt.apply([keras.ops.zeros_like(v) for v in model.trainable_variables], model.trainable_variables)
    for v in model.trainable_variables:
        expected = before[v.path] * (1 - 0.5 * 0.1) if v.path.endswith("kernel") else before[v.path]
        np.testing.assert_allclose(np.array(v), expected, rtol=1e-6, err_msg=v.path)


def test_learning_rate_schedules():
    """ε_k: the lecture's linear decay; with a warm-up, linear from 0.2 ε₀ to ε₀ first."""
    lin = engine.learning_rate_schedule(config_for("standard", lr=0.1, final_lr_fraction=0.01), 100, 10)
    assert float(lin(0)) == pytest.approx(0.1) and float(lin(50)) == pytest.approx(0.0505)
    assert float(lin(100)) == pytest.approx(0.001)
    warm = engine.learning_rate_schedule(config_for("standard", lr=1.0, warmup_epochs=0.5, final_lr_fraction=0),
                                         100, 10)  # warm-up 0.5 epochs = 5 steps
    assert float(warm(0)) == pytest.approx(0.2) and float(warm(5)) == pytest.approx(1.0)
    assert float(warm(100)) == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("epochs, per_epoch", [(2, 48), (9.9, 48)])
def test_fast_schedule_is_airbench94_get_lr_step_by_step(epochs, per_epoch):
    """airbench94's LambdaLR factor, step k = 0 … τ: warm-up int(0.23τ) steps from 0.2 to 1, then 1 → 0.07;
    τ = ceil(epochs · steps per epoch) (96 and 476)."""
    cfg = config_for("fast", lr=1.5, epochs=epochs)
    _, tau, _ = total_steps(cfg, per_epoch * 1024 + 500)
    assert tau == math.ceil(per_epoch * epochs)
    sched = engine.learning_rate_schedule(cfg, tau, per_epoch)

    def get_lr(step):  # airbench94.py, written out
        warmup_steps = int(tau * 0.23)
        if step < warmup_steps:
            frac = step / warmup_steps
            return 0.2 * (1 - frac) + 1.0 * frac
        frac = (step - warmup_steps) / (tau - warmup_steps)
        return 1.0 * (1 - frac) + 0.07 * frac

    got = [float(keras.ops.convert_to_numpy(sched(k))) for k in range(tau + 1)]
    np.testing.assert_allclose(got, [1.5 * get_lr(k) for k in range(tau + 1)], rtol=1e-5)


def test_grouped_sgd_groups_of_the_airbench_net():
    """The fast recipe's optimizer: BatchNorm shifts at c = 64, coupled λ on every trained variable (biases too),
    the whitening bias trained for 3 epochs only, the whitening kernel not trained at all."""
    splits = _splits(256, 20, size=32)
    cfg = config_for("fast", widths=(8, 16, 16), whiten_images=64)
    network = engine.build_network(cfg, splits, 0)
    opt = engine.build_optimizer(cfg, 40, 10)
    opt.build(network.trainable_variables)
    rules = {v.path: opt._rules[opt._get_variable_index(v)] for v in network.trainable_variables}
    lam = 0.0153 / 11.5
    assert rules.pop("whiten/bias") == (1.0, lam, 30)
    assert "whiten/kernel" not in rules and len(rules) == 6 + 6 + 1  # 6 convs, 6 BN shifts, the head
    for path, rule in rules.items():
        assert rule == ((64.0, lam, None) if path.endswith("/beta") else (1.0, lam, None)), path


def test_metrics_report_cpu_time(tmp_path, monkeypatch):
    import csv

    splits = _splits(64, 20, size=32)
    monkeypatch.setattr(engine, "prepare_cifar10", lambda *a, **k: splits)
    cfg = config_for("standard", model="resnet20", width=2, epochs=1, batch_size=16, seeds=1,
                     output_dir=str(tmp_path / "run"), verbose=0, tensorboard=False)
    r = engine.run_training(cfg, log=lambda *a: None)["runs"][0]
    assert r["train_cpu_s"] > 0
    assert r["images_per_cpu_s"] == pytest.approx(r["steps"] * 16 / r["train_cpu_s"], rel=1e-2)
    # CPU time counts every thread: on a busy or single core it is not far below the wall-clock, and never absurd
    assert 0.2 * r["train_s"] < r["train_cpu_s"] < 64 * r["train_s"]
    row = next(csv.DictReader(open(tmp_path / "run" / "results.csv")))
    assert float(row["images_per_cpu_s"]) == r["images_per_cpu_s"] and float(row["train_cpu_s"]) > 0


def test_lookahead_callback_matches_the_rule():
    """After steps 2 and 4: θ̄ ← β θ̄ + (1 − β) θ, then θ ← θ̄ (β = 0.5, no warm-up), step by step by hand."""
    from recipes.optimization.weight_averaging import WeightAveraging, WeightAveragingCallback

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")

    def model():
        keras.utils.set_random_seed(1)
        m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        m.compile(keras.optimizers.SGD(0.1), "mse")
        return m

    m = model()
    cb = WeightAveragingCallback(WeightAveraging("lookahead", 0.5, 2, warmup_power=0.0, total_steps=4))
    m.fit(x, y, batch_size=4, epochs=1, shuffle=False, callbacks=[cb], verbose=0)
    ref = model()
    avg = [np.array(w) for w in ref.get_weights()]
    for k in range(4):
        ref.train_on_batch(x[4 * k:4 * k + 4], y[4 * k:4 * k + 4])
        if (k + 1) % 2 == 0:
            avg = [0.5 * a + 0.5 * np.array(w) for a, w in zip(avg, ref.get_weights())]
            ref.set_weights(avg)
    for u, v in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-6)


@pytest.mark.parametrize("overrides,flag", [
    ({"flip": "maybe"}, "--flip"), ({"batch_size": 0}, "--batch-size"), ({"tta": 5}, "--tta"),
    ({"averaging": "swa"}, "--averaging"), ({"warmup_epochs": 20}, "--warmup-epochs"),
    ({"widths": (1, 2)}, "--widths"), ({"mixed_precision": "fp8"}, "--mixed-precision"),
    ({"augment": "mixup", "augment_on": "device"}, "--augment-on data"),
    ({"model": "airbench", "width": 3}, "--widths"), ({"seeds": 0}, "--seeds"),
])
def test_bad_settings_raise_by_flag_name(overrides, flag):
    with pytest.raises((ValueError, TypeError), match=flag):
        validate_config(config_for("fast", **overrides))


def test_fast_command_rejects_a_bad_flag_by_name(repo_root, subprocess_env, tmp_path):
    p = subprocess.run([sys.executable, "scripts/train_cifar10_fast.py", "--data-dir", str(tmp_path), "--flip", "maybe"],
                       cwd=repo_root, env=subprocess_env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--flip" in p.stderr, p.stderr[-2000:]


def test_the_compile_warm_up_leaves_no_trace(monkeypatch):
    """The warm-up step runs on a throwaway copy of the state: the run is the one it would have been without it
    (momentum slots included, which the optimizer creates lazily)."""
    splits = _splits(64, 20, size=32)
    cfg = config_for("standard", model="resnet20", width=2, epochs=1, batch_size=16, output_dir=None, verbose=0,
                     tensorboard=False)
    warm, w_warm = _final_weights(cfg, splits)
    monkeypatch.setattr(engine, "_warm_up", lambda *a, **k: 0.0)
    cold, w_cold = _final_weights(cfg, splits)
    assert warm["compile_s"] > 0 and cold["compile_s"] == 0
    for u, v in zip(w_warm, w_cold):
        np.testing.assert_array_equal(u, v)
