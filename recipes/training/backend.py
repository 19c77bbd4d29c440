"""What the training engine needs to know about the machine and the Keras backend, in one place.

- ``accelerator_present()``: a GPU/TPU under the current backend;
- ``resolve_precision(name)``: ``"auto"`` → ``"bfloat16"`` on an accelerator, ``"off"`` on a CPU;
- ``precision_policy(precision)``: the Keras dtype policy ``mixed_<precision>`` for the models built inside it;
- ``set_determinism(on)``: deterministic TensorFlow ops (two CPU runs give the same history);
- ``sync(tree)``: wait until the device has computed ``tree`` (JAX dispatches asynchronously);
- ``keras_verbosity(verbose)``: Keras' ``verbose`` for ``fit`` and whether the engine prints its own epoch line.
"""
from __future__ import annotations

import contextlib
import sys

import keras
import numpy as np


def accelerator_present():
    """True when the current Keras backend sees a GPU (or another accelerator)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return False


def resolve_precision(name):
    """``"auto"`` → ``"bfloat16"`` on an accelerator and ``"off"`` on a CPU; other names unchanged."""
    if name == "auto":
        return "bfloat16" if accelerator_present() else "off"
    return name


@contextlib.contextmanager
def precision_policy(precision):
    """Build models under the ``mixed_<precision>`` dtype policy (compute in float16/bfloat16, variables in
    float32); the global policy is restored afterwards."""
    old = keras.mixed_precision.global_policy()
    if precision not in (None, "off"):
        keras.mixed_precision.set_global_policy(f"mixed_{precision}")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(old)


def set_determinism(on=True):
    """TensorFlow's deterministic ops on (``on``) or off; a no-op under other backends (JAX on a CPU is
    deterministic). Keras does not XLA-compile a step while they are on, so a run with ``--jit`` relies on XLA's
    own kernels instead (deterministic on a CPU)."""
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    if on:
        tf.config.experimental.enable_op_determinism()
    else:
        from tensorflow.python.framework import config as tf_config

        if hasattr(tf_config, "disable_op_determinism"):
            tf_config.disable_op_determinism()


def sync(tree):
    """Block until every tensor of ``tree`` is computed."""
    if keras.backend.backend() == "jax":
        import jax

        jax.block_until_ready(tree)
    else:
        for t in keras.tree.flatten(tree):
            np.asarray(t)
            break


def keras_verbosity(verbose):
    """(Keras ``verbose`` for ``fit``, print the engine's own one-line-per-epoch summary). ``"auto"``: a progress
    bar on a terminal, else no Keras output and one line per epoch; 0, 1, 2: Keras' own meaning."""
    if verbose == "auto":
        return (1, False) if sys.stdout.isatty() else (0, True)
    return int(verbose), False
