"""The shared argument checks: one wording (argument, allowed range, value received), the right exception type."""
import math

import numpy as np
import pytest

from augment import checks


@pytest.mark.parametrize("kwargs,value,exc,text", [
    (dict(low=0, high=1, high_open=True), 1.0, ValueError, "rate must be a finite number in [0, 1), got 1.0"),
    (dict(low=0, high=1, high_open=True), -0.1, ValueError, "in [0, 1), got -0.1"),
    (dict(low=0, high=1), math.nan, ValueError, "got nan"),
    (dict(low=0), math.inf, ValueError, "rate must be a finite number in [0, inf), got inf"),
    (dict(low=0, low_open=True), 0, ValueError, "in (0, inf), got 0"),
    (dict(), "0.5", TypeError, "rate must be a number in (-inf, inf), got '0.5'"),
    (dict(), True, TypeError, "got True"),
])
def test_check_number_rejects_with_range_and_value(kwargs, value, exc, text):
    with pytest.raises(exc) as info:
        checks.check_number("rate", value, **kwargs)
    assert text in str(info.value)


def test_check_number_accepts_and_converts():
    assert checks.check_number("x", np.float32(0.25), 0, 1) == 0.25
    assert checks.check_number("x", 3, 0) == 3.0 and isinstance(checks.check_number("x", 3, 0), float)
    assert checks.check_number("x", math.inf, 0, finite=False) == math.inf
    assert checks.check_rate("rate", 0.0) == 0.0 and checks.check_probability("p", 1.0) == 1.0


def test_learning_rate_is_a_positive_number_or_a_schedule():
    schedule = lambda step: 0.1  # noqa: E731
    assert checks.check_learning_rate("learning_rate", schedule) is schedule
    assert checks.check_learning_rate("lr", np.float32(0.5)) == 0.5
    with pytest.raises(ValueError, match=r"lr must be a finite number in \(0, inf\), got 0"):
        checks.check_learning_rate("lr", 0)
    with pytest.raises(ValueError, match="got nan"):
        checks.check_learning_rate("lr", math.nan)
    with pytest.raises(TypeError, match=r"lr must be a number in \(0, inf\) or a schedule \(a callable\), got '0.1'"):
        checks.check_learning_rate("lr", "0.1")


def test_integers_choices_seeds_pairs_arrays():
    assert checks.check_int("n", np.int64(3), 1) == 3
    with pytest.raises(TypeError, match=r"n must be an integer in \[1, inf\), got 2.0"):
        checks.check_int("n", 2.0, 1)
    with pytest.raises(TypeError, match="got False"):
        checks.check_positive_int("n", False)
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, inf\), got 0"):
        checks.check_positive_int("n", 0)
    with pytest.raises(ValueError, match="mode must be one of a, b, got 'c'"):
        checks.check_choice("mode", "c", ("a", "b"))
    with pytest.raises(ValueError, match="got \\[1\\]"):
        checks.check_choice("mode", [1], ("a", "b"))  # unhashable: still a ValueError naming it
    assert checks.check_seed("seed", None) is None
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2147483647\], got -1"):
        checks.check_seed("seed", -1)
    assert checks.check_seed("seed", np.int64(7), optional=False) == 7
    with pytest.raises(TypeError, match=r"seed must be an integer in \[0, 2147483647\], got None"):
        checks.check_seed("seed", None, optional=False)
    assert checks.check_int_sequence("units", np.array([3, 4]), 1) == (3, 4)
    assert checks.check_int_sequence("units", [], 1) == ()
    with pytest.raises(ValueError, match=r"units\[1\] must be an integer in \[1, inf\), got 0"):
        checks.check_int_sequence("units", (3, 0), 1)
    with pytest.raises(TypeError, match=r"units\[0\] must be an integer in \[1, inf\), got 2.5"):
        checks.check_int_sequence("units", [2.5], 1)
    with pytest.raises(ValueError, match=r"units must be a sequence of integers in \[1, inf\) with at least 1 "
                                         r"entry, got \(\)"):
        checks.check_int_sequence("units", (), 1, min_length=1)
    with pytest.raises(TypeError, match=r"units must be a sequence of integers in \[1, inf\), got '64'"):
        checks.check_int_sequence("units", "64", 1)
    assert checks.check_pair("scale", [0.5, 2]) == (0.5, 2.0)
    with pytest.raises(ValueError, match="lo <= hi"):
        checks.check_pair("scale", (2, 1))
    with pytest.raises(TypeError, match="pair"):
        checks.check_pair("scale", 1.0)
    x = np.zeros((3, 4))
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"x must be finite \(no NaN or inf\), got nan at index \(2, 1\)"):
        checks.check_finite_array("x", x)
    assert checks.check_finite_array("x", np.arange(3)).dtype.kind == "i"
