#!/usr/bin/env python
"""Cost of a CIFAR ResNet train step per normalization variant, plain Keras as the baseline.

The installed command ``keras-recipes-bench-train-step``; its code is ``recipes/commands/bench_train_step.py``
(``--help`` shows the flags).
"""
import sys

from recipes.commands.bench_train_step import main

if __name__ == "__main__":
    sys.exit(main())
