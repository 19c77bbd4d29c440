"""Gradients, Hessian-vector products and Hessians of a Keras model's loss with respect to its weights.

Keras 3 has no backend-neutral ``grad``; the second-order recipes (``recipes.optimization.second_order``,
``recipes.optimization.sophia``) need derivatives of

.. math:: J(\\boldsymbol\\theta) = \\frac{1}{m}\\sum_i L(f(x^{(i)};\\boldsymbol\\theta), y^{(i)}) + \\Omega(\\boldsymbol\\theta)

(the compiled-style loss averaged over the batch plus the model's regularization losses ``model.losses``),
so this module implements them twice, exactly (no finite differences):

* TensorFlow backend: ``tf.GradientTape`` (nested tapes for :math:`\\mathbf H\\mathbf u`, ``tape.jacobian``
  for :math:`\\mathbf H`);
* JAX backend: ``model.stateless_call`` with ``jax.grad``, ``jax.jvp`` (forward-over-reverse
  :math:`\\mathbf H\\mathbf u`) and ``jax.hessian``.

Other backends raise ``NotImplementedError``. The model is evaluated with ``training=False`` (deterministic,
and BatchNormalization statistics are not updated by these extra passes).

Everything is computed in the model's dtype, the dtype of its trainable weights: a Keras ``Loss`` instance
computes in its own ``dtype`` (``keras.backend.floatx()``, float32, unless given), so a float64 model would get a
float32 :math:`J` and gradient; :func:`resolve_loss` with ``model`` returns a copy of such a loss set to the
model's dtype. On JAX, float64 needs ``jax_enable_x64`` (without it JAX has no float64 arrays at all), and even
then Keras 3.15's reductions (``keras.ops.mean``, inside its losses) compute in float32 there, so float64
precision of :math:`J` is reached on the TensorFlow backend only.
"""
import copy

import numpy as np
import keras

_SUPPORTED = ("tensorflow", "jax")


def _supported_backend():
    """The active backend if autodiff of a model is implemented for it (tensorflow, jax)."""
    backend = keras.backend.backend()
    if backend not in _SUPPORTED:
        raise NotImplementedError(
            f"recipes.optimization.model_autodiff supports the backends {_SUPPORTED}, not {backend!r}")
    return backend


def model_dtype(model):
    """The dtype the derivatives of ``model`` are computed in: that of its trainable weights (the widest one if
    they differ, e.g. ``"float64"``), or ``keras.backend.floatx()`` for a model without trainable weights."""
    dtypes = {keras.backend.standardize_dtype(v.dtype) for v in model.trainable_variables}
    if not dtypes:
        return keras.backend.floatx()
    return max(sorted(dtypes), key=lambda d: int("".join(c for c in d if c.isdigit()) or 0))


def resolve_loss(loss, model=None):
    """Return a callable ``loss(y_true, y_pred) -> scalar`` from a Keras loss name, instance or function.

    With ``model``, a ``keras.losses.Loss`` instance whose ``dtype`` differs from :func:`model_dtype` is replaced by
    a shallow copy computing in the model's dtype (the caller's instance is not changed); loss names and plain
    functions already compute in the dtype of the predictions.
    """
    if loss is None:
        raise ValueError("loss must be a Keras loss (name, instance or callable), got None")
    if isinstance(loss, str):
        return keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        if model is not None and loss.dtype != model_dtype(model):
            dtype = model_dtype(model)
            loss = copy.copy(loss)
            # Loss.__call__ converts y_true and y_pred to ``self.dtype``; Keras keeps it in these two attributes.
            loss._dtype_policy = keras.dtype_policies.get(dtype)
            loss._dtype = loss._dtype_policy.compute_dtype
            if loss.dtype != dtype:  # pragma: no cover - a Keras version that stores the dtype elsewhere
                raise RuntimeError(f"could not set the loss {loss.name!r} to the model's dtype {dtype}")
        return loss
    if callable(loss):
        return loss
    raise TypeError(f"loss must be a Keras loss name, instance or callable, got {type(loss).__name__}")


def _as_scalar_loss(loss_fn, y, y_pred):
    from keras import ops
    value = loss_fn(y, y_pred)
    return ops.mean(value)  # Keras losses already reduce; plain functions may return per-example values


# ---------------------------------------------------------------------------------------------------------
# Backend objectives
# ---------------------------------------------------------------------------------------------------------
def _jax_objective(model, loss_fn, include_regularization=True):
    """objective(params, non_trainable, x, y) -> J, pure (for jax.grad / jax.jit)."""
    import jax.numpy as jnp

    def objective(params, non_trainable, x, y):
        y_pred, _, losses = model.stateless_call(params, non_trainable, x, training=False,
                                                 return_losses=True)
        value = _as_scalar_loss(loss_fn, y, y_pred)
        if include_regularization:
            for extra in losses:
                value = value + jnp.asarray(extra, value.dtype)
        return value

    return objective


def _tf_loss(model, loss_fn, x, y, include_regularization=True):
    value = _as_scalar_loss(loss_fn, y, model(x, training=False))
    if include_regularization:
        for extra in model.losses:
            value = value + keras.ops.cast(extra, value.dtype)
    return value


def _state(model):
    return ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables])


# ---------------------------------------------------------------------------------------------------------
# Public API: factories compile once (jax.jit / tf.function) and are then called many times
# ---------------------------------------------------------------------------------------------------------
def make_loss_and_gradients(model, loss, include_regularization=True):
    """Compile once and return ``fun(x, y) -> (J, [dJ/dv for v in model.trainable_variables])`` at the model's
    current weights, :math:`J` the mean loss plus (by default) ``model.losses``."""
    backend = _supported_backend()
    loss_fn = resolve_loss(loss, model)
    if backend == "jax":
        import jax
        compiled = jax.jit(jax.value_and_grad(_jax_objective(model, loss_fn, include_regularization)))

        def fun(x, y):
            params, non_trainable = _state(model)
            value, grads = compiled(params, non_trainable, x, y)
            return value, list(grads)

        return fun
    import tensorflow as tf
    variables = model.trainable_variables

    @tf.function(reduce_retracing=True)
    def fun(x, y):
        with tf.GradientTape() as tape:
            value = _tf_loss(model, loss_fn, x, y, include_regularization)
        return value, tape.gradient(value, variables)

    return fun


def make_hessian_vector_product(model, loss):
    """Compile once and return ``fun(x, y, vectors) -> H u`` (exact; ``vectors`` = u, a list shaped like
    ``model.trainable_variables``), :math:`\\mathbf H = \\nabla^2_{\\boldsymbol\\theta}J` at the current weights."""
    backend = _supported_backend()
    loss_fn = resolve_loss(loss, model)
    variables = model.trainable_variables
    if backend == "jax":
        import jax
        objective = _jax_objective(model, loss_fn)

        def hvp(params, non_trainable, x, y, tangents):
            grad_fn = lambda p: jax.grad(objective)(p, non_trainable, x, y)  # noqa: E731
            return jax.jvp(grad_fn, (params,), (tangents,))[1]

        compiled = jax.jit(hvp)

        def fun(x, y, vectors):
            params, non_trainable = _state(model)
            tangents = [keras.ops.cast(u, v.dtype) for u, v in zip(vectors, variables)]
            return list(compiled(params, non_trainable, x, y, tangents))

        return fun
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def fun(x, y, vectors):
        tangents = [tf.cast(u, v.dtype) for u, v in zip(vectors, variables)]
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                value = _tf_loss(model, loss_fn, x, y)
            grads = inner.gradient(value, variables)
            dot = tf.add_n([tf.reduce_sum(g * u) for g, u in zip(grads, tangents)])
        hvp = outer.gradient(dot, variables)
        return [tf.zeros_like(v) if h is None else h for h, v in zip(hvp, variables)]

    return fun


def loss_and_gradients(model, loss, x, y):
    """:math:`J(\\boldsymbol\\theta)` and :math:`\\nabla_{\\boldsymbol\\theta}J` at the current weights (one-off
    call of :func:`make_loss_and_gradients`)."""
    return make_loss_and_gradients(model, loss)(x, y)


def hessian_vector_product(model, loss, x, y, vectors):
    """Exact :math:`\\mathbf H\\mathbf u` (one-off call of :func:`make_hessian_vector_product`)."""
    variables = model.trainable_variables
    if len(vectors) != len(variables):
        raise ValueError(f"vectors must have one entry per trainable variable ({len(variables)}), "
                         f"got {len(vectors)}")
    return make_hessian_vector_product(model, loss)(x, y, list(vectors))


def make_flat_loss_and_gradient(model, loss, x, y):
    """Compile once and return ``fun(theta) -> (J, g)`` over the flattened weights as float64 NumPy values
    (``jax.jit`` on JAX, ``tf.function`` on TensorFlow); ``fun`` also writes ``theta`` into the model."""
    backend = _supported_backend()
    loss_fn = resolve_loss(loss, model)
    variables = model.trainable_variables
    compiled = make_loss_and_gradients(model, loss_fn)

    def fun(theta):
        set_flat_weights(model, theta)
        value, grads = compiled(x, y)
        flat = np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in grads])
        return float(value), flat

    return fun


def flat_weights(model):
    """The trainable weights concatenated into one float64 vector :math:`\\boldsymbol\\theta`."""
    return np.concatenate([np.asarray(keras.ops.convert_to_numpy(v)).ravel().astype(np.float64)
                           for v in model.trainable_variables]) if model.trainable_variables else np.zeros(0)


def set_flat_weights(model, theta):
    """Write the vector :math:`\\boldsymbol\\theta` back into ``model.trainable_variables`` (inverse of
    ``flat_weights``)."""
    theta = np.asarray(theta, dtype=np.float64)
    offset = 0
    for v in model.trainable_variables:
        size = int(np.prod(v.shape))
        v.assign(theta[offset:offset + size].reshape(v.shape).astype(v.dtype))
        offset += size
    if offset != theta.size:
        raise ValueError(f"theta must have {offset} entries (the model's trainable weights), got {theta.size}")


def flat_hessian(model, loss, x, y):
    """The full Hessian :math:`\\mathbf H = \\nabla^2_{\\boldsymbol\\theta}J` as an (n, n) float64 array over the
    flattened weights (only for small models: n² memory)."""
    backend = _supported_backend()
    loss_fn = resolve_loss(loss, model)
    variables = model.trainable_variables
    sizes = [int(np.prod(v.shape)) for v in variables]
    if backend == "jax":
        import jax
        import jax.numpy as jnp
        objective = _jax_objective(model, loss_fn)
        non_trainable = [v.value for v in model.non_trainable_variables]
        shapes = [tuple(v.shape) for v in variables]

        def flat_objective(theta):
            parts, offset = [], 0
            for shape, size, v in zip(shapes, sizes, variables):
                parts.append(jnp.reshape(theta[offset:offset + size], shape).astype(v.dtype))
                offset += size
            return objective(parts, non_trainable, x, y)

        theta = jnp.concatenate([jnp.ravel(p) for p in _state(model)[0]])
        return np.asarray(jax.jit(jax.hessian(flat_objective))(theta), dtype=np.float64)
    import tensorflow as tf
    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape() as inner:
            value = _tf_loss(model, loss_fn, x, y)
        grads = inner.gradient(value, variables)
        flat_grad = tf.concat([tf.reshape(g, [-1]) for g in grads], axis=0)
    blocks = outer.jacobian(flat_grad, variables, experimental_use_pfor=False)
    del outer
    n = sum(sizes)
    columns = [np.zeros((n, s)) if b is None else np.asarray(b).reshape(n, s) for b, s in zip(blocks, sizes)]
    return np.concatenate(columns, axis=1).astype(np.float64)
