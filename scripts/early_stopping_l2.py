"""Early stopping ≡ L2 on a quadratic: plot both solutions along each eigen-direction for several τ.

J(w) = ½(w − w*)ᵀH(w − w*), H = QΛQᵀ. Gradient descent from 0 for τ steps at rate ε (run for real, step by step)
against the L2 minimizer with α = 1/(τε):

    early stopping: Qᵀw⁽ᵗ⁾ = [I − (I − εΛ)^τ] Qᵀw*      L2: Qᵀw̃ = (Λ + αI)⁻¹ΛQᵀw*

Writes <output-dir>/early_stopping_vs_l2.png (three panels) and early_stopping_vs_l2.csv, and prints a table.

    python scripts/early_stopping_l2.py --output-dir results/early_stopping_l2
"""
import csv
import os

import numpy as np

from augment.checks import check_number, check_positive_int
from recipes import cli
from recipes.early_stopping import l2_equivalence as el


def main(argv=None):
    ap = cli.make_parser(__doc__, output_dir="results/early_stopping_l2")
    ap.add_argument("--dim", type=int, default=12, help="number of eigen-directions d")
    ap.add_argument("--eps", type=float, default=0.05, help="learning rate ε")
    ap.add_argument("--taus", type=int, nargs="+", default=[5, 50, 500, 5000])
    args = cli.parse_args(ap, argv, tensorflow=False)  # NumPy only: no TensorFlow to import quietly
    with cli.flag_errors(ap):
        check_positive_int("--dim", args.dim)
        check_number("--eps", args.eps, 0, low_open=True)
        for tau in args.taus:
            check_positive_int("--taus", tau)
    import matplotlib.pyplot as plt

    os.makedirs(args.output_dir, exist_ok=True)

    rng = np.random.default_rng(args.seed)
    Q, _ = np.linalg.qr(rng.normal(size=(args.dim, args.dim)))
    lam = np.logspace(-4, 1, args.dim)  # ελ_max = 0.5 with the default ε
    H = Q @ np.diag(lam) @ Q.T
    w_star = rng.normal(size=args.dim)
    c_star = Q.T @ w_star

    traj = el.gradient_descent(H, w_star, args.eps, max(args.taus))
    rows = []
    print(f"d={args.dim}  eps={args.eps}  eps*lambda in [{args.eps * lam.min():.1e}, {args.eps * lam.max():.2f}]")
    print(f"{'tau':>6} {'alpha=1/(tau eps)':>18} {'max |s_ES - s_L2|':>18} {'at tau eps lambda':>18} "
          f"{'|w_ES-w_L2|/|w*|':>17} {'|w_GD-closed form|':>19}")
    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(args.taus)))
    for tau, color in zip(args.taus, colors):
        alpha = el.equivalent_alpha(args.eps, tau)
        w_gd = traj[tau]
        s_es = (Q.T @ w_gd) / c_star  # measured from the real iterate
        s_l2 = el.shrink_l2(lam, alpha)
        closed = el.early_stopping_weights(H, w_star, args.eps, tau)
        w_l2 = el.l2_weights(H, w_star, alpha)
        gap = s_es - s_l2
        k = int(np.argmax(np.abs(gap)))
        print(f"{tau:6d} {alpha:18.4g} {np.abs(gap).max():18.4f} {tau * args.eps * lam[k]:18.3g} "
              f"{np.linalg.norm(w_gd - w_l2) / np.linalg.norm(w_star):17.4f} "
              f"{np.linalg.norm(w_gd - closed):19.2e}")
        for i in range(args.dim):
            rows.append({"tau": tau, "eps": args.eps, "alpha": alpha, "i": i, "lambda": lam[i],
                         "tau_eps_lambda": tau * args.eps * lam[i], "s_es": s_es[i], "s_l2": s_l2[i],
                         "gap": gap[i]})
        axes[0].semilogx(lam, s_es, "o", color=color, label=f"early stopping, τ={tau}")
        axes[0].semilogx(lam, s_l2, "-", color=color, label=f"L2, α=1/(τε)={alpha:.3g}")
    axes[0].set_xlabel("eigenvalue λᵢ of H (one point per eigen-direction)")
    axes[0].set_ylabel("(Qᵀw)ᵢ / (Qᵀw*)ᵢ  (shrink factor)")
    axes[0].set_title(f"GD from 0 for τ steps (ε={args.eps}) vs L2 with α=1/(τε)")
    axes[0].legend(fontsize=7)
    axes[0].grid(alpha=0.3)

    # (b) the classic 2-D picture: GD trajectory vs the path of L2 solutions w̃(α).
    R = np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]])
    H2 = R @ np.diag([1.0, 0.05]) @ R.T
    w2 = np.array([1.0, 1.0])
    eps2 = 0.2
    taus2 = [2, 5, 10, 20, 50, 100]
    t2 = el.gradient_descent(H2, w2, eps2, 400)
    g = np.linspace(-0.4, 1.6, 200)
    X, Y = np.meshgrid(g, g)
    D = np.stack([X - w2[0], Y - w2[1]], -1)
    Z = 0.5 * np.einsum("...i,ij,...j->...", D, H2, D)
    axes[1].contour(X, Y, Z, levels=12, colors="0.8", linewidths=0.8)
    axes[1].plot(t2[:, 0], t2[:, 1], ".-", color="C0", ms=2, label=f"GD from 0, ε={eps2}")
    alphas = np.logspace(-4, 3, 300)
    path = np.array([el.l2_weights(H2, w2, a) for a in alphas])
    axes[1].plot(path[:, 0], path[:, 1], "-", color="C3", label="L2 solutions w̃(α)")
    for tau in taus2:
        a = el.equivalent_alpha(eps2, tau)
        axes[1].plot(*t2[tau], "o", color="C0")
        axes[1].plot(*el.l2_weights(H2, w2, a), "x", color="C3", ms=8)
        axes[1].annotate(f"τ={tau}", t2[tau], textcoords="offset points", xytext=(4, -10), fontsize=7)
    axes[1].plot(*w2, "k*", ms=10, label="w*")
    axes[1].set_aspect("equal")
    axes[1].set_title("2-D: o = w⁽ᵗ⁾ after τ steps, x = w̃(α=1/(τε))")
    axes[1].legend(fontsize=7, loc="lower right")

    # (c) how close: the gap s_ES − s_L2 against u = τελ, for several ελ, with the bound u² and the ε→0 limit.
    u = np.logspace(-3, 2, 400)
    for x, color in zip([0.5, 0.1, 0.01, 0.001], plt.cm.plasma(np.linspace(0, 0.8, 4))):
        taus_u = np.unique(np.maximum(1, np.round(u / x)).astype(int))
        uu = taus_u * x
        gap = np.array([el.shrink_early_stopping(x, 1.0, t) - el.shrink_l2(x, el.equivalent_alpha(1.0, t))
                        for t in taus_u])
        axes[2].semilogx(uu, gap, "-", color=color, label=f"ελ = {x}")
    axes[2].semilogx(u, 1 / (1 + u) - np.exp(-u), "k--", label="ε→0 limit: 1/(1+u) − exp(−u)")
    axes[2].semilogx(u, np.minimum(u ** 2, 1), "k:", label="bound u²")
    u_max, gap_max = el.max_gap_small_eps_limit()
    axes[2].set_ylim(0, 0.5)
    axes[2].set_xlabel("u = τελᵢ = λᵢ/α")
    axes[2].set_ylabel("s_ES − s_L2")
    axes[2].set_title(f"gap per direction (ε→0 max {gap_max:.3f} at u={u_max:.2f})")
    axes[2].legend(fontsize=7)
    axes[2].grid(alpha=0.3)
    fig.tight_layout()
    png = os.path.join(args.output_dir, "early_stopping_vs_l2.png")
    fig.savefig(png, dpi=110)
    with open(os.path.join(args.output_dir, "early_stopping_vs_l2.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
