"""Early stopping on a real CIFAR-10 subset: the U-shaped validation curve, and no ES / ES / policy 1 / policy 2.

X^(train) = the first --train-limit training images, split (stratified, seeded) into X^(subtrain) and
X^(valid) (--val-size). No augmentation and no weight decay, so that the model overfits within minutes on CPU.
Runs, all from the same random θ₀ (seeded model builder):

  no ES (subtrain)  train on X^(subtrain) for --epochs, validation error recorded every n steps (the U curve)
  no ES (all data)  train on X^(train) for --epochs                    (skip with --skip-all-data-baseline)
  early stopping    the lecture's meta-algorithm on X^(subtrain)/X^(valid): θ*, i*   (callbacks/early_stopping.py)
  policy 1          fresh θ, X^(train) for i* steps                    (recipes/early_stopping/policies.py)
  policy 1 (epochs) fresh θ, X^(train) for as many epochs as i* steps were on X^(subtrain)
  policy 2          from θ*, ε = J(θ*, X^(subtrain)), X^(train) until J(θ, X^(valid)) ≤ ε or the bound

and reports the accuracy on the CIFAR-10 test images (all 10,000 unless --test-limit). The sets come from
recipes.data.cifar10.prepare_cifar10 (--data-dir, else $RECIPES_DATA/cifar10, else tensorflow-datasets).

    python scripts/early_stopping_cifar10.py --data-dir $RECIPES_DATA/cifar10 \
        --output-dir results/early_stopping_cifar10

Writes early_stopping_cifar10.png (validation curves + test accuracies), results.csv, results.md, curves.csv and
results.json to --output-dir; prints the table.
"""
import csv
import json
import pathlib
import sys
import time

import numpy as np

from augment.checks import check_positive_int
from recipes import cli

MODELS = ("cnn", "mlp", "resnet20")


def build_parser():
    p = cli.make_parser(__doc__, datasets=("cifar10",), output_dir="results/early_stopping_cifar10")
    p.add_argument("--cache-dir", default=None, help="decoded-data cache (default ~/.cache/keras_recipes)")
    p.add_argument("--model", default="cnn", choices=MODELS,
                   help="cnn: the registry's small_cnn, 2 conv + 1 hidden dense layer (137k parameters); mlp: one "
                        "hidden layer of 256; resnet20 (slow on CPU)")
    p.add_argument("--width", type=int, default=None, help="resnet20 only: first-stage filters")
    p.add_argument("--train-limit", type=int, default=4000, help="X^(train): the first N training images")
    p.add_argument("--val-size", type=int, default=1000, help="|X^(valid)|, taken out of X^(train)")
    p.add_argument("--test-limit", type=int, default=None, help="a random N test images (default: all 10,000)")
    p.add_argument("--epochs", type=int, default=30, help="epochs of the runs without early stopping (and the cap)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate ε")
    p.add_argument("--eval-every", type=int, default=50, help="n: steps between validation evaluations")
    p.add_argument("--patience", type=int, default=5, help="p: evaluations without improvement")
    p.add_argument("--max-extra-steps", type=int, default=None, help="policy 2's bound (default max(i*, n))")
    p.add_argument("--skip-all-data-baseline", action="store_true")
    return p


def make_builder(args, mean, std):
    """A function returning the compiled model, from the same random θ₀ every call (the registry's models)."""
    import keras

    from recipes.models import build_model

    def build():
        keras.utils.set_random_seed(args.seed)  # the same random θ₀ for every run
        if args.model == "resnet20":
            model = build_model("resnet20", width=args.width, mean=mean, std=std)
        elif args.model == "cnn":
            model = build_model("small_cnn", mean=mean, std=std)  # conv 16, 32 + pooling, dense 64
        else:
            inputs = keras.Input((32, 32, 3))
            x = keras.layers.Normalization(mean=mean, variance=np.square(std))(inputs)  # x̂ = (x − μ)/σ
            outputs = build_model("mlp", input_shape=(32, 32, 3), hidden_units=(256,), num_outputs=10)(x)
            model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.Adam(args.lr),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        return model

    return build


def main(argv=None):
    parser = build_parser()
    args = cli.parse_args(parser, argv)
    with cli.flag_errors(parser):
        for name in ("train_limit", "val_size", "epochs", "batch_size", "eval_every", "patience"):
            check_positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
        for name in ("test_limit", "width", "max_extra_steps"):
            if getattr(args, name) is not None:
                check_positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
        if args.val_size >= args.train_limit:
            raise ValueError(f"--val-size must be < --train-limit ({args.train_limit}), got {args.val_size}")
    folder = cli.data_folder(parser, args, "cifar10")
    import matplotlib.pyplot as plt

    from callbacks.early_stopping import StepEarlyStopping, fast_eval_data
    from recipes.data.cifar10 import prepare_cifar10
    from recipes.early_stopping.policies import EarlyStoppingPolicies

    started = time.time()
    with cli.flag_errors(parser):  # a --val-size or --test-limit larger than the data
        data = prepare_cifar10(folder, cache_dir=args.cache_dir, train_limit=args.train_limit,
                               val_size=args.val_size, test_limit=args.test_limit, seed=args.seed)
    out = pathlib.Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (x_sub, y_sub), (x_val, y_val), (x_test, y_test) = data.train, data.val, data.test
    f32 = lambda a: a.astype("float32")  # noqa: E731
    sub, val = (f32(x_sub), y_sub), (f32(x_val), y_val)
    everything = (np.concatenate([sub[0], val[0]]), np.concatenate([sub[1], val[1]]))
    test = fast_eval_data((f32(x_test), y_test), 500)
    mean, std = data.mean, data.std
    build = make_builder(args, mean, std)
    fit_kw = dict(batch_size=args.batch_size, verbose=0)
    rows, curves = [], {}

    def record(name, model, data_name, steps, seconds):
        loss, acc = model.evaluate(test, verbose=0)[:2]
        rows.append({"run": name, "trained_on": data_name, "steps": int(steps), "test_accuracy": round(float(acc), 4),
                     "test_loss": round(float(loss), 4), "train_seconds": round(seconds, 1)})
        print(f"{name:<20} {data_name:<10} steps={steps:<6d} test_accuracy={acc:.4f} test_loss={loss:.4f} "
              f"({seconds:.0f} s)", flush=True)

    # 1. No early stopping on X^(subtrain), recording the validation curve every n steps (patience never runs out).
    t = time.time()
    model = build()
    recorder = StepEarlyStopping(eval_every=args.eval_every, patience=10**9, validation_data=val,
                                 validation_batch_size=500, restore_best_weights=False)
    model.fit(*sub, epochs=args.epochs, callbacks=[recorder], **fit_kw)
    curves["no ES (subtrain)"] = (recorder.curve_steps, recorder.curve_values)
    record("no ES", model, "subtrain", recorder.step, time.time() - t)
    u_curve = {"best_step": recorder.best_step, "best_val_loss": recorder.best_value,
               "final_val_loss": recorder.curve_values[-1]}

    # 2. No early stopping on all of X^(train).
    if not args.skip_all_data_baseline:
        t = time.time()
        model = build()
        model.fit(*everything, epochs=args.epochs, **fit_kw)
        steps = int(model.optimizer.iterations)
        record("no ES", model, "all", steps, time.time() - t)

    # 3. Early stopping; 4. policy 1; 5. policy 2 (continues the early-stopped model in place, so it comes last).
    runner = EarlyStoppingPolicies(build, sub, val, eval_every=args.eval_every, patience=args.patience,
                                   batch_size=args.batch_size, max_epochs=args.epochs, validation_batch_size=500,
                                   max_extra_steps=args.max_extra_steps, seed=args.seed)
    t = time.time()
    es = runner.early_stop()
    curves["early stopping"] = (es.curve_steps, es.curve_values)
    record("early stopping", es.model, "subtrain", es.best_step, time.time() - t)
    print("  " + es.message)
    t = time.time()
    p1 = runner.retrain(es)
    record("policy 1 (retrain)", p1.model, "all", p1.retrain_steps, time.time() - t)
    t = time.time()
    runner_epochs = EarlyStoppingPolicies(build, sub, val, eval_every=args.eval_every, patience=args.patience,
                                          batch_size=args.batch_size, max_epochs=args.epochs,
                                          validation_batch_size=500, retrain_length="epochs", seed=args.seed)
    p1e = runner_epochs.retrain(es)
    record("policy 1 (epochs)", p1e.model, "all", p1e.retrain_steps, time.time() - t)
    t = time.time()
    p2 = runner.continue_training(es)
    curves["policy 2 (extra steps, J(valid))"] = (p2.continue_steps, p2.continue_values)
    record("policy 2 (continue)", p2.model, "all", es.best_step + p2.extra_steps, time.time() - t)
    print("  " + p2.message)

    # Table, CSVs, JSON, plot.
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    md = ["| run | trained on | steps | test accuracy | test loss |", "|---|---|---:|---:|---:|"]
    md += [f"| {r['run']} | {r['trained_on']} | {r['steps']} | {r['test_accuracy']:.4f} | {r['test_loss']:.4f} |"
           for r in rows]
    (out / "results.md").write_text("\n".join(md) + "\n")
    with open(out / "curves.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["curve", "step", "val_loss"])
        for name, (steps, values) in curves.items():
            w.writerows([[name, s, v] for s, v in zip(steps, values)])
    summary = {"args": vars(args), "rows": rows, "u_curve": u_curve, "early_stopping": es.summary(),
               "policy1": p1.summary(), "policy1_epochs": p1e.summary(), "policy2": p2.summary(),
               "subtrain": len(sub[1]), "valid": len(val[1]), "test": len(y_test),
               "total_seconds": round(time.time() - started, 1)}
    (out / "results.json").write_text(json.dumps(summary, indent=1, default=str))

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    s0, v0 = curves["no ES (subtrain)"]
    axes[0].plot(s0, v0, "-", color="0.5", label="no early stopping (full run)")
    axes[0].plot(es.curve_steps, es.curve_values, "o-", ms=3, color="C0", label=f"early stopping (p={args.patience})")
    axes[0].axvline(es.best_step, color="C0", ls="--", lw=1)
    axes[0].annotate(f"i*={es.best_step}", (es.best_step, es.best_value), textcoords="offset points",
                     xytext=(5, -15), color="C0")
    end = "stopped" if es.es_stop_reason else f"ran out of epochs (--epochs {args.epochs})"
    axes[0].axvline(es.es_steps, color="C3", ls=":", lw=1, label=f"{end} at step {es.es_steps}")
    axes[0].set_xlabel(f"training step i (evaluated every n={args.eval_every})")
    axes[0].set_ylabel("validation loss J(θ, X_valid)")
    axes[0].set_title(f"U-shaped validation curve ({args.model}, {len(sub[1])} subtrain / {len(val[1])} valid)")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    axes[1].plot(p2.continue_steps, p2.continue_values, "o-", ms=3, color="C2", label="J(θ, X_valid)")
    axes[1].axhline(p2.epsilon, color="k", ls="--", lw=1, label=f"ε = J(θ*, X_subtrain) = {p2.epsilon:.3f}")
    axes[1].set_xlabel("extra steps on X_train (policy 2)")
    axes[1].set_ylabel("validation loss")
    axes[1].set_title("policy 2: " + ("reached ε" if p2.reached_target else "stopped by the bound"))
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3)
    short = {"no ES": "no ES", "early stopping": "ES", "policy 1 (retrain)": "policy 1\ni* steps",
             "policy 1 (epochs)": "policy 1\nsame epochs", "policy 2 (continue)": "policy 2"}
    labels = [f"{short[r['run']]}\n({r['trained_on']})" for r in rows]
    accs = [r["test_accuracy"] for r in rows]
    bars = axes[2].bar(range(len(rows)), accs, color=[f"C{i}" for i in range(len(rows))])
    for b, a in zip(bars, accs):
        axes[2].text(b.get_x() + b.get_width() / 2, a, f"{a:.3f}", ha="center", va="bottom", fontsize=8)
    axes[2].set_xticks(range(len(rows)), labels, fontsize=8)
    axes[2].set_ylim(min(accs) - 0.05, max(accs) + 0.03)
    axes[2].set_ylabel(f"test accuracy ({len(y_test)} images)")
    axes[2].set_title("test accuracy")
    fig.tight_layout()
    fig.savefig(out / "early_stopping_cifar10.png", dpi=110)
    print()
    print("\n".join(md))
    print(f"U curve: minimum val loss {u_curve['best_val_loss']:.4f} at step {u_curve['best_step']}, "
          f"final {u_curve['final_val_loss']:.4f} at step {s0[-1]}")
    print(f"total {time.time() - started:.0f} s; wrote {out / 'early_stopping_cifar10.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
