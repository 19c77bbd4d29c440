"""The fast CIFAR-10 recipe behind ``scripts/train_cifar10_fast.py`` (airbench-style, in Keras 3).

Minimizes the label-smoothed cross-entropy J(θ) = −(1/B) Σ_i Σ_c ỹ_ic log softmax(f(x̃_i; θ))_c with
ỹ = (1 − α) one_hot(y) + α/10 (α = 0.2), by SGD with Nesterov momentum, batch B = 1024, a short linear warm-up
and a linear decay of ε_k (``recipes.optimization.warmup_schedule.WarmupLinearDecay``), decoupled weight decay, and a
Lookahead/EMA average of the weights (``recipes.optimization.weight_averaging``); the network (``recipes.models.airbench``) begins
with a frozen patch-whitening convolution; images stay on the device and are augmented there in batches
(``augment.gpu_augment``); the test accuracy uses test-time augmentation (``recipes.training.tta``).

The loop is written once on Keras' stateless API (``model.stateless_call`` + ``optimizer.stateless_apply``);
only the gradient and the compilation are backend-specific (``jax.value_and_grad`` + ``jax.jit`` or
``tf.GradientTape`` + ``tf.function(jit_compile=...)``).

Timing is honest: every compiled function is first run once on a throwaway copy of the state (its time is
``compile_s``); ``train_s`` is the wall-clock from the first real training step to the end of the last one
(device synchronized), excluding evaluations; ``time_to_target_s`` is ``train_s`` at the first epoch end whose
test accuracy (with TTA) reached ``target`` (only with ``eval_every_epoch``).
"""
from __future__ import annotations

import dataclasses
import math
import os
import time

import keras
import numpy as np
from keras import ops

from augment.gpu_augment import AugmentConfig, BatchAugmenter
from recipes.data import cifar10
from recipes.models.airbench import build_airbench, patch_whitening_kernel
from recipes.training.tta import TTA_LEVELS, tta_logits
from recipes.optimization.warmup_schedule import WarmupLinearDecay
from recipes.optimization.weight_averaging import WeightAveraging

MODELS = ("airbench", "resnet18", "resnet20")
PRECISIONS = ("auto", "off", "bfloat16", "float16")
AVERAGING = ("none", "ema", "lookahead")
FLIPS = ("none", "random", "alternating")


@dataclasses.dataclass
class FastConfig:
    """Every choice of a fast run; field names match the flags of ``scripts/train_cifar10_fast.py``."""

    data_dir: str | None = None
    cache_dir: str | None = None
    model: str = "airbench"
    widths: tuple = (64, 256, 256)
    whiten: bool = True
    whiten_images: int = 5000
    whiten_eps: float = 5e-4
    epochs: float = 10.0
    batch_size: int = 1024
    lr: float = 1.5
    momentum: float = 0.85
    nesterov: bool = True
    warmup_epochs: float = 0.5
    final_lr_fraction: float = 0.0
    weight_decay: float = 1.3e-5
    label_smoothing: float = 0.2
    flip: str = "alternating"
    translate: int = 2
    cutout: int = 0
    averaging: str = "lookahead"
    averaging_decay: float = 0.95 ** 5
    averaging_every: int = 5
    tta: int = 2
    mixed_precision: str = "auto"
    loss_scale: float = 1024.0
    jit: bool = True
    seeds: int = 1
    seed: int = 0
    train_limit: int | None = None
    test_limit: int | None = None
    eval_every_epoch: bool = False
    eval_batch_size: int = 2000
    target: float = 0.94
    output_dir: str | None = None
    save_model: bool = False
    max_steps: int | None = None


def validate_config(cfg: FastConfig):
    """Raise ``ValueError`` naming the flag and its allowed range for the first bad field."""

    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    checks = [
        (cfg.model in MODELS, f"--model must be one of {', '.join(MODELS)}; got {cfg.model!r}"),
        (len(cfg.widths) == 3 and all(is_int(w) and w >= 1 for w in cfg.widths),
         f"--widths must be three integers >= 1; got {cfg.widths!r}"),
        (is_int(cfg.whiten_images) and cfg.whiten_images >= 1, f"--whiten-images must be an integer >= 1; got {cfg.whiten_images!r}"),
        (cfg.whiten_eps > 0, f"--whiten-eps must be > 0; got {cfg.whiten_eps!r}"),
        (math.isfinite(cfg.epochs) and cfg.epochs > 0, f"--epochs must be a number > 0; got {cfg.epochs!r}"),
        (is_int(cfg.batch_size) and cfg.batch_size >= 1, f"--batch-size must be an integer >= 1; got {cfg.batch_size!r}"),
        (math.isfinite(cfg.lr) and cfg.lr > 0, f"--lr must be a finite number > 0; got {cfg.lr!r}"),
        (0 <= cfg.momentum < 1, f"--momentum must be in [0, 1); got {cfg.momentum!r}"),
        (0 <= cfg.warmup_epochs < cfg.epochs, f"--warmup-epochs must be in [0, --epochs); got {cfg.warmup_epochs!r}"),
        (0 <= cfg.final_lr_fraction <= 1, f"--final-lr-fraction must be in [0, 1]; got {cfg.final_lr_fraction!r}"),
        (cfg.weight_decay >= 0, f"--weight-decay must be >= 0; got {cfg.weight_decay!r}"),
        (0 <= cfg.label_smoothing < 1, f"--label-smoothing must be in [0, 1); got {cfg.label_smoothing!r}"),
        (cfg.flip in FLIPS, f"--flip must be one of {', '.join(FLIPS)}; got {cfg.flip!r}"),
        (is_int(cfg.translate) and 0 <= cfg.translate <= 8, f"--translate must be an integer in [0, 8]; got {cfg.translate!r}"),
        (is_int(cfg.cutout) and 0 <= cfg.cutout <= 32, f"--cutout must be an integer in [0, 32]; got {cfg.cutout!r}"),
        (cfg.averaging in AVERAGING, f"--averaging must be one of {', '.join(AVERAGING)}; got {cfg.averaging!r}"),
        (0 <= cfg.averaging_decay < 1, f"--averaging-decay must be in [0, 1); got {cfg.averaging_decay!r}"),
        (is_int(cfg.averaging_every) and cfg.averaging_every >= 1, f"--averaging-every must be an integer >= 1; got {cfg.averaging_every!r}"),
        (cfg.tta in TTA_LEVELS, f"--tta must be one of {TTA_LEVELS}; got {cfg.tta!r}"),
        (cfg.mixed_precision in PRECISIONS, f"--mixed-precision must be one of {', '.join(PRECISIONS)}; got {cfg.mixed_precision!r}"),
        (cfg.loss_scale >= 1, f"--loss-scale must be >= 1; got {cfg.loss_scale!r}"),
        (is_int(cfg.seeds) and cfg.seeds >= 1, f"--seeds must be an integer >= 1; got {cfg.seeds!r}"),
        (is_int(cfg.seed) and 0 <= cfg.seed < 2 ** 31, f"--seed must be an integer in [0, 2^31); got {cfg.seed!r}"),
        (cfg.train_limit is None or (is_int(cfg.train_limit) and cfg.train_limit >= 1),
         f"--train-limit must be an integer >= 1; got {cfg.train_limit!r}"),
        (cfg.test_limit is None or (is_int(cfg.test_limit) and cfg.test_limit >= 1),
         f"--test-limit must be an integer >= 1; got {cfg.test_limit!r}"),
        (is_int(cfg.eval_batch_size) and cfg.eval_batch_size >= 1, f"--eval-batch-size must be an integer >= 1; got {cfg.eval_batch_size!r}"),
        (0 < cfg.target <= 1, f"--target must be in (0, 1]; got {cfg.target!r}"),
        (cfg.max_steps is None or (is_int(cfg.max_steps) and cfg.max_steps >= 1), f"--max-steps must be an integer >= 1; got {cfg.max_steps!r}"),
        (cfg.data_dir is None or os.path.isdir(cfg.data_dir), f"--data-dir {cfg.data_dir} does not exist or is not a folder"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


def default_data_dir():
    """``$RECIPES_DATA/cifar10`` when RECIPES_DATA is set, else None (tensorflow-datasets)."""
    root = os.environ.get("RECIPES_DATA")
    return os.path.join(root, "cifar10") if root else None


def _accelerator_present():
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return False


def resolve_precision(name):
    """"auto" → "bfloat16" on an accelerator, "off" on CPU."""
    if name == "auto":
        return "bfloat16" if _accelerator_present() else "off"
    return name


def _sync(tree):
    """Block until every tensor of ``tree`` is computed (JAX dispatches asynchronously)."""
    if keras.backend.backend() == "jax":
        import jax

        jax.block_until_ready(tree)
    else:
        for t in keras.tree.flatten(tree):
            np.asarray(t)
            break


def _compile(fn, jit):
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(fn) if jit else fn
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=bool(jit), reduce_retracing=True)
    raise ValueError(f"KERAS_BACKEND must be jax or tensorflow for this recipe, got {backend!r}")


class FastTrainer:
    """Builds the model, optimizer and the compiled train/eval/average functions for one seed."""

    def __init__(self, cfg: FastConfig, model, augmenter, steps_per_epoch, total_steps):
        self.cfg, self.model, self.augmenter = cfg, model, augmenter
        self.batch_size = cfg.batch_size
        warmup = min(int(round(cfg.warmup_epochs * steps_per_epoch)), total_steps - 1)
        schedule = WarmupLinearDecay(cfg.lr, cfg.lr * cfg.final_lr_fraction, total_steps, warmup_steps=warmup)
        self.optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=cfg.momentum, nesterov=cfg.nesterov,
                                              weight_decay=cfg.weight_decay or None)
        if cfg.weight_decay:
            self.optimizer.exclude_from_weight_decay(var_names=["bias", "beta", "gamma"])
        self.optimizer.build(model.trainable_variables)
        self.averager = None
        if cfg.averaging != "none":
            self.averager = WeightAveraging(cfg.averaging, cfg.averaging_decay, cfg.averaging_every,
                                            warmup_power=3.0, total_steps=total_steps)
        self.loss_obj = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing)
        self.loss_scale = cfg.loss_scale if resolve_precision(cfg.mixed_precision) == "float16" else 1.0
        self._build_fns()

    def initial_state(self):
        """JAX: the (trainable, non-trainable, optimizer) values threaded through the stateless step.
        TensorFlow: ``None`` (its step updates the variables in place; ``stateless_apply`` is JAX-only)."""
        if self.stateful:
            return None
        m = self.model
        return ([v.value for v in m.trainable_variables], [v.value for v in m.non_trainable_variables],
                [v.value for v in self.optimizer.variables])

    def weights(self, state):
        """(θ, non-trainable state) as tensors (copies for TensorFlow)."""
        if self.stateful:
            m = self.model
            return ([ops.convert_to_tensor(v) for v in m.trainable_variables],
                    [ops.convert_to_tensor(v) for v in m.non_trainable_variables])
        return list(state[0]), list(state[1])

    def with_weights(self, state, trainable, non_trainable):
        """The state with θ and the non-trainable state replaced (Lookahead's θ ← θ̄)."""
        if self.stateful:
            for v, val in zip(self.model.trainable_variables, trainable):
                v.assign(val)
            for v, val in zip(self.model.non_trainable_variables, non_trainable):
                v.assign(val)
            return None
        return (list(trainable), list(non_trainable), state[2])

    def snapshot(self):
        """Copies of every variable (TensorFlow's warm-up step must leave no trace)."""
        vs = self.model.variables + self.optimizer.variables
        return [ops.convert_to_tensor(v) for v in vs]

    def restore(self, snap):
        for v, val in zip(self.model.variables + self.optimizer.variables, snap):
            v.assign(val)

    def _build_fns(self):
        model, loss_obj, scale, aug, b = self.model, self.loss_obj, self.loss_scale, self.augmenter, self.batch_size
        optimizer = self.optimizer
        self.stateful = keras.backend.backend() != "jax"

        def batch(x_all, y_all, perm, params, k):
            # a gather, not ops.slice: TensorFlow's XLA bridge treats a slice's start as a compile-time constant
            # and would recompile for every step index k
            idx = ops.take(perm, k * b + ops.arange(b, dtype="int32"), axis=0)
            xb = aug.apply(ops.cast(ops.take(x_all, idx, axis=0), "float32"), ops.take(params, idx, axis=0))
            return xb, ops.take(y_all, idx, axis=0)

        if self.stateful:
            import tensorflow as tf

            def train_step(state, x_all, y_all, perm, params, k):
                xb, yb = batch(x_all, y_all, perm, params, k)
                with tf.GradientTape() as tape:
                    logits = model(xb, training=True)
                    loss = loss_obj(ops.one_hot(yb, 10), ops.cast(logits, "float32"))
                    scaled = loss * scale
                grads = tape.gradient(scaled, model.trainable_variables)
                if scale != 1.0:
                    grads = [g / scale for g in grads]
                optimizer.apply(grads, model.trainable_variables)
                return state, loss
        else:
            import jax

            def loss_fn(trainable, non_trainable, xb, yb):
                logits, nt = model.stateless_call(trainable, non_trainable, xb, training=True)
                loss = loss_obj(ops.one_hot(yb, 10), ops.cast(logits, "float32"))
                return loss * scale, (loss, nt)

            value_and_grad = jax.value_and_grad(loss_fn, has_aux=True)

            def train_step(state, x_all, y_all, perm, params, k):
                trainable, non_trainable, opt_vars = state
                xb, yb = batch(x_all, y_all, perm, params, k)
                (_, (loss, nt)), grads = value_and_grad(trainable, non_trainable, xb, yb)
                if scale != 1.0:
                    grads = [g / scale for g in grads]
                trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
                return (trainable, nt, opt_vars), loss

        def predict(trainable, non_trainable, xb):
            f = lambda z: ops.cast(model.stateless_call(trainable, non_trainable, z, training=False)[0], "float32")
            return tta_logits(f, ops.cast(xb, "float32"), self.cfg.tta)

        def average(avg, values, beta):
            return WeightAveraging.update(avg, values, beta)

        self.train_step = _compile(train_step, self.cfg.jit)
        self.predict = _compile(predict, self.cfg.jit)
        self.average = _compile(average, self.cfg.jit)

    def evaluate(self, trainable, non_trainable, x_test, y_test):
        """Test accuracy (with TTA) over fixed-size batches (the last one padded, so nothing recompiles)."""
        n, eb = len(y_test), min(self.cfg.eval_batch_size, len(y_test))
        correct = 0
        for start in range(0, n, eb):
            xb = x_test[start:start + eb]
            real = len(xb)
            if real < eb:
                xb = np.concatenate([xb, np.repeat(xb[-1:], eb - real, axis=0)])
            logits = np.asarray(self.predict(trainable, non_trainable, ops.convert_to_tensor(xb)))[:real]
            correct += int((logits.argmax(-1) == y_test[start:start + real]).sum())
        return correct / n


def build_model(cfg: FastConfig, x_train, seed):
    """The configured network (raw 0..255 input); the whitening kernel comes from the first training images."""
    mean, std = cifar10.channel_mean_std(x_train)
    precision = resolve_precision(cfg.mixed_precision)
    keras.utils.set_random_seed(seed)
    old_policy = keras.mixed_precision.global_policy()
    if precision != "off":
        keras.mixed_precision.set_global_policy("mixed_" + precision)
    try:
        if cfg.model == "airbench":
            kernel = None
            if cfg.whiten:
                xs = (x_train[: cfg.whiten_images].astype("float64") - mean) / std
                kernel = patch_whitening_kernel(xs, 2, cfg.whiten_eps)
            return build_airbench(tuple(cfg.widths), input_shape=tuple(x_train.shape[1:]), mean=mean, std=std,
                                  whitening_kernel=kernel)
        from recipes.models.resnet import build_resnet

        return build_resnet(cfg.model, mean=mean, std=std, seed=seed)
    finally:
        keras.mixed_precision.set_global_policy(old_policy)


def run_seed(cfg: FastConfig, data, seed, log=print):
    """Train one seed; return a dict of its figures (accuracy, train_s, compile_s, images_per_s, …)."""
    (x_train, y_train), (x_test, y_test) = data
    n = len(x_train)
    steps_per_epoch = n // cfg.batch_size
    total_steps = max(1, int(round(cfg.epochs * steps_per_epoch)))
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    model = build_model(cfg, x_train, seed)
    augmenter = BatchAugmenter(AugmentConfig(cfg.flip, cfg.translate, cfg.cutout), n, seed=seed)
    trainer = FastTrainer(cfg, model, augmenter, steps_per_epoch, total_steps)
    x_all, y_all = ops.convert_to_tensor(x_train), ops.convert_to_tensor(y_train.astype("int32"))
    rng = np.random.default_rng(seed)

    def epoch_inputs(epoch):
        perm = rng.permutation(n)[: steps_per_epoch * cfg.batch_size].astype("int32")
        return ops.convert_to_tensor(perm), ops.convert_to_tensor(augmenter.epoch_params(epoch))

    # One-time compilation, on a throwaway copy of the state (the stateless functions change nothing).
    state = trainer.initial_state()
    snap = trainer.snapshot() if trainer.stateful else None
    t0 = time.perf_counter()
    warm = epoch_inputs(0)
    out, loss = trainer.train_step(state, x_all, y_all, *warm, ops.convert_to_tensor(np.int32(0)))
    _sync(loss)
    w0, nt0 = trainer.weights(state)
    if trainer.averager is not None:
        _sync(trainer.average(w0 + nt0, w0 + nt0, ops.convert_to_tensor(np.float32(0.5))))
    eval_x = x_test[: min(cfg.eval_batch_size, len(x_test))]
    _sync(trainer.predict(w0, nt0, ops.convert_to_tensor(eval_x)))
    compile_s = time.perf_counter() - t0
    del out
    if snap is not None:
        trainer.restore(snap)
    w0, nt0 = trainer.weights(state)
    avg = w0 + nt0
    n_tr = len(w0)
    rng = np.random.default_rng(seed)  # the real run sees the same permutations as if no warm-up had happened
    augmenter.rng = np.random.default_rng(seed + 1)

    train_s, step, losses, history, time_to_target = 0.0, 0, [], [], None
    epoch = 0
    while step < total_steps:
        perm, params = epoch_inputs(epoch)
        t_start = time.perf_counter()
        epoch_losses = []
        for k in range(steps_per_epoch):
            if step >= total_steps:
                break
            state, loss = trainer.train_step(state, x_all, y_all, perm, params, ops.convert_to_tensor(np.int32(k)))
            epoch_losses.append(loss)
            step += 1
            if trainer.averager is not None and trainer.averager.due(step):
                beta = trainer.averager.decay_at(step)
                w, nt = trainer.weights(state)
                avg = trainer.average(avg, w + nt, ops.convert_to_tensor(np.float32(beta)))
                if cfg.averaging == "lookahead":
                    state = trainer.with_weights(state, avg[:n_tr], avg[n_tr:])
        _sync(epoch_losses[-1])
        train_s += time.perf_counter() - t_start
        epoch_loss = [float(np.asarray(v)) for v in epoch_losses]
        losses.extend(epoch_loss)
        row = {"epoch": epoch + 1, "step": step, "loss": float(np.mean(epoch_loss)), "train_s": train_s}
        if cfg.eval_every_epoch:
            ev = _final_weights(cfg, trainer, state, avg, n_tr)
            row["test_accuracy"] = trainer.evaluate(*ev, x_test, y_test)
            if time_to_target is None and row["test_accuracy"] >= cfg.target:
                time_to_target = train_s
        history.append(row)
        log("  epoch {epoch}: step {step}, loss {loss:.4f}, train {train_s:.1f} s".format(**row)
            + (f", test acc {row['test_accuracy']:.4f}" if "test_accuracy" in row else ""))
        epoch += 1

    trainable, non_trainable = _final_weights(cfg, trainer, state, avg, n_tr)
    t_eval = time.perf_counter()
    acc = trainer.evaluate(trainable, non_trainable, x_test, y_test)
    eval_s = time.perf_counter() - t_eval
    if time_to_target is None and cfg.eval_every_epoch is False and acc >= cfg.target:
        time_to_target = train_s  # reached by the end; no per-epoch evaluation to say when
    for v, val in zip(model.trainable_variables, trainable):
        v.assign(val)
    for v, val in zip(model.non_trainable_variables, non_trainable):
        v.assign(val)
    return {
        "seed": seed, "test_accuracy": acc, "train_s": train_s, "compile_s": compile_s, "eval_s": eval_s,
        "steps": step, "images_per_s": step * cfg.batch_size / max(train_s, 1e-9),
        "time_to_target_s": time_to_target, "first_loss": losses[0], "last_loss": losses[-1],
        "losses": losses, "history": history, "model": model,
    }


def _final_weights(cfg, trainer, state, avg, n_tr):
    """Weights to evaluate: the average θ̄ (EMA/Lookahead) or the current θ."""
    if trainer.averager is None:
        return trainer.weights(state)
    return list(avg[:n_tr]), list(avg[n_tr:])


def load_data(cfg: FastConfig):
    data_dir = cfg.data_dir or default_data_dir()
    (x_train, y_train), (x_test, y_test) = cifar10.load_cifar10(data_dir, cache_dir=cfg.cache_dir)
    if cfg.train_limit:
        x_train, y_train = x_train[: cfg.train_limit], y_train[: cfg.train_limit]
    if cfg.test_limit:  # a fixed random subset: the folder's test images come sorted by class
        keep = np.sort(np.random.default_rng(0).permutation(len(y_test))[: cfg.test_limit])
        x_test, y_test = x_test[keep], y_test[keep]
    if cfg.batch_size > len(x_train):
        raise ValueError(f"--batch-size must be <= the number of training images ({len(x_train)}); got {cfg.batch_size}")
    return (x_train, y_train), (x_test, y_test)
