"""What every command-line script shares: the common flags, the quiet setup, one way to reject a bad flag.

    parser = cli.make_parser(__doc__, datasets=("cifar10",), output_dir="out/experiment")
    parser.add_argument("--epochs", type=int, default=10)
    args = cli.parse_args(parser, argv)              # parses, then setup(verbose=args.verbose)
    with cli.flag_errors(parser):                    # a ValueError/TypeError naming a flag -> exit 2
        check_positive_int("--epochs", args.epochs)
    folder = cli.data_folder(parser, args, "cifar10")  # --data-dir, else $RECIPES_DATA/cifar10, else None

The shared flags mean the same in every script:

- ``--data-dir DIR``: the dataset's own folder, or a data root holding it as ``DIR/<name>`` (the layout of
  ``$RECIPES_DATA``: ``cifar10/``, ``fsdd/``, ``text/``, ``nltk_data/``); default ``$RECIPES_DATA/<name>``, else
  the download route (tensorflow-datasets for CIFAR-10; the other datasets have none and need one of the two).
  Resolved by :func:`recipes.data.locations.resolve_data_dir`.
- ``--output-dir``: the folder the script writes its files to.
- ``--seed``: the seed of everything random in the run.
- ``--verbose``: let TensorFlow's and absl's log lines through (default: warnings and info are hidden, and so
  are the C++ lines TensorFlow prints on import, see :func:`setup`).

Importing this module imports neither TensorFlow nor Keras, so a script can parse its flags and call :func:`setup`
before either is imported.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import os
import sys

from augment.checks import check_seed
from recipes.data.locations import DATASETS, DOWNLOADABLE, DataUnavailableError, resolve_data_dir

__all__ = ["make_parser", "parse_args", "setup", "quiet_tensorflow_import", "flag_errors", "split_list", "data_folder",
           "quantity", "NATIVE_NOISE"]

#: How ``--data-dir``'s help describes each dataset's folder.
_LAYOUTS = {
    "cifar10": "CIFAR-10: train/<class>/*.png, test/<class>/*.png",
    "fsdd": "FSDD: recordings/*.wav",
    "text": "sentence sets: stsa.binary.train, …",
    "nltk_data": "NLTK data: corpora/wordnet.zip",
}


def data_dir_help(datasets):
    """The ``--data-dir`` help text for a script that reads ``datasets`` (names of ``DATASETS``)."""
    datasets = tuple(datasets)
    if len(datasets) == 1:
        (name,) = datasets
        fallback = ", else tensorflow-datasets" if name in DOWNLOADABLE else " (it has no download route)"
        return (f"the {name} folder ({_LAYOUTS.get(name, name)}) or a data root holding {name}/; "
                f"default $RECIPES_DATA/{name}{fallback}")
    holds = ", ".join(f"{n}/ ({_LAYOUTS.get(n, n)})" for n in datasets)
    return f"a data root holding {holds}; default $RECIPES_DATA"


def _seed(text):
    """argparse type of ``--seed``: what ``check_seed`` allows, [0, 2^31)."""
    try:
        return check_seed("--seed", int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2147483647], got {text!r}") from None


def make_parser(doc, datasets=(), output_dir=None, seed=True):
    """An ``ArgumentParser`` with the shared flags.

    Args:
        doc: the script's docstring (the help shows it unwrapped).
        datasets: names of ``DATASETS`` the script reads; ``--data-dir`` is added when there is any.
        output_dir: the default of ``--output-dir``; ``None``: no files unless the flag is given.
        seed: add ``--seed`` (default 0); ``False`` for a script with nothing random.
    """
    unknown = [name for name in datasets if name not in DATASETS]
    if unknown:
        raise ValueError(f"datasets must be names from {', '.join(DATASETS)}, got {unknown}")
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if datasets:
        parser.add_argument("--data-dir", default=None, help=data_dir_help(datasets))
    default = f"default {output_dir}" if output_dir else "default: write no files"
    parser.add_argument("--output-dir", default=output_dir, help=f"folder for the output files ({default})")
    if seed:
        parser.add_argument("--seed", type=_seed, default=0, help="seed of everything random in the run (default 0)")
    parser.add_argument("--verbose", action="store_true", help="let TensorFlow's and absl's log lines through")
    return parser


#: What TensorFlow's C++ side writes to file descriptor 2 on import and on CUDA's initialization even with
#: ``TF_CPP_MIN_LOG_LEVEL=3``, the first line at every import (abseil writes it before its log level is read).
NATIVE_NOISE = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "Could not find cuda drivers on your machine",
    "failed call to cuInit",
)


def setup(verbose=False, tensorflow=True):
    """Prepare the process before TensorFlow, Keras or matplotlib is imported.

    Quiet (default): ``TF_CPP_MIN_LOG_LEVEL=3`` (TensorFlow's C++ log lines hidden, errors included: level 2 lets
    through lines such as tf.data's "E... NodeDef mentions attribute use_unbounded_threadpool", printed at every
    ``fit`` of the training command and harmless; a real failure raises in Python) unless the environment sets it, and the ``tensorflow`` and ``absl`` Python loggers at ERROR. The level does not reach
    the lines of ``NATIVE_NOISE`` (abseil prints its "before absl::InitializeLog()" warning, and the CUDA stub its
    "Could not find cuda drivers" line, before any level is read; cuInit's error comes on the first look at the
    devices), so with ``tensorflow`` (default) TensorFlow is imported here once and its physical devices listed
    with file descriptor 2 pointed at ``/dev/null`` (:func:`quiet_tensorflow_import`), when it is installed and
    not yet imported. ``tensorflow=False``: a program that never imports TensorFlow does not pay for it.
    ``verbose``: level 0, the loggers at INFO, and nothing redirected: every line comes through.

    Always: matplotlib's non-interactive ``Agg`` backend (scripts write files, never show windows) and
    ``NO_ALBUMENTATIONS_UPDATE=1`` (albumentations would look online for a newer version at import).
    """
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.ERROR)
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    os.environ["MPLBACKEND"] = "Agg"
    if "matplotlib" in sys.modules:  # imported already (a script run in-process): switch it too
        sys.modules["matplotlib"].use("Agg")
    if tensorflow and not verbose:
        quiet_tensorflow_import()


def quiet_tensorflow_import():
    """Import TensorFlow and list its physical devices (where CUDA's ``cuInit`` runs) with the process's file
    descriptor 2 redirected to ``/dev/null`` (``os.dup2``), then restore it. Returns whether it imported
    TensorFlow: ``False`` when it is not installed or already imported (then nothing is done).

    Listing the physical devices does not initialize the runtime: logical devices and memory growth can still
    be configured afterwards. An import that fails raises after file descriptor 2 is restored, so its message
    is seen.
    """
    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return False
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return True


def parse_args(parser, argv=None, tensorflow=True):
    """``parser.parse_args(argv)``, then :func:`setup` with the parsed ``--verbose`` (and ``tensorflow``)."""
    args = parser.parse_args(argv)
    setup(verbose=getattr(args, "verbose", False), tensorflow=tensorflow)
    return args


@contextlib.contextmanager
def flag_errors(parser):
    """Inside the block, a ``ValueError`` or ``TypeError`` (the shared checks of ``augment.checks`` name the flag,
    e.g. ``check_positive_int("--epochs", args.epochs)``) ends the script the way argparse does: usage and
    ``error: <message>`` on stderr, exit status 2."""
    try:
        yield
    except (ValueError, TypeError) as err:
        parser.error(str(err))


def quantity(n, noun, plural=None):
    """``n`` and ``noun`` for a title or a line of output, the noun in the number ``n`` takes: "1 epoch",
    "2 epochs", "0.5 epochs", "10,000 test images" (whole numbers with thousands separators). ``plural``: the
    plural form when it is not ``noun + "s"``."""
    value = float(n)
    text = f"{int(value):,}" if value.is_integer() else f"{value:g}"
    return f"{text} {noun if value == 1 else (plural or noun + 's')}"


def split_list(flag, text, choices=None, type=str):
    """The items of a comma-separated flag value, converted with ``type``; raises ``ValueError`` naming ``flag``
    when it is empty, an item does not convert, or an item is not one of ``choices``."""
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    allowed = f" from {', '.join(map(str, choices))}" if choices is not None else ""
    if not items:
        raise ValueError(f"{flag} must be a comma-separated list{allowed}, got {text!r}")
    try:
        values = [type(item) for item in items]
    except ValueError:
        raise ValueError(f"{flag} must be a comma-separated list of {type.__name__} values, got {text!r}") from None
    bad = [v for v in values if choices is not None and v not in choices]
    if bad:
        raise ValueError(f"{flag} must be a comma-separated list{allowed}, got {', '.join(map(str, bad))}")
    return values


def data_folder(parser, args, name, required=None, optional=False):
    """The folder of dataset ``name`` for the parsed ``args`` (``resolve_data_dir(name, args.data_dir,
    required)``), or ``None`` for the download route.

    A ``--data-dir`` that holds no copy, or a dataset with no download route found nowhere, ends the script
    with exit status 2 and a message naming ``--data-dir`` (before any work). ``optional``: a dataset the script
    can do without (NLTK data: NLTK then searches its own path) — ``--data-dir`` without it falls back to
    ``$RECIPES_DATA`` and then to ``None`` instead of failing.
    """
    data_dir = getattr(args, "data_dir", None)
    try:
        return resolve_data_dir(name, data_dir, required=False if optional else required)
    except ValueError as err:
        if optional:
            return resolve_data_dir(name, None, required=False)
        parser.error(str(err))
    except DataUnavailableError as err:
        parser.error(str(err))
