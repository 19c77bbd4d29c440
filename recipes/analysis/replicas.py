"""Fast replicas: K independent small networks trained as one Keras model.

The bias–variance estimator needs h_{D_1}, …, h_{D_K}: K models trained on K training sets. Fitting
them one after another pays Keras' per-model overhead (building, tracing, a Python loop over steps)
K times. Here the K replicas live in one model with *batched* weights: a dense layer holds kernels
W ∈ R^{K × d_in × d_out} and biases b ∈ R^{K × d_out}, and replica k computes

    a_k = φ(x_k W_k + b_k)          (``keras.ops.einsum("bki,kio->bko", x, W) + b``)

on its own input slice x_k = x[:, k, :] (replica k's training set D_k). The training loss is the
*sum* over replicas of each replica's mean loss,

    L(θ_1, …, θ_K) = Σ_k (1/B) Σ_b ℓ(h_{θ_k}(x_{b,k}), y_{b,k}),

so ∂L/∂θ_k = ∂L_k/∂θ_k: the gradients do not mix and plain SGD on the joint model performs
exactly the K separate SGD runs. Replica k of layer l is initialized from the same seeded
initializer that :func:`build_single_mlp` uses for a model with seed ``seeds[k]``, so each replica
equals a separately built and trained model (up to float round-off of einsum vs matmul).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from augment.checks import check_int, check_int_sequence, check_positive_int

__all__ = ["ReplicaDense", "ReplicaLoss", "layer_seed", "build_replica_mlp", "build_single_mlp",
           "stack_replicas", "unstack_replicas"]

_MAX_SEED = 2 ** 31 - 1


def layer_seed(model_seed: int, layer_index: int, which: int = 0) -> int:
    """Seed of layer ``layer_index``'s kernel (which=0) or bias (which=1) in a model seeded
    ``model_seed``: ``(model_seed·1000 + 2·layer_index + which) mod (2³¹ − 1)``."""
    return int((int(model_seed) * 1000 + 2 * int(layer_index) + int(which)) % _MAX_SEED)


def _seeded(initializer, seed):
    """A fresh copy of ``initializer`` with integer ``seed`` (None: a fresh random seed)."""
    init = keras.initializers.get(initializer)
    config = init.get_config()
    if "seed" in config:
        config["seed"] = seed
    return init.__class__.from_config(config)


@keras.saving.register_keras_serializable(package="recipes")
class ReplicaDense(keras.layers.Layer):
    """K independent dense layers a_k = φ(x_k W_k + b_k), W ∈ R^{K×d_in×units}, b ∈ R^{K×units}.

    Input (batch, K, d_in) — replica k reads slice k — or (batch, d_in), shared by all replicas
    (e.g. a common test set). Output (batch, K, units).

    Args:
        units: output width per replica (≥ 1).
        replicas: K (≥ 1).
        activation: φ, any Keras activation.
        use_bias: add b_k.
        kernel_initializer / bias_initializer: initializers applied to each replica's (d_in, units)
            slice separately (so fan-in/fan-out are those of a single Dense layer).
        kernel_seeds / bias_seeds: optional K integer seeds; replica k's slice is then drawn by the
            initializer seeded with kernel_seeds[k], exactly what ``Dense(units,
            kernel_initializer=Init(seed=kernel_seeds[k]))`` draws.
    """

    def __init__(self, units, replicas, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_seeds=None, bias_seeds=None, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.replicas = check_positive_int("replicas", replicas)
        for name, seeds in (("kernel_seeds", kernel_seeds), ("bias_seeds", bias_seeds)):
            if seeds is not None and len(check_int_sequence(name, seeds)) != replicas:
                raise ValueError(f"{name} must have length replicas={replicas}, got {len(seeds)}")
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_seeds = None if kernel_seeds is None else [int(s) for s in kernel_seeds]
        self.bias_seeds = None if bias_seeds is None else [int(s) for s in bias_seeds]

    def _stacked_init(self, initializer, seeds, slice_shape):
        def init(shape, dtype=None):
            slices = [_seeded(initializer, None if seeds is None else seeds[k])(slice_shape, dtype)
                      for k in range(self.replicas)]
            return ops.stack(slices, axis=0)
        return init

    def build(self, input_shape):
        d_in = int(input_shape[-1])
        if len(input_shape) == 3 and input_shape[1] is not None and input_shape[1] != self.replicas:
            raise ValueError(f"input axis 1 must equal replicas={self.replicas}, got {input_shape}")
        self.kernel = self.add_weight(
            name="kernel", shape=(self.replicas, d_in, self.units),
            initializer=self._stacked_init(self.kernel_initializer, self.kernel_seeds,
                                           (d_in, self.units)))
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.replicas, self.units),
                initializer=self._stacked_init(self.bias_initializer, self.bias_seeds,
                                               (self.units,)))
        else:
            self.bias = None

    def call(self, inputs):
        if len(inputs.shape) == 2:
            y = ops.einsum("bi,kio->bko", inputs, self.kernel)
        else:
            y = ops.einsum("bki,kio->bko", inputs, self.kernel)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.replicas, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "replicas": self.replicas,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_seeds": self.kernel_seeds,
            "bias_seeds": self.bias_seeds,
        })
        return config


@keras.saving.register_keras_serializable(package="recipes")
class ReplicaLoss(keras.losses.Loss):
    """L = Σ_k ℓ_k: a per-example Keras loss ℓ applied to each replica's slice, summed over replicas.

    y_true/y_pred have shape (batch, K, ...); ``loss`` (e.g. "mean_squared_error",
    "sparse_categorical_crossentropy") maps them to (batch, K); the sum over K gives (batch,), which
    the usual "sum_over_batch_size" reduction averages over the batch. Summing (not averaging) over
    replicas keeps each replica's gradient equal to that of a separately trained model.
    """

    def __init__(self, loss="mean_squared_error", from_logits=False, name="replica_loss",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.loss = loss
        self.from_logits = bool(from_logits)
        self._fn = keras.losses.get(loss)
        if self._fn is None:
            raise ValueError(f"loss must name a Keras loss function, got {loss!r}")

    def call(self, y_true, y_pred):
        if self.from_logits:
            per = self._fn(y_true, y_pred, from_logits=True)
        else:
            per = self._fn(y_true, y_pred)
        return ops.sum(per, axis=-1)

    def get_config(self):
        return {"loss": self.loss, "from_logits": self.from_logits, "name": self.name,
                "reduction": self.reduction, "dtype": self.dtype}


def _layer_init(hidden, output, last):
    return output if (last and output is not None) else hidden


def build_replica_mlp(input_dim, hidden_units, num_outputs, seeds, activation="relu",
                      output_activation=None, kernel_initializer="glorot_uniform",
                      bias_initializer="zeros", use_bias=True, shared_input=False,
                      output_kernel_initializer=None, output_bias_initializer=None,
                      name="replica_mlp"):
    """K = len(seeds) MLPs h_k(x) = W_{L,k} φ(… φ(W_{1,k} x + b_{1,k}) …) + b_{L,k} in one model.

    Input (batch, K, input_dim) (``shared_input=False``: each replica sees its own data slice) or
    (batch, input_dim) (``shared_input=True``: one input for all, e.g. prediction on a test grid);
    output (batch, K, num_outputs). Replica k equals ``build_single_mlp(..., seed=seeds[k])``.
    ``output_kernel_initializer``/``output_bias_initializer`` (default: the hidden ones) initialize
    the last layer (e.g. "zeros" for h_k ≡ 0 at initialization).
    Not compiled: compile with ``loss=ReplicaLoss(...)``.
    """
    input_dim = check_positive_int("input_dim", input_dim)
    hidden_units = check_int_sequence("hidden_units", hidden_units, 1)
    num_outputs = check_positive_int("num_outputs", num_outputs)
    seeds = check_int_sequence("seeds", seeds, min_length=1)  # one per replica
    k = len(seeds)
    shape = (input_dim,) if shared_input else (k, input_dim)
    inputs = keras.Input(shape=shape)
    h = inputs
    widths = hidden_units + (num_outputs,)
    for l, units in enumerate(widths):
        last = l == len(widths) - 1
        h = ReplicaDense(units, k, activation=output_activation if last else activation,
                         use_bias=use_bias,
                         kernel_initializer=_layer_init(kernel_initializer,
                                                        output_kernel_initializer, last),
                         bias_initializer=_layer_init(bias_initializer, output_bias_initializer,
                                                      last),
                         kernel_seeds=[layer_seed(s, l, 0) for s in seeds],
                         bias_seeds=[layer_seed(s, l, 1) for s in seeds],
                         name=f"replica_dense_{l}")(h)
    return keras.Model(inputs, h, name=name)


def build_single_mlp(input_dim, hidden_units, num_outputs, seed, activation="relu",
                     output_activation=None, kernel_initializer="glorot_uniform",
                     bias_initializer="zeros", use_bias=True, output_kernel_initializer=None,
                     output_bias_initializer=None, name="mlp"):
    """One MLP with ``keras.layers.Dense`` layers, layer l seeded ``layer_seed(seed, l, ·)``
    — the reference that replica k of :func:`build_replica_mlp` reproduces."""
    input_dim = check_positive_int("input_dim", input_dim)
    hidden_units = check_int_sequence("hidden_units", hidden_units, 1)
    num_outputs = check_positive_int("num_outputs", num_outputs)
    seed = check_int("seed", seed)
    inputs = keras.Input(shape=(input_dim,))
    h = inputs
    widths = hidden_units + (num_outputs,)
    for l, units in enumerate(widths):
        last = l == len(widths) - 1
        h = keras.layers.Dense(
            units, activation=output_activation if last else activation, use_bias=use_bias,
            kernel_initializer=_seeded(
                _layer_init(kernel_initializer, output_kernel_initializer, last),
                layer_seed(seed, l, 0)),
            bias_initializer=_seeded(
                _layer_init(bias_initializer, output_bias_initializer, last),
                layer_seed(seed, l, 1)),
            name=f"dense_{l}")(h)
    return keras.Model(inputs, h, name=name)


def stack_replicas(arrays):
    """[a_1, …, a_K] each (n, ...) → array (n, K, ...) (replica k's data in slice k)."""
    arrays = [np.asarray(a) for a in arrays]
    n = {a.shape[0] for a in arrays}
    if len(n) != 1:
        raise ValueError(f"arrays must all have the same number of examples (axis 0), got sizes {sorted(n)}")
    return np.stack(arrays, axis=1)


def unstack_replicas(array):
    """Model output (n, K, ...) → (K, n, ...), the layout of the bias–variance decompositions."""
    return np.moveaxis(np.asarray(array), 1, 0)
