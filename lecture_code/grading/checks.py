"""Hidden tests: written once, run two ways.

A hidden-test block of a source notebook defines one function decorated with
:func:`hidden_test`. The function receives a ``check`` object and a seeded ``rng``
(``torch.Generator``) and reads like an ordinary test::

    @hidden_test(globals())
    def test(check, rng):
        x = torch.randn(5, generator=rng, dtype=torch.float64)
        got = check.call("sgd_step", x, x, lr=0.1)      # the student's function
        check.close(got, x - 0.1 * x, "sgd_step(x, g, lr)")

* Run in Jupyter (the instructor executing ``source.ipynb``), ``check.call`` calls the
  notebook's own function and ``check.close`` asserts at once.
* Run by the grader, the same function runs twice *outside* the sandbox: a first pass records
  the calls (``check.call`` returns ``None`` then; inputs must not depend on the student's
  outputs), the sandbox executes them on the student's functions and sends back plain
  numbers, and a second pass replays them and compares with the reference (``lecture_code``,
  in the grader's process). Student code never sees the expected values and cannot change how
  they are compared.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import zlib

import torch

_COLLECTOR: contextvars.ContextVar = contextvars.ContextVar("hidden_test_collector", default=None)


class StudentError(AssertionError):
    """The student's function raised, timed out or returned something unusable."""


def hidden_test(namespace: dict | None = None, *, seed: int | None = None):
    """Decorator for the one hidden test of a graded cell (see the module docstring).

    ``seed`` seeds the ``rng`` the test receives; by default it is derived from the test
    function's name, so every run (and every student) gets the same inputs.
    """
    def decorate(fn):
        nonlocal seed
        if seed is None:
            seed = zlib.crc32(fn.__name__.encode())
        collector = _COLLECTOR.get()
        if collector is not None:
            collector.append((fn, seed))
            return fn
        check = LocalCheck(namespace if namespace is not None else {})
        fn(check, _generator(seed))
        print(f"hidden test {fn.__name__}: passed ({check.calls} calls)")
        return fn
    return decorate


@contextlib.contextmanager
def collecting(into: list):
    token = _COLLECTOR.set(into)
    try:
        yield into
    finally:
        _COLLECTOR.reset(token)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- plain values (what crosses the sandbox wall) ------------------------------------------------
def to_plain(value):
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
        return {"__tensor__": t.reshape(-1).tolist(), "shape": list(t.shape),
                "dtype": str(t.dtype).replace("torch.", "")}
    if isinstance(value, tuple):
        return {"__tuple__": [to_plain(v) for v in value]}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    raise TypeError(f"cannot send a {type(value).__name__} to the sandbox")


_DTYPES = {"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
           "uint8", "bool"}
_NP_DTYPES = {"float16": "float16", "float32": "float32", "float64": "float64", "int8": "int8",
              "int16": "int16", "int32": "int32", "int64": "int64", "uint8": "uint8",
              "bool": "bool"}


def from_plain(value, depth: int = 0):
    """Rebuild a student's result from the sandbox's JSON, validating every piece of it."""
    if depth > 10:
        raise StudentError("the result is nested too deeply")
    if isinstance(value, dict):
        if "__tensor__" in value:
            data, shape, dtype = value.get("__tensor__"), value.get("shape"), value.get("dtype")
            if not (isinstance(data, list) and isinstance(shape, list)
                    and all(isinstance(s, int) and s >= 0 for s in shape)
                    and dtype in _DTYPES | set(_NP_DTYPES)):
                raise StudentError("the result is not a valid tensor")
            if math.prod(shape) != len(data) or not all(
                    isinstance(x, (int, float)) for x in data):
                raise StudentError("the result is not a valid tensor")
            return torch.tensor(data, dtype=torch.float64).reshape(shape)
        return {k: from_plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(from_plain(v, depth + 1) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    raise StudentError(f"unexpected result of type {type(value).__name__}")


def _normalise_local(value):
    """What a local (in-notebook) result looks like after the round trip through plain values."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().to(torch.float64)
    if isinstance(value, (list, tuple)):
        return tuple(_normalise_local(v) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hasattr(value, "__float__") and not isinstance(value, (str, bool)):
        return float(value)
    return value


# --- comparison (always in the grader's process) -----------------------------------------------
def assert_close(got, want, what: str, rtol: float = 1e-5, atol: float = 1e-7) -> None:
    want = _normalise_local(want)
    if isinstance(want, tuple):
        if not isinstance(got, tuple) or len(got) != len(want):
            n = len(got) if isinstance(got, tuple) else 1
            raise AssertionError(f"{what}: expected {len(want)} return values, got {n}")
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, f"{what}, return value {i + 1}", rtol, atol)
        return
    if isinstance(want, float):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = float(got.reshape(()))
        if not isinstance(got, float):
            raise AssertionError(f"{what}: expected a number, got {type(got).__name__}")
        if not math.isclose(got, want, rel_tol=rtol, abs_tol=atol) and not (
                math.isnan(got) and math.isnan(want)):
            raise AssertionError(f"{what}: expected {want:.6g}, got {got:.6g}")
        return
    if isinstance(want, torch.Tensor):
        if isinstance(got, float):
            got = torch.tensor(got, dtype=torch.float64)
        if not isinstance(got, torch.Tensor):
            raise AssertionError(f"{what}: expected a tensor, got {type(got).__name__}")
        if tuple(got.shape) != tuple(want.shape):
            raise AssertionError(f"{what}: expected shape {tuple(want.shape)}, "
                                 f"got {tuple(got.shape)}")
        if not torch.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
            err = (got - want).abs().nan_to_num(nan=float("inf")).max().item()
            raise AssertionError(f"{what}: values differ from the reference "
                                 f"(largest difference {err:.3g})")
        return
    if got != want:
        raise AssertionError(f"{what}: expected {want!r}, got {got!r}")


class _Check:
    calls = 0

    def close(self, got, want, what: str = "result", rtol: float = 1e-5, atol: float = 1e-7):
        assert_close(got, want, what, rtol, atol)

    def true(self, condition: bool, message: str):
        if not condition:
            raise AssertionError(message)


class LocalCheck(_Check):
    """Calls the notebook's functions directly (the instructor running the source notebook)."""

    def __init__(self, namespace: dict):
        self.namespace = namespace

    def call(self, fn: str, *args, **kwargs):
        self.calls += 1
        if fn not in self.namespace:
            raise StudentError(f"the notebook defines no function {fn!r}")
        args = _clone(args)
        kwargs = _clone(kwargs)
        return _normalise_local(self.namespace[fn](*args, **kwargs))


class RecordingCheck(_Check):
    """First pass: remembers the calls; comparisons are skipped."""

    def __init__(self):
        self.recorded = []

    def call(self, fn: str, *args, **kwargs):
        self.recorded.append({"fn": fn, "args": to_plain(list(_clone(args))),
                              "kwargs": to_plain(dict(_clone(kwargs)))})
        return None

    def close(self, *args, **kwargs):
        pass

    def true(self, *args, **kwargs):
        pass


class ReplayCheck(_Check):
    """Second pass: returns the student's results, in order, and compares for real."""

    def __init__(self, results: list):
        self.results = results
        self.position = 0

    def call(self, fn: str, *args, **kwargs):
        if self.position >= len(self.results):
            raise StudentError(f"{fn}: no result (the notebook stopped before this call)")
        result = self.results[self.position]
        self.position += 1
        if result is None:
            raise StudentError(f"{fn}: no result (the notebook stopped before this call)")
        if "error" in result:
            raise StudentError(f"{fn} raised {result['error']}")
        return from_plain(result.get("result"))


def _clone(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value
