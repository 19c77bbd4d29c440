"""The lecture's early-stopping meta-algorithm, evaluated every n optimizer steps.

Lecture ("Regularization - The early stopping meta-algorithm"):

    n: number of steps between evaluations, p: patience.
    θ ← θ₀, i ← 0, j ← 0, v ← ∞, θ* ← θ, i* ← i
    while j < p:
        update θ by running the training algorithm for n steps
        i ← i + n
        v' ← ValidationSetError(θ)
        if v' < v:  j ← 0, θ* ← θ, i* ← i, v ← v'
        else:       j ← j + 1
    return θ*, i*

:class:`StepEarlyStopping` runs that loop inside ``model.fit``: ``i`` is the global number of optimizer steps
since ``on_train_begin`` (it continues across epochs), the evaluation happens in ``on_train_batch_end`` every
``n = eval_every`` steps, and ``θ*`` is a copy of *all* model weights (trainable and non-trainable, e.g.
batch-norm statistics) that is written back bit for bit when training ends.

Compared with ``keras.callbacks.EarlyStopping`` (the baseline): Keras checks only at epoch ends, counts patience
in epochs, lets ``patience=0`` through, keeps only the epoch index of the best value, and does not keep the
validation curve. Here the check is every n steps, and ``i*``, ``v``, ``θ*`` and the whole curve
``(i, v')`` are attributes after training.
"""
import math

import keras
import numpy as np

from augment.checks import check_choice, check_int, check_number, check_positive_int

_MODES = ("auto", "min", "max")
_NAN_POLICIES = ("no_improvement", "stop")


def _direction_of(monitor, model=None):
    """'min' or 'max' for ``monitor`` (mode="auto"), or None when it cannot be told."""
    name = monitor.removeprefix("val_")
    if model is not None:
        # Keras metrics carry their direction ("up" / "down"), as MonitorCallback reads it.
        for m in _flat_metrics(model):
            if m.name == name and hasattr(m, "_direction"):
                return "max" if m._direction == "up" else "min"
    lowered = name.lower()
    if lowered == "loss" or lowered.endswith(("loss", "error", "crossentropy", "mse", "mae")):
        return "min"
    if lowered.endswith(("accuracy", "acc", "auc", "precision", "recall")):
        return "max"
    return None


def _flat_metrics(model):
    out = []
    for m in getattr(model, "metrics", []) or []:
        inner = getattr(m, "metrics", None)
        if isinstance(inner, (list, tuple)):
            out.extend(inner)
        else:
            out.append(m)
    return out


def _copy_weights(model):
    return [np.array(w, copy=True) for w in model.get_weights()]


class _StepCounter(keras.callbacks.Callback):
    """Counts the global optimizer step i over a whole ``fit`` call, across epochs.

    With ``steps_per_execution = 1`` (Keras's default) ``on_train_batch_end`` receives the index, within the
    epoch, of the step just run, and i = (steps of the previous epochs) + batch + 1 costs nothing. With
    ``steps_per_execution = k > 1`` Keras calls it once per execution, with a nominal index that overshoots at the
    end of an epoch, so i is read from ``model.optimizer.iterations`` instead (relative to its value when ``fit``
    began); i then advances by up to k steps at a time.
    """

    def __init__(self):
        super().__init__()
        self.step = 0
        self._epoch_base = 0
        self._iterations0 = 0
        self._exact_batches = True

    def _start_counting(self):
        self.step = 0
        self._epoch_base = 0
        self._exact_batches = int(getattr(self._model, "steps_per_execution", 1) or 1) == 1
        if not self._exact_batches:
            self._iterations0 = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_base = self.step

    def _advance(self, batch):
        if self._exact_batches:
            self.step = self._epoch_base + int(batch) + 1
        else:  # self.model: under JAX this syncs the state, once per execution of k steps
            self.step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) - self._iterations0
        return self.step


class _StepCallback(_StepCounter):
    """A step counter that also computes validation values (``validation_data`` or ``validation_fn``)."""

    def __init__(self, monitor="val_loss", validation_data=None, validation_fn=None, validation_batch_size=None):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"monitor must be a non-empty string, got {monitor!r}")
        if validation_fn is not None and not callable(validation_fn):
            raise TypeError(f"validation_fn must be callable, got {type(validation_fn).__name__}")
        if validation_fn is not None and validation_data is not None:
            raise ValueError("validation_data and validation_fn must not both be given (either computes the "
                             f"validation values), got validation_data and validation_fn={validation_fn!r}")
        if validation_batch_size is not None:
            validation_batch_size = check_positive_int("validation_batch_size", validation_batch_size)
        self.monitor = monitor
        self.validation_data = validation_data
        self.validation_fn = validation_fn
        self.validation_batch_size = validation_batch_size
        self._eval_data = None

    def _require_validation(self):
        if self.validation_data is None and self.validation_fn is None:
            raise ValueError(
                f"{type(self).__name__} needs validation_data=(x_val, y_val) or validation_fn=f(model) -> float"
            )

    def _prepare_validation(self):
        self._require_validation()
        self._eval_data = fast_eval_data(self.validation_data, self.validation_batch_size)

    def _validation_value(self):
        model = self.model  # under JAX this syncs the training state into the model variables
        if self.validation_fn is not None:
            result = self.validation_fn(model)
        else:
            result = evaluate_preserving_metrics(model, self._eval_data, batch_size=self.validation_batch_size)
        if isinstance(result, dict):
            result = result[self._lookup_key(result)]
        return float(np.asarray(result))

    def _lookup_key(self, result):
        for key in (self.monitor, self.monitor.removeprefix("val_"), "val_" + self.monitor):
            if key in result:
                return key
        raise KeyError(f"monitor={self.monitor!r} is not among the validation results {sorted(result)}")


def fast_eval_data(data, batch_size=None):
    """Under the TensorFlow backend, ``(x, y[, sample_weight])`` arrays become a batched ``tf.data.Dataset`` once.

    ``model.evaluate`` on NumPy arrays rebuilds a tf.data pipeline at every call (about 0.2 s on 2 CPU cores even
    for 20 examples, against 0.02 s for a ready dataset), which matters when evaluating every n steps. The
    batches are the same (no shuffling, ``batch_size`` or Keras's default 32), so the values are the same. Other
    backends and other data are returned unchanged.
    """
    if data is None or keras.backend.backend() != "tensorflow" or not isinstance(data, (tuple, list)):
        return data
    if not all(isinstance(a, np.ndarray) for a in data if a is not None):
        return data
    import tensorflow as tf  # only for the tf.data fast path of the TensorFlow backend

    parts = tuple(a for a in data if a is not None)
    return tf.data.Dataset.from_tensor_slices(parts).batch(batch_size or 32)


def evaluate_preserving_metrics(model, data, batch_size=None):
    """``model.evaluate(data, return_dict=True)`` that leaves the model's metric accumulators as they were.

    ``data`` is ``(x, y)``, ``(x, y, sample_weight)`` or a dataset. Keras shares the metric objects between
    training and evaluation, so a bare ``evaluate`` in the middle of an epoch would reset the epoch's training
    loss and metrics; their variables are saved before and written back after.
    """
    saved = [np.array(v, copy=True) for v in model.metrics_variables]
    try:
        if isinstance(data, (tuple, list)):
            x, y = data[0], data[1]
            sw = data[2] if len(data) > 2 else None
            return model.evaluate(x, y, sample_weight=sw, batch_size=batch_size, verbose=0, return_dict=True)
        return model.evaluate(data, verbose=0, return_dict=True)
    finally:
        for var, value in zip(model.metrics_variables, saved):
            var.assign(value)


@keras.saving.register_keras_serializable(package="recipes")
class StepEarlyStopping(_StepCallback):
    """Early stopping meta-algorithm of the lecture: evaluate every ``n`` steps, patience ``p`` evaluations.

    Every ``eval_every`` (= n) optimizer steps the callback computes ``v' = ValidationSetError(θ)`` and applies
    the lecture's update: if ``v'`` improves on ``v`` (``v' < v - min_delta`` in "min" mode,
    ``v' > v + min_delta`` in "max" mode) then ``j ← 0, θ* ← θ, i* ← i, v ← v'``, otherwise ``j ← j + 1``;
    training stops when ``j = p`` (= ``patience``), i.e. at the p-th consecutive evaluation without improvement.
    The initial state is the lecture's: ``v = ∞`` (``-∞`` in "max" mode), ``θ* = θ₀`` (the weights at the start
    of ``fit``), ``i* = 0``.

    Args:
        eval_every: n ≥ 1, optimizer steps between two evaluations. Steps are counted over the whole ``fit``
            call, across epoch boundaries: 3 epochs of 40 steps with n = 50 evaluate at i = 50 and 100.
        patience: p ≥ 1, number of consecutive evaluations without improvement after which training stops.
        monitor: name of the monitored quantity. With ``validation_data`` it is a key of
            ``model.evaluate(..., return_dict=True)``, with or without the ``val_`` prefix ("val_loss",
            "val_accuracy", "loss", ...). With ``validation_fn`` returning a dict it is looked up the same way.
        validation_data: ``(x_val, y_val)`` / ``(x_val, y_val, sample_weight)`` or a dataset, passed to
            ``model.evaluate``. Not part of the config.
        validation_fn: alternative to ``validation_data``: a callable ``f(model) -> float | dict`` returning the
            validation error (any metric you like). Not part of the config.
        validation_batch_size: batch size for ``model.evaluate`` (default: Keras's 32).
        min_delta: ≥ 0, smallest change that counts as an improvement (0 = the lecture's strict ``v' < v``).
        mode: "min", "max" or "auto" (direction from the metric: Keras metrics' own direction, or the name:
            "...loss"/"...error" → min, "...accuracy"/"auc" → max; anything else must be given).
        warmup_steps: ≥ 0. Evaluations at steps ``i ≤ warmup_steps`` are recorded in the curve and may update
            ``(θ*, i*, v)``, but they never increment ``j``, so training never stops during the warm-up; ``j``
            starts counting at the first evaluation after it.
        restore_best_weights: write θ* back into the model at the end of ``fit`` (whether it stopped early or ran
            out of epochs), as the lecture returns θ*. Default True.
        nan_policy: what a non-finite validation value (NaN or ±inf) means. "no_improvement" (default): it is
            recorded in the curve and counts as an evaluation without improvement (``j ← j + 1``), so a run that
            diverges stops after p evaluations and θ* (the last finite best) is restored. "stop": training stops
            at once, with the message in ``stop_reason`` (printed when ``verbose``); θ* is restored likewise.
        verbose: 0 silent, 1 prints the stop and restore messages, 2 also every evaluation.

    Attributes after ``fit``:
        best_step (i*), best_value (v), best_weights (θ*, list of NumPy arrays), step (i, steps run),
        wait (j), stopped_step (i at which training was stopped, or None), stop_reason (str or None),
        curve_steps / curve_values (the whole validation curve), ``validation_curve`` (both as arrays).

    Note: θ* holds the model's weights only, not the optimizer's state (momenta); after restoring θ*, further
    training continues with the optimizer state of the last step. When ``validation_data`` is used, the
    model's metric accumulators are saved before and restored after each ``model.evaluate`` call, so the
    training logs of the epoch are not disturbed.
    """

    def __init__(
        self,
        eval_every=100,
        patience=5,
        monitor="val_loss",
        validation_data=None,
        validation_fn=None,
        validation_batch_size=None,
        min_delta=0.0,
        mode="auto",
        warmup_steps=0,
        restore_best_weights=True,
        nan_policy="no_improvement",
        verbose=0,
    ):
        super().__init__(monitor, validation_data, validation_fn, validation_batch_size)
        self.eval_every = check_positive_int("eval_every", eval_every)  # n
        self.patience = check_positive_int("patience", patience)  # p
        self.min_delta = check_number("min_delta", min_delta, 0.0)
        self.mode = check_choice("mode", mode, _MODES)
        self.warmup_steps = check_int("warmup_steps", warmup_steps, 0)
        check_choice("nan_policy", nan_policy, _NAN_POLICIES)
        check_choice("verbose", verbose, (0, 1, 2))
        self.restore_best_weights = bool(restore_best_weights)
        self.nan_policy = nan_policy
        self.verbose = verbose
        self._reset_state()

    # ------------------------------------------------------------------ state
    def _reset_state(self):
        self.step = 0  # i
        self.wait = 0  # j
        self.best_step = 0  # i*
        self.best_value = None  # v (set to ±inf at train begin, once the direction is known)
        self.best_weights = None  # θ*
        self.curve_steps = []
        self.curve_values = []
        self.stopped_step = None
        self.stop_reason = None
        self._direction = None
        self._epoch_base = 0
        self._next_eval = self.eval_every

    @property
    def validation_curve(self):
        """(steps, values) of every evaluation, as NumPy arrays (int64, float64)."""
        return np.asarray(self.curve_steps, dtype=np.int64), np.asarray(self.curve_values, dtype=np.float64)

    # -------------------------------------------------------------- callbacks
    def on_train_begin(self, logs=None):
        self._prepare_validation()
        self._reset_state()
        self._start_counting()
        model = self.model
        if self.mode == "auto":
            self._direction = _direction_of(self.monitor, model)
            if self._direction is None:
                raise ValueError(
                    f"mode='auto' cannot tell whether monitor={self.monitor!r} is to be minimized or maximized; "
                    "pass mode='min' or mode='max'"
                )
        else:
            self._direction = self.mode
        # Lecture's initialization: v ← ∞, θ* ← θ₀, i* ← 0.
        self.best_value = math.inf if self._direction == "min" else -math.inf
        self.best_weights = _copy_weights(model)

    def on_train_batch_end(self, batch, logs=None):
        self._advance(batch)
        if self.step < self._next_eval:
            return  # do not touch self.model here: under JAX it forces a state sync
        self._next_eval = (self.step // self.eval_every + 1) * self.eval_every
        self._evaluate_and_update()

    def on_train_end(self, logs=None):
        if self.stop_reason is not None and self.verbose:
            print(f"StepEarlyStopping: {self.stop_reason}")
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
            if self.verbose:
                print(
                    f"StepEarlyStopping: restored θ* from step i*={self.best_step} "
                    f"({self.monitor}={self.best_value:.6g})"
                )

    # ---------------------------------------------------------------- helpers
    def _is_improvement(self, value):
        if self._direction == "min":
            return value < self.best_value - self.min_delta
        return value > self.best_value + self.min_delta

    def _evaluate_and_update(self):
        value = self._validation_value()
        i = self.step
        self.curve_steps.append(i)
        self.curve_values.append(value)
        in_warmup = i <= self.warmup_steps
        if not math.isfinite(value):
            if self.nan_policy == "stop":
                self._stop(f"validation {self.monitor} is {value} at step {i}: stopping (nan_policy='stop')")
                return
            improved = False
        else:
            improved = self._is_improvement(value)
        if improved:
            self.wait = 0
            self.best_weights = _copy_weights(self.model)
            self.best_step = i
            self.best_value = value
        elif not in_warmup:
            self.wait += 1
        if self.verbose > 1:
            print(
                f"StepEarlyStopping: step {i} {self.monitor}={value:.6g} best={self.best_value:.6g} "
                f"(i*={self.best_step}) j={self.wait}/{self.patience}{' warm-up' if in_warmup else ''}"
            )
        if self.wait >= self.patience:
            self._stop(
                f"no improvement of {self.monitor} in {self.patience} evaluations "
                f"(every {self.eval_every} steps): stopped at step {i}, best i*={self.best_step}"
            )

    def _stop(self, reason):
        self.stopped_step = self.step
        self.stop_reason = reason
        self.model.stop_training = True

    # ----------------------------------------------------------------- config
    def get_config(self):
        """Every constructor argument except ``validation_data`` and ``validation_fn`` (not serializable)."""
        return {
            "eval_every": self.eval_every,
            "patience": self.patience,
            "monitor": self.monitor,
            "validation_batch_size": self.validation_batch_size,
            "min_delta": self.min_delta,
            "mode": self.mode,
            "warmup_steps": self.warmup_steps,
            "restore_best_weights": self.restore_best_weights,
            "nan_policy": self.nan_policy,
            "verbose": self.verbose,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="recipes")
class StopAtStep(_StepCounter):
    """Stops ``fit`` after exactly ``steps`` optimizer steps (policy 1: "train on X_train for i* steps").

    Give ``fit`` enough epochs (``ceil(steps / steps_per_epoch)``); the step count continues across epochs.
    With ``steps_per_execution = k > 1`` the stop happens at the first multiple of k ≥ ``steps``.
    """

    def __init__(self, steps):
        super().__init__()
        self.steps = check_positive_int("steps", steps)

    def on_train_begin(self, logs=None):
        self._start_counting()

    def on_train_batch_end(self, batch, logs=None):
        if self._advance(batch) >= self.steps:
            self.model.stop_training = True

    def get_config(self):
        return {"steps": self.steps}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="recipes")
class ValidationTargetStopping(_StepCallback):
    """Policy 2's loop: ``while J(θ, X_valid) > ε: train for n steps``, with a bound on the extra steps.

    Every ``eval_every`` (= n) steps the validation objective ``J(θ, X_valid)`` (``monitor``, default the loss) is
    computed; training stops at the first evaluation with ``J ≤ target`` (= ε), or, as that may never happen,
    when ``max_extra_steps`` steps have run; ``max_extra_steps`` is rounded up to a multiple of n, so the last
    step is also an evaluation. After ``fit``: ``reached`` (bool), ``stopped_step``, ``curve_steps`` /
    ``curve_values``, ``message`` (says which of the two ended it). The check *before* the first step (the
    lecture's ``while`` tests the condition first) is the caller's: see ``recipes.early_stopping.policies``.
    """

    def __init__(
        self,
        target,
        eval_every=100,
        max_extra_steps=1000,
        monitor="val_loss",
        validation_data=None,
        validation_fn=None,
        validation_batch_size=None,
        verbose=0,
    ):
        super().__init__(monitor, validation_data, validation_fn, validation_batch_size)
        self.target = check_number("target", target)  # ε
        self.eval_every = check_positive_int("eval_every", eval_every)  # n
        self.max_extra_steps = check_positive_int("max_extra_steps", max_extra_steps)
        self.bound = -(-self.max_extra_steps // self.eval_every) * self.eval_every
        self.verbose = verbose
        self._reset()

    def _reset(self):
        self.step = 0
        self._epoch_base = 0
        self.curve_steps, self.curve_values = [], []
        self.reached = False
        self.stopped_step = None
        self.message = None
        self._next_eval = self.eval_every

    def on_train_begin(self, logs=None):
        self._prepare_validation()
        self._reset()
        self._start_counting()

    def on_train_batch_end(self, batch, logs=None):
        self._advance(batch)
        if self.step < self._next_eval and self.step < self.bound:
            return
        self._next_eval = (self.step // self.eval_every + 1) * self.eval_every
        value = self._validation_value()
        self.curve_steps.append(self.step)
        self.curve_values.append(value)
        if value <= self.target:
            self.reached = True
            self.message = (f"validation {self.monitor} {value:.6g} <= ε={self.target:.6g} after {self.step} "
                            "extra steps")
        elif self.step >= self.bound:
            self.message = (f"bound reached: validation {self.monitor} {value:.6g} still > ε={self.target:.6g} "
                            f"after max_extra_steps={self.bound} extra steps; stopped there")
        else:
            return
        self.stopped_step = self.step
        self.model.stop_training = True
        if self.verbose:
            print(f"ValidationTargetStopping: {self.message}")

    def get_config(self):
        return {
            "target": self.target,
            "eval_every": self.eval_every,
            "max_extra_steps": self.max_extra_steps,
            "monitor": self.monitor,
            "validation_batch_size": self.validation_batch_size,
            "verbose": self.verbose,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
