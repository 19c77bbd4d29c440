#!/usr/bin/env python
"""Fast CIFAR-10 training (airbench-style) in Keras 3; every trick behind a flag. Prints a per-seed table,
the mean ± standard deviation over seeds, and finally ``test_accuracy=<mean>``.

    KERAS_BACKEND=jax PYTHONPATH=. python scripts/train_cifar10_fast.py --data-dir DIR/cifar10 --seeds 5

Timing: ``train_s`` is wall-clock from the first training step to the end of the last one (device synced),
excluding one-time compilation (``compile_s``, measured on a throwaway warm-up step) and evaluation.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from recipes.training.fast_training import (  # noqa: E402
    AVERAGING, FLIPS, MODELS, PRECISIONS, FastConfig, load_data, resolve_precision, run_seed, validate_config,
)


def _widths(text):
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--widths must be three comma-separated integers, got {text!r}")


def build_parser():
    d = FastConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--data-dir", default=None, help="CIFAR-10 PNG folder; default $RECIPES_DATA/cifar10, else tensorflow-datasets")
    a("--cache-dir", default=None)
    a("--model", default=d.model, help=f"one of {', '.join(MODELS)} (resnet18/20: comparison baselines)")
    a("--widths", type=_widths, default=d.widths, help="airbench conv-group widths (default 64,256,256)")
    a("--no-whiten", dest="whiten", action="store_false", help="trainable first conv instead of frozen patch whitening")
    a("--whiten-images", type=int, default=d.whiten_images)
    a("--whiten-eps", type=float, default=d.whiten_eps)
    a("--epochs", type=float, default=d.epochs)
    a("--batch-size", type=int, default=d.batch_size)
    a("--lr", type=float, default=d.lr, help="peak learning rate ε₀ (mean loss)")
    a("--momentum", type=float, default=d.momentum)
    a("--no-nesterov", dest="nesterov", action="store_false")
    a("--warmup-epochs", type=float, default=d.warmup_epochs)
    a("--final-lr-fraction", type=float, default=d.final_lr_fraction)
    a("--weight-decay", type=float, default=d.weight_decay, help="decoupled decay λ: θ ← θ − ε_k λ θ (0 = off)")
    a("--label-smoothing", type=float, default=d.label_smoothing)
    a("--flip", default=d.flip, help=f"one of {', '.join(FLIPS)}")
    a("--translate", type=int, default=d.translate, help="max shift in pixels, reflect padding (0 = off)")
    a("--cutout", type=int, default=d.cutout, help="cutout square side (0 = off)")
    a("--averaging", default=d.averaging, help=f"one of {', '.join(AVERAGING)}")
    a("--averaging-decay", type=float, default=d.averaging_decay)
    a("--averaging-every", type=int, default=d.averaging_every)
    a("--tta", type=int, default=d.tta, help="0 none, 1 flip, 2 flip + 1-px translate")
    a("--mixed-precision", default=d.mixed_precision, help=f"one of {', '.join(PRECISIONS)} (auto: bf16 on GPU)")
    a("--loss-scale", type=float, default=d.loss_scale, help="static loss scale for float16")
    a("--no-jit", dest="jit", action="store_false", help="no XLA / jax.jit compilation")
    a("--seeds", type=int, default=d.seeds, help="number of seeds (seed, seed+1, …)")
    a("--seed", type=int, default=d.seed)
    a("--train-limit", type=int, default=None)
    a("--test-limit", type=int, default=None)
    a("--eval-every-epoch", action="store_true", help="evaluate after each epoch for time-to-target (not timed)")
    a("--eval-batch-size", type=int, default=d.eval_batch_size)
    a("--target", type=float, default=d.target)
    a("--max-steps", type=int, default=None, help="stop after this many steps (smoke tests, img/s)")
    a("--output-dir", default=None, help="writes results.csv, summary.json (and model.keras with --save-model)")
    a("--save-model", action="store_true")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    cfg = FastConfig(**vars(args))
    try:
        validate_config(cfg)
        data = load_data(cfg)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    import keras

    (x_train, _), (x_test, _) = data
    print(f"backend={keras.backend.backend()} precision={resolve_precision(cfg.mixed_precision)} jit={cfg.jit} "
          f"model={cfg.model} train={len(x_train)} test={len(x_test)} batch={cfg.batch_size} epochs={cfg.epochs}")
    rows = []
    for s in range(cfg.seeds):
        seed = cfg.seed + s
        print(f"seed {seed}:")
        r = run_seed(cfg, data, seed)
        rows.append(r)
    keys = ("seed", "test_accuracy", "train_s", "compile_s", "eval_s", "images_per_s", "time_to_target_s",
            "first_loss", "last_loss", "steps")
    print("\n" + " | ".join(f"{k:>16}" for k in keys))
    for r in rows:
        print(" | ".join(f"{_fmt(r[k]):>16}" for k in keys))
    acc = np.array([r["test_accuracy"] for r in rows])
    tr = np.array([r["train_s"] for r in rows])
    ips = np.array([r["images_per_s"] for r in rows])
    hits = [r["time_to_target_s"] for r in rows if r["time_to_target_s"] is not None]
    summary = {
        "seeds": cfg.seeds, "test_accuracy_mean": float(acc.mean()), "test_accuracy_std": float(acc.std()),
        "train_s_mean": float(tr.mean()), "train_s_std": float(tr.std()), "images_per_s_mean": float(ips.mean()),
        "compile_s_mean": float(np.mean([r["compile_s"] for r in rows])),
        "reached_target": f"{len(hits)}/{len(rows)}", "target": cfg.target,
        "time_to_target_s_mean": float(np.mean(hits)) if hits else None,
        "time_to_target_s_std": float(np.std(hits)) if hits else None,
        "backend": keras.backend.backend(), "precision": resolve_precision(cfg.mixed_precision),
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items()},
    }
    print(f"\nmean over {cfg.seeds} seed(s): test accuracy {acc.mean():.4f} ± {acc.std():.4f}, "
          f"train {tr.mean():.2f} ± {tr.std():.2f} s, {ips.mean():.0f} img/s, compile {summary['compile_s_mean']:.1f} s, "
          f"reached {cfg.target:.2%}: {summary['reached_target']}")
    if cfg.output_dir:
        out = pathlib.Path(cfg.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "results.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(keys)
            w.writerows([[r[k] for k in keys] for r in rows])
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        if cfg.save_model:
            rows[-1]["model"].save(out / "model.keras")
    print(f"test_accuracy={acc.mean():.6f}")
    return 0


def _fmt(v):
    if v is None:
        return "-"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    sys.exit(main())
