"""The run folder as a transaction: what a training run writes to ``--output-dir``, in which order, and what a
rerun makes of it.

A run's folder (``--output-dir``, or ``--output-dir/seed<k>`` for each seed when ``--seeds`` > 1) holds:

- ``run.json`` — the run's record, written first and committed last: its identity (every setting that changes the
  result, the toolkit's version and a fingerprint of the data), its state (``running`` or ``finished``) and, once
  finished, its result;
- ``config.json`` (every setting), ``history.csv`` (a row per epoch, appended as each epoch ends), TensorBoard
  ``logs/`` and, while training, ``backup/`` (the last committed epoch, ``callbacks.backup_and_restore``);
- when the run has finished: ``model.keras``, ``history.json``, ``metrics.json`` (and ``early_stopping.json``);
- with several seeds, at the top: ``results.csv`` (a row per seed) and ``summary.json``.

The rules a rerun with the same ``--output-dir`` follows (``RunFolder.check``):

- same identity, not finished: resume from the last committed epoch (exactly: the random state is in the backup);
- same identity, finished: print the stored result, train nothing;
- another identity: refuse (exit 2) before touching anything, naming every setting that differs;
- files that no run created (no ``run.json``): refuse, naming them;
- ``--overwrite``: move whatever is there into ``superseded-<time>/`` (nothing is deleted) and start afresh.

One process at a time holds the folder (``FolderLock``: ``.lock`` with its pid and host; a lock left by a dead
process on this host is taken over). The end of a run is committed in this order, each file through a temporary
file, flushed, and an atomic rename: the model, the history, the metrics, then the record (``finished``); only then
is the backup removed. A process killed at any instant leaves either a resumable run (the record says
``running`` and the backup holds the last epoch) or a finished one; history rows are never truncated in place.
The environment variable ``RECIPES_KILL_AT`` names a commit point (``finish:...``) at which the process kills
itself, for the tests that prove it.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime
import hashlib
import json
import math
import os
import pathlib
import shutil
import socket
import tempfile

import numpy as np

import recipes
from callbacks.backup_and_restore import kill_point, pid_alive, remove_stale_temporaries, replace_atomically

RECORD = "run.json"
LOCK = ".lock"
RESULT_KEYS = ("seed", "test_accuracy", "train_s", "compile_s", "eval_s", "images_per_s", "train_cpu_s",
               "images_per_cpu_s", "time_to_target_s", "first_loss", "last_loss", "steps")
#: What a run may create in its folder (besides ``seed<k>/`` folders and ``superseded-*/``).
RUN_NAMES = frozenset({RECORD, LOCK, "config.json", "history.csv", "history.json", "metrics.json", "model.keras",
                       "early_stopping.json", "logs", "backup", "results.csv", "summary.json"})
#: Settings that do not change the result (where and how verbosely it runs, what is reported): not identity.
NOT_IDENTITY = frozenset({"data_dir", "cache_dir", "output_dir", "verbose", "tensorboard", "save_model",
                          "eval_every_epoch", "eval_batch_size", "target", "strategy", "logical_cpus",
                          "collective_timeout", "augment_on", "seeds", "overwrite"})


class RunFolderError(ValueError):
    """The folder cannot be used as asked (another run's settings, files of another program, a lock held)."""


def _flag(name):
    return "--" + name.replace("_", "-")


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def identity(cfg, seed=None, data_fingerprint=None):
    """The run's identity: every setting that changes its result (``NOT_IDENTITY`` excluded), the seed of this
    folder, the toolkit's version and, when known, the data's fingerprint."""
    out = {k: _jsonable(v) for k, v in dataclasses.asdict(cfg).items() if k not in NOT_IDENTITY}
    if seed is not None:
        out["seed"] = seed
    out["version"] = recipes.__version__
    if data_fingerprint is not None:
        out["data"] = data_fingerprint
    return out


def differences(stored, now):
    """``["--lr 0.1 (the folder's run) vs 0.05 (now)", …]`` for every identity entry that differs (the data
    fingerprint is compared only when both have one)."""
    out = []
    for key in sorted(set(stored) | set(now)):
        if key == "data" and (key not in stored or key not in now):
            continue
        a, b = stored.get(key, "(unset)"), now.get(key, "(unset)")
        if a != b:
            name = {"version": "the toolkit's version", "data": "the data (its fingerprint)"}.get(key, _flag(key))
            out.append(f"{name} {a} (the folder's run) vs {b} (now)")
    return out


def data_fingerprint(splits):
    """A short BLAKE2 digest of the run's images and labels (train, validation, test), in their order."""
    h = hashlib.blake2b(digest_size=12)
    for x, y in (splits.train, splits.val, splits.test):
        for a in (np.ascontiguousarray(x), np.ascontiguousarray(y)):
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(a.tobytes() if a.size == 0 else memoryview(a).cast("B"))
    return h.hexdigest()


def write_text_atomically(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same folder, flushed, then renamed."""
    path = pathlib.Path(path)
    tmp = path.with_name(f"{path.name}.incomplete-{os.getpid()}")
    tmp.write_text(text)
    replace_atomically(str(tmp), str(path))


def check_writable_folder(path, flag):
    """Raise ``RunFolderError`` naming ``flag`` unless ``path`` is (or can become) a folder this process can create
    files in: its nearest existing ancestor must be a folder, and a probe file must be creatable there (permission
    bits prove nothing for root, a read-only file system does)."""
    p = pathlib.Path(path).expanduser().absolute()
    ancestor = p
    while not ancestor.exists():
        if ancestor.parent == ancestor:
            break
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        where = "is a file" if ancestor == p else f"is under a file, {ancestor}"
        raise RunFolderError(f"{flag} {path} {where}: it must be a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=ancestor)
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise RunFolderError(f"{flag} {path} is not writable ({ancestor}: {err.strerror or err})") from None


class FolderLock:
    """``.lock`` in a folder, held by one process at a time (``with FolderLock(folder):``). The file holds the
    holder's pid, host and start time; a lock whose process no longer runs on this host is taken over."""

    def __init__(self, folder, flag="--output-dir"):
        self.folder, self.flag = pathlib.Path(folder), flag
        self.path = self.folder / LOCK
        self.held = False

    def holder(self):
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def acquire(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                other = self.holder()
                if other is None:  # being written right now, or garbage: look again
                    if self._older_than(5):
                        self._remove()
                    continue
                if other.get("host") == me["host"] and not pid_alive(other.get("pid", -1)):
                    self._remove()  # its process is gone: take it over
                    continue
                raise RunFolderError(
                    f"{self.flag} {self.folder} is in use by process {other.get('pid')} on {other.get('host')} "
                    f"(since {other.get('started')}); wait for it to end, or choose another {self.flag}") from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return self
        raise RunFolderError(f"{self.flag} {self.folder}: could not take {self.path}")

    def _older_than(self, seconds):
        try:
            return (datetime.datetime.now().timestamp() - self.path.stat().st_mtime) > seconds
        except OSError:
            return True

    def _remove(self):
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def release(self):
        if self.held:
            other = self.holder()
            if other is None or other.get("pid") == os.getpid():
                self._remove()
            self.held = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


class RunFolder:
    """One run's folder (see the module docstring)."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.record_path = self.path / RECORD

    # -- reading --------------------------------------------------------------------------------------------
    def record(self):
        """The committed record, or None."""
        try:
            record = json.loads(self.record_path.read_text())
            return record if isinstance(record, dict) and "identity" in record else None
        except (OSError, ValueError):
            return None

    def check(self, ident, overwrite=False, flag="--output-dir"):
        """What a run with identity ``ident`` does with this folder: ``"new"``, ``"resume"`` or ``"finished"``;
        raises ``RunFolderError`` (nothing touched) for another run's settings or files of another program.
        With ``overwrite`` the answer is ``"overwrite"`` when there is anything to move aside."""
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(f"{flag} {self.path} exists and is not a folder")
        entries = [n for n in (os.listdir(self.path) if self.path.is_dir() else [])
                   if n != LOCK and not n.startswith("superseded-")]
        if not entries:
            return "new"
        if overwrite:
            return "overwrite"
        record = self.record()
        if record is None:
            names = ", ".join(entries[:8]) + (" …" if len(entries) > 8 else "")
            raise RunFolderError(
                f"{flag} {self.path} holds files that no run of this toolkit's version recorded ({names}); "
                f"choose an empty or new {flag}, or pass --overwrite to move them into {self.path}/superseded-<time>/")
        diff = differences(record["identity"], ident)
        if diff:
            raise RunFolderError(
                f"{flag} {self.path} holds a run with other settings: " + "; ".join(diff)
                + f". Rerun with the folder's settings to resume it, choose another {flag}, or pass --overwrite "
                  f"(the old files are moved into {self.path}/superseded-<time>/)")
        return "finished" if record.get("state") == "finished" else "resume"

    def stored_result(self):
        record = self.record() or {}
        return record.get("result")

    # -- writing --------------------------------------------------------------------------------------------
    def move_aside(self):
        """Move every entry but the lock and earlier ``superseded-*`` folders into ``superseded-<UTC time>/``;
        returns that folder (None when there was nothing)."""
        entries = [n for n in os.listdir(self.path) if n != LOCK and not n.startswith("superseded-")]
        if not entries:
            return None
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
        target = self.path / f"superseded-{stamp}"
        k = 1
        while target.exists():
            k += 1
            target = self.path / f"superseded-{stamp}-{k}"
        target.mkdir()
        for name in entries:
            os.replace(self.path / name, target / name)
        return target

    def begin(self, ident, cfg, seed):
        """Create the folder and commit the record (state ``running``) and ``config.json``; clean temporary files
        of dead processes."""
        self.path.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.path)
        record = self.record()
        if record is None or record.get("identity") != ident:
            write_text_atomically(self.record_path, json.dumps({"state": "running", "identity": ident}, indent=1))
        write_config(self.path, cfg, seed)

    def finish(self, network, history, metrics, es=None, backup_dir=None):
        """Commit the run's results (model, history, metrics, then the record ``finished``), then remove the
        backup. Each step is atomic; see the module docstring."""
        pid = os.getpid()
        kill_point("finish:begin")
        if network is not None:
            tmp = self.path / f"incomplete-{pid}.model.keras"
            network.save(tmp)
            replace_atomically(str(tmp), str(self.path / "model.keras"))
        kill_point("finish:model-committed")
        write_text_atomically(self.path / "history.json", json.dumps(history, indent=1))
        kill_point("finish:history-committed")
        clean = {k: v for k, v in metrics.items() if k != "model"}
        write_text_atomically(self.path / "metrics.json", json.dumps(clean, indent=2))
        if es is not None:
            write_text_atomically(self.path / "early_stopping.json", json.dumps(
                {**es.summary(), "curve_steps": es.curve_steps, "curve_values": es.curve_values,
                 "continue_steps": es.continue_steps, "continue_values": es.continue_values}, indent=1))
        kill_point("finish:metrics-committed")
        record = self.record() or {}
        record.update(state="finished", result=clean)
        write_text_atomically(self.record_path, json.dumps(record, indent=1))
        kill_point("finish:record-committed")
        if backup_dir is not None and pathlib.Path(backup_dir).exists():
            shutil.rmtree(backup_dir)
        kill_point("finish:backup-removed")


def _config_dict(cfg):
    return {k: _jsonable(v) for k, v in dataclasses.asdict(cfg).items()}


def write_config(out: pathlib.Path, cfg, seed):
    """``config.json``: every field of the configuration, the seed of this folder and the toolkit's version."""
    write_text_atomically(pathlib.Path(out) / "config.json", json.dumps(
        {**_config_dict(cfg), "run_seed": seed, "version": recipes.__version__}, indent=2))


def completed_epochs(backup_dir) -> int:
    """The number of epochs the backup in ``backup_dir`` has committed (0 when there is none)."""
    meta = pathlib.Path(backup_dir) / "training_metadata.json"
    if not meta.exists():
        return 0
    try:
        return int(json.loads(meta.read_text())["epoch"])
    except (ValueError, KeyError, OSError):
        return 0


def trim_history(csv_path: pathlib.Path, keep_epochs: int):
    """Keep the rows of epochs < keep_epochs, so a resumed run appends without duplicates; the file is rewritten
    through a temporary file and a rename, never truncated in place."""
    if not csv_path.exists():
        return
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    body = [r for r in rows[1:] if r and r[0].strip().isdigit() and int(r[0]) < keep_epochs]
    if len(body) == len(rows) - 1:
        return
    tmp = csv_path.with_name(f"{csv_path.name}.incomplete-{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows([rows[0]] + body)
    replace_atomically(str(tmp), str(csv_path))


def read_history(csv_path: pathlib.Path):
    """``{column: [value per epoch]}`` from ``history.csv``; columns that are empty in every row are dropped."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    history = {}
    for key in rows[0].keys() if rows else []:
        values = [float("nan") if r[key] in ("", "NA") else float(r[key]) for r in rows]
        if not all(math.isnan(v) for v in values):  # CSVLogger writes NA for absent metrics
            history[key] = [int(v) if key == "epoch" else v for v in values]
    return history


def summarize(cfg, runs, precision):
    """Mean and standard deviation over seeds of the test accuracy, training time and throughput."""
    import keras

    acc = np.array([r["test_accuracy"] for r in runs])
    train = np.array([r["train_s"] for r in runs])
    hits = [r["time_to_target_s"] for r in runs if r.get("time_to_target_s") is not None]
    return {
        "seeds": len(runs),
        "test_accuracy": float(acc.mean()),
        "test_accuracy_mean": float(acc.mean()), "test_accuracy_std": float(acc.std()),
        "train_s_mean": float(train.mean()), "train_s_std": float(train.std()),
        "images_per_s_mean": float(np.mean([r["images_per_s"] for r in runs])),
        "images_per_cpu_s_mean": float(np.mean([r.get("images_per_cpu_s", float("nan")) for r in runs])),
        "compile_s_mean": float(np.mean([r["compile_s"] for r in runs])),
        "reached_target": f"{len(hits)}/{len(runs)}", "target": cfg.target,
        "time_to_target_s_mean": float(np.mean(hits)) if hits else None,
        "time_to_target_s_std": float(np.std(hits)) if hits else None,
        "backend": keras.backend.backend(), "precision": precision,
        "config": _config_dict(cfg),
        "runs": runs,
    }


def write_summary(out: pathlib.Path, cfg, runs, summary):
    """``results.csv`` (a row per seed) and ``summary.json`` at the top of ``--output-dir`` (atomically)."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"results.csv.incomplete-{os.getpid()}"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(RESULT_KEYS)
        w.writerows([[r.get(k) for k in RESULT_KEYS] for r in runs])
    replace_atomically(str(tmp), str(out / "results.csv"))
    clean = {k: v for k, v in summary.items() if k != "runs"}
    clean["runs"] = [{k: v for k, v in r.items() if k != "model"} for r in runs]
    write_text_atomically(out / "summary.json", json.dumps(clean, indent=2))
