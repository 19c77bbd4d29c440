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

    cb = AtomicBackupAndRestore(str(tmp_path / "b"), delete_checkpoint=True)
    m = _model()
    try:
        m.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0, callbacks=[cb, _Stop(3)])
    except KeyboardInterrupt:
        pass
    meta = json.loads((tmp_path / "b" / "training_metadata.json").read_text())
    assert meta["epoch"] == 3 and meta["weights"] == "epoch000003.weights.h5"
    assert meta["state"] == "epoch000003.state.npz"
    assert sorted(os.listdir(tmp_path / "b")) == ["epoch000003.state.npz", "epoch000003.weights.h5",
                                                  "training_metadata.json"]
    resumed = _model()  # fresh process stand-in: new weights, new optimizer
    history = resumed.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0,
                          callbacks=[AtomicBackupAndRestore(str(tmp_path / "b"), delete_checkpoint=True)])
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


def _dropout_model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6,))
    h = keras.layers.Dropout(0.5, seed=3)(keras.layers.Dense(16)(inp))
    h = keras.layers.GaussianNoise(0.3, seed=4)(h)
    m = keras.Model(inp, keras.layers.Dense(2)(h))
    m.compile(keras.optimizers.SGD(0.01, momentum=0.9), "mse")
    return m


def test_resume_with_dropout_draws_the_masks_of_the_uninterrupted_run(tmp_path):
    """The seed generators' state is part of the backup: after a resume, dropout and noise draw what the
    uninterrupted run drew (without it the weights differ from epoch 3 on)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 6)).astype("float32"), rng.normal(size=(32, 2)).astype("float32")
    straight = _dropout_model()
    straight.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0)
    m = _dropout_model()
    try:
        m.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0,
              callbacks=[AtomicBackupAndRestore(str(tmp_path / "b")), _Stop(3)])
    except KeyboardInterrupt:
        pass
    resumed = _dropout_model()
    resumed.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0,
                callbacks=[AtomicBackupAndRestore(str(tmp_path / "b"))])
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)


class _Provider:
    def __init__(self):
        self.value, self.restored = np.arange(3.0), None

    def backup_state(self):
        return {"value": self.value, "count": 7}

    def restore_state(self, state):
        self.restored = state


def test_providers_state_travels_with_the_epoch(tmp_path):
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    p = _Provider()
    _model().fit(x, y, epochs=2, batch_size=4, verbose=0,
                 callbacks=[AtomicBackupAndRestore(str(tmp_path / "b"), state_providers=[p])])
    q = _Provider()
    _model().fit(x, y, epochs=2, batch_size=4, verbose=0,
                 callbacks=[AtomicBackupAndRestore(str(tmp_path / "b"), state_providers=[q])])
    np.testing.assert_array_equal(q.restored["value"], np.arange(3.0))
    assert q.restored["count"] == 7


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    from callbacks.backup_and_restore import remove_stale_temporaries

    (tmp_path / "incomplete-999999.weights.h5").write_bytes(b"x")  # no such process
    (tmp_path / f"incomplete-{os.getpid()}.weights.h5").write_bytes(b"x")  # this one is alive
    assert remove_stale_temporaries(tmp_path) == ["incomplete-999999.weights.h5"]
    assert (tmp_path / f"incomplete-{os.getpid()}.weights.h5").exists()


def test_config():
    cb = AtomicBackupAndRestore("/tmp/x", delete_checkpoint=False)
    assert AtomicBackupAndRestore(**cb.get_config()).get_config() == cb.get_config()
