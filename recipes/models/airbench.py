"""A small residual-free "airbench94"-style CIFAR-10 network with a frozen patch-whitening first layer.

The network (Jordan 2024, airbench94) is: a frozen 2×2 convolution that whitens image patches, GELU, then
three groups [conv 3×3 → max-pool 2 → BN → GELU → conv 3×3 → BN → GELU] of widths (64, 256, 256), a 3×3
max-pool, and a bias-free linear head whose logits are scaled by 1/9.

Patch whitening (the lecture's data-preprocessing view of ZCA/PCA whitening): with p ∈ ℝ^d the flattened
2×2×3 patches (d = 12) of the standardized training images and Σ = (1/n) Σ_i p_i p_iᵀ = V Λ Vᵀ their
second-moment matrix, the first layer computes z = W p with rows w_k = v_k / √(λ_k + ε), so that
E[z zᵀ] = diag(λ_k / (λ_k + ε)) ≈ I. Each filter also appears negated (2d output channels) so the GELU that
follows keeps both signs. The layer is frozen (``trainable=False``): it is an initialization computed from the
data, not learned.
"""
from __future__ import annotations

import keras
import numpy as np

from augment.checks import check_int, check_int_sequence, check_number, check_positive_int

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
    diag(λ/(λ+ε)) ≈ I: columns v_k/√(λ_k+ε) for the eigenpairs (λ_k, v_k) of Σ = PᵀP/n, then their negatives.

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
    w = v / np.sqrt(lam + eps)  # column k = v_k / sqrt(λ_k + ε)
    w = np.concatenate([w, -w], axis=1)
    return w.reshape(patch_size, patch_size, c, -1).astype("float32")


def build_airbench(widths=DEFAULT_WIDTHS, num_classes=10, input_shape=(32, 32, 3), mean=None, std=None,
                   whitening_kernel=None, whiten_patch_size=2, bn_momentum=0.4, bn_epsilon=1e-5,
                   head_scale=1.0 / 9.0, name="airbench"):
    """The airbench94-like network; takes raw 0..255 images when ``mean``/``std`` are given (else standardized).

    Args:
        widths: filters of the three conv groups (airbench94: 64, 256, 256).
        whitening_kernel: kernel from ``patch_whitening_kernel`` for the frozen first conv; ``None`` = a plain
            trainable 2×2 conv with 2·s²·C filters (the "no whitening" ablation).
        bn_momentum: Keras' BN momentum ρ in μ̂ ← ρ μ̂ + (1 − ρ) μ_batch (airbench's PyTorch 0.6 is ρ = 0.4).
        head_scale: fixed multiplier of the logits (airbench: 1/9).
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
    if (mean is None) != (std is None):
        raise ValueError(f"mean and std must be given together (both or neither), got mean={mean!r}, std={std!r}")
    c = input_shape[-1]
    filters = 2 * whiten_patch_size * whiten_patch_size * c
    if whitening_kernel is not None and tuple(np.shape(whitening_kernel)) != (
            whiten_patch_size, whiten_patch_size, c, filters):
        raise ValueError(f"whitening_kernel must have shape {(whiten_patch_size, whiten_patch_size, c, filters)}, "
                         f"got {tuple(np.shape(whitening_kernel))}")
    inputs = keras.Input(input_shape, name="image")
    h = inputs
    if mean is not None:
        std = np.maximum(np.asarray(std, "float32"), 1e-6)
        h = keras.layers.Normalization(mean=np.asarray(mean, "float32"), variance=std ** 2, name="standardize")(h)
    whiten = keras.layers.Conv2D(filters, whiten_patch_size, padding="valid", use_bias=False, name="whiten")
    h = whiten(h)
    if whitening_kernel is not None:
        whiten.set_weights([np.asarray(whitening_kernel, "float32")])
        whiten.trainable = False
    h = keras.layers.Activation("gelu", name="whiten_gelu")(h)
    for g, width in enumerate(widths, start=1):
        for k in (1, 2):
            h = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"group{g}_conv{k}")(h)
            if k == 1:
                h = keras.layers.MaxPooling2D(2, name=f"group{g}_pool")(h)
            h = keras.layers.BatchNormalization(momentum=bn_momentum, epsilon=bn_epsilon, scale=False,
                                                name=f"group{g}_bn{k}")(h)
            h = keras.layers.Activation("gelu", name=f"group{g}_gelu{k}")(h)
    h = keras.layers.GlobalMaxPooling2D(name="head_pool")(h)  # the 3×3 map's max = airbench's MaxPool2d(3)
    h = keras.layers.Dense(num_classes, use_bias=False, name="head")(h)
    h = keras.layers.Rescaling(head_scale, name="head_scale", dtype="float32")(h)
    return keras.Model(inputs, h, name=name)
