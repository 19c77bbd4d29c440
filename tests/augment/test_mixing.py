"""augment.mixing: MixUp / CutMix / Mosaic images and labels follow their formulas, labels sum to 1
and carry the weight actually used, draws are per image and seeded."""
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
    ],
)
def test_bad_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
