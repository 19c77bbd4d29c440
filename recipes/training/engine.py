"""The CIFAR-10 training recipe behind ``scripts/train_cifar10.py``.

Minimizes the regularized objective J̃(θ) = J(θ; X, y) + α Ω(θ), where J is the mean (label-smoothed)
cross-entropy over mini-batches of the (augmented) training set and Ω the kernel penalty, with SGD +
Nesterov momentum (or another Keras optimizer) and a learning-rate schedule ε_k, then reports the accuracy on
the full test set.

``TrainConfig`` holds every choice; ``validate_config`` checks it (raising ``ValueError`` naming the flag)
before any data is read or any file written; ``run_training`` does the work and is resumable: rerun with the
same ``output_dir`` after an interruption and it continues from the last completed epoch
(``callbacks.backup_and_restore.AtomicBackupAndRestore``), seeing exactly the batches the uninterrupted run would have seen.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import pathlib
import sys
import time

import keras
import numpy as np

from callbacks.backup_and_restore import AtomicBackupAndRestore
from recipes.data import cifar10
from recipes.training.distribute import STRATEGIES, distribute_options, is_chief, make_strategy, parse_tf_config
from recipes.models.resnet import MODEL_NAMES, NORMS, build_resnet
from recipes.optimization.schedules import LinearDecay

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "linear", "cosine")
WEIGHT_DECAY_MODES = ("l2", "decoupled")
PRECISIONS = ("off", "float16", "bfloat16")
ES_POLICIES = ("none", "retrain", "continue")


@dataclasses.dataclass
class TrainConfig:
    """Every choice of a training run; field names match the command-line flags (``--batch-size`` …)."""

    data_dir: str | None = None
    cache_dir: str | None = None
    model: str = "resnet20"
    width: int | None = None
    epochs: int = 30
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    schedule: str = "linear"
    final_lr_fraction: float = 0.01
    weight_decay: float = 1e-4
    weight_decay_mode: str = "l2"
    label_smoothing: float = 0.0
    dropout: float = 0.0
    norm: str = "batch"
    augment: str = "standard"
    clipnorm: float | None = None
    mixed_precision: str = "off"
    jit: bool = False
    seed: int = 0
    deterministic: bool = True
    train_limit: int | None = None
    val_size: int = 0
    output_dir: str = "runs/cifar10"
    tensorboard: bool = True
    verbose: str | int = "auto"
    strategy: str = "default"
    logical_cpus: int | None = None
    collective_timeout: float = 300.0
    early_stopping: bool = False  # the lecture's meta-algorithm (callbacks/early_stopping.py), needs val_size
    patience: int = 5  # p, in evaluations
    eval_every: int = 100  # n, steps between evaluations
    policy: str = "none"  # after early stopping: keep θ* | retrain on all data (#1) | continue on all data (#2)
    retrain_length: str = "steps"  # policy 1: i* steps, or the same number of epochs
    max_extra_steps: int | None = None  # policy 2's bound (default max(i*, n))


class UsageError(ValueError):
    """A bad flag, a bad data folder or unusable data, found before training started (nothing was written)."""


class WorkerFailure(RuntimeError):
    """A multi-worker job lost a worker (collective operations aborted or timed out)."""


def _check(condition, message):
    if not condition:
        raise ValueError(message)


def validate_config(cfg: TrainConfig):
    """Raise ``ValueError`` naming the flag and its allowed range for the first bad field of ``cfg``."""
    from augment.image_pipeline import AUGMENTATIONS

    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    _check(cfg.model in MODEL_NAMES, f"--model must be one of {', '.join(MODEL_NAMES)}; got {cfg.model!r}")
    _check(cfg.width is None or (is_int(cfg.width) and cfg.width >= 1), f"--width must be an integer >= 1; got {cfg.width!r}")
    _check(is_int(cfg.epochs) and cfg.epochs >= 1, f"--epochs must be an integer >= 1; got {cfg.epochs!r}")
    _check(is_int(cfg.batch_size) and cfg.batch_size >= 1, f"--batch-size must be an integer >= 1; got {cfg.batch_size!r}")
    _check(cfg.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}; got {cfg.optimizer!r}")
    _check(math.isfinite(cfg.lr) and cfg.lr > 0, f"--lr must be a finite number > 0; got {cfg.lr!r}")
    _check(0 <= cfg.momentum < 1, f"--momentum must be in [0, 1); got {cfg.momentum!r}")
    _check(cfg.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}; got {cfg.schedule!r}")
    _check(0 <= cfg.final_lr_fraction <= 1, f"--final-lr-fraction must be in [0, 1]; got {cfg.final_lr_fraction!r}")
    _check(math.isfinite(cfg.weight_decay) and cfg.weight_decay >= 0, f"--weight-decay must be >= 0; got {cfg.weight_decay!r}")
    _check(cfg.weight_decay_mode in WEIGHT_DECAY_MODES,
           f"--weight-decay-mode must be one of {', '.join(WEIGHT_DECAY_MODES)}; got {cfg.weight_decay_mode!r}")
    _check(0 <= cfg.label_smoothing < 1, f"--label-smoothing must be in [0, 1); got {cfg.label_smoothing!r}")
    _check(0 <= cfg.dropout < 1, f"--dropout must be in [0, 1); got {cfg.dropout!r}")
    _check(cfg.norm in NORMS, f"--norm must be one of {', '.join(NORMS)}; got {cfg.norm!r}")
    _check(cfg.augment in AUGMENTATIONS, f"--augment must be one of {', '.join(sorted(AUGMENTATIONS))}; got {cfg.augment!r}")
    _check(cfg.clipnorm is None or (math.isfinite(cfg.clipnorm) and cfg.clipnorm > 0),
           f"--clipnorm must be > 0; got {cfg.clipnorm!r}")
    _check(cfg.mixed_precision in PRECISIONS, f"--mixed-precision must be one of {', '.join(PRECISIONS)}; got {cfg.mixed_precision!r}")
    _check(is_int(cfg.seed) and 0 <= cfg.seed < 2**31, f"--seed must be an integer in [0, 2^31); got {cfg.seed!r}")
    _check(cfg.train_limit is None or (is_int(cfg.train_limit) and cfg.train_limit >= 1),
           f"--train-limit must be an integer >= 1; got {cfg.train_limit!r}")
    _check(is_int(cfg.val_size) and cfg.val_size >= 0, f"--val-size must be an integer >= 0; got {cfg.val_size!r}")
    _check(cfg.strategy in STRATEGIES, f"--strategy must be one of {', '.join(STRATEGIES)}; got {cfg.strategy!r}")
    if cfg.strategy == "multiworker":
        parse_tf_config()
    _check(cfg.logical_cpus is None or (is_int(cfg.logical_cpus) and cfg.logical_cpus >= 1),
           f"--logical-cpus must be an integer >= 1; got {cfg.logical_cpus!r}")
    _check(cfg.collective_timeout > 0, f"--collective-timeout must be > 0; got {cfg.collective_timeout!r}")
    _check(is_int(cfg.patience) and cfg.patience >= 1, f"--patience must be an integer >= 1; got {cfg.patience!r}")
    _check(is_int(cfg.eval_every) and cfg.eval_every >= 1, f"--eval-every must be an integer >= 1; got {cfg.eval_every!r}")
    _check(cfg.policy in ES_POLICIES, f"--policy must be one of {', '.join(ES_POLICIES)}; got {cfg.policy!r}")
    _check(cfg.retrain_length in ("steps", "epochs"), f"--retrain-length must be steps or epochs; got {cfg.retrain_length!r}")
    _check(cfg.max_extra_steps is None or (is_int(cfg.max_extra_steps) and cfg.max_extra_steps >= 1),
           f"--max-extra-steps must be an integer >= 1; got {cfg.max_extra_steps!r}")
    _check(not cfg.early_stopping or cfg.val_size > 0, "--early-stopping needs a validation set: --val-size > 0")
    _check(not cfg.early_stopping or cfg.strategy == "default",
           f"--early-stopping runs with --strategy default only; got {cfg.strategy!r}")
    _check(cfg.policy == "none" or cfg.early_stopping, f"--policy {cfg.policy} needs --early-stopping")
    _check(bool(cfg.output_dir), "--output-dir must be a non-empty path")
    out = pathlib.Path(cfg.output_dir)
    _check(not out.exists() or out.is_dir(), f"--output-dir {cfg.output_dir} exists and is not a folder")
    _check(cfg.cache_dir is None or not pathlib.Path(cfg.cache_dir).exists() or pathlib.Path(cfg.cache_dir).is_dir(),
           f"--cache-dir {cfg.cache_dir} exists and is not a folder")
    _check(cfg.verbose in ("auto", 0, 1, 2, "0", "1", "2") and not isinstance(cfg.verbose, bool),
           f"--verbose must be auto, 0, 1 or 2; got {cfg.verbose!r}")
    if cfg.data_dir is not None:
        _check(pathlib.Path(cfg.data_dir).is_dir(),
               f"--data-dir {cfg.data_dir} does not exist or is not a folder "
               "(expected DIR/train/<class>/*.png and DIR/test/<class>/*.png)")


def prepare_data(cfg: TrainConfig):
    """Load CIFAR-10, apply ``train_limit`` and the subtrain/validation split; check labels and batch size."""
    (x_train, y_train), (x_test, y_test) = cifar10.load_cifar10(cfg.data_dir, cache_dir=cfg.cache_dir)
    if cfg.train_limit is not None:
        x_train, y_train = x_train[: cfg.train_limit], y_train[: cfg.train_limit]
    num_classes = 10
    for name, x in (("training", x_train), ("test", x_test)):
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():  # uint8 images cannot hold NaN
            bad = int(np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))[0])
            raise ValueError(f"{name} images contain NaN or inf values (first in image {bad})")
    for name, y in (("training", y_train), ("test", y_test)):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} labels must lie in [0, {num_classes}); found {int(y.min())}..{int(y.max())}")
    _check(cfg.val_size < len(y_train), f"--val-size must be < the number of training images ({len(y_train)}); got {cfg.val_size}")
    if cfg.val_size:
        (x_sub, y_sub), (x_val, y_val) = cifar10.split_train_val(x_train, y_train, cfg.val_size, seed=cfg.seed)
    else:
        (x_sub, y_sub), (x_val, y_val) = (x_train, y_train), (x_train[:0], y_train[:0])
    _check(cfg.batch_size <= len(x_sub),
           f"--batch-size must be <= the number of training images ({len(x_sub)}); got {cfg.batch_size}")
    return (x_sub, y_sub), (x_val, y_val), (x_test, y_test)


def make_optimizer(cfg: TrainConfig, total_steps: int):
    """The optimizer with its schedule ε_k: constant ε₀, the lecture's linear decay to ε₀·final_lr_fraction
    over all ``total_steps`` (``LinearDecay``), or cosine decay to the same floor."""
    if cfg.schedule == "constant":
        lr = cfg.lr
    elif cfg.schedule == "linear":
        lr = LinearDecay(cfg.lr, cfg.lr * cfg.final_lr_fraction, max(1, total_steps))
    else:
        lr = keras.optimizers.schedules.CosineDecay(cfg.lr, max(1, total_steps), alpha=cfg.final_lr_fraction)
    common = {"learning_rate": lr}
    if cfg.clipnorm is not None:
        common["global_clipnorm"] = cfg.clipnorm
    if cfg.weight_decay_mode == "decoupled" and cfg.weight_decay > 0:
        common["weight_decay"] = cfg.weight_decay
    if cfg.optimizer == "sgd":
        opt = keras.optimizers.SGD(momentum=cfg.momentum, nesterov=cfg.nesterov, **common)
    elif cfg.optimizer == "adam":
        opt = keras.optimizers.Adam(**common)
    elif cfg.optimizer == "adamw":
        common.setdefault("weight_decay", 0.0)
        opt = keras.optimizers.AdamW(**common)
    else:
        opt = keras.optimizers.RMSprop(momentum=cfg.momentum, **common)
    if "weight_decay" in common:
        # Decoupled weight decay w ← w − ε·λ·w on kernels only: never biases or normalization γ, β.
        opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return opt


def build_model(cfg: TrainConfig, mean, std):
    regularizer = None
    if cfg.weight_decay_mode == "l2" and cfg.weight_decay > 0:
        regularizer = keras.regularizers.L2(cfg.weight_decay)
    return build_resnet(cfg.model, width=cfg.width, num_classes=10, kernel_regularizer=regularizer,
                        dropout_rate=cfg.dropout, norm=cfg.norm, mean=mean, std=std, seed=cfg.seed)


def fit_with_early_stopping(cfg: TrainConfig, new_model, subtrain, valid, callbacks):
    """``--early-stopping``: the lecture's meta-algorithm on (subtrain, valid), evaluating every ``--eval-every``
    steps with patience ``--patience``, then ``--policy`` (recipes/early_stopping/policies.py). Returns its
    ``EarlyStoppingResult`` (``.model`` is the final model)."""
    from augment.image_pipeline import make_eval_dataset, make_train_dataset
    from recipes.early_stopping.policies import train_with_early_stopping

    def make_dataset(x, y, seed, epochs):
        return make_train_dataset(x, y, cfg.batch_size, augment=cfg.augment, seed=seed, epochs=epochs)[0]

    return train_with_early_stopping(
        new_model, subtrain, valid, policy=cfg.policy, eval_every=cfg.eval_every, patience=cfg.patience,
        batch_size=cfg.batch_size, max_epochs=cfg.epochs, retrain_length=cfg.retrain_length,
        max_extra_steps=cfg.max_extra_steps, make_dataset=make_dataset, make_eval_dataset=make_eval_dataset,
        drop_remainder=True, callbacks=callbacks, fit_kwargs={"verbose": cfg.verbose, "shuffle": False},
        seed=cfg.seed, verbose=1,
    )


def _completed_epochs(backup_dir: pathlib.Path) -> int:
    meta = backup_dir / "training_metadata.json"
    if not meta.exists():
        return 0
    try:
        return int(json.loads(meta.read_text())["epoch"])
    except (ValueError, KeyError, OSError):
        return 0


def _trim_history(csv_path: pathlib.Path, keep_epochs: int):
    """Keep the rows of epochs < keep_epochs, so a resumed run appends without duplicates."""
    if not csv_path.exists():
        return
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], [r for r in rows[1:] if r and int(r[0]) < keep_epochs]
    with open(csv_path, "w", newline="") as f:
        csv.writer(f).writerows([header] + body)


def _read_history(csv_path: pathlib.Path):
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    history = {}
    for key in rows[0].keys() if rows else []:
        values = [float("nan") if r[key] in ("", "NA") else float(r[key]) for r in rows]
        if not all(math.isnan(v) for v in values):  # CSVLogger writes NA for absent validation metrics
            history[key] = values
    return history


def _build_for_multiworker(model, strategy, local_batches):
    """Build the model's optimizer and metric variables from a local batch, before ``fit``.

    Keras 3.15's TensorFlow trainer builds them in ``fit`` from the first distributed batch reduced with
    ``strategy.reduce``, which ``MultiWorkerMirroredStrategy`` cannot do eagerly ("Attempt to convert a value
    (PerReplica...)"); every worker builds the same variables from its own copy of the first examples instead.
    """
    with strategy.scope():
        model._symbolic_build(data_batch=next(iter(local_batches)))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def run_training(cfg: TrainConfig, extra_callbacks=()):
    """Train as configured; write ``model.keras``, ``history.csv``/``history.json``, ``metrics.json`` and
    TensorBoard logs to ``output_dir``; return the metrics dict (``test_accuracy``, ``test_loss``, …)."""
    try:
        validate_config(cfg)
        strategy = make_strategy(cfg.strategy, cfg.logical_cpus, cfg.collective_timeout)
        data = prepare_data(cfg)
        replicas = strategy.num_replicas_in_sync
        _check(cfg.batch_size % replicas == 0,
               f"--batch-size (the global batch) must be divisible by the {replicas} replicas; got {cfg.batch_size}")
    except (ValueError, FileNotFoundError, cifar10.DataUnavailableError) as err:
        raise UsageError(str(err)) from err
    (x_sub, y_sub), (x_val, y_val), (x_test, y_test) = data
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    from augment.image_pipeline import make_eval_dataset, make_train_dataset

    mean, std = cifar10.channel_mean_std(x_sub)

    chief = is_chief()
    out = pathlib.Path(cfg.output_dir)
    backup_dir = out / "backup"  # every worker restores from the chief's backup; only the chief writes
    start_epoch = 0 if cfg.early_stopping else _completed_epochs(backup_dir)  # early stopping does not resume
    if start_epoch >= cfg.epochs:
        start_epoch = 0  # a stale backup from a longer run: start afresh
    train_ds, steps = make_train_dataset(x_sub, y_sub, cfg.batch_size, augment=cfg.augment, seed=cfg.seed,
                                         start_epoch=start_epoch, epochs=cfg.epochs)
    val_ds = make_eval_dataset(x_val, y_val) if len(x_val) else None
    test_ds = make_eval_dataset(x_test, y_test)
    if cfg.strategy == "multiworker":
        train_ds, test_ds = train_ds.with_options(distribute_options()), test_ds.with_options(distribute_options())
        val_ds = val_ds.with_options(distribute_options()) if val_ds is not None else None

    def new_model():
        """A compiled model with freshly initialized θ (early-stopping policy 1 calls it a second time)."""
        if cfg.mixed_precision != "off":
            keras.mixed_precision.set_global_policy(f"mixed_{cfg.mixed_precision}")
        try:
            with strategy.scope():
                model = build_model(cfg, mean, std)
                model.compile(
                    optimizer=make_optimizer(cfg, cfg.epochs * steps),
                    loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing),
                    metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
                    jit_compile=cfg.jit,
                )
            if cfg.strategy == "multiworker":
                _build_for_multiworker(model, strategy, make_eval_dataset(x_sub[:2], y_sub[:2]))
        finally:
            keras.mixed_precision.set_global_policy("float32")
        return model

    model = None if cfg.early_stopping else new_model()  # early stopping builds its own (twice for policy 1)
    callbacks = list(extra_callbacks)
    csv_path = out / "history.csv"
    if chief:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
        _trim_history(csv_path, start_epoch)
        callbacks.append(keras.callbacks.CSVLogger(str(csv_path), append=start_epoch > 0 or cfg.early_stopping))
    if cfg.tensorboard and chief:
        try:
            import tensorflow  # noqa: F401  (the TensorBoard callback writes with tf.summary)

            callbacks.append(keras.callbacks.TensorBoard(str(out / "logs"), update_freq="epoch"))
        except ImportError:
            pass
    # The backup commits an epoch last, after its history row is written: a run killed in between finds the row
    # of an uncommitted epoch, which _trim_history drops on the rerun, never a committed epoch without its row.
    # An early-stopping run is not resumable: no backup (the callback's θ*, i*, curve are not in it).
    if not cfg.early_stopping:
        callbacks.append(AtomicBackupAndRestore(str(backup_dir), write=chief))
    if start_epoch:
        print(f"Resuming from {backup_dir}: {start_epoch} of {cfg.epochs} epochs done", flush=True)
    started = time.time()
    es = None
    try:
        if cfg.early_stopping:
            es = fit_with_early_stopping(cfg, new_model, (x_sub, y_sub), (x_val, y_val), callbacks)
            model = es.model
            steps_run = es.es_steps + (es.retrain_steps or 0) + (es.extra_steps or 0)
        else:
            model.fit(train_ds, epochs=cfg.epochs, steps_per_epoch=steps, validation_data=val_ds,
                      callbacks=callbacks, verbose=cfg.verbose, shuffle=False)
            steps_run = (cfg.epochs - start_epoch) * steps
    except Exception as err:
        if cfg.strategy != "multiworker" or type(err).__module__.split(".")[0] != "tensorflow":
            raise
        done = _completed_epochs(backup_dir)
        raise WorkerFailure(
            f"a worker of the multi-worker job failed or became unreachable ({type(err).__name__}: "
            f"{str(err).strip().splitlines()[0]}). The last committed checkpoint is epoch {done} of "
            f"{cfg.epochs} in {backup_dir}; rerun every worker with the same --output-dir to resume from it."
        ) from err
    train_seconds = time.time() - started

    test_loss, test_accuracy = model.evaluate(test_ds, verbose=0)[:2]
    metrics = {
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "test_examples": int(len(x_test)),
        "train_examples": int(len(x_sub) + (len(x_val) if es is not None and cfg.policy != "none" else 0)),
        "parameters": int(model.count_params()),
        "train_seconds_this_run": round(train_seconds, 2),
        "images_per_second": round(steps_run * cfg.batch_size / max(train_seconds, 1e-9), 1),
    }
    if es is not None:
        metrics["early_stopping"] = es.summary()
    if chief:
        model.save(out / "model.keras")
        (out / "history.json").write_text(json.dumps(_read_history(csv_path), indent=1))
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        if es is not None:
            (out / "early_stopping.json").write_text(json.dumps(
                {**es.summary(), "curve_steps": es.curve_steps, "curve_values": es.curve_values,
                 "continue_steps": es.continue_steps, "continue_values": es.continue_values}, indent=1))
    return metrics
