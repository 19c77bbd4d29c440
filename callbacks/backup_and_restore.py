"""Crash-safe backup and restore of the whole training state: weights, optimizer slots, random state, epoch.

``keras.callbacks.BackupAndRestore`` writes ``latest.weights.h5`` and then ``training_metadata.json`` in place:
a process killed between (or during) the two writes leaves weights of epoch e beside metadata of epoch e − 1,
and the rerun silently trains epoch e twice. Nor does it save the random state of the model (the
``keras.random.SeedGenerator`` of every dropout, DropConnect or noise layer), so a resumed run draws other masks
than the uninterrupted one. ``AtomicBackupAndRestore`` keeps the same public behaviour and the metadata's file
name, and commits the state of the end of epoch e in this order:

1. the weights (model + optimizer variables) go to ``epoch<e>.weights.h5`` through a temporary file, flushed to
   disk, and ``os.replace``;
2. the rest of the state — every seed generator's state and what each ``state_providers`` object returns from
   ``backup_state()`` (e.g. the averaged weights of Lookahead/EMA) — goes to ``epoch<e>.state.npz`` the same way;
3. ``training_metadata.json`` (``{"epoch": e, "weights": …, "state": …}``) is replaced atomically: the commit;
4. only then are older files deleted.

Whatever instant the process dies at, the metadata names complete files of the same epoch, so a rerun resumes
exactly at the start of epoch e with the state the uninterrupted run had there. Temporary files of a process that
died (``incomplete-<pid>…``) are removed when a run starts. The folder is kept after ``fit`` unless
``delete_checkpoint=True``: a caller that still has results to commit removes it itself, afterwards.

For fault-injection tests, the environment variable ``RECIPES_KILL_AT`` names a commit point at which the process
kills itself with SIGKILL (``backup:weights-written``, ``backup:weights-committed``, ``backup:state-committed``,
``backup:metadata-committed``, ``backup:old-removed``; see ``kill_point``).
"""
from __future__ import annotations

import io
import json
import os
import signal

import keras
import numpy as np

METADATA = "training_metadata.json"


def kill_point(name):
    """SIGKILL this process when ``RECIPES_KILL_AT`` equals ``name`` (fault injection for tests; a no-op
    otherwise)."""
    if os.environ.get("RECIPES_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def fsync_path(path):
    """Flush a file's (or a folder's) contents to disk (best effort on systems without directory fsync)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_atomically(tmp, final):
    """``os.replace(tmp, final)`` after flushing ``tmp``; then flush the folder (so the rename survives a crash)."""
    fsync_path(tmp)
    os.replace(tmp, final)
    fsync_path(os.path.dirname(os.path.abspath(final)))


def pid_alive(pid):
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def remove_stale_temporaries(folder):
    """Remove ``incomplete-<pid>…`` files (and ``*.incomplete-<pid>``) left by processes that no longer run."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for name in names:
        tag = name.split("incomplete-", 1)[1] if "incomplete-" in name else None
        if tag is None:
            continue
        pid = tag.split(".", 1)[0]
        if pid.isdigit() and not pid_alive(pid):
            try:
                os.remove(os.path.join(folder, name))
                removed.append(name)
            except OSError:
                pass
    return removed


def seed_generator_states(model):
    """The state variables of every ``keras.random.SeedGenerator`` the model holds (the random state that
    ``model.save_weights`` leaves out), in the model's own order (their paths depend on how many generators the
    process created before, so the order, not the path, identifies them)."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights and "seed_generator" in v.path]


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` at epoch ends with atomic commits of the whole training state (module docstring).

    Args:
        backup_dir: folder for the state; used by this callback alone.
        delete_checkpoint: remove the folder when ``fit`` completes (default False: the caller removes it once its
            own results are committed).
        write: False for the non-chief workers of a multi-worker job: they restore from the chief's folder
            but never write to it.
        state_providers: objects with ``backup_state() -> dict`` (str → NumPy array or JSON-able value) and
            ``restore_state(dict)``, saved and restored with the epoch (callbacks whose state matters).
        model: the model whose weights, optimizer and random state are backed up (default: the model ``fit``
            runs). A training wrapper around a network (e.g. one that augments on the device) passes the network,
            compiled with the same optimizer, so that the backup does not depend on the wrapper.
    """

    METADATA = METADATA

    def __init__(self, backup_dir, delete_checkpoint=False, write=True, state_providers=(), model=None):
        super().__init__(backup_dir, save_freq="epoch", double_checkpoint=False,
                         delete_checkpoint=delete_checkpoint and write)
        self.target_model = model
        self.write = bool(write)
        self.state_providers = list(state_providers)
        for i, p in enumerate(self.state_providers):
            if not (callable(getattr(p, "backup_state", None)) and callable(getattr(p, "restore_state", None))):
                raise TypeError(f"state_providers[{i}] must have backup_state() and restore_state(state), "
                                f"got {type(p).__name__}")
        self._metadata_path = os.path.join(backup_dir, METADATA)

    def get_config(self):
        return {"backup_dir": self.backup_dir, "delete_checkpoint": self.delete_checkpoint, "write": self.write}

    def read_metadata(self):
        """The committed state ``{"epoch": e, "weights": file, "state": file}``, or None if nothing is
        committed."""
        try:
            with open(self._metadata_path) as f:
                meta = json.load(f)
            int(meta["epoch"])
            return meta
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def on_train_begin(self, logs=None):
        if self.write:
            remove_stale_temporaries(self.backup_dir)
        meta = self.read_metadata()
        if meta is None or "weights" not in meta:
            return
        model = self._target()
        if not model.built:
            raise ValueError("AtomicBackupAndRestore needs a built model before fit(); call it on a batch first")
        weights = os.path.join(self.backup_dir, meta["weights"])
        if not os.path.exists(weights):
            raise FileNotFoundError(f"backup metadata {self._metadata_path} names a missing file {weights}")
        if getattr(model, "optimizer", None) is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(weights)
        if meta.get("state"):
            self._restore_state(os.path.join(self.backup_dir, meta["state"]))
        self.model._initial_epoch = int(meta["epoch"])

    def _target(self):
        return self.target_model if self.target_model is not None else self.model

    def _restore_state(self, path):
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        extra = json.loads(str(arrays.pop("__json__"))) if "__json__" in arrays else {}
        seeds = seed_generator_states(self._target())
        stored = sorted((k for k in arrays if k.startswith("seed:")), key=lambda k: int(k[5:]))
        if len(stored) != len(seeds):
            raise ValueError(f"the backup in {self.backup_dir} holds {len(stored)} random-state variables, the "
                             f"model has {len(seeds)}: it is not this model's backup")
        for variable, key in zip(seeds, stored):
            variable.assign(arrays[key])
        for i, provider in enumerate(self.state_providers):
            prefix = f"provider{i}:"
            state = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            state.update(extra.get(str(i), {}))
            if state:
                provider.restore_state(state)

    def _state_arrays(self):
        arrays, extra = {}, {}
        for i, variable in enumerate(seed_generator_states(self._target())):
            arrays[f"seed:{i}"] = np.asarray(keras.ops.convert_to_numpy(variable))
        for i, provider in enumerate(self.state_providers):
            for key, value in provider.backup_state().items():
                if isinstance(value, np.ndarray):
                    arrays[f"provider{i}:{key}"] = value
                else:
                    extra.setdefault(str(i), {})[key] = value
        arrays["__json__"] = np.array(json.dumps(extra))
        return arrays

    def _save_model(self):
        if not self.write:
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        epoch = self._current_epoch
        pid = os.getpid()
        name = f"epoch{epoch:06d}.weights.h5"
        state_name = f"epoch{epoch:06d}.state.npz"
        tmp = os.path.join(self.backup_dir, f"incomplete-{pid}.weights.h5")
        self._target().save_weights(tmp, overwrite=True)
        kill_point("backup:weights-written")
        replace_atomically(tmp, os.path.join(self.backup_dir, name))
        kill_point("backup:weights-committed")
        buffer = io.BytesIO()
        np.savez(buffer, **self._state_arrays())
        state_tmp = os.path.join(self.backup_dir, f"incomplete-{pid}.state.npz")
        with open(state_tmp, "wb") as f:
            f.write(buffer.getvalue())
        replace_atomically(state_tmp, os.path.join(self.backup_dir, state_name))
        kill_point("backup:state-committed")
        meta_tmp = f"{self._metadata_path}.incomplete-{pid}"
        with open(meta_tmp, "w") as f:
            json.dump({"epoch": epoch, "batch": 0, "weights": name, "state": state_name}, f)
        replace_atomically(meta_tmp, self._metadata_path)
        kill_point("backup:metadata-committed")
        for other in os.listdir(self.backup_dir):
            if other not in (name, state_name, METADATA) and (
                    other.endswith((".weights.h5", ".state.npz")) or ".incomplete-" in other
                    or other.startswith("incomplete-")):
                try:
                    os.remove(os.path.join(self.backup_dir, other))
                except FileNotFoundError:
                    pass
        kill_point("backup:old-removed")
