"""NumPy references of the lecture's normalization layers, and which Keras layer computes each one.

All of them compute  y = γ (x − μ)/sqrt(σ² + ε) + β  and differ only in the set of values that share one μ, σ²
(for a feature map x of shape (N, H, W, C), channels last):

=====================  ==============================  =================================================
method                 μ, σ² over                      Keras layer
=====================  ==============================  =================================================
batch norm (training)  (N, H, W) per channel           ``BatchNormalization()(x, training=True)``
layer norm             (H, W, C) per example           ``LayerNormalization(axis=(1, 2, 3))``
                       (C) per example and pixel       ``LayerNormalization()`` (axis=-1, the Transformer use)
instance norm          (H, W) per example and channel  ``GroupNormalization(groups=-1)``
group norm (G groups)  (H, W, C/G) per example, group  ``GroupNormalization(groups=G)``
=====================  ==============================  =================================================

γ, β are per channel (C values) for BN, IN and GN; for ``LayerNormalization(axis=(1, 2, 3))`` they have the full
(H, W, C) shape, so ``GroupNormalization(groups=1)`` — same μ, σ² as layer norm over (H, W, C) but per-channel
γ, β — is the layer norm of the group-norm paper (Wu & He 2018). With γ = 1, β = 0 the two give the same output.
``tests/normalization/test_normalization_reference.py`` checks every row of this table against the NumPy functions below.

The batch-norm backward pass is the lecture's (Ioffe & Szegedy 2015), for one channel with m values x_i:

    ∂L/∂x̂_i = γ ∂L/∂y_i
    ∂L/∂σ²_B = −½ (σ²_B + ε)^(−3/2) Σ_i (x_i − μ_B) ∂L/∂x̂_i
    ∂L/∂μ_B  = −(σ²_B + ε)^(−1/2) Σ_i ∂L/∂x̂_i − (2/m) ∂L/∂σ²_B Σ_i (x_i − μ_B)
    ∂L/∂x_i  = (σ²_B + ε)^(−1/2) ∂L/∂x̂_i + 2(x_i − μ_B)/m · ∂L/∂σ²_B + (1/m) ∂L/∂μ_B
    ∂L/∂γ = Σ_i ∂L/∂y_i x̂_i,   ∂L/∂β = Σ_i ∂L/∂y_i

and its inference with population statistics, y = γ (x − E[x])/sqrt(Var[x] + ε) + β (Keras puts ε inside the
square root; the lecture's slide writes sqrt(Var[x]) + ε, which differs by O(ε)).
"""
import numpy as np

from augment.checks import check_int

__all__ = [
    "normalize",
    "batch_norm_forward",
    "batch_norm_backward",
    "batch_norm_inference",
    "layer_norm",
    "instance_norm",
    "group_norm",
]


def normalize(x, axes, gamma=1.0, beta=0.0, epsilon=1e-3):
    """γ (x − μ)/sqrt(σ² + ε) + β with μ, σ² (biased) over ``axes`` of ``x`` (NumPy, float64)."""
    x = np.asarray(x, "float64")
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + epsilon) + beta


def batch_norm_forward(x, gamma, beta, epsilon=1e-3):
    """Training-mode BN over all axes but the last: returns y and the cache (x̂, μ_B, σ²_B, γ, ε) for the
    backward pass. μ_B = (1/m) Σ x_i, σ²_B = (1/m) Σ (x_i − μ_B)², x̂_i = (x_i − μ_B)/sqrt(σ²_B + ε),
    y_i = γ x̂_i + β."""
    x = np.asarray(x, "float64")
    axes = tuple(range(x.ndim - 1))
    mu = x.mean(axis=axes)
    var = x.var(axis=axes)
    x_hat = (x - mu) / np.sqrt(var + epsilon)
    return gamma * x_hat + beta, (x, x_hat, mu, var, np.asarray(gamma, "float64"), epsilon)


def batch_norm_backward(dy, cache):
    """The lecture's BN backward formulas (see the module docstring): returns (∂L/∂x, ∂L/∂γ, ∂L/∂β) given
    dy = ∂L/∂y and the cache of :func:`batch_norm_forward`."""
    x, x_hat, mu, var, gamma, eps = cache
    dy = np.asarray(dy, "float64")
    axes = tuple(range(x.ndim - 1))
    m = np.prod([x.shape[a] for a in axes])
    dx_hat = gamma * dy
    dvar = -0.5 * (var + eps) ** -1.5 * np.sum((x - mu) * dx_hat, axis=axes)
    dmu = -(var + eps) ** -0.5 * np.sum(dx_hat, axis=axes) - 2.0 / m * dvar * np.sum(x - mu, axis=axes)
    dx = (var + eps) ** -0.5 * dx_hat + 2.0 * (x - mu) / m * dvar + dmu / m
    dgamma = np.sum(dy * x_hat, axis=axes)
    dbeta = np.sum(dy, axis=axes)
    return dx, dgamma, dbeta


def batch_norm_inference(x, mean, variance, gamma, beta, epsilon=1e-3):
    """y = γ (x − E[x])/sqrt(Var[x] + ε) + β with fixed (population or running) statistics."""
    return gamma * (np.asarray(x, "float64") - mean) / np.sqrt(variance + epsilon) + beta


def layer_norm(x, epsilon=1e-3):
    """μ, σ² per example over all non-batch axes (γ = 1, β = 0)."""
    return normalize(x, tuple(range(1, np.ndim(x))), epsilon=epsilon)


def instance_norm(x, epsilon=1e-3):
    """μ, σ² per example and channel over the spatial axes of a channels-last map (γ = 1, β = 0)."""
    return normalize(x, tuple(range(1, np.ndim(x) - 1)), epsilon=epsilon)


def group_norm(x, groups, epsilon=1e-3):
    """μ, σ² per example and group of C/G consecutive channels, over the spatial axes and the group's channels
    (γ = 1, β = 0); groups = C is instance norm, groups = 1 is layer norm over (H, W, C)."""
    x = np.asarray(x, "float64")
    c = x.shape[-1]
    groups = check_int("groups", groups, 1, c)
    if c % groups:
        raise ValueError(f"groups must divide the number of channels {c}, got {groups}")
    xg = x.reshape(x.shape[:-1] + (groups, c // groups))
    axes = tuple(range(1, x.ndim - 1)) + (x.ndim,)
    return normalize(xg, axes, epsilon=epsilon).reshape(x.shape)
