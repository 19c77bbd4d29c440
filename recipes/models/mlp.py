"""Multilayer perceptron builder for the regression and classification experiments.

Each hidden layer computes h = σ(W h_prev + b); the output layer z = W_out h + b_out, with an optional
output activation. The lecture's regularizers plug in as arguments: a kernel penalty Ω(w) (kernels only),
dropout with rate 1 − p after each hidden layer, and a normalization layer before each activation.
"""
from __future__ import annotations

import keras

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
    hidden_units = tuple(hidden_units)
    if any(not isinstance(u, int) or isinstance(u, bool) or u < 1 for u in hidden_units):
        raise ValueError(f"hidden_units must be integers >= 1, got {hidden_units!r}")
    if not isinstance(num_outputs, int) or num_outputs < 1:
        raise ValueError(f"num_outputs must be an integer >= 1, got {num_outputs!r}")
    if not 0.0 <= float(dropout_rate) < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate!r}")
    if norm not in MLP_NORMS:
        raise ValueError(f"norm must be one of {MLP_NORMS}, got {norm!r}")
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
