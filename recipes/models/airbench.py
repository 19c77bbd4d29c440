"""The airbench94 CIFAR-10 network (Jordan 2024) with its frozen patch-whitening first layer.

The network is: a 2×2 convolution that whitens image patches (frozen kernel, a bias trained for the first epochs),
GELU, then three groups [conv 3×3 → max-pool 2 → BN → GELU → conv 3×3 → BN → GELU] of widths (64, 256, 256), a 3×3
max-pool, and a bias-free linear head whose logits are scaled by 1/9. As in airbench94: BatchNorm with running
averages μ̂ ← 0.6 μ̂ + 0.4 μ_batch, ε = 1e-12, no scale γ (fixed at 1), a trained shift β; every 3×3 convolution
initialized with PyTorch's default U(−1/√fan_in, 1/√fan_in) and its first min(C_in, C_out) filters replaced by
identity (Dirac) filters (:class:`DiracUniform`), the head with U(−1/√fan_in, 1/√fan_in).

Patch whitening (the lecture's data-preprocessing view of ZCA/PCA whitening): with p ∈ ℝ^d the flattened
2×2×3 patches (d = 12) of the standardized training images and Σ = (1/n) Σ_i p_i p_iᵀ = V Λ Vᵀ their
second-moment matrix, the first layer computes z = W p + b with rows w_k = v_k / √(λ_k + ε) (largest λ first), so
that E[z zᵀ] = diag(λ_k / (λ_k + ε)) ≈ I at b = 0. Each filter also appears negated (2d output channels) so the
GELU that follows keeps both signs. The kernel W is frozen (:class:`PatchWhitening`): an initialization computed
from the data, not learned; its bias b (zero at the start) may be trained.
"""
from __future__ import annotations

import keras
import numpy as np

from augment.checks import check_choice, check_int, check_int_sequence, check_number, check_positive_int

DEFAULT_WIDTHS = (64, 256, 256)


def extract_patches(x, patch_size=2):
    """All ``patch_size``×``patch_size`` patches of images ``x`` (N, H, W, C), flattened in (row, col, channel)
    order — the order of a Conv2D kernel reshaped to (kh·kw·C, filters). Returns (N·(H−s+1)·(W−s+1), s·s·C)."""
    x = np.asarray(x)
    n, h, w, c = x.shape
    s = patch_size
    parts = [x[:, i:h - s + 1 + i, j:w - s + 1 + j, :] for i in range(s) for j in range(s)]
    patches = np.stack(parts, axis=3)  # (N, H', W', s*s, C) with s*s in (i, j) row-major order
    return patches.reshape(-1, s * s * c)


def patch_whitening_kernel(x, patch_size=2, eps=5e-4):
    """Conv2D kernel (s, s, C, 2·s²·C) whose outputs on the patches of ``x`` have second moments
    diag(λ/(λ+ε)) ≈ I: columns v_k/√(λ_k+ε) for the eigenpairs (λ_k, v_k) of Σ = PᵀP/n in decreasing order of
    λ_k, then their negatives.

    Args:
        x: standardized float images (N, H, W, C), e.g. the first 5,000 training images after (x − μ_c)/σ_c.
        patch_size: s >= 1.
        eps: ε > 0, the regularizer that keeps tiny-variance directions from being amplified.
    """
    patch_size = check_positive_int("patch_size", patch_size)
    eps = check_number("eps", eps, 0.0, low_open=True)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, H, W, C), got {x.shape}")
    c = x.shape[-1]
    p = extract_patches(x, patch_size)
    sigma = p.T @ p / len(p)
    lam, v = np.linalg.eigh(sigma)
    lam, v = lam[::-1], v[:, ::-1]  # largest eigenvalue first, as airbench94 orders its filters
    w = v / np.sqrt(lam + eps)  # column k = v_k / sqrt(λ_k + ε)
    w = np.concatenate([w, -w], axis=1)
    return w.reshape(patch_size, patch_size, c, -1).astype("float32")


INITS = ("dirac", "glorot")


def torch_default_uniform(seed=None):
    """PyTorch's default initializer of ``nn.Conv2d`` and ``nn.Linear`` weights (kaiming_uniform with a = √5):
    w ~ U(−1/√fan_in, 1/√fan_in), i.e. Keras' ``VarianceScaling(1/3, "fan_in", "uniform")``."""
    return keras.initializers.VarianceScaling(scale=1.0 / 3.0, mode="fan_in", distribution="uniform", seed=seed)


@keras.saving.register_keras_serializable(package="recipes")
class DiracUniform(keras.initializers.Initializer):
    """airbench94's convolution initializer: w ~ U(−1/√fan_in, 1/√fan_in) (PyTorch's default, fan_in = k_h·k_w·C_in),
    then the first m = min(C_in, C_out) filters set to the identity (Dirac) filter:
    w[:, :, :, j] = 0 and w[k_h//2, k_w//2, j, j] = 1 for j < m, so at the start output channel j is input channel j.

    Args:
        seed: None (draws from Keras' global seed) or an int.
    """

    def __init__(self, seed=None):
        if seed is not None:
            check_int("seed", seed, 0)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        if len(shape) != 4:
            raise ValueError(f"DiracUniform initializes Conv2D kernels (kh, kw, C_in, C_out), got shape {tuple(shape)}")
        kh, kw, c_in, c_out = shape
        m = min(c_in, c_out)
        dirac = np.zeros(shape, dtype="float32")
        dirac[kh // 2, kw // 2, np.arange(m), np.arange(m)] = 1.0
        keep = np.ones(shape, dtype="float32")
        keep[..., :m] = 0.0
        base = torch_default_uniform(self.seed)(shape, dtype=dtype)
        return keras.ops.cast(base * keep + dirac, dtype or "float32")

    def get_config(self):
        return {"seed": self.seed}


@keras.saving.register_keras_serializable(package="recipes")
class PatchWhitening(keras.layers.Layer):
    """z = W ⋆ x + b: a valid s×s convolution with a frozen kernel W (non-trainable, set from
    :func:`patch_whitening_kernel`) and, with ``use_bias``, a trainable bias b initialized to 0.

    Args:
        filters: output channels (2·s²·C for the whitening kernel).
        patch_size: s >= 1.
        use_bias: add the trainable bias b.
    """

    def __init__(self, filters, patch_size=2, use_bias=False, **kwargs):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.patch_size = check_positive_int("patch_size", patch_size)
        if not isinstance(use_bias, bool):
            raise TypeError(f"use_bias must be True or False, got {use_bias!r}")
        self.use_bias = use_bias

    def build(self, input_shape):
        s = self.patch_size
        self.kernel = self.add_weight(name="kernel", shape=(s, s, input_shape[-1], self.filters),
                                      initializer="zeros", trainable=False)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros",
                                    trainable=True) if self.use_bias else None

    def call(self, x):
        z = keras.ops.conv(x, keras.ops.cast(self.kernel, x.dtype), strides=1, padding="valid")
        if self.bias is not None:
            z = z + keras.ops.cast(self.bias, z.dtype)
        return z

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        s = self.patch_size
        return (n, None if h is None else h - s + 1, None if w is None else w - s + 1, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "patch_size": self.patch_size,
                "use_bias": self.use_bias}


def build_airbench(widths=DEFAULT_WIDTHS, num_classes=10, input_shape=(32, 32, 3), mean=None, std=None,
                   whitening_kernel=None, whiten_patch_size=2, whiten_bias=False, bn_momentum=0.6, bn_epsilon=1e-12,
                   head_scale=1.0 / 9.0, init="dirac", name="airbench"):
    """The airbench94 network; takes raw 0..255 images when ``mean``/``std`` are given (else standardized).

    Args:
        widths: filters of the three conv groups (airbench94: 64, 256, 256).
        whitening_kernel: kernel from ``patch_whitening_kernel`` for the frozen first layer (:class:`PatchWhitening`);
            ``None`` = a plain trainable 2×2 conv with 2·s²·C filters (the "no whitening" ablation).
        whiten_bias: give the first layer a trainable bias (airbench94 trains it for 3 epochs; the optimizer's
            parameter group stops it, ``recipes.optimization.param_groups``).
        bn_momentum: Keras' BN momentum ρ in μ̂ ← ρ μ̂ + (1 − ρ) μ_batch (airbench94's ``batchnorm_momentum`` 0.6,
            passed to PyTorch as 1 − 0.6 = 0.4, is ρ = 0.6).
        bn_epsilon: BN's ε in (x − μ)/√(σ² + ε) (airbench94: 1e-12).
        head_scale: fixed multiplier of the logits (airbench: 1/9).
        init: "dirac" (airbench94's: :class:`DiracUniform` convolutions, U(±1/√fan_in) head) or "glorot" (Keras'
            default Glorot-uniform everywhere).
    Returns a ``keras.Model`` producing logits (no softmax).
    """
    widths = check_int_sequence("widths", widths, 1)
    if len(widths) != 3:
        raise ValueError(f"widths must be three integers in [1, inf) (one per conv group), got {widths!r}")
    num_classes = check_int("num_classes", num_classes, 2)
    bn_momentum = check_number("bn_momentum", bn_momentum, 0.0, 1.0, high_open=True)
    bn_epsilon = check_number("bn_epsilon", bn_epsilon, 0.0, low_open=True)
    head_scale = check_number("head_scale", head_scale)
    whiten_patch_size = check_positive_int("whiten_patch_size", whiten_patch_size)
    check_choice("init", init, INITS)
    if not isinstance(whiten_bias, bool):
        raise TypeError(f"whiten_bias must be True or False, got {whiten_bias!r}")
    if (mean is None) != (std is None):
        raise ValueError(f"mean and std must be given together (both or neither), got mean={mean!r}, std={std!r}")
    c = input_shape[-1]
    filters = 2 * whiten_patch_size * whiten_patch_size * c
    if whitening_kernel is not None and tuple(np.shape(whitening_kernel)) != (
            whiten_patch_size, whiten_patch_size, c, filters):
        raise ValueError(f"whitening_kernel must have shape {(whiten_patch_size, whiten_patch_size, c, filters)}, "
                         f"got {tuple(np.shape(whitening_kernel))}")
    conv_init = DiracUniform if init == "dirac" else keras.initializers.GlorotUniform
    inputs = keras.Input(input_shape, name="image")
    h = inputs
    if mean is not None:
        std = np.maximum(np.asarray(std, "float32"), 1e-6)
        h = keras.layers.Normalization(mean=np.asarray(mean, "float32"), variance=std ** 2, name="standardize")(h)
    if whitening_kernel is not None:
        whiten = PatchWhitening(filters, whiten_patch_size, use_bias=whiten_bias, name="whiten")
        h = whiten(h)
        whiten.kernel.assign(np.asarray(whitening_kernel, "float32"))
    else:
        first_init = torch_default_uniform() if init == "dirac" else "glorot_uniform"
        h = keras.layers.Conv2D(filters, whiten_patch_size, padding="valid", use_bias=whiten_bias, name="whiten",
                                kernel_initializer=first_init)(h)
    h = keras.layers.Activation("gelu", name="whiten_gelu")(h)
    for g, width in enumerate(widths, start=1):
        for k in (1, 2):
            h = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"group{g}_conv{k}",
                                    kernel_initializer=conv_init())(h)
            if k == 1:
                h = keras.layers.MaxPooling2D(2, name=f"group{g}_pool")(h)
            h = keras.layers.BatchNormalization(momentum=bn_momentum, epsilon=bn_epsilon, scale=False,
                                                name=f"group{g}_bn{k}")(h)
            h = keras.layers.Activation("gelu", name=f"group{g}_gelu{k}")(h)
    h = keras.layers.GlobalMaxPooling2D(name="head_pool")(h)  # the 3×3 map's max = airbench's MaxPool2d(3)
    head_init = torch_default_uniform() if init == "dirac" else "glorot_uniform"
    h = keras.layers.Dense(num_classes, use_bias=False, name="head", kernel_initializer=head_init)(h)
    h = keras.layers.Rescaling(head_scale, name="head_scale", dtype="float32")(h)
    return keras.Model(inputs, h, name=name)
