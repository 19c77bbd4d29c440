"""Step time of ResNet-20 with weight normalization and with weight standardization + group norm, relative to
the plain Keras ResNet-20 (batch norm), measured in the same process.

    PYTHONPATH=. python scripts/bench_normalization.py --batch-size 128 --steps 3 --repeats 10

Variants (all ``recipes.resnet.build_resnet("resnet20", ...)``):

  plain      Conv2D + BatchNormalization (the baseline)
  wn         WeightNormalization(Conv2D) and no BN (Salimans & Kingma; convs get a bias), data-dependent init
  wn_bn      WeightNormalization(Conv2D) + BatchNormalization (the reparameterization's cost alone)
  gn         Conv2D + GroupNormalization (GN's own cost, to separate it from WS's)
  ws_gn      WSConv2D + GroupNormalization (Qiao et al.)

Each variant is compiled with SGD (Nesterov momentum 0.9) and cross-entropy and warmed up; then, ``repeats``
times, each variant in turn runs ``steps`` calls of ``model.train_on_batch`` on a batch of random 32×32×3 images
(round-robin, so that load from other processes hits all variants alike). Reported: the median and the minimum
time per step over the repeats and their ratios to ``plain`` (on a shared, loaded machine the minimum is the
more stable estimate of a model's own cost). Prints a table and writes ``bench_normalization.csv`` to
``--output-dir``.
"""
import argparse
import csv
import os
import statistics
import sys
import time

import numpy as np

VARIANTS = ("plain", "wn", "wn_bn", "gn", "ws_gn")


def build(variant, seed=0):
    import keras
    from recipes.resnet import build_resnet
    from recipes.weight_norm import weight_norm_conv_factory
    from recipes.weight_standardization import ws_conv_factory

    keras.utils.set_random_seed(seed)
    if variant == "plain":
        return build_resnet("resnet20", norm="batch")
    if variant == "wn":
        return build_resnet("resnet20", conv=weight_norm_conv_factory(), norm="none")
    if variant == "wn_bn":
        return build_resnet("resnet20", conv=weight_norm_conv_factory(), norm="batch")
    if variant == "gn":
        return build_resnet("resnet20", norm="group")
    if variant == "ws_gn":
        return build_resnet("resnet20", conv=ws_conv_factory(), norm="group")
    raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=3, help="timed train steps per measurement")
    p.add_argument("--warmup-steps", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {VARIANTS}")
    p.add_argument("--jit", action="store_true", help="compile with jit_compile=True (XLA)")
    p.add_argument("--output-dir", default=None)
    args = p.parse_args(argv)
    if args.batch_size < 2:
        p.error(f"--batch-size must be >= 2, got {args.batch_size}")
    if args.steps < 1 or args.repeats < 1 or args.warmup_steps < 1:
        p.error("--steps, --repeats and --warmup-steps must be >= 1")
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        p.error(f"--variants must be a subset of {VARIANTS}, got {bad}")
    if "plain" not in variants:
        variants.insert(0, "plain")
    args.variants = variants
    return args


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from recipes.weight_norm import weight_norm_data_init, weight_norm_layers

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch_size, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, args.batch_size)
    models = {}
    for v in args.variants:
        model = build(v)
        if weight_norm_layers(model):
            weight_norm_data_init(model, x[: args.batch_size])
        model.compile(keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=args.jit)
        for _ in range(args.warmup_steps):
            model.train_on_batch(x, y)
        models[v] = model
    times = {v: [] for v in args.variants}
    for _ in range(args.repeats):
        for v in args.variants:
            t0 = time.perf_counter()
            for _ in range(args.steps):
                models[v].train_on_batch(x, y)
            times[v].append((time.perf_counter() - t0) / args.steps)
    base = statistics.median(times["plain"])
    rows = []
    for v in args.variants:
        step = statistics.median(times[v])
        rows.append({
            "variant": v, "params": models[v].count_params(), "ms_per_step": round(1000 * step, 1),
            "images_per_s": round(args.batch_size / step, 1), "ratio_vs_plain": round(step / base, 3),
            "min_ratio": round(min(times[v]) / min(times["plain"]), 3),
        })
    print(f"backend={keras.backend.backend()} batch_size={args.batch_size} steps={args.steps} "
          f"repeats={args.repeats} jit={args.jit}")
    header = f"{'variant':<8} {'params':>8} {'ms/step':>9} {'img/s':>8} {'ratio':>7} {'min-ratio':>9}"
    print(header)
    for r in rows:
        print(f"{r['variant']:<8} {r['params']:>8} {r['ms_per_step']:>9} {r['images_per_s']:>8} "
              f"{r['ratio_vs_plain']:>7} {r['min_ratio']:>9}")
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
        with open(os.path.join(args.output_dir, "bench_normalization.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
