#!/usr/bin/env python
"""Images/s of a CIFAR ResNet train step (SGD + Nesterov, cross-entropy), plain Keras as the baseline.

    python scripts/bench_train_step.py                       # ResNet-20, batch 128, plain Keras
    python scripts/bench_train_step.py --variants plain,...  # every variant against plain, in one process

Each variant is built, compiled, warmed up (the first steps trace and compile), then timed over --steps steps
on one fixed random batch held in memory (so the input pipeline is not measured); the best of --repeats timings
is reported, with its ratio to the plain model measured in the same process (step-time ratio: > 1 is slower).
Variants register in ``VARIANTS``: a name → function(model_name, width) returning an uncompiled Keras model.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from recipes.models.resnet import build_resnet  # noqa: E402
from recipes.normalization.weight_norm import weight_norm_conv_factory  # noqa: E402
from recipes.normalization.weight_standardization import ws_conv_factory  # noqa: E402

VARIANTS = {
    "plain": lambda name, width: build_resnet(name, width=width),
    # Normalization (issue 5): weight norm instead of BN (Salimans & Kingma), weight norm + BN (the
    # reparameterization's own cost), GN alone (its cost vs BN), weight standardization + GN (Qiao et al.).
    "weight_norm": lambda name, width: build_resnet(name, width=width, conv=weight_norm_conv_factory(), norm="none"),
    "weight_norm_bn": lambda name, width: build_resnet(name, width=width, conv=weight_norm_conv_factory()),
    "group_norm": lambda name, width: build_resnet(name, width=width, norm="group"),
    "ws_gn": lambda name, width: build_resnet(name, width=width, conv=ws_conv_factory(), norm="group"),
}


def time_variant(build, model_name, width, batch_size, steps, warmup, repeats, jit):
    """Return (best seconds per step, images per second) for one variant."""
    model = build(model_name, width)
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                  keras.losses.CategoricalCrossentropy(from_logits=True), jit_compile=jit)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch_size, 32, 32, 3)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, batch_size)]
    for _ in range(warmup):
        model.train_on_batch(x, y)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch(x, y)
        float(np.asarray(loss).ravel()[0])  # wait for the last step
        best = min(best, (time.perf_counter() - start) / steps)
    return best, batch_size / best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="resnet20")
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--jit", action="store_true")
    p.add_argument("--variants", default="plain", help=f"comma-separated, from {', '.join(VARIANTS)}")
    args = p.parse_args(argv)
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        p.error(f"--variants: unknown {unknown}; choose from {', '.join(VARIANTS)}")
    for flag in ("batch_size", "steps", "repeats"):
        if getattr(args, flag) < 1:
            p.error(f"--{flag.replace('_', '-')} must be >= 1")
    if "plain" not in names:
        names.insert(0, "plain")
    print(f"backend={keras.backend.backend()} model={args.model} width={args.width} batch={args.batch_size} "
          f"jit={args.jit} steps={args.steps}x{args.repeats}")
    print(f"{'variant':<16}{'ms/step':>10}{'img/s':>10}{'ratio':>8}")
    base = None
    for name in names:
        seconds, ips = time_variant(VARIANTS[name], args.model, args.width, args.batch_size, args.steps,
                                    args.warmup, args.repeats, args.jit)
        base = base or seconds
        print(f"{name:<16}{seconds * 1e3:>10.1f}{ips:>10.1f}{seconds / base:>8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
