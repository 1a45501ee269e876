"""``python -m lecture_code.bench widgets``: time to recompute one explorer trajectory.

The live explorers redraw on every slider move; each redraw runs :func:`trajectory` for every
selected optimizer. This measures the time of one 300-step trajectory for every optimizer on
every surface (median of several runs) and writes ``benchmarks/widgets.md``.
"""
from __future__ import annotations

import argparse
import statistics
import time

from . import RESULTS, provenance, write_report
from ..optimizers import OPTIMIZERS, hyperparameters_for
from ..surfaces import SURFACES, trajectory


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lecture_code.bench widgets")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(RESULTS / "widgets.md"))
    args = parser.parse_args(argv)
    rows = []
    for surface_name, make_surface in SURFACES.items():
        surface = make_surface()
        for name, cls in OPTIMIZERS.items():
            hyper = hyperparameters_for(cls, lr=1e-3)
            trajectory(cls, surface, steps=5, **hyper)  # warm-up
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                trajectory(cls, surface, steps=args.steps, **hyper)
                times.append(time.perf_counter() - start)
            rows.append((surface_name, name, 1e3 * statistics.median(times)))
            print(f"{surface_name:28s} {name:22s} {rows[-1][2]:7.1f} ms", flush=True)
    worst = max(rows, key=lambda r: r[2])
    lines = [f"# Widget recompute time ({args.steps}-step trajectory)", "", provenance(),
             f"Slowest: {worst[1]} on {worst[0]}, {worst[2]:.1f} ms (target: under 50 ms).", "",
             "| surface | optimizer | ms |", "|---|---|---:|"]
    lines += [f"| {s} | {o} | {ms:.1f} |" for s, o, ms in rows]
    write_report(args.out, lines)
    return 0
