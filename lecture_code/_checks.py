"""Argument validation shared by every public function and class of the package.

Each helper raises an error that names the argument, the value it received and what it accepts,
so that a student who types ``lr=-0.1`` reads ``lr=-0.1 is out of range: expected 0 <= lr``.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable


def check_real(name: str, value, *, low=None, high=None, low_open: bool = False,
               high_open: bool = False) -> float:
    """Check that ``value`` is a finite real number in the given interval and return it.

    ``low``/``high`` are the bounds (``None`` for unbounded); ``low_open``/``high_open`` make
    them strict.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} "
                        f"of type {type(value).__name__}")
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{name}={value!r} is not finite: expected {_interval(name, low, high, low_open, high_open)}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name}={value!r} is out of range: expected "
                         f"{_interval(name, low, high, low_open, high_open)}")
    return value


def check_int(name: str, value, *, low=None, high=None) -> int:
    """Check that ``value`` is an integer in ``[low, high]`` and return it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name}={value!r} is out of range: expected {_interval(name, low, high, False, False)}")
    return int(value)


def check_choice(name: str, value, choices: Iterable):
    """Check that ``value`` is one of ``choices`` and return it."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")
    return value


def check_bool(name: str, value) -> bool:
    """Check that ``value`` is a ``bool`` (not merely truthy) and return it."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r} of type {type(value).__name__}")
    return value


def check_betas(name: str, betas) -> tuple[float, float]:
    """Check a pair of exponential decay rates, each in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"{name} must be a pair (beta1, beta2), got {betas!r}")
    return (check_real(f"{name}[0]", betas[0], low=0.0, high=1.0, high_open=True),
            check_real(f"{name}[1]", betas[1], low=0.0, high=1.0, high_open=True))


def _interval(name, low, high, low_open, high_open) -> str:
    parts = []
    if low is not None:
        parts.append(f"{low} {'<' if low_open else '<='} ")
    parts.append(name)
    if high is not None:
        parts.append(f" {'<' if high_open else '<='} {high}")
    if low is None and high is None:
        return f"a finite {name}"
    return "".join(parts)
