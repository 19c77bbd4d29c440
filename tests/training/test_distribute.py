"""tf.distribute on one CPU machine: two logical CPU devices (mirrored) and two worker processes on 127.0.0.1
(multi-worker), against a single-process run with the same global batch; a worker killed mid-run."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import write_image_folder

# BatchNorm statistics are per replica (not synchronized), so the equivalence runs use --norm none: then
# synchronous data parallelism computes the same mean gradient over the global batch as one device.
FLAGS = ["--model", "resnet20", "--width", "2", "--batch-size", "8", "--lr", "0.05", "--verbose", "0",
         "--norm", "none", "--no-tensorboard"]
# float32 sums in a different order (per-replica partial means, then an all-reduce): agree to 1e-4 relative
RTOL = 1e-4


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    write_image_folder(root / "data", n_train=24, n_test=6)
    return root


def _cmd(repo_root, tiny, out, *extra):
    return [sys.executable, str(repo_root / "scripts" / "train_cifar10.py"), "--data-dir", str(tiny / "data"),
            "--cache-dir", str(tiny / "cache"), "--output-dir", str(out), *FLAGS, *extra]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _tf_config(ports, index):
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def _start_workers(repo_root, env, tiny, out, *extra):
    ports = _free_ports(2)
    procs = []
    for index in range(2):
        worker_env = dict(env, TF_CONFIG=_tf_config(ports, index))
        procs.append(subprocess.Popen(_cmd(repo_root, tiny, out, "--strategy", "multiworker", *extra),
                                      env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def _history(out):
    return json.loads((out / "history.json").read_text())


def test_mirrored_and_multiworker_match_single_process(repo_root, subprocess_env, tiny, tmp_path):
    epochs = ["--epochs", "3"]
    workers = _start_workers(repo_root, subprocess_env, tiny, tmp_path / "multi", *epochs)
    single = subprocess.run(_cmd(repo_root, tiny, tmp_path / "single", *epochs), env=subprocess_env,
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-2000:]
    mirrored = subprocess.run(_cmd(repo_root, tiny, tmp_path / "mirrored", *epochs, "--strategy", "mirrored",
                                   "--logical-cpus", "2"), env=subprocess_env, capture_output=True, text=True,
                              timeout=600)
    assert mirrored.returncode == 0, mirrored.stderr[-2000:]
    outputs = [w.communicate(timeout=600) for w in workers]
    for w, (_, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    base = _history(tmp_path / "single")
    for name in ("mirrored", "multi"):
        other = _history(tmp_path / name)
        np.testing.assert_allclose(other["loss"], base["loss"], rtol=RTOL, err_msg=name)
        np.testing.assert_allclose(other["accuracy"], base["accuracy"], atol=1e-6, err_msg=name)
    # the chief alone wrote: one set of outputs, no stray files from worker 1
    assert sorted(p.name for p in (tmp_path / "multi").iterdir()) == [
        "config.json", "history.csv", "history.json", "metrics.json", "model.keras", "results.csv", "run.json",
        "summary.json"]


def test_killed_worker_fails_the_job_clearly_and_leaves_a_loadable_checkpoint(
        repo_root, subprocess_env, tiny, tmp_path):
    out = tmp_path / "job"
    epochs = 12
    workers = _start_workers(repo_root, subprocess_env, tiny, out, "--epochs", str(epochs),
                             "--collective-timeout", "20")
    meta = out / "backup" / "training_metadata.json"
    deadline = time.time() + 400
    try:
        while time.time() < deadline and workers[0].poll() is None:
            try:
                if json.loads(meta.read_text())["epoch"] >= 2:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.01)
        workers[1].send_signal(signal.SIGKILL)
        _, err = workers[0].communicate(timeout=300)
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert workers[0].returncode == 3, err[-3000:]  # the surviving chief fails, it does not hang
    assert "a worker of the multi-worker job failed or became unreachable" in err
    assert "rerun every worker with the same --output-dir" in err
    committed = json.loads(meta.read_text())
    assert 2 <= committed["epoch"] < epochs
    assert (out / "backup" / committed["weights"]).exists()
    assert not [p for p in (out / "backup").iterdir() if "incomplete" in p.name]
    # a rerun loads the committed state and finishes the job (here as one process with the same global batch)
    rerun = subprocess.run(_cmd(repo_root, tiny, out, "--epochs", str(epochs)), env=subprocess_env,
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{committed['epoch']} of {epochs} epochs done" in rerun.stdout
    assert _history(out)["epoch"] == list(range(epochs))


def test_multiworker_without_tf_config_is_named(repo_root, tiny, tmp_path, capsys, monkeypatch):
    import importlib.util

    monkeypatch.delenv("TF_CONFIG", raising=False)
    spec = importlib.util.spec_from_file_location("train_cifar10_script", repo_root / "scripts" / "train_cifar10.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--data-dir", str(tiny / "data"), "--output-dir", str(tmp_path / "x"), "--strategy", "multiworker"])
    assert exit_info.value.code == 2 and "TF_CONFIG" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
