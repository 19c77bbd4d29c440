"""The dropout family's constants and conversions: the lecture's default rates, p <-> rate.

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
from augment.checks import check_number, check_rate

INPUT_RATE = 0.2
"""Default drop rate for the input layer (keep-probability p = 0.8)."""

HIDDEN_RATE = 0.5
"""Default drop rate for hidden layers (keep-probability p = 0.5)."""


def keep_prob_to_rate(p):
    """Keras ``rate`` for the lecture's keep-probability p: ``rate = 1 − p`` (p in (0, 1])."""
    return 1.0 - check_number("p", p, 0.0, 1.0, low_open=True)


def rate_to_keep_prob(rate):
    """The lecture's keep-probability for a Keras ``rate``: ``p = 1 − rate`` (rate in [0, 1))."""
    return 1.0 - check_rate("rate", rate)
