"""Dropout, DropConnect, structural dropout and Monte Carlo dropout on an MLP for real CIFAR-10.

Trains four MLPs (3072 → h → h → 10, ReLU, Adam; the registry's ``dropout_mlp``) on a CIFAR-10 subset:

* ``none``         — no regularization;
* ``dropout``      — inverted dropout, lecture defaults: p = 0.8 on the input, p = 0.5 on hidden layers;
* ``dropconnect``  — DropConnect (per-example masks, p = 0.5) on the last two weight layers;
* ``structural``   — structural dropout after each hidden layer.

Writes ``curves.png`` (train / validation loss and accuracy per epoch), ``mc_uncertainty.png``
(MC-dropout predictive entropy on test images vs out-of-distribution noise images),
``structural_width.png`` (test accuracy against kept width, against pruning the plain model), and
CSV files with every number, then prints a results table.

    python scripts/dropout_experiment.py --output-dir out/dropout

Data: ``--data-dir`` (default ``$RECIPES_DATA/cifar10``, else tensorflow-datasets), prepared by
``recipes.data.cifar10.prepare_cifar10`` (first ``--train-limit`` images, stratified ``--val-size`` split,
``--test-limit`` test images).
"""
import csv
import pathlib
import time

import numpy as np

from augment.checks import check_number, check_positive_int
from recipes import cli

MODELS = ("none", "dropout", "dropconnect", "structural")


def build_parser():
    ap = cli.make_parser(__doc__, datasets=("cifar10",), output_dir="out/dropout")
    ap.add_argument("--train-limit", type=int, default=10000, help="training images used (subtrain + validation)")
    ap.add_argument("--val-size", type=int, default=2000)
    ap.add_argument("--test-limit", type=int, default=10000)
    ap.add_argument("--hidden", type=int, default=256, help="width h of the two hidden layers")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--mc-samples", type=int, default=30, help="T, stochastic passes of MC dropout")
    ap.add_argument("--ood-size", type=int, default=1000, help="noise images for the MC-dropout comparison")
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {', '.join(MODELS)}")
    return ap


def parse_args(argv=None, ap=None):
    """The checked flags (exit 2 naming the flag when one is bad); ``data_dir`` resolved to the CIFAR-10 folder."""
    ap = ap or build_parser()
    args = cli.parse_args(ap, argv)
    with cli.flag_errors(ap):
        for name in ("train_limit", "val_size", "test_limit", "hidden", "epochs", "batch_size", "mc_samples",
                     "ood_size"):
            check_positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
        if args.val_size >= args.train_limit:
            raise ValueError(f"--val-size must be < --train-limit ({args.train_limit}), got {args.val_size}")
        check_number("--lr", args.lr, 0, low_open=True)
        args.models = cli.split_list("--models", args.models, choices=MODELS)
    args.data_dir = cli.data_folder(ap, args, "cifar10")
    return args


def pruned_plain_accuracy(model, x, y, width):
    """Test accuracy of the plain MLP with hidden units ≥ width zeroed (no structural training)."""
    w1, b1 = (np.asarray(v) for v in model.get_layer("hidden1").weights)
    w2, b2 = (np.asarray(v) for v in model.get_layer("hidden2").weights)
    w3, b3 = (np.asarray(v) for v in model.get_layer("logits").weights)
    keep = (np.arange(w1.shape[1]) < width).astype(np.float32)
    h = np.maximum(x @ w1 + b1, 0) * keep
    h = np.maximum(h @ w2 + b2, 0) * keep
    return float(np.mean(np.argmax(h @ w3 + b3, -1) == y))


def auroc(scores_neg, scores_pos):
    """P(score of a positive > score of a negative) (ties count ½): AUROC of telling OOD from in-distribution."""
    from scipy.stats import rankdata

    s = np.concatenate([scores_neg, scores_pos])
    r = rankdata(s)
    n0, n1 = len(scores_neg), len(scores_pos)
    return float((r[n0:].sum() - n1 * (n1 + 1) / 2) / (n0 * n1))


def main(argv=None):
    parser = build_parser()
    args = parse_args(argv, parser)
    out_dir = pathlib.Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    import keras
    import matplotlib.pyplot as plt

    from recipes.data.cifar10 import prepare_cifar10
    from recipes.dropout.mc_dropout import MCDropoutPredictor, mutual_information, predictive_entropy, softmax
    from recipes.dropout.structural_dropout import set_structural_width
    from recipes.models import build_model

    t_start = time.time()
    keras.utils.set_random_seed(args.seed)
    with cli.flag_errors(parser):  # a --val-size or --test-limit larger than the data
        data = prepare_cifar10(args.data_dir, train_limit=args.train_limit, val_size=args.val_size,
                               test_limit=args.test_limit, seed=args.seed)
    (x_sub, y_sub), (x_val, y_val), (x_test, y_test) = data.train, data.val, data.test
    mean, std = data.mean, data.std
    rng = np.random.default_rng(args.seed)

    def prep(x):
        return ((x.astype(np.float32) - mean) / std).reshape(len(x), -1).astype(np.float32)

    x_sub_f, x_val_f, x_test_f = prep(x_sub), prep(x_val), prep(x_test)
    ood = {
        "uniform noise": prep(rng.integers(0, 256, size=(args.ood_size, 32, 32, 3)).astype(np.uint8)),
        "gaussian noise": prep(np.clip(rng.normal(mean, std, size=(args.ood_size, 32, 32, 3)), 0, 255)),
    }
    print(f"data: {len(x_sub)} subtrain, {len(x_val)} validation, {len(x_test)} test images from "
          f"{data.source}", flush=True)

    histories, models, rows = {}, {}, []
    for kind in args.models:
        keras.utils.set_random_seed(args.seed)
        model = build_model("dropout_mlp", kind=kind, hidden=args.hidden, seed=args.seed)
        model.compile(keras.optimizers.Adam(args.lr),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        t0 = time.time()
        hist = model.fit(x_sub_f, y_sub, validation_data=(x_val_f, y_val), epochs=args.epochs,
                         batch_size=args.batch_size, verbose=0)
        train_s = time.time() - t0
        test_loss, test_acc = model.evaluate(x_test_f, y_test, batch_size=512, verbose=0)
        histories[kind], models[kind] = hist.history, model
        h = hist.history
        rows.append({"model": kind, "train_acc": h["accuracy"][-1], "val_acc": h["val_accuracy"][-1],
                     "best_val_acc": max(h["val_accuracy"]), "test_acc": test_acc, "test_loss": test_loss,
                     "train_seconds": train_s})
        print(f"{kind:12s} train_acc={h['accuracy'][-1]:.4f} val_acc={h['val_accuracy'][-1]:.4f} "
              f"test_acc={test_acc:.4f} ({train_s:.0f} s)", flush=True)

    with open(out_dir / "curves.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "epoch", "loss", "accuracy", "val_loss", "val_accuracy"])
        for kind, h in histories.items():
            for e in range(len(h["loss"])):
                w.writerow([kind, e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for kind, h in histories.items():
        epochs = np.arange(1, len(h["loss"]) + 1)
        for ax, key in zip(axes, ("loss", "accuracy")):
            line, = ax.plot(epochs, h[key], "--", label=f"{kind} train")
            ax.plot(epochs, h[f"val_{key}"], "-", color=line.get_color(), label=f"{kind} validation")
    for ax, key in zip(axes, ("cross-entropy", "accuracy")):
        ax.set_xlabel("epoch"), ax.set_ylabel(key), ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.suptitle(f"MLP 3072-{args.hidden}-{args.hidden}-10 on {len(x_sub)} CIFAR-10 images")
    fig.tight_layout()
    fig.savefig(out_dir / "curves.png", dpi=120)
    plt.close(fig)

    mc_rows = []
    if "dropout" in models:
        model = models["dropout"]
        mc = MCDropoutPredictor(model, num_samples=args.mc_samples, output_fn=softmax)
        in_dist = x_test_f[rng.permutation(len(x_test_f))[: args.ood_size]]
        sets = {"CIFAR-10 test": in_dist, **ood}
        stats = {}
        for name, x in sets.items():
            probs = mc.sample(x, batch_size=256)
            mean_p = probs.mean(0)
            stats[name] = {"entropy": predictive_entropy(mean_p), "mi": mutual_information(probs),
                           "var": probs.var(0).sum(-1)}
        det_acc = float(np.mean(np.argmax(model.predict(x_test_f, verbose=0), -1) == y_test))
        mc_acc = float(np.mean(np.argmax(mc.sample(x_test_f, 256).mean(0), -1) == y_test))
        for name, s in stats.items():
            row = {"inputs": name, "mean_entropy": float(s["entropy"].mean()), "mean_mutual_info": float(s["mi"].mean()),
                   "mean_total_variance": float(s["var"].mean())}
            if name != "CIFAR-10 test":
                ref = stats["CIFAR-10 test"]
                row["auroc_entropy"] = auroc(ref["entropy"], s["entropy"])
                row["auroc_mutual_info"] = auroc(ref["mi"], s["mi"])
            mc_rows.append(row)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for name, s in stats.items():
            axes[0].hist(s["entropy"], bins=40, alpha=0.5, density=True, label=name)
            axes[1].hist(s["mi"], bins=40, alpha=0.5, density=True, label=name)
        axes[0].set_xlabel("predictive entropy H[E[y]] (nats)")
        axes[1].set_xlabel("mutual information (BALD)")
        axes[0].legend()
        fig.suptitle(f"MC dropout, T = {args.mc_samples}: in-distribution vs noise images")
        fig.tight_layout()
        fig.savefig(out_dir / "mc_uncertainty.png", dpi=120)
        plt.close(fig)
        with open(out_dir / "mc_uncertainty.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["inputs", "mean_entropy", "mean_mutual_info", "mean_total_variance",
                                              "auroc_entropy", "auroc_mutual_info"])
            w.writeheader()
            w.writerows(mc_rows)
        print(f"\nMC dropout (T={args.mc_samples}): test accuracy {mc_acc:.4f} (weight-scaling: {det_acc:.4f})")
        print(f"{'inputs':16s} {'entropy':>8s} {'MI':>8s} {'Σ var':>8s} {'AUROC(H)':>9s} {'AUROC(MI)':>9s}")
        for r in mc_rows:
            print(f"{r['inputs']:16s} {r['mean_entropy']:8.4f} {r['mean_mutual_info']:8.4f} "
                  f"{r['mean_total_variance']:8.4f} {r.get('auroc_entropy', float('nan')):9.3f} "
                  f"{r.get('auroc_mutual_info', float('nan')):9.3f}")

    width_rows = []
    if "structural" in models:
        widths = sorted({w for w in (4, 8, 16, 32, 64, 128, 192, args.hidden) if w <= args.hidden})
        model = models["structural"]
        for width in widths:
            set_structural_width(model, width)
            acc = float(model.evaluate(x_test_f, y_test, batch_size=512, verbose=0)[1])
            row = {"width": width, "structural_test_acc": acc}
            if "none" in models:
                row["pruned_plain_test_acc"] = pruned_plain_accuracy(models["none"], x_test_f, y_test, width)
            width_rows.append(row)
        set_structural_width(model, args.hidden)
        with open(out_dir / "structural_width.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["width", "structural_test_acc", "pruned_plain_test_acc"])
            w.writeheader()
            w.writerows(width_rows)
        fig, ax = plt.subplots(figsize=(5.5, 4))
        ax.plot([r["width"] for r in width_rows], [r["structural_test_acc"] for r in width_rows], "o-",
                label="structural dropout, width chosen at inference")
        if "none" in models:
            ax.plot([r["width"] for r in width_rows], [r["pruned_plain_test_acc"] for r in width_rows], "s--",
                    label="plain MLP, units ≥ width pruned")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("kept hidden width"), ax.set_ylabel("test accuracy"), ax.grid(alpha=0.3), ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "structural_width.png", dpi=120)
        plt.close(fig)
        print(f"\n{'width':>6s} {'structural':>11s} {'pruned plain':>13s}")
        for r in width_rows:
            print(f"{r['width']:6d} {r['structural_test_acc']:11.4f} {r.get('pruned_plain_test_acc', float('nan')):13.4f}")

    with open(out_dir / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"\n{'model':12s} {'train_acc':>9s} {'val_acc':>8s} {'best_val':>8s} {'test_acc':>8s} {'seconds':>8s}")
    for r in rows:
        print(f"{r['model']:12s} {r['train_acc']:9.4f} {r['val_acc']:8.4f} {r['best_val_acc']:8.4f} "
              f"{r['test_acc']:8.4f} {r['train_seconds']:8.1f}")
    print(f"total_seconds={time.time() - t_start:.1f}")
    return rows, mc_rows, width_rows


if __name__ == "__main__":
    main()
