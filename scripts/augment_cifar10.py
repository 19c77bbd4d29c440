#!/usr/bin/env python
"""CIFAR-10 on a small training subset with different augmentation presets, side by side.

    python scripts/augment_cifar10.py --data-dir $RECIPES_DATA/cifar10 \
        --presets none,standard,cutout,mixup --train-limit 5000 --epochs 10 --output-dir out/augment_cifar10

For every preset of ``augment.image_pipeline`` named in ``--presets`` it trains the same ResNet
(``recipes.training.engine.run_training``: SGD + Nesterov 0.9, lr linearly decayed to 1 %, L2 1e-4, batch 128,
same seed, same first ``--train-limit`` images of the shuffled training set) and evaluates it on the full
10,000-image test set. Each preset runs in ``OUTPUT_DIR/<preset>`` and is resumable; a preset whose
``metrics.json`` already exists for the same settings is not retrained (so the presets can be run one
command at a time). Writes ``results.csv``, ``results.md``, ``accuracy.png`` (test accuracy per preset)
and ``examples.png`` (the same training images under each preset), and prints the table.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import pathlib
import sys

import numpy as np

from recipes import cli


def parse_args(argv=None):
    p = cli.make_parser(__doc__, datasets=("cifar10",), output_dir="out/augment_cifar10")
    p.add_argument("--cache-dir", default=None, help="decoded-data cache (default ~/.cache/keras_recipes)")
    p.add_argument("--presets", default="none,standard,cutout,mixup",
                   help="comma-separated presets of augment.image_pipeline.AUGMENTATIONS")
    p.add_argument("--model", default="resnet20", help="a CIFAR ResNet of the model registry (recipes.models)")
    p.add_argument("--train-limit", type=int, default=5000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    args = cli.parse_args(p, argv)
    from augment.image_pipeline import AUGMENTATIONS  # after cli.parse_args: it imports TensorFlow

    with cli.flag_errors(p):
        args.presets = cli.split_list("--presets", args.presets, choices=sorted(AUGMENTATIONS))
    folder = cli.data_folder(p, args, "cifar10")
    args.data_dir = None if folder is None else str(folder)  # TrainConfig is saved as JSON
    return args, p


def run_training(cfg):
    """``recipes.training.run_training(cfg)``: one preset's run (a function of this module, so that a test can
    replace it)."""
    from recipes.training import run_training as run

    return run(cfg)


def _config(args, preset):
    from recipes.training import TrainConfig

    return TrainConfig(
        data_dir=args.data_dir, cache_dir=args.cache_dir, model=args.model, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, augment=preset, seed=args.seed,
        train_limit=args.train_limit, val_size=0, output_dir=str(pathlib.Path(args.output_dir) / preset),
        tensorboard=False, verbose=2,
    )


def _done(cfg):
    from recipes.training import TrainConfig

    out = pathlib.Path(cfg.output_dir)
    if not (out / "metrics.json").exists() or not (out / "config.json").exists():
        return None
    saved = json.loads((out / "config.json").read_text())
    wanted = json.loads(json.dumps(dataclasses.asdict(cfg)))
    defaults = json.loads(json.dumps(dataclasses.asdict(TrainConfig())))
    # same settings; a field the saved run predates counts as equal if it is at its default
    if any(saved.get(k, defaults[k]) != v for k, v in wanted.items()):
        return None
    return json.loads((out / "metrics.json").read_text())


def save_examples(args, path, n=8):
    """One row per preset: the same first n training images after one draw of that preset."""
    import matplotlib.pyplot as plt

    from augment.image_pipeline import make_train_dataset
    from recipes.data.cifar10 import prepare_cifar10

    x, y = prepare_cifar10(args.data_dir, cache_dir=args.cache_dir, train_limit=n).train
    presets = args.presets
    fig, axes = plt.subplots(len(presets), n, figsize=(1.2 * n, 1.3 * len(presets)), squeeze=False)
    for r, preset in enumerate(presets):
        ds, _ = make_train_dataset(x, y, n, augment=preset, seed=args.seed)
        images, labels = next(iter(ds))
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(np.clip(images.numpy()[c], 0, 255).astype("uint8"))
            ax.set_xticks([])
            ax.set_yticks([])
            top = labels.numpy()[c]
            if top.max() < 0.999:
                ax.set_title(f"{top.max():.2f}/{np.sort(top)[-2]:.2f}", fontsize=6)
        axes[r, 0].set_ylabel(preset, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_bar(rows, path, title):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(rows), 3))
    ax.bar([r["preset"] for r in rows], [r["test_accuracy"] for r in rows], color="tab:blue")
    for i, r in enumerate(rows):
        ax.text(i, r["test_accuracy"], f"{r['test_accuracy']:.3f}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("test accuracy (10,000 images)")
    ax.set_title(title, fontsize=9)
    ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args, parser = parse_args(argv)
    from recipes.training import validate_config

    configs = [_config(args, preset) for preset in args.presets]
    with cli.flag_errors(parser):
        for cfg in configs:
            validate_config(cfg)
    out = pathlib.Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_examples(args, out / "examples.png")
    rows = []
    for preset, cfg in zip(args.presets, configs):
        metrics = _done(cfg)
        if metrics is None:
            print(f"[{preset}] training {cfg.model}, {cli.quantity(cfg.train_limit, 'image')}, "
                  f"{cli.quantity(cfg.epochs, 'epoch')}", flush=True)
            metrics = run_training(cfg)
        else:
            print(f"[{preset}] already done in {cfg.output_dir}", flush=True)
        rows.append({
            "preset": preset,
            "test_accuracy": metrics["test_accuracy"],
            "test_loss": metrics["test_loss"],
            "train_examples": metrics["train_examples"],
            "epochs": cfg.epochs,
            "train_seconds": metrics["train_seconds_this_run"],
        })
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"{args.model}, {cli.quantity(rows[0]['train_examples'], 'training image')}, {cli.quantity(args.epochs, 'epoch')}, seed {args.seed}; "
        "test set: 10,000 images",
        "",
        "| augmentation | test accuracy | test loss | train s |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {r['preset']} | {r['test_accuracy']:.4f} | {r['test_loss']:.3f} | {r['train_seconds']:.0f} |" for r in rows]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    save_bar(rows, out / "accuracy.png", lines[0])
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
