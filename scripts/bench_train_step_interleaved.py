#!/usr/bin/env python
"""Train-step cost ratios of ``scripts/bench_train_step.py``'s variants, measured round-robin and in CPU time.

    PYTHONPATH=. python scripts/bench_train_step_interleaved.py \
        --variants plain,weight_norm,weight_norm_bn,group_norm,ws_gn --steps 3 --repeats 10

Same models, optimizer, loss and fixed random batch as ``bench_train_step.py`` (its ``VARIANTS``), but meant for
a shared, loaded machine: all variants are built and warmed up first, then measured in turn, ``--repeats``
times (so load from other processes hits every variant alike), and besides wall-clock time per step it records
the process's CPU time per step (``time.process_time``, all threads), which waiting for a busy core does not
inflate. Reports min and median wall time, median CPU time, and their ratios to ``plain``; writes
``bench_train_step_interleaved.csv`` to ``--output-dir``.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import pathlib
import statistics
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_train_step", HERE / "bench_train_step.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    bench = _bench_module()
    import keras

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="resnet20")
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--jit", action="store_true")
    p.add_argument("--variants", default="plain", help=f"comma-separated, from {', '.join(bench.VARIANTS)}")
    p.add_argument("--output-dir", default=None)
    args = p.parse_args(argv)
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in bench.VARIANTS]
    if unknown:
        p.error(f"--variants: unknown {unknown}; choose from {', '.join(bench.VARIANTS)}")
    for flag in ("batch_size", "steps", "repeats", "warmup"):
        if getattr(args, flag) < 1:
            p.error(f"--{flag.replace('_', '-')} must be >= 1")
    if "plain" not in names:
        names.insert(0, "plain")

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (args.batch_size, 32, 32, 3)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, args.batch_size)]
    models = {}
    for name in names:
        model = bench.VARIANTS[name](args.model, args.width)
        model.compile(keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                      keras.losses.CategoricalCrossentropy(from_logits=True), jit_compile=args.jit)
        for _ in range(args.warmup):
            model.train_on_batch(x, y)
        models[name] = model
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for _ in range(args.repeats):
        for name in names:
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(args.steps):
                loss = models[name].train_on_batch(x, y)
            float(np.asarray(loss).ravel()[0])  # wait for the last step
            wall[name].append((time.perf_counter() - w0) / args.steps)
            cpu[name].append((time.process_time() - c0) / args.steps)
    print(f"backend={keras.backend.backend()} model={args.model} width={args.width} batch={args.batch_size} "
          f"jit={args.jit} steps={args.steps}x{args.repeats} (round-robin)")
    print(f"{'variant':<16}{'min ms':>9}{'median ms':>11}{'cpu ms':>9}{'ratio min':>11}{'ratio median':>14}"
          f"{'ratio cpu':>11}")
    rows = []
    for name in names:
        row = {
            "variant": name,
            "wall_min_ms": round(1e3 * min(wall[name]), 1),
            "wall_median_ms": round(1e3 * statistics.median(wall[name]), 1),
            "cpu_median_ms": round(1e3 * statistics.median(cpu[name]), 1),
            "ratio_min": round(min(wall[name]) / min(wall["plain"]), 3),
            "ratio_median": round(statistics.median(wall[name]) / statistics.median(wall["plain"]), 3),
            "ratio_cpu": round(statistics.median(cpu[name]) / statistics.median(cpu["plain"]), 3),
        }
        rows.append(row)
        print(f"{name:<16}{row['wall_min_ms']:>9}{row['wall_median_ms']:>11}{row['cpu_median_ms']:>9}"
              f"{row['ratio_min']:>11}{row['ratio_median']:>14}{row['ratio_cpu']:>11}")
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
        with open(os.path.join(args.output_dir, "bench_train_step_interleaved.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
