"""What the sweeping benches share: confidence intervals, a CSV that survives ^C, and a pool of
one-thread workers.

``compare`` (optimizers with tuned learning rates) and ``regularization`` (regularizers with
tuned strengths) both train many small runs, append each to a CSV as soon as it ends, resume
from that CSV, and report means with 95 % Student-t intervals, paired by seed.
"""
from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch


def t_interval(values) -> tuple[float, float, int]:
    """(mean, half-width of the 95 % Student-t confidence interval, n) of ``values``."""
    from scipy.stats import t

    values = np.asarray(values, float)
    n = len(values)
    if n < 2:
        return float(values.mean()) if n else math.nan, math.nan, n
    half = t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n)
    return float(values.mean()), float(half), n


def paired(runs_a: list[dict], runs_b: list[dict], key: str = "test_accuracy"):
    """The 95 % t-interval of ``b − a`` over the seeds both have (paired by seed); ``key`` is a
    column name or a function of a row."""
    value = key if callable(key) else (lambda row: row[key])
    a = {r["seed"]: value(r) for r in runs_a}
    b = {r["seed"]: value(r) for r in runs_b}
    return t_interval([b[s] - a[s] for s in sorted(a.keys() & b.keys())])


def read_rows(path, fields: tuple[str, ...]) -> list[dict]:
    """The rows of a bench's CSV as strings; [] when the file does not exist. A CSV with other
    columns is refused (it belongs to another bench or an older version of this one)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and tuple(rows[0]) != fields:
        raise ValueError(f"{path}: columns {list(rows[0])} are not this bench's {list(fields)}; "
                         "move the file away or pass another --out")
    return rows


def write_rows(rows: Iterable[dict], path: Path, fields: tuple[str, ...],
               encode: Callable[[dict], dict]) -> None:
    """Write ``encode(row)`` for every row to ``path`` through a temporary file and an atomic
    replace: an interrupted bench never leaves a half-written CSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(encode(r) for r in rows)
    tmp.replace(path)


def curve_text(values) -> str:
    """A curve as one CSV cell: space-separated, four decimals."""
    return " ".join(f"{v:.4f}" for v in values)


def curve_array(text: str) -> np.ndarray:
    """The inverse of :func:`curve_text`."""
    return np.array(text.split(), float)


@contextmanager
def job_map(jobs: int) -> Iterator[Callable]:
    """A ``map`` that runs ``jobs`` > 1 calls at once in spawned worker processes of one torch
    thread each (the small models of these benches do not gain from more), or the built-in
    ``map`` in this process for ``jobs=1``. Pending work is cancelled on exit."""
    if jobs <= 1:
        yield map
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=torch.set_num_threads, initargs=(1,))
    try:
        yield pool.map
    finally:
        pool.shutdown(cancel_futures=True)
