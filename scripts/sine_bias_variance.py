"""The lecture's sine experiment: 100 learned functions per width, and their bias², variance, noise.

"100 different learned sine functions of SLP of widths (hidden neurons) 15, 1000, and 10000 ... The
learned functions are increasingly similar with width, suggesting decreasing variance."
(Neal et al. 2018, "A Modern Take on the Bias-Variance Tradeoff in Neural Networks".)

Setup: T training sets D_t of ``--points`` points, x ~ U(−π, π), y = sin(x) + ε, ε ~ N(0, σ²);
for each width m a one-hidden-layer ReLU network h(x) = Σ_j v_j relu(w_j x/π + b_j) + c, hidden
weights and biases ~ U(−1, 1) (PyTorch's default for fan-in 1), output layer initialized to zero (so
h ≡ 0 at the start and the width does not change the function at initialization), trained by
full-batch gradient descent on the mean squared error with learning rate ``--lr``/m (the
width-independent step of the neural-tangent scaling) for ``--steps`` steps. All T networks of one
width are trained together as replicas (recipes.analysis.replicas), the same T training sets for every width.
The decomposition (recipes.analysis.bias_variance) uses the true function ȳ(x) = sin x on a test grid.

    python scripts/sine_bias_variance.py --output-dir runs/sine
"""
import os
import time

import numpy as np

from augment.checks import check_int, check_number, check_positive_int
from recipes import cli


def make_data(trials, points, sigma, seed):
    rng = np.random.default_rng(seed)
    xs = [rng.uniform(-np.pi, np.pi, size=(points, 1)).astype("float32") for _ in range(trials)]
    ys = [(np.sin(x) + sigma * rng.normal(size=x.shape)).astype("float32") for x in xs]
    return xs, ys


def fit_width(width, xs, ys, steps, lr, seed, predict_x, output_init="zeros"):
    """Train T replicas of width ``width``; return predictions (T, len(predict_x), 1)."""
    import keras

    from recipes.analysis.replicas import ReplicaLoss, build_replica_mlp, stack_replicas, unstack_replicas

    k, n = len(xs), len(xs[0])
    seeds = [seed * 100_000 + t for t in range(k)]
    kw = dict(kernel_initializer=keras.initializers.RandomUniform(-1.0, 1.0),
              bias_initializer=keras.initializers.RandomUniform(-1.0, 1.0))
    if output_init == "zeros":
        kw.update(output_kernel_initializer="zeros", output_bias_initializer="zeros")
    else:   # PyTorch-like default for the output layer, U(±1/sqrt(m))
        lim = 1.0 / np.sqrt(width)
        kw.update(output_kernel_initializer=keras.initializers.RandomUniform(-lim, lim),
                  output_bias_initializer=keras.initializers.RandomUniform(-lim, lim))
    model = build_replica_mlp(1, (width,), 1, seeds, **kw)
    model.compile(optimizer=keras.optimizers.SGD(lr / width), loss=ReplicaLoss(),
                  steps_per_execution=50, jit_compile=True)   # XLA fusion: ~8x faster on CPU
    x_rep = stack_replicas([x / np.pi for x in xs])
    y_rep = stack_replicas(ys)
    model.fit(np.tile(x_rep, (steps, 1, 1)), np.tile(y_rep, (steps, 1, 1)), batch_size=n,
              epochs=1, shuffle=False, verbose=0)
    train_pred = unstack_replicas(model.predict(x_rep, batch_size=n, verbose=0))
    train_mse = float(((train_pred - unstack_replicas(y_rep)) ** 2).mean())
    shared = build_replica_mlp(1, (width,), 1, seeds, shared_input=True, **kw)
    shared.set_weights(model.get_weights())
    # batches small enough that (batch, T, width) activations stay below ~100 MB
    bs = max(1, min(len(predict_x), int(2.5e7 // (k * width))))
    pred = shared.predict((predict_x / np.pi).astype("float32"), batch_size=bs, verbose=0)
    return unstack_replicas(pred), train_mse


def main(argv=None):
    ap = cli.make_parser(__doc__, output_dir="runs/sine_bias_variance")
    ap.add_argument("--widths", type=int, nargs="+", default=[15, 1000, 10000])
    ap.add_argument("--trials", type=int, default=100, help="training sets (learned functions)")
    ap.add_argument("--points", type=int, default=20, help="points per training set")
    ap.add_argument("--sigma", type=float, default=0.3, help="noise standard deviation")
    ap.add_argument("--steps", type=int, default=600, help="full-batch GD steps")
    ap.add_argument("--lr", type=float, default=4.0, help="learning rate x width")
    ap.add_argument("--output-init", choices=["zeros", "uniform"], default="zeros")
    ap.add_argument("--test-points", type=int, default=400)
    ap.add_argument("--init-variance", action="store_true",
                    help="also train T replicas on ONE training set with T seeds: the variance due "
                         "to initialization alone (Neal et al.'s optimization variance)")
    args = cli.parse_args(ap, argv)
    with cli.flag_errors(ap):
        check_int("--trials", args.trials, 2)
        for width in args.widths:
            check_positive_int("--widths", width)
        check_positive_int("--points", args.points)
        check_positive_int("--steps", args.steps)
        check_positive_int("--test-points", args.test_points)
        check_number("--sigma", args.sigma, 0)
        check_number("--lr", args.lr, 0, low_open=True)
    import keras
    import matplotlib.pyplot as plt

    from recipes.analysis.bias_variance import squared_error_decomposition

    os.makedirs(args.output_dir, exist_ok=True)
    keras.utils.set_random_seed(args.seed)

    xs, ys = make_data(args.trials, args.points, args.sigma, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    x_test = np.linspace(-np.pi, np.pi, args.test_points, dtype="float32")[:, None]
    f_test = np.sin(x_test).astype("float64")
    y_test = f_test + args.sigma * rng.normal(size=f_test.shape)

    rows = []
    fig, axes = plt.subplots(1, len(args.widths), figsize=(4.2 * len(args.widths), 3.6),
                             sharey=True, squeeze=False)
    for ax, width in zip(axes[0], args.widths):
        t0 = time.perf_counter()
        pred, train_mse = fit_width(width, xs, ys, args.steps, args.lr, args.seed, x_test,
                                    args.output_init)
        secs = time.perf_counter() - t0
        res = squared_error_decomposition(pred, y_test, f_true=f_test)
        init_var = float("nan")
        if args.init_variance:
            same, _ = fit_width(width, xs[:1] * args.trials, ys[:1] * args.trials, args.steps,
                                args.lr, args.seed, x_test, args.output_init)
            init_var = squared_error_decomposition(same, y_test).variance
        rows.append((width, train_mse, res.risk, res.details["bias2_direct"], res.variance,
                     res.noise, init_var, secs))
        for p in pred:
            ax.plot(x_test[:, 0], p[:, 0], color="tab:blue", alpha=0.15, lw=0.8)
        ax.plot(x_test[:, 0], f_test[:, 0], color="k", lw=1.5, label="sin x")
        ax.plot(x_test[:, 0], pred.mean(0)[:, 0], color="tab:red", lw=1.5, ls="--",
                label="mean h̄")
        ax.set_title(f"width {width}: bias²={res.details['bias2_direct']:.3f}, "
                     f"var={res.variance:.3f}", fontsize=9)
        ax.set_ylim(-2.5, 2.5)
        ax.set_xlabel("x")
    axes[0][0].legend(loc="upper left", fontsize=8)
    fig.suptitle(f"{args.trials} learned functions per width ({args.points} noisy points each, "
                 f"σ={args.sigma})", fontsize=10)
    fig.tight_layout()
    png = os.path.join(args.output_dir, "sine_bias_variance.png")
    fig.savefig(png, dpi=110)

    header = f"{'width':>7}{'train_mse':>11}{'risk':>9}{'bias2':>9}{'variance':>10}{'noise':>9}" \
             f"{'init_var':>10}{'seconds':>9}"
    print(header)
    for r in rows:
        print(f"{r[0]:>7}{r[1]:>11.4f}{r[2]:>9.4f}{r[3]:>9.4f}{r[4]:>10.4f}{r[5]:>9.4f}"
              f"{r[6]:>10.5f}{r[7]:>9.1f}")
    with open(os.path.join(args.output_dir, "sine_bias_variance.csv"), "w") as f:
        f.write("width,train_mse,risk,bias2,variance,noise,init_variance,seconds\n")
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")
    print(f"plot: {png}")
    variances = [r[4] for r in rows]
    print("variance_decreasing=" + str(all(a > b for a, b in zip(variances, variances[1:]))))
    return rows


if __name__ == "__main__":
    main()
