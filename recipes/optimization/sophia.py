"""Sophia: second-order clipped stochastic optimization (Liu et al. 2023), with its Hessian-diagonal estimators.

Sophia keeps an EMA of gradients :math:`m` and an EMA :math:`h` of a diagonal Hessian estimate that is
refreshed only every :math:`k` steps, and takes a *clipped* diagonal-Newton step (paper, Algorithm 3):

.. math::
    m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\hat g_t, \\qquad
    h_t = \\beta_2 h_{t-k} + (1-\\beta_2)\\hat h_t \\ \\text{(every } k \\text{ steps, else } h_t = h_{t-1}),

.. math::
    \\theta_{t+1} = \\theta_t - \\epsilon_t\\,\\mathrm{clip}\\big(m_t / \\max\\{\\gamma h_t, \\varepsilon\\}, 1\\big),
    \\qquad \\mathrm{clip}(z, 1) = \\max\\{\\min\\{z, 1\\}, -1\\}

(element-wise), so no coordinate ever moves by more than :math:`\\epsilon_t` per step — where the
curvature estimate is tiny or negative the step is sign-momentum, :math:`\\epsilon_t\\,\\mathrm{sign}(m_t)`.
Weight decay is the Keras decoupled one, :math:`\\theta \\leftarrow \\theta - \\epsilon_t\\lambda\\theta`, as in the
paper.

The optimizer only sees gradients, and :math:`\\hat h` needs extra forward/backward passes, so it is fed from
outside through :meth:`Sophia.update_hessian`; :class:`SophiaHessianUpdate` is the ``model.fit`` callback
that does it every :math:`k` steps on a random minibatch with one of the paper's estimators:

* Hutchinson: :math:`\\hat h = u \\odot (\\mathbf H u)`, :math:`u \\sim N(0, \\mathbf I)`, unbiased for
  :math:`\\mathrm{diag}(\\mathbf H)` (exact Hessian-vector product by autodiff, ``recipes.optimization.model_autodiff``);
* Gauss–Newton–Bartlett (GNB), for models that output class logits: sample
  :math:`\\hat y_b \\sim \\mathrm{softmax}(f(x_b))`, :math:`\\hat g = \\nabla \\frac1B\\sum_b \\ell(f(x_b), \\hat y_b)`,
  :math:`\\hat h = B\\,\\hat g \\odot \\hat g` — unbiased for the Gauss–Newton diagonal, one backward pass.

Usage::

    opt = Sophia(learning_rate=1e-3)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, callbacks=[SophiaHessianUpdate(x, y, estimator="gnb", every=10)])
"""
import numpy as np
import keras
from keras import ops

from recipes.optimization import model_autodiff
from augment.checks import check_choice, check_learning_rate, check_number, check_positive_int


@keras.saving.register_keras_serializable(package="recipes")
class Sophia(keras.optimizers.Optimizer):
    """Sophia (Liu et al. 2023): :math:`m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\hat g_t`,
    :math:`\\theta_{t+1} = \\theta_t - \\epsilon_t\\,\\mathrm{clip}(m_t / \\max\\{\\gamma h_t, \\varepsilon\\}, 1)`, with
    :math:`h \\leftarrow \\beta_2 h + (1-\\beta_2)\\hat h` done by :meth:`update_hessian` (every :math:`k` steps,
    e.g. by :class:`SophiaHessianUpdate`). :math:`m_0 = h_0 = 0`.

    Args:
        learning_rate: :math:`\\epsilon_t > 0` (float, schedule or callable); also the largest per-coordinate
            step.
        beta_1: :math:`\\beta_1 \\in [0, 1)`, gradient EMA (paper: 0.96).
        beta_2: :math:`\\beta_2 \\in [0, 1)`, Hessian EMA (paper: 0.99).
        gamma: :math:`\\gamma > 0`, scale of the curvature in the denominator (paper: 0.01 with Hutchinson,
            0.05 with GNB; its code calls it ``rho``).
        epsilon: :math:`\\varepsilon > 0`, floor of the denominator.
        weight_decay, clipnorm, ...: as for every Keras optimizer.
    """

    def __init__(self, learning_rate=1e-4, beta_1=0.96, beta_2=0.99, gamma=0.01, epsilon=1e-12,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="sophia", **kwargs):
        learning_rate = check_learning_rate("learning_rate", learning_rate)
        beta_1 = check_number("beta_1", beta_1, 0.0, 1.0, high_open=True)
        beta_2 = check_number("beta_2", beta_2, 0.0, 1.0, high_open=True)
        gamma = check_number("gamma", gamma, 0.0, low_open=True)
        epsilon = check_number("epsilon", epsilon, 0.0, low_open=True)
        for arg, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm)):
            if value is not None:  # None: no clipping
                check_number(arg, value, 0.0, low_open=True)
        if weight_decay is not None:
            check_number("weight_decay", weight_decay, 0.0)
        super().__init__(
            learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
            ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
            **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.gamma = gamma
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._hessians = self.add_optimizer_variables(var_list, ["momentum", "hessian"])

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        h = self._hessians[index]
        beta_1 = ops.cast(self.beta_1, variable.dtype)
        self.assign(m, ops.add(ops.multiply(m, beta_1), ops.multiply(gradient, 1.0 - beta_1)))
        denominator = ops.maximum(ops.multiply(h, self.gamma), self.epsilon)
        ratio = ops.clip(ops.divide(m, denominator), -1.0, 1.0)
        self.assign_sub(variable, ops.multiply(lr, ratio))

    @property
    def hessians(self):
        """The EMA :math:`h` of the Hessian-diagonal estimates, one variable per model variable."""
        if not self.built:
            raise ValueError("Sophia is not built yet: call build(variables) or train one step first")
        return list(self._hessians)

    def update_hessian(self, estimates):
        """:math:`h \\leftarrow \\beta_2 h + (1-\\beta_2)\\hat h` for ``estimates`` = :math:`\\hat h`, a list shaped like
        the variables the optimizer was built with (call it every :math:`k` steps, outside the train step)."""
        hessians = self.hessians
        if len(estimates) != len(hessians):
            raise ValueError(f"estimates must have one entry per variable ({len(hessians)}), "
                             f"got {len(estimates)}")
        for h, estimate in zip(hessians, estimates):
            estimate = ops.cast(ops.convert_to_tensor(estimate), h.dtype)
            h.assign(ops.add(ops.multiply(h, self.beta_2), ops.multiply(estimate, 1.0 - self.beta_2)))

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "gamma": self.gamma,
                       "epsilon": self.epsilon})
        return config


# -------------------------------------------------------------------------------------------------------------
# Hessian-diagonal estimators
# -------------------------------------------------------------------------------------------------------------
def hutchinson_estimate(model, loss, x, y, rng, hvp_fn=None):
    """Hutchinson's :math:`\\hat h = u \\odot (\\mathbf H u)`, :math:`u \\sim N(0, \\mathbf I)` (NumPy ``rng``),
    :math:`\\mathbf H` the Hessian of the batch loss at the model's current weights; unbiased:
    :math:`E[\\hat h] = \\mathrm{diag}(\\mathbf H)`. Returns a list of NumPy arrays shaped like the trainable
    variables. ``hvp_fn``: a compiled ``model_autodiff.make_hessian_vector_product(model, loss)`` to reuse."""
    vectors = [rng.standard_normal(tuple(v.shape)).astype(v.dtype) for v in model.trainable_variables]
    if hvp_fn is None:
        hvp_fn = model_autodiff.make_hessian_vector_product(model, loss)
    hvp = hvp_fn(x, y, vectors)
    return [u * np.asarray(hu) for u, hu in zip(vectors, hvp)]


def _sampled_label_loss(y_true, logits):
    # y_true holds labels sampled from the model's own predictive distribution
    if logits.shape[-1] == 1:
        return keras.losses.binary_crossentropy(y_true, logits, from_logits=True)
    return keras.losses.sparse_categorical_crossentropy(y_true, logits, from_logits=True)


def _softmax_np(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def gnb_estimate(model, x, rng, grad_fn=None):
    """Gauss–Newton–Bartlett :math:`\\hat h = B\\,\\hat g \\odot \\hat g` with
    :math:`\\hat g = \\nabla_\\theta \\frac1B\\sum_b \\ell(f(x_b;\\theta), \\hat y_b)`, :math:`\\hat y_b` sampled from the
    model's predicted distribution (softmax of the logits, or a Bernoulli for one logit). Unbiased for the
    diagonal of the Gauss–Newton matrix of the cross-entropy loss. The model must output logits (no softmax).
    The model's regularization losses are left out (they are not part of the likelihood). ``grad_fn``: a
    compiled :func:`make_gnb_gradient` to reuse."""
    logits = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), dtype=np.float64)
    batch = logits.shape[0]
    if logits.shape[-1] == 1:
        p = 1.0 / (1.0 + np.exp(-logits))
        sampled = (rng.random(p.shape) < p).astype("float32")
    else:
        p = _softmax_np(logits.reshape(-1, logits.shape[-1]))
        cumulative = np.cumsum(p, axis=-1)
        draws = rng.random((p.shape[0], 1))
        sampled = np.minimum((draws > cumulative).sum(axis=-1), p.shape[-1] - 1)
        sampled = sampled.reshape(logits.shape[:-1]).astype("int32")
    if grad_fn is None:
        grad_fn = make_gnb_gradient(model)
    _, grads = grad_fn(x, sampled)
    return [batch * np.square(np.asarray(g)) for g in grads]


def make_gnb_gradient(model):
    """Compiled ``fun(x, y_sampled) -> (loss, grads)`` of the mean cross-entropy of the logits against sampled
    labels, without regularization losses (the gradient GNB squares)."""
    return model_autodiff.make_loss_and_gradients(model, _sampled_label_loss, include_regularization=False)


ESTIMATORS = ("hutchinson", "gnb")


class SophiaHessianUpdate(keras.callbacks.Callback):
    """``model.fit`` callback that refreshes :class:`Sophia`'s curvature EMA every ``every`` = :math:`k` steps:
    :math:`h \\leftarrow \\beta_2 h + (1-\\beta_2)\\hat h`, with :math:`\\hat h` from ``estimator`` on a random
    minibatch of ``batch_size`` examples drawn from ``(x, y)``.

    Args:
        x, y: arrays the minibatches are drawn from (usually the training set; ``y`` unused by ``"gnb"``).
        estimator: ``"hutchinson"`` (any loss) or ``"gnb"`` (logit outputs, cross-entropy).
        every: :math:`k \\ge 1`; the first update happens after step 1, then after steps 1 + k, 1 + 2k, ...
        batch_size: minibatch size :math:`B \\ge 1` of the estimator.
        loss: loss for Hutchinson; default the model's compiled ``loss``.
        seed: seed of the minibatch sampling and of :math:`u` / :math:`\\hat y`.
    """

    def __init__(self, x, y=None, estimator="hutchinson", every=10, batch_size=32, loss=None, seed=0):
        super().__init__()
        check_choice("estimator", estimator, ESTIMATORS)
        every = check_positive_int("every", every)
        batch_size = check_positive_int("batch_size", batch_size)
        if estimator == "hutchinson" and y is None:
            raise ValueError("y must be given (labels for the loss) with estimator='hutchinson', got None")
        self.x = np.asarray(x)
        self.y = None if y is None else np.asarray(y)
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(f"x and y must have the same length, got {len(self.x)} and {len(self.y)}")
        self.estimator = estimator
        self.every = every
        self.batch_size = batch_size
        self.loss = loss
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._step = 0
        self.updates = 0
        self._compiled = None

    def on_train_batch_end(self, batch, logs=None):
        if self._step % self.every == 0:
            self._update()
        self._step += 1

    def _update(self):
        model = self.model
        optimizer = model.optimizer
        while not isinstance(optimizer, Sophia) and hasattr(optimizer, "inner_optimizer"):
            optimizer = optimizer.inner_optimizer  # LossScaleOptimizer, GradientNoise wrapping Sophia
        if not isinstance(optimizer, Sophia):
            raise TypeError(f"SophiaHessianUpdate needs a Sophia optimizer, got {type(optimizer).__name__}")
        if hasattr(model, "jax_state_sync"):
            model.jax_state_sync()  # JAX trainer: bring the latest weights/optimizer state into the variables
        index = self._rng.choice(len(self.x), size=min(self.batch_size, len(self.x)), replace=False)
        if self._compiled is None or self._compiled[0] is not model:
            if self.estimator == "gnb":
                fn = make_gnb_gradient(model)
            else:
                loss = self.loss if self.loss is not None else model.loss
                fn = model_autodiff.make_hessian_vector_product(model, loss)
            self._compiled = (model, fn)
        fn = self._compiled[1]
        if self.estimator == "gnb":
            estimates = gnb_estimate(model, self.x[index], self._rng, grad_fn=fn)
        else:
            estimates = hutchinson_estimate(model, None, self.x[index], self.y[index], self._rng, hvp_fn=fn)
        optimizer.update_hessian(estimates)
        if hasattr(model, "_jax_state_synced"):
            model._jax_state_synced = True  # the JAX trainer re-reads the variables before the next step
        self.updates += 1
