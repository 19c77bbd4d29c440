"""Ridge regression on collinear features: coefficient shrinkage against α (lecture, "L2
Regularization – Regression Analysis": w~ = (XᵀX + αI)⁻¹Xᵀy solves multicollinearity).

Data: x₁ ~ N(0, 1), x₂ = x₁ + 0.01·N(0, 1) (nearly the same feature), x₃ ~ N(0, 1) independent,
y = x₁ + x₂ + 0.5 x₃ + N(0, 0.5²). Least squares (α = 0) splits the weight of x₁ + x₂ arbitrarily
(huge opposite coefficients that change from one noise draw to the next); growing α shrinks the
coefficients, pulls w₁ and w₂ to the same value, and reduces their spread across noise draws.

Objective: ½‖Xw − y‖² + (α/2)‖w‖² (no intercept; :func:`recipes.regularizers.closed_forms.ridge_path`).

    python scripts/ridge_collinear.py --output-dir out/ridge
"""
from __future__ import annotations

import csv
import pathlib

import numpy as np

from augment.checks import check_int
from recipes import cli
from recipes.regularizers.closed_forms import ridge_path

TRUE_W = np.array([1.0, 1.0, 0.5])


def make_data(n, rng, collinearity=0.01, noise=0.5):
    x1 = rng.normal(size=n)
    x = np.stack([x1, x1 + collinearity * rng.normal(size=n), rng.normal(size=n)], axis=1)
    return x, x @ TRUE_W + noise * rng.normal(size=n)


def main(argv=None):
    p = cli.make_parser(__doc__, output_dir="out/ridge_collinear")
    p.add_argument("--samples", type=int, default=50, help="rows of X")
    p.add_argument("--draws", type=int, default=200, help="noise draws for the coefficient spread")
    p.add_argument("--collinearity", type=float, default=0.01, help="std of x2 - x1")
    args = cli.parse_args(p, argv, tensorflow=False)  # NumPy only: no TensorFlow to import quietly
    with cli.flag_errors(p):
        check_int("--samples", args.samples, 4)
        check_int("--draws", args.draws, 2)
    import matplotlib.pyplot as plt

    out = pathlib.Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(args.seed)
    alphas = np.concatenate([[0.0], np.logspace(-4, 4, 81)])
    x, y = make_data(args.samples, rng, args.collinearity)
    path = ridge_path(x, y, alphas)
    # spread of the coefficients over fresh noise draws (same X): the variance ridge removes
    draws = np.stack([ridge_path(x, x @ TRUE_W + 0.5 * rng.normal(size=len(y)), alphas) for _ in range(args.draws)])
    spread = draws.std(axis=0)
    eig = np.linalg.eigvalsh(x.T @ x)
    cond = (eig.max() + alphas) / (eig.min() + alphas)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    a = alphas[1:]
    for j, style in enumerate(["-", "--", ":"]):
        axes[0].semilogx(a, path[1:, j], style, label=f"w{j + 1}", lw=2)
        axes[1].loglog(a, spread[1:, j], style, label=f"w{j + 1}", lw=2)
    axes[0].axhline(0, color="gray", lw=0.5)
    for j in range(3):
        axes[0].plot(a[0] / 2, path[0, j], "kx")
    axes[0].set(xlabel="α", ylabel="coefficient", title="Ridge path (x: least squares, α = 0)")
    axes[1].set(xlabel="α", ylabel="std over noise draws", title=f"Coefficient spread ({args.draws} draws)")
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle("Ridge on collinear features: x2 = x1 + 0.01·noise, true w = (1, 1, 0.5)")
    fig.tight_layout()
    png = out / "ridge_collinear.png"
    fig.savefig(png, dpi=110)

    rows = []
    show = [0.0, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e4]
    print(f"{'alpha':>8} {'w1':>9} {'w2':>9} {'w3':>8} {'|w|':>8} {'std w1':>8} {'cond(XtX+aI)':>13}")
    for alpha in show:
        i = int(np.argmin(np.abs(alphas - alpha)))
        w = path[i]
        rows.append([alphas[i], *w, np.linalg.norm(w), spread[i, 0], cond[i]])
        print(f"{alphas[i]:8.3g} {w[0]:9.3f} {w[1]:9.3f} {w[2]:8.3f} {np.linalg.norm(w):8.3f} "
              f"{spread[i, 0]:8.3f} {cond[i]:13.3g}")
    with open(out / "ridge_collinear.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["alpha", "w1", "w2", "w3", "norm", "std_w1", "cond"])
        wr.writerows(rows)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
