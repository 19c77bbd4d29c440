"""A small sentence classifier for the text-augmentation experiments (SST-2): raw strings in, P(y = 1 | x) out.

    TextVectorization (vocabulary adapted on the training sentences, ``seq_len`` tokens, 0 = padding)
    → Embedding(dim)
    → ``cnn``:  Dropout(0.3) → Conv1D(64, 3, ReLU) → GlobalMaxPool      (Kim 2014, one filter size)
      ``mean``: masked mean of the embeddings over the real tokens         (a bag of embeddings, fastText-like)
    → Dropout(0.5) → Dense(1, sigmoid): p = σ(wᵀh + b), trained with binary cross-entropy.

Dropout layers draw from Keras' global seed (``keras.utils.set_random_seed``).
"""
from __future__ import annotations

import keras

from augment.checks import check_choice, check_positive_int

TEXT_CNN_ARCHS = ("cnn", "mean")


def build_text_cnn(texts, arch="cnn", max_tokens=20000, seq_len=50, dim=64):
    """Build the classifier of the module docstring, its vocabulary adapted on ``texts`` (a list of strings);
    returns an uncompiled ``keras.Model`` taking string tensors of shape (batch, 1)."""
    check_choice("arch", arch, TEXT_CNN_ARCHS)
    for name, value in (("max_tokens", max_tokens), ("seq_len", seq_len), ("dim", dim)):
        check_positive_int(name, value)
    if isinstance(texts, str) or not len(texts):
        raise ValueError(f"texts must be a non-empty list of sentences, got {texts!r:.80}")
    vectorize = keras.layers.TextVectorization(max_tokens=max_tokens, output_sequence_length=seq_len)
    vectorize.adapt(texts, batch_size=1024)
    inputs = keras.Input((1,), dtype="string")
    h = vectorize(inputs)
    h = keras.layers.Embedding(max_tokens, dim)(h)
    if arch == "cnn":
        h = keras.layers.Dropout(0.3)(h)
        h = keras.layers.Conv1D(64, 3, activation="relu")(h)
        h = keras.layers.GlobalMaxPooling1D()(h)
    else:  # vectorize pads with index 0: masked out of the mean
        h = keras.layers.GlobalAveragePooling1D()(h, mask=keras.ops.not_equal(vectorize(inputs), 0))
    h = keras.layers.Dropout(0.5)(h)
    outputs = keras.layers.Dense(1, activation="sigmoid")(h)
    return keras.Model(inputs, outputs, name=f"text_{arch}")
