"""Crash-safe backup and restore of the training state (weights, optimizer slots, epoch).

``keras.callbacks.BackupAndRestore`` writes ``latest.weights.h5`` and then ``training_metadata.json`` in place:
a process killed between (or during) the two writes leaves weights of epoch e beside metadata of epoch e − 1,
and the rerun silently trains epoch e twice. ``AtomicBackupAndRestore`` keeps the same public behaviour and
file names for the metadata, but commits a state in two atomic renames:

1. the weights (model + optimizer variables) go to ``epoch<e>.weights.h5`` through a temporary file and
   ``os.replace``;
2. ``training_metadata.json`` (``{"epoch": e, "weights": "epoch<e>.weights.h5"}``) is replaced atomically;
3. only then are older weight files deleted.

Whatever instant the process dies at, the metadata names a complete weights file of the same epoch, so a rerun
resumes exactly at the start of epoch e with the state the uninterrupted run had there.
"""
from __future__ import annotations

import json
import os

import keras


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` at epoch ends with atomic commits (see the module docstring).

    Args:
        backup_dir: folder for the state; used by this callback alone.
        delete_checkpoint: remove the folder when ``fit`` completes (default True).
        write: False for the non-chief workers of a multi-worker job: they restore from the chief's folder
            but never write to it.
    """

    METADATA = "training_metadata.json"

    def __init__(self, backup_dir, delete_checkpoint=True, write=True):
        super().__init__(backup_dir, save_freq="epoch", double_checkpoint=False,
                         delete_checkpoint=delete_checkpoint and write)
        self.write = bool(write)
        self._metadata_path = os.path.join(backup_dir, self.METADATA)

    def get_config(self):
        return {"backup_dir": self.backup_dir, "delete_checkpoint": self.delete_checkpoint, "write": self.write}

    def read_metadata(self):
        """The committed state ``{"epoch": e, "weights": file}``, or None if nothing is committed."""
        try:
            with open(self._metadata_path) as f:
                meta = json.load(f)
            int(meta["epoch"])
            return meta
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def on_train_begin(self, logs=None):
        meta = self.read_metadata()
        if meta is None or "weights" not in meta:
            return
        if not self.model.built:
            raise ValueError("AtomicBackupAndRestore needs a built model before fit(); call it on a batch first")
        weights = os.path.join(self.backup_dir, meta["weights"])
        if not os.path.exists(weights):
            raise FileNotFoundError(f"backup metadata {self._metadata_path} names a missing file {weights}")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(weights)
        self.model._initial_epoch = int(meta["epoch"])

    def _save_model(self):
        if not self.write:
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        epoch = self._current_epoch
        name = f"epoch{epoch:06d}.weights.h5"
        final = os.path.join(self.backup_dir, name)
        tmp = os.path.join(self.backup_dir, f"incomplete-{os.getpid()}.weights.h5")
        self.model.save_weights(tmp, overwrite=True)
        os.replace(tmp, final)
        meta_tmp = f"{self._metadata_path}.incomplete-{os.getpid()}"
        with open(meta_tmp, "w") as f:
            json.dump({"epoch": epoch, "batch": 0, "weights": name}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(meta_tmp, self._metadata_path)
        for other in os.listdir(self.backup_dir):
            if other != name and (other.endswith(".weights.h5") or ".incomplete-" in other):
                try:
                    os.remove(os.path.join(self.backup_dir, other))
                except FileNotFoundError:
                    pass
