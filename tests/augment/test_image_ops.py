"""augment.image_ops: each transform's exact effect for known parameters, per-image randomness,
seeded determinism, tf.data use, .keras round trip and argument checks.

Run under both backends: ``python -m pytest -q tests/augment/test_image_ops.py`` and
``KERAS_BACKEND=jax python -m pytest -q tests/augment/test_image_ops.py``.
"""
import math
import re

import keras
import numpy as np
import pytest
from scipy import ndimage

from augment import image_ops as io


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _params(layer, x, seed=0):
    """Per-image parameters as NumPy, drawn the way ``layer(x, seed=seed)`` draws them."""
    params = layer.sample(keras.ops.shape(x), io._StatelessSeeds(seed, layer.backend))
    return {k: _np(v) for k, v in params.items()}


def _apply(layer, x, params):
    return _np(layer.apply(keras.ops.convert_to_tensor(x), {k: keras.ops.convert_to_tensor(v) for k, v in params.items()}))


@pytest.fixture
def ramp():
    """A batch of 64 distinct 8x8x3 images with distinct pixel values (no symmetries)."""
    rng = np.random.RandomState(0)
    return rng.uniform(0, 255, size=(64, 8, 8, 3)).astype("float32")


# ------------------------------------------------------------------------------ exact effects


def test_flip_flips_exactly_and_per_image(ramp):
    layer = io.RandomFlip("horizontal", p=0.5)
    params = _params(layer, ramp, seed=3)
    out = _apply(layer, ramp, params)
    flipped = params["flip_h"]
    np.testing.assert_array_equal(out[flipped], ramp[flipped][:, :, ::-1])
    np.testing.assert_array_equal(out[~flipped], ramp[~flipped])
    # 64 Bernoulli(0.5) draws: P(count outside [16, 48]) < 1e-4, so "per image, not per batch".
    assert 16 <= flipped.sum() <= 48
    vertical = _np(io.RandomFlip("vertical", p=1.0)(ramp))
    np.testing.assert_array_equal(vertical, ramp[:, ::-1])
    np.testing.assert_array_equal(_np(io.RandomFlip(p=0.0)(ramp)), ramp)


@pytest.mark.parametrize(
    "fill_mode,np_mode,fill",
    [("constant", "constant", 0.0), ("constant", "constant", 5.0), ("reflect", "reflect", 0.0),
     ("symmetric", "symmetric", 0.0)],
)
def test_pad_crop_equals_numpy_pad_then_slice(ramp, fill_mode, np_mode, fill):
    """Every fill mode is np.pad's mode of the same name, then an 8x8 window at the drawn offset (exact)."""
    layer = io.PadCrop(padding=3, fill_mode=fill_mode, fill_value=fill)
    params = _params(layer, ramp, seed=1)
    oy, ox = params["offset_y"], params["offset_x"]
    assert oy.min() >= 0 and oy.max() <= 6 and ox.min() >= 0 and ox.max() <= 6
    out = _apply(layer, ramp, params)
    kw = {"constant_values": fill} if np_mode == "constant" else {}
    padded = np.pad(ramp, ((0, 0), (3, 3), (3, 3), (0, 0)), mode=np_mode, **kw)
    for i in range(len(ramp)):
        np.testing.assert_array_equal(out[i], padded[i, oy[i] : oy[i] + 8, ox[i] : ox[i] + 8])


@pytest.mark.parametrize("fill_mode", ["reflect", "symmetric"])
def test_pad_crop_mirror_modes_at_every_offset_and_the_largest_padding(fill_mode):
    """All (2P+1)^2 offsets, with P as large as the mode allows (7 = H - 1 for reflect, 8 = H for
    symmetric on 8x8 images), equal np.pad then slice exactly; one more pixel of padding is refused."""
    x = np.random.RandomState(5).uniform(0, 255, size=(1, 8, 8, 2)).astype("float32")
    P = 7 if fill_mode == "reflect" else 8
    layer = io.PadCrop(padding=P, fill_mode=fill_mode)
    oy, ox = np.meshgrid(np.arange(2 * P + 1), np.arange(2 * P + 1), indexing="ij")
    batch = np.repeat(x, oy.size, axis=0)
    out = _apply(layer, batch, {"offset_y": oy.ravel(), "offset_x": ox.ravel()})
    padded = np.pad(x[0], ((P, P), (P, P), (0, 0)), mode=fill_mode)
    ref = np.stack([padded[a:a + 8, b:b + 8] for a, b in zip(oy.ravel(), ox.ravel())])
    np.testing.assert_array_equal(out, ref)
    with pytest.raises(ValueError, match=rf"padding must be in \[0, {P}\] for fill_mode='{fill_mode}'"):
        io.PadCrop(padding=P + 1, fill_mode=fill_mode)(x)


def test_pad_crop_reflect_matches_keras_ops_pad():
    """"reflect" is keras.ops.pad's (and PyTorch's) reflect, the translation airbench uses."""
    x = np.random.RandomState(6).uniform(0, 255, size=(3, 6, 6, 1)).astype("float32")
    params = {"offset_y": np.array([0, 2, 4]), "offset_x": np.array([4, 1, 0])}
    out = _apply(io.PadCrop(padding=2, fill_mode="reflect"), x, params)
    padded = _np(keras.ops.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect"))
    for i in range(3):
        oy, ox = params["offset_y"][i], params["offset_x"][i]
        np.testing.assert_array_equal(out[i], padded[i, oy:oy + 6, ox:ox + 6])


def test_pad_crop_offsets_cover_the_range():
    layer = io.PadCrop(padding=4)
    params = _params(layer, np.zeros((512, 8, 8, 1), "float32"), seed=2)
    # each of the 9 offsets has probability 1/9: P(one missing in 512 draws) < 9 (8/9)^512 ≈ 1e-25
    assert set(params["offset_y"].tolist()) == set(range(9))
    assert set(params["offset_x"].tolist()) == set(range(9))


def _affine_reference(image, angle, shear, scale, tx, ty):
    """Independent NumPy/SciPy reference: invert the forward matrix with np.linalg.inv and
    resample bilinearly with scipy.ndimage.map_coordinates."""
    h, w = image.shape[:2]
    c = np.array([(w - 1) / 2, (h - 1) / 2])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    forward = scale * rot @ np.array([[1.0, -math.tan(shear)], [0.0, 1.0]])
    inv = np.linalg.inv(forward)
    uy, ux = np.mgrid[0:h, 0:w]
    u = np.stack([ux.ravel(), uy.ravel()]).astype(float)
    v = inv @ (u - c[:, None] - np.array([[tx], [ty]])) + c[:, None]
    out = np.stack(
        [ndimage.map_coordinates(image[..., k], [v[1], v[0]], order=1, mode="constant") for k in range(image.shape[-1])],
        axis=-1,
    ).reshape(image.shape)
    inside = ((v[0] >= 1) & (v[0] <= w - 2) & (v[1] >= 1) & (v[1] <= h - 2)).reshape(h, w)
    return out, inside


def test_affine_matches_scipy_reference_per_image():
    rng = np.random.RandomState(1)
    x = rng.uniform(0, 255, size=(16, 12, 12, 2)).astype("float32")
    layer = io.RandomAffine(rotation=40, translation=0.2, scale=(0.7, 1.3), shear=20, value_range=None)
    params = _params(layer, x, seed=4)
    assert len(np.unique(params["angle"])) == 16  # one draw per image
    out = _apply(layer, x, params)
    for i in range(len(x)):
        ref, inside = _affine_reference(
            x[i], params["angle"][i], params["shear"][i], params["scale"][i], params["tx"][i], params["ty"][i]
        )
        assert inside.sum() > 20
        # float32 bilinear interpolation of values up to 255: 1e-2 absolute is ~1e-4 relative.
        np.testing.assert_allclose(out[i][inside], ref[inside], atol=1e-2)


def test_rotation_by_90_degrees_is_a_quarter_turn(ramp):
    out = _np(io.RandomAffine(rotation=(90, 90), interpolation="nearest")(ramp))
    # with the y axis pointing down, a positive angle turns the picture clockwise
    np.testing.assert_allclose(out, np.rot90(ramp, k=-1, axes=(1, 2)), atol=1e-3)


def test_translation_shifts_by_the_drawn_pixels(ramp):
    out = _np(io.RandomAffine(translation=(0.25, 0.25), interpolation="nearest")(ramp))
    np.testing.assert_allclose(out[:, 2:, 2:], ramp[:, :-2, :-2], atol=1e-3)
    assert np.all(out[:, :2] == 0) and np.all(out[:, :, :2] == 0)


def test_resized_crop_offsets_in_range_and_matches_reference():
    rng = np.random.RandomState(2)
    x = rng.uniform(0, 255, size=(32, 16, 16, 3)).astype("float32")
    layer = io.RandomResizedCrop(scale=(0.2, 0.8), ratio=(0.5, 2.0))
    params = _params(layer, x, seed=5)
    cw, ch, x0, y0 = params["crop_w"], params["crop_h"], params["x0"], params["y0"]
    assert np.all(cw <= 16 + 1e-4) and np.all(ch <= 16 + 1e-4)
    assert np.all(x0 >= 0) and np.all(x0 + cw <= 16 + 1e-3) and np.all(y0 >= 0) and np.all(y0 + ch <= 16 + 1e-3)
    area = cw * ch / 256.0
    unclipped = (cw < 16) & (ch < 16)
    assert np.all(area[unclipped] >= 0.2 - 1e-4) and np.all(area[unclipped] <= 0.8 + 1e-4)
    out = _apply(layer, x, params)
    u = np.arange(16) + 0.5
    for i in range(len(x)):
        cols = x0[i] + u * cw[i] / 16 - 0.5
        rows = y0[i] + u * ch[i] / 16 - 0.5
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        ref = np.stack([ndimage.map_coordinates(x[i, ..., k], [rr, cc], order=1, mode="nearest") for k in range(3)], -1)
        np.testing.assert_allclose(out[i], ref, atol=1e-2)  # float32 bilinear, see above
    full = io.RandomResizedCrop(scale=(1.0, 1.0), ratio=(1.0, 1.0))
    np.testing.assert_allclose(_np(full(x)), x, atol=1e-3)


def test_colour_transforms_follow_their_formulas():
    rng = np.random.RandomState(3)
    x = rng.uniform(60, 190, size=(32, 8, 8, 3)).astype("float32")
    bright = io.RandomColor(brightness=0.1)
    params = _params(bright, x, seed=6)
    np.testing.assert_allclose(_apply(bright, x, params), x + params["brightness"][:, None, None, None] * 255, atol=1e-3)
    contrast = io.RandomColor(contrast=(0.5, 1.5), value_range=None)
    params = _params(contrast, x, seed=7)
    out = _apply(contrast, x, params)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, mean + params["contrast"][:, None, None, None] * (x - mean), atol=1e-3)
    grey = _np(io.RandomColor(saturation=(0.0, 0.0))(x))
    np.testing.assert_allclose(grey[..., 0], grey[..., 1], atol=1e-3)
    np.testing.assert_allclose(grey[..., 0], x @ np.array([0.299, 0.587, 0.114], "float32"), atol=1e-2)
    clipped = _np(io.RandomColor(brightness=(1.0, 1.0))(x))
    assert clipped.max() == 255.0


def test_saturation_on_other_than_three_channels_is_refused_not_skipped():
    """The saturation jitter mixes R, G, B by the luma weights: on 1 or 4 channels it is refused, naming the shape
    (it was skipped silently); brightness and contrast work on any channel count."""
    x = np.random.RandomState(0).uniform(0, 255, size=(2, 8, 8, 1)).astype("float32")
    for layer in (io.RandomColor(saturation=(0.5, 1.5)), io.RandomColor(saturation=(0.0, 0.0))):
        with pytest.raises(ValueError, match=r"saturation=.*needs 3 \(RGB\) channels.*\(2, 8, 8, 1\)"):
            layer(x)
    out = _np(io.RandomColor(contrast=(0.0, 0.0), value_range=None)(x))
    np.testing.assert_allclose(out, np.broadcast_to(x.mean(axis=(1, 2, 3), keepdims=True), x.shape), rtol=1e-5)


def test_cutout_zeroes_exactly_the_stated_square():
    x = np.full((4, 16, 16, 3), 7.0, "float32")
    layer = io.Cutout(size=6)
    params = {"center_y": np.array([[8], [0], [15], [5]]), "center_x": np.array([[8], [0], [3], [15]]),
              "apply": np.array([True, True, True, False])}
    out = _apply(layer, x, params)
    expected = x.copy()
    expected[0, 5:11, 5:11] = 0          # rows/cols c - 3 .. c + 2
    expected[1, 0:3, 0:3] = 0            # cut by the top-left border
    expected[2, 12:16, 0:6] = 0          # cut by the bottom border
    np.testing.assert_array_equal(out, expected)  # image 3: apply=False, untouched
    drawn = _np(io.Cutout(size=4, count=2)(np.ones((32, 16, 16, 1), "float32")))
    zeros = (drawn == 0).sum(axis=(1, 2, 3))
    assert zeros.max() <= 32 and zeros.min() >= 1 and len(set(zeros.tolist())) > 1


def test_noise_statistics():
    x = np.full((4, 32, 32, 3), 100.0, "float32")
    add = io.AdditiveNoise(stddev=10.0, value_range=None)
    params = _params(add, x, seed=8)
    out = _apply(add, x, params)
    z = (out - x) / params["sigma"][:, None, None, None]
    # 3,072 N(0,1) samples per image: std error of the std is 1/sqrt(2*3072) ≈ 0.013; 0.06 is > 4 of those.
    assert np.all(np.abs(z.std(axis=(1, 2, 3)) - 1) < 0.06) and np.all(np.abs(z.mean(axis=(1, 2, 3))) < 0.08)
    mul = io.MultiplicativeNoise(stddev=0.2, value_range=None)
    params = _params(mul, x, seed=9)
    out = _apply(mul, x, params)
    z = (out / x - 1) / params["sigma"][:, None, None, None]
    assert np.all(np.abs(z.std(axis=(1, 2, 3)) - 1) < 0.06) and np.all(np.abs(z.mean(axis=(1, 2, 3))) < 0.08)
    assert len(np.unique(params["sigma"])) == 4


# ------------------------------------------------------------------------------ randomness


LAYERS = [
    lambda seed=None: io.RandomFlip(seed=seed),
    lambda seed=None: io.PadCrop(padding=2, seed=seed),
    lambda seed=None: io.RandomAffine(rotation=20, translation=0.1, scale=(0.8, 1.2), shear=10, seed=seed),
    lambda seed=None: io.RandomResizedCrop(seed=seed),
    lambda seed=None: io.RandomColor(brightness=0.2, contrast=(0.5, 1.5), saturation=(0.5, 1.5), seed=seed),
    lambda seed=None: io.Cutout(size=3, seed=seed),
    lambda seed=None: io.AdditiveNoise(seed=seed),
    lambda seed=None: io.MultiplicativeNoise(seed=seed),
    lambda seed=None: io.Sequential(
        [io.PadCrop(padding=2, seed=seed), io.RandomFlip(seed=seed), io.Cutout(size=3, seed=seed)]
    ),
]


@pytest.mark.parametrize("make", LAYERS)
def test_per_image_draws_and_seeded_determinism(make, ramp):
    same = np.repeat(ramp[:1], 16, axis=0)
    out = _np(make()(same, seed=11))
    distinct = {out[i].tobytes() for i in range(16)}
    assert len(distinct) > 1, "every image of the batch got the same transform"
    np.testing.assert_array_equal(_np(make()(same, seed=11)), out)  # call seed: pure function of it
    assert not np.array_equal(_np(make()(same, seed=12)), out)
    layer_a, layer_b = make(5), make(5)
    first = _np(layer_a(same))
    np.testing.assert_array_equal(first, _np(layer_b(same)))  # same constructor seed, same stream
    assert not np.array_equal(first, _np(layer_a(same)))  # the stream advances between calls
    np.testing.assert_array_equal(_np(make()(same, training=False)), same)


def test_constructor_seed_is_reproducible(ramp):
    a = _np(io.PadCrop(seed=3)(ramp))
    np.testing.assert_array_equal(a, _np(io.PadCrop(seed=3)(ramp)))
    assert not np.array_equal(a, _np(io.PadCrop(seed=4)(ramp)))


def test_tf_data_pipeline_is_deterministic_with_call_seeds(ramp):
    tf = pytest.importorskip("tensorflow")
    layer = io.Sequential([io.PadCrop(padding=2), io.RandomFlip(), io.Cutout(size=3)])

    def make():
        ds = tf.data.Dataset.from_tensor_slices(ramp).batch(16).enumerate()
        ds = ds.map(lambda i, b: layer(b, seed=tf.stack([tf.constant(1, tf.int64), i])), num_parallel_calls=4)
        return [b.numpy() for b in ds]

    first, second = make(), make()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert first[0].shape == (16, 8, 8, 3) and not np.array_equal(first[0], ramp[:16])
    if keras.backend.backend() != "tensorflow":
        return  # in tf.data the layers run TensorFlow's generators; eagerly, the backend's own
    # Same batch seed => same draws as an eager call (tf.data graph and eager agree).
    eager = _np(layer(ramp[:16], seed=np.array([1, 0], "int64")))
    np.testing.assert_array_equal(first[0], eager)


def test_keras_round_trip(tmp_path, ramp):
    aug = [
        io.RandomFlip(mode="horizontal_and_vertical", p=0.3),
        io.PadCrop(padding=2, fill_mode="reflect"),
        io.RandomAffine(rotation=10, translation=(0.0, 0.1), scale=(0.9, 1.1), shear=5),
        io.RandomResizedCrop(scale=(0.5, 1.0)),
        io.RandomColor(brightness=0.1, contrast=(0.8, 1.2), saturation=(0.8, 1.2)),
        io.Cutout(size=3, count=2, fill_value=1.0, p=0.5),
        io.AdditiveNoise(stddev=2.0),
        io.MultiplicativeNoise(stddev=0.05),
    ]
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), io.Sequential(aug, seed=1), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    model.compile(optimizer="sgd", loss="mse")
    model.fit(ramp, np.zeros((64, 3)), epochs=1, batch_size=32, verbose=0)  # augments in training
    path = tmp_path / "aug.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(ramp, verbose=0), model.predict(ramp, verbose=0), atol=1e-6)
    seq, seq2 = model.layers[0], loaded.layers[0]
    for a, b in zip(seq.stages, seq2.stages):
        assert type(a) is type(b) and a.get_config() == b.get_config()
    np.testing.assert_array_equal(_np(seq(ramp, seed=9)), _np(seq2(ramp, seed=9)))


# ------------------------------------------------------------------------------ hash, keys, alternating flip


def _mix31_reference(x):
    """mix31 on Python integers, multiplying directly mod 2^31 (independent of the int32 limb arithmetic)."""
    m = (1 << 31) - 1
    x ^= x >> 16
    x = (x * 0x2C1B3C6D) & m
    x ^= x >> 15
    x = (x * 0x297A2D39) & m
    return x ^ (x >> 16)


def _hash31_reference(tag, values):
    h = tag
    for v in values:
        h = _mix31_reference(h ^ (v & ((1 << 31) - 1)))
    return h


def test_hash_is_bit_identical_to_the_python_integer_reference_on_numpy_and_the_backend():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.arange(64), 2 ** 31 - 1 - np.arange(64), rng.integers(0, 2 ** 31, 4000)]).astype("int32")
    ref = np.array([_mix31_reference(int(v)) for v in x])
    np.testing.assert_array_equal(io.mix31(x, np), ref)
    np.testing.assert_array_equal(_np(io.mix31(keras.ops.convert_to_tensor(x), keras.ops)), ref)
    assert ref.min() >= 0 and ref.max() < 2 ** 31 and len(np.unique(ref)) == len(np.unique(x))  # a bijection
    ids = np.arange(1000, dtype="int32")
    ref = [_hash31_reference(io.TAG_FLIP, (12345, i)) for i in range(1000)]
    np.testing.assert_array_equal(_np(io.hash31(io.TAG_FLIP, (12345, keras.ops.convert_to_tensor(ids)), keras.ops)), ref)


def test_derived_keys_keep_the_run_and_never_repeat():
    """Stage keys s^(k) and draw keys (s^(k))^(j) for 300 steps x 6 stages x 6 draws: 10,800 keys, all
    distinct (the old offsets s_1 + 7919 k gave draw j of stage k the key of stage k + j), s_0 kept."""
    B = io.PadCrop().backend
    keys = []
    for step in range(300):
        stages = io._StatelessSeeds(np.array([77, step]), B)
        for _ in range(6):
            stage = stages.next()
            draws = io._StatelessSeeds(stage, B)
            keys += [tuple(_np(draws.next()).tolist()) for _ in range(6)]
    assert len(keys) == 10800 and len(set(keys)) == 10800
    assert {k[0] for k in keys} == {77}
    stream = io._StatelessSeeds(5, B)
    assert len({tuple(_np(stream.next()).tolist()) for _ in range(64)}) == 64
    with pytest.raises(RuntimeError, match="at most 64 keys"):
        stream.next()


def _flips(out, x):
    """Per image: 1 if out is x mirrored left-right, 0 if unchanged (asserting it is one of the two)."""
    flipped = np.array([np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, x)])
    assert np.all(flipped ^ kept)
    return flipped.astype(int)


def test_alternating_flip_alternates_exactly(ramp):
    layer = io.AlternatingFlip()
    ids = np.arange(100, 164)
    flips = [_flips(_np(layer(ramp, seed=np.array([7, 1000 + e]), context={"ids": ids, "epoch": e})), ramp)
             for e in range(4)]
    for e in range(3):
        np.testing.assert_array_equal(flips[e + 1], 1 - flips[e])  # each image the other way round next epoch
    np.testing.assert_array_equal(flips[2], flips[0])  # the step part of the key does not matter
    expected = io.alternating_flip_bits(7, ids.astype("int32"), 0, np)
    np.testing.assert_array_equal(flips[0], expected)
    np.testing.assert_array_equal(expected, [_hash31_reference(io.TAG_FLIP, (7, i)) & 1 for i in ids])
    # per-image epochs (N,) give the same bits as a scalar epoch
    per_image = _np(layer(ramp, seed=np.array([7, 0]), context={"ids": ids, "epoch": np.full(64, 3)}))
    np.testing.assert_array_equal(_flips(per_image, ramp), flips[3])


def test_alternating_flip_base_bits_are_balanced_and_unrelated_to_id_parity():
    """20,000 ids, three runs. Balance: the count of ones is Binomial(20000, 1/2) for a good hash, sd 70.7;
    4.5 sd = 318. Parity: the share of ones among even ids minus that among odd ids has sd
    sqrt(2 * 0.25 / 10000) = 0.0071; 4.5 sd = 0.032. Runs: two runs agree on a share 1/2 +- 0.016 (4.5 sd)."""
    ids = np.arange(20000, dtype="int32")
    bits = {run: _np(io.alternating_flip_bits(run, keras.ops.convert_to_tensor(ids), 0, keras.ops))
            for run in (0, 1, 2 ** 31 - 1)}
    for run, b in bits.items():
        np.testing.assert_array_equal(b, io.alternating_flip_bits(run, ids, 0, np))  # backend == NumPy
        assert abs(int(b.sum()) - 10000) < 318, run
        assert abs(b[0::2].mean() - b[1::2].mean()) < 0.032, run
        assert abs(np.mean(b[1:] == b[:-1]) - 0.5) < 0.016, run  # neighbours independent
    assert abs(np.mean(bits[0] == bits[1]) - 0.5) < 0.016


def test_context_is_required_and_forwarded(ramp):
    with pytest.raises(ValueError, match=r"AlternatingFlip needs context=\{'ids'"):
        io.AlternatingFlip()(ramp, seed=1)
    with pytest.raises(ValueError, match="keys 'ids' and 'epoch'"):
        io.AlternatingFlip()(ramp, seed=1, context={"ids": np.arange(64)})
    chain = io.Sequential([io.PadCrop(padding=2), io.AlternatingFlip(), io.Cutout(size=3)])
    assert chain.needs_context and not io.Sequential([io.PadCrop()]).needs_context
    with pytest.raises(ValueError, match="AlternatingFlip needs context"):
        chain(ramp, seed=1)
    ctx = {"ids": np.arange(64), "epoch": 0}
    a = _np(chain(ramp, seed=np.array([3, 9]), context=ctx))
    b = _np(chain(ramp, seed=np.array([3, 9]), context={"ids": np.arange(64), "epoch": 1}))
    np.testing.assert_array_equal(a, _np(chain(ramp, seed=np.array([3, 9]), context=ctx)))
    # only the flip changed between the epochs: the images differ by exactly a mirror each
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(_np(chain(ramp, training=False)), ramp)


def test_alternating_flip_in_tf_data_equals_eager(ramp):
    tf = pytest.importorskip("tensorflow")
    layer = io.Sequential([io.PadCrop(padding=2, fill_mode="reflect"), io.AlternatingFlip()])
    ids = np.arange(64, dtype="int64")
    ds = tf.data.Dataset.from_tensor_slices((ramp, ids)).batch(16).enumerate()
    ds = ds.map(lambda i, b: layer(b[0], seed=tf.stack([tf.constant(4, tf.int64), i]),
                                   context={"ids": b[1], "epoch": tf.constant(3)}))
    first = [b.numpy() for b in ds]
    if keras.backend.backend() != "tensorflow":
        return
    for i, batch in enumerate(first):
        eager = _np(layer(ramp[16 * i:16 * (i + 1)], seed=np.array([4, i]),
                          context={"ids": ids[16 * i:16 * (i + 1)], "epoch": 3}))
        np.testing.assert_array_equal(batch, eager)


# ------------------------------------------------------------------------------ bad arguments


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: io.RandomFlip(mode="diagonal"), "mode"),
        (lambda: io.RandomFlip(p=1.5), r"p must be a finite number in \[0, 1\], got 1.5"),
        (lambda: io.PadCrop(padding=-1), "padding"),
        (lambda: io.PadCrop(fill_mode="wrap"), "fill_mode must be one of constant, reflect, symmetric"),
        (lambda: io.RandomAffine(rotation=200), "rotation"),
        (lambda: io.RandomAffine(scale=(1.2, 0.8)), "scale"),
        (lambda: io.RandomAffine(shear=(0, 95)), r"shear\[1\]"),
        (lambda: io.RandomAffine(translation=2.0), "translation"),
        (lambda: io.RandomResizedCrop(scale=(0.0, 1.0)), r"scale\[0\]"),
        (lambda: io.RandomColor(contrast=(-1, 1)), r"contrast\[0\]"),
        (lambda: io.Cutout(size=0), "size"),
        (lambda: io.Cutout(count=0), "count"),
        (lambda: io.Cutout(p=-0.1), "p must"),
        (lambda: io.AdditiveNoise(stddev=-1), "stddev"),
        (lambda: io.MultiplicativeNoise(stddev=float("nan")), "stddev"),
        (lambda: io.PadCrop(value_range=(1, 0)), "value_range"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: io.PadCrop(seed="0"), "seed"),
        (lambda: io.PadCrop(padding=2.0), r"padding must be an integer in \[0, inf\), got 2.0"),
        (lambda: io.RandomColor(contrast=1.5), "contrast"),
        (lambda: io.Sequential([io.PadCrop(), keras.layers.Dense(2)]), r"layers\[1\]"),
    ],
)
def test_bad_types_raise_type_error_naming_them(make, match):
    with pytest.raises(TypeError, match=match):
        make()


# ------------------------------------------------------------------------------ shapes and dtypes (issue 15)


@pytest.mark.parametrize("make", LAYERS + [lambda seed=None: io.AlternatingFlip(seed=seed)])
@pytest.mark.parametrize("shape", [(32, 32), (32,), (2, 4, 8, 8, 3)])
def test_unsupported_ranks_are_rejected_naming_the_shape(make, shape):
    """A (32, 32) image used to come back as (32, 1, 32, 32) from RandomColor and the noise layers."""
    layer = make()
    x = np.zeros(shape, "float32")
    needle = re.escape(f"images must have shape (H, W, C) or (N, H, W, C), got shape {shape}")
    for training in (True, False):
        with pytest.raises(ValueError, match=needle):
            layer(x, training=training, context={"ids": np.arange(4), "epoch": 0})
    with pytest.raises(ValueError, match=needle):
        layer(keras.Input(shape[1:], batch_size=shape[0]))


@pytest.mark.parametrize("make", LAYERS)
def test_one_image_and_a_batch_keep_their_shape(make, ramp):
    layer = make()
    assert _np(layer(ramp[0], seed=3)).shape == (8, 8, 3)
    assert _np(layer(ramp[:4], seed=3)).shape == (4, 8, 8, 3)


@pytest.mark.parametrize("make", LAYERS)
def test_inference_returns_the_compute_dtype_like_training(make, ramp):
    """uint8 images came back as uint8 at inference while training (and the symbolic output) said float32."""
    layer = make()
    x = ramp.astype("uint8")
    trained, inferred = layer(x, seed=1), layer(x, training=False)
    assert keras.backend.standardize_dtype(trained.dtype) == "float32"
    assert keras.backend.standardize_dtype(inferred.dtype) == "float32"
    np.testing.assert_array_equal(_np(inferred), x.astype("float32"))


@pytest.fixture
def policy():
    previous = keras.config.dtype_policy()
    yield keras.config.set_dtype_policy
    keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("mixed,compute", [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")])
@pytest.mark.parametrize("make", LAYERS)
def test_mixed_precision_gives_the_float32_result_rounded(make, ramp, policy, mixed, compute):
    """Under a mixed policy the layers crashed on TensorFlow (AddV2 half vs float: the draws are float32) or
    returned float32 on JAX. Same key, same draws: the result is the float32 one to the compute dtype's
    rounding (half a unit in the last place at 255: 0.125 in float16, 1 in bfloat16, plus the rounding of
    the input and of each intermediate)."""
    reference = _np(make()(ramp, seed=7))
    policy(mixed)
    layer = make()
    out = layer(keras.ops.cast(ramp, compute), seed=7)
    assert keras.backend.standardize_dtype(out.dtype) == compute
    out = _np(keras.ops.cast(out, "float32"))
    tolerance = {"float16": 0.5, "bfloat16": 4.0}[compute]
    assert np.mean(np.abs(out - reference) <= tolerance) > 0.99  # a resampling may round a few pixels further


def test_sequential_returns_its_own_dtype(ramp, policy):
    """Sequential(dtype="mixed_float16") of float32 stages returned float32 while declaring float16."""
    layer = io.Sequential([io.RandomFlip(), io.AdditiveNoise(stddev=1.0)], dtype="mixed_float16")
    assert layer.compute_dtype == "float16"
    for training in (True, False):
        out = layer(ramp, training=training, seed=2)
        assert keras.backend.standardize_dtype(out.dtype) == "float16", training
    assert layer(keras.Input((8, 8, 3))).dtype == "float16"
    assert keras.backend.standardize_dtype(layer.stages[1](ramp).dtype) == "float32"  # the stage keeps its own


def test_labels_keep_their_dtype_in_tf_data_under_a_mixed_policy(policy):
    """DataLayer casts every input of a tf.data map to the compute dtype: integer label 257 became 256 in
    bfloat16 (8 significant bits) before it was one-hot encoded."""
    tf = pytest.importorskip("tensorflow")
    from augment import mixing

    policy("mixed_bfloat16")
    layer = io.Sequential([io.RandomFlip(), mixing.MixUp(alpha=1.0, num_classes=300)])
    x = np.zeros((4, 8, 8, 3), "float32")
    y = np.full(4, 257, dtype="int64")
    ds = tf.data.Dataset.from_tensors((x, y)).map(lambda a, b: layer((a, b), seed=tf.constant([0, 1])))
    images, labels = next(iter(ds))
    assert images.dtype == tf.bfloat16 and labels.dtype == tf.float32
    np.testing.assert_array_equal(labels.numpy(), np.eye(300, dtype="float32")[y])
