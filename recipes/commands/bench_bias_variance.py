"""``keras-recipes-bench-bias-variance``: vectorized replicas vs a Python loop of separate Keras models, the time
to train K models.

Both paths train the same K one-hidden-layer MLPs (same seeds, same data, plain SGD, full batch)
for the same number of steps, including building and compiling; the vectorized path is one
``recipes.analysis.replicas`` model holding K replicas, the loop builds and fits K ``keras.Model``s.
Prints the times and the speed-up; with ``--output-dir``, also writes ``bench_bias_variance.csv`` there.

    keras-recipes-bench-bias-variance --replicas 100
"""
import os
import sys
import time

import numpy as np

from augment.checks import check_int, check_number, check_positive_int
from recipes import cli


def run(argv=None):
    """Run the benchmark; returns the speed-up (loop seconds / vectorized seconds)."""
    ap = cli.make_parser(__doc__)
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--width", type=int, default=15)
    ap.add_argument("--points", type=int, default=20, help="training points per replica")
    ap.add_argument("--steps", type=int, default=200, help="full-batch SGD steps")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--loop-sample", type=int, default=0,
                    help="time only this many loop models and extrapolate to --replicas (0: all)")
    args = cli.parse_args(ap, argv)
    with cli.flag_errors(ap):
        for flag in ("--replicas", "--width", "--points", "--steps"):
            check_positive_int(flag, getattr(args, flag[2:]))
        check_number("--lr", args.lr, 0, low_open=True)
        check_int("--loop-sample", args.loop_sample, 0)
    import keras

    from recipes.analysis.replicas import (ReplicaLoss, build_replica_mlp, build_single_mlp, stack_replicas,
                                           unstack_replicas)

    k, n = args.replicas, args.points
    rng = np.random.default_rng(args.seed)
    xs = [rng.uniform(-1, 1, size=(n, 1)).astype("float32") for _ in range(k)]
    ys = [(np.sin(np.pi * x) + 0.1 * rng.normal(size=x.shape)).astype("float32") for x in xs]
    seeds = [args.seed * k + r for r in range(k)]  # replica r's initialization (seed 0: 0, 1, …, K − 1)
    kw = dict(bias_initializer="random_uniform")

    t0 = time.perf_counter()
    model = build_replica_mlp(1, (args.width,), 1, seeds, **kw)
    model.compile(optimizer=keras.optimizers.SGD(args.lr), loss=ReplicaLoss())
    x_rep, y_rep = stack_replicas(xs), stack_replicas(ys)
    model.fit(np.tile(x_rep, (args.steps, 1, 1)), np.tile(y_rep, (args.steps, 1, 1)),
              batch_size=n, epochs=1, shuffle=False, verbose=0)
    vec_pred = unstack_replicas(model.predict(x_rep, verbose=0))
    t_vec = time.perf_counter() - t0

    m = k if args.loop_sample <= 0 else min(args.loop_sample, k)
    t0 = time.perf_counter()
    max_diff = 0.0
    for r in range(m):
        single = build_single_mlp(1, (args.width,), 1, seeds[r], **kw)
        single.compile(optimizer=keras.optimizers.SGD(args.lr), loss="mean_squared_error")
        single.fit(np.tile(xs[r], (args.steps, 1)), np.tile(ys[r], (args.steps, 1)),
                   batch_size=n, epochs=1, shuffle=False, verbose=0)
        pred = single.predict(xs[r], verbose=0)
        max_diff = max(max_diff, float(np.abs(pred - vec_pred[r]).max()))
    t_loop = (time.perf_counter() - t0) * k / m

    ratio = t_loop / t_vec
    print(f"{'path':<12}{'models':>8}{'steps':>8}{'seconds':>10}")
    print(f"{'vectorized':<12}{k:>8}{args.steps:>8}{t_vec:>10.2f}")
    note = "" if m == k else f"  (extrapolated from {m} models)"
    print(f"{'loop':<12}{k:>8}{args.steps:>8}{t_loop:>10.2f}{note}")
    print(f"max |replica - separate model| over {m} models: {max_diff:.2e}")
    print(f"speedup={ratio:.1f}x")
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
        with open(os.path.join(args.output_dir, "bench_bias_variance.csv"), "w") as f:
            f.write("replicas,steps,vectorized_s,loop_s,loop_models_timed,speedup,max_diff\n")
            f.write(f"{k},{args.steps},{t_vec:.3f},{t_loop:.3f},{m},{ratio:.2f},{max_diff:.3e}\n")
    return ratio


def main(argv=None):
    """The command: :func:`run`; exit status 0 (bad flags exit 2)."""
    run(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
