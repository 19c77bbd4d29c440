"""augment.device_batches: TrainBatches' order and epoch counter under Keras' fit, AugmentOnDevice, the same images
as the tf.data placement (TensorFlow backend), exact resumption, and the device path under JAX without TensorFlow."""
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from augment import presets
from augment.device_batches import AugmentOnDevice, TrainBatches


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _data(n=50, size=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size, 3)).astype(np.uint8), np.arange(n) % 10


def _inputs(size=8):
    return {"images": keras.Input((size, size, 3), dtype="uint8", name="images"),
            "ids": keras.Input((), dtype="int32", name="ids"), "step": keras.Input((), dtype="int32", name="step")}


# ------------------------------------------------------------------------------ TrainBatches


def test_batches_follow_epoch_order_and_carry_ids_and_the_global_step():
    x, y = _data()
    batches = TrainBatches(x, y, 16, seed=5, start_epoch=2)
    assert len(batches) == batches.steps_per_epoch == 3
    for i in range(3):
        inputs, labels = batches[i]
        ids = presets.epoch_order(50, 16, 5, 2)[i]
        np.testing.assert_array_equal(inputs["ids"], ids)
        np.testing.assert_array_equal(inputs["images"], x[ids])
        np.testing.assert_array_equal(inputs["step"], np.full(16, 2 * 3 + i))
        np.testing.assert_array_equal(labels, y[ids])
        assert inputs["images"].dtype == np.uint8 and labels.dtype == inputs["ids"].dtype == np.int32
    with pytest.raises(IndexError):
        batches[3]


def _keras_reads(batches, epochs, first_fit_peek):
    """What Keras 3.15's fit does to a PyDataset: (JAX, first fit) begin, read 0, then the reset's on_epoch_end;
    (TensorFlow) read 0 and 1 for the signature, then the reset's on_epoch_end; then per epoch begin, read all,
    end. Returns the (epoch, step) of every batch read inside an epoch."""
    if first_fit_peek == "jax":
        batches.on_epoch_begin()
        batches[0]
    else:
        batches[0], batches[1]
    batches.on_epoch_end()
    seen = []
    for _ in range(epochs):
        batches.on_epoch_begin()
        for i in range(len(batches)):
            seen.append(int(batches[i][0]["step"][0]))
        batches.on_epoch_end()
    return seen


@pytest.mark.parametrize("peek", ["jax", "tensorflow"])
def test_epoch_counter_ignores_keras_extra_calls(peek):
    x, y = _data()
    batches = TrainBatches(x, y, 16, seed=1, start_epoch=4)
    assert _keras_reads(batches, 2, peek) == list(range(12, 18))  # epochs 4 and 5, steps 12 .. 17
    assert batches.epoch == 6
    batches.on_epoch_begin()
    batches[0]
    with pytest.raises(ValueError, match=r"read in order .* shuffle=False"):
        batches[2]


def test_bad_arguments():
    x, y = _data()
    with pytest.raises(TypeError, match="x must be uint8 images"):
        TrainBatches(x.astype("float32"), y, 4)
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, 50\], got 0"):
        TrainBatches(x, y, 0)
    with pytest.raises(ValueError, match=r"label 10 is outside \[0, 10\)"):
        TrainBatches(x, np.full(50, 10), 4, num_classes=10)
    with pytest.raises(ValueError, match="start_epoch"):
        TrainBatches(x, y, 4, start_epoch=-1)
    with pytest.raises(ValueError, match="spec must not mix labels on the device"):
        AugmentOnDevice("mixup")
    with pytest.raises(ValueError, match=r"steps_per_epoch must be an integer in \[1, inf\), got 0"):
        AugmentOnDevice("airbench", steps_per_epoch=0)
    with pytest.raises(ValueError, match="AugmentOnDevice needs inputs"):
        AugmentOnDevice("airbench")(np.zeros((2, 8, 8, 3), "uint8"), training=True)


# ------------------------------------------------------------------------------ AugmentOnDevice


def test_augment_on_device_is_the_image_augmenter_call():
    x, y = _data()
    batches = TrainBatches(x, y, 16, seed=3)
    layer = AugmentOnDevice("airbench", seed=3, steps_per_epoch=batches.steps_per_epoch)
    inputs, _ = batches.batch(1, 2)  # global step 5, epoch 1
    out = _np(layer(inputs, training=True))
    ref = presets.ImageAugmenter("airbench")(x[inputs["ids"]].astype("float32"), seed=presets.step_key(3, 5),
                                            ids=inputs["ids"], epoch=1)[0]
    np.testing.assert_array_equal(out, _np(ref))
    np.testing.assert_array_equal(_np(layer(inputs, training=False)), inputs["images"].astype("float32"))
    np.testing.assert_array_equal(_np(layer(inputs["images"])), inputs["images"].astype("float32"))
    clone = AugmentOnDevice.from_config(layer.get_config())
    assert clone.spec == layer.spec and clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(_np(clone(inputs, training=True)), out)


@pytest.mark.parametrize("mixed,compute", [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")])
def test_augment_on_device_under_a_mixed_policy(mixed, compute):
    """The documented choice: under a global mixed policy AugmentOnDevice computes and returns float32 (the same
    images as under float32), and the network's first layer runs in the policy's compute dtype; with an explicit
    dtype= the images come back in that policy's compute dtype (they said float32 before, whatever dtype=)."""
    x, y = _data()
    batches = TrainBatches(x, y, 16, seed=3)
    inputs, _ = batches.batch(1, 2)
    reference = _np(AugmentOnDevice("airbench", seed=3, steps_per_epoch=3)(inputs, training=True))
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy(mixed)
        layer = AugmentOnDevice("airbench", seed=3, steps_per_epoch=3)
        for training in (True, False):
            out = layer(inputs, training=training)
            assert keras.backend.standardize_dtype(out.dtype) == "float32"
        np.testing.assert_array_equal(_np(layer(inputs, training=True)), reference)
        symbolic = _inputs()
        features = layer(symbolic)
        conv = keras.layers.Conv2D(2, 3)
        assert features.dtype == "float32" and conv(features).dtype == compute
        explicit = AugmentOnDevice("airbench", seed=3, steps_per_epoch=3, dtype=mixed)
        for training in (True, False):
            out = explicit(inputs, training=training)
            assert keras.backend.standardize_dtype(out.dtype) == compute, training
        assert explicit(symbolic).dtype == compute
        np.testing.assert_array_equal(_np(keras.ops.cast(explicit(inputs, training=True), "float32")),
                                      _np(keras.ops.cast(keras.ops.cast(reference, compute), "float32")))
    finally:
        keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("spec", ["standard", "cutout", "airbench", "randaugment", "none"])
def test_tf_data_and_device_placements_give_identical_images(spec):
    """Same seed: batch t of make_train_dataset == AugmentOnDevice(TrainBatches' batch t), bit for bit, in
    epochs 1 and 2 of a run started at epoch 1 (TensorFlow backend: both placements use TensorFlow's
    generators). A resumed tf.data run is checked against an uninterrupted one in test_image_pipeline.py."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("identity across placements holds on the TensorFlow backend (one generator for both)")
    from augment.image_pipeline import make_train_dataset

    x, y = _data(40, size=16, seed=2)
    ds, steps = make_train_dataset(x, y, 8, augment=spec, seed=6, start_epoch=1, epochs=3, one_hot=False)
    batches = TrainBatches(x, y, 8, seed=6, start_epoch=1)
    layer = AugmentOnDevice(spec, seed=6, steps_per_epoch=steps)
    reads = []
    for t, (images, labels) in enumerate(ds.as_numpy_iterator(), start=steps):
        inputs, device_labels = batches.batch(*divmod(t, steps))
        np.testing.assert_array_equal(_np(layer(inputs, training=True)), images)
        np.testing.assert_array_equal(device_labels, labels)
        reads.append(t)
    assert reads == list(range(steps, 3 * steps))


def _fit_and_record(x, y, start_epoch, epochs, steps_per_epoch_one=False, callback=True):
    """fit a train model (AugmentOnDevice, then a small network) on TrainBatches; the global steps of the batches
    read, in order (Keras' peeks first)."""
    batches = TrainBatches(x, y, 50 if steps_per_epoch_one else 16, seed=8, start_epoch=start_epoch)
    layer = AugmentOnDevice("airbench", seed=8, steps_per_epoch=batches.steps_per_epoch)
    seen = []
    inputs = _inputs()
    net = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)])
    model = keras.Model(inputs, net(layer(inputs)))
    model.compile(keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    read = batches.batch

    def recording(epoch, i):
        out = read(epoch, i)
        seen.append(int(out[0]["step"][0]))
        return out

    batches.batch = recording
    callbacks = [batches.epoch_callback()] if callback else []
    model.fit(batches, epochs=epochs, initial_epoch=start_epoch, shuffle=False, verbose=0, callbacks=callbacks)
    return seen, batches


@pytest.mark.parametrize("callback", [True, False])
def test_fit_reads_the_uninterrupted_stream_and_resumes_exactly(callback):
    """fit(epochs=3) reads steps 0..8 in order (after Keras' peeks); fit(initial_epoch=1) on
    TrainBatches(start_epoch=1) reads exactly steps 3..8 of that stream — with or without the epoch callback."""
    x, y = _data()
    full, batches = _fit_and_record(x, y, 0, 3, callback=callback)
    resumed, _ = _fit_and_record(x, y, 1, 3, callback=callback)
    assert full[-9:] == list(range(9)) and resumed[-6:] == list(range(3, 9))
    assert batches.epoch == 3


def test_one_step_epochs_are_exact_with_the_epoch_callback():
    x, y = _data()
    seen, batches = _fit_and_record(x, y, 2, 5, steps_per_epoch_one=True, callback=True)
    assert seen[-3:] == [2, 3, 4] and batches.epoch == 5


# ------------------------------------------------------------------------------ JAX without TensorFlow

_JAX_SCRIPT = textwrap.dedent('''
    import importlib.abc, sys

    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
            return None

    sys.meta_path.insert(0, NoTensorFlow())
    import numpy as np, keras
    from augment import presets
    from augment.device_batches import AugmentOnDevice, TrainBatches
    assert keras.backend.backend() == "jax"
    x = np.random.default_rng(0).integers(0, 256, (48, 8, 8, 3)).astype(np.uint8)
    y = np.arange(48) % 10
    batches = TrainBatches(x, y, 16, seed=4)
    layer = AugmentOnDevice("airbench", seed=4, steps_per_epoch=3)
    inputs = {"images": keras.Input((8, 8, 3), dtype="uint8", name="images"),
              "ids": keras.Input((), dtype="int32", name="ids"), "step": keras.Input((), dtype="int32", name="step")}
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(layer(inputs))))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(batches, epochs=2, shuffle=False, verbose=0, callbacks=[batches.epoch_callback()])
    assert batches.epoch == 2
    # a jitted call: the same twice and as the eager call; every output is a window of the reflect-padded image,
    # mirrored exactly where the alternating flip's bits (NumPy reference) say so
    import jax
    f = jax.jit(lambda b: layer(b, training=True))
    inputs0 = batches.batch(1, 1)[0]  # epoch 1
    out = np.asarray(f(inputs0))
    assert np.array_equal(out, np.asarray(f(inputs0)))
    assert np.array_equal(out, keras.ops.convert_to_numpy(layer(inputs0, training=True)))
    from augment import image_ops
    bits = image_ops.alternating_flip_bits(4, inputs0["ids"], 1, np)
    assert 0 < bits.sum() < 16
    padded = np.pad(inputs0["images"].astype("float32"), ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    for i in range(16):
        image = out[i][:, ::-1] if bits[i] else out[i]
        assert any(np.array_equal(image, padded[i, a:a + 8, c:c + 8]) for a in range(5) for c in range(5)), i
    assert "tensorflow" not in sys.modules, sorted(m for m in sys.modules if m.startswith("tensorflow"))
    print("ok")
''')


def test_device_path_runs_under_jax_without_tensorflow(subprocess_env, repo_root):
    if os.environ.get("RECIPES_JAX_SUBPROCESS") == "1":
        pytest.skip("already inside the JAX subprocess")
    pytest.importorskip("jax")
    env = dict(subprocess_env, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", _JAX_SCRIPT], cwd=repo_root, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), (proc.stdout + proc.stderr)[-4000:]
