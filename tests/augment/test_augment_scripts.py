"""keras-recipes-bench-augment (``recipes.commands.bench_augment``: image section on a tiny CIFAR-like folder, text
section on real sentences) and scripts/augment_cifar10.py end to end (the real numbers come from running them on
the shared data folder; see README)."""
import csv

import pytest

from recipes.commands import bench_augment
from tests.helpers import load_script, write_image_folder


@pytest.fixture
def tiny_root(tmp_path):
    write_image_folder(tmp_path / "data" / "cifar10", n_train=24, n_test=4)
    return tmp_path


def test_bench_augment_image_section(tiny_root, capsys):
    out = tiny_root / "bench"
    rows = bench_augment.run(["--sections", "image", "--data-dir", str(tiny_root / "data"), "--cache-dir", str(tiny_root / "cache"),
                       "--num-images", "64", "--batch-size", "16", "--repeats", "1", "--output-dir", str(out)])
    assert [r["route"].split(" (")[0] for r in rows] == [
        "albumentations per image", "albumentations per batch", "vectorized image_ops in tf.data"]
    assert all(r["items"] == 64 and r["items_per_s"] > 0 for r in rows)
    assert rows[1]["ratio"] == pytest.approx(1.0)
    with open(out / "bench_augment.csv") as f:
        assert len(list(csv.DictReader(f))) == 3
    assert "| image | vectorized image_ops in tf.data |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench_augment.parse_args(["--sections", "video"])
    assert "--sections" in capsys.readouterr().err


def test_augment_cifar10_table_and_resume(tiny_root, capsys, monkeypatch):
    """Orchestration only: run_training (the foundation's recipe, tested with it) is replaced by a stub
    that records its configs and writes what the real one writes; a real run is the README's command."""
    import dataclasses
    import json
    import pathlib

    script = load_script("augment_cifar10")
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


def test_bench_augment_text_section(data_root, tmp_path, capsys):
    """The text section on a few real sentences: positive rates, its own table and CSV, rows in the summary."""
    import math

    out = tmp_path / "bench"
    rows = bench_augment.run(["--sections", "text", "--data-dir", str(data_root), "--num-sentences", "8", "--repeats", "1",
                       "--output-dir", str(out)])
    with open(out / "bench_eda.csv") as f:
        eda = list(csv.DictReader(f))
    assert len(eda) == 7 and all(float(r["ours_per_s"]) > 0 for r in eda)
    assert all(math.isnan(float(r["reference_per_s"])) or float(r["reference_per_s"]) > 0 for r in eda)
    assert {r["section"] for r in rows} == {"text"} and all(r["items"] == 8 for r in rows)
    with open(out / "bench_augment.csv") as f:
        assert len(list(csv.DictReader(f))) == len(rows)
    assert "EDA vs nlpaug, 8 SST-2 sentences" in capsys.readouterr().out


def test_load_fsdd_clips(data_root):
    # the speech section itself is not run here: audiomentations' Resample spends ~5 s on librosa's first call
    clips = bench_augment.load_fsdd_clips(data_root / "fsdd" / "recordings", 6)
    assert len(clips) == 6 and all(c.dtype.name == "float32" and c.ndim == 1 for c in clips)


def test_section_rows_match_the_summary_format():
    rows = bench_augment._as_section_rows(
        "text", [("RS", 100.0, 20.0, "x"), ("RI", 50.0, float("nan"), "none")], 10, "EDA", "nlpaug")
    assert [r["route"] for r in rows] == ["EDA: RS", "nlpaug: RS", "EDA: RI"]
    assert rows[0]["ratio"] == 5.0 and rows[0]["seconds"] == 0.1 and rows[1]["ratio"] == 1.0
    assert set(rows[0]) == {"section", "route", "items", "seconds", "items_per_s", "ratio", "reference"}


def test_bench_augment_sections_without_data_stop_with_the_flag(tmp_path, monkeypatch, capsys):
    # FSDD has no download route: with neither --data-dir nor RECIPES_DATA the speech section stops before any work
    monkeypatch.delenv("RECIPES_DATA", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        bench_augment.parse_args(["--sections", "speech", "--output-dir", str(tmp_path)])
    assert exit_info.value.code == 2 and "--data-dir" in capsys.readouterr().err
