#!/usr/bin/env python
"""Train a CIFAR-10 ResNet and print ``test_accuracy=<float>`` measured on the full 10,000-image test set.

    python scripts/train_cifar10.py --data-dir ../shared/data/cifar10 --model resnet20 --epochs 5 \
        --train-limit 10000 --augment standard --output-dir /tmp/run

Writes model.keras, history.csv/history.json, metrics.json, config.json and TensorBoard logs (logs/) to
--output-dir. Interrupted and rerun with the same --output-dir, it resumes from the last completed epoch.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run from a source checkout too

from recipes.training.distribute import STRATEGIES  # noqa: E402,F401
from recipes.training.engine import (  # noqa: E402
    ES_POLICIES, OPTIMIZERS, PRECISIONS, SCHEDULES, WEIGHT_DECAY_MODES, TrainConfig, UsageError, WorkerFailure,
    run_training, validate_config,
)
from recipes.models.resnet import MODEL_NAMES, NORMS  # noqa: E402


def build_parser():
    d = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=d.data_dir,
                   help="folder with train/<class>/*.png and test/<class>/*.png; default: tensorflow-datasets")
    p.add_argument("--cache-dir", default=d.cache_dir, help="decoded-data cache (default ~/.cache/keras_recipes)")
    p.add_argument("--model", default=d.model, help=f"one of {', '.join(MODEL_NAMES)}")
    p.add_argument("--width", type=int, default=d.width, help="first-stage filters (16 for resnet20…, 64 for resnet18/34)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--optimizer", default=d.optimizer, help=f"one of {', '.join(OPTIMIZERS)}")
    p.add_argument("--lr", type=float, default=d.lr, help="initial learning rate ε₀")
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--no-nesterov", dest="nesterov", action="store_false", help="plain momentum instead of Nesterov")
    p.add_argument("--schedule", default=d.schedule, help=f"one of {', '.join(SCHEDULES)}")
    p.add_argument("--final-lr-fraction", type=float, default=d.final_lr_fraction, help="ε_τ / ε₀ (default 0.01)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="λ of the kernel penalty (0 disables)")
    p.add_argument("--weight-decay-mode", default=d.weight_decay_mode,
                   help="l2: λ‖w‖² added to the loss; decoupled: w ← w − ελw in the optimizer")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--dropout", type=float, default=d.dropout, help="dropout rate before the classifier")
    p.add_argument("--norm", default=d.norm, help=f"one of {', '.join(NORMS)}")
    p.add_argument("--augment", default=d.augment, help="augmentation preset (none, standard, …)")
    p.add_argument("--clipnorm", type=float, default=d.clipnorm, help="clip the global gradient norm: g ← α·g/‖g‖ if ‖g‖ > α")
    p.add_argument("--mixed-precision", default=d.mixed_precision, help=f"one of {', '.join(PRECISIONS)}")
    p.add_argument("--jit", action="store_true", help="XLA-compile the train step")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--no-deterministic", dest="deterministic", action="store_false",
                   help="allow non-deterministic TensorFlow ops (faster on GPU)")
    p.add_argument("--train-limit", type=int, default=d.train_limit, help="use the first N training images")
    p.add_argument("--val-size", type=int, default=d.val_size, help="hold out this many training images for validation")
    p.add_argument("--early-stopping", action="store_true",
                   help="the lecture's early-stopping meta-algorithm on the --val-size split (disables resuming)")
    p.add_argument("--patience", type=int, default=d.patience, help="p: evaluations without improvement before stopping")
    p.add_argument("--eval-every", type=int, default=d.eval_every, help="n: training steps between two evaluations")
    p.add_argument("--policy", default=d.policy, choices=ES_POLICIES,
                   help="after early stopping: none (keep θ*), retrain (#1: fresh θ, all data, i* steps), "
                        "continue (#2: all data until the validation loss ≤ ε = subtrain loss)")
    p.add_argument("--retrain-length", default=d.retrain_length, choices=("steps", "epochs"),
                   help="policy retrain: i* steps or the same number of epochs")
    p.add_argument("--max-extra-steps", type=int, default=d.max_extra_steps, help="policy continue: bound on the extra steps")
    p.add_argument("--output-dir", default=d.output_dir)
    p.add_argument("--strategy", default=d.strategy,
                   help="default (one device), mirrored (all local GPUs), multiworker (TF_CONFIG); "
                        "--batch-size is the global batch in every case")
    p.add_argument("--logical-cpus", type=int, default=d.logical_cpus,
                   help="split the CPU into this many logical devices (to try --strategy mirrored without GPUs)")
    p.add_argument("--collective-timeout", type=float, default=d.collective_timeout,
                   help="seconds before a multi-worker collective gives up (a dead worker then fails the job)")
    p.add_argument("--no-tensorboard", dest="tensorboard", action="store_false")
    p.add_argument("--verbose", default=d.verbose, help="Keras verbosity: auto, 0, 1 (progress bar), 2 (a line per epoch)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.verbose != "auto":
        try:
            args.verbose = int(args.verbose)
        except ValueError:
            build_parser().error(f"--verbose must be auto, 0, 1 or 2; got {args.verbose!r}")
    cfg = TrainConfig(**vars(args))
    try:
        validate_config(cfg)
    except ValueError as err:
        build_parser().error(str(err))
    try:
        metrics = run_training(cfg)
    except UsageError as err:
        build_parser().exit(2, f"error: {err}\n")
    except WorkerFailure as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 3
    print(f"test_accuracy={metrics['test_accuracy']:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
