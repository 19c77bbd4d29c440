"""When do batch norm's two inference estimators differ? Running average vs population estimate.

    python scripts/bn_running_vs_population.py --data-dir ../shared/data/cifar10 \
        --batch-sizes 4,32,128 --steps 10,100,500 --output-dir runs/bn_stats

For every (batch size m, number of training steps T) a small CNN with batch norm (the registry's ``small_cnn``
with ``norm="batch"``: conv-BN-ReLU-pool ×2, global average pooling, dense-BN-ReLU and a linear classifier) is trained from the same initialization with SGD (momentum 0.9) on the
first ``--train-limit`` CIFAR-10 training images, tested on a random ``--test-limit`` test images (``--data-dir``,
else ``$RECIPES_DATA/cifar10``, else tensorflow-datasets; ``--synthetic``: a 10-class problem of Gaussian blobs
instead). Then the test set is classified twice with the same weights:

* ``running``: Keras' moving averages μ̂ ← λμ̂ + (1 − λ)μ_B, σ̂² ← λσ̂² + (1 − λ)σ²_B (λ = 0.99, from 0 and 1),
* ``population``: E[x] = E_B[μ_B], Var[x] = m/(m − 1)·E_B[σ²_B] over the training set with the final weights
  (``recipes.normalization.batch_norm_statistics.apply_population_statistics``, one pass, batch size m).

The table reports both test accuracies and how far the running statistics are from the population ones:
``mean_gap`` = max over layers of mean_c |μ̂_c − E[x_c]|/sqrt(Var[x_c]), and ``var_ratio_dense`` = mean_c of
σ̂²_c/Var[x_c] for the dense-layer BN (m values per channel, so the (m − 1)/m bias shows at small m).
Expect: few steps → the running average still remembers its initial 0/1 (weight λ^T) and accuracy collapses;
small batches → σ̂² is biased low by (m − 1)/m and noisier; many steps with large batches → both agree.
Writes ``bn_running_vs_population.csv`` to ``--output-dir``.
"""
import csv
import os
import sys
import time

import numpy as np

from augment.checks import check_int, check_number, check_positive_int
from recipes import cli


def load_data(data_dir, train_limit, test_limit, seed, synthetic=False):
    """``(x, y, x_test, y_test, source)``: the first ``train_limit`` CIFAR-10 training images and a random
    ``test_limit`` test images (``recipes.data.cifar10.prepare_cifar10``), standardized x̂ = (x − μ_c)/σ_c with
    the training images' statistics; or, ``synthetic``, Gaussian blobs around 10 random 16×16×3 centres."""
    if not synthetic:
        from recipes.data.cifar10 import prepare_cifar10

        data = prepare_cifar10(data_dir, train_limit=train_limit, test_limit=test_limit, seed=seed)
        (x, y), (xt, yt) = data.train, data.test
        prep = lambda a: ((a.astype("float32") - data.mean) / data.std).astype("float32")  # noqa: E731
        return prep(x), y.astype("int64"), prep(xt), yt.astype("int64"), "cifar10"
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(10, 16, 16, 3)).astype("float32")

    def sample(n):
        labels = rng.integers(0, 10, n)
        return (centers[labels] + 2.0 * rng.normal(size=(n, 16, 16, 3))).astype("float32"), labels

    x, y = sample(train_limit)
    xt, yt = sample(test_limit)
    return x, y, xt, yt, "synthetic"


def main(argv=None):
    p = cli.make_parser(__doc__, datasets=("cifar10",))
    p.add_argument("--synthetic", action="store_true", help="Gaussian blobs instead of CIFAR-10")
    p.add_argument("--batch-sizes", default="4,32,128", help="comma-separated batch sizes m (>= 2)")
    p.add_argument("--steps", default="10,100,500", help="comma-separated numbers of training steps T")
    p.add_argument("--train-limit", type=int, default=10000)
    p.add_argument("--test-limit", type=int, default=2000)
    p.add_argument("--lr", type=float, default=0.02)
    args = cli.parse_args(p, argv)
    with cli.flag_errors(p):
        batch_sizes = cli.split_list("--batch-sizes", args.batch_sizes, type=int)
        steps_list = cli.split_list("--steps", args.steps, type=int)
        for m in batch_sizes:
            check_int("--batch-sizes", m, 2)  # m/(m − 1) needs m >= 2
        for steps in steps_list:
            check_positive_int("--steps", steps)
        check_int("--train-limit", args.train_limit, max(batch_sizes))  # at least one batch
        check_positive_int("--test-limit", args.test_limit)
        check_number("--lr", args.lr, 0, low_open=True)
    folder = None if args.synthetic else cli.data_folder(p, args, "cifar10")
    import keras

    from recipes.models import build_model
    from recipes.normalization.batch_norm_statistics import apply_population_statistics, running_statistics

    with cli.flag_errors(p):  # a --train-limit or --test-limit larger than the data
        x, y, xt, yt, source = load_data(folder, args.train_limit, args.test_limit, args.seed, args.synthetic)
    rows = []
    print(f"data={source} train={len(x)} test={len(xt)} momentum λ=0.99 lr={args.lr}")
    print(f"{'m':>4} {'steps':>6} {'acc_running':>11} {'acc_population':>14} {'mean_gap':>9} "
          f"{'var_ratio_dense':>15} {'(m-1)/m':>8} {'seconds':>8}")
    for m in batch_sizes:
        for steps in steps_list:
            t0 = time.perf_counter()
            keras.utils.set_random_seed(args.seed)  # the same initialization for every (m, T)
            model = build_model("small_cnn", input_shape=x.shape[1:], norm="batch", head="average")
            model.compile(keras.optimizers.SGD(args.lr * m / 32 if m < 32 else args.lr, momentum=0.9),
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
            rng = np.random.default_rng(args.seed)
            idx = np.concatenate([rng.permutation(len(x)) for _ in range(steps * m // len(x) + 1)])[: steps * m]
            model.fit(x[idx], y[idx], batch_size=m, epochs=1, verbose=0, shuffle=False)
            acc_run = model.evaluate(xt, yt, batch_size=256, verbose=0)[1]
            running = running_statistics(model)
            pop = apply_population_statistics(model, x, batch_size=m, seed=args.seed)
            acc_pop = model.evaluate(xt, yt, batch_size=256, verbose=0)[1]
            gap = max(float(np.mean(np.abs(running[k][0] - pop[k][0]) / np.sqrt(pop[k][1] + 1e-12))) for k in pop)
            var_ratio = float(np.mean(running["bn_dense0"][1] / np.maximum(pop["bn_dense0"][1], 1e-12)))
            row = {"data": source, "batch_size": m, "steps": steps, "acc_running": round(acc_run, 4),
                   "acc_population": round(acc_pop, 4), "mean_gap": round(gap, 3),
                   "var_ratio_dense": round(var_ratio, 3), "unbiasing_factor": round((m - 1) / m, 3),
                   "seconds": round(time.perf_counter() - t0, 1)}
            rows.append(row)
            print(f"{m:>4} {steps:>6} {row['acc_running']:>11} {row['acc_population']:>14} {row['mean_gap']:>9} "
                  f"{row['var_ratio_dense']:>15} {row['unbiasing_factor']:>8} {row['seconds']:>8}", flush=True)
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
        with open(os.path.join(args.output_dir, "bn_running_vs_population.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
