"""Gradient clipping by norm, alpha * g / ||g||, as Keras optimizers do it (global_clipnorm / clipnorm), and the
argument helper the training command uses."""
import numpy as np
import pytest
import keras

from recipes.optimization.gradient_clipping import clipping_arguments


def _step(optimizer, grads):
    variables = [keras.Variable(np.zeros(g.shape, "float32")) for g in grads]
    optimizer.apply([keras.ops.convert_to_tensor(g.astype("float32")) for g in grads], variables)
    return [-keras.ops.convert_to_numpy(v).astype(np.float64) for v in variables]  # SGD lr 1: step = -g_used


@pytest.mark.parametrize("scale", [0.1, 10.0])
def test_global_clipnorm_is_alpha_g_over_norm(scale):
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(4, 3)) * scale, rng.normal(size=(5,)) * scale]
    alpha = 2.0
    used = _step(keras.optimizers.SGD(1.0, **clipping_arguments(alpha)), grads)
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    factor = alpha / norm if norm > alpha else 1.0  # scale 0.1 -> norm ~0.4, unclipped; 10 -> clipped
    for g, u in zip(grads, used):
        np.testing.assert_allclose(u, factor * g, rtol=1e-5, atol=1e-7)
    assert np.sqrt(sum(np.sum(u ** 2) for u in used)) == pytest.approx(min(norm, alpha), rel=1e-5)


def test_per_variable_clipnorm():
    grads = [np.full((4,), 3.0), np.full((2,), 0.1)]  # norms 6 and 0.14
    used = _step(keras.optimizers.SGD(1.0, **clipping_arguments(1.0, scope="variable")), grads)
    np.testing.assert_allclose(used[0], grads[0] / 6.0, rtol=1e-6)
    np.testing.assert_allclose(used[1], grads[1], rtol=1e-6)


def test_clipping_arguments():
    assert clipping_arguments(None) == {}
    assert clipping_arguments(1) == {"global_clipnorm": 1.0}
    for kwargs, error, match in [
            ({"clipnorm": 0.0}, ValueError, r"clipnorm must be a finite number in \(0, inf\), got 0.0"),
            ({"clipnorm": "1"}, TypeError, r"clipnorm must be a number in \(0, inf\), got '1'"),
            ({"clipnorm": 1.0, "scope": "layer"}, ValueError, "scope must be one of global, variable, got 'layer'")]:
        with pytest.raises(error, match=match):
            clipping_arguments(**kwargs)
