"""Batch normalization's inference statistics: the running average vs the population estimate.

At test time a BN layer normalizes one example with fixed statistics, y = γ (x − E[x]) / sqrt(Var[x] + ε) + β.
The lecture gives two estimators of E[x], Var[x] (per channel):

1. The running (moving) average kept during training (what ``keras.layers.BatchNormalization`` stores):
       μ̂(t) = λ μ̂(t−1) + (1 − λ) μ_B(t),   σ̂²(t) = λ σ̂²(t−1) + (1 − λ) σ²_B(t)
   with λ = ``momentum`` (0.99 by default), started at μ̂ = 0, σ̂² = 1.
2. The population estimate over all mini-batches B of the training set, recomputed after training
   (Ioffe & Szegedy 2015, Alg. 2):
       E[x] = E_B[μ_B],   Var[x] = m/(m − 1) · E_B[σ²_B]
   where μ_B, σ²_B = (1/m) Σ_i (x_i − μ_B)² are the mini-batch mean and (biased) variance and m is the number of
   values per channel in a batch (batch size for a Dense input, batch·height·width for a Conv2D feature map).

They differ when training is short (the running average still remembers its initial values 0 and 1: after
t steps their weight is λ^t, 0.99^100 = 0.37), when the weights moved a lot recently (the running average mixes
statistics of old weights), and for small batches (σ²_B is biased by the factor (m − 1)/m, which only the
population estimate corrects). :func:`estimate_population_statistics` computes the population estimate for every
BN layer of a model — of any structure, nested models included — by running the model in training mode on the
training data *without changing any weight* and averaging each layer's batch moments; :func:`apply_population_statistics`
(and the callback :class:`PopulationBatchNormStatistics`, after ``model.fit`` or after every epoch) writes them into
each layer's ``moving_mean`` / ``moving_variance``.

Besides the lecture's ``estimator="unbiased"`` the functions offer ``estimator="pooled"``: the exact mean and
variance of all BN inputs seen in the pass, Var[x] = E_B[σ²_B] + Var_B[μ_B] (law of total variance; equal to the
plain NumPy mean/variance of the layer's inputs over the whole training set when those inputs do not depend on
the batch, e.g. for a BN layer right after the input or after the first linear layer).
"""
import weakref

import numpy as np
import keras

from augment.checks import check_choice, check_int, check_positive_int

__all__ = [
    "batch_norm_layers",
    "estimate_population_statistics",
    "apply_population_statistics",
    "running_statistics",
    "PopulationBatchNormStatistics",
]

ESTIMATORS = ("unbiased", "pooled")


def batch_norm_layers(model):
    """All ``keras.layers.BatchNormalization`` layers of ``model`` (recursively through nested models/layers),
    in the order Keras tracks them."""
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"model must be a keras Model or Layer, got {type(model).__name__}")
    found = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
    return found


def running_statistics(model):
    """{layer name: (moving_mean, moving_variance)} as NumPy arrays — the running-average estimator."""
    return {
        layer.name: (keras.ops.convert_to_numpy(layer.moving_mean), keras.ops.convert_to_numpy(layer.moving_variance))
        for layer in batch_norm_layers(model)
    }


def _values_per_channel(layer, batch_size):
    """m: the number of values that share one channel's μ_B, σ²_B in a batch of ``batch_size`` examples."""
    shape = layer.get_build_config()["input_shape"]
    axes = [a % len(shape) for a in ([layer.axis] if isinstance(layer.axis, int) else layer.axis)]
    m = batch_size
    for d in range(1, len(shape)):
        if d in axes:
            continue
        if shape[d] is None:
            raise ValueError(
                f"BN layer {layer.name!r} has an input with unknown size on axis {d} ({shape}); "
                "m (values per channel per batch) cannot be known"
            )
        m *= shape[d]
    return m


_FORWARD_CACHE = weakref.WeakKeyDictionary()


def _compiled_forward(model, mean_idx, var_idx):
    """f(trainable, non_trainable, x) -> (new non_trainable, [μ_B per BN layer], [σ²_B per BN layer]) for a
    training-mode forward pass, compiled with tf.function / jax.jit on those backends (eager otherwise).
    Cached per model and variable layout (it is always traced with every BN momentum at 0)."""
    key = (tuple(id(v) for v in model.trainable_variables), tuple(id(v) for v in model.non_trainable_variables),
           tuple(mean_idx), tuple(var_idx), keras.backend.backend())
    try:
        cached = _FORWARD_CACHE.get(model)
    except TypeError:
        cached = None
    if cached is not None and cached[0] == key:
        return cached[1]

    def forward(trainable, non_trainable, x):
        _, new_nt = model.stateless_call(trainable, non_trainable, x, training=True)
        return list(new_nt), [new_nt[i] for i in mean_idx], [new_nt[i] for i in var_idx]

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        fn = tf.function(forward, reduce_retracing=True)
    elif backend == "jax":
        import jax
        fn = jax.jit(forward)
    else:
        fn = forward
    try:
        _FORWARD_CACHE[model] = (key, fn)
    except TypeError:
        pass
    return fn


def _batches(data, batch_size, shuffle, seed):
    if isinstance(data, np.ndarray) or keras.ops.is_tensor(data):
        x = np.asarray(keras.ops.convert_to_numpy(data))
        n = len(x)
        if n < batch_size:
            raise ValueError(f"batch_size must be <= the number of examples ({n}), got {batch_size}")
        order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
        # Drop the last incomplete batch: the lecture's estimator assumes every batch has the same m.
        for start in range(0, n - batch_size + 1, batch_size):
            yield x[order[start:start + batch_size]]
        return
    if not hasattr(data, "__iter__"):
        raise TypeError(
            "data must be a NumPy array, a tensor, a tf.data.Dataset or an iterable of batches, "
            f"got {type(data).__name__}"
        )
    for batch in data:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        yield batch


def estimate_population_statistics(model, data, batch_size=128, estimator="unbiased", steps=None,
                                   shuffle=True, seed=0):
    """Population estimate of every trainable BN layer's inference statistics over the training set.

    Runs ``model(x, training=True)`` on the batches of ``data`` (every layer in training mode, as during
    training: earlier BN layers normalize with their own batch statistics, dropout is active) and collects, for
    each BN layer and batch b, the batch moments μ_b and σ²_b (biased, over the m_b values per channel). Returns
    ``{layer name: (mean, variance)}`` with

    * ``estimator="unbiased"`` (the lecture): E[x] = Σ_b m_b μ_b / Σ_b m_b (= E_B[μ_B] for equal batches) and
      Var[x] = Σ_b m_b · m_b/(m_b − 1) σ²_b / Σ_b m_b (= m/(m − 1) E_B[σ²_B]);
    * ``estimator="pooled"``: the exact moments of all values seen, Var[x] = Σ_b m_b (σ²_b + (μ_b − E[x])²) / Σ_b m_b.

    No variable of the model changes (the pass uses ``model.stateless_call``, compiled with tf.function or
    jax.jit), and every BN layer's ``momentum`` is restored.

    Args:
        model: a built Keras model.
        data: training inputs, a NumPy array / tensor (cut into ``batch_size`` batches, incomplete last batch
            dropped, shuffled with ``seed`` if ``shuffle``) or an iterable of batches (tf.data.Dataset, list,
            generator; tuples (x, y) contribute x).
        batch_size: m's batch dimension for array data (use the training batch size). Ignored for iterables.
        estimator: "unbiased" or "pooled".
        steps: use at most this many batches (None = one pass over ``data``).
        shuffle, seed: order of examples for array data.
    """
    return {layer.name: (mean, var) for layer, mean, var in _estimate(
        model, data, batch_size, estimator, steps, shuffle, seed)}


def _estimate(model, data, batch_size, estimator, steps, shuffle, seed):
    check_choice("estimator", estimator, ESTIMATORS)
    check_int("batch_size", batch_size, 2)
    if steps is not None:
        check_positive_int("steps", steps)
    if not getattr(model, "built", False):
        raise ValueError("model must be built (call it once or give it an Input) before estimating BN statistics")
    layers = [l for l in batch_norm_layers(model) if l.trainable]
    for layer in layers:
        if layer.renorm:
            raise ValueError(f"BN layer {layer.name!r} uses renorm=True, which is not supported")
    if not layers:
        return []

    nt_vars = model.non_trainable_variables
    position = {id(v): i for i, v in enumerate(nt_vars)}
    mean_idx = [position[id(l.moving_mean)] for l in layers]
    var_idx = [position[id(l.moving_variance)] for l in layers]
    saved_momentum = [l.momentum for l in layers]
    sum_w = [0.0] * len(layers)
    sum_mean = [0.0] * len(layers)
    sum_var = [0.0] * len(layers)   # Σ m_b σ²_b  (or Σ m_b · m_b/(m_b − 1) σ²_b for "unbiased")
    sum_sq = [0.0] * len(layers)    # Σ m_b μ_b²  (for "pooled")
    try:
        # With momentum λ = 0 the update μ̂ ← λ μ̂ + (1 − λ) μ_B returns exactly this batch's μ_B (and σ²_B) as the
        # layer's new moving statistics. The pass is stateless (model.stateless_call): no variable of the model
        # changes; the new non-trainable values (BN statistics, dropout seeds) are carried from batch to batch.
        for layer in layers:
            layer.momentum = 0.0
        step_fn = _compiled_forward(model, mean_idx, var_idx)
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in nt_vars]
        for step, batch in enumerate(_batches(data, batch_size, shuffle, seed)):
            if steps is not None and step >= steps:
                break
            n = int(keras.ops.shape(batch)[0])
            batch = keras.ops.convert_to_tensor(batch)
            non_trainable, means, variances = step_fn(trainable, non_trainable, batch)
            for k, layer in enumerate(layers):
                m = _values_per_channel(layer, n)
                if estimator == "unbiased" and m < 2:
                    raise ValueError(f"BN layer {layer.name!r} sees m={m} value per channel per batch; need m >= 2")
                mu = keras.ops.convert_to_numpy(means[k]).astype("float64")
                var = keras.ops.convert_to_numpy(variances[k]).astype("float64")
                sum_w[k] += m
                sum_mean[k] = sum_mean[k] + m * mu
                sum_var[k] = sum_var[k] + (m * m / (m - 1) * var if estimator == "unbiased" else m * var)
                sum_sq[k] = sum_sq[k] + m * mu * mu
    finally:
        for layer, momentum in zip(layers, saved_momentum):
            layer.momentum = momentum
    if sum_w[0] == 0:
        raise ValueError("data yielded no batch")
    result = []
    for k, layer in enumerate(layers):
        mean = sum_mean[k] / sum_w[k]
        var = sum_var[k] / sum_w[k]
        if estimator == "pooled":
            var = var + sum_sq[k] / sum_w[k] - mean * mean
        result.append((layer, mean.astype("float32"), np.maximum(var, 0.0).astype("float32")))
    return result


def apply_population_statistics(model, data, batch_size=128, estimator="unbiased", steps=None, shuffle=True,
                                seed=0):
    """Replaces every trainable BN layer's ``moving_mean`` / ``moving_variance`` by the population estimate of
    :func:`estimate_population_statistics` (same arguments); returns the estimates."""
    estimates = _estimate(model, data, batch_size, estimator, steps, shuffle, seed)
    for layer, mean, var in estimates:
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(var)
    return {layer.name: (mean, var) for layer, mean, var in estimates}


class PopulationBatchNormStatistics(keras.callbacks.Callback):
    """Callback: re-estimates every BN layer's moving_mean/moving_variance as E[x] = E_B[μ_B],
    Var[x] = m/(m − 1)·E_B[σ²_B] over the mini-batches of ``data`` (:func:`apply_population_statistics`), after
    ``model.fit`` (and, with ``every_epoch=True``, after each epoch), computed with the final weights (the running
    average instead mixes statistics of the weights of the last ~1/(1 − λ) steps).

    Args:
        data: training inputs (array cut into ``batch_size`` batches, or an iterable of batches / tf.data.Dataset).
        batch_size: batch size m's batch dimension (use the training batch size), an integer >= 2.
        estimator: "unbiased" (the lecture) or "pooled" (exact moments of all BN inputs seen).
        steps: at most this many batches per re-estimation (None = one pass).
        every_epoch: also re-estimate at the end of every epoch (the next epoch's training is unaffected: BN
            uses batch statistics in training mode; only evaluation and the saved running averages change).
        verbose: print one line per re-estimation.
    Not serialized with the model (callbacks never are).
    """

    def __init__(self, data, batch_size=128, estimator="unbiased", steps=None, every_epoch=False, seed=0,
                 verbose=0):
        super().__init__()
        check_choice("estimator", estimator, ESTIMATORS)
        batch_size = check_int("batch_size", batch_size, 2)
        if steps is not None:
            steps = check_positive_int("steps", steps)
        self.data = data
        self.batch_size = batch_size
        self.estimator = estimator
        self.steps = steps
        self.every_epoch = bool(every_epoch)
        self.seed = seed
        self.verbose = verbose
        self.statistics = None

    def _reestimate(self, when):
        self.statistics = apply_population_statistics(
            self.model, self.data, batch_size=self.batch_size, estimator=self.estimator, steps=self.steps,
            seed=self.seed)
        if self.verbose:
            print(f"PopulationBatchNormStatistics: re-estimated {len(self.statistics)} BN layers {when}")

    def on_epoch_end(self, epoch, logs=None):
        if self.every_epoch:
            self._reestimate(f"after epoch {epoch + 1}")

    def on_train_end(self, logs=None):
        if not self.every_epoch:
            self._reestimate("after training")
