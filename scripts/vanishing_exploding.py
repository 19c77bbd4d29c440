"""Vanishing and exploding gradients: a deep product Wᵗ, and deep sigmoid vs ReLU networks.

(a) The lecture's computational graph that multiplies by the same W t times: W = V diag(λ) V⁻¹ gives
    Wᵗ = V diag(λ)ᵗ V⁻¹, so ‖Wᵗ v‖ (and the gradient flowing back through the product) shrinks like ρᵗ for
    spectral radius ρ < 1 and grows like ρᵗ for ρ > 1. Also printed: the cosine between Wᵗv and the top
    eigenvector — whatever survives points along the eigenvector of the largest |λ| (the lecture's
    "which direction?").
(b) ∂C/∂b_l = σ'(z_l) w_{l+1} σ'(z_{l+1}) ... ∂C/∂a_L for every layer l of a deep MLP (``--depth`` Dense layers of
    ``--width`` units), computed by autodiff on a random batch: sigmoid with Glorot init (σ' ≤ ¼ ⇒ vanishes
    towards the input) vs ReLU with He init multiplied by a gain g ∈ {0.8, 1, 1.25} (the product of the layers'
    gains: vanishes / stays / explodes).
(c) A cliff, J(w) = (w²⁰ − 1)² started at w = 1.08 (gradient ≈ 630): plain SGD (ε = ``--cliff-lr``) is thrown
    off the cliff, while SGD with the lecture's clipping α·g/‖g‖ (Keras ``global_clipnorm=α``, α = ``--clip``)
    walks down to the minimum w = 1.

Writes ``vanishing_exploding.png`` and ``vanishing_exploding.csv`` and prints a table.

    python scripts/vanishing_exploding.py --output-dir results/vanishing
"""
import csv
import os
import time

import numpy as np

from augment.checks import check_int, check_number, check_positive_int
from recipes import cli


def matrix_power_norms(radius, steps, dim=8, seed=0):
    """‖Wᵗ v‖ for t = 0..steps with W = V diag(λ) V⁻¹, |λ| spread in [0.5ρ, ρ], and the |cos| between Wᵗv and
    the eigenvector of the largest |λ|."""
    rng = np.random.default_rng(seed)
    v_mat = rng.normal(size=(dim, dim))
    lam = radius * np.linspace(0.5, 1.0, dim) * rng.choice([-1, 1], size=dim)
    lam[-1] = radius
    w = v_mat @ np.diag(lam) @ np.linalg.inv(v_mat)
    v = rng.normal(size=dim)
    norms, cosines = [], []
    x = v.copy()
    top = v_mat[:, -1] / np.linalg.norm(v_mat[:, -1])
    for _ in range(steps + 1):
        norms.append(np.linalg.norm(x))
        cosines.append(abs(x @ top) / np.linalg.norm(x))
        x = w @ x
    return np.array(norms), np.array(cosines)


def layer_gradient_norms(activation, gain, depth, width, seed=0, batch=128):
    """‖∂C/∂b_l‖ for l = 1..depth of a Dense MLP, C = mean squared output (a smooth scalar cost)."""
    import keras

    from recipes.optimization import model_autodiff

    keras.utils.set_random_seed(seed)
    if activation == "sigmoid":
        init = keras.initializers.VarianceScaling(gain ** 2, "fan_avg", "normal", seed=seed)  # Glorot
    else:
        init = keras.initializers.VarianceScaling(2.0 * gain ** 2, "fan_in", "normal", seed=seed)  # He
    layers = [keras.Input((width,))]
    for i in range(depth):
        layers.append(keras.layers.Dense(width, activation=activation, kernel_initializer=init,
                                         bias_initializer="zeros", name=f"dense_{i}"))
    layers.append(keras.layers.Dense(1, name="out"))
    model = keras.Sequential(layers)
    x = np.random.default_rng(seed).normal(size=(batch, width)).astype("float32")
    y = np.zeros((batch, 1), "float32")
    _, grads = model_autodiff.loss_and_gradients(model, "mse", x, y)
    biases = [layer.bias for layer in model.layers[:depth]]
    by_id = {id(v): g for v, g in zip(model.trainable_variables, grads)}
    return np.array([float(np.linalg.norm(np.asarray(by_id[id(b)]))) for b in biases])


def cliff_run(clip, lr, steps, w0=1.08):
    """|J(w_k)| of SGD on J(w) = (w²⁰ − 1)² with optional clipping by norm α = ``clip`` (Keras
    ``global_clipnorm``); stops early (NaN-padded) once |w| > 10."""
    import keras

    kwargs = {"global_clipnorm": clip} if clip else {}
    opt = keras.optimizers.SGD(lr, **kwargs)
    var = keras.Variable(np.array([w0], "float32"))
    values, ws = [], []
    for _ in range(steps + 1):
        w = float(keras.ops.convert_to_numpy(var)[0])
        ws.append(w)
        values.append((w ** 20 - 1.0) ** 2 if abs(w) <= 10 else np.nan)
        if abs(w) > 10:
            break
        grad = 2.0 * (w ** 20 - 1.0) * 20.0 * w ** 19
        opt.apply([keras.ops.convert_to_tensor(np.array([grad], "float32"))], [var])
    values += [np.nan] * (steps + 1 - len(values))
    return np.array(values), ws


def main(argv=None):
    parser = cli.make_parser(__doc__, output_dir="results/vanishing")
    parser.add_argument("--steps", type=int, default=60, help="t of Wᵗ")
    parser.add_argument("--depth", type=int, default=30)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--cliff-lr", type=float, default=0.002)
    parser.add_argument("--clip", type=float, default=5.0, help="α of the clipped run in (c)")
    args = cli.parse_args(parser, argv)
    with cli.flag_errors(parser):
        check_positive_int("--steps", args.steps)
        check_int("--depth", args.depth, 2)
        check_positive_int("--width", args.width)
        check_number("--cliff-lr", args.cliff_lr, 0, low_open=True)
        check_number("--clip", args.clip, 0, low_open=True)
    import matplotlib.pyplot as plt

    os.makedirs(args.output_dir, exist_ok=True)
    start = time.time()
    rows = []

    fig, (ax_a, ax_b, ax_c) = plt.subplots(1, 3, figsize=(18, 5))
    for radius in (0.9, 1.0, 1.1):
        norms, cosines = matrix_power_norms(radius, args.steps, seed=args.seed)
        ax_a.semilogy(norms / norms[0], label=f"ρ(W) = {radius}")
        rows.append({"experiment": "W^t", "setting": f"rho={radius}", "first": 1.0,
                     "last": float(norms[-1] / norms[0]), "gain": float(norms[-1] / norms[0]),
                     "cos_top_eigvec": float(cosines[-1])})
    ax_a.set_xlabel("t")
    ax_a.set_ylabel("‖Wᵗv‖ / ‖v‖")
    ax_a.set_title("(a) repeated multiplication by W = V diag(λ) V⁻¹")
    ax_a.legend()

    settings = [("sigmoid", 1.0)] + [("relu", g) for g in (0.8, 1.0, 1.25)]
    for activation, gain in settings:
        norms = layer_gradient_norms(activation, gain, args.depth, args.width, seed=args.seed)
        label = f"{activation}, {'Glorot' if activation == 'sigmoid' else 'He'} × {gain}"
        ax_b.semilogy(np.arange(1, len(norms) + 1), norms, "o-", ms=3, label=label)
        rows.append({"experiment": "deep MLP", "setting": label, "first": float(norms[0]),
                     "last": float(norms[-1]), "gain": float(norms[0] / norms[-1]),
                     "cos_top_eigvec": ""})
    ax_b.set_xlabel("layer l (1 = next to the input)")
    ax_b.set_ylabel("‖∂C/∂b_l‖")
    ax_b.set_title(f"(b) gradient per layer, depth {args.depth}, width {args.width}")
    ax_b.legend()

    for clip in (None, args.clip):
        values, ws = cliff_run(clip, args.cliff_lr, args.steps)
        label = f"SGD ε={args.cliff_lr}" + (f", clipped α={clip}" if clip else ", no clipping")
        ax_c.semilogy(np.maximum(values, 1e-16), "o-", ms=3, label=label)
        rows.append({"experiment": "cliff", "setting": "clip" if clip else "no clip", "first": float(values[0]),
                     "last": float(values[~np.isnan(values)][-1]), "gain": float(ws[-1]),
                     "cos_top_eigvec": ""})
    ax_c.set_xlabel("step k")
    ax_c.set_ylabel("J(w_k) = (w²⁰ − 1)²")
    ax_c.set_title("(c) a cliff: gradient clipping α·g/‖g‖")
    ax_c.legend()
    fig.tight_layout()
    png = os.path.join(args.output_dir, "vanishing_exploding.png")
    fig.savefig(png, dpi=90)
    with open(os.path.join(args.output_dir, "vanishing_exploding.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    print(f"{'experiment':<10} {'setting':<22} {'first':>10} {'last':>10} {'gain':>10} {'|cos| top':>9}")
    for r in rows:
        cos = f"{r['cos_top_eigvec']:.4f}" if r["cos_top_eigvec"] != "" else ""
        print(f"{r['experiment']:<10} {r['setting']:<22} {r['first']:>10.3e} {r['last']:>10.3e} "
              f"{r['gain']:>10.3e} {cos:>9}")
    print("W^t: first, last = ‖Wᵗv‖/‖v‖ at t = 0 and t = steps, gain = last; |cos| top = alignment of Wᵗv with "
          "the top eigenvector.\ndeep MLP: first, last = ‖∂C/∂b‖ at layer 1 (input side) and layer L, "
          "gain = first / last (< 1 vanishing, > 1 exploding towards the input).\n"
          "cliff: first, last = J at the start and at the last finite step, gain = final w (minimum at 1).")
    print(f"wrote {png} in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
