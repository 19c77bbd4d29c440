"""DropConnect (Wan et al. 2013): drop individual weights and biases, not neuron outputs.

Lecture, "Regularization – DropConnect": "individual weights and biases rather than neuron outputs
are set to zero with some probability". With keep-probability p (Keras-style ``rate = 1 − p``),
mask entries ``M_ij ~ Bernoulli(p)``, ``m_j ~ Bernoulli(p)`` and inverted scaling, a unit computes
in training

    u_j = ( Σ_i M_ij W_ij x_i + m_j b_j ) / p,        y_j = a(u_j),

so that ``E[u_j] = Σ_i W_ij x_i + b_j`` and

    Var[u_j] = (1 − p)/p · ( Σ_i W_ij² x_i² + b_j² ).

At inference the layer uses the mean network ``u = Wᵀx + b`` (the expectation of the training
pre-activation). Wan et al.'s own inference, a Gaussian moment-matched sample average, is not
implemented.

Mask granularity:

* ``DropConnectDense(mask="example")`` (default, the paper's definition): an independent mask
  ``M`` of shape ``(d_in, units)`` for every example (row of a 2-D input). Memory and time are
  ``O(batch · d_in · units)`` per step — use it on narrow layers.
* ``DropConnectDense(mask="batch")`` and ``DropConnectConv2D`` (always): one mask for the whole
  batch, redrawn every step; a plain ``matmul``/``conv`` with a masked kernel.
"""
import keras
from keras import ops

from augment.checks import check_choice, check_rate, check_seed
from recipes.dropout.rates import HIDDEN_RATE

_MASKS = ("example", "batch")


def _bernoulli(shape, p, seed_generator, dtype):
    """δ ~ Bernoulli(p) of the given shape, as ``dtype``."""
    u = keras.random.uniform(shape, seed=seed_generator, dtype=dtype)
    return ops.cast(u < p, dtype)


@keras.saving.register_keras_serializable(package="recipes")
class DropConnectDense(keras.layers.Dense):
    """``keras.layers.Dense`` with DropConnect on its kernel and bias during training.

    Training: ``u = ((M ⊙ W)ᵀ x + m ⊙ b) / p``, ``M_ij, m_j ~ Bernoulli(p)``; inference:
    ``u = Wᵀx + b``.

    Args:
        units: output width (as ``Dense``).
        rate: drop probability ``1 − p`` of each weight, in [0, 1); default 0.5 (Wan et al.;
            the lecture's hidden-layer p = 0.5).
        mask: ``"example"`` (default) — an independent ``(d_in, units)`` mask per example
            (requires 2-D inputs ``(batch, d_in)``); ``"batch"`` — one mask shared by the batch.
        seed: int seed of the layer's ``keras.random.SeedGenerator``.
        **kwargs: any other ``keras.layers.Dense`` argument (activation, initializers, ...).
    """

    def __init__(self, units, rate=HIDDEN_RATE, mask="example", seed=None, **kwargs):
        self.rate = check_rate("rate", rate)
        self.mask = check_choice("mask", mask, _MASKS)
        self.seed = check_seed("seed", seed)
        super().__init__(units, **kwargs)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def build(self, input_shape):
        if self.mask == "example" and len(input_shape) != 2:
            raise ValueError(
                f"mask='example' needs 2-D inputs (batch, features), got input_shape={input_shape}; "
                "use mask='batch' for higher-rank inputs"
            )
        super().build(input_shape)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return super().call(inputs)
        p = 1.0 - self.rate
        kernel = ops.cast(self.kernel, inputs.dtype)
        if self.mask == "batch":
            w = kernel * _bernoulli(ops.shape(kernel), p, self.seed_generator, inputs.dtype)
            u = ops.matmul(inputs, w)
            if self.bias is not None:
                b = ops.cast(self.bias, inputs.dtype)
                u = u + b * _bernoulli(ops.shape(b), p, self.seed_generator, inputs.dtype)
        else:
            batch = ops.shape(inputs)[0]
            m = _bernoulli((batch,) + tuple(kernel.shape), p, self.seed_generator, inputs.dtype)
            u = ops.einsum("bi,bij->bj", inputs, m * kernel[None])
            if self.bias is not None:
                b = ops.cast(self.bias, inputs.dtype)
                u = u + b[None] * _bernoulli((batch, self.units), p, self.seed_generator, inputs.dtype)
        u = u / ops.cast(p, inputs.dtype)
        if self.activation is not None:
            u = self.activation(u)
        return u

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "mask": self.mask, "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="recipes")
class DropConnectConv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` with DropConnect on its kernel and bias, one mask **per batch**.

    Training: ``y = a((M ⊙ K) * x + m ⊙ b) / p)`` with ``M`` of the kernel's shape
    ``(kh, kw, c_in, filters)`` and ``m`` of shape ``(filters,)``, ``~ Bernoulli(p)``, redrawn
    every call and shared by all examples and positions of the batch (a per-example kernel mask
    would need a separate convolution per example). Inference: the plain convolution.

    Args:
        filters, kernel_size: as ``Conv2D``.
        rate: drop probability ``1 − p`` in [0, 1); default 0.5.
        seed: int seed of the layer's ``keras.random.SeedGenerator``.
        **kwargs: any other ``keras.layers.Conv2D`` argument.
    """

    def __init__(self, filters, kernel_size, rate=HIDDEN_RATE, seed=None, **kwargs):
        self.rate = check_rate("rate", rate)
        self.seed = check_seed("seed", seed)
        super().__init__(filters, kernel_size, **kwargs)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return super().call(inputs)
        p = 1.0 - self.rate
        kernel = ops.cast(self.kernel, inputs.dtype)
        kernel = kernel * _bernoulli(ops.shape(kernel), p, self.seed_generator, inputs.dtype)
        outputs = self.convolution_op(inputs, kernel)
        if self.use_bias:
            b = ops.cast(self.bias, inputs.dtype)
            b = b * _bernoulli(ops.shape(b), p, self.seed_generator, inputs.dtype)
            if self.data_format == "channels_last":
                b = ops.reshape(b, (1, 1, 1, self.filters))
            else:
                b = ops.reshape(b, (1, self.filters, 1, 1))
            outputs = outputs + b
        outputs = outputs / ops.cast(p, inputs.dtype)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
