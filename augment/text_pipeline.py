"""``tf.data`` pipelines that feed augmented text to ``model.fit``.

Two routes, for any augmenter ``a(sentence) -> list[str]`` (e.g. :class:`augment.eda.EDA`):

* on the fly (:func:`on_the_fly_dataset`): each epoch, every training sentence ``x`` is replaced,
  with probability ``p``, by one augmentation drawn from ``a(x)``; done in Python through
  ``tf.py_function`` on whole batches (one Python call per batch, not per sentence);
* offline (:func:`expand_offline` + :func:`load_expanded`): the expanded set ``{x} U a(x)`` with its
  labels is written once to a tab-separated file and read back with ``TextLineDataset``, so training
  costs no augmentation time (the EDA paper's route: ``n_aug`` sentences per original).

Labels are integers; sentences come out as ``tf.string`` ready for ``keras.layers.TextVectorization``.
"""
from __future__ import annotations

import os
import pathlib
import random

import numpy as np
import tensorflow as tf

from augment.checks import check_positive_int, check_probability, check_seed

__all__ = ["detect_encoding", "read_labeled_sentences", "on_the_fly_dataset", "expand_offline", "load_expanded",
           "plain_dataset"]


def detect_encoding(data: bytes) -> str:
    """``"utf-8"`` when ``data`` decodes as UTF-8, else ``"latin-1"``. Text in Latin-1 (or cp1252) with any
    byte >= 0x80 is almost never valid UTF-8 (an accented letter would have to be followed by the exact
    continuation bytes), so this tells the two apart; pure ASCII is both and reads the same either way."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def read_labeled_sentences(path, encoding: str | None = None):
    """Read a ``label<space or tab>text`` file (the EDA / Kim 2014 sets). Lines are split on ``\\n``
    only (some sets hold byte 0x85, which ``str.splitlines`` would take as a line break).

    ``encoding=None`` detects it (:func:`detect_encoding`): UTF-8 — what :func:`expand_offline` writes, and
    the SST-2 files — when the file decodes as UTF-8, else Latin-1 (the MR, SUBJ and TREC files of the
    shared data); give ``encoding`` to force one."""
    texts, labels = [], []
    with open(path, "rb") as f:
        data = f.read()
    raw = data.decode(encoding or detect_encoding(data))
    for line in raw.split("\n"):
        line = line.strip("\r")
        if not line.strip():
            continue
        head, _, text = line.replace("\t", " ", 1).partition(" ")
        labels.append(int(head))
        texts.append(text.strip())
    return texts, np.asarray(labels, dtype="int64")


def plain_dataset(texts, labels, batch_size=32, shuffle=True, seed=0):
    """Unaugmented ``(text, label)`` batches."""
    batch_size = check_positive_int("batch_size", batch_size)
    seed = check_seed("seed", seed)
    ds = tf.data.Dataset.from_tensor_slices((list(texts), np.asarray(labels, dtype="int64")))
    if shuffle:
        ds = ds.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def on_the_fly_dataset(texts, labels, augmenter, p=None, batch_size=32, shuffle=True, seed=0):
    """Batches whose sentences are each replaced, with probability ``p``, by one random output of
    ``augmenter(sentence)``. Default ``p = n_aug / (n_aug + 1)`` (when the augmenter has ``n_aug``),
    the share of augmented sentences in the paper's offline expansion; else 0.5.

    Randomness comes from ``random.Random(seed)``: with ``shuffle=False`` the stream is reproducible. An
    augmentation that is empty (or only spaces) while the sentence is not is never used: the sentence is
    kept (a model would otherwise train on "" with the sentence's label).
    """
    if p is None:
        n_aug = getattr(augmenter, "n_aug", 1)
        p = n_aug / (n_aug + 1)
    p = check_probability("p", p)
    batch_size = check_positive_int("batch_size", batch_size)
    seed = check_seed("seed", seed)
    rng = random.Random(seed)

    def _augment_batch(batch):
        out = []
        for s in batch.numpy():
            s = s.decode("utf-8")
            if rng.random() < p:
                choices = augmenter(s)
                if choices:
                    choice = choices[rng.randrange(len(choices))]
                    if choice.strip() or not s.strip():
                        s = choice
            out.append(s)
        return tf.constant(out, dtype=tf.string)

    def _map(x, y):
        x = tf.py_function(_augment_batch, [x], Tout=tf.string)
        x.set_shape([None])
        return x, y

    ds = tf.data.Dataset.from_tensor_slices((list(texts), np.asarray(labels, dtype="int64")))
    if shuffle:
        ds = ds.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).map(_map, num_parallel_calls=1).prefetch(tf.data.AUTOTUNE)


def expand_offline(texts, labels, augmenter, path, include_original=True):
    """Write ``{x} U augmenter(x)`` for every sentence, one ``label<TAB>text`` line each, to ``path``, in
    UTF-8 (what :func:`read_labeled_sentences` detects and :func:`load_expanded` reads). Returns the number
    of lines written."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for text, label in zip(texts, labels):
            group = ([text] if include_original else []) + list(augmenter(text))
            for s in group:
                s = " ".join(s.replace("\t", " ").split())
                f.write(f"{int(label)}\t{s}\n")
                n += 1
    os.replace(tmp, path)
    return n


def load_expanded(path, batch_size=32, shuffle=True, seed=0):
    """``(text, label)`` batches from a file written by :func:`expand_offline`."""
    ds = tf.data.TextLineDataset(str(path))
    if shuffle:
        n = sum(1 for _ in open(path, encoding="utf-8"))
        ds = ds.shuffle(max(n, 1), seed=seed, reshuffle_each_iteration=True)

    def _parse(line):
        parts = tf.strings.split(line, "\t", maxsplit=1)
        return parts[1], tf.strings.to_number(parts[0], out_type=tf.int64)

    return ds.map(_parse, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)
