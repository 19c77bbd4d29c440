"""The run folder: what a training run writes to ``--output-dir``, and what a rerun reads back.

One seed's folder holds ``config.json`` (every choice of the run), ``history.csv`` (one row per epoch, written as
the epoch ends) and ``history.json``, ``metrics.json`` (test accuracy and loss, timing), ``model.keras`` (the
trained network), TensorBoard ``logs/`` and, while training, ``backup/`` (the last committed epoch:
``callbacks.backup_and_restore.AtomicBackupAndRestore``). With ``--seeds N > 1`` each seed has a subfolder
``seed<k>/``. The top of ``--output-dir`` holds ``results.csv`` (a row per seed) and ``summary.json`` (mean and
standard deviation over seeds, the configuration).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import pathlib

import numpy as np

import recipes

RESULT_KEYS = ("seed", "test_accuracy", "train_s", "compile_s", "eval_s", "images_per_s", "time_to_target_s",
               "first_loss", "last_loss", "steps")


def _config_dict(cfg):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()}


def write_config(out: pathlib.Path, cfg, seed):
    """``config.json``: every field of the configuration, the seed of this folder and the toolkit's version."""
    (out / "config.json").write_text(json.dumps({**_config_dict(cfg), "run_seed": seed,
                                                 "version": recipes.__version__}, indent=2))


def completed_epochs(backup_dir) -> int:
    """The number of epochs the backup in ``backup_dir`` has committed (0 when there is none)."""
    meta = pathlib.Path(backup_dir) / "training_metadata.json"
    if not meta.exists():
        return 0
    try:
        return int(json.loads(meta.read_text())["epoch"])
    except (ValueError, KeyError, OSError):
        return 0


def trim_history(csv_path: pathlib.Path, keep_epochs: int):
    """Keep the rows of epochs < keep_epochs, so a resumed run appends without duplicates."""
    if not csv_path.exists():
        return
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], [r for r in rows[1:] if r and int(r[0]) < keep_epochs]
    with open(csv_path, "w", newline="") as f:
        csv.writer(f).writerows([header] + body)


def read_history(csv_path: pathlib.Path):
    """``{column: [value per epoch]}`` from ``history.csv``; columns that are empty in every row are dropped."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    history = {}
    for key in rows[0].keys() if rows else []:
        values = [float("nan") if r[key] in ("", "NA") else float(r[key]) for r in rows]
        if not all(math.isnan(v) for v in values):  # CSVLogger writes NA for absent metrics
            history[key] = [int(v) if key == "epoch" else v for v in values]
    return history


def write_results(out: pathlib.Path, network, history, metrics, es=None):
    """``model.keras``, ``history.json``, ``metrics.json`` (and ``early_stopping.json``) of one seed."""
    if network is not None:
        network.save(out / "model.keras")
    (out / "history.json").write_text(json.dumps(history, indent=1))
    (out / "metrics.json").write_text(json.dumps({k: v for k, v in metrics.items() if k != "model"}, indent=2))
    if es is not None:
        (out / "early_stopping.json").write_text(json.dumps(
            {**es.summary(), "curve_steps": es.curve_steps, "curve_values": es.curve_values,
             "continue_steps": es.continue_steps, "continue_values": es.continue_values}, indent=1))


def summarize(cfg, runs, precision):
    """Mean and standard deviation over seeds of the test accuracy, training time and throughput."""
    import keras

    acc = np.array([r["test_accuracy"] for r in runs])
    train = np.array([r["train_s"] for r in runs])
    hits = [r["time_to_target_s"] for r in runs if r["time_to_target_s"] is not None]
    return {
        "seeds": len(runs),
        "test_accuracy": float(acc.mean()),
        "test_accuracy_mean": float(acc.mean()), "test_accuracy_std": float(acc.std()),
        "train_s_mean": float(train.mean()), "train_s_std": float(train.std()),
        "images_per_s_mean": float(np.mean([r["images_per_s"] for r in runs])),
        "compile_s_mean": float(np.mean([r["compile_s"] for r in runs])),
        "reached_target": f"{len(hits)}/{len(runs)}", "target": cfg.target,
        "time_to_target_s_mean": float(np.mean(hits)) if hits else None,
        "time_to_target_s_std": float(np.std(hits)) if hits else None,
        "backend": keras.backend.backend(), "precision": precision,
        "config": _config_dict(cfg),
        "runs": runs,
    }


def write_summary(out: pathlib.Path, cfg, runs, summary):
    """``results.csv`` (a row per seed) and ``summary.json`` at the top of ``--output-dir``."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(RESULT_KEYS)
        w.writerows([[r.get(k) for k in RESULT_KEYS] for r in runs])
    clean = {k: v for k, v in summary.items() if k != "runs"}
    clean["runs"] = [{k: v for k, v in r.items() if k != "model"} for r in runs]
    (out / "summary.json").write_text(json.dumps(clean, indent=2))
