"""``python -m lecture_code.bench optimizers``: step time, bandwidth and state size of every optimizer.

For each optimizer of :mod:`lecture_code.optimizers` (run with ``execution="compiled"``, the fast
path) the benchmark times one ``step()`` on two parameter sets —

* ``flat``: one float32 tensor of 10 M elements (memory-bound: the ideal is set by bandwidth);
* ``resnet``: the ~50 tensors of a small ResNet-like model, ~1 M elements (overhead-bound);

next to its ``torch.optim`` twin at torch's fastest setting (``fused=True`` where torch has it,
else ``foreach=True``), fused Adam (the common yardstick), and the ``pytorch_optimizer`` class
computing the same update where one exists. The machine's memory bandwidth is measured in the
same run (an in-place ``a += b`` on large arrays) and each optimizer's achieved bandwidth is
reported as a fraction of it,
from the bytes its update must read and write per parameter. Results go to
``benchmarks/optimizers.{csv,md}``.
"""
from __future__ import annotations

import argparse
import csv
import math
import statistics
import time

import torch

from . import RESULTS, provenance
from .. import optimizers as ours

# Bytes read + written per float32 parameter by one update (the algorithm's own traffic):
# Adam reads p, g, m, v and writes p, m, v: 7 × 4 = 28 bytes.
BASE_BYTES = {"SGD": 20, "AdaGrad": 20, "RMSProp": 20, "Adam": 28, "AdamW": 28, "RAdam": 28,
              "AdaBelief": 28, "DiffGrad": 36}
# AdaNorm and centralization read g once more (the norm, the mean of g, come before the
# update); AdaInject reads and writes θ_{t-1}.
TECHNIQUE_BYTES = {"Norm": 4, "Inject": 8, "Centralized": 4}


def bytes_per_parameter(name: str) -> int:
    for suffix, extra in TECHNIQUE_BYTES.items():
        if name.endswith(suffix):
            return BASE_BYTES[name[: -len(suffix)]] + extra
    return BASE_BYTES[name]


def byte_bound(name: str) -> float:
    """The lowest time relative to fused Adam that any implementation can reach on a
    memory-bound tensor: the ratio of the bytes the update must move to Adam's 28."""
    return bytes_per_parameter(name) / BASE_BYTES["Adam"]


def target(row: dict) -> str:
    """The issue's target for this row, and whether the measurement meets it.

    ``flat`` (memory-bound): SGD, AdaGrad, RMSProp, Adam and AdamW within 1.2× of their torch
    twin; the others (RAdam included, whose torch twin has no fused version) within 1.5× of
    fused Adam and at least 5× faster than pytorch_optimizer's class where it has one.
    ``resnet`` (overhead-bound): the same five within 1.5× of their torch twin, the others
    within 1.5× of fused Adam.
    """
    classic = row["optimizer"] in ("SGD", "AdaGrad", "RMSProp", "Adam", "AdamW")
    limit = 1.2 if row["setup"] == "flat" else 1.5
    if row["torch_twin"] and classic:
        goal, met = f"≤ {limit}× twin", row["vs_torch"] <= limit
    else:
        goal, met = "≤ 1.5× fused Adam", row["vs_fused_adam"] <= 1.5
        if row["setup"] == "flat" and row["vs_pytorch_optimizer"] != "":
            goal, met = goal + ", ≥ 5× faster than pytorch_optimizer", (
                met and row["vs_pytorch_optimizer"] <= 0.2)
    return f"{goal}: {'met' if met else 'missed'}"


def _torch_twin(name: str):
    """(label, factory) of torch.optim's fastest implementation of the same update, if any."""
    t = torch.optim
    table = {
        "SGD": ("torch SGD fused", lambda ps: t.SGD(ps, lr=1e-3, momentum=0.9, fused=True)),
        "AdaGrad": ("torch Adagrad fused", lambda ps: t.Adagrad(ps, lr=1e-3, fused=True)),
        "RMSProp": ("torch RMSprop foreach", lambda ps: t.RMSprop(ps, lr=1e-3, foreach=True)),
        "Adam": ("torch Adam fused", lambda ps: t.Adam(ps, lr=1e-3, fused=True)),
        "AdamW": ("torch AdamW fused", lambda ps: t.AdamW(ps, lr=1e-3, fused=True)),
        "RAdam": ("torch RAdam foreach", lambda ps: t.RAdam(ps, lr=1e-3, foreach=True)),
    }
    return table.get(name)


def _pytorch_optimizer_twin(name: str):
    """(label, factory) of the pytorch_optimizer class computing the same update, if installed."""
    try:
        import pytorch_optimizer as po
    except ImportError:
        return None
    table = {
        "DiffGrad": ("pytorch_optimizer DiffGrad", lambda ps: po.DiffGrad(ps, lr=1e-3)),
        "AdaBelief": ("pytorch_optimizer AdaBelief",
                      lambda ps: po.AdaBelief(ps, lr=1e-3, weight_decouple=False, rectify=False)),
        "AdamNorm": ("pytorch_optimizer AdaNorm", lambda ps: po.AdaNorm(ps, lr=1e-3)),
    }
    return table.get(name)


def ours_factory(name: str):
    cls = ours.OPTIMIZERS[name]
    extra = {"momentum": 0.9} if name == "SGD" else {}
    return lambda ps: cls(ps, lr=1e-3, execution="compiled", **extra)


def resnet_shapes() -> list[tuple[int, ...]]:
    """Parameter shapes of a small ResNet (4 stages of 2 basic blocks, widths 16–128)."""
    shapes = [(16, 3, 3, 3), (16,), (16,)]
    width_in = 16
    for width in (16, 32, 64, 128):
        for block in range(2):
            c_in = width_in if block == 0 else width
            shapes += [(width, c_in, 3, 3), (width,), (width,), (width, width, 3, 3), (width,), (width,)]
            if block == 0 and c_in != width:
                shapes += [(width, c_in, 1, 1), (width,), (width,)]
        width_in = width
    shapes += [(10, 128), (10,)]
    return shapes


def parameter_shapes(setup: str) -> list[tuple[int, ...]]:
    return [(10_000_000,)] if setup == "flat" else resnet_shapes()


def make_parameters(setup: str, device) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(0)
    params = []
    for shape in parameter_shapes(setup):
        p = torch.nn.Parameter(torch.randn(shape, generator=g).to(device))
        p.grad = torch.randn(shape, generator=g).to(device) * 1e-2
        params.append(p)
    return params


def time_steps(factories: dict, setup: str, device, steps: int, repeats: int,
               trials: int) -> tuple[dict, dict]:
    """Each optimizer's seconds per step in every trial.

    A *trial* allocates the parameters afresh and gives them to every optimizer (each keeps its
    own state, allocated in a rotated order), runs 5 warm-up steps (the compiled path compiles
    there), then times ``repeats`` interleaved rounds of ``steps`` steps each; the trial's time
    is the best round (noise only ever adds time). Where tensors land in memory changed a
    step's time by up to 1.5× on the shared machine this was written on; stepping the same
    parameter tensors keeps that out of the comparison, and the median over trials is
    reported, with the range.
    Returns ({label: [best seconds per step, one per trial]}, the last trial's optimizers —
    for their state sizes).
    """
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    labels = list(factories)
    best = {label: [] for label in labels}
    for trial in range(trials):
        order = labels[trial % len(labels):] + labels[:trial % len(labels)]
        params = make_parameters(setup, device)
        optimizers = {label: factories[label](params) for label in order}
        for label in order:
            for _ in range(5):
                optimizers[label].step()
        samples = {label: [] for label in labels}
        for _ in range(repeats):
            for label in labels:
                sync()
                start = time.perf_counter()
                for _ in range(steps):
                    optimizers[label].step()
                sync()
                samples[label].append((time.perf_counter() - start) / steps)
        for label in labels:
            best[label].append(min(samples[label]))
        if trial < trials - 1:
            del optimizers, params
    return best, optimizers


def median_ratio(best: dict, label: str, reference: str) -> tuple[float, float, float]:
    """Median, lowest and highest over trials of the time ratio ``label`` / ``reference``."""
    ratios = sorted(a / b for a, b in zip(best[label], best[reference]))
    return statistics.median(ratios), ratios[0], ratios[-1]


def state_bytes_per_parameter(optimizer: torch.optim.Optimizer) -> float:
    numel = sum(p.numel() for group in optimizer.param_groups for p in group["params"])
    state = sum(v.numel() * v.element_size() for s in optimizer.state.values()
                for v in s.values() if torch.is_tensor(v) and v.dim() > 0)
    return state / numel


def memory_bandwidth(device, megabytes: int = 400, repeats: int = 5) -> float:
    """Bytes per second of an in-place update ``a += b`` on arrays far beyond any cache.

    It reads a and b and writes a back — 12 bytes per float32 element — the same access pattern
    as an optimizer's in-place update (a plain copy would also pay for reading the destination
    before writing it, and understate what an in-place update can reach).
    """
    n = megabytes * 2 ** 20 // 4
    a, b = torch.ones(n, device=device), torch.full((n,), 1e-7, device=device)
    a.add_(b)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    best = float("inf")
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        a.add_(b)
        sync()
        best = min(best, time.perf_counter() - start)
    return 3 * n * 4 / best


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lecture_code.bench optimizers",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="optimizer names to run (default: all)")
    parser.add_argument("--setups", nargs="*", default=["flat", "resnet"],
                        choices=["flat", "resnet"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS / "optimizers"),
                        help="path prefix of the .csv and .md results")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    names = args.only or list(ours.OPTIMIZERS)
    bandwidth = memory_bandwidth(device)
    print(f"memory bandwidth (in-place a += b): {bandwidth / 1e9:.1f} GB/s")
    rows = []
    for setup in args.setups:
        numel = sum(math.prod(shape) for shape in parameter_shapes(setup))
        fused_adam_total = 0.0
        for name in names:
            factories = {"ours": ours_factory(name), "fused Adam": _torch_twin("Adam")[1]}
            twins = {"torch": _torch_twin(name), "pytorch_optimizer": _pytorch_optimizer_twin(name)}
            for kind, twin in twins.items():
                if twin is not None:
                    factories[kind] = twin[1]
            best, optimizers = time_steps(factories, setup, device, args.steps, args.repeats,
                                          args.trials)
            ours_time = statistics.median(best["ours"])
            fused_adam_total += statistics.median(best["fused Adam"])
            vs_fused, low, high = median_ratio(best, "ours", "fused Adam")
            row = {"setup": setup, "optimizer": name, "ms_per_step": 1e3 * ours_time,
                   "vs_fused_adam": vs_fused, "vs_fused_adam_range": f"{low:.2f}–{high:.2f}",
                   "bandwidth_fraction": bytes_per_parameter(name) * numel / ours_time / bandwidth,
                   "state_bytes_per_param": state_bytes_per_parameter(optimizers["ours"])}
            for kind, twin in twins.items():
                row[f"{kind}_twin"] = twin[0] if twin else ""
                row[f"vs_{kind}"] = median_ratio(best, "ours", kind)[0] if twin else ""
            if twins["torch"]:
                row["torch_state_bytes_per_param"] = state_bytes_per_parameter(optimizers["torch"])
            row["byte_bound"] = byte_bound(name)
            row["target"] = target(row)
            rows.append(row)
            del optimizers
            print(f"{setup:6s} {name:22s} {1e3 * ours_time:8.2f} ms  x{row['vs_fused_adam']:.2f} of fused Adam"
                  + (f"  x{row['vs_torch']:.2f} of {row['torch_twin']}" if row["vs_torch"] != "" else "")
                  + (f"  x{row['vs_pytorch_optimizer']:.2f} of {row['pytorch_optimizer_twin']}"
                     if row["vs_pytorch_optimizer"] != "" else "")
                  + f"  {100 * row['bandwidth_fraction']:.0f}% of bandwidth", flush=True)
        print(f"{setup:6s} torch Adam fused {1e3 * fused_adam_total / len(names):.2f} ms per step "
              "(mean over the optimizers' runs)")
    write_results(rows, args.out, bandwidth)
    return 0


def write_results(rows: list[dict], prefix: str, bandwidth: float) -> None:
    from pathlib import Path

    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    columns = ["setup", "optimizer", "ms_per_step", "vs_fused_adam", "vs_fused_adam_range",
               "torch_twin", "vs_torch",
               "pytorch_optimizer_twin", "vs_pytorch_optimizer", "bandwidth_fraction",
               "state_bytes_per_param", "torch_state_bytes_per_param", "byte_bound", "target"]
    with open(prefix.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)

    def fmt(value, pattern):
        return "" if value in ("", None) else pattern.format(value)

    lines = ["# Optimizer step time (`execution=\"compiled\"`)", "", provenance(),
             f"Memory bandwidth, measured in the same run by an in-place `a += b` on 400 MB arrays: "
             f"{bandwidth / 1e9:.1f} GB/s. `flat`: one 10 M-element float32 tensor; `resnet`: "
             f"{len(resnet_shapes())} tensors of a small ResNet. Ratios are time / time of the "
             "named twin (below 1 = faster). Each trial allocates the parameters afresh, and every "
             "optimizer steps those same tensors (with its own state), since on a shared machine "
             "where tensors land in memory moves a step's time by up to 1.5×; they are timed in "
             "interleaved rounds in the same process (each one's time: the best round). "
             "The table gives the median over trials and, for fused Adam, the range. `byte bound`: the bytes the update must move per "
             "parameter divided by Adam's 28 — the lowest `× fused Adam` any implementation can "
             "reach on the memory-bound `flat` setup. `% of bandwidth` above 100 means the "
             "machine delivered more than the reference measured at the start of the run (its "
             "bandwidth moves during a run).", "",
             "| setup | optimizer | ms/step | × fused Adam (range) | byte bound | torch twin | "
             "× twin | pytorch_optimizer | × it | % of bandwidth | state B/param (torch) | "
             "target |",
             "|---|---|---:|---:|---:|---|---:|---|---:|---:|---:|---|"]
    for r in rows:
        lines.append(
            f"| {r['setup']} | {r['optimizer']} | {r['ms_per_step']:.2f} | "
            f"{r['vs_fused_adam']:.2f} ({r['vs_fused_adam_range']}) | "
            f"{r['byte_bound']:.2f} | {r['torch_twin']} | {fmt(r['vs_torch'], '{:.2f}')} | {r['pytorch_optimizer_twin']} | "
            f"{fmt(r['vs_pytorch_optimizer'], '{:.2f}')} | {100 * r['bandwidth_fraction']:.0f} | "
            f"{r['state_bytes_per_param']:.0f}{fmt(r.get('torch_state_bytes_per_param'), ' ({:.0f})')} | "
            f"{r['target']} |")
    prefix.with_suffix(".md").write_text("\n".join(lines) + "\n")
