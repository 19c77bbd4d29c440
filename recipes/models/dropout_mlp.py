"""The dropout family on one MLP: x (flattened image) → h → h → logits, ReLU, with one regularizer per ``kind``.

Each hidden layer computes h = relu(W h_prev + b); the output z = W_out h + b_out. The kinds differ only in
where the randomness enters (keep-probability p, Keras rate 1 − p; the lecture's defaults of
``recipes.dropout.rates``):

- ``none``: no regularization;
- ``dropout``: inverted dropout h̃ = h ⊙ δ/p, δ_i ~ Bernoulli(p), with p = 0.8 on the input and p = 0.5 after each
  hidden layer;
- ``dropconnect``: DropConnect on the last two weight layers, z = (W ⊙ M) h + b with one mask M per example,
  M_ij ~ Bernoulli(0.5) (``recipes.dropout.dropconnect.DropConnectDense``);
- ``structural``: structural dropout after each hidden layer, keeping the first k units, k random while training
  (``recipes.dropout.structural_dropout.StructuralDropout``), so that the width can be chosen at inference.
"""
from __future__ import annotations

import keras

from augment.checks import check_choice, check_positive_int, check_seed
from recipes.dropout.dropconnect import DropConnectDense
from recipes.dropout.rates import HIDDEN_RATE, INPUT_RATE
from recipes.dropout.structural_dropout import StructuralDropout

DROPOUT_MLP_KINDS = ("none", "dropout", "dropconnect", "structural")


def build_dropout_mlp(kind="none", hidden=256, input_dim=3072, num_classes=10, seed=0):
    """Build the MLP of the module docstring; returns an uncompiled ``keras.Model`` named ``kind``.

    Layers: ``hidden1``, ``hidden2``, ``logits`` (Dense or DropConnectDense), ``drop_in``/``drop1``/``drop2``
    (dropout), ``struct1``/``struct2`` (structural dropout); the random layers are seeded seed, seed + 1, ….
    """
    check_choice("kind", kind, DROPOUT_MLP_KINDS)
    check_positive_int("hidden", hidden)
    check_positive_int("input_dim", input_dim)
    check_positive_int("num_classes", num_classes)
    seed = check_seed("seed", seed, optional=False)
    inputs = keras.Input((input_dim,), name="pixels")
    x = inputs
    if kind == "dropout":
        x = keras.layers.Dropout(INPUT_RATE, seed=seed, name="drop_in")(x)
    x = keras.layers.Dense(hidden, activation="relu", name="hidden1")(x)
    if kind == "dropout":
        x = keras.layers.Dropout(HIDDEN_RATE, seed=seed + 1, name="drop1")(x)
    if kind == "structural":
        x = StructuralDropout(seed=seed + 1, name="struct1")(x)
    if kind == "dropconnect":
        x = DropConnectDense(hidden, rate=HIDDEN_RATE, mask="example", seed=seed + 2, activation="relu",
                             name="hidden2")(x)
    else:
        x = keras.layers.Dense(hidden, activation="relu", name="hidden2")(x)
    if kind == "dropout":
        x = keras.layers.Dropout(HIDDEN_RATE, seed=seed + 3, name="drop2")(x)
    if kind == "structural":
        x = StructuralDropout(seed=seed + 3, name="struct2")(x)
    if kind == "dropconnect":
        outputs = DropConnectDense(num_classes, rate=HIDDEN_RATE, mask="example", seed=seed + 4, name="logits")(x)
    else:
        outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=kind)
