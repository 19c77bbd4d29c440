"""Weight standardization (Qiao et al. 2019) for Conv2D, and the WS + group norm block for micro-batches.

Instead of optimizing the loss on the kernel W directly, the convolution uses V = WS(W) and SGD still updates W:

    V_ij = (W_ij − μ_j) / σ_j,   μ_j = (1/S) Σ_i W_ij,   σ_j² = (1/S) Σ_i (W_ij − μ_j)² + ε,

for output channel j, where i runs over the S = k_h·k_w·C_in weights of that channel's filter (the lecture's
notation). Every output channel's effective filter therefore has zero mean and unit variance (exactly
σ²/(σ² + ε) ≈ 1). Qiao et al. recommend WS together with group normalization of the activations ("WS + GN"),
which does not depend on the batch and so trains well with micro-batches (1–2 images per GPU) where batch
normalization's μ_B, σ²_B become too noisy; :func:`ws_gn_block` builds conv → GN → activation with
``keras.layers.GroupNormalization``. The conv has no bias (GN's β replaces it).

``WSConv2D`` is a ``keras.layers.Conv2D`` (all its arguments work) whose convolution uses the standardized kernel;
the stored ``kernel`` variable is W.
"""
import numbers

import keras
from keras import ops

from augment.checks import check_number, check_positive_int

__all__ = ["standardize_kernel", "WSConv2D", "ws_gn_block", "ws_conv_factory"]


def standardize_kernel(kernel, epsilon=1e-5):
    """V = (W − μ)/sqrt(σ² + ε) with μ, σ² the mean and (biased) variance of each output channel's weights,
    i.e. over all axes but the last (Keras kernels are (..., C_in, C_out))."""
    axes = tuple(range(len(kernel.shape) - 1))
    mean = ops.mean(kernel, axis=axes, keepdims=True)
    var = ops.mean(ops.square(kernel - mean), axis=axes, keepdims=True)
    return (kernel - mean) * ops.rsqrt(var + epsilon)


@keras.saving.register_keras_serializable(package="recipes")
class WSConv2D(keras.layers.Conv2D):
    """Conv2D on the standardized kernel V = (W − μ_j)/σ_j, σ_j² = Var_j(W) + ε (Qiao et al. 2019).

    Args:
        ws_epsilon: ε > 0 added to each output channel's weight variance (1e-5 as in the authors' code).
        Other arguments: as ``keras.layers.Conv2D`` (``use_bias`` defaults to False here, since WS is meant to
        be followed by a normalization layer whose β acts as the bias; groups > 1 is not supported).
    """

    def __init__(self, filters, kernel_size, *args, ws_epsilon=1e-5, use_bias=False, **kwargs):
        ws_epsilon = check_number("ws_epsilon", ws_epsilon, 0.0, low_open=True)
        if kwargs.get("groups", 1) != 1:
            raise ValueError(f"groups must be 1 for WSConv2D, got {kwargs['groups']!r}")
        super().__init__(filters, kernel_size, *args, use_bias=use_bias, **kwargs)
        self.ws_epsilon = ws_epsilon

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, standardize_kernel(kernel, self.ws_epsilon))

    def standardized_kernel(self):
        """The kernel actually used, V = WS(W) (a tensor)."""
        return standardize_kernel(self.kernel, self.ws_epsilon)

    def get_config(self):
        config = super().get_config()
        config["ws_epsilon"] = self.ws_epsilon
        return config


def _gn(filters, groups, name):
    # GN needs groups | filters; use the largest divisor of filters not above the requested number of groups.
    g = filters if groups == -1 else max(d for d in range(1, min(groups, filters) + 1) if filters % d == 0)
    return keras.layers.GroupNormalization(groups=g, epsilon=1e-5, name=name)


def ws_gn_block(x, filters, kernel_size=3, strides=1, groups=32, activation="relu", ws_epsilon=1e-5, name=None):
    """Functional block WSConv2D(filters, kernel_size, strides, padding="same", no bias) → GroupNormalization
    → activation (Qiao et al.'s WS + GN). ``groups`` is capped to a divisor of ``filters`` (e.g. 32 → 16 for
    16 filters); -1 = one group per channel (instance norm). ``activation=None`` leaves it out."""
    filters = check_positive_int("filters", filters)
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral):
        raise TypeError(f"groups must be -1 (one group per channel) or an integer in [1, inf), got {groups!r}")
    if groups != -1 and groups < 1:
        raise ValueError(f"groups must be -1 (one group per channel) or an integer in [1, inf), got {groups!r}")
    prefix = f"{name}_" if name else ""
    x = WSConv2D(filters, kernel_size, strides=strides, padding="same", ws_epsilon=ws_epsilon,
                 kernel_initializer="he_normal", name=f"{prefix}wsconv" if name else None)(x)
    x = _gn(filters, groups, f"{prefix}gn" if name else None)(x)
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{prefix}act" if name else None)(x)
    return x


def ws_conv_factory(ws_epsilon=1e-5):
    """``conv`` hook for ``recipes.models.resnet.build_resnet``: f(filters, kernel_size, strides, name,
    kernel_regularizer=None, use_bias=False) → WSConv2D with 'same' padding and He-normal initialization.
    WS + GN ResNet: ``build_resnet("resnet20", conv=ws_conv_factory(), norm="group")``."""
    ws_epsilon = check_number("ws_epsilon", ws_epsilon, 0.0, low_open=True)

    def make(filters, kernel_size, strides=1, name=None, kernel_regularizer=None, use_bias=False):
        return WSConv2D(filters, kernel_size, strides=strides, padding="same", use_bias=use_bias,
                        kernel_initializer="he_normal", kernel_regularizer=kernel_regularizer,
                        ws_epsilon=ws_epsilon, name=name)

    return make
