"""The run folder is a transaction: run identity, no silent overwrite, one process at a time, a commit order that
survives a kill at every commit point, a stop on a non-finite loss, and every check before any work."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from recipes.training import engine, run_folder
from tests.helpers import run_train_command, write_image_folder

TINY = ["--model", "resnet20", "--width", "2", "--batch-size", "8", "--lr", "0.05", "--verbose", "0",
        "--no-tensorboard", "--epochs", "2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("runfolder")
    write_image_folder(root / "data", n_train=8, n_test=4)
    return root


def _main(data, out, *extra):
    """The training command in this process: (exit status, stdout, stderr)."""
    return run_train_command(data, out, *TINY, *extra)


def _snapshot(folder):
    folder = pathlib.Path(folder)
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_identity_rerun_refusal_overwrite_and_finished_rerun(data, tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = _main(data, out)
    assert code == 0 and stdout.strip().splitlines()[-1].startswith("test_accuracy=")
    first = stdout.strip().splitlines()[-1]
    record = json.loads((out / "run.json").read_text())
    assert record["state"] == "finished" and record["identity"]["lr"] == 0.05 and "data" in record["identity"]
    assert not (out / "backup").exists()
    before = _snapshot(out)

    # the same flags: the stored result, no training, nothing written
    code, stdout, _ = _main(data, out)
    assert code == 0 and "holds a finished run with these settings" in stdout
    assert stdout.strip().splitlines()[-1] == first and "Epoch" not in stdout
    assert _snapshot(out) == before

    # other flags: exit 2 naming every flag that differs, before touching anything
    code, _, stderr = _main(data, out, "--lr", "0.07", "--seed", "3", "--dropout", "0.2")
    assert code == 2
    for needle in ("--lr 0.05 (the folder's run) vs 0.07 (now)", "--seed 0 (the folder's run) vs 3 (now)",
                   "--dropout 0.0 (the folder's run) vs 0.2 (now)", "--overwrite"):
        assert needle in stderr, stderr
    assert _snapshot(out) == before

    # --overwrite: the old files are moved aside, not deleted, and the new run starts afresh
    code, stdout, _ = _main(data, out, "--lr", "0.07", "--overwrite")
    assert code == 0
    moved = [p for p in out.iterdir() if p.name.startswith("superseded-")]
    assert len(moved) == 1 and _snapshot(moved[0]) == before
    assert json.loads((out / "run.json").read_text())["identity"]["lr"] == 0.07


def test_files_no_run_created_are_never_touched(data, tmp_path):
    out = tmp_path / "mine"
    (out / "backup").mkdir(parents=True)
    (out / "backup" / "thesis.tex").write_text("my thesis")
    (out / "history.csv").write_text("my numbers")
    before = _snapshot(out)
    code, _, stderr = _main(data, out)
    assert code == 2 and "holds files that no run" in stderr and "backup" in stderr and "history.csv" in stderr
    assert _snapshot(out) == before
    code, _, _ = _main(data, out, "--overwrite")
    assert code == 0
    (moved,) = [p for p in out.iterdir() if p.name.startswith("superseded-")]
    assert (moved / "backup" / "thesis.tex").read_text() == "my thesis"
    assert (moved / "history.csv").read_text() == "my numbers"


def test_a_second_process_is_refused_and_a_dead_ones_lock_taken_over(data, tmp_path):
    out = tmp_path / "locked"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / ".lock").write_text(json.dumps({"pid": sleeper.pid, "host": os.uname().nodename,
                                               "started": "2026-12-01T00:00:00+00:00"}))
        code, _, stderr = _main(data, out)
        assert code == 2 and f"in use by process {sleeper.pid}" in stderr
        assert sorted(os.listdir(out)) == [".lock"]
    finally:
        sleeper.kill()
        sleeper.wait()
    code, _, _ = _main(data, out)  # the holder is dead now: its lock is taken over
    assert code == 0 and not (out / ".lock").exists()


def test_lock_file_protocol(tmp_path):
    with run_folder.FolderLock(tmp_path) as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
        with pytest.raises(run_folder.RunFolderError, match="is in use by process"):
            run_folder.FolderLock(tmp_path).acquire()
    assert not (tmp_path / ".lock").exists()


def test_divergence_stops_at_once_names_the_step_and_keeps_the_backup(data, tmp_path):
    out = tmp_path / "nan"
    code, stdout, stderr = _main(data, out, "--lr", "1e4", "--epochs", "3")
    assert code == 4, stderr
    assert "test_accuracy=" not in stdout
    assert "the training loss became nan at step" in stderr.lower() and "--lr 10000" in stderr
    assert not (out / "model.keras").exists()
    assert json.loads((out / "run.json").read_text())["state"] == "running"
    if (out / "backup").exists():  # only finite epochs were committed: the one that diverged was not
        meta = json.loads((out / "backup" / "training_metadata.json").read_text())
        step = int(stderr.lower().split("at step ")[1].split()[0])
        assert meta["epoch"] * 3 < step  # 3 steps per epoch (24 images, batch 8)


@pytest.mark.parametrize("flags,needle", [
    (["--train-limit", "20", "--batch-size", "24"], "--batch-size must be <= the number of training images (20"),
    (["--train-limit", "20", "--val-size", "20"], "--val-size must be < --train-limit (20)"),
])
def test_flag_combinations_are_judged_before_the_data_is_read(data, tmp_path, flags, needle):
    code, _, stderr = _main(data, tmp_path / "out", "--cache-dir", str(tmp_path / "cache"), *flags)
    assert code == 2 and needle in stderr, stderr
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()


def test_output_dir_under_a_file_or_not_writable_is_named_before_any_work(data, tmp_path, monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    code, _, stderr = _main(data, a_file / "run")
    assert code == 2 and f"--output-dir {a_file / 'run'} is under a file" in stderr
    import tempfile

    def read_only(*args, **kwargs):
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    code, _, stderr = _main(data, tmp_path / "ro")
    assert code == 2 and "--output-dir" in stderr and "is not writable" in stderr and "Read-only" in stderr
    assert not (tmp_path / "ro").exists()


def test_history_is_rewritten_through_a_rename_never_truncated_in_place(tmp_path, monkeypatch):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0,2.0\n1,1.5\n2,1.2\n")
    inode = path.stat().st_ino

    def crash(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_folder, "replace_atomically", crash)
    with pytest.raises(OSError):
        run_folder.trim_history(path, 2)
    assert path.read_text() == "epoch,loss\n0,2.0\n1,1.5\n2,1.2\n"  # a crash leaves the old file whole
    monkeypatch.undo()
    run_folder.trim_history(path, 2)
    assert path.read_text().splitlines() == ["epoch,loss", "0,2.0", "1,1.5"] and path.stat().st_ino != inode


class _Crash(BaseException):
    """A stand-in for SIGKILL at a commit point (the real kill is tested end to end below)."""


FINISH_POINTS = ["finish:begin", "finish:model-committed", "finish:history-committed", "finish:metrics-committed",
                 "finish:record-committed", "finish:backup-removed"]


def _crash_at(monkeypatch, module, point):
    def kill_at(name):
        if name == point:
            raise _Crash(name)

    monkeypatch.setattr(module, "kill_point", kill_at)


@pytest.fixture(scope="module")
def finish_runs(data, tmp_path_factory):
    """A finished reference run, and the same run stopped as its finish began (record running, last epoch in
    the backup): the start of every kill-point test below."""
    root = tmp_path_factory.mktemp("finish")
    assert _main(data, root / "reference")[0] == 0
    mp = pytest.MonkeyPatch()
    _crash_at(mp, run_folder, "finish:begin")
    try:
        with pytest.raises(_Crash):
            _main(data, root / "before_finish")
    finally:
        mp.undo()
    return root / "reference", root / "before_finish"


@pytest.mark.parametrize("point", FINISH_POINTS)
def test_a_kill_at_each_commit_point_of_the_finish_leaves_a_consistent_folder(data, tmp_path, monkeypatch,
                                                                               finish_runs, point):
    """Killed at each commit point of the end of a run, the folder is either resumable (record running, backup of
    the last epoch) or finished (record finished, every result file); the rerun then ends with the same result as
    an uninterrupted run, training nothing."""
    import shutil

    reference, before_finish = finish_runs
    out = tmp_path / "run"
    shutil.copytree(before_finish, out)
    _crash_at(monkeypatch, run_folder, point)
    with pytest.raises(_Crash):
        _main(data, out)
    record = json.loads((out / "run.json").read_text())
    if record["state"] == "running":
        meta = json.loads((out / "backup" / "training_metadata.json").read_text())
        assert meta["epoch"] == 2  # the last epoch is kept until the results are committed
    else:
        assert point in ("finish:record-committed", "finish:backup-removed")
        for name in ("model.keras", "history.json", "metrics.json"):
            assert (out / name).exists()
    monkeypatch.undo()
    code, stdout, _ = _main(data, out)
    assert code == 0 and "Epoch" not in stdout  # nothing trained again
    assert json.loads((out / "metrics.json").read_text())["test_accuracy"] == \
        json.loads((reference / "metrics.json").read_text())["test_accuracy"]
    assert json.loads((out / "history.json").read_text())["loss"] == \
        json.loads((reference / "history.json").read_text())["loss"]
    for a, b in zip(_weights(out / "model.keras"), _weights(reference / "model.keras")):
        np.testing.assert_array_equal(a, b)
    assert json.loads((out / "run.json").read_text())["state"] == "finished" and not (out / "backup").exists()


def _weights(path):
    import recipes

    return recipes.load_model(path).get_weights()


BACKUP_POINTS = ["backup:weights-written", "backup:weights-committed", "backup:state-committed",
                 "backup:metadata-committed", "backup:old-removed"]


@pytest.mark.parametrize("point", BACKUP_POINTS)
def test_a_kill_at_each_commit_point_of_the_backup_resumes_exactly(tmp_path, monkeypatch, point):
    """At each commit point of epoch 2's backup: the metadata names complete files of one epoch (1 or 2), and
    resuming from it ends with the weights of an uninterrupted run (dropout masks included)."""
    import keras

    from callbacks import backup_and_restore
    from callbacks.backup_and_restore import AtomicBackupAndRestore

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 6)).astype("float32"), rng.normal(size=(32, 2)).astype("float32")

    def model():
        keras.utils.set_random_seed(0)
        inp = keras.Input((6,))
        h = keras.layers.Dropout(0.3, seed=5)(keras.layers.Dense(8)(inp))
        m = keras.Model(inp, keras.layers.Dense(2)(h))
        m.compile(keras.optimizers.SGD(0.01, momentum=0.9), "mse")
        return m

    straight = model()
    straight.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0)
    calls = {"n": 0}

    def kill_at(name):
        if name == point:
            calls["n"] += 1
            if calls["n"] == 2:  # during epoch 2's commit
                raise _Crash(name)

    monkeypatch.setattr(backup_and_restore, "kill_point", kill_at)
    with pytest.raises(_Crash):  # (a real SIGKILL in a subprocess: test_sigkill_during_the_finish_then_rerun)
        model().fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                    callbacks=[AtomicBackupAndRestore(str(tmp_path / "b"))])
    meta = json.loads((tmp_path / "b" / "training_metadata.json").read_text())
    assert meta["epoch"] == (2 if point in ("backup:metadata-committed", "backup:old-removed") else 1)
    assert (tmp_path / "b" / meta["weights"]).exists() and (tmp_path / "b" / meta["state"]).exists()
    monkeypatch.undo()
    resumed = model()
    resumed.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                callbacks=[AtomicBackupAndRestore(str(tmp_path / "b"))])
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)


def test_sigkill_during_the_finish_then_rerun_completes(repo_root, subprocess_env, data, tmp_path):
    """The real thing: SIGKILL after the metrics were committed but before the record; the rerun trains nothing
    and commits the same result."""
    out = tmp_path / "run"
    cmd = [sys.executable, str(repo_root / "scripts" / "train_cifar10.py"), "--data-dir", str(data / "data"),
           "--cache-dir", str(data / "cache"), "--output-dir", str(out), *TINY]
    killed = subprocess.run(cmd, env=dict(subprocess_env, RECIPES_KILL_AT="finish:metrics-committed"),
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert json.loads((out / "run.json").read_text())["state"] == "running" and (out / "backup").exists()
    rerun = subprocess.run(cmd, env=subprocess_env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "Resuming from" in rerun.stdout and "2 of 2 epochs done" in rerun.stdout
    assert json.loads((out / "run.json").read_text())["state"] == "finished" and not (out / "backup").exists()


def test_ctrl_c_stops_within_seconds_with_one_line_and_status_130(repo_root, subprocess_env, data, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, str(repo_root / "scripts" / "train_cifar10.py"), "--data-dir", str(data / "data"),
           "--cache-dir", str(data / "cache"), "--output-dir", str(out), *TINY, "--epochs", "40"]
    proc = subprocess.Popen(cmd, env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    meta = out / "backup" / "training_metadata.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not meta.exists():
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be interrupted"
    sent = time.time()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    took = time.time() - sent
    assert proc.returncode == 130, stderr[-2000:]
    assert took < 10, f"took {took:.1f} s to stop"
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("stopped:")]
    assert len(lines) == 1 and "rerun the same command to resume from epoch" in lines[0], stderr[-2000:]
    assert "test_accuracy=" not in stdout
