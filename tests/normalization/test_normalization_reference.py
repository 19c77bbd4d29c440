"""Layer / instance / group / batch norm in Keras equal the NumPy references, and the lecture's batch-norm
backward formulas equal autodiff through keras.layers.BatchNormalization."""
import numpy as np
import pytest
import keras

from tests.helpers import backend_grads as _grads

from recipes.normalization import normalization_reference as ref

# float32 layers vs float64 NumPy on O(1) values: agreement to ~1e-5 relative; 1e-4 absolute leaves margin.
ATOL = 1e-4




@pytest.fixture
def fmap():
    rng = np.random.default_rng(0)
    # Channels with different offsets and scales so that every choice of axes gives different statistics.
    return (rng.normal(size=(4, 5, 6, 8)) * rng.uniform(0.5, 3, 8) + rng.normal(0, 2, 8)).astype("float32")


def test_layer_norm_over_hwc(fmap):
    y = keras.layers.LayerNormalization(axis=(1, 2, 3), epsilon=1e-3)(fmap)
    np.testing.assert_allclose(np.asarray(y), ref.layer_norm(fmap, 1e-3), atol=ATOL)


def test_layer_norm_last_axis_is_per_pixel(fmap):
    y = keras.layers.LayerNormalization(epsilon=1e-3)(fmap)
    np.testing.assert_allclose(np.asarray(y), ref.normalize(fmap, (3,), epsilon=1e-3), atol=ATOL)


def test_instance_norm_is_group_norm_with_groups_minus_one(fmap):
    y = keras.layers.GroupNormalization(groups=-1, epsilon=1e-3)(fmap)
    np.testing.assert_allclose(np.asarray(y), ref.instance_norm(fmap, 1e-3), atol=ATOL)
    np.testing.assert_allclose(ref.instance_norm(fmap, 1e-3), ref.group_norm(fmap, 8, 1e-3), atol=1e-12)


@pytest.mark.parametrize("groups", [2, 4])
def test_group_norm(fmap, groups):
    y = keras.layers.GroupNormalization(groups=groups, epsilon=1e-3)(fmap)
    np.testing.assert_allclose(np.asarray(y), ref.group_norm(fmap, groups, 1e-3), atol=ATOL)


def test_group_norm_one_group_is_layer_norm(fmap):
    gn = np.asarray(keras.layers.GroupNormalization(groups=1, epsilon=1e-3)(fmap))
    ln = np.asarray(keras.layers.LayerNormalization(axis=(1, 2, 3), epsilon=1e-3)(fmap))
    np.testing.assert_allclose(gn, ln, atol=ATOL)
    # ... and differs from instance norm and from batch norm (the statistics really are different).
    assert np.abs(gn - ref.instance_norm(fmap, 1e-3)).max() > 0.1


def test_batch_norm_training_mode_normalizes_over_nhw(fmap):
    bn = keras.layers.BatchNormalization(epsilon=1e-3)
    y = bn(fmap, training=True)
    np.testing.assert_allclose(np.asarray(y), ref.normalize(fmap, (0, 1, 2), epsilon=1e-3), atol=ATOL)
    y_np, _ = ref.batch_norm_forward(fmap, 1.0, 0.0, 1e-3)
    np.testing.assert_allclose(np.asarray(y), y_np, atol=ATOL)


def test_group_norm_reference_rejects_bad_groups(fmap):
    c = fmap.shape[-1]
    with pytest.raises(ValueError, match=f"groups must divide the number of channels {c}, got 3"):
        ref.group_norm(fmap, 3)
    with pytest.raises(ValueError, match=rf"groups must be an integer in \[1, {c}\], got 0"):
        ref.group_norm(fmap, 0)


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 4, 5)], ids=["dense", "conv"])
def test_batch_norm_backward_formulas_equal_autodiff(shape):
    rng = np.random.default_rng(1)
    x = (rng.normal(size=shape) * 2 + 1).astype("float32")
    c = shape[-1]
    gamma = rng.uniform(0.5, 2, c).astype("float32")
    beta = rng.normal(size=c).astype("float32")
    dy = rng.normal(size=shape).astype("float32")  # L = Σ dy ⊙ y, so ∂L/∂y = dy
    eps = 1e-3
    bn = keras.layers.BatchNormalization(epsilon=eps)
    bn.build(shape)
    non_trainable = [v.value for v in bn.non_trainable_variables]

    def loss(x_, gamma_, beta_):
        y, _ = bn.stateless_call([gamma_, beta_], non_trainable, x_, training=True)
        return keras.ops.sum(y * dy)

    assert [v.path.split("/")[-1] for v in bn.trainable_variables] == ["gamma", "beta"]
    dx_auto, dgamma_auto, dbeta_auto = _grads(loss, x, gamma, beta)
    y_np, cache = ref.batch_norm_forward(x, gamma, beta, eps)
    dx, dgamma, dbeta = ref.batch_norm_backward(dy, cache)
    # float32 autodiff vs float64 formulas; the gradients are O(1): 1e-4 absolute is ~100 float32 ulps.
    np.testing.assert_allclose(dx_auto, dx, atol=1e-4)
    np.testing.assert_allclose(dgamma_auto, dgamma, atol=1e-4)
    np.testing.assert_allclose(dbeta_auto, dbeta, atol=1e-4)
    # The formulas are not trivially small: ∂L/∂x has O(1) entries, and sums to 0 per channel (BN's invariance
    # to a shift of x), while a naive γ/σ·dy would not.
    assert np.abs(dx).max() > 0.1
    np.testing.assert_allclose(dx.reshape(-1, c).sum(axis=0), 0, atol=1e-9)
    naive = gamma * dy / np.sqrt(cache[3] + eps)
    assert np.abs(naive - dx).max() > 1e-2


def test_batch_norm_inference_reference_matches_keras():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(7, 3)).astype("float32")
    mean, var = np.array([0.5, -1, 2], "float32"), np.array([0.3, 2, 5], "float32")
    gamma, beta = np.array([1.5, 0.5, 2], "float32"), np.array([0.1, 0.2, -0.3], "float32")
    bn = keras.layers.BatchNormalization(epsilon=1e-3)
    bn.build((None, 3))
    bn.set_weights([gamma, beta, mean, var])
    np.testing.assert_allclose(np.asarray(bn(x, training=False)),
                               ref.batch_norm_inference(x, mean, var, gamma, beta, 1e-3), atol=ATOL)
