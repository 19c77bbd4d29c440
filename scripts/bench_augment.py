#!/usr/bin/env python
"""Throughput of the augmentation pipelines on real data (image, text, speech).

The installed command ``keras-recipes-bench-augment``; its code is ``recipes/commands/bench_augment.py``
(``--help`` shows the flags).
"""
import sys

from recipes.commands.bench_augment import main

if __name__ == "__main__":
    sys.exit(main())
