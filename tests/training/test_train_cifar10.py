"""End-to-end tests of scripts/train_cifar10.py on a tiny image folder the tests write."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import write_image_folder

TINY = ["--model", "resnet20", "--width", "2", "--batch-size", "16", "--lr", "0.05", "--verbose", "2"]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tinycifar")
    write_image_folder(root / "data", n_train=24, n_test=6)
    return root


def _run(repo_root, env, data, out, *extra, check=True):
    cmd = [sys.executable, str(repo_root / "scripts" / "train_cifar10.py"), "--data-dir", str(data / "data"),
           "--cache-dir", str(data / "cache"), "--output-dir", str(out), *TINY, *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _accuracy_line(stdout):
    lines = [l for l in stdout.splitlines() if l.startswith("test_accuracy=")]
    assert len(lines) == 1 and lines[-1] == stdout.strip().splitlines()[-1]
    return float(lines[0].split("=")[1])


EPOCHS = 12
# dropout and label smoothing: a resume must restore the dropout layer's random state too
RUN = ["--batch-size", "8", "--epochs", str(EPOCHS), "--dropout", "0.3", "--label-smoothing", "0.1"]


@pytest.fixture(scope="module")
def straight_run(repo_root, subprocess_env, tiny_data, tmp_path_factory):
    """One uninterrupted run of the command: the reference for the end-to-end and resume tests. Run as a user
    would: default --verbose (not a terminal here: one line per epoch) and no TF_CPP_MIN_LOG_LEVEL."""
    out = tmp_path_factory.mktemp("straight") / "run"
    env = {k: v for k, v in subprocess_env.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = _run(repo_root, env, tiny_data, out, *RUN, "--verbose", "auto")
    return out, proc


def test_output_is_quiet_and_one_line_per_epoch_when_not_a_terminal(straight_run):
    """No C++ log line of any level, no cuInit error; redirected output gets one plain line per epoch (no progress
    bar's ANSI codes or backspaces) with the learning rate and images per second."""
    from recipes.cli import NATIVE_NOISE

    _, proc = straight_run
    assert [n for n in NATIVE_NOISE if n in proc.stderr] == [], proc.stderr[-3000:]
    assert not re.search(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\]", proc.stderr, re.MULTILINE), proc.stderr[-3000:]
    assert "\x1b" not in proc.stdout + proc.stderr and "\b" not in proc.stdout + proc.stderr
    epochs = [line for line in proc.stdout.splitlines() if line.startswith("Epoch ")]
    assert len(epochs) == EPOCHS, proc.stdout[-3000:]
    for k, line in enumerate(epochs, 1):
        assert re.match(rf"^Epoch {k}/{EPOCHS}: loss [\d.]+, .*lr [\d.e-]+, \d+ img/s, train [\d.]+ s$", line), line


def test_trains_saves_reloads_and_evaluates(straight_run, tiny_data):
    import recipes
    from recipes.data.cifar10 import load_cifar10

    out, proc = straight_run
    accuracy = _accuracy_line(proc.stdout)
    for name in ("model.keras", "history.csv", "history.json", "metrics.json", "config.json"):
        assert (out / name).exists(), name
    assert any((out / "logs").rglob("events.out.tfevents.*")), "no TensorBoard event file"
    history = json.loads((out / "history.json").read_text())
    assert history["epoch"] == list(range(EPOCHS)) and len(history["loss"]) == EPOCHS
    assert history["loss"][-1] < history["loss"][0]  # it learns
    # the saved model reproduces the reported test accuracy on the (full) test split
    _, (x_test, y_test) = load_cifar10(tiny_data / "data", cache_dir=tiny_data / "cache")
    model = recipes.load_model(out / "model.keras")
    predicted = np.argmax(model.predict(x_test.astype("float32"), verbose=0), axis=1)
    assert np.mean(predicted == y_test) == pytest.approx(accuracy, abs=1e-4)
    # ... and evaluates with the integer labels load_cifar10 returns (compiled with the sparse smoothing loss)
    assert y_test.ndim == 1
    loss, evaluated = model.evaluate(x_test.astype("float32"), y_test, verbose=0)
    assert evaluated == pytest.approx(accuracy, abs=1e-4) and np.isfinite(loss)
    assert json.loads((out / "metrics.json").read_text())["test_examples"] == len(y_test)


def test_sigkill_and_rerun_ends_identical_to_an_uninterrupted_run(
        repo_root, subprocess_env, tiny_data, tmp_path, straight_run):
    """Kill -9 at an arbitrary point after epoch 2 was committed, rerun: it resumes from the next epoch, and —
    deterministic ops, a data stream keyed by (seed, epoch, step), optimizer slots in the backup — it ends with
    exactly the history and weights of the uninterrupted run (which also shows two CPU runs agree)."""
    import recipes

    out = tmp_path / "run"
    cmd = [sys.executable, str(repo_root / "scripts" / "train_cifar10.py"), "--data-dir", str(tiny_data / "data"),
           "--cache-dir", str(tiny_data / "cache"), "--output-dir", str(out), *TINY, *RUN]
    proc = subprocess.Popen(cmd, env=subprocess_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    meta = out / "backup" / "training_metadata.json"
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            try:
                if json.loads(meta.read_text())["epoch"] >= 2:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    done = json.loads(meta.read_text())["epoch"]
    assert 2 <= done < EPOCHS
    second = _run(repo_root, subprocess_env, tiny_data, out, *RUN)
    assert f"Resuming from {out / 'backup'}: {done} of {EPOCHS} epochs done" in second.stdout
    assert second.stdout.count("Epoch ") == EPOCHS - done  # only the remaining epochs ran
    assert not (out / "backup").exists()  # removed after a completed run
    history = json.loads((out / "history.json").read_text())
    assert history["epoch"] == list(range(EPOCHS))  # every epoch exactly once
    straight = straight_run[0]
    reference = json.loads((straight / "history.json").read_text())
    assert set(reference) == set(history) and "lr" in history and "images_per_second" in history
    for key in set(history) - {"images_per_second"}:  # the throughput is a measurement, not a result
        assert history[key] == reference[key], key
    resumed = recipes.load_model(out / "model.keras").get_weights()
    reference = recipes.load_model(straight / "model.keras").get_weights()
    for a, b in zip(resumed, reference):
        np.testing.assert_array_equal(a, b)


def _load_script(repo_root):
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_cifar10_script", repo_root / "scripts" / "train_cifar10.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Every flag that takes a value, out of range (test_every_flag_has_a_bad_value_row checks the list is complete;
# --data-dir, --cache-dir and --output-dir take paths: test_missing_data_dir_is_named, test_path_flags_...).
BAD_FLAGS = [
    (["--model", "resnet19"], "--model must be one of"), (["--width", "0"], "--width must be an integer in [1, inf), got 0"),
    (["--lr", "-1"], "--lr must be"), (["--lr", "nan"], "--lr must be a finite number in (0, inf), got nan"),
    (["--label-smoothing", "1.5"], "--label-smoothing must be a finite number in [0, 1), got 1.5"),
    (["--epochs", "0"], "--epochs"), (["--epochs", "two"], "argument --epochs: invalid float value"),
    (["--dropout", "1"], "--dropout must be a finite number in [0, 1), got 1.0"),
    (["--batch-size", "1000"], "--batch-size must be <= the number of training images (72)"),
    (["--batch-size", "0"], "--batch-size must be an integer in [1, inf), got 0"),
    (["--val-size", "72"], "--val-size must be <"), (["--val-size=-1"], "--val-size must be an integer in [0, inf), got -1"),
    (["--augment", "sideways"], "--augment must be one of"),
    (["--optimizer", "newton"], "--optimizer"), (["--weight-decay=-1e-4"], "--weight-decay must be a finite number in [0, inf), got -0.0001"),
    (["--weight-decay", "nan"], "--weight-decay must be a finite number in [0, inf), got nan"),
    (["--momentum", "1"], "--momentum must be a finite number in [0, 1), got 1.0"), (["--momentum", "nan"], "--momentum must be a finite number in [0, 1), got nan"),
    (["--schedule", "exponential"], "--schedule must be one of"),
    (["--final-lr-fraction", "1.5"], "--final-lr-fraction must be a finite number in [0, 1], got 1.5"),
    (["--weight-decay-mode", "l3"], "--weight-decay-mode must be one of"),
    (["--norm", "batchy"], "--norm must be one of"), (["--clipnorm", "0"], "--clipnorm must be a finite number in (0, inf), got 0.0"),
    (["--mixed-precision", "float8"], "--mixed-precision must be one of"),
    (["--seed=-1"], "--seed must be an integer in [0, 2147483647], got -1"), (["--train-limit", "0"], "--train-limit must be"),
    (["--early-stopping"], "--early-stopping needs a validation set"),
    (["--patience", "0"], "--patience must be an integer in [1, inf), got 0"), (["--eval-every", "0"], "--eval-every must be"),
    (["--policy", "restart"], "argument --policy: invalid choice"),
    (["--policy", "retrain"], "--policy retrain needs --early-stopping"),
    (["--retrain-length", "hours"], "argument --retrain-length: invalid choice"),
    (["--max-extra-steps", "0"], "--max-extra-steps must be an integer in [1, inf), got 0"),
    (["--strategy", "ring"], "--strategy must be one of"), (["--strategy", "multiworker"], "TF_CONFIG"),
    (["--logical-cpus", "0"], "--logical-cpus must be an integer in [1, inf), got 0"),
    (["--collective-timeout", "0"], "--collective-timeout must be a finite number in (0, inf), got 0.0"),
    (["--verbose", "loud"], "--verbose must be auto, 0, 1 or 2"), (["--verbose", "7"], "--verbose must be auto"),
    (["--recipe", "slow"], "--recipe must be one of standard, fast"), (["--test-limit", "0"], "--test-limit must be"),
    (["--model", "airbench", "--widths", "8,16"], "--widths must be three integers"),
    (["--whiten-images", "0"], "--whiten-images must be an integer"), (["--whiten-eps", "0"], "--whiten-eps must be"),
    (["--warmup-epochs", "40"], "--warmup-epochs must be in [0, --epochs=30"),
    (["--flip", "sideways"], "--flip must be one of"), (["--translate", "9"], "--translate must be an integer in [0, 8]"),
    (["--cutout", "33"], "--cutout must be an integer in [0, 32]"), (["--augment-on", "gpu"], "--augment-on must be"),
    (["--averaging", "swa"], "--averaging must be one of"), (["--averaging-decay", "1"], "--averaging-decay must be"),
    (["--averaging-every", "0"], "--averaging-every must be"), (["--tta", "3"], "--tta must be one of 0, 1, 2"),
    (["--eval-batch-size", "0"], "--eval-batch-size must be"), (["--target", "1.5"], "--target must be"),
    (["--loss-scale", "0.5"], "--loss-scale must be"), (["--seeds", "0"], "--seeds must be an integer"),
    (["--max-steps", "0"], "--max-steps must be an integer"),
    (["--whiten-bias-epochs=-1"], "--whiten-bias-epochs must be an integer in [0, inf), got -1"),
    (["--model", "airbench", "--whiten-bias-epochs", "3"], "--whiten-bias-epochs 3 stops the bias"),
    (["--init", "he"], "--init must be one of dirac, glorot"),
    (["--bn-momentum", "1"], "--bn-momentum must be a finite number in [0, 1), got 1.0"),
    (["--bn-eps", "0"], "--bn-eps must be a finite number in (0, inf), got 0.0"),
    (["--warmup-fraction", "1"], "--warmup-fraction must be a finite number in [0, 1), got 1.0"),
    (["--warmup-fraction", "0.2", "--warmup-epochs", "1"], "--warmup-fraction and --warmup-epochs both"),
    (["--bias-lr-scale", "0"], "--bias-lr-scale must be a finite number in (0, inf), got 0.0"),
    (["--bias-lr-scale", "64"], "--bias-lr-scale 64.0 needs --optimizer grouped_sgd"),
    (["--weight-decay-mode", "coupled"], "--weight-decay-mode coupled (λw added to the gradient"),
    (["--optimizer", "grouped_sgd", "--weight-decay-mode", "decoupled"], "grouped_sgd takes --weight-decay-mode"),
]
PATH_FLAGS = ("--data-dir", "--cache-dir", "--output-dir")


def test_every_flag_has_a_bad_value_row(repo_root):
    parser = _load_script(repo_root).build_parser()
    tried = {f.split("=")[0] for flags, _ in BAD_FLAGS for f in flags if f.startswith("--")}
    for action in parser._actions:
        if action.nargs == 0 or not action.option_strings or action.option_strings[0] in PATH_FLAGS:
            continue  # switches (store_true/false) have no out-of-range value
        assert action.option_strings[0] in tried, f"{action.option_strings[0]} has no row in BAD_FLAGS"


@pytest.mark.parametrize("flags,needle", BAD_FLAGS)
def test_bad_flags_fail_before_any_output(repo_root, tiny_data, tmp_path, capsys, monkeypatch, flags, needle):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    script = _load_script(repo_root)
    out = tmp_path / "bad"
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--data-dir", str(tiny_data / "data"), "--cache-dir", str(tiny_data / "cache"),
                     "--output-dir", str(out), *TINY, *flags])
    assert exit_info.value.code == 2
    assert needle in capsys.readouterr().err
    assert not out.exists(), f"{flags} left output behind"


def test_missing_data_dir_is_named(repo_root, tmp_path, capsys):
    script = _load_script(repo_root)
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--data-dir", str(tmp_path / "missing"), "--output-dir", str(tmp_path / "bad")])
    assert exit_info.value.code == 2 and "--data-dir" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("flag", ["--cache-dir", "--output-dir"])
def test_path_flags_naming_a_file_are_named(repo_root, tiny_data, tmp_path, capsys, flag):
    script = _load_script(repo_root)
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    args = {"--data-dir": str(tiny_data / "data"), "--cache-dir": str(tiny_data / "cache"),
            "--output-dir": str(tmp_path / "out"), flag: str(a_file)}
    with pytest.raises(SystemExit) as exit_info:
        script.main([x for kv in args.items() for x in kv] + TINY)
    assert exit_info.value.code == 2 and f"{flag} {a_file} exists and is not a folder" in capsys.readouterr().err
    assert a_file.read_text() == "not a folder" and not (tmp_path / "out").exists()
