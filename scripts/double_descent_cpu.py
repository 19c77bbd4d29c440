"""Double descent on CPU in seconds: random-features regression swept across the interpolation threshold.

Model: h(x) = Σ_{j=1}^{p} a_j φ_j(x), φ_j(x) = relu(g_jᵀx/√d + b_j)/√p with g_j ~ N(0, I_d),
b_j ~ N(0, s²) (s = --bias-scale, default 0) drawn afresh for every training set (a two-layer network whose first layer is frozen
at its random initialization), and a fitted by least squares: the minimum-norm solution
a = Φ⁺y (what gradient descent from a = 0 converges to) — and, for comparison, ridge
a = (ΦᵀΦ + λI)⁻¹Φᵀy. Data: x ~ N(0, I_d), y = f(x) + ε with f(x) = sin(x₁ + x₂) + ½x₃, ε ~ N(0, σ²).

For each width p, T disjoint training sets of n points (Yang et al.'s protocol) give T fitted models;
recipes.analysis.bias_variance decomposes the test error into Bias², Variance (unbiased T/(T−1) correction)
and Noise (f is known). The classical U-curve appears for p < n (bias falls, variance rises), the test
error peaks at the interpolation threshold p = n where the train error reaches 0, and falls again as
p grows (variance falls): double descent (Belkin et al. 2019; Nakkiran et al. 2020).

    python scripts/double_descent_cpu.py --output-dir runs/double_descent
"""
import os
import time

# Small solves: one BLAS thread is far faster than contended multi-threading on a shared CPU (set before NumPy).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from augment.checks import check_int, check_number, check_positive_int  # noqa: E402
from recipes import cli  # noqa: E402
from recipes.analysis.bias_variance import draw_training_sets, squared_error_decomposition  # noqa: E402


def target(x):
    return np.sin(x[:, 0] + x[:, 1]) + 0.5 * x[:, 2]


def features(x, g, b):
    d, p = g.shape
    return np.maximum(x @ g / np.sqrt(d) + b, 0.0) / np.sqrt(p)


def fit_predict(phi_train, y, phi_eval, ridge):
    if ridge > 0:
        n, p = phi_train.shape
        if p <= n:
            a = np.linalg.solve(phi_train.T @ phi_train + ridge * np.eye(p), phi_train.T @ y)
        else:   # the same a in its dual form Φᵀ(ΦΦᵀ + λI)⁻¹y, O(n²p) instead of O(p³)
            a = phi_train.T @ np.linalg.solve(phi_train @ phi_train.T + ridge * np.eye(n), y)
    else:
        a = np.linalg.lstsq(phi_train, y, rcond=None)[0]       # minimum-norm solution
    return [ph @ a for ph in phi_eval]


def default_widths(n):
    grid = np.unique(np.round(np.geomspace(2, 20 * n, 34)).astype(int))
    near = np.round(n * np.array([0.7, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5])).astype(int)
    return sorted(set(grid.tolist()) | set(near.tolist()))


def main(argv=None):
    ap = cli.make_parser(__doc__, output_dir="runs/double_descent_cpu")
    ap.add_argument("--train-size", type=int, default=100, help="n, points per training set")
    ap.add_argument("--dim", type=int, default=20, help="input dimension d (>= 3)")
    ap.add_argument("--noise", type=float, default=0.3, help="σ of the label noise")
    ap.add_argument("--bias-scale", type=float, default=0.0,
                    help="std of the random first-layer biases b_j (large values give features "
                         "active on few points and heavy-tailed min-norm fits)")
    ap.add_argument("--trials", type=int, default=20, help="T disjoint training sets")
    ap.add_argument("--widths", type=int, nargs="*", default=None)
    ap.add_argument("--ridge", type=float, default=1e-2, help="λ of the comparison ridge fit")
    ap.add_argument("--test-size", type=int, default=2000)
    args = cli.parse_args(ap, argv, tensorflow=False)  # NumPy only: no TensorFlow to import quietly
    with cli.flag_errors(ap):
        check_positive_int("--train-size", args.train_size)
        check_int("--dim", args.dim, 3)
        check_int("--trials", args.trials, 2)
        check_positive_int("--test-size", args.test_size)
        check_number("--noise", args.noise, 0)
        check_number("--bias-scale", args.bias_scale, 0)
        check_number("--ridge", args.ridge, 0)
        for width in args.widths or ():
            check_positive_int("--widths", width)
    import matplotlib.pyplot as plt

    n, d, t_count = args.train_size, args.dim, args.trials
    widths = args.widths or default_widths(n)
    os.makedirs(args.output_dir, exist_ok=True)

    rng = np.random.default_rng(args.seed)
    pool_x = rng.normal(size=(n * t_count, d))
    pool_y = target(pool_x) + args.noise * rng.normal(size=n * t_count)
    x_test = rng.normal(size=(args.test_size, d))
    f_test = target(x_test)
    y_test = f_test + args.noise * rng.normal(size=args.test_size)
    (group,) = draw_training_sets(len(pool_x), "split", trials=t_count, seed=args.seed)

    t0 = time.perf_counter()
    rows = []
    for p in widths:
        preds, preds_ridge, train_err = [], [], []
        for t, idx in enumerate(group):
            frng = np.random.default_rng([args.seed, p, t])
            g, b = frng.normal(size=(d, p)), args.bias_scale * frng.normal(size=p)
            phi_tr, phi_te = features(pool_x[idx], g, b), features(x_test, g, b)
            tr, te = fit_predict(phi_tr, pool_y[idx], [phi_tr, phi_te], 0.0)
            preds.append(te)
            train_err.append(np.mean((tr - pool_y[idx]) ** 2))
            preds_ridge.append(fit_predict(phi_tr, pool_y[idx], [phi_te], args.ridge)[0])
        res = squared_error_decomposition(np.array(preds)[..., None], y_test[:, None],
                                          f_true=f_test[:, None])
        ridge = squared_error_decomposition(np.array(preds_ridge)[..., None], y_test[:, None],
                                            f_true=f_test[:, None])
        rows.append(dict(width=p, train=float(np.mean(train_err)), risk=res.risk,
                         bias2=res.details["bias2_direct"], variance=res.variance,
                         noise=res.noise, risk_ridge=ridge.risk, variance_ridge=ridge.variance))
    secs = time.perf_counter() - t0

    cols = ["width", "train", "risk", "bias2", "variance", "noise", "risk_ridge", "variance_ridge"]
    print("".join(f"{c:>15}" for c in cols))
    for r in rows:
        print(f"{r['width']:>15}" + "".join(f"{r[c]:>15.4f}" for c in cols[1:]))
    with open(os.path.join(args.output_dir, "double_descent_cpu.csv"), "w") as f:
        f.write(",".join(cols) + "\n")
        for r in rows:
            f.write(",".join(str(r[c]) for c in cols) + "\n")

    w = np.array([r["width"] for r in rows])
    # log axes: estimates that sampling error made ≤ 0 (bias² near the peak) are drawn at 1e-4
    get = lambda c: np.maximum(np.array([r[c] for r in rows]), 1e-4)  # noqa: E731
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    under = w <= 0.9 * n
    ax = axes[0]
    ax.plot(w[under], get("risk")[under], "k-o", ms=3, label="test risk")
    ax.plot(w[under], get("bias2")[under], "-o", ms=3, color="tab:blue", label="bias²")
    ax.plot(w[under], get("variance")[under], "-o", ms=3, color="tab:orange", label="variance")
    ax.axhline(rows[0]["noise"], color="gray", ls=":", label="noise σ²")
    ax.set_xlabel("width p (p ≤ 0.9 n)")
    ax.set_title("classical regime: U-curve")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(w, get("risk"), "k-o", ms=3, label="test risk (min-norm)")
    ax.plot(w, get("train"), "-o", ms=3, color="tab:green", label="train error")
    ax.plot(w, get("risk_ridge"), "--", color="tab:purple", label=f"test risk (ridge λ={args.ridge:g})")
    ax.axvline(n, color="gray", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width p")
    ax.set_title("double descent")
    ax.legend(fontsize=8)
    ax = axes[2]
    ax.plot(w, get("risk"), "k-o", ms=3, label="test risk")
    ax.plot(w, get("bias2"), "-o", ms=3, color="tab:blue", label="bias²")
    ax.plot(w, get("variance"), "-o", ms=3, color="tab:orange", label="variance")
    ax.axhline(rows[0]["noise"], color="gray", ls=":", label="noise σ²")
    ax.axvline(n, color="gray", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width p")
    ax.set_title("bias² falls, variance peaks at p = n")
    ax.legend(fontsize=8)
    fig.suptitle(f"random-features regression, n={n}, d={d}, σ={args.noise}, T={t_count} "
                 "disjoint training sets", fontsize=10)
    fig.tight_layout()
    png = os.path.join(args.output_dir, "double_descent_cpu.png")
    fig.savefig(png, dpi=110)

    risk = np.array([r["risk"] for r in rows])
    peak = int(np.argmax(risk))
    print(f"peak: width={w[peak]} (n={n}) test_risk={risk[peak]:.4f}; "
          f"widest: width={w[-1]} test_risk={risk[-1]:.4f}; best under-parameterized: "
          f"{risk[under].min():.4f}")
    print(f"seconds={secs:.1f}")
    print(f"plot: {png}")
    return rows


if __name__ == "__main__":
    main()
