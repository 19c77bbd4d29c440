"""Multilayer perceptron builder for the regression and classification experiments.

Each hidden layer computes h = σ(W h_prev + b); the output layer z = W_out h + b_out, with an optional
output activation. The lecture's regularizers plug in as arguments: a kernel penalty Ω(w) (kernels only),
dropout with rate 1 − p after each hidden layer, and a normalization layer before each activation.
"""
from __future__ import annotations

import keras

from augment.checks import check_choice, check_int_sequence, check_positive_int, check_rate, check_seed

MLP_NORMS = ("none", "batch", "layer")


def build_mlp(
    input_shape,
    hidden_units=(64,),
    num_outputs=1,
    activation="relu",
    output_activation=None,
    kernel_regularizer=None,
    dropout_rate=0.0,
    norm="none",
    seed=None,
    name="mlp",
):
    """Build an MLP: inputs → [Dense → norm → σ → Dropout] × len(hidden_units) → Dense(num_outputs).

    Args:
        input_shape: shape of one example (flattened first if it has more than one axis).
        hidden_units: width of each hidden layer (integers >= 1; empty gives a linear model).
        num_outputs: width of the output layer.
        kernel_regularizer: Keras regularizer for every kernel (not biases).
        dropout_rate: Keras ``Dropout`` rate 1 − p after each hidden layer, in [0, 1).
        norm: ``"none"``, ``"batch"`` or ``"layer"``.
    """
    hidden_units = check_int_sequence("hidden_units", hidden_units, 1)
    num_outputs = check_positive_int("num_outputs", num_outputs)
    dropout_rate = check_rate("dropout_rate", dropout_rate)
    check_choice("norm", norm, MLP_NORMS)
    seed = check_seed("seed", seed)
    if isinstance(input_shape, int):
        input_shape = (input_shape,)
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    x = keras.layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, kernel_regularizer=kernel_regularizer, name=f"hidden{i + 1}")(x)
        if norm == "batch":
            x = keras.layers.BatchNormalization(name=f"norm{i + 1}")(x)
        elif norm == "layer":
            x = keras.layers.LayerNormalization(name=f"norm{i + 1}")(x)
        x = keras.layers.Activation(activation, name=f"act{i + 1}")(x)
        if dropout_rate > 0:
            x = keras.layers.Dropout(dropout_rate, seed=None if seed is None else seed + i, name=f"dropout{i + 1}")(x)
    outputs = keras.layers.Dense(num_outputs, activation=output_activation,
                                 kernel_regularizer=kernel_regularizer, name="output")(x)
    return keras.Model(inputs, outputs, name=name)
