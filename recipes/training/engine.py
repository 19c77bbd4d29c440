"""The one training engine behind the training commands (the standard and the fast CIFAR-10 recipe).

Minimizes the regularized objective J̃(θ) = J(θ; X, y) + α Ω(θ) by mini-batch SGD (or another Keras optimizer)
with a learning-rate schedule ε_k, where J is the mean (label-smoothed) cross-entropy over the augmented training
batches and Ω the kernel penalty (``--weight-decay-mode l2``; ``decoupled`` shrinks w ← w − ε_k λ w in the
optimizer instead), and reports the accuracy on the test set (with test-time augmentation for ``--tta`` > 0).

Both recipes are configurations of the same run (``recipes.training.config``), and every step is done once:

1. data: ``recipes.data.cifar10.prepare_cifar10`` (folder or tensorflow-datasets, limits, stratified validation
   split, channel statistics μ_c, σ_c);
2. augmentation: one ``augment.presets.AugmentSpec`` applied either in tf.data (``--augment-on data``) or inside the
   compiled training step (``device``), both through ``augment.presets.ImageAugmenter`` with the same data order
   (``epoch_order``: a permutation per (seed, epoch)) and the same per-step keys (``step_key(seed, step)``), so a
   run resumed at epoch e sees exactly the batches an uninterrupted run saw;
3. model: ``recipes.models.build_model`` (the registry), standardizing raw 0..255 images with μ_c, σ_c;
4. optimizer: ``build_optimizer`` — the schedule ε_k (``LinearDecay``, ``WarmupLinearDecay`` or cosine), the
   library's decoupled weight decay with its exclusions (``recipes.regularizers.penalties``) and its clipping
   α·g/‖g‖ (``recipes.optimization.gradient_clipping``);
5. training: Keras ``fit`` with the callbacks of the run (timing, validation, weight averaging, history, backup,
   TensorBoard, early stopping), on TensorFlow or JAX;
6. the run folder (``recipes.training.run_folder``): history, metrics, model, results of every seed.
"""
from __future__ import annotations

import json
import math
import pathlib
import signal
import threading
import time

import keras
import numpy as np

from callbacks.backup_and_restore import AtomicBackupAndRestore
from recipes.data.cifar10 import DataUnavailableError, prepare_cifar10
from recipes.models import build_model
from recipes.training import backend as run_backend
from recipes.training import run_folder
from recipes.training.config import (  # noqa: F401  (re-exported: the 0.1 module had them)
    ES_POLICIES, MODELS, OPTIMIZERS, PRECISIONS, RECIPES, SCHEDULES, WEIGHT_DECAY_MODES, TrainConfig,
    augment_placement, augment_spec_of, config_for, total_steps, validate_config,
)
from recipes.training.distribute import distribute_options, is_chief, make_strategy

__all__ = ["TrainConfig", "config_for", "validate_config", "run_training", "build_optimizer", "build_network",
           "UsageError", "WorkerFailure"]


class UsageError(ValueError):
    """A bad flag, a bad data folder or unusable data, found before training started (nothing was written)."""


class WorkerFailure(RuntimeError):
    """A multi-worker job lost a worker (collective operations aborted or timed out)."""


# ------------------------------------------------------------------------------------------------------------
# model, optimizer, loss


def build_network(cfg: TrainConfig, splits, seed):
    """The configured network from the registry, taking raw 0..255 images (standardized with μ_c, σ_c inside).

    ResNets get the kernel penalty λ‖w‖² (``--weight-decay-mode l2``), the dropout rate, the normalization; the
    airbench net gets its frozen patch-whitening kernel from the first ``--whiten-images`` training images."""
    keras.utils.set_random_seed(seed)
    if cfg.model == "airbench":
        from recipes.models.airbench import patch_whitening_kernel

        kernel = None
        if cfg.whiten:
            x = splits.train[0][: cfg.whiten_images].astype("float64")
            kernel = patch_whitening_kernel((x - splits.mean) / splits.std, 2, cfg.whiten_eps)
        return build_model("airbench", widths=tuple(cfg.widths), num_classes=splits.num_classes,
                           input_shape=tuple(splits.train[0].shape[1:]), mean=splits.mean, std=splits.std,
                           whitening_kernel=kernel, whiten_bias=cfg.whiten_bias_epochs > 0,
                           bn_momentum=cfg.bn_momentum, bn_epsilon=cfg.bn_epsilon, init=cfg.init)
    regularizer = None
    if cfg.weight_decay_mode == "l2" and cfg.weight_decay > 0:
        regularizer = keras.regularizers.L2(cfg.weight_decay)
    return build_model(cfg.model, width=cfg.width, num_classes=splits.num_classes,
                       input_shape=tuple(splits.train[0].shape[1:]), kernel_regularizer=regularizer,
                       dropout_rate=cfg.dropout, norm=cfg.norm, mean=splits.mean, std=splits.std, seed=seed)


def learning_rate_schedule(cfg: TrainConfig, steps: int, steps_per_epoch: int):
    """ε_k: constant ε₀; the lecture's linear decay ε_k = (1 − k/τ)ε₀ + (k/τ)ε_τ with ε_τ = ε₀·final_lr_fraction
    (after a linear warm-up from 0.2ε₀ over w steps when given: w = round(warmup_epochs · steps per epoch), or
    w = ⌊warmup_fraction · τ⌋ as airbench94 counts it); or cosine decay to the same floor."""
    from recipes.optimization.schedules import LinearDecay
    from recipes.optimization.warmup_schedule import WarmupLinearDecay

    final = cfg.lr * cfg.final_lr_fraction
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(cfg.lr, max(1, steps), alpha=cfg.final_lr_fraction)
    if cfg.warmup_fraction:
        warmup = min(int(cfg.warmup_fraction * steps), steps - 1)
    else:
        warmup = min(int(round(cfg.warmup_epochs * steps_per_epoch)), steps - 1)
    if warmup > 0:
        return WarmupLinearDecay(cfg.lr, final, steps, warmup_steps=warmup)
    return LinearDecay(cfg.lr, final, max(1, steps))


def build_optimizer(cfg: TrainConfig, steps: int, steps_per_epoch: int, model=None):
    """The one optimizer builder: ``--optimizer`` with the schedule ε_k, decoupled weight decay w ← w − ε_k λ w
    (``--weight-decay-mode decoupled``) and gradient clipping g ← α·g/‖g‖ (``--clipnorm``,
    ``recipes.optimization.gradient_clipping.clipping_arguments``).

    The decay falls on the kernels only, by role (``recipes.regularizers.penalties.weight_decay_variables``):
    with a built ``model`` every other trainable variable of it is excluded (``restrict_weight_decay``); without
    one, by the library's default name rule (``NON_KERNEL_NAME_PATTERN``: biases, γ, β, scales)."""
    from recipes.optimization.gradient_clipping import clipping_arguments
    from recipes.regularizers.penalties import decoupled_weight_decay_optimizer

    kwargs = dict(clipping_arguments(cfg.clipnorm))
    if cfg.optimizer == "grouped_sgd":
        return grouped_sgd_optimizer(cfg, learning_rate_schedule(cfg, steps, steps_per_epoch), steps_per_epoch,
                                     **kwargs)
    if cfg.optimizer == "sgd":
        kwargs.update(momentum=cfg.momentum, nesterov=cfg.nesterov)
    elif cfg.optimizer == "rmsprop":
        kwargs.update(momentum=cfg.momentum)
    decay = cfg.weight_decay if cfg.weight_decay_mode == "decoupled" else 0.0
    return decoupled_weight_decay_optimizer(cfg.optimizer, learning_rate_schedule(cfg, steps, steps_per_epoch),
                                            weight_decay=decay, model=model if decay else None, **kwargs)


#: The parameter groups of ``--optimizer grouped_sgd`` (patterns searched in the variables' paths).
NORM_PARAMETERS = r"(^|/)(beta|gamma)$"
WHITEN_BIAS = r"(^|/)whiten/bias$"


def grouped_sgd_optimizer(cfg: TrainConfig, learning_rate, steps_per_epoch: int, **kwargs):
    """``--optimizer grouped_sgd``: ``GroupedSGD`` (PyTorch's SGD with parameter groups) with

    d = c·g + λ·w,  b ← μ b + d,  w ← w − ε_k (d + μ b),

    c = ``--bias-lr-scale`` on the normalization layers' β, γ (airbench94's 64 on BatchNorm biases) and 1 elsewhere,
    λ = ``--weight-decay`` on every trained variable with ``--weight-decay-mode coupled`` (0 otherwise), and the
    whitening layer's bias updated in the first ``--whiten-bias-epochs`` epochs only."""
    from recipes.optimization.param_groups import GroupedSGD, param_group

    groups = [param_group(NORM_PARAMETERS, lr_scale=cfg.bias_lr_scale)]
    if cfg.whiten_bias_epochs:
        groups.append(param_group(WHITEN_BIAS, train_steps=cfg.whiten_bias_epochs * steps_per_epoch))
    decay = cfg.weight_decay if cfg.weight_decay_mode == "coupled" else 0.0
    return GroupedSGD(learning_rate, momentum=cfg.momentum, nesterov=cfg.nesterov, coupled_weight_decay=decay,
                      groups=groups, **kwargs)


def build_loss(cfg: TrainConfig, one_hot: bool):
    """Cross-entropy on the logits with label smoothing ỹ = (1 − ε)y + ε/K: against one-hot rows when the
    augmentation mixes labels, else against the integer labels the loaders return (so a saved model evaluates
    with them)."""
    if one_hot:
        return (keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing),
                [keras.metrics.CategoricalAccuracy(name="accuracy")])
    if cfg.label_smoothing:
        from recipes.regularizers.noise_robustness import SparseCategoricalCrossentropyWithSmoothing

        loss = SparseCategoricalCrossentropyWithSmoothing(cfg.label_smoothing, from_logits=True)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return loss, [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]


# ------------------------------------------------------------------------------------------------------------
# evaluation


def tta_model(network, level):
    """A Keras model computing the test-time-augmented logits of ``network`` (``recipes.training.tta``)."""
    from recipes.training.tta import tta_logits

    if level == 0:
        return network
    inputs = keras.Input(network.input_shape[1:], name="image")
    outputs = tta_logits(lambda z: network(z, training=False), inputs, level)
    return keras.Model(inputs, outputs, name=f"{network.name}_tta{level}")


def evaluate(model, x, y, batch_size):
    """(accuracy, mean cross-entropy) of ``model``'s logits on (x, y), integer labels; no label smoothing."""
    logits = np.asarray(model.predict(x.astype("float32"), batch_size=batch_size, verbose=0), dtype=np.float64)
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    y = np.asarray(y).astype(int)
    return float(np.mean(logits.argmax(axis=1) == y)), float(-np.mean(log_p[np.arange(len(y)), y]))


class _HoldOutEvaluation(keras.callbacks.Callback):
    """At each epoch end, evaluates the network (with the averaged weights when averaging) on the validation set
    (``val_loss``/``val_accuracy`` in the logs, so the history has them) and, with ``--eval-every-epoch``, on the
    test set with TTA (``test_accuracy``), recording when ``--target`` was first reached."""

    def __init__(self, network, val, test, tta_net, batch_size, timer, target, averaging=None):
        super().__init__()
        self.network, self.val, self.test, self.tta_net = network, val, test, tta_net
        self.batch_size, self.timer, self.target, self.averaging = batch_size, timer, target, averaging
        self.time_to_target = None

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (self.val is None and self.test is None):
            return
        with (self.averaging.swapped_in() if self.averaging is not None else _nothing()):
            if self.val is not None:
                logs["val_accuracy"], logs["val_loss"] = evaluate(self.network, *self.val, self.batch_size)
            if self.test is not None:
                logs["test_accuracy"] = evaluate(self.tta_net, *self.test, self.batch_size)[0]
                if self.time_to_target is None and logs["test_accuracy"] >= self.target:
                    self.time_to_target = self.timer.train_s


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _EpochTimer(keras.callbacks.Callback):
    """Wall-clock of the training steps alone: from an epoch's first step to the end of its last (the logs are
    materialized at the epoch's end, which waits for the device), summed over epochs; evaluation excluded.
    ``train_cpu_s`` is the process CPU time (``time.process_time``: every thread, user + system) over the same
    spans. Also adds ``lr`` (ε_k at the epoch's end) and ``images_per_second`` to the epoch's logs."""

    def __init__(self, batch_size, epochs=None):
        super().__init__()
        self.batch_size, self.epochs = batch_size, epochs
        self.train_s, self.train_cpu_s, self.steps = 0.0, 0.0, 0
        self._t0 = self._c0 = None
        self._batches = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._t0, self._c0, self._batches = None, None, 0

    def on_train_batch_begin(self, batch, logs=None):
        if self._t0 is None:
            self._t0, self._c0 = time.perf_counter(), time.process_time()

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            for v in logs.values():  # materialize: waits for the device's last step
                float(np.asarray(v))
        seconds = time.perf_counter() - self._t0 if self._t0 is not None else 0.0
        self.train_s += seconds
        self.train_cpu_s += time.process_time() - self._c0 if self._c0 is not None else 0.0
        self.steps += self._batches
        if logs is not None:
            logs["images_per_second"] = self._batches * self.batch_size / max(seconds, 1e-9)
            logs["lr"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def print_line(self, epoch, logs):
        keys = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy", "test_accuracy") if k in logs]
        parts = [f"{k} {logs[k]:.4f}" for k in keys]
        print(f"Epoch {epoch + 1}/{self.epochs}: " + ", ".join(parts)
              + f", lr {logs['lr']:.4g}, {logs['images_per_second']:.0f} img/s, train {self.train_s:.1f} s",
              flush=True)


class _EpochLine(keras.callbacks.Callback):
    """One line per epoch (for logs that are not a terminal), after every other callback filled the logs."""

    def __init__(self, timer):
        super().__init__()
        self.timer = timer

    def on_epoch_end(self, epoch, logs=None):
        self.timer.print_line(epoch, logs or {})


# ------------------------------------------------------------------------------------------------------------
# data sources


def _train_source(cfg, spec, placement, splits, seed, start_epoch, fit_epochs, steps_per_epoch):
    """(training batches for ``fit``, whether labels are one-hot). ``data``: the tf.data pipeline, augmented there;
    ``device``: raw uint8 batches with image ids and the step, augmented by ``AugmentOnDevice`` in the model."""
    x, y = splits.train
    if placement == "data":
        from augment.image_pipeline import make_train_dataset

        ds, _ = make_train_dataset(x, y, cfg.batch_size, num_classes=splits.num_classes, augment=spec, seed=seed,
                                   start_epoch=start_epoch, epochs=fit_epochs, one_hot=spec.mixes_labels)
        if cfg.strategy == "multiworker":
            ds = ds.with_options(distribute_options())
        return ds, spec.mixes_labels
    from augment.device_batches import TrainBatches

    return TrainBatches(x, y, cfg.batch_size, seed=seed, start_epoch=start_epoch), False


def _device_model(network, spec, seed, steps_per_epoch, image_shape):
    """``network`` behind ``AugmentOnDevice``: inputs {"images", "ids", "step"} → augmented images → logits."""
    from augment.device_batches import AugmentOnDevice

    inputs = {"images": keras.Input(image_shape, dtype="uint8", name="images"),
              "ids": keras.Input((), dtype="int32", name="ids"),
              "step": keras.Input((), dtype="int32", name="step")}
    images = AugmentOnDevice(spec, seed=seed, steps_per_epoch=steps_per_epoch, name="augment_on_device")(inputs)
    return keras.Model(inputs, network(images), name=f"{network.name}_training")


def _warm_up(train_model, source, placement, tta_net, x_eval, batch_size):
    """Compile the training step and the evaluation once, on a throwaway copy of the state; returns seconds.

    A one-step ``fit`` on the run's own batch source (same element types and shapes, so the real ``fit`` reuses
    the compiled step) and a prediction on one evaluation batch; then every variable (weights, optimizer slots,
    seed states) is put back: the run is the one it would have been without the warm-up.
    """
    if not train_model.optimizer.built:  # its slots (momentum, …) would otherwise first appear in the warm-up
        train_model.optimizer.build(train_model.trainable_variables)
    variables = train_model.variables + train_model.optimizer.variables
    snapshot = [np.array(keras.ops.convert_to_numpy(v)) for v in variables]
    start = time.perf_counter()
    train_model.fit(source, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    run_backend.sync(train_model.trainable_variables[0])
    tta_net.predict(x_eval[: min(batch_size, len(x_eval))].astype("float32"), batch_size=batch_size, verbose=0)
    seconds = time.perf_counter() - start
    for v, value in zip(variables, snapshot):
        v.assign(value)
    train_model.reset_metrics()
    return seconds


# ------------------------------------------------------------------------------------------------------------
# the run


class RunFailed(RuntimeError):
    """The results could not be written (disk full, …); the backup is kept, a rerun finishes the run."""


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the backup of the last finite epoch is kept."""


class TrainingInterrupted(RuntimeError):
    """Ctrl-C (SIGINT) stopped the training at a step boundary; the backup of the last completed epoch is kept."""


def _seed_folders(cfg):
    """[(seed, folder or None)]: ``--output-dir`` itself for one seed, ``--output-dir/seed<k>`` for several."""
    out = pathlib.Path(cfg.output_dir) if cfg.output_dir is not None else None
    seeds = [cfg.seed + k for k in range(cfg.seeds)]
    if out is None:
        return [(s, None) for s in seeds]
    return [(s, out if cfg.seeds == 1 else out / f"seed{s}") for s in seeds]


def _check_folders(cfg, fingerprint=None):
    """Judge ``--output-dir`` for this configuration (``run_folder.RunFolder.check``); returns the top folder's
    status and each seed folder's. Touches nothing."""
    if cfg.output_dir is None or not is_chief():
        return "new", {}
    top = run_folder.RunFolder(cfg.output_dir)
    top_ident = run_folder.identity(cfg, seed=cfg.seed if cfg.seeds == 1 else None, data_fingerprint=fingerprint)
    status = top.check(top_ident, overwrite=cfg.overwrite)
    seeds = {}
    if cfg.seeds > 1 and status != "overwrite":
        for seed, folder in _seed_folders(cfg):
            seeds[seed] = run_folder.RunFolder(folder).check(
                run_folder.identity(cfg, seed=seed, data_fingerprint=fingerprint))
    return status, seeds


def run_training(cfg: TrainConfig, extra_callbacks=(), log=print):
    """Train as configured, for seeds ``seed … seed + seeds − 1``; write the run folder(s); return the summary
    (``test_accuracy`` = the mean over seeds, ``runs`` = every seed's metrics; ``stored`` = the seeds whose
    finished result was read back instead of trained).

    Everything that can be judged before training is judged first, and raises ``UsageError`` having written
    nothing: the flags, the output and cache folders (writable; another run's settings or foreign files refused),
    the data (its sizes against the flags, its fingerprint against a run being resumed)."""
    try:
        validate_config(cfg)
        if cfg.output_dir is not None:
            run_folder.check_writable_folder(cfg.output_dir, "--output-dir")
        _check_folders(cfg)  # the flags' identity, before any data is read
        strategy = None
        if cfg.strategy != "default" or cfg.logical_cpus:
            strategy = make_strategy(cfg.strategy, cfg.logical_cpus, cfg.collective_timeout)
        splits = prepare_cifar10(cfg.data_dir, cfg.cache_dir, cfg.train_limit, cfg.val_size, cfg.test_limit,
                                 seed=cfg.seed, batch_size=cfg.batch_size)
        n = len(splits.train[1])
        if cfg.batch_size > n:
            raise ValueError(f"--batch-size must be <= the number of training images ({n}), got {cfg.batch_size}")
        replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        if cfg.batch_size % replicas:
            raise ValueError(f"--batch-size (the global batch) must be divisible by the {replicas} replicas, "
                             f"got {cfg.batch_size}")
        fingerprint = run_folder.data_fingerprint(splits)
        status, seed_status = _check_folders(cfg, fingerprint)  # the data too, now that it is read
    except (ValueError, FileNotFoundError, DataUnavailableError, run_folder.RunFolderError) as err:
        raise UsageError(str(err)) from err
    precision = run_backend.resolve_precision(cfg.mixed_precision)
    top = pathlib.Path(cfg.output_dir) if cfg.output_dir is not None else None
    lock = run_folder.FolderLock(top) if top is not None and is_chief() else None
    try:
        if lock is not None:
            lock.acquire()
            status, seed_status = _check_folders(cfg, fingerprint)  # again, now that no one else can change it
            if status == "overwrite":
                moved = run_folder.RunFolder(top).move_aside()
                if moved is not None:
                    log(f"--overwrite: moved the previous contents of {top} to {moved}")
                status, seed_status = "new", {}
    except run_folder.RunFolderError as err:
        if lock is not None:
            lock.release()
        raise UsageError(str(err)) from err
    try:
        log(f"recipe={cfg.recipe} backend={keras.backend.backend()} precision={precision} jit={cfg.jit} "
            f"model={cfg.model} augment={cfg.augment} on {augment_placement(cfg)} train={len(splits.train[1])} "
            f"val={len(splits.val[1])} test={len(splits.test[1])} batch={cfg.batch_size} epochs={cfg.epochs:g} "
            f"data={splits.source}")
        if top is not None and cfg.seeds > 1 and is_chief():
            run_folder.RunFolder(top).begin(run_folder.identity(cfg, data_fingerprint=fingerprint), cfg, None)
        runs, stored = [], []
        for seed, folder in _seed_folders(cfg):
            if cfg.seeds > 1:
                log(f"seed {seed}:")
            metrics = run_seed(cfg, splits, seed, folder, strategy, extra_callbacks, log, fingerprint)
            if metrics.get("stored"):
                stored.append(seed)
            runs.append(metrics)
        summary = run_folder.summarize(cfg, runs, precision)
        summary["stored"] = stored
        if top is not None and is_chief() and len(stored) < len(runs):  # a finished run is left as it was
            run_folder.write_summary(top, cfg, runs, summary)
            if cfg.seeds > 1:
                folder = run_folder.RunFolder(top)
                record = folder.record() or {}
                if record.get("state") != "finished":
                    record.update(state="finished", result={k: v for k, v in summary.items()
                                                            if k not in ("runs", "config")})
                    run_folder.write_text_atomically(folder.record_path, json.dumps(record, indent=1))
        return summary
    finally:
        if lock is not None:
            lock.release()


def _install_interrupt_handler(stops):
    """Ctrl-C sets ``stops.interrupted`` (``fit`` then stops at the next step boundary); a second Ctrl-C raises
    ``KeyboardInterrupt`` at once. Only in the main thread (signal handlers cannot be set elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        if stops.interrupted:
            raise KeyboardInterrupt
        stops.interrupted = True

    return signal.signal(signal.SIGINT, handler)


def _restore_interrupt_handler(previous):
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


class _StopRequests(keras.callbacks.Callback):
    """Ends ``fit`` at a step boundary: on a non-finite loss (``TrainingDiverged``, naming the step and the likely
    flags) and on Ctrl-C (``TrainingInterrupted``; the SIGINT handler only sets a flag, so a backup being committed
    is never cut short). Raised from ``on_train_batch_end``, so the epoch in progress is not committed."""

    def __init__(self, cfg, steps_per_epoch, fit_epochs):
        super().__init__()
        self.cfg, self.steps_per_epoch, self.fit_epochs = cfg, steps_per_epoch, fit_epochs
        self.interrupted = False
        self._epoch = 0
        self._batch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._batch = batch
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            step = self._epoch * self.steps_per_epoch + batch + 1
            cfg = self.cfg
            decay = (f", or the weight decay (--weight-decay {cfg.weight_decay:g})" if cfg.weight_decay else "")
            raise TrainingDiverged(
                f"the training loss became {float(loss)} at step {step} (epoch {self._epoch + 1}, batch {batch + 1}); "
                f"the learning rate (--lr {cfg.lr:g}) is likely too large{decay}. Training stopped; the backup of "
                f"the last finite epoch ({self._epoch}) is kept and no test accuracy is reported")
        if self.interrupted:
            raise TrainingInterrupted(f"interrupted at step {self._epoch * self.steps_per_epoch + batch + 1} "
                                      f"(epoch {self._epoch + 1} of {self.fit_epochs})")


def run_seed(cfg: TrainConfig, splits, seed, out, strategy=None, extra_callbacks=(), log=print, fingerprint=None):
    """One seed's run (see the module docstring) in the folder ``out`` (None: write nothing); returns its metrics
    dict. A folder whose run already finished with this identity gives back its stored metrics (``stored``)."""
    chief = is_chief()
    folder = run_folder.RunFolder(out) if out is not None else None
    status = "new"
    if folder is not None and chief:
        ident = run_folder.identity(cfg, seed=seed, data_fingerprint=fingerprint
                                    or run_folder.data_fingerprint(splits))
        try:
            status = folder.check(ident)
        except run_folder.RunFolderError as err:
            raise UsageError(str(err)) from err
        if status == "finished":
            if (out / "backup").exists():  # killed between the final commit and the backup's removal
                import shutil

                shutil.rmtree(out / "backup")
            stored = dict(folder.stored_result() or {})
            log(f"{out} holds a finished run with these settings: test_accuracy "
                f"{stored.get('test_accuracy', float('nan')):.4f}; nothing to train (--overwrite trains it again)")
            return {**stored, "stored": True, "model": None}
        folder.begin(ident, cfg, seed)
    keras.utils.set_random_seed(seed)
    run_backend.set_determinism(cfg.deterministic and not cfg.jit)
    spec = augment_spec_of(cfg)
    placement = augment_placement(cfg, spec)
    precision = run_backend.resolve_precision(cfg.mixed_precision)
    x_train = splits.train[0]
    steps_per_epoch, steps, fit_epochs = total_steps(cfg, len(x_train))
    backup_dir = out / "backup" if out is not None else None
    start_epoch = 0
    if backup_dir is not None and not cfg.early_stopping:
        start_epoch = min(run_folder.completed_epochs(backup_dir), fit_epochs)  # the identity check rules out more
    source, one_hot = _train_source(cfg, spec, placement, splits, seed, start_epoch, fit_epochs, steps_per_epoch)

    def new_model():
        """(training model, network): compiled, with freshly initialized θ (early-stopping policy 1 calls it
        again)."""
        with run_backend.precision_policy(precision), (strategy.scope() if strategy is not None else _nothing()):
            network = build_network(cfg, splits, seed)
            train_model = network
            if placement == "device":
                train_model = _device_model(network, spec, seed, steps_per_epoch, tuple(x_train.shape[1:]))
            optimizer = build_optimizer(cfg, steps, steps_per_epoch, model=train_model)
            if precision == "float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=cfg.loss_scale)
            loss, metrics = build_loss(cfg, one_hot)
            train_model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=cfg.jit)
            if train_model is not network:
                network.compile(optimizer=optimizer, loss=build_loss(cfg, False)[0],
                                metrics=build_loss(cfg, False)[1], jit_compile=cfg.jit)
        if cfg.strategy == "multiworker":
            from augment.image_pipeline import make_eval_dataset

            _build_for_multiworker(train_model, strategy,
                                   make_eval_dataset(x_train[:2], splits.train[1][:2], num_classes=splits.num_classes,
                                                     one_hot=one_hot))
        return train_model, network

    timer = _EpochTimer(cfg.batch_size, epochs=fit_epochs)
    stops = _StopRequests(cfg, steps_per_epoch, fit_epochs)
    callbacks = [timer, stops]
    if placement == "device":
        callbacks.append(source.epoch_callback())  # the batches of fit's epoch e, also after a resume
    if cfg.early_stopping:
        train_model = network = None
    else:
        train_model, network = new_model()
    averaging = None
    if cfg.averaging != "none" and not cfg.early_stopping:
        from recipes.optimization.weight_averaging import WeightAveraging, WeightAveragingCallback

        averaging = WeightAveragingCallback(WeightAveraging(cfg.averaging, cfg.averaging_decay, cfg.averaging_every,
                                                            warmup_power=3.0, total_steps=steps))
        callbacks.append(averaging)
    tta_net = tta_model(network, cfg.tta) if network is not None else None
    val = splits.val if len(splits.val[1]) else None
    if not cfg.early_stopping:
        callbacks.append(_HoldOutEvaluation(network, val, splits.test if cfg.eval_every_epoch else None, tta_net,
                                            cfg.eval_batch_size, timer, cfg.target, averaging))
    if steps < fit_epochs * steps_per_epoch:  # a fractional last epoch, or --max-steps
        from callbacks.early_stopping import StopAtStep

        callbacks.append(StopAtStep(steps - start_epoch * steps_per_epoch))
    verbose, own_line = run_backend.keras_verbosity(cfg.verbose)
    callbacks.extend(extra_callbacks)
    csv_path = out / "history.csv" if out is not None else None
    if out is not None and chief:
        run_folder.trim_history(csv_path, start_epoch)
        callbacks.append(keras.callbacks.CSVLogger(str(csv_path), append=start_epoch > 0 or cfg.early_stopping))
        if cfg.tensorboard and keras.backend.backend() == "tensorflow":
            callbacks.append(keras.callbacks.TensorBoard(str(out / "logs"), update_freq="epoch"))
    if own_line:
        callbacks.append(_EpochLine(timer))
    # The backup commits an epoch last, after its history row is written: a run killed in between finds the row
    # of an uncommitted epoch, which trim_history drops on the rerun, never a committed epoch without its row.
    # An early-stopping run is not resumable: no backup (the callback's θ*, i*, curve are not in it).
    if backup_dir is not None and not cfg.early_stopping:
        callbacks.append(AtomicBackupAndRestore(str(backup_dir), write=chief, model=network,
                                                state_providers=[averaging] if averaging is not None else []))
    if start_epoch:
        log(f"Resuming from {backup_dir}: {start_epoch} of {fit_epochs} epochs done")
    elif status == "resume" and cfg.early_stopping:
        log(f"{out} holds an unfinished early-stopping run with these settings: it starts again from the beginning "
            f"(its phases are not checkpointed; the result equals an uninterrupted run's, as every random state "
            f"derives from --seed)")

    compile_s = 0.0
    es = fitted = None
    previous_handler = _install_interrupt_handler(stops)
    try:
        if cfg.early_stopping:
            es = _fit_with_early_stopping(cfg, spec, new_model, splits, seed, callbacks, verbose)
            train_model, network = es.model, es.model
            tta_net = tta_model(network, cfg.tta)
        else:
            if keras.backend.backend() in ("tensorflow", "jax") and strategy is None and start_epoch < fit_epochs:
                compile_s = _warm_up(train_model, source, placement, tta_net, splits.test[0], cfg.eval_batch_size)
            fitted = train_model.fit(source, epochs=fit_epochs,
                                     steps_per_epoch=steps_per_epoch if placement == "data" else None,
                                     callbacks=callbacks, verbose=verbose, shuffle=False)
    except (TrainingDiverged, TrainingInterrupted) as err:
        done = run_folder.completed_epochs(backup_dir) if backup_dir is not None else 0
        where = (f"{done} of {fit_epochs} epochs are committed in {backup_dir}: rerun the same command to resume "
                 f"from epoch {done + 1}" if backup_dir is not None and not cfg.early_stopping
                 else "nothing was saved (no --output-dir, or an early-stopping run): a rerun starts afresh")
        raise type(err)(f"{err}; {where}") from None
    except Exception as err:
        if cfg.strategy != "multiworker" or type(err).__module__.split(".")[0] != "tensorflow":
            raise
        done = run_folder.completed_epochs(backup_dir)
        raise WorkerFailure(
            f"a worker of the multi-worker job failed or became unreachable ({type(err).__name__}: "
            f"{str(err).strip().splitlines()[0]}). The last committed checkpoint is epoch {done} of "
            f"{fit_epochs} in {backup_dir}; rerun every worker with the same --output-dir to resume from it."
        ) from err
    finally:
        _restore_interrupt_handler(previous_handler)

    if averaging is not None:
        averaging.assign_average()  # evaluate and save θ̄
    t_eval = time.perf_counter()
    test_accuracy, test_loss = evaluate(tta_net, *splits.test, cfg.eval_batch_size)
    eval_s = time.perf_counter() - t_eval
    if csv_path is not None and csv_path.exists():
        history = run_folder.read_history(csv_path)  # every epoch, also those of a run this one resumed
    elif fitted is not None:
        history = {"epoch": list(fitted.epoch), **{k: list(map(float, v)) for k, v in fitted.history.items()}}
    else:
        history = {}
    steps_run = timer.steps if not cfg.early_stopping else (es.es_steps + (es.retrain_steps or 0)
                                                            + (es.extra_steps or 0))
    train_s = timer.train_s
    time_to_target = None
    for cb in callbacks:
        if isinstance(cb, _HoldOutEvaluation):
            time_to_target = cb.time_to_target
    if time_to_target is None and not cfg.eval_every_epoch and test_accuracy >= cfg.target:
        time_to_target = train_s  # reached by the end; no per-epoch evaluation to say when
    losses = history.get("loss", [])
    metrics = {
        "seed": seed,
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "test_examples": int(len(splits.test[1])),
        "train_examples": int(len(splits.train[1]) + (len(splits.val[1]) if es is not None and cfg.policy != "none"
                                                       else 0)),
        "parameters": int(network.count_params()),
        "steps": int(steps_run),
        "train_s": round(train_s, 3),
        "compile_s": round(compile_s, 3),
        "eval_s": round(eval_s, 3),
        "images_per_s": round(steps_run * cfg.batch_size / max(train_s, 1e-9), 1),
        "train_cpu_s": round(timer.train_cpu_s, 3),
        "images_per_cpu_s": round(steps_run * cfg.batch_size / max(timer.train_cpu_s, 1e-9), 1),
        "time_to_target_s": None if time_to_target is None else round(time_to_target, 3),
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        # the names of version 0.1
        "train_seconds_this_run": round(train_s, 2),
        "images_per_second": round(steps_run * cfg.batch_size / max(train_s, 1e-9), 1),
    }
    if es is not None:
        metrics["early_stopping"] = es.summary()
    log(f"seed {seed}: test_accuracy {test_accuracy:.4f} (tta {cfg.tta}), {steps_run} steps in {train_s:.1f} s "
        f"({metrics['images_per_s']:.0f} img/s, {metrics['images_per_cpu_s']:.0f} img per CPU-s), "
        f"compile {compile_s:.1f} s")
    if folder is not None and chief:
        try:
            folder.finish(network, history, metrics, es, backup_dir)
        except OSError as err:
            raise RunFailed(f"could not write the results to {out} ({err.strerror or err}); the backup of the last "
                            f"epoch is kept: free the space and rerun the same command to finish") from err
    metrics["model"] = network
    return metrics


def _fit_with_early_stopping(cfg, spec, new_model, splits, seed, callbacks, verbose):
    """``--early-stopping``: the lecture's meta-algorithm on (subtrain, valid), evaluating every ``--eval-every``
    steps with patience ``--patience``, then ``--policy`` (``recipes.early_stopping.policies``). Returns its
    ``EarlyStoppingResult`` (``.model`` is the final model)."""
    from augment.image_pipeline import make_eval_dataset, make_train_dataset
    from recipes.early_stopping.policies import train_with_early_stopping

    def make_dataset(x, y, seed, epochs):
        return make_train_dataset(x, y, cfg.batch_size, num_classes=splits.num_classes, augment=spec, seed=seed,
                                  epochs=epochs, one_hot=spec.mixes_labels)[0]

    def make_eval(x, y):
        return make_eval_dataset(x, y, num_classes=splits.num_classes, one_hot=spec.mixes_labels)

    return train_with_early_stopping(
        lambda: new_model()[0], splits.train, splits.val, policy=cfg.policy, eval_every=cfg.eval_every,
        patience=cfg.patience, batch_size=cfg.batch_size, max_epochs=math.ceil(cfg.epochs),
        retrain_length=cfg.retrain_length, max_extra_steps=cfg.max_extra_steps, make_dataset=make_dataset,
        make_eval_dataset=make_eval, drop_remainder=True, callbacks=callbacks,
        fit_kwargs={"verbose": verbose, "shuffle": False}, seed=seed, verbose=1,
    )


def _build_for_multiworker(model, strategy, local_batches):
    """Build the model's optimizer and metric variables from a local batch, before ``fit``.

    Keras 3.15's TensorFlow trainer builds them in ``fit`` from the first distributed batch reduced with
    ``strategy.reduce``, which ``MultiWorkerMirroredStrategy`` cannot do eagerly ("Attempt to convert a value
    (PerReplica...)"); every worker builds the same variables from its own copy of the first examples instead.
    """
    with strategy.scope():
        model._symbolic_build(data_batch=next(iter(local_batches)))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def print_summary(summary, log=print):
    """The per-seed table and the mean ± standard deviation over seeds."""
    keys = ("seed", "test_accuracy", "train_s", "compile_s", "eval_s", "images_per_s", "images_per_cpu_s",
            "time_to_target_s", "first_loss", "last_loss", "steps")
    log("\n" + " | ".join(f"{k:>16}" for k in keys))
    for r in summary["runs"]:
        log(" | ".join(f"{_fmt(r.get(k)):>16}" for k in keys))
    log(f"\nmean over {summary['seeds']} seed(s): test accuracy {summary['test_accuracy_mean']:.4f} ± "
        f"{summary['test_accuracy_std']:.4f}, train {summary['train_s_mean']:.2f} ± {summary['train_s_std']:.2f} s, "
        f"{summary['images_per_s_mean']:.0f} img/s, {summary['images_per_cpu_s_mean']:.0f} img per CPU-s, "
        f"compile {summary['compile_s_mean']:.1f} s, "
        f"reached {summary['target']:.2%}: {summary['reached_target']}")


def _fmt(v):
    if v is None:
        return "-"
    return f"{v:.4f}" if isinstance(v, float) else str(v)

