"""Exact resume for every run: a run stopped after an epoch and rerun with the same command ends with the weights,
history and test accuracy of an uninterrupted run, bit for bit, whatever randomness it uses: dropout masks,
DropConnect masks, mixup's λ and pairs, label smoothing, mixed precision's loss scale, early stopping."""
import json

import numpy as np
import pytest

from recipes.training import engine
from tests.helpers import run_train_command, write_image_folder

TINY = ["--model", "resnet20", "--width", "2", "--batch-size", "8", "--lr", "0.05", "--verbose", "0",
        "--no-tensorboard", "--epochs", "3"]


class _Crash(BaseException):
    """A stand-in for SIGKILL (end-to-end SIGKILL runs: tests/training/test_train_cifar10.py)."""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    write_image_folder(root / "data", n_train=8, n_test=4)
    return root


def _main(data, out, *extra):
    """The training command in this process: (exit status, stdout, stderr)."""
    return run_train_command(data, out, *TINY, *extra)


def _weights(path):
    import recipes

    return recipes.load_model(path).get_weights()


CASES = {
    "dropout+mixup+label-smoothing+float16": ["--dropout", "0.3", "--augment", "mixup", "--label-smoothing", "0.1",
                                              "--mixed-precision", "float16", "--loss-scale", "1024"],
    "early-stopping": ["--early-stopping", "--val-size", "6", "--eval-every", "3", "--patience", "2",
                       "--augment", "mixup", "--dropout", "0.3", "--epochs", "2"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_run_stopped_after_an_epoch_and_rerun_equals_an_uninterrupted_run(data, tmp_path, monkeypatch, case):
    flags = CASES[case]
    code, stdout, stderr = _main(data, tmp_path / "straight", *flags)
    assert code == 0, stderr
    straight = stdout.strip().splitlines()[-1]
    assert straight.startswith("test_accuracy=")

    calls = {"n": 0}
    original = engine._EpochTimer.on_epoch_end

    def crash_in_the_second_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        calls["n"] += 1
        if calls["n"] == 2:  # epoch 1 ends; only epoch 0 is committed
            raise _Crash("killed")

    monkeypatch.setattr(engine._EpochTimer, "on_epoch_end", crash_in_the_second_epoch)
    out = tmp_path / "resumed"
    with pytest.raises(_Crash):
        _main(data, out, *flags)
    assert calls["n"] == 2
    monkeypatch.undo()
    code, stdout, stderr = _main(data, out, *flags)
    assert code == 0, stderr
    if case == "early-stopping":
        assert "starts again from the beginning" in stdout + stderr
    else:
        assert "1 of 3 epochs done" in stdout + stderr
    assert stdout.strip().splitlines()[-1] == straight
    for a, b in zip(_weights(out / "model.keras"), _weights(tmp_path / "straight" / "model.keras")):
        np.testing.assert_array_equal(a, b)
    history = json.loads((out / "history.json").read_text())
    reference = json.loads((tmp_path / "straight" / "history.json").read_text())
    assert history["loss"] == reference["loss"]
    assert json.loads((out / "run.json").read_text())["state"] == "finished"


def test_dropconnect_masks_resume_exactly(tmp_path):
    """DropConnect's masks M ~ Bernoulli(1 − p) on W come from the layer's SeedGenerator, whose state is in the
    backup: killed after epoch 2 and resumed, the weights equal an uninterrupted run's."""
    import keras

    from callbacks.backup_and_restore import AtomicBackupAndRestore
    from recipes.dropout.dropconnect import DropConnectDense

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 6)).astype("float32"), rng.normal(size=(32, 2)).astype("float32")

    def model():
        keras.utils.set_random_seed(0)
        inp = keras.Input((6,))
        h = DropConnectDense(8, rate=0.4, seed=3)(inp)
        m = keras.Model(inp, keras.layers.Dense(2)(h))
        m.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
        return m

    straight = model()
    straight.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0)

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise _Crash("killed")

    backup = AtomicBackupAndRestore(str(tmp_path / "b"))
    with pytest.raises(_Crash):
        model().fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0, callbacks=[backup, Kill()])
    resumed = model()
    resumed.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                callbacks=[AtomicBackupAndRestore(str(tmp_path / "b"))])
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)
