"""``keras-recipes-bench-train-step``: cost of a CIFAR ResNet train step (SGD + Nesterov, cross-entropy) per
variant, plain Keras as the baseline.

    keras-recipes-bench-train-step                           # ResNet-20, batch 128, plain Keras
    keras-recipes-bench-train-step --variants plain,weight_norm,weight_norm_bn,group_norm,ws_gn \
        --steps 3 --repeats 12 --output-dir out/bench_train_step

Every variant is built from the model registry (``recipes.models.build_model``), compiled and warmed up (the
first steps trace and compile); then the variants are measured in turn, ``--repeats`` rounds of ``--steps``
steps each, on one fixed random batch held in memory (so the input pipeline is not measured). Round-robin
measurement spreads the load of a shared machine over every variant alike. Reported per variant: the best
(min) and median wall-clock time per step, images/s at the best time, the median process CPU time per step
(``time.process_time``, all threads: waiting for a busy core does not inflate it), and the ratios of the three
to ``plain`` (step-time ratio: > 1 is slower). With ``--output-dir``, writes ``bench_train_step.csv`` there.
Variants register in ``VARIANTS``: a name → function(model_name, width) returning an uncompiled Keras model.
"""
from __future__ import annotations

import csv
import os
import statistics
import sys
import time

import numpy as np

from augment.checks import check_positive_int
from recipes import cli


def _conv_factory(kind):
    if kind == "weight_norm":
        from recipes.normalization.weight_norm import weight_norm_conv_factory

        return weight_norm_conv_factory()
    from recipes.normalization.weight_standardization import ws_conv_factory

    return ws_conv_factory()


def _resnet(conv=None, norm="batch"):
    """A variant: ``(model_name, width)`` → the registry's ResNet with this convolution and normalization."""
    def build(model_name, width):
        from recipes.models import build_model

        return build_model(model_name, width=width, conv=_conv_factory(conv) if conv else None, norm=norm)

    return build


VARIANTS = {
    "plain": _resnet(),
    # Normalization: weight norm instead of BN (Salimans & Kingma), weight norm + BN (the
    # reparameterization's own cost), GN alone (its cost vs BN), weight standardization + GN (Qiao et al.).
    "weight_norm": _resnet("weight_norm", norm="none"),
    "weight_norm_bn": _resnet("weight_norm"),
    "group_norm": _resnet(norm="group"),
    "ws_gn": _resnet("ws", norm="group"),
}


def measure(models, x, y, steps, repeats):
    """``{name: (wall seconds per step, CPU seconds per step)}``, one pair per round, the models in turn."""
    times = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(steps):
                loss = model.train_on_batch(x, y)
            float(np.asarray(loss).ravel()[0])  # wait for the last step
            times[name].append(((time.perf_counter() - w0) / steps, (time.process_time() - c0) / steps))
    return times


def main(argv=None):
    p = cli.make_parser(__doc__)
    p.add_argument("--model", default="resnet20", help="a CIFAR ResNet of the model registry")
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=20, help="steps per measurement")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per variant first")
    p.add_argument("--repeats", type=int, default=3, help="rounds over the variants")
    p.add_argument("--jit", action="store_true")
    p.add_argument("--variants", default="plain", help=f"comma-separated, from {', '.join(VARIANTS)}")
    args = cli.parse_args(p, argv)
    with cli.flag_errors(p):
        names = cli.split_list("--variants", args.variants, choices=list(VARIANTS))
        for flag, value in (("--batch-size", args.batch_size), ("--steps", args.steps),
                            ("--warmup", args.warmup), ("--repeats", args.repeats)):
            check_positive_int(flag, value)
        if args.width is not None:
            check_positive_int("--width", args.width)
    if "plain" not in names:
        names.insert(0, "plain")
    import keras

    rng = np.random.default_rng(args.seed)
    x = rng.uniform(0, 255, (args.batch_size, 32, 32, 3)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, args.batch_size)]
    models = {}
    for name in names:
        with cli.flag_errors(p):  # an unknown --model or a --width the model does not take
            model = VARIANTS[name](args.model, args.width)
        model.compile(keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                      keras.losses.CategoricalCrossentropy(from_logits=True), jit_compile=args.jit)
        for _ in range(args.warmup):
            model.train_on_batch(x, y)
        models[name] = model
    times = measure(models, x, y, args.steps, args.repeats)
    wall = {n: [t[0] for t in times[n]] for n in names}
    cpu = {n: [t[1] for t in times[n]] for n in names}
    print(f"backend={keras.backend.backend()} model={args.model} width={args.width} batch={args.batch_size} "
          f"jit={args.jit} steps={args.steps}x{args.repeats} (round-robin)")
    print(f"{'variant':<16}{'ms/step':>9}{'img/s':>9}{'median ms':>11}{'cpu ms':>9}{'ratio':>8}"
          f"{'ratio median':>14}{'ratio cpu':>11}")
    rows = []
    for name in names:
        row = {
            "variant": name,
            "wall_min_ms": round(1e3 * min(wall[name]), 1),
            "images_per_s": round(args.batch_size / min(wall[name]), 1),
            "wall_median_ms": round(1e3 * statistics.median(wall[name]), 1),
            "cpu_median_ms": round(1e3 * statistics.median(cpu[name]), 1),
            "ratio_min": round(min(wall[name]) / min(wall["plain"]), 3),
            "ratio_median": round(statistics.median(wall[name]) / statistics.median(wall["plain"]), 3),
            "ratio_cpu": round(statistics.median(cpu[name]) / statistics.median(cpu["plain"]), 3),
        }
        rows.append(row)
        print(f"{name:<16}{row['wall_min_ms']:>9}{row['images_per_s']:>9}{row['wall_median_ms']:>11}"
              f"{row['cpu_median_ms']:>9}{row['ratio_min']:>8}{row['ratio_median']:>14}{row['ratio_cpu']:>11}",
              flush=True)
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
        with open(os.path.join(args.output_dir, "bench_train_step.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
