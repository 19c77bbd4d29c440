"""Decision boundaries of a 2-layer MLP on a 2-D two-class problem, for several hidden sizes and
several L2 strengths λ (the lecture's ConvNetJS figures: "two-layers MLP with different hidden
neurons", then "add L2 regularization (20 hidden neurons)").

Model: x ∈ R² → Dense(h, tanh) → Dense(1) (logit), trained full-batch with Adam on
J~ = mean binary cross-entropy + λ Σ_layers ‖W‖² (kernels only, :func:`recipes.regularizers.penalties.apply_penalty`).
Data: two interleaved half-moons with Gaussian noise (small training set, so that an unregularized
wide network overfits); test accuracy on fresh samples from the same distribution.

    python scripts/penalty_decision_boundaries.py --output-dir out/boundaries
"""
from __future__ import annotations

import csv
import pathlib
import time

import numpy as np

from augment.checks import check_int, check_number, check_positive_int
from recipes import cli


def two_moons(n, noise, rng):
    """Two interleaved half circles (labels 0/1) plus N(0, noise²) jitter."""
    n0 = n // 2
    t0 = rng.uniform(0, np.pi, n0)
    t1 = rng.uniform(0, np.pi, n - n0)
    x0 = np.stack([np.cos(t0), np.sin(t0)], 1)
    x1 = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)
    x = np.concatenate([x0, x1]) + noise * rng.normal(size=(n, 2))
    y = np.concatenate([np.zeros(n0), np.ones(n - n0)])
    x = (x - np.array([0.5, 0.25])) / np.array([0.85, 0.5])  # roughly standardized
    return x.astype("float32"), y.astype("float32")


def train(x, y, hidden, lam, steps, seed, lr=0.02):
    import keras

    from recipes.models import build_model
    from recipes.regularizers.penalties import apply_penalty

    keras.utils.set_random_seed(seed)
    model = build_model("mlp", input_shape=(2,), hidden_units=(hidden,), num_outputs=1, activation="tanh")
    apply_penalty(model, lam, kind="l2")  # kernels only; λ = 0 attaches nothing
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    # `steps` full-batch steps inside one Keras epoch (avoids per-epoch overhead)
    model.fit(np.tile(x, (steps, 1)), np.tile(y, steps), batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return model


def main(argv=None):
    p = cli.make_parser(__doc__, output_dir="out/penalty_decision_boundaries")
    p.add_argument("--hidden", type=int, nargs="+", default=[3, 6, 20], help="hidden sizes at λ = 0")
    p.add_argument("--lambdas", type=float, nargs="+", default=[0.001, 0.01, 0.1],
                   help="L2 strengths for the widest hidden size")
    p.add_argument("--train-size", type=int, default=60)
    p.add_argument("--noise", type=float, default=0.25)
    p.add_argument("--steps", type=int, default=2000)
    args = cli.parse_args(p, argv)
    with cli.flag_errors(p):
        for h in args.hidden:
            check_positive_int("--hidden", h)
        for lam in args.lambdas:
            check_number("--lambdas", lam, 0)
        check_positive_int("--steps", args.steps)
        check_int("--train-size", args.train_size, 4)
    import matplotlib.pyplot as plt

    out = pathlib.Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(args.seed)
    x, y = two_moons(args.train_size, args.noise, rng)
    x_test, y_test = two_moons(2000, args.noise, rng)
    widest = max(args.hidden)
    configs = [(h, 0.0) for h in args.hidden] + [(widest, lam) for lam in args.lambdas]

    g = np.linspace(-2.6, 2.6, 200, dtype="float32")
    gx, gy = np.meshgrid(g, g)
    grid = np.stack([gx.ravel(), gy.ravel()], 1)

    ncols = max(len(args.hidden), len(args.lambdas))
    fig, axes = plt.subplots(2, ncols, figsize=(3.6 * ncols, 7.2), squeeze=False)
    for ax in axes.ravel():
        ax.set_visible(False)
    rows = []
    print(f"{'hidden':>6} {'lambda':>8} {'train_acc':>9} {'test_acc':>8} {'sum|W|^2':>9} {'seconds':>7}")
    for i, (h, lam) in enumerate(configs):
        t0 = time.perf_counter()
        model = train(x, y, h, lam, args.steps, args.seed)
        secs = time.perf_counter() - t0
        train_acc = float(np.mean((model.predict(x, verbose=0)[:, 0] > 0) == y))
        test_acc = float(np.mean((model.predict(x_test, verbose=0, batch_size=2000)[:, 0] > 0) == y_test))
        sq = float(sum(np.sum(np.asarray(v) ** 2) for v in model.trainable_weights if v.name == "kernel"))
        rows.append([h, lam, train_acc, test_acc, sq, secs])
        print(f"{h:6d} {lam:8.3g} {train_acc:9.3f} {test_acc:8.3f} {sq:9.2f} {secs:7.1f}")
        z = model.predict(grid, verbose=0, batch_size=len(grid))[:, 0].reshape(gx.shape)
        r, c = (0, i) if i < len(args.hidden) else (1, i - len(args.hidden))
        ax = axes[r, c]
        ax.set_visible(True)
        ax.contourf(gx, gy, 1 / (1 + np.exp(-z)), levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
        ax.contour(gx, gy, z, levels=[0], colors="k", linewidths=1.5)
        ax.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu_r", edgecolors="k", s=25)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{h} hidden, λ = {lam:g}\ntrain {train_acc:.2f} / test {test_acc:.2f}", fontsize=10)
    fig.suptitle("2-layer MLP (tanh) on noisy two moons: top, hidden size; bottom, L2 strength λ", fontsize=11)
    fig.tight_layout()
    png = out / "decision_boundaries.png"
    fig.savefig(png, dpi=100)
    with open(out / "decision_boundaries.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["hidden", "lambda", "train_acc", "test_acc", "sum_sq_kernels", "seconds"])
        wr.writerows(rows)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
