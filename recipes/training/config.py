"""One configuration type for every training run, and the two recipes as its two sets of defaults.

``TrainConfig`` holds every choice of a run; its fields are the flags of the training command (``--batch-size`` is
``batch_size``). A recipe is a set of defaults (``RECIPE_DEFAULTS``):

- ``standard`` — the lecture's CIFAR recipe (He et al. 2016): ResNet-20, SGD with Nesterov momentum 0.9, the linear
  decay ε_k = (1 − k/τ)ε₀ + (k/τ)ε_τ from 0.1 to 0.001, L2 penalty λ‖w‖² = 1e-4 on kernels, pad-4 crop + flip,
  batch 128, 30 epochs;
- ``fast`` — the airbench94 recipe (Jordan 2024), algorithm for algorithm (README, "Fast CIFAR-10"): the airbench
  net (frozen patch-whitening kernel with a bias trained for 3 epochs, Dirac-initialized convolutions, BatchNorm
  ρ = 0.6, ε = 1e-12), batch 1024, 9.9 epochs, Nesterov SGD in PyTorch's form with parameter groups (BatchNorm
  shifts at 64× the learning rate, coupled weight decay λ = 0.0153/11.5 on every trained variable:
  ``recipes.optimization.param_groups.GroupedSGD``), ε_k warming up linearly from 0.2ε₀ over 23 % of the steps then
  decaying linearly to 0.07ε₀, label smoothing 0.2, alternating flip + 2-px reflect translation applied on the
  device, Lookahead, flip+translate test-time augmentation, bf16 on an accelerator.

``config_for(recipe, **overrides)`` gives a recipe's configuration with some fields changed; ``validate_config``
checks every field (a ``ValueError`` naming the flag, its allowed range and the value) before anything is read or
written.
"""
from __future__ import annotations

import dataclasses
import math
import pathlib

from augment.checks import check_choice, check_int, check_number

RECIPES = ("standard", "fast")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "grouped_sgd")
SCHEDULES = ("constant", "linear", "cosine")
WEIGHT_DECAY_MODES = ("l2", "decoupled", "coupled")
INITS = ("dirac", "glorot")
PRECISIONS = ("auto", "off", "float16", "bfloat16")
NORMS = ("batch", "group", "layer", "instance", "none")
FLIPS = ("none", "random", "alternating")
AUGMENT_PLACEMENTS = ("auto", "data", "device")
AVERAGING = ("none", "ema", "lookahead")
TTA_LEVELS = (0, 1, 2)
STRATEGIES = ("default", "mirrored", "multiworker")
ES_POLICIES = ("none", "retrain", "continue")
#: Models the training command offers (the registry's image classifiers).
MODELS = ("resnet20", "resnet32", "resnet56", "resnet110", "resnet18", "resnet34", "preact_resnet18",
          "preact_resnet34", "airbench")


@dataclasses.dataclass
class TrainConfig:
    """Every choice of a training run; ``None`` in a recipe-dependent field means "the recipe's default"."""

    recipe: str = "standard"
    # data
    data_dir: str | None = None
    cache_dir: str | None = None
    train_limit: int | None = None
    val_size: int = 0
    test_limit: int | None = None
    # model
    model: str = "resnet20"
    width: int | None = None  # ResNets: first-stage filters
    widths: tuple = (64, 256, 256)  # airbench: the three conv groups
    whiten: bool = True  # airbench: frozen patch-whitening first layer
    whiten_images: int = 5000
    whiten_eps: float = 5e-4
    whiten_bias_epochs: int = 0  # airbench: train the whitening layer's bias in epochs < this (needs grouped_sgd)
    init: str = "dirac"  # airbench: Dirac-initialized convolutions (airbench94) or Keras' glorot
    bn_momentum: float = 0.6  # airbench: Keras' ρ of the BatchNorm running averages
    bn_epsilon: float = 1e-12  # airbench: BatchNorm's ε
    norm: str = "batch"
    dropout: float = 0.0
    # optimization
    epochs: float = 30
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    schedule: str = "linear"
    warmup_epochs: float = 0.0
    warmup_fraction: float = 0.0  # warm-up over int(fraction · τ) steps instead (airbench: 0.23)
    final_lr_fraction: float = 0.01
    weight_decay: float = 1e-4
    weight_decay_mode: str = "l2"
    bias_lr_scale: float = 1.0  # grouped_sgd: factor c on the normalization layers' β, γ gradients (= their lr)
    label_smoothing: float = 0.0
    clipnorm: float | None = None
    # augmentation
    augment: str = "standard"
    flip: str | None = None  # overrides of the preset's fields
    translate: int | None = None
    cutout: int | None = None
    augment_on: str = "auto"  # data: in tf.data; device: inside the compiled training step
    # weight averaging and evaluation
    averaging: str = "none"
    averaging_decay: float = 0.95 ** 5
    averaging_every: int = 5
    tta: int = 0
    eval_every_epoch: bool = False
    eval_batch_size: int = 1000
    target: float = 0.94
    # runtime
    mixed_precision: str = "off"
    loss_scale: float = 1024.0
    jit: bool = False
    seed: int = 0
    seeds: int = 1
    deterministic: bool = True
    max_steps: int | None = None
    output_dir: str | None = "runs/cifar10"
    overwrite: bool = False  # move an existing run's files aside and start afresh
    save_model: bool = True
    tensorboard: bool = True
    verbose: str | int = "auto"
    strategy: str = "default"
    logical_cpus: int | None = None
    collective_timeout: float = 300.0
    # early stopping (the lecture's meta-algorithm on the --val-size split)
    early_stopping: bool = False
    patience: int = 5
    eval_every: int = 100
    policy: str = "none"
    retrain_length: str = "steps"
    max_extra_steps: int | None = None


#: The fields each recipe sets differently from ``TrainConfig``'s defaults (which are the standard recipe's).
RECIPE_DEFAULTS = {
    "standard": {},
    "fast": dict(
        model="airbench", whiten_bias_epochs=3, epochs=9.9, batch_size=1024, optimizer="grouped_sgd", lr=1.5,
        momentum=0.85, warmup_fraction=0.23, final_lr_fraction=0.07, weight_decay=0.0153 / 11.5,
        weight_decay_mode="coupled", bias_lr_scale=64.0, label_smoothing=0.2,
        augment="airbench", augment_on="device", averaging="lookahead", tta=2, eval_batch_size=2000,
        mixed_precision="auto", jit=True, output_dir=None, save_model=False, tensorboard=False,
    ),
}


def config_for(recipe="standard", **overrides):
    """``TrainConfig`` with ``recipe``'s defaults, then ``overrides`` (unknown names raise ``TypeError``)."""
    check_choice("--recipe", recipe, RECIPES)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"TrainConfig has no field(s) {', '.join(unknown)}")
    return TrainConfig(**{"recipe": recipe, **RECIPE_DEFAULTS[recipe], **overrides})


def _optional(check, flag, value, *args):
    if value is not None:
        check(flag, value, *args)


def validate_config(cfg: TrainConfig):
    """Raise ``ValueError`` (or ``TypeError``) naming the flag, its allowed range and the value, for the first bad
    field of ``cfg``; judge every combination that the flags alone decide. Reads and writes nothing."""
    from recipes.training.distribute import parse_tf_config

    check_choice("--recipe", cfg.recipe, RECIPES)
    check_choice("--model", cfg.model, MODELS)
    _optional(check_int, "--width", cfg.width, 1)
    widths = tuple(cfg.widths) if isinstance(cfg.widths, (tuple, list)) else cfg.widths
    if not (isinstance(widths, tuple) and len(widths) == 3):
        raise ValueError(f"--widths must be three integers >= 1, got {cfg.widths!r}")
    for w in widths:
        check_int("--widths", w, 1)
    check_int("--whiten-images", cfg.whiten_images, 1)
    check_number("--whiten-eps", cfg.whiten_eps, 0, low_open=True)
    check_int("--whiten-bias-epochs", cfg.whiten_bias_epochs, 0)
    check_choice("--init", cfg.init, INITS)
    check_number("--bn-momentum", cfg.bn_momentum, 0, 1, high_open=True)
    check_number("--bn-eps", cfg.bn_epsilon, 0, low_open=True)
    check_choice("--norm", cfg.norm, NORMS)
    check_number("--dropout", cfg.dropout, 0, 1, high_open=True)
    check_number("--epochs", cfg.epochs, 0, low_open=True)
    check_int("--batch-size", cfg.batch_size, 1)
    check_choice("--optimizer", cfg.optimizer, OPTIMIZERS)
    check_number("--lr", cfg.lr, 0, low_open=True)
    check_number("--momentum", cfg.momentum, 0, 1, high_open=True)
    check_choice("--schedule", cfg.schedule, SCHEDULES)
    check_number("--warmup-epochs", cfg.warmup_epochs, 0)
    if cfg.warmup_epochs >= cfg.epochs:
        raise ValueError(f"--warmup-epochs must be in [0, --epochs={cfg.epochs}), got {cfg.warmup_epochs!r}")
    if cfg.warmup_epochs and cfg.schedule != "linear":
        raise ValueError(f"--warmup-epochs needs --schedule linear, got --schedule {cfg.schedule}")
    check_number("--warmup-fraction", cfg.warmup_fraction, 0, 1, high_open=True)
    if cfg.warmup_fraction and cfg.warmup_epochs:
        raise ValueError(f"--warmup-fraction and --warmup-epochs both set the warm-up: give one, got "
                         f"{cfg.warmup_fraction} and {cfg.warmup_epochs}")
    if cfg.warmup_fraction and cfg.schedule != "linear":
        raise ValueError(f"--warmup-fraction needs --schedule linear, got --schedule {cfg.schedule}")
    check_number("--final-lr-fraction", cfg.final_lr_fraction, 0, 1)
    check_number("--weight-decay", cfg.weight_decay, 0)
    check_choice("--weight-decay-mode", cfg.weight_decay_mode, WEIGHT_DECAY_MODES)
    check_number("--bias-lr-scale", cfg.bias_lr_scale, 0, low_open=True)
    grouped = cfg.optimizer == "grouped_sgd"
    if cfg.weight_decay_mode == "coupled" and not grouped:
        raise ValueError(f"--weight-decay-mode coupled (λw added to the gradient, PyTorch's weight_decay) needs "
                         f"--optimizer grouped_sgd, got --optimizer {cfg.optimizer}")
    if cfg.weight_decay_mode == "decoupled" and grouped:
        raise ValueError("--optimizer grouped_sgd takes --weight-decay-mode coupled or l2, got decoupled")
    if cfg.bias_lr_scale != 1 and not grouped:
        raise ValueError(f"--bias-lr-scale {cfg.bias_lr_scale} needs --optimizer grouped_sgd (parameter groups), "
                         f"got --optimizer {cfg.optimizer}")
    if cfg.model == "airbench" and cfg.whiten_bias_epochs and not grouped:
        raise ValueError(f"--whiten-bias-epochs {cfg.whiten_bias_epochs} stops the bias through a parameter group: "
                         f"needs --optimizer grouped_sgd (or --whiten-bias-epochs 0), got --optimizer {cfg.optimizer}")
    check_number("--label-smoothing", cfg.label_smoothing, 0, 1, high_open=True)
    _optional(lambda f, v: check_number(f, v, 0, low_open=True), "--clipnorm", cfg.clipnorm)
    from augment.presets import PRESETS  # imports Keras: here, not at module level (--help answers without it)

    check_choice("--augment", cfg.augment, tuple(PRESETS))
    _optional(check_choice, "--flip", cfg.flip, FLIPS)
    _optional(check_int, "--translate", cfg.translate, 0, 8)
    _optional(check_int, "--cutout", cfg.cutout, 0, 32)
    check_choice("--augment-on", cfg.augment_on, AUGMENT_PLACEMENTS)
    check_choice("--averaging", cfg.averaging, AVERAGING)
    check_number("--averaging-decay", cfg.averaging_decay, 0, 1, high_open=True)
    check_int("--averaging-every", cfg.averaging_every, 1)
    check_choice("--tta", cfg.tta, TTA_LEVELS)
    check_int("--eval-batch-size", cfg.eval_batch_size, 1)
    check_number("--target", cfg.target, 0, 1, low_open=True)
    check_choice("--mixed-precision", cfg.mixed_precision, PRECISIONS)
    check_number("--loss-scale", cfg.loss_scale, 1)
    check_int("--seed", cfg.seed, 0, 2 ** 31 - 1)
    check_int("--seeds", cfg.seeds, 1)
    if cfg.seed + cfg.seeds - 1 > 2 ** 31 - 1:
        raise ValueError(f"--seed + --seeds - 1 must be < 2^31, got {cfg.seed} + {cfg.seeds} - 1")
    _optional(check_int, "--max-steps", cfg.max_steps, 1)
    _optional(check_int, "--train-limit", cfg.train_limit, 1)
    check_int("--val-size", cfg.val_size, 0)
    _optional(check_int, "--test-limit", cfg.test_limit, 1)
    check_choice("--strategy", cfg.strategy, STRATEGIES)
    if cfg.strategy == "multiworker":
        parse_tf_config()
    _optional(check_int, "--logical-cpus", cfg.logical_cpus, 1)
    check_number("--collective-timeout", cfg.collective_timeout, 0, low_open=True)
    check_int("--patience", cfg.patience, 1)
    check_int("--eval-every", cfg.eval_every, 1)
    check_choice("--policy", cfg.policy, ES_POLICIES)
    check_choice("--retrain-length", cfg.retrain_length, ("steps", "epochs"))
    _optional(check_int, "--max-extra-steps", cfg.max_extra_steps, 1)
    if cfg.verbose not in ("auto", 0, 1, 2, "0", "1", "2") or isinstance(cfg.verbose, bool):
        raise ValueError(f"--verbose must be auto, 0, 1 or 2, got {cfg.verbose!r}")
    # combinations the flags alone decide
    if cfg.train_limit is not None and cfg.val_size >= cfg.train_limit:
        raise ValueError(f"--val-size must be < --train-limit ({cfg.train_limit}), got {cfg.val_size}")
    if cfg.train_limit is not None and cfg.batch_size > cfg.train_limit - cfg.val_size:
        raise ValueError(f"--batch-size must be <= the number of training images "
                         f"({cfg.train_limit - cfg.val_size} = --train-limit − --val-size), got {cfg.batch_size}")
    if cfg.early_stopping and cfg.val_size <= 0:
        raise ValueError("--early-stopping needs a validation set: --val-size > 0")
    if cfg.early_stopping and cfg.strategy != "default":
        raise ValueError(f"--early-stopping runs with --strategy default only, got --strategy {cfg.strategy}")
    if cfg.early_stopping and cfg.seeds != 1:
        raise ValueError(f"--early-stopping runs one seed at a time, got --seeds {cfg.seeds}")
    if cfg.policy != "none" and not cfg.early_stopping:
        raise ValueError(f"--policy {cfg.policy} needs --early-stopping")
    if cfg.model == "airbench" and cfg.width is not None:
        raise ValueError("--width sets a ResNet's width; the airbench net takes --widths")
    if cfg.model == "airbench" and cfg.norm != "batch":
        raise ValueError(f"--norm {cfg.norm}: the airbench net uses batch normalization only")
    if cfg.model == "airbench" and cfg.dropout:
        raise ValueError("--dropout applies to the ResNets; the airbench net has no dropout layer")
    spec = augment_spec_of(cfg)
    placement = augment_placement(cfg, spec)
    if placement == "device" and spec.mixes_labels:
        raise ValueError(f"--augment {cfg.augment} mixes labels, which needs --augment-on data (tf.data)")
    if placement == "device" and (cfg.strategy != "default" or cfg.early_stopping):
        raise ValueError("--augment-on device runs with --strategy default and without --early-stopping; "
                         "use --augment-on data")
    if cfg.output_dir is not None:
        if not str(cfg.output_dir):
            raise ValueError("--output-dir must be a non-empty path")
        out = pathlib.Path(cfg.output_dir)
        if out.exists() and not out.is_dir():
            raise ValueError(f"--output-dir {cfg.output_dir} exists and is not a folder")
    if cfg.cache_dir is not None and pathlib.Path(cfg.cache_dir).exists() and not pathlib.Path(cfg.cache_dir).is_dir():
        raise ValueError(f"--cache-dir {cfg.cache_dir} exists and is not a folder")
    if cfg.data_dir is not None and not pathlib.Path(cfg.data_dir).is_dir():
        raise ValueError(f"--data-dir {cfg.data_dir} does not exist or is not a folder "
                         "(expected DIR/train/<class>/*.png and DIR/test/<class>/*.png, or DIR/cifar10/...)")


def augment_spec_of(cfg: TrainConfig):
    """The augmentation of a run: the ``--augment`` preset with ``--flip``/``--translate``/``--cutout`` applied."""
    from augment.presets import augment_spec

    return augment_spec(cfg.augment, flip=cfg.flip, translate=cfg.translate, cutout=cfg.cutout)


def augment_placement(cfg: TrainConfig, spec=None):
    """Where the augmentation runs: ``data`` (a tf.data map on the host, TensorFlow needed) or ``device`` (inside
    the compiled training step). ``auto``: ``data`` when the spec mixes labels or a tf.distribute strategy or
    early stopping is used, else ``device``."""
    spec = spec or augment_spec_of(cfg)
    if cfg.augment_on != "auto":
        return cfg.augment_on
    if spec.mixes_labels or cfg.strategy != "default" or cfg.early_stopping:
        return "data"
    return "device"


def total_steps(cfg: TrainConfig, num_train: int):
    """(steps per epoch, optimizer steps of the run τ, epochs given to ``fit``): τ = ⌈epochs · ⌊N/B⌋⌉ (at most
    ``max_steps``; airbench94's count); the last epoch is cut short when ``epochs`` is not a whole number."""
    per_epoch = num_train // cfg.batch_size
    steps = max(1, math.ceil(cfg.epochs * per_epoch - 1e-9))
    if cfg.max_steps:
        steps = min(steps, cfg.max_steps)
    return per_epoch, steps, math.ceil(steps / per_epoch)
