#!/usr/bin/env python
"""Fast CIFAR-10 training (airbench-style) in Keras 3; every trick behind a flag: the training command with
``--recipe fast`` (installed as ``keras-recipes-train-fast``). Prints a per-seed table, the mean ± standard
deviation over seeds, and finally ``test_accuracy=<mean>``.

    KERAS_BACKEND=jax python scripts/train_cifar10_fast.py --data-dir ../shared/data/cifar10 --seeds 5

Timing: ``train_s`` is wall-clock from the first training step to the end of the last one (device synced),
excluding one-time compilation (``compile_s``, measured on a throwaway warm-up step) and evaluation.
"""
import sys

from recipes.training.command import main_fast

if __name__ == "__main__":
    sys.exit(main_fast())
