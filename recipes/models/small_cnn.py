"""A small plain CNN: the network of the experiments that need a convolutional model trained in minutes on a CPU.

    x̂ = (x − μ)/σ  (when ``mean``/``std`` are given)
    → [Conv2D(f, 3×3, "same") → BN? → ReLU → MaxPool 2×2?]  for each f in ``filters``
    → head: flatten | global average | global max
    → [Dense(u) → BN? → ReLU]  for each u in ``dense_units``
    → Dropout(rate)?  → Dense(num_classes): logits z (softmax is in the loss)

With ``norm="batch"`` every convolution and hidden dense layer is followed by batch normalization and has no
bias (BN's β replaces it). The experiments use three instances: early stopping on CIFAR-10 (filters 16, 32,
flatten, one dense layer of 64: 137k parameters), batch norm's running vs population statistics (the same with
BN and global average pooling) and the FSDD log-mel classifier (filters 32, 64, 128, the last not pooled,
global max pooling, dropout 0.3).
"""
from __future__ import annotations

import keras

from augment.checks import check_choice, check_int_sequence, check_positive_int, check_rate, check_seed

SMALL_CNN_NORMS = ("none", "batch")
SMALL_CNN_HEADS = ("flatten", "average", "max")


def build_small_cnn(input_shape=(32, 32, 3), filters=(16, 32), pooled=None, norm="none", head="flatten",
                    dense_units=(64,), dropout_rate=0.0, num_classes=10, mean=None, std=None, seed=None,
                    name="small_cnn"):
    """Build the CNN of the module docstring; returns an uncompiled ``keras.Model`` with logits.

    Args:
        input_shape: shape of one example (height, width, channels).
        filters: output channels of each 3×3 convolution (at least one).
        pooled: for each convolution, whether a 2×2 max pooling follows it (default: all of them).
        norm: ``"none"`` or ``"batch"``.
        head: ``"flatten"``, ``"average"`` (global average pooling) or ``"max"`` (global max pooling).
        dense_units: widths of the hidden dense layers after the head (may be empty).
        dropout_rate: rate 1 − p of the dropout before the classifier, in [0, 1); 0 adds none.
        mean, std: per-channel μ_c, σ_c; when given, the model starts with ``keras.layers.Normalization``.
        seed: seed of the dropout layer.
    Layers are named ``conv{i}``, ``bn_conv{i}``, ``dense{j}``, ``bn_dense{j}``, ``logits``.
    """
    filters = check_int_sequence("filters", filters, 1, min_length=1)
    pooled = (True,) * len(filters) if pooled is None else tuple(bool(p) for p in pooled)
    if len(pooled) != len(filters):
        raise ValueError(f"pooled must have one entry per convolution ({len(filters)}), got {len(pooled)}")
    check_choice("norm", norm, SMALL_CNN_NORMS)
    check_choice("head", head, SMALL_CNN_HEADS)
    dense_units = check_int_sequence("dense_units", dense_units, 1)
    dropout_rate = check_rate("dropout_rate", dropout_rate)
    num_classes = check_positive_int("num_classes", num_classes)
    if (mean is None) != (std is None):
        raise ValueError(f"mean and std must be given together (both or neither), got mean={mean!r}, std={std!r}")
    seed = check_seed("seed", seed)
    batch_norm = norm == "batch"

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    if mean is not None:
        x = keras.layers.Normalization(axis=-1, mean=[float(m) for m in mean],
                                       variance=[float(s) ** 2 for s in std], name="standardize")(x)
    for i, (width, pool) in enumerate(zip(filters, pooled)):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=not batch_norm, name=f"conv{i}")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"bn_conv{i}")(x)
        x = keras.layers.ReLU(name=f"relu_conv{i}")(x)
        if pool:
            x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    if head == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
    elif head == "average":
        x = keras.layers.GlobalAveragePooling2D(name="global_average")(x)
    else:
        x = keras.layers.GlobalMaxPooling2D(name="global_max")(x)
    for j, units in enumerate(dense_units):
        x = keras.layers.Dense(units, use_bias=not batch_norm, name=f"dense{j}")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"bn_dense{j}")(x)
        x = keras.layers.ReLU(name=f"relu_dense{j}")(x)
    if dropout_rate > 0:
        x = keras.layers.Dropout(dropout_rate, seed=seed, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
