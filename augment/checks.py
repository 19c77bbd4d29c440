"""Argument checks shared by ``recipes``, ``augment`` and ``callbacks``: one wording for every bad input.

Each check returns the value (converted to ``int``/``float`` where it says so) or raises before any work starts:

- ``TypeError`` when the value has the wrong kind (a string for a number, a bool for an integer);
- ``ValueError`` when it is of the right kind but outside the allowed range.

Both messages read ``"<name> must be <what is allowed>, got <value>"``: the argument's name (or the
command-line flag, e.g. ``"--lr"``), the allowed range in interval notation, and the value received.

The module lives in ``augment`` because that package is at the bottom of the dependency order
(``recipes`` → ``callbacks`` → ``augment``): all three packages can import it without a cycle.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "check_number", "check_int", "check_positive_int", "check_choice", "check_seed", "check_rate",
    "check_probability", "check_learning_rate", "check_int_sequence", "check_finite_array", "check_pair",
    "interval",
]


def interval(low=None, high=None, low_open=False, high_open=False):
    """The interval in the usual notation: ``[0, 1)``, ``(0, inf)``, ``[1, inf)`` …"""
    lo = "-inf" if low is None else _fmt(low)
    hi = "inf" if high is None else _fmt(high)
    return f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"


def _fmt(v):
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_number(name, value, low=None, high=None, low_open=False, high_open=False, finite=True):
    """A real number in the interval [low, high] (open ends with ``low_open``/``high_open``; ``None`` = unbounded);
    NaN is always rejected, ±inf unless ``finite=False``. Returns ``float(value)``."""
    if not _is_real(value):
        raise TypeError(f"{name} must be a number in {interval(low, high, low_open, high_open)}, got {value!r}")
    v = float(value)
    bad = (
        math.isnan(v)
        or (finite and math.isinf(v))
        or (low is not None and (v < low or (low_open and v == low)))
        or (high is not None and (v > high or (high_open and v == high)))
    )
    if bad:
        what = "a finite number" if finite else "a number"
        raise ValueError(f"{name} must be {what} in {interval(low, high, low_open, high_open)}, got {value!r}")
    return v


def check_int(name, value, low=None, high=None):
    """An integer (not a bool) in [low, high]. Returns ``int(value)``."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an integer in {interval(low, high)}, got {value!r}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{name} must be an integer in {interval(low, high)}, got {value!r}")
    return v


def check_positive_int(name, value):
    """An integer >= 1."""
    return check_int(name, value, 1)


def check_choice(name, value, choices):
    """One of ``choices`` (compared with ``==``)."""
    choices = tuple(choices)
    try:
        ok = value in choices
    except TypeError:  # unhashable or incomparable
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def check_seed(name, value, optional=True):
    """An integer in [0, 2^31) (what ``keras.random.SeedGenerator``, ``keras.utils.set_random_seed`` and NumPy
    take), or ``None`` when ``optional`` (a seed that need not be given)."""
    if value is None and optional:
        return None
    return check_int(name, value, 0, 2 ** 31 - 1)


def check_rate(name, value):
    """A drop rate 1 − p in [0, 1) (``rate = 1`` would keep nothing)."""
    return check_number(name, value, 0.0, 1.0, high_open=True)


def check_probability(name, value):
    """A probability in [0, 1]."""
    return check_number(name, value, 0.0, 1.0)


def check_learning_rate(name, value):
    """A learning rate ε: a finite number in (0, inf) (returned as ``float``), or a schedule ε(t) — a
    ``keras.optimizers.schedules.LearningRateSchedule`` or any callable — returned as is."""
    if callable(value) and not _is_real(value):
        return value
    if not _is_real(value):
        raise TypeError(f"{name} must be a number in (0, inf) or a schedule (a callable), got {value!r}")
    return check_number(name, value, 0, low_open=True)


def check_int_sequence(name, value, low=None, high=None, min_length=0):
    """A sequence (list, tuple, array, …; not a string) of at least ``min_length`` integers in [low, high], e.g.
    layer widths. Returns a tuple of ints; an entry out of range is named ``name[i]``."""
    what = f"a sequence of integers in {interval(low, high)}"
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    items = tuple(value)
    if len(items) < min_length:
        entries = "entry" if min_length == 1 else "entries"
        raise ValueError(f"{name} must be {what} with at least {min_length} {entries}, got {value!r}")
    return tuple(check_int(f"{name}[{i}]", v, low, high) for i, v in enumerate(items))


def check_pair(name, value, low=None, high=None):
    """A pair ``(lo, hi)`` of numbers in [low, high] with lo <= hi. Returns a tuple of floats."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (lo, hi) in {interval(low, high)}, got {value!r}")
    lo = check_number(f"{name}[0]", value[0], low, high)
    hi = check_number(f"{name}[1]", value[1], low, high)
    if lo > hi:
        raise ValueError(f"{name} must be a pair (lo, hi) with lo <= hi, got {value!r}")
    return (lo, hi)


def check_finite_array(name, value):
    """A NumPy array without NaN or ±inf (integer arrays always pass). Returns ``np.asarray(value)``; the
    error names the first bad element's index."""
    array = np.asarray(value)
    if array.dtype.kind in "fc" and array.size and not np.isfinite(array).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name} must be finite (no NaN or inf), got {array[index].item()!r} at index {index}")
    if array.dtype.kind == "O":
        raise TypeError(f"{name} must be a numeric array, got an array of Python objects")
    return array
