"""Recipe: EDA and back-translation on SST-2 with a small Keras text CNN, at 500 and at all training
sentences.

For each training-set size N (500 drawn from stsa.binary.train with a fixed seed, and all 6,920) and
each augmentation - none, EDA with the paper's Table 3 parameters (N = 500: alpha = 0.05, n_aug = 16;
N = 6,920: alpha = 0.1, n_aug = 4), Apertium back-translation through Spanish (one paraphrase per
sentence; skipped when apertium is absent) - a fresh model is trained on the expanded set (offline
route: written to disk by augment.text_pipeline.expand_offline, read back with TextLineDataset;
method ``eda_otf`` instead replaces each sentence on the fly with probability n_aug/(n_aug+1) by one
EDA augmentation, through augment.text_pipeline.on_the_fly_dataset) - the registry's ``text_cnn``:

    TextVectorization(20k words, 50 tokens, adapted on the training sentences used)
    -> Embedding(64) -> Dropout(0.3) -> Conv1D(64, 3, relu) -> GlobalMaxPool -> Dropout(0.5) -> Dense(1)

(``--model mean``: Embedding -> masked GlobalAveragePooling -> Dropout(0.5) -> Dense(1) instead).
Adam 1e-3, batch 32. The expanded set is streamed (repeated, reshuffled); one "epoch" is ceil(N/32)
steps whatever the augmentation, so every arm is validated after the same number of updates; early
stopping on dev accuracy (872 sentences; patience 5, best weights restored, at most ``--epochs``);
test accuracy on the 1,821 SST-2 test sentences, mean +- std over ``--seeds`` seeds (``--seed``, ``--seed`` + 1, …;
``--seed`` also draws the 500-sentence subset and seeds EDA).

Usage:  python scripts/text_augment_sst2.py --sizes 500 --seeds 5 --output-dir out/text_augment
Data: ``--data-dir``, a data root holding ``text/`` (the SST-2 files ``stsa.binary.{train,dev,test}``) and
``nltk_data/`` (WordNet; without it NLTK searches ``$NLTK_DATA`` and its own path); default ``$RECIPES_DATA``.
Writes text_augment_sst2_<model>_<sizes>.csv and .png (test accuracy per arm, error bars = std).
"""
from __future__ import annotations

import csv
import pathlib
import sys
import time

import numpy as np

from augment.checks import check_positive_int
from recipes import cli

METHODS = ("none", "eda", "eda_otf", "backtranslation")


def build_text_model(train_texts, seed, arch="cnn"):
    """The registry's ``text_cnn`` (vocabulary adapted on ``train_texts``), compiled: Adam 1e-3, cross-entropy."""
    import keras

    from recipes.models import build_model

    keras.utils.set_random_seed(seed)
    model = build_model("text_cnn", texts=train_texts, arch=arch)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def train_and_test(train_ds, train_texts, dev, test, seed, epochs, steps_per_epoch, arch="cnn"):
    import keras
    import tensorflow as tf

    model = build_text_model(train_texts, seed, arch)
    to_ds = lambda xy: tf.data.Dataset.from_tensor_slices((xy[0], xy[1].astype("float32"))).batch(256)
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=5, restore_best_weights=True)
    train_ds = train_ds.repeat().map(lambda x, y: (tf.reshape(x, [-1, 1]), tf.cast(y, tf.float32)))
    dev_ds = to_ds(dev).map(lambda x, y: (tf.reshape(x, [-1, 1]), y))
    test_ds = to_ds(test).map(lambda x, y: (tf.reshape(x, [-1, 1]), y))
    hist = model.fit(train_ds, validation_data=dev_ds, epochs=epochs, steps_per_epoch=steps_per_epoch,
                     callbacks=[stop], verbose=0)
    _, acc = model.evaluate(test_ds, verbose=0)
    return acc, len(hist.history["loss"])


def plot_rows(rows, path, title):
    """Grouped bars: test accuracy per augmentation, one group per training-set size."""
    import matplotlib.pyplot as plt

    sizes = sorted({r["n_train"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, ax = plt.subplots(figsize=(1.6 + 1.8 * len(sizes), 3.2))
    w = 0.8 / len(methods)
    for j, m in enumerate(methods):
        xs, ys, es = [], [], []
        for i, n in enumerate(sizes):
            r = next((r for r in rows if r["n_train"] == n and r["method"] == m), None)
            if r:
                xs.append(i + (j - (len(methods) - 1) / 2) * w)
                ys.append(100 * r["test_acc_mean"])
                es.append(100 * r["test_acc_std"])
        ax.bar(xs, ys, w, yerr=es, label=m, capsize=2)
    ax.set_xticks(range(len(sizes)), [f"N = {n}" for n in sizes])
    lo = min(100 * r["test_acc_mean"] for r in rows)
    ax.set_ylim(lo - 5, min(100, max(100 * r["test_acc_mean"] for r in rows) + 3))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    p = cli.make_parser(__doc__, datasets=("text", "nltk_data"), output_dir="out/text_augment")
    p.add_argument("--sizes", type=int, nargs="+", default=[500, 6920], help="training-set sizes N")
    p.add_argument("--seeds", type=int, default=3, help="runs per arm, seeds --seed, --seed + 1, …")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--model", choices=["cnn", "mean"], default="cnn")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    args = cli.parse_args(p, argv)
    with cli.flag_errors(p):
        for n in args.sizes:
            check_positive_int("--sizes", n)
        check_positive_int("--seeds", args.seeds)
        check_positive_int("--epochs", args.epochs)
    text_dir = cli.data_folder(p, args, "text")
    nltk_dir = cli.data_folder(p, args, "nltk_data", optional=True)

    from augment.back_translation import ApertiumTranslator, BackTranslator
    from augment.eda import EDA, clean_sentence, paper_parameters
    from augment.text_pipeline import (expand_offline, load_expanded, on_the_fly_dataset,
                                       read_labeled_sentences)

    out = pathlib.Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    # every arm and the dev/test sets get EDA's cleaning (lower case, letters only), so that no arm sees
    # a different tokenization from the test set ("re-imagining" -> "re imagining", "1930s" -> "s")
    clean_all = lambda xy: ([clean_sentence(t) for t in xy[0]], xy[1])
    texts, labels = clean_all(read_labeled_sentences(text_dir / "stsa.binary.train"))
    dev = clean_all(read_labeled_sentences(text_dir / "stsa.binary.dev"))
    test = clean_all(read_labeled_sentences(text_dir / "stsa.binary.test"))
    methods = list(args.methods)
    if "backtranslation" in methods and not ApertiumTranslator.available():
        print("apertium not installed: skipping back-translation")
        methods.remove("backtranslation")

    rows = []
    for n in args.sizes:
        idx = np.random.default_rng(args.seed).permutation(len(texts))[:n] if n < len(texts) else np.arange(len(texts))
        sub_x, sub_y = [texts[i] for i in idx], labels[idx]
        for method in methods:
            t0 = time.time()
            path = out / f"train_{n}_{method}.tsv"
            if method == "none":
                augmenter, note = (lambda s: []), "-"
            elif method in ("eda", "eda_otf"):
                params = paper_parameters(n)
                eda = EDA(**params, seed=args.seed, nltk_data=nltk_dir)
                augmenter, note = eda, f"alpha={params['alpha_sr']}, n_aug={params['n_aug']}"
            else:
                back = [clean_sentence(b) for b in BackTranslator(ApertiumTranslator())(sub_x)]
                table = dict(zip(sub_x, back))
                augmenter, note = (lambda s, t=table: [t[s]]), "Apertium en->es->en"
            if method == "eda_otf":  # on the fly: the cache is filled first, the file holds originals only
                eda.warm_cache(sub_x)
                n_lines = expand_offline(sub_x, sub_y, lambda s: [], path)
                note += ", on the fly"
            else:
                n_lines = expand_offline(sub_x, sub_y, augmenter, path)
            aug_s = time.time() - t0
            train_texts = [line.split("\t", 1)[1] for line in path.read_text(encoding="utf-8").split("\n") if line]
            if method == "eda_otf":  # the vocabulary may hold the synonyms EDA can draw
                train_texts = train_texts + [" ".join(sorted({w for x in sub_x for t in eda.tokenize(x)
                                                               for w in eda.synonyms(t)}))]
            accs, eps = [], []
            t1 = time.time()
            for seed in range(args.seed, args.seed + args.seeds):
                if method == "eda_otf":
                    eda.rng.seed(seed)  # same cached synonyms, a new stream per seed
                    ds = on_the_fly_dataset(sub_x, sub_y, eda, batch_size=32, seed=seed)
                else:
                    ds = load_expanded(path, batch_size=32, shuffle=True, seed=seed)
                acc, ep = train_and_test(ds, train_texts, dev, test, seed, args.epochs, -(-n // 32), args.model)
                accs.append(acc)
                eps.append(ep)
            row = dict(n_train=n, method=method, params=note, train_lines=n_lines,
                       test_acc_mean=float(np.mean(accs)), test_acc_std=float(np.std(accs)),
                       accs=" ".join(f"{a:.4f}" for a in accs), epochs=" ".join(map(str, eps)),
                       augment_s=round(aug_s, 1), train_s=round(time.time() - t1, 1))
            rows.append(row)
            print(f"N={n:5d} {method:16s} lines={n_lines:6d} acc={row['test_acc_mean']:.4f} "
                  f"+- {row['test_acc_std']:.4f} ({row['accs']}) epochs={row['epochs']} "
                  f"aug {aug_s:.1f}s train {row['train_s']}s", flush=True)

    stem = out / f"text_augment_sst2_{args.model}_{'_'.join(map(str, args.sizes))}"
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plot_rows(rows, stem.with_suffix(".png"), f"SST-2, text {args.model}, {args.seeds} seeds")
    print(f"\nSST-2 test accuracy (1,821 sentences), model {args.model}, mean +- std over {args.seeds} seeds")
    print("| N train | augmentation | parameters | training lines | test accuracy | vs none |")
    print("|---|---|---|---|---|---|")
    base = {r["n_train"]: r["test_acc_mean"] for r in rows if r["method"] == "none"}
    for r in rows:
        d = r["test_acc_mean"] - base.get(r["n_train"], np.nan)
        print(f"| {r['n_train']} | {r['method']} | {r['params']} | {r['train_lines']} | "
              f"{100 * r['test_acc_mean']:.1f} +- {100 * r['test_acc_std']:.1f} | {100 * d:+.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
