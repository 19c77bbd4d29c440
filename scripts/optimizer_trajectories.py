"""Optimizers' trajectories on the lecture's optimization challenges: an ill-conditioned quadratic and a saddle.

Problems (2-D, closed-form gradient g and Hessian H):

* ``quadratic``: J(θ) = ½ θᵀHθ with H = R diag(1, κ) Rᵀ (κ = ``--condition``, R a 30° rotation); the
  lecture's ill-conditioning: a step −εg changes J by −ε gᵀg + ½ε² gᵀHg, and the curvature term wins in the
  steep direction unless ε < 2/κ.
* ``saddle``: J(θ) = ½θ₁² − ½θ₂² + ¼θ₂⁴ — a saddle at 0 (Hessian eigenvalues +1, −1) and minima at
  (0, ±1), J* = −¼. Started at (−2, 0.01), almost on the direction that leads into the saddle.

Optimizers: the Keras ones (SGD, momentum, Nesterov, Adam, RMSProp), recipes' SignSGD and Sophia (its h refreshed
with the exact Hessian diagonal every 10 steps), and Newton's step θ ← θ − (H + αI)⁻¹g
(``recipes.optimization.second_order.newton_step``). Writes ``trajectories.png`` and ``trajectories.csv`` and prints, per
problem and optimizer, the final J − J* and the first step with J − J* < 1e-3.

    python scripts/optimizer_trajectories.py --output-dir results/trajectories
"""
import csv
import os
import time

import numpy as np

from augment.checks import check_number, check_positive_int
from recipes import cli


class Quadratic:
    name = "quadratic"

    def __init__(self, condition):
        c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
        rot = np.array([[c, -s], [s, c]])
        self.h = rot @ np.diag([1.0, condition]) @ rot.T
        # far along the shallow eigenvector, a little along the steep one
        self.start = -4.0 * rot[:, 0] + 0.5 * rot[:, 1]
        self.optimum = 0.0
        self.box = (-4.5, 4.5, -3.0, 3.0)

    def value(self, t):
        return 0.5 * t @ self.h @ t

    def grad(self, t):
        return self.h @ t

    def hessian(self, t):
        return self.h


class Saddle:
    name = "saddle"
    start = np.array([-2.0, 0.01])
    optimum = -0.25
    box = (-2.5, 2.5, -1.6, 1.6)

    def value(self, t):
        return 0.5 * t[0] ** 2 - 0.5 * t[1] ** 2 + 0.25 * t[1] ** 4

    def grad(self, t):
        return np.array([t[0], -t[1] + t[1] ** 3])

    def hessian(self, t):
        return np.array([[1.0, 0.0], [0.0, -1.0 + 3.0 * t[1] ** 2]])


def _keras_run(problem, optimizer, steps, hessian_every=None):
    import keras

    var = keras.Variable(problem.start.astype("float32"))
    optimizer.build([var])
    path = [problem.start.copy()]
    for k in range(steps):
        theta = keras.ops.convert_to_numpy(var).astype(np.float64)
        if hessian_every and k % hessian_every == 0:
            optimizer.update_hessian([np.diag(problem.hessian(theta)).astype("float32")])
        optimizer.apply([keras.ops.convert_to_tensor(problem.grad(theta).astype("float32"))], [var])
        path.append(keras.ops.convert_to_numpy(var).astype(np.float64))
    return np.array(path)


def _newton_run(problem, steps, damping):
    from recipes.optimization.second_order import newton_step

    theta = problem.start.copy()
    path = [theta.copy()]
    for _ in range(steps):
        theta = theta + newton_step(problem.hessian(theta), problem.grad(theta), damping)
        path.append(theta.copy())
    return np.array(path)


def optimizers(lr):
    import keras

    from recipes.optimization.sign_sgd import SignSGD
    from recipes.optimization.sophia import Sophia

    return {
        "SGD": lambda: keras.optimizers.SGD(lr),
        "Momentum 0.9": lambda: keras.optimizers.SGD(lr, momentum=0.9),
        "Nesterov 0.9": lambda: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
        "Adam": lambda: keras.optimizers.Adam(0.1),
        "RMSProp": lambda: keras.optimizers.RMSprop(0.05),
        "signSGD": lambda: SignSGD(0.05),
        "Sophia": lambda: Sophia(0.5, beta_1=0.9, beta_2=0.0, gamma=1.0),
    }


def main(argv=None):
    parser = cli.make_parser(__doc__, output_dir="results/trajectories", seed=False)  # nothing random
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--condition", type=float, default=20.0, help="κ of the quadratic")
    parser.add_argument("--lr", type=float, default=0.05, help="ε of SGD/momentum/Nesterov (SGD stable for ε < 2/κ)")
    parser.add_argument("--damping", type=float, default=0.0, help="α of Newton's (H + αI)⁻¹g")
    args = cli.parse_args(parser, argv)
    with cli.flag_errors(parser):
        check_positive_int("--steps", args.steps)
        check_number("--condition", args.condition, 1)
        check_number("--lr", args.lr, 0, low_open=True)
        check_number("--damping", args.damping, 0)
    import matplotlib.pyplot as plt

    from recipes.optimization.sophia import Sophia

    os.makedirs(args.output_dir, exist_ok=True)
    start = time.time()

    problems = [Quadratic(args.condition), Saddle()]
    rows, paths = [], {}
    for problem in problems:
        for name, make in optimizers(args.lr).items():
            opt = make()
            paths[problem.name, name] = _keras_run(problem, opt, args.steps,
                                                   hessian_every=10 if isinstance(opt, Sophia) else None)
        paths[problem.name, "Newton"] = _newton_run(problem, args.steps, args.damping)
        for name in list(optimizers(args.lr)) + ["Newton"]:
            gaps = np.array([problem.value(t) - problem.optimum for t in paths[problem.name, name]])
            hit = np.flatnonzero(np.abs(gaps) < 1e-3)
            rows.append({"problem": problem.name, "optimizer": name, "final_gap": float(gaps[-1]),
                         "steps_to_1e-3": int(hit[0]) if hit.size else -1,
                         "final_theta": " ".join(f"{v:.4f}" for v in paths[problem.name, name][-1])})

    fig, axes = plt.subplots(2, 2, figsize=(13, 10))
    colors = dict(zip(list(optimizers(args.lr)) + ["Newton"], plt.cm.tab10.colors))
    for row_axes, problem in zip(axes, problems):
        ax, ax_gap = row_axes
        x0, x1, y0, y1 = problem.box
        gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
        gz = np.vectorize(lambda a, b: problem.value(np.array([a, b])))(gx, gy)
        ax.contour(gx, gy, gz, levels=30, colors="0.8", linewidths=0.6)
        for name, color in colors.items():
            path = paths[problem.name, name]
            ax.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=1, color=color, label=name)
            gaps = np.abs([problem.value(t) - problem.optimum for t in path])
            ax_gap.semilogy(np.maximum(gaps, 1e-12), color=color, label=name)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_title(f"{problem.name}: trajectories from ({problem.start[0]:.2f}, {problem.start[1]:.2f})")
        ax_gap.set_title(f"{problem.name}: |J(θ_k) − J*|")
        ax_gap.set_xlabel("step k")
        ax.legend(fontsize=7)
    fig.tight_layout()
    png = os.path.join(args.output_dir, "trajectories.png")
    fig.savefig(png, dpi=90)
    with open(os.path.join(args.output_dir, "trajectories.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    print(f"{'problem':<10} {'optimizer':<13} {'final J-J*':>12} {'steps to 1e-3':>14}  final θ")
    for r in rows:
        steps = r["steps_to_1e-3"] if r["steps_to_1e-3"] >= 0 else "never"
        print(f"{r['problem']:<10} {r['optimizer']:<13} {r['final_gap']:>12.3e} {steps:>14}  {r['final_theta']}")
    print(f"wrote {png} in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
