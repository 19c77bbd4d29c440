import json
import os

import keras
import numpy as np

from callbacks.backup_and_restore import AtomicBackupAndRestore


def _model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    m.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
    return m


class _Stop(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path):
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = np.random.default_rng(1).normal(size=(8, 2)).astype("float32")
    straight = _model()
    straight.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0)

    cb = AtomicBackupAndRestore(str(tmp_path / "b"))
    m = _model()
    try:
        m.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0, callbacks=[cb, _Stop(3)])
    except KeyboardInterrupt:
        pass
    meta = json.loads((tmp_path / "b" / "training_metadata.json").read_text())
    assert meta["epoch"] == 3 and meta["weights"] == "epoch000003.weights.h5"
    assert sorted(os.listdir(tmp_path / "b")) == ["epoch000003.weights.h5", "training_metadata.json"]
    resumed = _model()  # fresh process stand-in: new weights, new optimizer
    history = resumed.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0,
                          callbacks=[AtomicBackupAndRestore(str(tmp_path / "b"))])
    assert len(history.history["loss"]) == 2  # epochs 3 and 4 only
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)  # optimizer momentum was restored too
    assert not (tmp_path / "b").exists()


def test_kill_between_weights_and_metadata_keeps_a_consistent_state(tmp_path):
    """Simulate a death after the new weights file was renamed in but before the metadata was replaced."""
    x = np.ones((4, 3), "float32")
    y = np.zeros((4, 2), "float32")
    cb = AtomicBackupAndRestore(str(tmp_path / "b"), delete_checkpoint=False)
    m = _model()
    m.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[cb])
    committed = json.loads((tmp_path / "b" / "training_metadata.json").read_text())
    expected = [w.copy() for w in m.get_weights()]
    # a later epoch's weights file appears, and a stray temporary file, but the metadata was never updated
    m.fit(x, y, epochs=1, batch_size=4, verbose=0)
    m.save_weights(str(tmp_path / "b" / "epoch000003.weights.h5"))
    (tmp_path / "b" / "incomplete-999.weights.h5").write_bytes(b"partial")
    restored = _model()
    restored.fit(x, y, epochs=committed["epoch"], batch_size=4, verbose=0, callbacks=[
        AtomicBackupAndRestore(str(tmp_path / "b"), delete_checkpoint=False)])
    for a, b in zip(restored.get_weights(), expected):  # loaded the committed epoch-2 state, trained 0 epochs
        np.testing.assert_array_equal(a, b)


def test_config():
    cb = AtomicBackupAndRestore("/tmp/x", delete_checkpoint=False)
    assert AtomicBackupAndRestore(**cb.get_config()).get_config() == cb.get_config()
