"""CIFAR-10 ResNet-18 width sweep: test error, bias² and variance against the width k (double descent).

For each width k (first-stage filters of ResNet-18: k, 2k, 4k, 8k; k = 64 is the standard model), the
training set — optionally with a fraction of its labels replaced by uniformly random ones, as in
Nakkiran et al. 2020 ("Deep Double Descent") — is split into T disjoint parts (Yang et al. 2020: T = 2
halves of 25k), a network is trained on each part, and the test error is decomposed by
recipes.analysis.bias_variance:

* ``--loss mse`` (Yang et al.'s main setting): trained on ‖softmax(z) − y‖² with one-hot y; decomposed
  as squared error on the softmax outputs, Var with the unbiased T/(T−1) correction, Bias² = Risk − Var;
* ``--loss ce``: trained with cross-entropy; decomposed in Yang et al.'s Bregman form
  (Var = E KL(π̄ ‖ π_D), π̄ the normalized geometric mean);
* in both cases also the 0-1 loss (Domingos) and the test accuracy.
The same splits (and the same noisy labels) are used for every width.

On a GPU (full sweep, Yang et al.-like):
    python scripts/double_descent_cifar10.py --data-dir ../shared/data \\
        --widths 1 2 4 8 12 16 24 32 48 64 --epochs 100 --label-noise 0.15 --output-dir runs/dd_cifar
On CPU, a smoke run (small k, a subset, one epoch):
    python scripts/double_descent_cifar10.py --data-dir ../shared/data \\
        --widths 1 2 --train-limit 1024 --test-limit 1000 --epochs 1 --batch-size 64
"""
import os
import time

import numpy as np

from augment.checks import check_choice, check_int, check_number, check_positive_int
from recipes import cli

NUM_CLASSES = 10


def add_label_noise(y, fraction, seed):
    """Replace a random ``fraction`` of the labels by uniformly random classes (Nakkiran et al.)."""
    y = np.array(y, copy=True)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(y), size=int(round(fraction * len(y))), replace=False)
    y[idx] = rng.integers(0, NUM_CLASSES, size=len(idx))
    return y


def figure_title(trials, part, label_noise, epochs):
    """The figure's title: "CIFAR-10, 2 disjoint sets of 512 images, no label noise, 1 epoch"."""
    noise = f"{label_noise:.0%} of the training labels random" if label_noise > 0 else "no label noise"
    return (f"CIFAR-10, {trials} disjoint sets of {cli.quantity(part, 'image')}, {noise}, "
            f"{cli.quantity(epochs, 'epoch')}")


def parse_args(argv=None):
    ap = cli.make_parser(__doc__, datasets=("cifar10",), output_dir="runs/double_descent_cifar10")
    ap.add_argument("--model", default="resnet18", help="a ResNet of the model registry (recipes.models)")
    ap.add_argument("--widths", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    ap.add_argument("--trials", type=int, default=2, help="T disjoint training sets (Yang: 2)")
    ap.add_argument("--repeats", type=int, default=1, help="independent random splits, averaged")
    ap.add_argument("--loss", choices=["mse", "ce"], default="mse")
    ap.add_argument("--label-noise", type=float, default=0.0, help="fraction of random train labels")
    ap.add_argument("--train-limit", type=int, default=None, help="use the first N training images")
    ap.add_argument("--test-limit", type=int, default=None, help="use a random subset of N test images")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    ap.add_argument("--lr", type=float, default=None, help="default 0.1 (sgd), 1e-4 (adam)")
    ap.add_argument("--weight-decay", type=float, default=5e-4, help="L2 penalty on kernels")
    ap.add_argument("--augment", choices=["standard", "none"], default="standard")
    ap.add_argument("--mixed-precision", action="store_true", help="mixed_float16 (GPU)")
    args = cli.parse_args(ap, argv)
    from recipes.models import list_models  # after cli.parse_args: it imports Keras

    with cli.flag_errors(ap):
        check_choice("--model", args.model, [name for name in list_models() if "resnet" in name])
        for width in args.widths:
            check_positive_int("--widths", width)
        check_int("--trials", args.trials, 2)
        check_positive_int("--repeats", args.repeats)
        check_number("--label-noise", args.label_noise, 0, 1)
        if args.train_limit is not None:
            check_positive_int("--train-limit", args.train_limit)
        if args.test_limit is not None:
            check_positive_int("--test-limit", args.test_limit)
        check_positive_int("--epochs", args.epochs)
        check_positive_int("--batch-size", args.batch_size)
        if args.lr is not None:
            check_number("--lr", args.lr, 0, low_open=True)
        check_number("--weight-decay", args.weight_decay, 0)
    args.data_dir = cli.data_folder(ap, args, "cifar10")
    return args, ap


def main(argv=None):
    args, parser = parse_args(argv)
    import keras
    import matplotlib.pyplot as plt

    from augment.image_pipeline import make_train_dataset
    from recipes.analysis.bias_variance import decompose, estimate_bias_variance, predict_batched
    from recipes.data.cifar10 import prepare_cifar10
    from recipes.models import build_model
    from recipes.optimization.schedules import LinearDecay

    with cli.flag_errors(parser):  # a --test-limit larger than the test set
        data = prepare_cifar10(args.data_dir, train_limit=args.train_limit, test_limit=args.test_limit,
                               seed=args.seed)
    (x_train, y_train), (x_test, y_test), mean, std = data.train, data.test, data.mean, data.std
    part = len(x_train) // args.trials
    if args.batch_size > part:
        parser.error(f"--batch-size must be <= the training-set size per trial ({part}), got {args.batch_size}")
    os.makedirs(args.output_dir, exist_ok=True)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    y_noisy = add_label_noise(y_train, args.label_noise, args.seed) if args.label_noise else y_train
    lr = args.lr if args.lr is not None else (0.1 if args.optimizer == "sgd" else 1e-4)
    print(f"{len(x_train)} training images ({args.label_noise:.0%} label noise) in {args.trials} "
          f"disjoint sets of {part}; {len(x_test)} test images; loss {args.loss}", flush=True)

    rows = []
    for width in args.widths:
        steps = part // args.batch_size * args.epochs
        train_acc = []

        def build(width=width, steps=steps):
            reg = keras.regularizers.L2(args.weight_decay) if args.weight_decay > 0 else None
            net = build_model(args.model, width=width, num_classes=NUM_CLASSES,
                              kernel_regularizer=reg, mean=mean, std=std, seed=args.seed)
            if args.loss == "mse":   # Yang et al.: squared error between softmax(z) and one-hot y
                out = keras.layers.Activation("softmax", dtype="float32")(net.output)
                net = keras.Model(net.input, out)
                loss = keras.losses.MeanSquaredError()
            else:
                loss = keras.losses.CategoricalCrossentropy(from_logits=True)
            schedule = LinearDecay(lr, lr * 0.01, max(1, steps))
            opt = (keras.optimizers.SGD(schedule, momentum=0.9) if args.optimizer == "sgd"
                   else keras.optimizers.Adam(schedule))
            net.compile(optimizer=opt, loss=loss, metrics=["categorical_accuracy"])
            return net

        def train(model, x, y):
            ds, spe = make_train_dataset(x, y, args.batch_size, NUM_CLASSES, augment=args.augment,
                                         seed=args.seed, epochs=args.epochs)
            hist = model.fit(ds, epochs=args.epochs, steps_per_epoch=spe, verbose=0, shuffle=False)  # ds is shuffled
            train_acc.append(hist.history["categorical_accuracy"][-1])

        t0 = time.perf_counter()
        n_params = build().count_params()
        main_loss = "squared_error" if args.loss == "mse" else "cross_entropy"
        res, preds = estimate_bias_variance(
            build, x_train, y_noisy, x_test, y_test, loss=main_loss, protocol="split",
            trials=args.trials, repeats=args.repeats, train_fn=train,
            predict_fn=lambda m, x: predict_batched(m, x.astype("float32"), 500),
            from_logits=args.loss == "ce", seed=args.seed, return_predictions=True)
        zo = [decompose(np.stack(p).argmax(-1), y_test, "zero_one") for p in preds]
        acc = float(np.mean([(np.argmax(q, -1) == y_test).mean() for p in preds for q in p]))
        secs = time.perf_counter() - t0
        rows.append(dict(width=width, params=n_params, train_acc=float(np.mean(train_acc)),
                         test_acc=acc, risk=res.risk, bias2=res.bias2, variance=res.variance,
                         risk01=float(np.mean([z.risk for z in zo])),
                         bias01=float(np.mean([z.bias2 for z in zo])),
                         var01=float(np.mean([z.details["variance_total"] for z in zo])),
                         seconds=secs))
        r = rows[-1]
        print(f"k={width:>3} params={n_params:>9} train_acc={r['train_acc']:.4f} "
              f"test_acc={acc:.4f} risk={res.risk:.4f} bias2={res.bias2:.4f} "
              f"variance={res.variance:.4f} ({secs:.0f} s)", flush=True)

    cols = ["width", "params", "train_acc", "test_acc", "risk", "bias2", "variance", "risk01",
            "bias01", "var01", "seconds"]
    print("".join(f"{c:>11}" for c in cols))
    for r in rows:
        print(f"{r['width']:>11}{r['params']:>11}" + "".join(f"{r[c]:>11.4f}" for c in cols[2:]))
    with open(os.path.join(args.output_dir, "double_descent_cifar10.csv"), "w") as f:
        f.write(",".join(cols) + "\n")
        for r in rows:
            f.write(",".join(str(r[c]) for c in cols) + "\n")
    k = [r["width"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    name = "MSE (one-hot)" if args.loss == "mse" else "cross-entropy"
    for c, label, color in (("risk", "risk", "k"), ("bias2", "bias²", "tab:blue"),
                            ("variance", "variance", "tab:orange")):
        axes[0].plot(k, [r[c] for r in rows], "-o", color=color, ms=3, label=label)
    axes[0].set_title(f"{name}: risk = bias² + variance")
    axes[0].set_ylabel("test loss (mean per image)")
    axes[1].set_ylabel("error rate")
    axes[1].plot(k, [1 - r["test_acc"] for r in rows], "-o", color="k", ms=3, label="test error")
    axes[1].plot(k, [1 - r["train_acc"] for r in rows], "-o", color="tab:green", ms=3,
                 label="train error (noisy labels)" if args.label_noise > 0 else "train error")
    axes[1].set_title("0-1 error")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(k, [str(w) for w in k])  # the widths themselves, not powers of 2
        ax.minorticks_off()
        ax.set_xlabel(f"{args.model} width k")
        ax.legend(fontsize=8)
    fig.suptitle(figure_title(args.trials, part, args.label_noise, args.epochs), fontsize=10)
    fig.tight_layout()
    png = os.path.join(args.output_dir, "double_descent_cifar10.png")
    fig.savefig(png, dpi=110)
    print(f"plot: {png}")
    return rows


if __name__ == "__main__":
    main()
