"""Second backend: the tests of layers, regularizers, optimizers, schedules and callbacks pass under
``KERAS_BACKEND=jax`` too.

One subprocess (the backend is fixed when Keras is first imported) runs ``JAX_TEST_FILES`` that exist in this
checkout, plus the serialization sweep (save/load of every registered object under JAX). Files that need tf.data
(data pipelines, the training command, distribution) are not in the list. ``DESELECT`` drops whole-ResNet tests
(models, not layers; they cost most of the time) and the slowest duplicates of the sweep's round trips. Real-data
tests are left out (``RECIPES_DATA`` unset in the subprocess).
"""
import os
import subprocess
import sys

import pytest

JAX_TEST_FILES = [
    # regularizers and penalties
    "tests/regularizers/test_penalties.py", "tests/regularizers/test_parameter_tying.py", "tests/regularizers/test_noise_robustness.py",
    # optimizers and schedules
    "tests/regularizers/test_proximal_sgd.py", "tests/optimization/test_gradient_noise.py", "tests/optimization/test_sign_sgd.py", "tests/optimization/test_sophia.py",
    "tests/optimization/test_schedules.py", "tests/optimization/test_gradient_clipping.py", "tests/optimization/test_warmup_schedule.py",
    "tests/optimization/test_param_groups.py",
    # layers
    "tests/analysis/test_replicas.py", "tests/normalization/test_weight_norm.py", "tests/normalization/test_weight_standardization.py",
    "tests/normalization/test_feature_scaling.py", "tests/normalization/test_normalization_reference.py", "tests/augment/test_spec_augment.py",
    "tests/dropout/test_direct_dropout.py", "tests/dropout/test_dropconnect.py", "tests/dropout/test_fast_dropout.py",
    "tests/dropout/test_gaussian_dropout.py", "tests/dropout/test_structural_dropout.py", "tests/dropout/test_mc_dropout.py",
    "tests/augment/test_image_ops.py", "tests/augment/test_mixing.py", "tests/augment/test_randaugment.py", "tests/augment/test_presets.py",
    "tests/augment/test_device_batches.py",
    "tests/training/test_tta.py", "tests/optimization/test_weight_averaging.py",
    # callbacks
    "tests/callbacks/test_magnitude_pruning.py", "tests/callbacks/test_early_stopping.py", "tests/normalization/test_batch_norm_statistics.py",
    "tests/callbacks/test_backup_and_restore.py",
    # every registered object saved and reloaded under JAX
    "tests/test_serialization_sweep.py",
]
# Whole-ResNet builds and the slowest duplicates of what the serialization sweep already checks under JAX.
DESELECT = " and ".join(f"not {name}" for name in (
    "resnet20", "micro_batches", "separately_trained_models", "analytic_ols", "test_round_trip",
    "test_keras_round_trip_and_training", "trains_in_graph_mode"))
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_subprocess_backend_is_jax():
    """Runs inside the subprocess only: proves the files above ran on JAX, not on TensorFlow."""
    if os.environ.get("RECIPES_JAX_SUBPROCESS") != "1":
        pytest.skip("checked inside the JAX subprocess of test_layer_optimizer_callback_tests_pass_under_jax")
    import keras

    assert keras.backend.backend() == "jax"


def jax_command():
    """(command, environment) of the JAX subprocess: the files above, the deselection, the real-data tests off."""
    files = [f for f in JAX_TEST_FILES if os.path.exists(os.path.join(REPO_ROOT, f))]
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.update(KERAS_BACKEND="jax", RECIPES_JAX_SUBPROCESS="1", JAX_PLATFORMS="cpu")
    env.pop("RECIPES_DATA", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-rfE",
           "-k", DESELECT, "tests/test_jax_backend.py::test_subprocess_backend_is_jax", *files]
    return files, cmd, env


def test_layer_optimizer_callback_tests_pass_under_jax(request):
    """The subprocess is started when the session's tests are collected (``tests/conftest.py``), so that it runs
    beside the TensorFlow tests instead of after them; here its result is awaited."""
    if os.environ.get("RECIPES_JAX_SUBPROCESS") == "1":
        pytest.skip("already inside the JAX subprocess")
    files, cmd, env = jax_command()
    assert len(files) >= 10, files
    started = getattr(request.config, "_recipes_jax_run", None)
    if started is None:  # not started early (e.g. the conftest hook was bypassed): run it now
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800)
        out = proc.stdout + proc.stderr
    else:
        proc, log = started
        try:
            proc.wait(timeout=1800)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        log.seek(0)
        out = log.read()
    tail = out[-6000:]
    assert proc.returncode == 0, f"tests failed under KERAS_BACKEND=jax:\n{tail}"
    assert " passed" in out, tail
