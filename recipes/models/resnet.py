"""CIFAR ResNets: He et al. 2016 (ResNet-20/32/56/110) and ResNet-18/34 with a width parameter k.

A residual block computes h_{l+1} = σ(h_l + F(h_l; W_l)) (post-activation, He et al. 2016a) or
h_{l+1} = h_l + F(σ(BN(h_l)); W_l) (pre-activation, He et al. 2016b), where F is two 3×3 convolutions.
When the shape changes, the shortcut is a 1×1 convolution with stride 2 (option B).

- ``resnet20/32/56/110``: 3 stages of n = (depth − 2)/6 blocks with w, 2w, 4w filters (w = 16 by default):
  ResNet-20 has 0.27 M parameters.
- ``resnet18/34`` (and ``preact_resnet18/34``): 4 stages of [2,2,2,2] / [3,4,6,3] blocks with k, 2k, 4k, 8k
  filters and a 3×3 stem (the CIFAR variant used by Nakkiran et al. 2019 and Yang et al. 2020 for width sweeps);
  k = 64 is the standard model: ResNet-18 11.2 M, ResNet-34 21.3 M parameters.

The builders take the regularization choices of the lecture as arguments: a kernel penalty (applied to
convolution and dense kernels only, never to biases or normalization parameters), dropout before the
classifier, the normalization layer, and the convolution layer itself (so weight standardization or weight
normalization can be plugged in).
"""
from __future__ import annotations

import keras

from augment.checks import check_choice, check_positive_int, check_rate, check_seed

CIFAR_RESNETS = {"resnet20": 20, "resnet32": 32, "resnet56": 56, "resnet110": 110}
IMAGENET_STYLE_RESNETS = {
    "resnet18": ([2, 2, 2, 2], False),
    "resnet34": ([3, 4, 6, 3], False),
    "preact_resnet18": ([2, 2, 2, 2], True),
    "preact_resnet34": ([3, 4, 6, 3], True),
}
MODEL_NAMES = tuple(CIFAR_RESNETS) + tuple(IMAGENET_STYLE_RESNETS)
NORMS = ("batch", "group", "layer", "instance", "none")


def _group_count(channels, max_groups=32):
    """Largest divisor of ``channels`` not above ``max_groups`` (GroupNormalization needs G | C)."""
    return max(g for g in range(1, min(channels, max_groups) + 1) if channels % g == 0)


def make_norm(norm, channels, name):
    """Normalization layer for ``channels`` feature maps: BN, GN (32 groups or fewer), LN, IN, or identity.

    ``"layer"`` is ``GroupNormalization(groups=1)`` (statistics over H, W and C of each example, one γ, β per
    channel) and ``"instance"`` is ``GroupNormalization(groups=-1)`` (per example and channel).
    """
    if callable(norm):
        return norm(name)
    if norm == "batch":
        return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)
    if norm == "group":
        return keras.layers.GroupNormalization(groups=_group_count(channels), epsilon=1e-5, name=name)
    if norm == "layer":
        return keras.layers.GroupNormalization(groups=1, epsilon=1e-5, name=name)
    if norm == "instance":
        return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)
    check_choice("norm", norm, NORMS)
    return keras.layers.Identity(name=name)  # norm == "none"


def default_conv(filters, kernel_size, strides, name, kernel_regularizer=None, use_bias=False):
    """A plain ``keras.layers.Conv2D`` with He-normal initialization and 'same' padding."""
    return keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same", use_bias=use_bias,
        kernel_initializer="he_normal", kernel_regularizer=kernel_regularizer, name=name,
    )


def build_resnet(
    name="resnet20",
    width=None,
    num_classes=10,
    input_shape=(32, 32, 3),
    kernel_regularizer=None,
    dropout_rate=0.0,
    norm="batch",
    conv=None,
    mean=None,
    std=None,
    seed=None,
):
    """Build a CIFAR ResNet returning logits z (softmax is in the loss).

    Args:
        name: one of ``MODEL_NAMES``.
        width: first-stage filters: w for ResNet-20…110 (default 16), k for ResNet-18/34 (default 64).
        kernel_regularizer: a Keras regularizer Ω(w) added to J for every convolution and dense kernel
            (e.g. ``keras.regularizers.L2(1e-4)`` adds λ‖w‖²); biases and normalization γ, β are not penalized.
        dropout_rate: rate (1 − p) of a ``keras.layers.Dropout`` before the classifier; 0 disables it.
        norm: ``"batch" | "group" | "layer" | "instance" | "none"`` or a callable ``name -> layer``.
        conv: callable ``(filters, kernel_size, strides, name, kernel_regularizer=..., use_bias=...) -> layer``
            replacing ``default_conv`` (for weight standardization or weight normalization).
        mean, std: per-channel statistics of the training set; when given, the model starts with
            ``keras.layers.Normalization`` computing x̂ = (x − μ)/σ and takes raw 0..255 images.
        seed: seed of the dropout layer.
    """
    check_choice("name", name, MODEL_NAMES)
    if width is not None:  # None: the model's default (16 or 64)
        width = check_positive_int("width", width)
    num_classes = check_positive_int("num_classes", num_classes)
    dropout_rate = check_rate("dropout_rate", dropout_rate)
    if not callable(norm):  # a callable name -> layer, or one of NORMS
        check_choice("norm", norm, NORMS)
    if conv is not None and not callable(conv):
        raise TypeError(f"conv must be a callable (filters, kernel_size, strides, name, ...) -> layer, got {conv!r}")
    if (mean is None) != (std is None):
        raise ValueError(f"mean and std must be given together (both or neither), got mean={mean!r}, std={std!r}")
    seed = check_seed("seed", seed)
    conv = conv or default_conv
    use_bias = norm == "none"

    def conv_layer(filters, kernel_size, strides, layer_name):
        return conv(filters, kernel_size, strides, layer_name,
                    kernel_regularizer=kernel_regularizer, use_bias=use_bias)

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if mean is not None:
        variance = [float(s) ** 2 for s in std]
        x = keras.layers.Normalization(axis=-1, mean=list(map(float, mean)), variance=variance,
                                       name="standardize")(x)

    def basic_block(x, filters, strides, prefix, preact):
        in_channels = x.shape[-1]
        if preact:
            h = keras.layers.Activation("relu", name=f"{prefix}_pre_relu")(make_norm(norm, in_channels, f"{prefix}_pre_norm")(x))
            shortcut_input = h
        else:
            h = x
            shortcut_input = x
        h = conv_layer(filters, 3, strides, f"{prefix}_conv1")(h)
        h = make_norm(norm, filters, f"{prefix}_norm1")(h)
        h = keras.layers.Activation("relu", name=f"{prefix}_relu1")(h)
        h = conv_layer(filters, 3, 1, f"{prefix}_conv2")(h)
        if not preact:
            h = make_norm(norm, filters, f"{prefix}_norm2")(h)
        if strides != 1 or in_channels != filters:
            shortcut = conv_layer(filters, 1, strides, f"{prefix}_shortcut")(shortcut_input)
            if not preact:
                shortcut = make_norm(norm, filters, f"{prefix}_shortcut_norm")(shortcut)
        else:
            shortcut = x
        h = keras.layers.Add(name=f"{prefix}_add")([h, shortcut])
        if not preact:
            h = keras.layers.Activation("relu", name=f"{prefix}_relu2")(h)
        return h

    if name in CIFAR_RESNETS:
        depth = CIFAR_RESNETS[name]
        blocks = [(depth - 2) // 6] * 3
        base = width or 16
        preact = False
    else:
        blocks, preact = IMAGENET_STYLE_RESNETS[name]
        base = width or 64
    x = conv_layer(base, 3, 1, "stem_conv")(x)
    if not preact:
        x = make_norm(norm, base, "stem_norm")(x)
        x = keras.layers.Activation("relu", name="stem_relu")(x)
    for stage, n_blocks in enumerate(blocks):
        filters = base * 2 ** stage
        for b in range(n_blocks):
            strides = 2 if (stage > 0 and b == 0) else 1
            x = basic_block(x, filters, strides, f"stage{stage + 1}_block{b + 1}", preact)
    if preact:
        x = make_norm(norm, x.shape[-1], "final_norm")(x)
        x = keras.layers.Activation("relu", name="final_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout_rate > 0:
        x = keras.layers.Dropout(dropout_rate, seed=seed, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, kernel_initializer="he_normal",
                                 kernel_regularizer=kernel_regularizer, name="logits")(x)
    outputs = keras.layers.Activation("linear", dtype="float32", name="logits_fp32")(outputs)
    return keras.Model(inputs, outputs, name=name if width is None else f"{name}_w{width}")
