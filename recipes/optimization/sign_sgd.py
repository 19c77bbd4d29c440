"""signSGD and Signum (Bernstein et al. 2018, "signSGD: compressed optimisation for non-convex problems").

The lecture lists signSGD among the algorithms with adaptive learning rates. With learning rate
:math:`\\epsilon` and minibatch gradient :math:`\\hat g`,

* signSGD:  :math:`\\theta \\leftarrow \\theta - \\epsilon\\,\\mathrm{sign}(\\hat g)`
* Signum (sign momentum):  :math:`m \\leftarrow \\beta m + (1-\\beta)\\hat g`,
  :math:`\\theta \\leftarrow \\theta - \\epsilon\\,\\mathrm{sign}(m)`

Every coordinate moves by exactly :math:`\\epsilon` (or 0 where the sign is 0), whatever the size of the
gradient, so the step is robust to badly scaled gradients. Weight decay is the Keras one (decoupled, applied
by the base class before the update: :math:`\\theta \\leftarrow \\theta - \\epsilon\\lambda\\theta`), and
``exclude_from_weight_decay`` works as for any Keras optimizer.

Usage::

    from recipes.optimization.sign_sgd import SignSGD, Signum
    model.compile(optimizer=Signum(learning_rate=1e-3, momentum=0.9), loss=...)
"""
import keras
from keras import ops

from augment.checks import check_learning_rate, check_number


@keras.saving.register_keras_serializable(package="recipes")
class SignSGD(keras.optimizers.Optimizer):
    """signSGD, and Signum when ``momentum > 0`` (Bernstein et al. 2018).

    ``momentum == 0``: :math:`\\theta \\leftarrow \\theta - \\epsilon\\,\\mathrm{sign}(\\hat g)`.

    ``momentum == \\beta > 0`` (Signum): :math:`m \\leftarrow \\beta m + (1-\\beta)\\hat g`,
    :math:`\\theta \\leftarrow \\theta - \\epsilon\\,\\mathrm{sign}(m)`, with :math:`m_0 = 0`.

    Args:
        learning_rate: :math:`\\epsilon > 0`, a float, a ``LearningRateSchedule`` or a callable.
        momentum: :math:`\\beta \\in [0, 1)`; 0 gives signSGD.
        weight_decay, clipnorm, clipvalue, global_clipnorm, ...: as for every Keras optimizer
            (decoupled weight decay :math:`\\theta \\leftarrow \\theta - \\epsilon\\lambda\\theta`).
    """

    def __init__(self, learning_rate=1e-3, momentum=0.0, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        learning_rate = check_learning_rate("learning_rate", learning_rate)
        momentum = check_number("momentum", momentum, 0.0, 1.0, high_open=True)
        for arg, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm)):
            if value is not None:  # None: no clipping
                check_number(arg, value, 0.0, low_open=True)
        if weight_decay is not None:
            check_number("weight_decay", weight_decay, 0.0)
        super().__init__(
            learning_rate=learning_rate, name=name or self.__class__.__name__.lower(),
            weight_decay=weight_decay,
            clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
            use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.momentum = momentum

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        if self.momentum > 0:
            m = self._momentums[self._get_variable_index(variable)]
            beta = ops.cast(self.momentum, variable.dtype)
            self.assign(m, ops.add(ops.multiply(m, beta), ops.multiply(gradient, 1.0 - beta)))
            direction = m
        else:
            direction = gradient
        self.assign_sub(variable, ops.multiply(lr, ops.sign(direction)))

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum})
        return config


@keras.saving.register_keras_serializable(package="recipes")
class Signum(SignSGD):
    """Signum (Bernstein et al. 2018): signSGD on the momentum, :math:`m \\leftarrow \\beta m + (1-\\beta)\\hat g`,
    :math:`\\theta \\leftarrow \\theta - \\epsilon\\,\\mathrm{sign}(m)`. Same as ``SignSGD`` with
    ``momentum=0.9`` by default; ``momentum`` must be in (0, 1)."""

    def __init__(self, learning_rate=1e-3, momentum=0.9, **kwargs):
        momentum = check_number("momentum", momentum, 0.0, 1.0, low_open=True, high_open=True)  # 0: SignSGD
        super().__init__(learning_rate=learning_rate, momentum=momentum, **kwargs)
