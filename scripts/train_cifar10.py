#!/usr/bin/env python
"""Train a CIFAR-10 model and print ``test_accuracy=<float>`` measured on the test set (the standard recipe by
default; ``--recipe fast`` for the airbench-style one). The installed command is ``keras-recipes-train``.

    python scripts/train_cifar10.py --data-dir ../shared/data/cifar10 --model resnet20 --epochs 5 \\
        --train-limit 10000 --augment standard --output-dir /tmp/run

Writes model.keras, history.csv/history.json, metrics.json, config.json and TensorBoard logs (logs/) to
--output-dir. Interrupted and rerun with the same --output-dir, it resumes from the last completed epoch.
"""
import sys

from recipes.training.command import build_parser, main  # noqa: F401  (build_parser: the flags, for tests)

if __name__ == "__main__":
    sys.exit(main())
