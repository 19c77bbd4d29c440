"""``keras-recipes-bench-augment``: throughput of the augmentation pipelines on real data, one section per modality.

    keras-recipes-bench-augment --data-dir ../shared/data --sections image,text,speech \
        --output-dir out/bench_augment

Sections (``--sections``, comma separated; each is one function ``section_<name>(args)`` returning
result rows, registered in ``SECTIONS``):

* image: CIFAR-10 pad-4 random crop + horizontal flip + one 8×8 cutout on the same
  ``--num-images`` real training images, batches of ``--batch-size``, fed through ``tf.data``:
  albumentations per image (``tf.numpy_function`` per image, then batch), albumentations per
  batch (batch, then one ``tf.numpy_function`` per batch) and the vectorized route
  (:class:`augment.presets.ImageAugmenter`, the :mod:`augment.image_ops` layers on whole batches inside the
  ``tf.data`` graph, keyed by ``step_key(seed, step)``). Every route
  uses ``map(num_parallel_calls=AUTOTUNE)`` and ``prefetch``; one untimed pass first (tracing,
  thread pools), then the best of ``--repeats`` timed passes, the routes interleaved round by round
  (the machine may be shared). Goal: vectorized >= 2.5x albumentations per batch.
* text: EDA (augment/eda.py) against nlpaug's equivalent augmenters, operation by operation, on
  ``--num-sentences`` SST-2 training sentences (goal >= 5x). Fairness: both sides take the same raw
  sentences one at a time in one Python thread and return strings; the same alpha (nlpaug
  ``aug_p = alpha``, ``aug_min = 1``); the best of ``--repeats`` timed passes after one warm-up pass (EDA's
  synonym cache is warm after it; the cold first pass is reported as well). nlpaug's ``SynonymAug`` calls
  ``nltk.pos_tag``, whose model is absent here: its tagger is replaced by one that tags every token with an
  unknown tag, which makes nlpaug look synonyms up for every part of speech - exactly what EDA does. nlpaug
  has no WordNet insertion (RI) augmenter.
* speech: augment/speech.py against audiomentations, transform by transform and as the whole random
  chain, on ``--num-clips`` FSDD clips; plus the wav -> log-mel ``tf.data`` pipeline on 4x as many.

Data (``--data-dir``, a data root such as ``../shared/data``; default ``$RECIPES_DATA``): ``cifar10/`` (image;
else tensorflow-datasets), ``text/`` and ``nltk_data/`` (text), ``fsdd/`` (speech). Prints a table per text/speech section (ours,
reference, speed-up), then one table of every route (section, route, items/s, ratio to the section's
reference); writes ``bench_augment.csv`` and, for the text and speech sections, ``bench_eda.csv`` and
``bench_speech.csv`` to ``--output-dir``.
"""
import csv
import pathlib
import sys
import time

import numpy as np

from augment.checks import check_positive_int
from recipes import cli

#: The datasets each section reads (nltk_data is optional: without it NLTK searches its own data path).
SECTION_DATA = {"image": ("cifar10",), "text": ("text", "nltk_data"), "speech": ("fsdd",)}


# ------------------------------------------------------------------------------------------------
# shared: timing and tables


def time_routes(routes, repeats):
    """Best wall-clock seconds of one full pass over each route's dataset.

    ``routes`` maps a name to a function returning an iterable (a ``tf.data.Dataset``, a generator…). Each
    dataset is built and iterated once untimed (tracing, thread pools), then the routes are timed in interleaved rounds (A, B, C, A, B, C, …)
    so that a change in machine load over the run affects every route alike.
    """
    datasets = {name: make() for name, make in routes.items()}
    for ds in datasets.values():
        for _ in ds:
            pass
    best = {name: float("inf") for name in routes}
    for _ in range(repeats):
        for name, ds in datasets.items():
            start = time.perf_counter()
            for _ in ds:
                pass
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _best_rate(fn, items, repeats):
    """Items per second of ``fn`` over ``items``: best of ``repeats`` passes (first pass excluded)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for it in items:
            fn(it)
        best = min(best, time.perf_counter() - t0)
    return len(items) / best


def _cold_rate(fn, items):
    t0 = time.perf_counter()
    for it in items:
        fn(it)
    return len(items) / (time.perf_counter() - t0)


def print_table(title, rows, ours="ours /s", ref="reference /s"):
    print(f"\n{title}")
    print(f"| {'what':42s} | {ours:>10s} | {ref:>12s} | {'speed-up':>8s} | reference |")
    print(f"|{'-' * 44}|{'-' * 12}|{'-' * 14}|{'-' * 10}|-----------|")
    for name, a, b, note in rows:
        ratio = a / b if b == b and b > 0 else float("nan")
        b_txt = f"{b:12,.0f}" if b == b else f"{'-':>12s}"
        r_txt = f"{ratio:7.1f}x" if ratio == ratio else f"{'-':>8s}"
        print(f"| {name:42s} | {a:10,.0f} | {b_txt} | {r_txt} | {note} |")


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["what", "ours_per_s", "reference_per_s", "speedup", "reference"])
        for name, a, b, note in rows:
            w.writerow([name, f"{a:.1f}", f"{b:.1f}", f"{a / b:.2f}" if b == b and b > 0 else "", note])


def _as_section_rows(section, rows, n, ours_label, ref_label):
    """Rows in the format of the summary table: one per route, ours with its ratio to the reference."""
    out = []
    for name, ours, ref, note in rows:
        ratio = ours / ref if ref == ref and ref > 0 else float("nan")
        out.append({"section": section, "route": f"{ours_label}: {name}", "items": n, "seconds": n / ours,
                    "items_per_s": ours, "ratio": ratio, "reference": f"{ref_label} {note}"})
        if ref == ref:
            out.append({"section": section, "route": f"{ref_label}: {name}", "items": n, "seconds": n / ref,
                        "items_per_s": ref, "ratio": 1.0, "reference": f"{ref_label} {note}"})
    return out


# ------------------------------------------------------------------------------------------------
# image


def section_image(args):
    """Rows for the CIFAR-10 augmentation routes (see the module docstring)."""
    import tensorflow as tf

    from augment import albumentations_pipeline as ap
    from augment.presets import ImageAugmenter, augment_spec
    from recipes.data.cifar10 import prepare_cifar10

    x, y = prepare_cifar10(args.folders["cifar10"], cache_dir=args.cache_dir, train_limit=args.num_images).train
    n = len(x)
    b = args.batch_size
    autotune = tf.data.AUTOTUNE
    compose = ap.build_compose("cutout", cutout_size=8, seed=args.seed)
    vectorized = ImageAugmenter(augment_spec("standard", cutout=8))  # pad-4 crop, flip, one 8x8 cutout

    def source():
        return tf.data.Dataset.from_tensor_slices((x, y))

    def per_image():
        ds = source().map(ap.numpy_map(compose, per="image"), num_parallel_calls=autotune)
        return ds.batch(b).prefetch(autotune)

    def per_batch():
        ds = source().batch(b).map(ap.numpy_map(compose, per="batch"), num_parallel_calls=autotune)
        return ds.prefetch(autotune)

    def vectorized_route():
        # stateless per-batch keys step_key(seed, step) = (seed, step): deterministic and resumable
        def augment(step, batch):
            images, labels = batch
            key = tf.cast(tf.stack([tf.constant(args.seed, tf.int64), step]), tf.int32)
            return vectorized(tf.cast(images, tf.float32), seed=key)[0], labels

        return source().batch(b).enumerate().map(augment, num_parallel_calls=autotune).prefetch(autotune)

    routes = {
        "albumentations per image (tf.numpy_function)": per_image,
        "albumentations per batch (tf.numpy_function)": per_batch,
        "vectorized image_ops in tf.data": vectorized_route,
    }
    rows = []
    for name, seconds in time_routes(routes, args.repeats).items():
        rows.append({"section": "image", "route": name, "items": n, "seconds": seconds, "items_per_s": n / seconds})
        print(f"  image | {name}: {n / seconds:,.0f} img/s", flush=True)
    reference = rows[1]["items_per_s"]
    for row in rows:
        row["ratio"] = row["items_per_s"] / reference
        row["reference"] = "albumentations per batch"
    return rows


# ------------------------------------------------------------------------------------------------
# text


def bench_eda(sentences, alpha=0.1, repeats=3, nltk_data=None):
    """Rows ``(operation, EDA sentences/s, nlpaug sentences/s, note)``."""
    import nlpaug.augmenter.word as naw

    from augment.eda import EDA, load_wordnet

    load_wordnet(nltk_data).synsets("warm")  # both sides: WordNet already loaded
    rows = []

    def eda_op(op):
        eda = EDA(alpha_sr=alpha, alpha_ri=alpha, alpha_rs=alpha, alpha_rd=alpha, seed=0, nltk_data=nltk_data)
        return eda, (lambda s: " ".join(eda.apply(op, eda.tokenize(s))))

    def synonym_aug():
        aug = naw.SynonymAug(aug_src="wordnet", aug_p=alpha, aug_min=1)
        aug.model.pos_tag = lambda tokens: [(t, "") for t in tokens]  # no tagger: every POS
        return aug

    # SR: first pass (empty synonym cache, WordNet's own caches cold) and steady state (EDA's cache
    # filled for the corpus). nlpaug's first pass is not timed here: after EDA's pass NLTK's reader has
    # the synsets cached, which would flatter it. Measured in two fresh processes, both first passes
    # are WordNet-bound and equal (EDA 458/s, nlpaug 438/s on 2,000 SST-2 sentences).
    eda, f = eda_op("sr")
    cold = _cold_rate(f, sentences)
    eda.warm_cache(sentences)
    warm = _best_rate(f, sentences, repeats)
    nl = synonym_aug()
    nl.augment(sentences[0])
    nl_warm = _best_rate(nl.augment, sentences, repeats)
    rows.append(("SR synonym replacement, first pass", cold, float("nan"),
                 "WordNet-bound; nlpaug the same in a fresh process"))
    rows.append(("SR synonym replacement", warm, nl_warm, "SynonymAug(wordnet), every POS"))
    # the same nlpaug augmenter with WordNet lookups memoized: what is left is implementation overhead
    memo = synonym_aug()
    predict, cache = memo.model.predict, {}

    def cached_predict(word, pos=None):
        key = (word, pos)
        if key not in cache:
            cache[key] = predict(word, pos=pos)
        return cache[key]

    memo.model.predict = cached_predict
    for word in {t for s in sentences for t in memo.tokenizer(s)}:  # fill its cache as EDA's was
        cached_predict(word)
    rows.append(("SR, nlpaug's lookups memoized too", warm, _best_rate(memo.augment, sentences, repeats),
                 "SynonymAug + dict cache"))
    for op, action, label in (("rs", "swap", "RS random swap"), ("rd", "delete", "RD random deletion")):
        _, f = eda_op(op)
        f(sentences[0])
        aug = naw.RandomWordAug(action=action, aug_p=alpha, aug_min=1)
        rows.append((label, _best_rate(f, sentences, repeats), _best_rate(aug.augment, sentences, repeats),
                     f"RandomWordAug({action!r})"))
    eda, f = eda_op("ri")
    eda.warm_cache(sentences)
    rows.append(("RI random insertion", _best_rate(f, sentences, repeats), float("nan"), "no nlpaug equivalent"))
    # whole EDA: n_aug = 3 sentences from SR, RS, RD (RI off) vs nlpaug's three augmenters, one each
    eda3 = EDA(alpha_sr=alpha, alpha_ri=0.0, alpha_rs=alpha, alpha_rd=alpha, n_aug=3, seed=0, nltk_data=nltk_data)
    eda3.warm_cache(sentences)
    trio = [memo, naw.RandomWordAug(action="swap", aug_p=alpha, aug_min=1),
            naw.RandomWordAug(action="delete", aug_p=alpha, aug_min=1)]
    sr_only = synonym_aug()
    trio_plain = [sr_only] + trio[1:]
    ours = 3 * _best_rate(eda3.augment, sentences, repeats)
    theirs = 3 * _best_rate(lambda s: [a.augment(s) for a in trio_plain], sentences, repeats)
    rows.append(("EDA SR+RS+RD, 3 outputs per sentence", ours, theirs, "the three nlpaug augmenters"))
    return rows


def section_text(args):
    """EDA vs nlpaug on ``args.num_sentences`` SST-2 sentences: prints the table, writes ``bench_eda.csv``."""
    from augment.text_pipeline import read_labeled_sentences

    sentences, _ = read_labeled_sentences(args.folders["text"] / "stsa.binary.train")
    sentences = sentences[: args.num_sentences]
    rows = bench_eda(sentences, repeats=args.repeats, nltk_data=args.folders["nltk_data"])
    print_table(f"EDA vs nlpaug, {len(sentences)} SST-2 sentences, alpha = 0.1, sentences/s", rows,
                "EDA /s", "nlpaug /s")
    _write_csv(pathlib.Path(args.output_dir) / "bench_eda.csv", rows)
    return _as_section_rows("text", rows, len(sentences), "EDA", "nlpaug")


# ------------------------------------------------------------------------------------------------
# speech


def load_fsdd_clips(root, n):
    from scipy.io import wavfile

    files = sorted(p for p in pathlib.Path(root).glob("*.wav") if not p.name.startswith("."))  # no ._x.wav
    files = files[:: max(1, 3000 // n)][:n]
    return [wavfile.read(f)[1].astype(np.float32) / 32768.0 for f in files]


def bench_speech(clips, sample_rate=8000, repeats=3):
    """Rows ``(transform, ours clips/s, audiomentations clips/s, note)``; every transform with p = 1,
    then the random chains with the same probabilities and ranges."""
    import audiomentations as A

    from augment import speech as S

    rng = np.random.default_rng(0)
    pairs = [
        ("white noise at SNR U(10, 30) dB", lambda x: S.add_white_noise(x, rng.uniform(10, 30), rng),
         A.AddGaussianSNR(min_snr_db=10, max_snr_db=30, p=1.0), "AddGaussianSNR"),
        ("gain U(-6, 6) dB", lambda x: S.apply_gain(x, rng.uniform(-6, 6)), A.Gain(-6, 6, p=1.0), "Gain"),
        ("time shift U(-0.1, 0.1) N", lambda x: S.time_shift(x, int(rng.uniform(-0.1, 0.1) * x.size)),
         A.Shift(-0.1, 0.1, rollover=False, fade_duration=0.0, p=1.0), "Shift"),
        ("speed U(0.9, 1.1)", lambda x: S.change_speed(x, rng.uniform(0.9, 1.1)),
         A.Resample(int(sample_rate / 1.1), int(sample_rate / 0.9), p=1.0), "Resample (played at 8 kHz)"),
        ("pitch shift U(-2, 2) semitones", lambda x: S.pitch_shift(x, rng.uniform(-2, 2)),
         A.PitchShift(-2, 2, p=1.0), "PitchShift (signalsmith)"),
    ]
    rows = []
    for name, ours, theirs, note in pairs:
        ref = lambda x, t=theirs: t(x, sample_rate=sample_rate)
        ours(clips[0]), ref(clips[0])
        rows.append((name, _best_rate(ours, clips, repeats), _best_rate(ref, clips, repeats), note))
    chain = S.WaveAugment(speed=(0.9, 1.1), p_speed=0.5, semitones=(-2, 2), p_pitch=0.3, snr_db=(10, 30),
                          p_noise=0.5, gain_db=(-6, 6), p_gain=0.5, max_shift=0.1, p_shift=0.5, seed=0)
    ref_chain = A.Compose([A.Resample(int(sample_rate / 1.1), int(sample_rate / 0.9), p=0.5),
                           A.PitchShift(-2, 2, p=0.3), A.AddGaussianSNR(10, 30, p=0.5), A.Gain(-6, 6, p=0.5),
                           A.Shift(-0.1, 0.1, rollover=False, fade_duration=0.0, p=0.5)])
    rows.append(("random chain of all five", _best_rate(chain, clips, repeats),
                 _best_rate(lambda x: ref_chain(x, sample_rate=sample_rate), clips, repeats), "Compose"))
    return rows


def bench_speech_pipeline(files, labels, repeats=2):
    """Rows ``(pipeline, clips/s, nan, note)`` for the wav -> log-mel tf.data pipeline (decoded waves
    cached after the first epoch, batch 64)."""
    from augment.speech import WaveAugment
    from augment.speech_pipeline import speech_dataset

    rows = []
    for name, kw in (("wav -> log-mel", {}), ("+ SpecAugment", dict(spec_augment={})),
                     ("+ waveform chain + SpecAugment", dict(wave_augment=WaveAugment(), spec_augment={}))):
        ds = speech_dataset(files, labels, batch_size=64, **kw)
        for _ in ds:  # fills the cache
            pass
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in ds:
                pass
            best = min(best, time.perf_counter() - t0)
        rows.append((f"tf.data {name}", len(files) / best, float("nan"), "batches of 64, (97, 40, 1)"))
    return rows


def section_speech(args):
    """Speech ops vs audiomentations on ``args.num_clips`` FSDD clips, then the wav -> log-mel tf.data pipeline
    on 4x as many: prints the table, writes ``bench_speech.csv``."""
    from augment.speech_pipeline import fsdd_split

    root = args.folders["fsdd"] / "recordings"
    n = args.num_clips
    clips = load_fsdd_clips(root, n)
    rows = bench_speech(clips, repeats=args.repeats)
    (files, labels), _ = fsdd_split(root)
    pipeline = bench_speech_pipeline(files[: 4 * n], labels[: 4 * n])
    print_table(f"speech augmentation, {len(clips)} FSDD clips (8 kHz, mean "
                f"{np.mean([c.size for c in clips]) / 8000:.2f} s), clips/s", rows + pipeline,
                "ours /s", "audiomentations /s")
    _write_csv(pathlib.Path(args.output_dir) / "bench_speech.csv", rows + pipeline)
    return (_as_section_rows("speech", rows, len(clips), "ours", "audiomentations")
            + _as_section_rows("speech", pipeline, len(files[: 4 * n]), "ours", "-"))


SECTIONS = {"image": section_image, "text": section_text, "speech": section_speech}


def parse_args(argv=None):
    parser = cli.make_parser(__doc__, datasets=("cifar10", "text", "nltk_data", "fsdd"),
                             output_dir="out/bench_augment")
    parser.add_argument("--sections", default="image,text,speech", help=f"comma-separated subset of {sorted(SECTIONS)}")
    parser.add_argument("--cache-dir", default=None, help="decoded-data cache (default: the loader's)")
    parser.add_argument("--num-images", type=int, default=10_000, help="image section: CIFAR-10 images")
    parser.add_argument("--batch-size", type=int, default=128, help="image section: batch size")
    parser.add_argument("--num-sentences", type=int, default=2000, help="text section: SST-2 sentences")
    parser.add_argument("--num-clips", type=int, default=500, help="speech section: FSDD clips")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes (the best is reported)")
    args = cli.parse_args(parser, argv)
    with cli.flag_errors(parser):
        args.sections = cli.split_list("--sections", args.sections, choices=sorted(SECTIONS))
        for flag, value in (("--num-images", args.num_images), ("--batch-size", args.batch_size),
                            ("--repeats", args.repeats), ("--num-sentences", args.num_sentences),
                            ("--num-clips", args.num_clips)):
            check_positive_int(flag, value)
    args.folders = {name: cli.data_folder(parser, args, name, optional=name == "nltk_data")
                    for section in args.sections for name in SECTION_DATA[section]}
    return args


def run(argv=None):
    """Run the benchmark; returns the rows of the summary table (dicts with ``section``, ``route``, ``items``,
    ``seconds``, ``items_per_s``, ``ratio``, ``reference``)."""
    args = parse_args(argv)
    out = pathlib.Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for section in args.sections:
        print(f"[{section}]", flush=True)
        rows += SECTIONS[section](args)
    fields = ["section", "route", "items", "seconds", "items_per_s", "ratio", "reference"]
    with open(out / "bench_augment.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print()
    print("| section | route | items/s | ratio | reference |")
    print("|---|---|---:|---:|---|")
    for row in rows:
        ratio = row.get("ratio", float("nan"))
        ratio = "-" if ratio != ratio else f"{ratio:.2f}x"
        print(f"| {row['section']} | {row['route']} | {row['items_per_s']:,.0f} | {ratio} | {row.get('reference', '-')} |")
    print(f"wrote {out / 'bench_augment.csv'}")
    return rows


def main(argv=None):
    """The command: :func:`run`; exit status 0, or 1 when no route was measured (bad flags exit 2)."""
    return 0 if run(argv) else 1


if __name__ == "__main__":
    sys.exit(main())
