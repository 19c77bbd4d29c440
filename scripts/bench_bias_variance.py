#!/usr/bin/env python
"""Vectorized replicas vs a loop of separate Keras models: the time to train K models.

The installed command ``keras-recipes-bench-bias-variance``; its code is ``recipes/commands/bench_bias_variance.py``
(``--help`` shows the flags).
"""
import sys

from recipes.commands.bench_bias_variance import main

if __name__ == "__main__":
    sys.exit(main())
