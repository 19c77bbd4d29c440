"""The lecture's two policies for using all the training data after early stopping, as one call.

Both start the same way (lecture, "Early Stopping How to use data, Policy #1 / #2"): split ``X^(train)`` into
``X^(subtrain)`` and ``X^(valid)``, run the early-stopping meta-algorithm (``callbacks.early_stopping.
StepEarlyStopping``: evaluate every n steps, patience p) from random θ on ``X^(subtrain)``, validating on
``X^(valid)``. That returns θ*, i* and v. Then

- policy "none": keep θ* (trained on ``X^(subtrain)`` only);
- policy "retrain" (#1): set θ to random values again (call ``build_model()`` once more) and train on
  ``X^(train) = X^(subtrain) ∪ X^(valid)`` for i* steps (or, with ``retrain_length="epochs"``, for as many epochs
  as the early-stopping run took to reach i*);
- policy "continue" (#2): keep θ = θ*, set ``ε ← J(θ*, X^(subtrain))`` and
  ``while J(θ, X^(valid)) > ε: train on X^(train) for n steps``, stopping at ``max_extra_steps`` at the latest.

    result = train_with_early_stopping(build_model, (x_sub, y_sub), (x_val, y_val), policy="retrain",
                                       eval_every=50, patience=5, batch_size=128, max_epochs=30)
    result.model, result.best_step, result.summary()

``EarlyStoppingPolicies`` exposes the three steps separately (``early_stop``, ``retrain``, ``continue_training``)
to compare the policies after a single early-stopping run.
"""
import dataclasses
import math

import numpy as np

from augment.checks import check_choice, check_positive_int
from callbacks.early_stopping import (
    StepEarlyStopping, StopAtStep, ValidationTargetStopping, evaluate_preserving_metrics, fast_eval_data,
)

POLICIES = ("none", "retrain", "continue")
RETRAIN_LENGTHS = ("steps", "epochs")


@dataclasses.dataclass
class EarlyStoppingResult:
    """What :func:`train_with_early_stopping` did.

    Early-stopping phase (on X^(subtrain)): ``best_step`` (i*), ``best_value`` (v), ``curve_steps`` /
    ``curve_values`` (the validation curve), ``es_steps`` (steps run), ``es_stop_reason``.
    Policy 1: ``retrain_steps`` (steps run on X^(train) from a fresh initialization).
    Policy 2: ``epsilon`` (ε = J(θ*, X^(subtrain))), ``extra_steps``, ``reached_target``, ``continue_steps`` /
    ``continue_values`` (J(θ, X^(valid)) at each check, the first at 0 extra steps).
    ``model`` is the final model; ``message`` a one-line account.
    """

    policy: str
    model: object
    best_step: int
    best_value: float
    curve_steps: list
    curve_values: list
    es_steps: int
    es_stop_reason: object = None
    retrain_steps: object = None
    epsilon: object = None
    extra_steps: object = None
    reached_target: object = None
    continue_steps: list = dataclasses.field(default_factory=list)
    continue_values: list = dataclasses.field(default_factory=list)
    message: str = ""

    def summary(self):
        return {k: v for k, v in dataclasses.asdict(self).items()
                if k not in ("model", "curve_steps", "curve_values", "continue_steps", "continue_values")}


def steps_per_epoch(num_examples, batch_size, drop_remainder=False):
    """Optimizer steps of one pass over ``num_examples`` with ``batch_size``: ⌈N/B⌉, or ⌊N/B⌋ when the last
    incomplete batch is dropped."""
    if drop_remainder:
        return int(num_examples) // int(batch_size)
    return -(-int(num_examples) // int(batch_size))


def retrain_steps_for(best_step, n_subtrain, n_train, batch_size, retrain_length="steps", drop_remainder=False):
    """Length of policy 1's retraining on X^(train).

    "steps": exactly i* (the lecture). "epochs": the same number of passes over the data as early stopping made
    up to i*: e* = i* / ⌈N_sub/B⌉ epochs, i.e. round(e* · ⌈N_train/B⌉) steps.

    Why they differ: an epoch of X^(train) has N_train/N_sub times more batches than an epoch of X^(subtrain).
    Keeping the number of *updates* i* keeps what the quadratic analysis says regularizes (τε ≈ 1/α: the same
    effective L2 strength, the same point of a step-based learning-rate schedule), but every example is seen
    only N_sub/N_train times as often. Keeping the number of *epochs* sees every example as often as when
    i* was found, but makes N_train/N_sub times more updates, i.e. weaker implicit regularization, which may be
    right because more data postpones overfitting. Which is better is an empirical question (the lecture and
    Goodfellow et al. 2016, §7.8, leave it open).
    """
    check_choice("retrain_length", retrain_length, RETRAIN_LENGTHS)
    if retrain_length == "steps":
        return int(best_step)
    epochs = best_step / steps_per_epoch(n_subtrain, batch_size, drop_remainder)
    return int(round(epochs * steps_per_epoch(n_train, batch_size, drop_remainder)))


def _num_examples(data):
    return len(data[1]) if data[1] is not None else len(data[0])


class _Trainer:
    """Runs ``fit`` on arrays, or on ``make_dataset(x, y, seed=..., epochs=...)``, for a number of epochs/steps."""

    def __init__(self, batch_size, make_dataset, drop_remainder, callbacks, fit_kwargs):
        self.batch_size = batch_size
        self.make_dataset = make_dataset
        self.drop_remainder = drop_remainder
        self.callbacks = list(callbacks)
        self.fit_kwargs = dict(fit_kwargs or {})
        self.fit_kwargs.setdefault("verbose", 0)

    def steps_per_epoch(self, data):
        return steps_per_epoch(_num_examples(data), self.batch_size, self.drop_remainder)

    def fit(self, model, data, epochs, seed, callbacks=()):
        cbs = list(callbacks) + self.callbacks
        if self.make_dataset is None:
            return model.fit(data[0], data[1], batch_size=self.batch_size, epochs=epochs, callbacks=cbs,
                             **self.fit_kwargs)
        ds = self.make_dataset(data[0], data[1], seed=seed, epochs=epochs)
        return model.fit(ds, epochs=epochs, steps_per_epoch=self.steps_per_epoch(data), callbacks=cbs,
                         **self.fit_kwargs)

    def fit_steps(self, model, data, steps, seed):
        """Exactly ``steps`` optimizer steps (across as many epochs as needed); returns the steps run."""
        if steps <= 0:
            return 0
        stop = StopAtStep(steps)
        self.fit(model, data, math.ceil(steps / self.steps_per_epoch(data)), seed, [stop])
        return stop.step


def _concat(a, b):
    return (np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]]))


class EarlyStoppingPolicies:
    """The early-stopping phase and the two policies as separate steps (``train_with_early_stopping`` chains them).

    ``early_stop()`` runs the meta-algorithm and returns a result whose model holds θ*; ``retrain(result)``
    (policy 1) and ``continue_training(result)`` (policy 2) start from it. Use the steps separately to compare
    the policies after a single early-stopping run (``scripts/early_stopping_cifar10.py`` does); note that
    ``continue_training`` trains ``result.model`` in place. Arguments: see :func:`train_with_early_stopping`.
    """

    def __init__(self, build_model, subtrain, valid, *, eval_every=100, patience=5, batch_size=128, max_epochs=100,
                 monitor="val_loss", min_delta=0.0, mode="auto", warmup_steps=0, nan_policy="no_improvement",
                 retrain_length="steps", max_extra_steps=None, make_dataset=None, make_eval_dataset=None,
                 drop_remainder=False, validation_batch_size=None, callbacks=(), fit_kwargs=None, seed=0,
                 verbose=0):
        check_choice("retrain_length", retrain_length, RETRAIN_LENGTHS)
        if not callable(build_model):
            raise TypeError(f"build_model must be a callable returning a compiled model, got {build_model!r}")
        batch_size = check_positive_int("batch_size", batch_size)
        max_epochs = check_positive_int("max_epochs", max_epochs)
        if max_extra_steps is not None:  # None: max(i*, n)
            max_extra_steps = check_positive_int("max_extra_steps", max_extra_steps)
        self.build_model = build_model
        self.subtrain, self.valid = subtrain, valid
        self.train = _concat(subtrain, valid)
        self.batch_size, self.max_epochs = batch_size, max_epochs
        self.retrain_length, self.max_extra_steps = retrain_length, max_extra_steps
        self.drop_remainder = drop_remainder
        self.eval_every = eval_every
        self.validation_batch_size = validation_batch_size
        self.seed, self.verbose = seed, verbose
        self.trainer = _Trainer(batch_size, make_dataset, drop_remainder, callbacks, fit_kwargs)
        self.as_eval = make_eval_dataset if make_eval_dataset is not None else (lambda x, y: (x, y))
        self.valid_eval = self.as_eval(*valid)
        # Built here so that bad early-stopping arguments (patience < 1, n < 1, ...) fail before any training.
        self.es_options = dict(eval_every=eval_every, patience=patience, monitor=monitor,
                               validation_batch_size=validation_batch_size, min_delta=min_delta, mode=mode,
                               warmup_steps=warmup_steps, restore_best_weights=True, nan_policy=nan_policy,
                               verbose=min(verbose, 2))
        StepEarlyStopping(**self.es_options)

    def early_stop(self):
        """Early stopping from random θ on X^(subtrain), validating on X^(valid): returns θ* (in .model), i*, v."""
        es = StepEarlyStopping(validation_data=self.valid_eval, **self.es_options)
        model = self.build_model()
        self.trainer.fit(model, self.subtrain, self.max_epochs, self.seed, [es])
        result = EarlyStoppingResult(policy="none", model=model, best_step=es.best_step, best_value=es.best_value,
                                     curve_steps=list(es.curve_steps), curve_values=list(es.curve_values),
                                     es_steps=es.step, es_stop_reason=es.stop_reason)
        ran_out = "" if es.stopped_step is not None else f" (no stop within max_epochs={self.max_epochs})"
        result.message = f"early stopping: i*={es.best_step}, v={es.best_value:.6g} after {es.step} steps{ran_out}"
        return result

    def retrain(self, result):
        """Policy 1: θ random again (``build_model()``), train on X^(train) for i* steps (or the same epochs)."""
        steps = retrain_steps_for(result.best_step, _num_examples(self.subtrain), _num_examples(self.train),
                                  self.batch_size, self.retrain_length, self.drop_remainder)
        out = dataclasses.replace(result, policy="retrain", model=self.build_model())
        out.retrain_steps = self.trainer.fit_steps(out.model, self.train, steps, self.seed + 1)
        out.message += (f"; policy 1: retrained from scratch on all {_num_examples(self.train)} examples "
                        f"for {out.retrain_steps} steps ({self.retrain_length})")
        return out

    def _loss(self, model, data):
        data = fast_eval_data(data, self.validation_batch_size)
        return float(evaluate_preserving_metrics(model, data, batch_size=self.validation_batch_size)["loss"])

    def continue_training(self, result):
        """Policy 2: ε ← J(θ*, X^(subtrain)); while J(θ, X^(valid)) > ε: train on X^(train) for n steps.

        Stops at the first check at or below ε, or after ``max_extra_steps`` (default max(i*, n)) extra steps,
        rounded up to a multiple of n; ``message`` says which. Trains ``result.model`` in place.
        """
        out = dataclasses.replace(result, policy="continue")
        model = out.model
        eps = self._loss(model, self.as_eval(*self.subtrain))
        out.epsilon = eps
        bound = self.max_extra_steps if self.max_extra_steps is not None else max(result.best_step, self.eval_every)
        first = self._loss(model, self.valid_eval)
        out.continue_steps, out.continue_values = [0], [first]
        if first <= eps:
            out.extra_steps, out.reached_target = 0, True
            out.message += f"; policy 2: J(valid)={first:.6g} <= ε={eps:.6g} already, no extra steps"
            return out
        target = ValidationTargetStopping(eps, eval_every=self.eval_every, max_extra_steps=bound, monitor="loss",
                                          validation_data=self.valid_eval,
                                          validation_batch_size=self.validation_batch_size,
                                          verbose=min(self.verbose, 1))
        epochs = math.ceil(target.bound / self.trainer.steps_per_epoch(self.train))
        self.trainer.fit(model, self.train, epochs, self.seed + 1, [target])
        out.extra_steps = target.step
        out.reached_target = target.reached
        out.continue_steps = out.continue_steps + target.curve_steps
        out.continue_values = out.continue_values + target.curve_values
        how = target.message or f"the data ran out after {target.step} extra steps, before the bound"
        out.message += f"; policy 2: ε=J(θ*, X_subtrain)={eps:.6g}, {how}"
        return out

    def run(self, policy="none"):
        check_choice("policy", policy, POLICIES)
        result = self.early_stop()
        if policy == "retrain":
            result = self.retrain(result)
        elif policy == "continue":
            result = self.continue_training(result)
        if self.verbose:
            print(result.message)
        return result


def train_with_early_stopping(build_model, subtrain, valid, *, policy="none", **options):
    """Early stopping on (subtrain, valid), then policy "none", "retrain" (#1) or "continue" (#2). One call.

    Args:
        build_model: callable returning a new, compiled Keras model with freshly initialized weights (θ random).
            Called once for "none" and "continue", twice for "retrain". Seed it yourself if you want
            reproducible initializations.
        subtrain, valid: ``(x, y)`` arrays: X^(subtrain) and X^(valid). X^(train) = their union.
        policy: "none" | "retrain" | "continue".
        eval_every (100), patience (5), monitor ("val_loss"), min_delta (0), mode ("auto"), warmup_steps (0),
            nan_policy ("no_improvement"), validation_batch_size (None): the early-stopping phase (see
            ``StepEarlyStopping``). ``eval_every`` (n) is also policy 2's check period.
        batch_size (128): minibatch size B of every phase.
        max_epochs (100): cap on the early-stopping phase (epochs of X^(subtrain)).
        retrain_length ("steps"): policy 1, "steps" (i*, the lecture) or "epochs" (see :func:`retrain_steps_for`).
        max_extra_steps (None): policy 2's bound on the steps on X^(train) (default: max(i*, n), i.e. at most as
            many steps again as early stopping needed), rounded up to a multiple of n.
        make_dataset (None): ``f(x, y, seed=s, epochs=E) -> dataset`` used instead of ``fit(x, y, batch_size=B)``
            for the training phases (e.g. a tf.data pipeline with augmentation); it must yield E epochs of
            ⌈N/B⌉ batches (⌊N/B⌋ with ``drop_remainder=True``).
        make_eval_dataset (None): ``f(x, y) -> dataset`` for every evaluation (validation curve, ε, policy 2's
            checks); default: the arrays themselves.
        drop_remainder (False): whether an epoch has ⌊N/B⌋ (True) or ⌈N/B⌉ (False) steps.
        callbacks (()): extra callbacks given to every ``fit``.
        fit_kwargs (None): extra keyword arguments for every ``fit`` (e.g. ``{"shuffle": False}``).
        seed (0): passed to ``make_dataset`` (seed + 1 for the phases on X^(train)).
        verbose (0): 1 prints the stop messages and the summary line.
    Returns:
        :class:`EarlyStoppingResult`.
    """
    check_choice("policy", policy, POLICIES)
    return EarlyStoppingPolicies(build_model, subtrain, valid, **options).run(policy)
