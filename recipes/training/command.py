"""The training command: ``keras-recipes-train`` (``python scripts/train_cifar10.py``) and its fast alias
``keras-recipes-train-fast`` (``python scripts/train_cifar10_fast.py`` = ``--recipe fast``).

Trains a CIFAR-10 model with one recipe of ``recipes.training.config`` (``--recipe standard`` or ``fast``) for
``--seeds`` seeds and prints ``test_accuracy=<float>`` last: the test accuracy (the mean over seeds), measured on the
test set (with test-time augmentation for ``--tta`` > 0). Every flag defaults to the recipe's value; ``--help``
shows them. A bad flag is rejected, naming it and its allowed range, with exit status 2 before any data is read or
any file written; a lost worker of a multi-worker job exits with status 3.
"""
from __future__ import annotations

import argparse
import sys

RECIPES = ("standard", "fast")


def _widths(text):
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--widths must be three comma-separated integers, got {text!r}")


def _verbose(text):
    return text if text == "auto" else (int(text) if text.isdigit() else text)


def build_parser(recipe="standard"):
    """The parser of the training command; defaults (shown by ``--help``) are ``recipe``'s, but unset flags are
    absent from the parsed namespace, so ``--recipe`` given on the command line picks the defaults."""
    from augment.presets import PRESETS
    from recipes.training.config import (
        AUGMENT_PLACEMENTS, AVERAGING, ES_POLICIES, FLIPS, MODELS, NORMS, OPTIMIZERS, PRECISIONS, SCHEDULES,
        STRATEGIES, WEIGHT_DECAY_MODES, config_for,
    )

    d = config_for(recipe)
    p = argparse.ArgumentParser(
        prog="keras-recipes-train" if recipe == "standard" else "keras-recipes-train-fast",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS)

    def a(*flags, help="", **kw):
        dest = kw.get("dest") or flags[0].lstrip("-").replace("-", "_")
        default = getattr(d, dest, None)
        if kw.get("action") in ("store_true", "store_false"):
            shown = ""
        else:
            shown = f" (default: {','.join(map(str, default)) if isinstance(default, tuple) else default})"
        p.add_argument(*flags, help=help + shown, **kw)

    a("--recipe", help=f"one of {', '.join(RECIPES)}: the set of defaults")
    g = p.add_argument_group("data")
    a("--data-dir", help="CIFAR-10 folder (train/<class>/*.png, test/<class>/*.png) or a data root holding "
                         "cifar10/; default: $RECIPES_DATA/cifar10, else tensorflow-datasets")
    a("--cache-dir", help="decoded-data cache (default: $RECIPES_CACHE or ~/.cache/keras_recipes)")
    a("--train-limit", type=int, help="use the first N training images")
    a("--val-size", type=int, help="hold out this many training images for validation (stratified)")
    a("--test-limit", type=int, help="evaluate on a fixed random subset of this many test images")
    g = p.add_argument_group("model")
    a("--model", help=f"one of {', '.join(MODELS)}")
    a("--width", type=int, help="ResNet first-stage filters (16 for resnet20…, 64 for resnet18/34)")
    a("--widths", type=_widths, help="airbench conv-group widths")
    a("--no-whiten", dest="whiten", action="store_false", help="airbench: a trainable first conv instead of the "
                                                               "frozen patch whitening")
    a("--whiten-images", type=int, help="airbench: images for the whitening statistics")
    a("--whiten-eps", type=float, help="airbench: ε of the whitening kernel v_k/√(λ_k + ε)")
    a("--whiten-bias-epochs", type=int, help="airbench: train a bias of the whitening layer in the first N epochs "
                                             "(0: no bias; needs --optimizer grouped_sgd)")
    a("--init", help="airbench: dirac (PyTorch's U(±1/√fan_in), first min(C_in, C_out) conv filters the identity) "
                     "or glorot (Keras' default)")
    a("--bn-momentum", type=float, help="airbench: ρ of the BatchNorm running averages μ̂ ← ρ μ̂ + (1 − ρ) μ_batch")
    a("--bn-eps", dest="bn_epsilon", type=float, help="airbench: BatchNorm's ε in (x − μ)/√(σ² + ε)")
    a("--norm", help=f"ResNets: one of {', '.join(NORMS)}")
    a("--dropout", type=float, help="ResNets: dropout rate before the classifier")
    g = p.add_argument_group("optimization")
    a("--epochs", type=float, help="passes over the training set (a fraction cuts the last one short)")
    a("--batch-size", type=int, help="the global batch B")
    a("--optimizer", help=f"one of {', '.join(OPTIMIZERS)} (grouped_sgd: PyTorch's SGD with parameter groups, "
                          "recipes.optimization.param_groups)")
    a("--lr", type=float, help="initial (peak) learning rate ε₀")
    a("--momentum", type=float)
    a("--no-nesterov", dest="nesterov", action="store_false", help="plain momentum instead of Nesterov")
    a("--schedule", help=f"one of {', '.join(SCHEDULES)} (linear: the lecture's ε_k)")
    a("--warmup-epochs", type=float, help="linear warm-up from 0.2 ε₀ before the linear decay")
    a("--warmup-fraction", type=float, help="the same warm-up over int(fraction · τ) of the τ steps instead")
    a("--final-lr-fraction", type=float, help="ε_τ / ε₀")
    a("--weight-decay", type=float, help="λ (0 disables)")
    a("--weight-decay-mode", help=f"one of {', '.join(WEIGHT_DECAY_MODES)}: l2 adds λ‖w‖² to the loss; "
                                  "decoupled shrinks w ← w − ε_k λ w in the optimizer; coupled adds λw to the "
                                  "gradient of every trained variable (PyTorch's weight_decay; grouped_sgd)")
    a("--bias-lr-scale", type=float, help="grouped_sgd: factor c on the gradient (= learning rate) of the "
                                          "normalization layers' β, γ (airbench: 64)")
    a("--label-smoothing", type=float, help="ε of ỹ = (1 − ε)y + ε/K")
    a("--clipnorm", type=float, help="clip the global gradient norm: g ← α·g/‖g‖ if ‖g‖ > α")
    g = p.add_argument_group("augmentation")
    a("--augment", help=f"preset: one of {', '.join(PRESETS)}")
    a("--flip", help=f"override the preset's flip: one of {', '.join(FLIPS)}")
    a("--translate", type=int, help="override the preset's translation (pixels, 0 = off)")
    a("--cutout", type=int, help="override the preset's cutout square side (0 = off)")
    a("--augment-on", help=f"one of {', '.join(AUGMENT_PLACEMENTS)}: data (tf.data) or device (in the training "
                           "step); auto picks device unless the preset mixes labels or a strategy is used")
    g = p.add_argument_group("weight averaging and evaluation")
    a("--averaging", help=f"one of {', '.join(AVERAGING)}: θ̄ ← β_k θ̄ + (1 − β_k) θ every --averaging-every steps")
    a("--averaging-decay", type=float, help="β")
    a("--averaging-every", type=int)
    a("--tta", type=int, help="test-time augmentation: 0 none, 1 flip, 2 flip + 1-px translate")
    a("--eval-every-epoch", action="store_true", help="evaluate the test set after each epoch (time to --target)")
    a("--eval-batch-size", type=int)
    a("--target", type=float, help="test accuracy whose first epoch is reported as time_to_target_s")
    g = p.add_argument_group("runtime")
    a("--mixed-precision", help=f"one of {', '.join(PRECISIONS)} (auto: bfloat16 on a GPU, off on a CPU)")
    a("--loss-scale", type=float, help="initial loss scale for float16")
    a("--jit", dest="jit", action="store_true", help="XLA-compile the training step")
    a("--no-jit", dest="jit", action="store_false", help="do not XLA-compile the training step")
    a("--seed", type=int)
    a("--seeds", type=int, help="train seeds seed, seed+1, …; report the mean ± std")
    a("--no-deterministic", dest="deterministic", action="store_false",
      help="allow non-deterministic TensorFlow ops (faster on GPU)")
    a("--max-steps", type=int, help="stop after this many steps (smoke tests)")
    a("--output-dir", help="model.keras, history.csv/json, metrics.json, config.json, results.csv, summary.json")
    a("--overwrite", action="store_true", help="start afresh in an --output-dir that holds a run with other "
                                               "settings or other files (they are moved into superseded-<time>/)")
    a("--save-model", action="store_true", help="kept for compatibility: the model is saved whenever "
                                                "--output-dir is given")
    a("--no-tensorboard", dest="tensorboard", action="store_false")
    a("--verbose", type=_verbose, help="auto (a progress bar on a terminal, a line per epoch otherwise), 0, 1, 2")
    a("--strategy", help=f"one of {', '.join(STRATEGIES)}; --batch-size is the global batch in every case")
    a("--logical-cpus", type=int, help="split the CPU into this many logical devices (--strategy mirrored "
                                       "without GPUs)")
    a("--collective-timeout", type=float, help="seconds before a multi-worker collective gives up")
    g = p.add_argument_group("early stopping")
    a("--early-stopping", action="store_true", help="the lecture's early stopping on the --val-size split")
    a("--patience", type=int, help="p: evaluations without improvement before stopping")
    a("--eval-every", type=int, help="n: training steps between two evaluations")
    a("--policy", choices=ES_POLICIES, help="after early stopping: none (keep θ*), retrain (#1), continue (#2)")
    a("--retrain-length", choices=("steps", "epochs"), help="policy retrain: i* steps or the same epochs")
    a("--max-extra-steps", type=int, help="policy continue: bound on the extra steps")
    del g
    return p


def parse_config(argv=None, recipe="standard"):
    """(parser, ``TrainConfig``) from the command line; ``--recipe`` on the command line wins over ``recipe``."""
    from recipes.training.config import config_for

    known = _pre_parse(argv, recipe)
    if known.recipe not in RECIPES:
        build_parser(recipe).error(f"--recipe must be one of {', '.join(RECIPES)}, got {known.recipe!r}")
    parser = build_parser(known.recipe)
    args = vars(parser.parse_args(argv))
    args.pop("recipe", None)
    return parser, config_for(known.recipe, **args)


def _pre_parse(argv, recipe):
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--recipe", default=recipe)
    pre.add_argument("--verbose", default="auto")
    return pre.parse_known_args(argv)[0]


def main(argv=None, recipe="standard"):
    """Run the command; returns the exit status (0; 1 a failed run; 3 a lost worker; 4 a diverged run; 130 Ctrl-C;
    bad flags exit 2)."""
    from recipes.cli import quiet_tensorflow_import, setup

    verbose = _pre_parse(argv, recipe).verbose == "2"
    setup(verbose=verbose, tensorflow=False)  # log level first: before TensorFlow is imported
    parser, cfg = parse_config(argv, recipe)  # --help and a malformed flag answer here, without TensorFlow
    try:  # Ctrl-C while TensorFlow loads (seconds): one line, not a traceback
        if not verbose:
            quiet_tensorflow_import()  # before the checks, some of which import Keras
        from recipes.training.config import validate_config

        try:
            validate_config(cfg)
        except (ValueError, TypeError) as err:
            parser.error(str(err))
        from recipes.training.engine import (
            RunFailed, TrainingDiverged, TrainingInterrupted, UsageError, WorkerFailure, print_summary, run_training,
        )
    except KeyboardInterrupt:
        print("\nstopped: interrupted before training started; nothing was written", file=sys.stderr, flush=True)
        return 130

    try:
        summary = run_training(cfg)
    except UsageError as err:
        parser.exit(2, f"error: {err}\n")
    except WorkerFailure as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 3
    except TrainingDiverged as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 4
    except RunFailed as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 1
    except TrainingInterrupted as err:
        print(f"\nstopped: {err}", file=sys.stderr, flush=True)
        return 130
    except KeyboardInterrupt:
        print("\nstopped: interrupted; rerunning the same command resumes from the last committed epoch, if one "
              "was committed", file=sys.stderr, flush=True)
        return 130
    if summary["seeds"] > 1 or cfg.recipe == "fast":
        print_summary(summary)
    digits = 4 if summary["seeds"] == 1 else 6
    print(f"test_accuracy={summary['test_accuracy']:.{digits}f}", flush=True)
    return 0


def main_fast(argv=None):
    """``keras-recipes-train-fast``: the training command with ``--recipe fast``."""
    return main(argv, recipe="fast")

