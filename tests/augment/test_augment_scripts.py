"""scripts/bench_augment.py and scripts/augment_cifar10.py end to end on a tiny CIFAR-like folder
(the real numbers come from running them on $RECIPES_DATA; see README)."""
import csv
import importlib.util

import pytest

from tests.helpers import write_image_folder


def _load(repo_root, name):
    spec = importlib.util.spec_from_file_location(name, repo_root / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tiny_root(tmp_path):
    write_image_folder(tmp_path / "data" / "cifar10", n_train=24, n_test=4)
    return tmp_path


def test_bench_augment_image_section(repo_root, tiny_root, capsys):
    bench = _load(repo_root, "bench_augment")
    out = tiny_root / "bench"
    rows = bench.main(["--sections", "image", "--data-dir", str(tiny_root / "data"), "--cache-dir", str(tiny_root / "cache"),
                       "--num-images", "64", "--batch-size", "16", "--repeats", "1", "--output-dir", str(out)])
    assert [r["route"].split(" (")[0] for r in rows] == [
        "albumentations per image", "albumentations per batch", "vectorized image_ops in tf.data"]
    assert all(r["items"] == 64 and r["items_per_s"] > 0 for r in rows)
    assert rows[1]["ratio"] == pytest.approx(1.0)
    with open(out / "bench_augment.csv") as f:
        assert len(list(csv.DictReader(f))) == 3
    assert "| image | vectorized image_ops in tf.data |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench.parse_args(["--sections", "video"])


def test_augment_cifar10_table_and_resume(repo_root, tiny_root, capsys, monkeypatch):
    """Orchestration only: run_training (the foundation's recipe, tested with it) is replaced by a stub
    that records its configs and writes what the real one writes; a real run is the README's command."""
    import dataclasses
    import json
    import pathlib

    script = _load(repo_root, "augment_cifar10")
    seen = []

    def fake_run_training(cfg):
        seen.append(cfg)
        out = pathlib.Path(cfg.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
        metrics = {"test_accuracy": 0.25 + 0.5 * (cfg.augment == "cutout"), "test_loss": 1.0,
                   "train_examples": cfg.train_limit, "train_seconds_this_run": 1.0}
        (out / "metrics.json").write_text(json.dumps(metrics))
        return metrics

    monkeypatch.setattr(script, "run_training", fake_run_training)
    out = tiny_root / "runs"
    argv = ["--data-dir", str(tiny_root / "data" / "cifar10"), "--cache-dir", str(tiny_root / "cache"),
            "--presets", "none,cutout", "--train-limit", "48", "--epochs", "3", "--batch-size", "16",
            "--output-dir", str(out)]
    assert script.main(argv) == 0
    assert [(c.augment, c.epochs, c.train_limit, c.val_size, c.seed) for c in seen] == [
        ("none", 3, 48, 0, 0), ("cutout", 3, 48, 0, 0)]
    assert len({(c.model, c.lr, c.weight_decay, c.batch_size) for c in seen}) == 1  # only the preset differs
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["preset"], float(r["test_accuracy"])) for r in rows] == [("none", 0.25), ("cutout", 0.75)]
    assert "| cutout | 0.7500 |" in (out / "results.md").read_text()
    assert (out / "accuracy.png").stat().st_size > 0 and (out / "examples.png").stat().st_size > 0
    capsys.readouterr()
    assert script.main(argv) == 0 and len(seen) == 2  # second run: nothing retrained
    assert capsys.readouterr().out.count("already done") == 2
    assert script.main(argv + ["--epochs", "4"]) == 0  # changed settings: both retrained
    assert len(seen) == 4 and seen[-1].epochs == 4
    with pytest.raises(SystemExit):
        script.parse_args(["--presets", "none,sepia"])
