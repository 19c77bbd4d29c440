"""The installed commands (``pip install -e .`` puts them on the PATH; ``python -m recipes`` lists them).

Why a subpackage: a console entry point must name a function of an *installed* module, and ``scripts/`` is not
installed (it is not a package, and a checkout's ``scripts/`` is not on the path of a user's shell). So the code of
each installed command that is not a chapter's own (the training command is ``recipes.training.command``) lives
here, one module per command, each with ``main(argv=None) -> exit status``; ``scripts/<name>.py`` stays as a thin
wrapper so that ``python scripts/<name>.py`` keeps working from a checkout. The experiments of ``scripts/`` that
reproduce one table of README.md are not installed: they stay programs of the checkout.

Only the standard library, NumPy and ``recipes.cli`` are imported at module level here, so that ``--help`` and a
bad flag answer before TensorFlow is loaded.

``COMMANDS`` is the one list of them: ``setup.cfg`` declares exactly these console scripts
(``tests/test_commands.py`` checks both ways).
"""
from __future__ import annotations

import importlib

__all__ = ["COMMANDS", "load_entry_point", "describe"]

#: Installed command name -> (entry point ``module:function``, one line on what it does).
COMMANDS = {
    "keras-recipes-train": (
        "recipes.training.command:main",
        "train a CIFAR-10 model (standard recipe; --recipe fast), print test_accuracy=<float>"),
    "keras-recipes-train-fast": (
        "recipes.training.command:main_fast",
        "the training command with the fast (airbench-style) recipe's defaults"),
    "keras-recipes-bench-augment": (
        "recipes.commands.bench_augment:main",
        "throughput of the image, text and speech augmentation routes on real data"),
    "keras-recipes-bench-train-step": (
        "recipes.commands.bench_train_step:main",
        "time per ResNet train step of normalization variants against plain Keras"),
    "keras-recipes-bench-bias-variance": (
        "recipes.commands.bench_bias_variance:main",
        "K replicas trained as one model vs a loop of K models (bias-variance speed-up)"),
}


def load_entry_point(name):
    """The function that command ``name`` runs (imports its module)."""
    if name not in COMMANDS:
        raise ValueError(f"name must be one of {', '.join(COMMANDS)}, got {name!r}")
    module, _, function = COMMANDS[name][0].partition(":")
    return getattr(importlib.import_module(module), function)


def describe():
    """The text ``python -m recipes`` prints: every command and what it does."""
    width = max(map(len, COMMANDS))
    lines = ["keras-recipes commands (installed by `pip install -e .`; each takes --help):", ""]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "The experiments that reproduce README.md's tables are programs of the checkout: "
                  "python scripts/<name>.py --help."]
    return "\n".join(lines)
