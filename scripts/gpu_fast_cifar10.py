#!/usr/bin/env python
"""The fast recipe on one GPU, in one call: 5 seeds of ``--recipe fast`` (airbench94's algorithm) under Keras on
JAX, evaluated after every epoch, and one table of seconds-to-94 %, img/s and test accuracy.

Made for a machine that has JAX (with CUDA), Keras and NumPy but no TensorFlow and no network: it sets
``KERAS_BACKEND=jax``, imports nothing of TensorFlow, installs nothing, and reads CIFAR-10 from ``--data-dir``
(the NumPy shards of ``scripts/pack_cifar10_shards.py``, which need NumPy only, or a PNG folder, which needs
Pillow). It stops starting seeds when the next one would end after ``--budget-s`` (default 420 s, so the call ends
within 8 minutes) and says so.

    python scripts/gpu_fast_cifar10.py --data-dir staging/cifar10
    python scripts/gpu_fast_cifar10.py --data-dir staging/cifar10 -- --mixed-precision off   # more flags of
                                                                                          # train_cifar10_fast.py

Columns: ``acc`` the final test accuracy (TTA, averaged weights), ``epoch@94`` and ``s_to_94`` the first epoch
whose end-of-epoch test accuracy reached ``--target`` and the training seconds until then (``-`` if never),
``train_s`` the training wall-clock (compilation and evaluation excluded), ``img/s``, ``compile_s``.
Ends with ``test_accuracy=<mean>``; writes ``results.csv``/``summary.json`` under ``--output-dir``.
"""
from __future__ import annotations

import os
import sys
import time


def _use_jax():
    """Keras on JAX (set before Keras is first imported, i.e. at the start of ``main``)."""
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # leave the GPU's memory to XLA as it asks


def _parse(argv):
    from recipes import cli

    p = cli.make_parser(__doc__, datasets=("cifar10",), output_dir="runs/gpu_fast", seed=False)
    p.add_argument("--seeds", type=int, default=5, help="seeds 0 … N−1 (default 5)")
    p.add_argument("--target", type=float, default=0.94, help="test accuracy to time (default 0.94)")
    p.add_argument("--budget-s", type=float, default=420.0, help="start no seed that would end after this many "
                                                                 "seconds of the call (default 420)")
    p.add_argument("--require-gpu", action="store_true", help="exit with status 4 when JAX sees no GPU")
    p.add_argument("rest", nargs="*", help="after --: flags of scripts/train_cifar10_fast.py")
    args = cli.parse_args(p, argv, tensorflow=False)  # log levels set; TensorFlow is never imported here
    if args.data_dir is None:
        p.error("--data-dir is required: a shard folder (cifar10-shards.json) or a PNG folder of CIFAR-10")
    return p, args


def _preflight(require_gpu):
    """Versions and devices, or a clear message about what is missing (exit 4)."""
    missing = []
    for name in ("numpy", "jax", "keras"):
        try:
            __import__(name)
        except ImportError as err:
            missing.append(f"{name} ({err})")
    if missing:
        print("error: this machine lacks " + ", ".join(missing) + "; nothing is installed from the network",
              file=sys.stderr)
        sys.exit(4)
    import jax
    import keras
    import numpy

    devices = jax.devices()
    gpu = jax.default_backend() != "cpu"
    print(f"keras {keras.__version__} (backend {keras.backend.backend()}), jax {jax.__version__} "
          f"({jax.default_backend()}: {', '.join(str(d) for d in devices)}), numpy {numpy.__version__}, "
          f"tensorflow {'imported' if 'tensorflow' in sys.modules and sys.modules['tensorflow'] else 'absent'}",
          flush=True)
    if not gpu:
        print("warning: JAX sees no GPU; running on the CPU", flush=True)
        if require_gpu:
            sys.exit(4)
    return gpu


def should_start(elapsed_s, last_seed_s, budget_s):
    """Whether to start another seed: always the first (``last_seed_s`` None), then only when a seed as long as
    the last one, with 20 % to spare, would end within ``budget_s`` seconds of the call's start."""
    return last_seed_s is None or elapsed_s + 1.2 * last_seed_s <= budget_s


def main(argv=None):
    _use_jax()
    start = time.perf_counter()
    parser, args = _parse(argv)
    from augment.checks import check_int, check_number

    try:
        check_int("--seeds", args.seeds, 1)
        check_number("--target", args.target, 0, 1, low_open=True)
        check_number("--budget-s", args.budget_s, 0, low_open=True)
    except (ValueError, TypeError) as err:
        parser.error(str(err))
    _preflight(args.require_gpu)
    import pathlib

    from recipes.data.cifar10 import DataUnavailableError, prepare_cifar10
    from recipes.training import run_folder
    from recipes.training.command import parse_config
    from recipes.training.config import validate_config
    from recipes.training.engine import RunFailed, TrainingDiverged, UsageError, run_backend, run_seed

    _, cfg = parse_config(["--data-dir", args.data_dir, "--seeds", str(args.seeds), "--target", str(args.target),
                           "--eval-every-epoch", "--output-dir", args.output_dir, *args.rest],
                          recipe="fast")
    try:
        validate_config(cfg)
        run_folder.check_writable_folder(cfg.output_dir, "--output-dir")
        splits = prepare_cifar10(cfg.data_dir, cfg.cache_dir, cfg.train_limit, cfg.val_size, cfg.test_limit,
                                 seed=cfg.seed, batch_size=cfg.batch_size)
    except (ValueError, TypeError, FileNotFoundError, DataUnavailableError, run_folder.RunFolderError) as err:
        parser.error(str(err))
    fingerprint = run_folder.data_fingerprint(splits)
    precision = run_backend.resolve_precision(cfg.mixed_precision)
    print(f"data {splits.source}: train {len(splits.train[1])}, test {len(splits.test[1])}; precision {precision}; "
          f"widths {','.join(map(str, cfg.widths))}, {cfg.epochs:g} epochs, batch {cfg.batch_size}; "
          f"ready after {time.perf_counter() - start:.1f} s", flush=True)
    top = pathlib.Path(cfg.output_dir)
    runs, skipped = [], []
    try:
        with run_folder.FolderLock(top):  # one call at a time in this folder, as the training command
            if cfg.overwrite:
                moved = run_folder.RunFolder(top).move_aside()
                if moved is not None:
                    print(f"--overwrite: moved the previous contents of {top} to {moved}", flush=True)
            last = None
            for seed in range(cfg.seed, cfg.seed + cfg.seeds):
                if not should_start(time.perf_counter() - start, last, args.budget_s):
                    skipped.append(seed)
                    continue
                t0 = time.perf_counter()
                out = top / f"seed{seed}"  # a run folder of its own (identity, transaction), as --seeds N makes
                r = run_seed(cfg, splits, seed, out, log=lambda *a: None, fingerprint=fingerprint)
                last = time.perf_counter() - t0
                r["epoch_at_target"] = _epoch_at_target(out, args.target)
                runs.append(r)
                print(f"seed {seed}: acc {r['test_accuracy']:.4f}, {last:.0f} s with compilation and evaluation"
                      + (" (stored: this folder's finished run)" if r.get("stored") else ""), flush=True)
            summary = run_folder.summarize(cfg, runs, precision)
            run_folder.write_summary(top, cfg, runs, summary)
    except (UsageError, run_folder.RunFolderError) as err:
        parser.exit(2, f"error: {err}\n")
    except (TrainingDiverged, RunFailed) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 4 if isinstance(err, TrainingDiverged) else 1
    print()
    print(_table(runs, args.target))
    if skipped:
        print(f"seeds {', '.join(map(str, skipped))} skipped: the next seed would have ended after "
              f"--budget-s {args.budget_s:g}")
    print(f"total {time.perf_counter() - start:.0f} s", flush=True)
    print(f"test_accuracy={summary['test_accuracy']:.6f}", flush=True)
    return 0


def _epoch_at_target(out, target):
    """The first epoch (1-based) whose end-of-epoch test accuracy reached ``target``, from the run's history."""
    import json

    path = out / "history.json"
    if not path.exists():
        return None
    accs = json.loads(path.read_text()).get("test_accuracy", [])
    return next((i + 1 for i, a in enumerate(accs) if a is not None and a >= target), None)


def _table(runs, target):
    import numpy as np

    head = ("seed", "acc", f"epoch@{target * 100:g}", f"s_to_{target * 100:g}", "train_s", "img/s", "compile_s")
    rows = [head]
    for r in runs:
        rows.append((str(r["seed"]), f"{r['test_accuracy']:.4f}",
                     "-" if r["epoch_at_target"] is None else str(r["epoch_at_target"]),
                     "-" if r["time_to_target_s"] is None else f"{r['time_to_target_s']:.2f}",
                     f"{r['train_s']:.2f}", f"{r['images_per_s']:.0f}", f"{r['compile_s']:.1f}"))
    acc = np.array([r["test_accuracy"] for r in runs])
    hits = [r["time_to_target_s"] for r in runs if r["time_to_target_s"] is not None]
    rows.append(("mean", f"{acc.mean():.4f}±{acc.std():.4f}", f"{len(hits)}/{len(runs)}",
                 f"{np.mean(hits):.2f}" if hits else "-", f"{np.mean([r['train_s'] for r in runs]):.2f}",
                 f"{np.mean([r['images_per_s'] for r in runs]):.0f}",
                 f"{np.mean([r['compile_s'] for r in runs]):.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join(" | ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows)


if __name__ == "__main__":
    sys.exit(main())
