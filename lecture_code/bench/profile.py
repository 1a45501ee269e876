"""``python -m lecture_code.bench profile``: where one optimizer step spends its time.

Runs ``--steps`` steps of an optimizer (``execution="compiled"``) on the benchmark's parameter
sets under :mod:`cProfile` and writes the functions with the most time of their own, next to
the same profile of ``torch.optim.Adam(fused=True)``. On ``flat`` nearly all the time is the
compiled kernel (memory-bound); on ``resnet`` the profile shows the per-step overhead — Python
bookkeeping, the step counters, dynamo's guard checks — around a short kernel. It also lists
the loops of the generated kernel (one line per ``#pragma omp for``), which shows the extra
pass that a per-tensor reduction (AdaNorm's norm, centralization's mean) costs.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re

import torch

from . import RESULTS, provenance
from .optimizers import _torch_twin, make_parameters, ours_factory


def profile_steps(optimizer, steps: int, lines: int) -> str:
    for _ in range(5):
        optimizer.step()                        # compile and warm up outside the profile
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        optimizer.step()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(lines)
    text = out.getvalue()
    text = text[text.index("ncalls"):] if "ncalls" in text else text
    total = stats.total_tt / steps
    return f"{1e3 * total:.3f} ms per step under the profiler\n\n" + _short_paths(text)


def _short_paths(text: str) -> str:
    return re.sub(r"\S*/site-packages/", "", re.sub(r"/tmp/torchinductor_\w+/\S*?\.py", "<inductor output>.py", text))


def kernel_loops(name: str, setup: str) -> list[str]:
    """The outer loops of the C++ kernel inductor generates for one step (flat setup only)."""
    from torch._inductor.utils import run_and_get_code

    optimizer = ours_factory(name)(make_parameters(setup, torch.device("cpu")))
    optimizer.step()
    optimizer._compiled_rule = None             # compile afresh to capture the generated code
    torch._dynamo.reset()
    _, sources = run_and_get_code(optimizer.step)
    loops = []
    for source in sources:
        for match in re.finditer(r"#pragma omp for[^\n]*\n\s*(for\([^\n]*\))", source):
            loops.append(re.sub(r"static_cast<int64_t>\((\w+)\)", r"\1", match.group(1)))
    return loops


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lecture_code.bench profile",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--optimizers", nargs="*", default=["Adam", "SGD", "AdamNorm"])
    parser.add_argument("--setups", nargs="*", default=["flat", "resnet"],
                        choices=["flat", "resnet"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lines", type=int, default=12)
    parser.add_argument("--out", default=str(RESULTS / "profile.md"))
    args = parser.parse_args(argv)
    device = torch.device("cpu")
    sections = ["# Where an optimizer step spends its time", "", provenance(),
                " ".join(__doc__.split("\n\n", 1)[1].split()).replace("``", "`").replace(
                    ":mod:", ""), "",
                "cProfile of `step()` (functions sorted by their own time; `kernel` is the "
                "compiled C++ update; `compile_wrapper` includes dynamo's guard checks), after "
                "5 warm-up steps.", ""]
    for setup in args.setups:
        for label, factory in [("torch Adam fused", _torch_twin("Adam")[1]),
                               *[(name, ours_factory(name)) for name in args.optimizers]]:
            steps = args.steps if setup == "resnet" else max(args.steps // 10, 10)
            report = profile_steps(factory(make_parameters(setup, device)), steps, args.lines)
            sections += [f"## {setup}: {label}", "", "```text", report.rstrip(), "```", ""]
            print(f"{setup} {label}: {report.splitlines()[0]}", flush=True)
    for name in args.optimizers:
        loops = kernel_loops(name, "flat")
        sections += [f"## Loops of the generated kernel, flat: {name}", "", "```c",
                     *loops, "```", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(sections))
    print(f"wrote {args.out}")
    return 0
