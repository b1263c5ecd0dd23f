"""Argument validation shared by the whole library.

Each check raises ``ValueError`` naming the argument and the value it got, and
returns the value in the plain Python type the library uses (so a NumPy integer
is accepted wherever an ``int`` is, and reaches TensorFlow as an ``int``).
"""
import math
import numbers

import numpy as np

__all__ = ["integer", "seed", "positive_real", "boolean", "shape", "one_of"]

SEED_LIMIT = 2**31


def integer(value, name, minimum=1, maximum=None):
    """An integer in ``[minimum, maximum]`` (bools and floats refused), as ``int``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        span = f"at least {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ValueError(f"{name} must be an integer {span}, got {value!r}")
    return value


def seed(value, name="seed"):
    """A seed: an integer in ``[0, 2**31)``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or not 0 <= value < SEED_LIMIT:
        raise ValueError(f"{name} must be an integer in [0, 2**31), got {value!r}")
    return int(value)


def positive_real(value, name):
    """A positive finite real number, as ``float``."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def boolean(value, name):
    """``True`` or ``False`` (a string such as ``'no'`` is refused, not read as true)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def shape(value, name):
    """A shape: an integer or a sequence of positive integers, as a tuple of ``int``."""
    items = [value] if isinstance(value, numbers.Number) else value
    try:
        items = list(items)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of positive integers, got {value!r}") from None
    for item in items:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Integral) or item < 1:
            raise ValueError(f"{name} must hold positive integers, got {value!r}")
    return tuple(int(item) for item in items)


def one_of(value, name, choices):
    """One of ``choices`` (strings), listing them when it is not."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
    return value
