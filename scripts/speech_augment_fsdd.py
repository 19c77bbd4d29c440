"""Recipe: speech augmentation on the Free Spoken Digit Dataset with a small CNN on log-mels.

Splits: ``official`` (recordings with index 0-4 are the 300 test clips, 2,700 train) and ``speaker``
(every clip of ``--test-speaker`` is the test set: 500 clips of a voice never heard in training, 2,500
train). Arms:

* ``none``       - wav -> log-mel (40 mels, 32 ms windows, 10 ms hop, 1 s centred, per-clip normalized);
* ``spec``       - + SpecAugment: 2 frequency masks of width U{0..8} of 40, 2 time masks of U{0..10}
  of 97 frames, filled with the clip mean;
* ``wave``       - + waveform chain per clip (augment.speech.WaveAugment): speed U(0.9, 1.1) p=0.5,
  pitch U(-2, 2) semitones p=0.3, additive noise from other training clips (babble) at SNR
  U(10, 30) dB p=0.5, gain U(-6, 6) dB p=0.5, time shift U(-0.1, 0.1) of the clip p=0.5;
* ``wave+spec``  - both.

Model (the registry's ``small_cnn``): Conv2D(32)-ReLU-MaxPool, Conv2D(64)-ReLU-MaxPool, Conv2D(128)-ReLU, global
max pooling, Dropout(0.3), Dense(10) (0.1 M weights; global max pooling finds a digit wherever it sits in the
second, and learned far faster here than average pooling or batch normalization did); Adam 1e-3
decayed by cosine to 0 over ``--epochs`` epochs, batch 32;
test accuracy after the last epoch, mean +- std over ``--seeds`` seeds (``--seed``, ``--seed`` + 1, …).

Usage:  python scripts/speech_augment_fsdd.py --split official --output-dir out/speech_augment
Data: ``--data-dir`` (the FSDD folder or a data root holding ``fsdd/``; default ``$RECIPES_DATA/fsdd``).
Writes speech_augment_fsdd_<split>.csv and .png.
"""
from __future__ import annotations

import csv
import math
import pathlib
import sys
import time

import numpy as np

from augment.checks import check_int, check_positive_int
from recipes import cli

METHODS = ("none", "spec", "wave", "wave+spec")


def build_cnn(input_shape, seed, steps):
    """The registry's ``small_cnn`` as this recipe's classifier, compiled (Adam, cosine decay over ``steps``)."""
    import keras

    from recipes.models import build_model

    keras.utils.set_random_seed(seed)
    model = build_model("small_cnn", input_shape=input_shape, filters=(32, 64, 128), pooled=(True, True, False),
                        head="max", dense_units=(), dropout_rate=0.3)
    lr = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def plot_title(split, test_speaker, epochs, seeds):
    """"FSDD official split (index 0-4 test), small CNN on log-mels, 10 epochs, 1 seed"."""
    where = "official split (index 0-4 test)" if split == "official" else f"speaker '{test_speaker}' held out"
    return f"FSDD {where}, small CNN on log-mels, {cli.quantity(epochs, 'epoch')}, {cli.quantity(seeds, 'seed')}"


def plot_rows(rows, path, title):
    """Bars: test accuracy per augmentation."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.6 + 1.0 * len(rows), 3.2))
    ys = [100 * r["test_acc_mean"] for r in rows]
    runs = max(len(str(r.get("accs", "")).split()) for r in rows)
    errors = [100 * float(r["test_acc_std"]) for r in rows] if runs > 1 else None  # no bar for one run
    ax.bar(range(len(rows)), ys, yerr=errors, capsize=2, color="tab:blue")
    for i, y in enumerate(ys):
        ax.text(i, y + 1, f"{y:.1f}", ha="center", fontsize=8)
    ax.set_xticks(range(len(rows)), [r["method"].replace(" (", "\n(") for r in rows], fontsize=8)
    ax.set_ylim(0, 105)  # bars from 0: their lengths compare
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    p = cli.make_parser(__doc__, datasets=("fsdd",), output_dir="out/speech_augment")
    p.add_argument("--split", choices=["official", "speaker"], default="official")
    p.add_argument("--test-speaker", default="theo")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", type=int, default=1, help="runs per method, seeds --seed, --seed + 1, …")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--freq-mask", type=int, default=8, help="SpecAugment F (widest frequency mask)")
    p.add_argument("--time-mask", type=int, default=10, help="SpecAugment T (widest time mask)")
    p.add_argument("--num-masks", type=int, default=2, help="SpecAugment m_F = m_T")
    args = cli.parse_args(p, argv)
    with cli.flag_errors(p):
        for flag, value in (("--epochs", args.epochs), ("--seeds", args.seeds), ("--batch-size", args.batch_size)):
            check_positive_int(flag, value)
        for flag, value in (("--freq-mask", args.freq_mask), ("--time-mask", args.time_mask),
                            ("--num-masks", args.num_masks)):
            check_int(flag, value, 0)
    root = cli.data_folder(p, args, "fsdd") / "recordings"

    from scipy.io import wavfile

    from augment.speech import WaveAugment
    from augment.speech_pipeline import fsdd_split, speech_dataset

    out = pathlib.Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    with cli.flag_errors(p):  # a --test-speaker FSDD does not have
        (train_f, train_y), (test_f, test_y) = fsdd_split(root, args.split, args.test_speaker)
    # babble noise: 200 other training clips
    pick = np.random.default_rng(args.seed).choice(len(train_f), 200, replace=False)
    noise = [wavfile.read(train_f[i])[1].astype(np.float32) / 32768.0 for i in pick]
    test_ds = speech_dataset(test_f, test_y, batch_size=256, shuffle=False)
    steps = args.epochs * math.ceil(len(train_f) / args.batch_size)
    print(f"split={args.split} train={len(train_f)} test={len(test_f)}"
          + (f" (held-out speaker {args.test_speaker})" if args.split == "speaker" else ""), flush=True)

    rows = []
    for method in args.methods:
        accs, t0 = [], time.time()
        for seed in range(args.seed, args.seed + args.seeds):
            wave = (WaveAugment(noise_clips=noise, seed=seed) if "wave" in method else None)
            spec = (dict(freq_mask_param=args.freq_mask, num_freq_masks=args.num_masks,
                         time_mask_param=args.time_mask, num_time_masks=args.num_masks)
                    if "spec" in method else None)
            train_ds = speech_dataset(train_f, train_y, wave_augment=wave, spec_augment=spec,
                                      batch_size=args.batch_size, shuffle=True, seed=seed)
            model = build_cnn((97, 40, 1), seed, steps)
            model.fit(train_ds, epochs=args.epochs, verbose=0)
            accs.append(model.evaluate(test_ds, verbose=0)[1])
        label = method
        if "spec" in method and (args.freq_mask, args.time_mask, args.num_masks) != (8, 10, 2):
            label += f" (F={args.freq_mask}, T={args.time_mask}, m={args.num_masks})"
        row = dict(split=args.split, method=label, test_acc_mean=float(np.mean(accs)),
                   test_acc_std=float(np.std(accs)), accs=" ".join(f"{a:.4f}" for a in accs),
                   seconds=round(time.time() - t0, 1))
        rows.append(row)
        print(f"{method:10s} acc={row['test_acc_mean']:.4f} +- {row['test_acc_std']:.4f} ({row['accs']}) "
              f"{row['seconds']}s", flush=True)

    with open(out / f"speech_augment_fsdd_{args.split}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plot_rows(rows, out / f"speech_augment_fsdd_{args.split}.png",
              plot_title(args.split, args.test_speaker, args.epochs, args.seeds))
    print(f"\nFSDD test accuracy, split {args.split}, {cli.quantity(args.epochs, 'epoch')}, "
          f"{cli.quantity(args.seeds, 'seed')}")
    print("| split | augmentation | test accuracy | vs none |")
    print("|---|---|---|---|")
    base = next((r["test_acc_mean"] for r in rows if r["method"] == "none"), np.nan)
    for r in rows:
        print(f"| {r['split']} | {r['method']} | {100 * r['test_acc_mean']:.1f} +- {100 * r['test_acc_std']:.1f} | "
              f"{100 * (r['test_acc_mean'] - base):+.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
