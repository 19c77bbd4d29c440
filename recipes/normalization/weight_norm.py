"""Weight normalization (Salimans & Kingma 2016) as a wrapper for Dense and Conv layers.

Each output unit j's weight vector w_j (its column of a Dense kernel, or its k×k×C_in filter of a Conv2D
kernel) is reparameterized by a direction v_j and a scale g_j:

    W = g · v / ‖v‖,   i.e.  w_j = g_j v_j / ‖v_j‖,   so ‖w_j‖ = g_j independently of v_j.

Gradient descent then runs on (g, v) instead of W; with ∇_W L the gradient with respect to the effective
weights, the chain rule gives (the lecture's formulas, per unit j)

    ∂L/∂g_j = (v_j / ‖v_j‖) · ∇_{w_j} L,
    ∂L/∂v_j = (g_j / ‖v_j‖) ∇_{w_j} L − (g_j ∂L/∂g_j / ‖v_j‖²) v_j,

i.e. the W-gradient scaled by g/‖v‖ and projected away from v (``tests/normalization/test_weight_norm.py`` checks both
against autodiff). The wrapped layer keeps its kernel variable — it *is* v — its bias, activation, strides and
padding; the wrapper adds g (one per output unit) and computes the forward pass with W.

Data-dependent initialization (Salimans & Kingma, Sec. 3): for a mini-batch, with t = v·x/‖v‖ the
pre-activation of unit j at g = 1 and b = 0, set

    g_j ← s / σ[t_j],   b_j ← −s μ[t_j] / σ[t_j]       (s = ``init_scale``, 1 in the paper),

so that every unit's pre-activation has mean 0 and standard deviation s on that batch.
:func:`weight_norm_data_init` does this for all ``WeightNormalization`` layers of a model in one forward pass,
layer after layer in the order of the forward pass, so each layer is initialized on the outputs of the already
initialized earlier layers. Without it, g starts at ‖v‖ so W = v: wrapping does not change the initial function.
"""
import numpy as np
import keras
from keras import ops

from augment.checks import check_int, check_number

__all__ = ["WeightNormalization", "weight_norm_data_init", "weight_norm_layers", "weight_norm_conv_factory"]

_SUPPORTED = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


@keras.saving.register_keras_serializable(package="recipes")
class WeightNormalization(keras.layers.Wrapper):
    """W = g · v/‖v‖ for a ``Dense`` or ``Conv1D/2D/3D`` layer (norm per output unit, over all its inputs).

    Args:
        layer: an unbuilt or built ``keras.layers.Dense`` / ``Conv1D`` / ``Conv2D`` / ``Conv3D`` (not transposed
            or depthwise convolutions). Its ``kernel`` becomes v; its kernel constraint is not applied to W.
        init_scale: s of the data-dependent initialization, > 0.
        epsilon: ‖v_j‖ is computed as sqrt(Σ v² + epsilon), epsilon ≥ 0 (guards v_j = 0).

    Attributes after build: ``g`` (shape (units,)), ``v`` (the wrapped layer's kernel).
    """

    def __init__(self, layer, init_scale=1.0, epsilon=1e-12, **kwargs):
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(f"layer must be a keras Layer, got {type(layer).__name__}")
        if not isinstance(layer, _SUPPORTED):
            raise TypeError(
                f"layer must be a Dense, Conv1D, Conv2D or Conv3D layer, got {type(layer).__name__}"
            )
        if getattr(layer, "padding", None) == "causal":
            raise ValueError("layer must not use padding='causal' (pad the input and use padding='valid'), "
                             f"got {layer.name!r} with padding='causal'")
        init_scale = check_number("init_scale", init_scale, 0.0, low_open=True)
        epsilon = check_number("epsilon", epsilon, 0.0)
        super().__init__(layer, **kwargs)
        self.init_scale = init_scale
        self.epsilon = epsilon
        self._is_dense = isinstance(layer, keras.layers.Dense)
        self._data_init_pending = False

    def build(self, input_shape):
        super().build(input_shape)
        v = self.layer.kernel
        self._reduce_axes = tuple(range(len(v.shape) - 1))
        self.g = self.add_weight(name="g", shape=(v.shape[-1],), initializer="ones", trainable=True)
        # g = ‖v‖ so that W = v: the wrapper starts from the wrapped layer's own initialization.
        self.g.assign(np.sqrt(np.sum(np.square(keras.ops.convert_to_numpy(v)), axis=self._reduce_axes)))

    @property
    def v(self):
        return self.layer.kernel

    def _unit_kernel(self, v):
        norm = ops.sqrt(ops.sum(ops.square(v), axis=self._reduce_axes, keepdims=True) + self.epsilon)
        return v / norm

    def effective_kernel(self):
        """The effective weights W = g · v/‖v‖ (a tensor)."""
        return self._unit_kernel(self.v) * ops.cast(self.g, self.v.dtype)

    def _linear(self, inputs, kernel):
        if self._is_dense:
            return ops.matmul(inputs, kernel)
        return self.layer.convolution_op(inputs, kernel)

    def _add_bias(self, outputs, bias):
        if not self._is_dense and self.layer.data_format == "channels_first":
            bias = ops.reshape(bias, (1, -1) + (1,) * self.layer.rank)
        return ops.add(outputs, bias)

    def call(self, inputs):
        v = ops.cast(self.v, self.compute_dtype)
        if self._data_init_pending:
            self._data_init_pending = False
            self._initialize(inputs, v)
        kernel = self._unit_kernel(v) * ops.cast(self.g, self.compute_dtype)
        outputs = self._linear(inputs, kernel)
        if self.layer.use_bias:
            outputs = self._add_bias(outputs, ops.cast(self.layer.bias, self.compute_dtype))
        if self.layer.activation is not None:
            outputs = self.layer.activation(outputs)
        return outputs

    def _initialize(self, inputs, v):
        t = keras.ops.convert_to_numpy(self._linear(inputs, self._unit_kernel(v))).astype("float64")
        channel_axis = 1 if (not self._is_dense and self.layer.data_format == "channels_first") else t.ndim - 1
        axes = tuple(a for a in range(t.ndim) if a != channel_axis)
        mean, std = t.mean(axis=axes), t.std(axis=axes)
        scale = self.init_scale / np.maximum(std, 1e-12)
        self.g.assign(scale.astype("float32"))
        if self.layer.use_bias:
            self.layer.bias.assign((-mean * scale).astype("float32"))

    def initialize_from_data(self, inputs):
        """Data-dependent initialization of this layer alone from a batch of its *inputs* (eager):
        g ← s/σ[t], b ← −s μ[t]/σ[t] with t = v·x/‖v‖."""
        if not self.built:
            self.build(tuple(inputs.shape))
        self._initialize(ops.convert_to_tensor(inputs, self.compute_dtype), ops.cast(self.v, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"init_scale": self.init_scale, "epsilon": self.epsilon})
        return config


def weight_norm_layers(model):
    """All ``WeightNormalization`` layers of ``model`` (recursively)."""
    return [l for l in model._flatten_layers(include_self=True, recursive=True) if isinstance(l, WeightNormalization)]


def weight_norm_data_init(model, x, batch_size=None):
    """Salimans & Kingma's data-dependent initialization of every ``WeightNormalization`` layer of ``model``.

    Runs one eager forward pass ``model(x, training=False)`` on the batch ``x`` (the first ``batch_size``
    examples if given; the paper uses one mini-batch); each wrapped layer, when reached, sets
    g ← s/σ[t] and b ← −s μ[t]/σ[t] from its own inputs and then computes its output with the new values, so
    later layers are initialized on the normalized outputs of earlier ones. Returns the number of layers
    initialized. Call it after building the model and before training.
    """
    layers = weight_norm_layers(model)
    if not layers:
        raise ValueError("model has no WeightNormalization layer")
    if batch_size is not None:
        x = x[:check_int("batch_size", batch_size, 2)]
    for layer in layers:
        layer._data_init_pending = True
    try:
        model(x, training=False)
        missed = [l.name for l in layers if l._data_init_pending]
        if missed:
            raise ValueError(f"the forward pass did not reach WeightNormalization layers {missed}")
    finally:
        for layer in layers:
            layer._data_init_pending = False
    return len(layers)


def weight_norm_conv_factory(init_scale=1.0):
    """``conv`` hook for ``recipes.models.resnet.build_resnet``: f(filters, kernel_size, strides, name,
    kernel_regularizer=None, use_bias=False) → WeightNormalization(Conv2D(..., padding="same", He-normal)).
    The wrapper gets ``name``; the inner conv is ``name + "_v"``. Salimans & Kingma use weight norm *instead* of
    batch norm: ``build_resnet("resnet20", conv=weight_norm_conv_factory(), norm="none")`` (convs then have a
    bias), followed by :func:`weight_norm_data_init` on one training batch."""
    init_scale = check_number("init_scale", init_scale, 0.0, low_open=True)

    def make(filters, kernel_size, strides=1, name=None, kernel_regularizer=None, use_bias=False):
        conv = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=use_bias,
                                   kernel_initializer="he_normal", kernel_regularizer=kernel_regularizer,
                                   name=f"{name}_v" if name else None)
        return WeightNormalization(conv, init_scale=init_scale, name=name)

    return make
