"""Gradient noise with decreasing variance (Neelakantan et al. 2015, "Adding gradient noise improves learning
for very deep networks"), the lecture's "Gradient noise (decreasing variance)".

At training step :math:`t` every gradient gets independent Gaussian noise before the optimizer uses it,

.. math:: \\hat g_t \\leftarrow \\hat g_t + N(0, \\sigma_t^2), \\qquad \\sigma_t^2 = \\frac{\\eta}{(1+t)^{\\gamma}},

with the paper's :math:`\\eta \\in \\{0.01, 0.3, 1.0\\}` and :math:`\\gamma = 0.55`. :class:`GradientNoise` wraps any
Keras optimizer (like ``keras.optimizers.LossScaleOptimizer`` does), so it works in ``model.fit`` on the
TensorFlow and JAX backends and saves with the model::

    optimizer = GradientNoise(keras.optimizers.SGD(0.01, momentum=0.9), eta=0.01, gamma=0.55, seed=0)

:math:`t` is the wrapped optimizer's ``iterations`` (0 at the first step). The noise is added before the wrapped
optimizer's own gradient clipping and weight decay.
"""
import keras
from keras import ops

from augment.checks import check_number, check_seed


@keras.saving.register_keras_serializable(package="recipes")
class GradientNoise(keras.optimizers.Optimizer):
    """Wraps ``inner_optimizer`` and adds :math:`N(0, \\sigma_t^2)`, :math:`\\sigma_t^2 = \\eta/(1+t)^\\gamma`, to every
    gradient entry at step :math:`t` (Neelakantan et al. 2015).

    Args:
        inner_optimizer: a ``keras.optimizers.Optimizer`` instance.
        eta: :math:`\\eta > 0`, the noise variance at :math:`t = 0`.
        gamma: :math:`\\gamma \\ge 0`, the decay exponent (0.55 in the paper).
        seed: integer seed of the noise (a ``keras.random.SeedGenerator`` whose state is an optimizer
            variable, so the noise stream is saved and resumed with the optimizer).
    """

    def __init__(self, inner_optimizer, eta=0.01, gamma=0.55, seed=None, name=None, **kwargs):
        if not isinstance(inner_optimizer, keras.optimizers.Optimizer):
            raise TypeError("inner_optimizer must be a keras.optimizers.Optimizer instance, "
                            f"got {type(inner_optimizer).__name__}")
        eta = check_number("eta", eta, 0.0, low_open=True)
        gamma = check_number("gamma", gamma, 0.0)
        seed = check_seed("seed", seed)
        for arg in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
                    "loss_scale_factor", "gradient_accumulation_steps"):
            if kwargs.get(arg):
                raise ValueError(f"{arg} must be set on inner_optimizer (GradientNoise does not take it), "
                                 f"got {kwargs[arg]!r}")
            kwargs.pop(arg, None)
        for arg in ("ema_momentum", "ema_overwrite_frequency", "learning_rate"):
            kwargs.pop(arg, None)
        if kwargs:
            raise ValueError(f"GradientNoise got unexpected arguments {sorted(kwargs)}")
        super().__init__(learning_rate=0.0, name=name or "gradient_noise")
        self.inner_optimizer = inner_optimizer
        self.eta = eta
        self.gamma = gamma
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed, name="gradient_noise_seed")
        self._track_variable(self._seed_generator.state)

    def build(self, var_list):
        if self.built:
            return
        self.inner_optimizer.build(var_list)
        super().build(var_list)

    @property
    def variables(self):
        return self._variables + self.inner_optimizer.variables

    def noise_variance(self, step):
        """:math:`\\sigma_t^2 = \\eta / (1+t)^\\gamma` at step ``step`` = :math:`t` (a number or tensor)."""
        step = ops.cast(step, "float32")
        return self.eta / ops.power(1.0 + step, self.gamma)

    def apply(self, grads, trainable_variables=None):
        if not self.built:
            if trainable_variables is None:
                raise ValueError("GradientNoise must be built before apply() is called without variables")
            self.build(list(trainable_variables))
            self.built = True
        std = ops.sqrt(self.noise_variance(self.inner_optimizer.iterations))
        noisy = []
        for g in grads:
            if g is None:
                noisy.append(g)
                continue
            noise = keras.random.normal(ops.shape(g), dtype=g.dtype, seed=self._seed_generator)
            noisy.append(ops.add(g, ops.multiply(noise, ops.cast(std, g.dtype))))
        self.inner_optimizer.apply(noisy, trainable_variables)
        self._iterations.assign(self.inner_optimizer.iterations)

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
            "eta": self.eta,
            "gamma": self.gamma,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(config.pop("inner_optimizer"),
                                                      custom_objects=custom_objects)
        return cls(inner, **config)
