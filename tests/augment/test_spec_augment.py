"""SpecAugment (Keras layer and tf.data version): masks are bands of the stated widths, independent per
example, seeded, identity at inference; the layer survives save/load; the wav -> log-mel pipeline
gives the stated shapes."""
import numpy as np
import pytest

import keras

from augment.spec_augment import SpecAugment


def band_widths(mask_1d):
    """Widths of the runs of True in a boolean vector."""
    m = np.concatenate([[False], mask_1d, [False]]).astype(int)
    d = np.diff(m)
    return np.flatnonzero(d == -1) - np.flatnonzero(d == 1)


def check_masks(out, x, F, mF, T, mT):
    """Masked cells (value 0 on an all-ones input) form full rows/columns: whole time frames and whole
    mel channels, at most m bands each of width <= the parameter (bands may touch or overlap, so the
    union's total width is at most m * parameter)."""
    for b in range(out.shape[0]):
        z = out[b] == 0
        time_rows = z.all(axis=1)
        freq_cols = z.all(axis=0)
        np.testing.assert_array_equal(z, time_rows[:, None] | freq_cols[None, :])
        assert time_rows.sum() <= mT * T and freq_cols.sum() <= mF * F
        assert all(w <= mT * T for w in band_widths(time_rows)) and len(band_widths(time_rows)) <= mT
        assert all(w <= mF * F for w in band_widths(freq_cols)) and len(band_widths(freq_cols)) <= mF
        np.testing.assert_array_equal(out[b][~z], x[b][~z])


def test_layer_masks_bands_of_stated_width():
    x = np.ones((64, 50, 40), dtype="float32")
    layer = SpecAugment(freq_mask_param=6, num_freq_masks=2, time_mask_param=8, num_time_masks=3,
                        mask_value=0.0, seed=1)
    out = keras.ops.convert_to_numpy(layer(x, training=True))
    check_masks(out, x, 6, 2, 8, 3)
    # per-example randomness: the 64 masks are not all the same
    assert len({out[b].tobytes() for b in range(64)}) > 32
    # widths are U{0..F}: mean width of a single freq mask = F/2 (std of the 64*... mean is small)
    single = SpecAugment(freq_mask_param=6, num_freq_masks=1, num_time_masks=0, mask_value=0.0, seed=2)
    o = keras.ops.convert_to_numpy(single(np.ones((2000, 5, 40), "float32"), training=True))
    widths = (o[:, 0, :] == 0).sum(axis=1)
    # U{0..6}: mean 3, std 2; std of the mean over 2000 draws 0.045; tolerance 0.2 (> 4 sigma)
    assert abs(widths.mean() - 3.0) < 0.2 and widths.max() == 6 and widths.min() == 0


def test_layer_time_ratio_identity_mean_fill_and_seed():
    x = np.random.default_rng(0).normal(size=(8, 20, 16, 1)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(SpecAugment()(x, training=False)), x)
    # p = 0.1 of tau = 20 frames: time masks at most 2 frames wide
    layer = SpecAugment(num_freq_masks=0, time_mask_param=15, num_time_masks=1, time_mask_ratio=0.1,
                        mask_value=0.0, seed=0)
    out = keras.ops.convert_to_numpy(layer(np.ones((500, 20, 16), "float32"), training=True))
    assert (out == 0).all(axis=2).sum(axis=1).max() == 2
    # "mean" fills with each example's mean
    out = keras.ops.convert_to_numpy(SpecAugment(seed=3)(x, training=True))
    changed = out != x
    for b in range(8):
        np.testing.assert_allclose(out[b][changed[b]], x[b].mean(), rtol=1e-5)
    a = keras.ops.convert_to_numpy(SpecAugment(seed=9)(x, training=True))
    c = keras.ops.convert_to_numpy(SpecAugment(seed=9)(x, training=True))
    np.testing.assert_array_equal(a, c)
    with pytest.raises(ValueError, match=r"time_mask_ratio must be a finite number in \(0, 1\], got 0.0"):
        SpecAugment(time_mask_ratio=0.0)
    with pytest.raises(ValueError, match=r"num_freq_masks must be an integer in \[0, inf\), got -1"):
        SpecAugment(num_freq_masks=-1)
    with pytest.raises(ValueError, match="mask_value must be one of mean, got 'median'"):
        SpecAugment(mask_value="median")
    with pytest.raises(ValueError, match="mask_value must be a finite number .*, got nan"):
        SpecAugment(mask_value=float("nan"))


def test_pipeline_checks_spec_augment_arguments_before_any_work():
    from augment.speech_pipeline import spec_augment_tf, speech_dataset

    with pytest.raises(TypeError, match=r"time_mask_param must be an integer in \[0, inf\), got 2.5"):
        spec_augment_tf(np.ones((1, 5, 4), "float32"), [1, 2], time_mask_param=2.5)
    with pytest.raises(ValueError, match=r"num_time_masks must be an integer in \[0, inf\), got -2"):
        speech_dataset([], [], spec_augment={"num_time_masks": -2})
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, inf\), got 0"):
        speech_dataset([], [], batch_size=0)


def test_layer_save_load_round_trip(tmp_path):
    inputs = keras.Input((30, 20, 1))
    h = SpecAugment(freq_mask_param=4, time_mask_param=5, seed=2)(inputs)
    h = keras.layers.Flatten()(h)
    model = keras.Model(inputs, keras.layers.Dense(3)(h))
    x = np.random.default_rng(1).normal(size=(4, 30, 20, 1)).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert loaded.layers[1].get_config() == model.layers[1].get_config()


def test_tf_data_version_matches_the_layers_distribution():
    tf = pytest.importorskip("tensorflow")
    from augment.speech_pipeline import spec_augment_tf

    x = np.ones((64, 50, 40, 1), dtype="float32")
    out = spec_augment_tf(x, tf.constant([1, 2]), freq_mask_param=6, num_freq_masks=2, time_mask_param=8,
                          num_time_masks=3, mask_value=0.0).numpy()[..., 0]
    check_masks(out, x[..., 0], 6, 2, 8, 3)
    again = spec_augment_tf(x, tf.constant([1, 2]), mask_value=0.0).numpy()
    np.testing.assert_array_equal(again, spec_augment_tf(x, tf.constant([1, 2]), mask_value=0.0).numpy())
    o = spec_augment_tf(np.ones((2000, 5, 40), "float32"), tf.constant([3, 4]), freq_mask_param=6,
                        num_freq_masks=1, num_time_masks=0, mask_value=0.0).numpy()
    widths = (o[:, 0, :] == 0).sum(axis=1)
    assert abs(widths.mean() - 3.0) < 0.2  # same U{0..6} as the layer (see above)


def test_log_mel_peak_and_pipeline_shapes(data_root):
    tf = pytest.importorskip("tensorflow")
    from augment.speech import WaveAugment
    from augment.speech_pipeline import fsdd_split, log_mel_spectrogram, speech_dataset

    # a 1 kHz tone puts its energy in the mel channel whose centre is nearest 1 kHz
    t = np.arange(8000) / 8000
    spec = log_mel_spectrogram(np.sin(2 * np.pi * 1000 * t).astype("float32"), normalize=False).numpy()
    assert spec.shape == (1 + (8000 - 256) // 80, 40)
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # HTK mel scale, as tf.signal uses
    centres = np.linspace(mel(20.0), mel(4000.0), 42)[1:-1]
    assert abs(np.argmax(spec.mean(axis=0)) - np.argmin(abs(centres - mel(1000.0)))) <= 1

    (train_f, train_y), (test_f, test_y) = fsdd_split(data_root / "fsdd" / "recordings")
    assert len(train_f) == 2700 and len(test_f) == 300
    (sf, sy), (stf, sty) = fsdd_split(data_root / "fsdd" / "recordings", split="speaker", test_speaker="theo")
    assert len(stf) == 500 and all("_theo_" in f for f in stf) and not any("_theo_" in f for f in sf)
    ds = speech_dataset(train_f[:40], train_y[:40], wave_augment=WaveAugment(), spec_augment={},
                        batch_size=16, seed=0)
    shapes = [(x.shape, y.shape, x.dtype) for x, y in ds]
    assert shapes[0] == ((16, 97, 40, 1), (16,), tf.float32) and shapes[-1][0] == (8, 97, 40, 1)
    first = [x.numpy() for x, _ in speech_dataset(train_f[:16], train_y[:16], WaveAugment(), {}, shuffle=False)]
    second = [x.numpy() for x, _ in speech_dataset(train_f[:16], train_y[:16], WaveAugment(), {}, shuffle=False)]
    np.testing.assert_array_equal(first[0], second[0])  # seeded: the same stream


def test_audiomentations_adapter_is_seeded(data_root):
    audiomentations = pytest.importorskip("audiomentations")
    from augment.speech_pipeline import from_audiomentations, fsdd_split, speech_dataset

    f = from_audiomentations(audiomentations.Compose([audiomentations.AddGaussianSNR(10, 30, p=1.0),
                                                      audiomentations.Gain(-6, 6, p=1.0)]))
    x = np.sin(np.arange(4000) / 5).astype("float32")
    a, b = f(x, np.random.default_rng(1)), f(x, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == x.shape and not np.array_equal(a, x)
    (files, labels), _ = fsdd_split(data_root / "fsdd" / "recordings")
    xb, yb = next(iter(speech_dataset(files[:8], labels[:8], wave_augment=f, batch_size=8)))
    assert xb.shape == (8, 97, 40, 1)


_JAX_TF_DATA_SCRIPT = '''
import numpy as np, keras, tensorflow as tf
from augment.spec_augment import SpecAugment
assert keras.backend.backend() == "jax"
layer = SpecAugment(freq_mask_param=4, num_freq_masks=1, time_mask_param=5, num_time_masks=1, mask_value=0.0, seed=1)
x = np.ones((64, 20, 16, 1), "float32")
ds = tf.data.Dataset.from_tensor_slices(x).batch(32).map(lambda b: layer(b, training=True))
batches = [b.numpy() for b in ds]
out = np.concatenate(batches)
assert out.shape == x.shape, out.shape
z = out[..., 0] == 0
assert z.any() and not z.all()
for b in range(64):  # whole frames and whole channels, at most one band each
    rows, cols = z[b].all(axis=1), z[b].all(axis=0)
    assert np.array_equal(z[b], rows[:, None] | cols[None, :])
    assert rows.sum() <= 5 and cols.sum() <= 4
assert len({o.tobytes() for o in out}) > 16  # per-example draws
inference = tf.data.Dataset.from_tensor_slices(x).batch(32).map(lambda b: layer(b, training=False))
assert all(np.array_equal(b.numpy(), x[:32]) for b in inference)
eager = keras.ops.convert_to_numpy(layer(x, training=True))  # the backend's own ops outside tf.data
assert eager.shape == x.shape and (eager == 0).any()
print("ok")
'''


def test_layer_runs_in_tf_data_under_jax(subprocess_env, repo_root):
    """Under JAX a plain Layer of keras.ops raised "Cannot convert a symbolic tf.Tensor to a numpy array" in a
    tf.data map; as a DataLayer it switches to TensorFlow ops there, like the image layers."""
    import os
    import subprocess
    import sys

    if os.environ.get("RECIPES_JAX_SUBPROCESS") == "1":
        pytest.skip("already inside the JAX subprocess of tests/test_jax_backend.py")
    pytest.importorskip("jax")
    pytest.importorskip("tensorflow")
    env = dict(subprocess_env, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", _JAX_TF_DATA_SCRIPT], cwd=repo_root, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), (proc.stdout + proc.stderr)[-4000:]


@pytest.mark.parametrize("shape", [(16, 8), (2, 3, 16, 8, 1)])
def test_unsupported_ranks_are_rejected_naming_the_shape(shape):
    import re

    needle = re.escape(f"inputs must have shape (batch, time, freq) or (batch, time, freq, channels), got shape {shape}")
    for training in (True, False):
        with pytest.raises(ValueError, match=needle):
            SpecAugment(seed=0)(np.zeros(shape, "float32"), training=training)
