"""Runs one submission *inside* the sandbox. Standalone: only the standard library, IPython and
(lazily) torch/numpy -- the book's package is not visible in the sandbox.

Input: ``/work/job.json`` = {"cells": [source, ...], "calls": [{"fn", "args", "kwargs"}, ...],
"cell_timeout": s, "call_timeout": s, "device": "cpu"|"cuda"}. The notebook itself is at
``/work/submission.ipynb`` only for the student's own file reads; the cells come from job.json.

Output: JSON lines on the file descriptor given as the first argument, read by the
grader outside the sandbox:
``{"event": "cell_start", "index": i}``, ``{"event": "cell_end", "index": i, "error": str|null,
"kind": "memory"|"timeout"|"process"|null}``, ``{"event": "call", "index": k, "result": plain}``
or ``{"event": "call", "index": k, "error": str}``, and ``{"event": "done"}``.
Only plain values leave: numbers, strings, lists, and tensors/arrays as
``{"__tensor__": flat list, "shape": [...], "dtype": str}``. Nothing is compared here.
"""
import gc
import json
import os
import signal
import sys

_MAIN_PID = os.getpid()
_RESULTS_FD = int(sys.argv[1])        # the results pipe, passed by the grader
_write = os.write
_dumps = json.dumps
_getpid = os.getpid
_exit = os._exit


class _Timeout(BaseException):
    """Raised by the per-cell / per-call alarm (a BaseException: `except Exception` won't eat it)."""


def _on_alarm(signum, frame):
    raise _Timeout("time limit of this cell exceeded")


def emit(obj):
    if _getpid() != _MAIN_PID:          # a forked child never speaks for the submission
        _exit(0)
    data = (_dumps(obj, allow_nan=True) + "\n").encode()
    view = memoryview(data)
    while view:
        n = _write(_RESULTS_FD, view)
        view = view[n:]


def _kind(exc):
    if isinstance(exc, _Timeout):
        return "timeout"
    if isinstance(exc, MemoryError) or "can't allocate memory" in str(exc) \
            or "out of memory" in str(exc).lower():
        return "memory"
    if isinstance(exc, BlockingIOError) or (isinstance(exc, OSError) and exc.errno == 11):
        return "process"
    return None


def _describe(exc):
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."


def to_plain(value, depth=0):
    if depth > 8:
        raise TypeError("result nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, (list, tuple)):
        return [to_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v, depth + 1) for k, v in value.items()}
    mod = type(value).__module__
    if mod.startswith("torch"):
        import torch
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu()
            if t.is_complex():
                raise TypeError("complex tensors are not accepted")
            return {"__tensor__": t.reshape(-1).tolist(), "shape": list(t.shape),
                    "dtype": str(t.dtype).replace("torch.", "")}
    if mod.startswith("numpy"):
        import numpy as np
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"arrays of dtype {arr.dtype} are not accepted")
        return {"__tensor__": arr.reshape(-1).tolist(), "shape": list(arr.shape),
                "dtype": str(arr.dtype)}
    if hasattr(value, "__float__"):
        return float(value)
    raise TypeError(f"cannot return a value of type {type(value).__name__}")


def from_plain(value, device):
    if isinstance(value, list):
        return [from_plain(v, device) for v in value]
    if isinstance(value, dict):
        if "__tensor__" in value:
            import torch
            dtype = getattr(torch, value["dtype"])
            return torch.tensor(value["__tensor__"], dtype=dtype).reshape(value["shape"]).to(device)
        if "__tuple__" in value:
            return tuple(from_plain(v, device) for v in value["__tuple__"])
        return {k: from_plain(v, device) for k, v in value.items()}
    return value


def main():
    with open("/work/job.json") as f:
        job = json.load(f)
    import resource
    limit = int(job.get("max_file", 16 * 1024 ** 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))   # for every file written below
    signal.signal(signal.SIGALRM, _on_alarm)
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.showtraceback = _short_traceback(shell)
    for name in ("numpy", "torch"):       # imported before the per-cell clock starts
        try:
            __import__(name)
        except ImportError:
            pass
    for index, source in enumerate(job["cells"]):
        emit({"event": "cell_start", "index": index})
        signal.setitimer(signal.ITIMER_REAL, job["cell_timeout"])
        error = kind = None
        try:
            result = shell.run_cell(source, store_history=False)
            exc = result.error_in_exec or result.error_before_exec
            signal.setitimer(signal.ITIMER_REAL, 0)
            if exc is not None:
                error, kind = _describe(exc), _kind(exc)
                exc.__traceback__ = None          # let go of the failed cell's frames (memory)
            del result, exc
        except BaseException as exc:      # noqa: BLE001 - anything the cell throws at us
            signal.setitimer(signal.ITIMER_REAL, 0)
            error, kind = _describe(exc), _kind(exc)
            exc.__traceback__ = None
        shell.last_execution_result = None
        sys.last_type = sys.last_value = sys.last_traceback = None
        if kind == "memory":
            gc.collect()
        emit({"event": "cell_end", "index": index, "error": error, "kind": kind})
    sys.stdout.flush()
    namespace = shell.user_ns
    device = job.get("device", "cpu")
    for index, call in enumerate(job["calls"]):
        emit({"event": "call_start", "index": index})
        signal.setitimer(signal.ITIMER_REAL, job["call_timeout"])
        try:
            fn = namespace.get(call["fn"])
            if not callable(fn):
                raise NameError(f"your notebook defines no function named {call['fn']!r}")
            args = from_plain(call["args"], device)
            kwargs = from_plain(call["kwargs"], device)
            out = to_plain(fn(*args, **kwargs))
            signal.setitimer(signal.ITIMER_REAL, 0)
            message = {"event": "call", "index": index, "result": out}
        except BaseException as exc:      # noqa: BLE001
            signal.setitimer(signal.ITIMER_REAL, 0)
            message = {"event": "call", "index": index, "error": _describe(exc),
                       "kind": _kind(exc)}
        try:
            emit(message)
        except (TypeError, ValueError) as exc:
            emit({"event": "call", "index": index, "error": _describe(exc), "kind": None})
    emit({"event": "done"})
    sys.stdout.flush()
    _exit(0)


def _short_traceback(shell):
    """IPython's traceback printer, replaced by one line (and no reference kept to the frames)."""
    def show(*args, **kwargs):
        try:
            etype, value, _ = sys.exc_info()
            print(f"{etype.__name__}: {value}"[:2000])
        except BaseException:            # noqa: BLE001
            pass
    return show


if __name__ == "__main__":
    main()
