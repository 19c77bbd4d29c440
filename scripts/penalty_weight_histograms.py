"""Weight histograms for λ = 0 and increasing λ, for L2 and for L1 (lecture, "L2 Regularization –
Lambda Effect: weights histogram" and the L1 "weight sparsifier").

Model: x ∈ R⁴⁰ → Dense(32, relu) → Dense(1) (logit), binary labels that depend on only 4 of the 40
inputs, trained full-batch by SGD on J~ = mean cross-entropy + λ Ω(W) with Ω = Σ‖W‖₂² (row "L2") or
Σ‖W‖₁ (row "L1", penalty in the loss, subgradient steps), kernels only. A third row trains the L1
objective with :class:`recipes.regularizers.proximal_sgd.ProximalSGD` (soft-threshold step): same objective, but
the small weights become exactly 0. The histograms show the first-layer kernel (40 × 32 weights), all on the same
axes (log count); λ = 0 is one run (no penalty), trained and shown once, and written as penalty ``none``.

    python scripts/penalty_weight_histograms.py --output-dir out/histograms
"""
from __future__ import annotations

import csv
import pathlib
import time

import numpy as np

from augment.checks import check_number, check_positive_int
from recipes import cli


def make_data(n, dim, informative, rng):
    x = rng.normal(size=(n, dim)).astype("float32")
    w = np.zeros(dim)
    w[:informative] = rng.choice([-1.5, 1.5], size=informative)
    logits = x @ w + 0.5 * x[:, 0] * x[:, 1]
    y = (logits + 0.5 * rng.normal(size=n) > 0).astype("float32")
    return x, y


def train(x, y, row, lam, steps, seed, lr, hidden):
    import keras

    from recipes.models import build_model
    from recipes.regularizers.penalties import apply_penalty
    from recipes.regularizers.proximal_sgd import ProximalSGD

    keras.utils.set_random_seed(seed)
    model = build_model("mlp", input_shape=(x.shape[1],), hidden_units=(hidden,), num_outputs=1, activation="relu")
    if row == "none":
        optimizer = keras.optimizers.SGD(lr)  # λ = 0: the same objective for every penalty
    elif row == "L1 (proximal)":
        optimizer = ProximalSGD(lr, l1=lam)  # the optimizer applies λ‖W‖₁ itself
    else:
        apply_penalty(model, lam, kind="l2" if row == "L2" else "l1")
        optimizer = keras.optimizers.SGD(lr)
    model.compile(optimizer=optimizer, loss=keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(np.tile(x, (steps, 1)), np.tile(y, steps), batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return model


def plot_histograms(weights, rows, lambdas, bins):
    """The figure: one row of panels per penalty, one column per λ > 0, and the unpenalized run (λ = 0, the same
    for every penalty) once, in a column of its own beside the middle row. Every panel has the same axes (log
    count, shared y range), so heights compare across panels.

    Args:
        weights: ``{(penalty, λ): first-layer weights}``; the λ = 0 run under ``("none", 0.0)``.
        rows: penalty names, top to bottom; lambdas: the λ values (a 0 among them adds the λ = 0 panel).
        bins: histogram bin edges; weights outside are clipped into the end bins.
    """
    import matplotlib.pyplot as plt

    positive = [lam for lam in lambdas if lam]
    zero = 0.0 in lambdas
    ncols = len(positive) + zero
    fig, axes = plt.subplots(len(rows), ncols, figsize=(3.3 * ncols, 2.7 * len(rows)), squeeze=False,
                             sharex=True, sharey=True)
    middle = len(rows) // 2
    panels = [(middle, 0, "none", 0.0, "no penalty, λ = 0\n(the same run for every row)")] if zero else []
    for r, row in enumerate(rows):
        if zero and r != middle:
            axes[r, 0].set_axis_off()
        panels += [(r, c + zero, row, lam, f"{row}, λ = {lam:g}") for c, lam in enumerate(positive)]
    for r, c, row, lam, title in panels:
        ax, w = axes[r, c], weights[row, lam]
        small, exact = float(np.mean(np.abs(w) < 1e-3)), float(np.mean(w == 0))
        ax.hist(np.clip(w, bins[0], bins[-1]), bins=bins, color={"none": "0.4", "L2": "C0"}.get(row, "C3"))
        ax.set_title(f"{title}\n|w|<1e-3: {small:.0%}, exact 0: {exact:.0%}", fontsize=9)
        ax.tick_params(labelsize=8, labelbottom=True, labelleft=True)
        if r == len(rows) - 1 or row == "none":
            ax.set_xlabel(f"first-layer weight (clipped to ±{bins[-1]:g})", fontsize=8)
        if c <= zero:
            ax.set_ylabel("count (log scale)", fontsize=8)
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_ylim(0.7, None)
    fig.suptitle("First-layer weights: L2 shrinks all of them, L1 pulls most to (near) zero, "
                 "the proximal L1 step makes them exactly 0", fontsize=11)
    fig.tight_layout()
    return fig


def main(argv=None):
    p = cli.make_parser(__doc__, output_dir="out/penalty_weight_histograms")
    p.add_argument("--lambdas", type=float, nargs="+", default=[0.0, 1e-3, 1e-2, 3e-2])
    p.add_argument("--rows", nargs="+", default=["L2", "L1", "L1 (proximal)"],
                   choices=["L2", "L1", "L1 (proximal)"])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--train-size", type=int, default=256)
    args = cli.parse_args(p, argv)
    with cli.flag_errors(p):
        for lam in args.lambdas:
            check_number("--lambdas", lam, 0)
        check_positive_int("--steps", args.steps)
        check_number("--lr", args.lr, 0, low_open=True)
        check_positive_int("--hidden", args.hidden)
        check_positive_int("--train-size", args.train_size)
    import matplotlib.pyplot as plt

    out = pathlib.Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)

    # one sample (same informative weights), split into train and test
    x_all, y_all = make_data(args.train_size + 4000, 40, 4, np.random.default_rng(args.seed))
    x, y = x_all[: args.train_size], y_all[: args.train_size]
    x_test, y_test = x_all[args.train_size:], y_all[args.train_size:]
    bins = np.linspace(-0.6, 0.6, 61)
    table, weights = [], {}
    print(f"{'penalty':>14} {'lambda':>7} {'test_acc':>8} {'|w|<1e-3':>8} {'w==0':>6} {'sum w^2':>8} {'sum|w|':>8} {'s':>5}")
    for row, lam in [("none", 0.0)] * (0.0 in args.lambdas) + [(r, l) for r in args.rows for l in args.lambdas if l]:
        t0 = time.perf_counter()  # λ = 0 is the same run for every penalty: trained and shown once
        model = train(x, y, row, lam, args.steps, args.seed, args.lr, args.hidden)
        secs = time.perf_counter() - t0
        w = np.asarray(model.get_layer("hidden1").kernel).ravel()
        acc = float(np.mean((model.predict(x_test, verbose=0, batch_size=4000)[:, 0] > 0) == y_test))
        weights[row, lam] = w
        small, zero = float(np.mean(np.abs(w) < 1e-3)), float(np.mean(w == 0))
        table.append([row, lam, acc, small, zero, float(np.sum(w**2)), float(np.sum(np.abs(w))), secs])
        print(f"{row:>14} {lam:7.3g} {acc:8.3f} {small:8.3f} {zero:6.3f} {np.sum(w**2):8.2f} "
              f"{np.sum(np.abs(w)):8.1f} {secs:5.1f}")
    fig = plot_histograms(weights, args.rows, args.lambdas, bins)
    png = out / "weight_histograms.png"
    fig.savefig(png, dpi=100)
    plt.close(fig)
    with open(out / "weight_histograms.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["penalty", "lambda", "test_acc", "frac_abs_below_1e-3", "frac_exact_zero", "sum_sq", "sum_abs",
                     "seconds"])
        wr.writerows(table)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
