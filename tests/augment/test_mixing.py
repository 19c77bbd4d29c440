"""augment.mixing: MixUp / CutMix / Mosaic images and labels follow their formulas, labels sum to 1
and carry the weight actually used, draws are per image and seeded."""
import math
import re

import keras
import numpy as np
import pytest

from augment import image_ops as io
from augment import mixing as mx


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _params(layer, x, seed=0):
    params = layer.sample(keras.ops.shape(x), io._StatelessSeeds(seed, layer.backend))
    return {k: _np(v) for k, v in params.items()}


def _apply(layer, x, y, params):
    t = {k: keras.ops.convert_to_tensor(v) for k, v in params.items()}
    xi, yi = layer.apply((keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)), t)
    return _np(xi), _np(yi)


def _constant_batch(n, size=16):
    """Image i is constant with value i, label i one-hot: a pixel tells which image it came from."""
    x = np.repeat(np.arange(n, dtype="float32"), size * size).reshape(n, size, size, 1)
    return x, np.eye(n, dtype="float32")


def test_mixup_images_and_labels_use_the_same_lambda():
    rng = np.random.RandomState(0)
    x = rng.uniform(0, 255, size=(32, 4, 4, 3)).astype("float32")
    y = np.eye(32, dtype="float32")
    layer = mx.MixUp(alpha=0.4)
    params = _params(layer, x, seed=1)
    lam, perm = params["lam"], params["perm"]
    assert sorted(perm.tolist()) == list(range(32))
    xi, yi = _apply(layer, x, y, params)
    np.testing.assert_allclose(xi, lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[perm], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(yi.sum(axis=1), 1.0, atol=1e-6)
    for i in range(32):  # weight of the image's own class is λ_i (plus 1 - λ_i if paired with itself)
        expected = lam[i] + (1 - lam[i]) * (perm[i] == i)
        np.testing.assert_allclose(yi[i, i], expected, atol=1e-6)
    assert len(np.unique(lam)) == 32  # one λ per image


def test_mixup_lambda_follows_beta():
    layer = mx.MixUp(alpha=0.5)
    lam = _params(layer, np.zeros((4096, 1, 1, 1), "float32"), seed=2)["lam"]
    # Beta(0.5, 0.5): mean 1/2, variance 1/(4 (2α + 1)) = 1/8. Standard errors over 4,096 draws:
    # mean 0.0055, variance ≈ 0.0011; the tolerances are > 4 of those.
    assert abs(lam.mean() - 0.5) < 0.025
    assert abs(lam.var() - 0.125) < 0.006


def test_cutmix_label_weight_is_the_kept_area():
    x, y = _constant_batch(24)
    layer = mx.CutMix(alpha=1.0)
    params = _params(layer, x, seed=3)
    xi, yi = _apply(layer, x, y, params)
    np.testing.assert_allclose(yi.sum(axis=1), 1.0, atol=1e-6)
    for i in range(24):
        t, b, l, r = (int(params[k][i]) for k in ("top", "bottom", "left", "right"))
        assert 0 <= t <= b <= 16 and 0 <= l <= r <= 16
        src = int(params["perm"][i])
        expected = np.full((16, 16), float(i))
        expected[t:b, l:r] = src
        np.testing.assert_array_equal(xi[i, ..., 0], expected)
        kept = (xi[i] == i).mean() if src != i else 1.0
        np.testing.assert_allclose(yi[i, i], kept, atol=1e-6)
    areas = (params["bottom"] - params["top"]) * (params["right"] - params["left"])
    assert len(np.unique(areas)) > 5


def test_mosaic_labels_are_pixel_fractions():
    x, y = _constant_batch(16)
    layer = mx.Mosaic(center_range=(0.25, 0.75))
    params = _params(layer, x, seed=4)
    assert params["center_y"].min() >= 4 and params["center_y"].max() <= 12
    xi, yi = _apply(layer, x, y, params)
    for i in range(16):
        fractions = np.array([(xi[i] == k).mean() for k in range(16)])
        np.testing.assert_allclose(yi[i], fractions, atol=1e-6)
        cy, cx = params["center_y"][i], params["center_x"][i]
        np.testing.assert_array_equal(xi[i, :cy, :cx], i)  # the top-left quadrant keeps image i


@pytest.mark.parametrize("make", [lambda s=None: mx.MixUp(seed=s), lambda s=None: mx.CutMix(seed=s), lambda s=None: mx.Mosaic(seed=s)])
def test_integer_labels_seeds_and_structures(make):
    x, _ = _constant_batch(8)
    labels = np.arange(8) % 3
    layer = make()
    layer.num_classes = 3
    out = layer({"images": x, "labels": labels, "extra": np.ones(8)}, seed=5)
    assert set(out) == {"images", "labels", "extra"} and _np(out["labels"]).shape == (8, 3)
    again = layer((x, np.eye(3, dtype="float32")[labels]), seed=5)
    np.testing.assert_array_equal(_np(again[0]), _np(out["images"]))
    np.testing.assert_allclose(_np(again[1]), _np(out["labels"]), atol=1e-6)
    a, b = make(7), make(7)
    y = np.eye(8, dtype="float32")
    np.testing.assert_array_equal(_np(a((x, y))[0]), _np(b((x, y))[0]))
    with pytest.raises(ValueError, match="num_classes"):
        make()((x, labels))


def test_mixing_in_tf_data_and_round_trip(tmp_path):
    tf = pytest.importorskip("tensorflow")
    x, y = _constant_batch(16)
    layer = mx.CutMix(alpha=1.0)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).enumerate()
    ds = ds.map(lambda i, b: layer(b, seed=tf.stack([tf.constant(0, tf.int64), i])))
    batches = list(ds)
    assert batches[0][0].shape == (8, 16, 16, 1) and batches[0][1].shape == (8, 16)
    for xb, yb in batches:
        np.testing.assert_allclose(yb.numpy().sum(1), 1.0, atol=1e-6)
    restored = mx.CutMix.from_config(layer.get_config())
    np.testing.assert_array_equal(_np(restored((x, y), seed=3)[0]), _np(layer((x, y), seed=3)[0]))
    obj = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(mx.Mosaic(center_range=(0.4, 0.6))))
    assert isinstance(obj, mx.Mosaic) and obj.center_range == (0.4, 0.6)


@pytest.mark.parametrize(
    "make,exc,match",
    [
        (lambda: mx.MixUp(alpha=0.0), ValueError, "alpha"),
        (lambda: mx.CutMix(alpha=-1.0), ValueError, "alpha"),
        (lambda: mx.Mosaic(center_range=(0.8, 0.2)), ValueError, "center_range"),
        (lambda: mx.Mosaic(center_range=(0.2, 1.5)), ValueError, r"center_range\[1\]"),
        (lambda: mx.MixUp(num_classes=1), ValueError, "num_classes"),
        (lambda: mx.MixUp(alpha="1"), TypeError, "alpha"),
        # α = inf, or past float32's range (inf in float32): Beta(α, α) drew NaN and MixUp returned NaN images
        (lambda: mx.MixUp(alpha=math.inf), ValueError, re.escape("alpha must be a finite number in (0, 10000], got inf")),
        (lambda: mx.MixUp(alpha=1e39), ValueError, re.escape("alpha must be a finite number in (0, 10000], got 1e+39")),
        (lambda: mx.CutMix(alpha=1e39), ValueError, re.escape("alpha must be a finite number in (0, 10000], got 1e+39")),
    ],
)
def test_bad_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# ------------------------------------------------------------------------------ labels (issue 15)

MAKERS = [lambda **k: mx.MixUp(alpha=1.0, **k), lambda **k: mx.CutMix(alpha=1.0, **k), lambda **k: mx.Mosaic(**k)]


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("bad,index", [(11, 2), (10, 5), (-1, 0)])
def test_integer_labels_outside_the_classes_are_rejected(make, bad, index):
    """Labels 11 or -1 with K = 10 used to become all-zero rows (a plausible, wrong label)."""
    x, _ = _constant_batch(8, size=8)
    labels = np.arange(8) % 10
    labels[index] = bad
    needle = re.escape(f"labels must be integers in [0, 10) (num_classes=10), got label {bad} at index {index}")
    for training in (True, False):
        with pytest.raises(ValueError, match=needle):
            make(num_classes=10)((x, labels), training=training, seed=1)


@pytest.mark.parametrize("make", MAKERS)
def test_non_integer_labels_are_rejected(make):
    x, _ = _constant_batch(4, size=8)
    with pytest.raises(ValueError, match=re.escape("got label 2.5 at index 1")):
        make(num_classes=10)((x, np.array([0.0, 2.5, 1.0, 3.0], "float32")), seed=1)


def _compiled(fn):
    """``fn`` traced into the backend's graph (jax.jit, tf.function): no label value can be read there."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    import tensorflow as tf

    return tf.function(fn)


@pytest.mark.parametrize("make", MAKERS)
def test_labels_outside_the_classes_in_a_graph_give_nan_rows(make):
    """In a compiled step or a tf.data map the layer cannot raise on values: the bad label's row is NaN (and so
    is every row it is mixed into), so the loss is NaN at the first such batch; the other rows stay finite."""
    tf = pytest.importorskip("tensorflow")
    x, _ = _constant_batch(16, size=8)
    labels = np.arange(16) % 10
    labels[3] = 11
    layer = make(num_classes=10, seed=0)
    key = np.array([0, 7], "int32")
    compiled = _compiled(lambda a, b: layer((a, b), seed=key)[1])
    ds = tf.data.Dataset.from_tensors((x, labels)).map(lambda a, b: layer((a, b), seed=key)[1])
    for out in (_np(compiled(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(labels))),
                next(iter(ds)).numpy()):
        assert out.shape == (16, 10)
        assert np.isnan(out[3]).all()
        assert np.isfinite(out).all(axis=1).sum() >= 4  # rows that met no bad label are finite
        assert np.isfinite(out).all(axis=1).sum() < 16
    infer = _compiled(lambda a, b: layer((a, b), training=False)[1])
    out = _np(infer(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(labels)))
    assert np.isnan(out[3]).all() and np.isfinite(np.delete(out, 3, axis=0)).all()
    np.testing.assert_array_equal(np.delete(out, 3, axis=0), np.eye(10, dtype="float32")[np.delete(labels, 3)])


@pytest.mark.parametrize("make", MAKERS)
def test_one_label_contract_in_training_inference_and_symbolic_calls(make):
    """Integer labels (N,) come back as (N, K) float32 rows in every mode: training mixed them, but inference
    returned the int labels unchanged and the symbolic output said (N,) float32."""
    x, _ = _constant_batch(8, size=8)
    labels = np.arange(8) % 3
    layer = make(num_classes=3)
    trained = layer({"images": x, "labels": labels}, seed=1)
    inferred = layer({"images": x, "labels": labels}, training=False)
    for out in (trained, inferred):
        assert _np(out["labels"]).shape == (8, 3)
        assert keras.backend.standardize_dtype(out["labels"].dtype) == "float32"
        np.testing.assert_allclose(_np(out["labels"]).sum(1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(_np(inferred["labels"]), np.eye(3, dtype="float32")[labels])
    np.testing.assert_array_equal(_np(inferred["images"]), x)
    images_in, labels_in = keras.Input((8, 8, 1)), keras.Input((), dtype="int32")
    sym_images, sym_labels = layer((images_in, labels_in))
    assert sym_labels.shape == (None, 3) and sym_labels.dtype == "float32"
    assert sym_images.shape == (None, 8, 8, 1) and sym_images.dtype == "float32"
    assert layer.compute_output_shape(((None, 8, 8, 1), (None,))) == ((None, 8, 8, 1), (None, 3))
    model = keras.Model((images_in, labels_in), layer((images_in, labels_in)))
    predicted = model.predict((x, labels), verbose=0)
    assert predicted[1].shape == (8, 3) and predicted[1].dtype == np.float32


@pytest.mark.parametrize("make", MAKERS)
def test_labels_stay_float32_under_mixed_policies(make):
    """Under mixed_float16 the images come back in float16 and the labels in float32 (the mixing weights in
    float32: rows sum to 1 to float32 rounding, not float16's 1e-3)."""
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("mixed_float16")
        layer = make(num_classes=10)
        x = np.random.default_rng(0).uniform(0, 255, (32, 8, 8, 3)).astype("float32")
        images, labels = layer((keras.ops.cast(x, "float16"), np.arange(32) % 10), seed=3)
        assert keras.backend.standardize_dtype(images.dtype) == "float16"
        assert keras.backend.standardize_dtype(labels.dtype) == "float32"
        np.testing.assert_allclose(_np(labels).sum(1), 1.0, atol=1e-6)
    finally:
        keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("make", MAKERS)
def test_bad_label_structures_are_named(make):
    x, _ = _constant_batch(4, size=8)
    with pytest.raises(TypeError, match=r"mixes labels: it takes \(images, labels\).*got a tensor of shape \(4, 8, 8, 1\)"):
        make(num_classes=3)(x)
    with pytest.raises(ValueError, match=re.escape("one-hot labels must have num_classes=3 columns, got shape (4, 5)")):
        make(num_classes=3)((x, np.eye(5, dtype="float32")[:4]))
    with pytest.raises(ValueError, match=re.escape("images and labels must hold the same number of examples")):
        make(num_classes=3)((x, np.arange(5) % 3))
    with pytest.raises(ValueError, match=re.escape("images must have shape (N, H, W, C), got shape (8, 8, 1)")):
        make(num_classes=3)((x[0], np.arange(1)))
