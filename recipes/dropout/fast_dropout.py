"""Fast dropout (Wang and Manning 2013): sample the dropped-out sum from its Gaussian approximation.

Lecture, "Regularization – Dropout, some variations": "dropout implemented as neuron output random
sampling from an underlying distribution, which can be approximated by a Gaussian (preserving input
mean and variance)".

With (inverted) dropout on the inputs of a linear unit, ``δ_i ~ Bernoulli(p)``,

    u_j = Σ_i (δ_i / p) W_ij x_i + b_j,
    E[u_j]   = μ_j  = Σ_i W_ij x_i + b_j,
    Var[u_j] = s_j² = (1 − p)/p · Σ_i W_ij² x_i²,

and, by the central limit theorem for many inputs, ``u_j ≈ N(μ_j, s_j²)``. Fast dropout draws
``u = μ + s ⊙ ε``, ``ε ~ N(0, I)`` — one Gaussian per *output* unit and no mask over the inputs.
Its first two moments equal those of ``keras.layers.Dropout(rate) → Dense`` exactly; the shape is
Gaussian only in the limit. Note the units of one example share the input mask in real dropout
(they are correlated); fast dropout draws them independently (Wang and Manning's approximation).
At inference ``u = μ`` (the mean network).
"""
import keras
from keras import ops

from augment.checks import check_rate, check_seed
from recipes.dropout.rates import HIDDEN_RATE


def fast_dropout_moments(x, kernel, bias=None, rate=HIDDEN_RATE):
    """``(μ, s²)`` of ``u = (δ ⊙ x / p) W + b``: ``μ = xW + b``, ``s² = (1 − p)/p · (x²)(W²)``."""
    rate = check_rate("rate", rate)
    p = 1.0 - rate
    mu = ops.matmul(x, kernel)
    if bias is not None:
        mu = mu + bias
    var = ops.matmul(ops.square(x), ops.square(kernel)) * ((1.0 - p) / p)
    return mu, var


@keras.saving.register_keras_serializable(package="recipes")
class FastDropoutDense(keras.layers.Dense):
    """``Dropout(rate) → Dense`` replaced by its Gaussian approximation (Wang and Manning 2013).

    Training: ``u = μ + sqrt(s²) ⊙ ε`` with ``μ = xW + b``, ``s² = (1 − p)/p · (x²)(W²)``,
    ``ε ~ N(0, I)``; ``y = a(u)``. Inference: ``y = a(μ)``. The dropout is on the layer's
    *inputs* (bias not dropped), as in ``Dropout → Dense``.

    Args:
        units: output width.
        rate: drop probability ``1 − p`` of each input, in [0, 1); default 0.5 (hidden layers);
            use 0.2 (p = 0.8) when the layer reads the network's input.
        seed: int seed of the layer's ``keras.random.SeedGenerator``.
        **kwargs: any other ``keras.layers.Dense`` argument.
    """

    def __init__(self, units, rate=HIDDEN_RATE, seed=None, **kwargs):
        self.rate = check_rate("rate", rate)
        self.seed = check_seed("seed", seed)
        super().__init__(units, **kwargs)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return super().call(inputs)
        kernel = ops.cast(self.kernel, inputs.dtype)
        bias = None if self.bias is None else ops.cast(self.bias, inputs.dtype)
        mu, var = fast_dropout_moments(inputs, kernel, bias, self.rate)
        eps = keras.random.normal(ops.shape(mu), seed=self.seed_generator, dtype=inputs.dtype)
        # max(·, tiny): sqrt has an infinite derivative at 0 (all inputs zero, e.g. dead ReLUs).
        u = mu + ops.sqrt(ops.maximum(var, 1e-12)) * eps
        if self.activation is not None:
            u = self.activation(u)
        return u

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
