"""scripts/gpu_fast_cifar10.py on the CPU with a tiny setting: Keras on JAX with TensorFlow blocked (the GPU
machine has none), data from NumPy shards, one table; the budget rule that skips seeds."""
import json
import os
import subprocess
import sys

import pytest

from tests.helpers import write_image_folder

# Runs the script as __main__ in a process where importing tensorflow (or anything under it) raises
# ModuleNotFoundError, as on the GPU machine. A finder on sys.meta_path, not sys.modules["tensorflow"] = None: Keras
# asks `"tensorflow" in sys.modules` to decide whether it runs inside tf.data, and a None entry would say yes.
BLOCKED = (
    "import sys, runpy, importlib.abc\n"
    "class NoTensorFlow(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path, target=None):\n"
    "        if name.split('.')[0] in ('tensorflow', 'tensorflow_datasets'):\n"
    "            raise ModuleNotFoundError(f'No module named {name!r} (blocked by the test)')\n"
    "sys.meta_path.insert(0, NoTensorFlow())\n"
    "sys.argv = ['gpu_fast_cifar10.py'] + sys.argv[1:]\n"
    "try:\n"
    "    runpy.run_path('scripts/gpu_fast_cifar10.py', run_name='__main__')\n"
    "    code = 0\n"
    "except SystemExit as stop:\n"
    "    code = stop.code\n"
    "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tensorflow_datasets'))\n"
    "print('modules of tensorflow:', loaded or 'none')\n"
    "sys.exit(code)\n"
)
# Few distinct weight shapes and no TTA: on a CPU the cost is XLA compiling (each initializer shape, the step,
# the evaluation), not the training.
TINY = ["--", "--widths", "4,4,4", "--epochs", "2", "--batch-size", "32", "--whiten-images", "64",
        "--eval-batch-size", "40", "--tta", "0"]


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    from recipes.data.cifar10 import load_cifar10
    from recipes.data.shards import pack_shards

    root = tmp_path_factory.mktemp("gpu_script")
    write_image_folder(root / "png", n_train=40, n_test=10)  # 120 training, 30 test images
    train, test = load_cifar10(root / "png", cache_dir=root / "cache")
    pack_shards(train, test, root / "shards", max_bytes=200_000)
    return root / "shards"


def _run(repo_root, args, timeout=900):
    env = dict(os.environ, PYTHONPATH=str(repo_root), KERAS_BACKEND="tensorflow")  # the script sets jax itself
    env.pop("RECIPES_DATA", None)
    return subprocess.run([sys.executable, "-c", BLOCKED, *args], cwd=repo_root, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_runs_on_jax_without_tensorflow_from_shards(repo_root, shard_dir, tmp_path):
    """One seed (the CPU's cost is the compilation): the table, the run folder and the history agree."""
    out = tmp_path / "run"
    p = _run(repo_root, ["--data-dir", str(shard_dir), "--seeds", "1", "--target", "0.3", "--output-dir", str(out),
                         *TINY])
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    lines = p.stdout.splitlines()
    assert "backend jax" in lines[0] and "tensorflow absent" in lines[0], lines[0]
    head = next(i for i, line in enumerate(lines) if line.split(" | ")[0].strip() == "seed")
    assert [c.strip() for c in lines[head].split("|")] == ["seed", "acc", "epoch@30", "s_to_30", "train_s", "img/s",
                                                           "compile_s"]
    row = lines[head + 1].split("|")
    assert row[0].strip() == "0" and lines[head + 2].startswith("mean")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "jax" and summary["seeds"] == 1 and summary["config"]["eval_every_epoch"]
    assert lines[-2] == f"test_accuracy={summary['test_accuracy']:.6f}"
    assert lines[-1] == "modules of tensorflow: none"
    (r,) = summary["runs"]
    assert float(row[1]) == pytest.approx(r["test_accuracy"], abs=5e-5)  # the table shows what the folder holds
    history = json.loads((out / "seed0" / "history.json").read_text())
    assert len(history["test_accuracy"]) == 2  # evaluated after every epoch
    hit = next((i + 1 for i, a in enumerate(history["test_accuracy"]) if a >= 0.3), None)
    assert row[2].strip() == ("-" if hit is None else str(hit))
    assert row[3].strip() == ("-" if r["time_to_target_s"] is None else f"{r['time_to_target_s']:.2f}")
    assert json.loads((out / "seed0" / "run.json").read_text())["state"] == "finished"


def test_budget_rule():
    """The first seed always starts; a later one only when a seed as long as the last (+20 %) ends in the budget."""
    import runpy

    should_start = runpy.run_path("scripts/gpu_fast_cifar10.py")["should_start"]
    assert should_start(999.0, None, 10.0)  # the first seed, whatever the clock says
    assert should_start(100.0, 50.0, 160.0) and should_start(100.0, 50.0, 400.0)  # 100 + 60 <= 160
    assert not should_start(100.0, 50.0, 159.9)
    assert not should_start(0.5, 1.0, 1.0)  # 0.5 + 1.2 > 1


def test_bad_flags_exit_2(repo_root, tmp_path):
    p = _run(repo_root, ["--data-dir", str(tmp_path), "--seeds", "0"], timeout=300)
    assert p.returncode == 2 and "--seeds must be an integer in [1, inf), got 0" in p.stderr
