"""Shared helpers of the dropout family: argument checks, the lecture's defaults, p <-> rate.

Notation (lecture, "Regularization – Dropout"): a unit is *kept* with probability ``p``,
its mask is ``δ_i ~ Bernoulli(p)``. Keras layers are parameterized by the *drop* probability
``rate = 1 − p``. Every layer of this project takes ``rate`` like Keras does.

The lecture's per-layer advice, used as defaults:

=============  =================  ===================
layer          keep-probability    Keras ``rate``
=============  =================  ===================
input          p ≥ 0.8 (or 1.0)    ``INPUT_RATE = 0.2``
hidden         p = 0.5             ``HIDDEN_RATE = 0.5``
output         p = 1.0             no dropout
=============  =================  ===================
"""
import numbers

INPUT_RATE = 0.2
"""Default drop rate for the input layer (keep-probability p = 0.8)."""

HIDDEN_RATE = 0.5
"""Default drop rate for hidden layers (keep-probability p = 0.5)."""


def check_rate(rate, name="rate"):
    """Return ``float(rate)`` if ``0 ≤ rate < 1``; otherwise raise naming the argument.

    ``rate = 1 − p`` is a drop probability; ``rate = 1`` would keep nothing (p = 0) and make
    inverted scaling 1/p undefined, so it is rejected.
    """
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(f"{name} must be a float in [0, 1), got {rate!r}")
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {rate}")
    return rate


def check_seed(seed, name="seed"):
    """Return ``seed`` if it is ``None`` or an int (what ``keras.random.SeedGenerator`` takes)."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"{name} must be None or an int, got {seed!r}")
    return None if seed is None else int(seed)


def keep_prob_to_rate(p):
    """Keras ``rate`` for the lecture's keep-probability p: ``rate = 1 − p`` (p in (0, 1])."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 < float(p) <= 1.0:
        raise ValueError(f"p (keep-probability) must be in (0, 1], got {p!r}")
    return 1.0 - float(p)


def rate_to_keep_prob(rate):
    """The lecture's keep-probability for a Keras ``rate``: ``p = 1 − rate``."""
    return 1.0 - check_rate(rate)
