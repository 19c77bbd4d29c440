"""Throughput of the augmentation pipelines on real data, one section per modality.

    PYTHONPATH=. python scripts/bench_augment.py --data-dir $RECIPES_DATA --sections image,text,speech \
        --output-dir out/bench_augment

Sections (``--sections``, comma separated; each is one function ``bench_<name>(args)`` returning
result rows, registered in ``SECTIONS``):

* image: CIFAR-10 pad-4 random crop + horizontal flip + one 8×8 cutout on the same
  ``--num-images`` real training images, batches of ``--batch-size``, fed through ``tf.data``:
  albumentations per image (``tf.numpy_function`` per image, then batch), albumentations per
  batch (batch, then one ``tf.numpy_function`` per batch) and the vectorized route
  (:mod:`augment.image_ops` layers on whole batches inside the ``tf.data`` graph). Every route
  uses ``map(num_parallel_calls=AUTOTUNE)`` and ``prefetch``; one untimed pass first (tracing,
  thread pools), then the best of ``--repeats`` timed passes, the routes interleaved round by round
  (the machine may be shared). Goal: vectorized >= 2.5x albumentations per batch.
* text: EDA against nlpaug's equivalent augmenters on ``--num-sentences`` SST-2 sentences (goal >= 5x);
* speech: the speech ops against audiomentations on ``--num-clips`` FSDD clips, and the wav -> log-mel
  ``tf.data`` pipeline. Both live in ``scripts/bench_augment_text_speech.py`` (``section_text`` /
  ``section_speech``).

Prints a table (section, route, items/s, ratio to the section's reference) and writes
``bench_augment.csv`` to ``--output-dir``.
"""
import argparse
import csv
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def time_routes(routes, repeats):
    """Best wall-clock seconds of one full pass over each route's dataset.

    ``routes`` maps a name to a function returning an iterable (a ``tf.data.Dataset``, a generator…). Each dataset is built and iterated once
    untimed (tracing, thread pools), then the routes are timed in interleaved rounds (A, B, C, A, B, C, …)
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


# ------------------------------------------------------------------------------------------------
# image


def _cifar_images(args):
    from recipes.data.cifar10 import load_cifar10

    data_dir = None if args.data_dir is None else pathlib.Path(args.data_dir) / "cifar10"
    (x_train, y_train), _ = load_cifar10(data_dir=data_dir, cache_dir=args.cache_dir)
    return x_train[: args.num_images], y_train[: args.num_images]


def bench_image(args):
    """Rows for the CIFAR-10 augmentation routes (see the module docstring)."""
    import tensorflow as tf

    from augment import albumentations_pipeline as ap
    from augment import image_ops

    x, y = _cifar_images(args)
    n = len(x)
    b = args.batch_size
    autotune = tf.data.AUTOTUNE
    compose = ap.build_compose("cutout", cutout_size=8, seed=args.seed)
    vectorized = image_ops.Sequential([image_ops.PadCrop(padding=4), image_ops.RandomFlip(), image_ops.Cutout(size=8)])

    def source():
        return tf.data.Dataset.from_tensor_slices((x, y))

    def per_image():
        ds = source().map(ap.numpy_map(compose, per="image"), num_parallel_calls=autotune)
        return ds.batch(b).prefetch(autotune)

    def per_batch():
        ds = source().batch(b).map(ap.numpy_map(compose, per="batch"), num_parallel_calls=autotune)
        return ds.prefetch(autotune)

    def vectorized_route():
        # stateless per-batch seeds (seed, batch index): deterministic and resumable, no seed variable
        def augment(step, batch):
            images, labels = batch
            seed = tf.stack([tf.constant(args.seed, tf.int64), step])
            return vectorized(tf.cast(images, tf.float32), seed=seed), labels

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
# text and speech: implemented in scripts/bench_augment_text_speech.py (section_text / section_speech)


def _text_speech_module():
    import importlib.util

    path = pathlib.Path(__file__).with_name("bench_augment_text_speech.py")
    spec = importlib.util.spec_from_file_location("bench_augment_text_speech", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_text(args):
    """EDA vs nlpaug's equivalent augmenters, sentences/s on ``--num-sentences`` SST-2 sentences."""
    return _text_speech_module().section_text(args)


def bench_speech(args):
    """Speech ops vs audiomentations, clips/s on ``--num-clips`` FSDD clips; the wav -> log-mel pipeline."""
    return _text_speech_module().section_speech(args)


SECTIONS = {"image": bench_image, "text": bench_text, "speech": bench_speech}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="image,text,speech", help=f"comma-separated subset of {sorted(SECTIONS)}")
    parser.add_argument(
        "--data-dir", default=os.environ.get("RECIPES_DATA"), help="shared data folder (default: $RECIPES_DATA)"
    )
    parser.add_argument("--cache-dir", default=None, help="decoded-data cache (default: the loader's)")
    parser.add_argument("--num-images", type=int, default=10_000, help="image section: CIFAR-10 images")
    parser.add_argument("--batch-size", type=int, default=128, help="image section: batch size")
    parser.add_argument("--num-sentences", type=int, default=2000, help="text section: SST-2 sentences")
    parser.add_argument("--num-clips", type=int, default=500, help="speech section: FSDD clips")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="out/bench_augment")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"--sections: unknown {unknown}; choose from {sorted(SECTIONS)}")
    if min(args.num_images, args.batch_size, args.repeats, args.num_sentences, args.num_clips) < 1:
        parser.error("--num-images, --batch-size, --repeats, --num-sentences and --num-clips must be >= 1")
    args.sections = sections
    return args


def main(argv=None):
    args = parse_args(argv)
    rows = []
    for section in args.sections:
        print(f"[{section}]", flush=True)
        rows += SECTIONS[section](args)
    out = pathlib.Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
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


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
