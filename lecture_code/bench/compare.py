"""``python -m lecture_code.bench compare``: the recent optimizers compared the way the
optimizer-benchmarking literature does it.

Schmidt, Schneider & Hennig (2021), Choi et al. (2019) and AlgoPerf (Dahl et al. 2023) agree on
the method: give every optimizer the same budget, tune each one's learning rate on a
*validation* split, and only then compare, on a *test* split, over several seeds. This command
does that for the optimizers of the recent-optimizers chapter — Adam, diffGrad, RAdam and
AdaBelief without and with AdaNorm (the slides' Table 1), Adam with AdaInject and with moment
centralization — and writes

* ``compare.csv``: one row per task × optimizer × learning rate × seed (final validation and
  test accuracy, training loss, seconds, the step at which validation accuracy first reached the
  task's target, the validation curve);
* ``compare.md``: tuned learning rates, test accuracy at them with 95 % confidence intervals,
  the paired differences of the slides' table, steps and seconds to the target, and the same
  comparison at one fixed, untuned rate;
* ``compare.png``: the learning-rate sensitivity curves and the tuned accuracies.

The protocol, per task and optimizer:

1. **Tune**: train at every rate of a log grid (factor 2) with the tuning seeds; the tuned rate
   has the best mean final validation accuracy. When it lies at an end of the grid the grid is
   widened by one rate on that side and the tuning repeats (at most ``--max-widen`` times).
2. **Evaluate**: train at the tuned rate with the remaining seeds; report test accuracy over all
   seeds. The test split plays no part in choosing anything.

Fair by construction: for one seed every run starts from the same initial weights and sees the
mini-batches in the same order; what differs between two runs of a seed is the update rule and
its learning rate. Results are appended to the CSV after every run, so an interrupted sweep
resumes where it stopped. The committed configuration (the MNIST-1D paper's CNN, 10 optimizers,
7 rates × 2 tuning seeds, 5 seeds at the tuned rate) takes about half an hour with
``--jobs 2`` on 2 CPU cores.

``--dataset cifar10 --data-dir DIR`` runs the same protocol on CIFAR-10 with a VGG-style CNN
(the slides' kind of network), read from a local copy in the python-pickle layout; it is meant
for ``--device cuda``.
"""
from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..optimizers import OPTIMIZERS
from ..training import TrainingDiverged, evaluate, train
from . import RESULTS, provenance, write_report
from .baselines import AccuracyEvery, ConvNet1d, ResidualMLP, paper_data
from .sweeps import curve_array, curve_text, job_map, paired, read_rows, t_interval, write_rows

#: The optimizers compared, in table order: the four bases of the AdaNorm table without and with
#: AdaNorm, then Adam with the chapter's two other techniques.
OPTIMIZER_NAMES = ("Adam", "AdamNorm", "DiffGrad", "DiffGradNorm", "RAdam", "RAdamNorm",
                   "AdaBelief", "AdaBeliefNorm", "AdamInject", "AdamCentralized")
#: The rows of the slides' table: (without, with AdaNorm).
NORM_PAIRS = (("Adam", "AdamNorm"), ("DiffGrad", "DiffGradNorm"), ("RAdam", "RAdamNorm"),
              ("AdaBelief", "AdaBeliefNorm"))
#: The chapter's other techniques, each against the Adam it modifies.
TECHNIQUE_PAIRS = (("Adam", "AdamInject"), ("Adam", "AdamCentralized"))
#: The learning-rate grid: a factor of 2 from 1e-3 (Adam's default) to 6.4e-2.
LR_GRID = tuple(1e-3 * 2.0 ** k for k in range(7))
#: The "one rate for all" comparison the tuned one is set against.
UNTUNED_LR = 1e-3


def vgg_cifar(width: int = 64, stages: int = 4, convs_per_stage: int = 2,
              num_classes: int = 10) -> nn.Module:
    """A VGG-style CNN for 32×32 images: ``stages`` blocks of 3×3 conv–BN–ReLU layers (widths
    ``width``, 2·``width``, … capped at 8·``width``), each followed by 2×2 max pooling, then a
    global average and a linear classifier (Simonyan & Zisserman 2015, with batch norm)."""
    layers, channels = [], 3
    for stage in range(stages):
        out = width * min(2 ** stage, 8)
        for _ in range(convs_per_stage):
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                       nn.ReLU(inplace=True)]
            channels = out
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(channels, num_classes))


@dataclass(frozen=True)
class Task:
    """A model, its data set and its budget: what every optimizer is given."""

    title: str
    dataset: str                          # "mnist1d" or "cifar10"
    model: Callable[[], nn.Module]
    steps: int
    batch_size: int
    eval_every: int                       # validation accuracy every this many steps
    target: float                         # validation accuracy for "steps to target"
    reference: str                        # what the architecture is known to reach


TASKS = {
    "cnn": Task("1-D CNN / MNIST-1D", "mnist1d", ConvNet1d, steps=4000, batch_size=100,
                eval_every=100, target=0.90,
                reference="94 % (paper README), 92.3 % (its logs), 94.1 % here with 6000 steps"),
    "mlp": Task("MLP / MNIST-1D", "mnist1d", ResidualMLP, steps=4000, batch_size=100,
                eval_every=100, target=0.60,
                reference="68 % (paper README), 64.6-65.1 % (its logs), 65.6 % here"),
    "vgg": Task("VGG / CIFAR-10", "cifar10", vgg_cifar, steps=15000, batch_size=128,
                eval_every=1000, target=0.85, reference="about 92-93 % for VGG-16 (slides' table)"),
}
#: Tasks per data set (``--dataset``); the first is the default.
DATASET_TASKS = {"mnist1d": ("cnn",), "cifar10": ("vgg",)}


@dataclass(frozen=True)
class Protocol:
    """The tuning protocol: the initial grid, the seeds used to tune and the seeds reported."""

    lrs: tuple[float, ...] = LR_GRID
    tune_seeds: tuple[int, ...] = (0, 1)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    max_widen: int = 3
    #: Also run every reported seed at this one rate, for the untuned comparison (None: no).
    fixed_lr: float | None = UNTUNED_LR


QUICK = {"protocol": Protocol(lrs=(1e-3, 4e-3, 1.6e-2), tune_seeds=(0,), seeds=(0, 1),
                              max_widen=1, fixed_lr=1e-3),
         "steps": 40, "eval_every": 10}


# --- data ----------------------------------------------------------------------------------------
VAL_FRACTION = 0.2


@lru_cache(maxsize=4)
def load(dataset: str, data_dir: str | None = None):
    """(train, val, test) pairs of tensors. The validation split is a fixed 20 % of the training
    set (permutation seed 0), so the test split is never used to choose anything."""
    if dataset == "mnist1d":
        (x, y), test = paper_data()          # the paper's 4000 / 1000 signals, not standardised
    elif dataset == "cifar10":
        if data_dir is None:
            raise ValueError("dataset='cifar10' needs data_dir: a folder with CIFAR-10's python "
                             "batches (this book never downloads them)")
        from ..data import cifar10
        (x, y), test = cifar10(data_dir)
    else:
        raise ValueError(f"dataset must be one of {sorted(DATASET_TASKS)}, got {dataset!r}")
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    n_val = int(round(VAL_FRACTION * len(y)))
    val, keep = order[:n_val], order[n_val:]
    return (x[keep], y[keep]), (x[val], y[val]), test


# --- one run ---------------------------------------------------------------------------------------
FIELDS = ("task", "optimizer", "lr", "seed", "steps", "batch_size", "val_accuracy",
          "test_accuracy", "train_loss", "seconds", "steps_to_target", "seconds_to_target",
          "diverged_at", "val_curve")


def run_one(task: Task, optimizer_name: str, lr: float, seed: int, data, device) -> dict:
    """Train ``task``'s model from seed ``seed``'s initial weights with one optimizer and rate;
    the CSV row. A run whose loss becomes NaN/inf is recorded with the step it diverged at."""
    train_data, val_data, test_data = (tuple(t.to(device) for t in part) for part in data)
    torch.manual_seed(seed)                               # the same initial weights ...
    model = task.model().to(device)
    generator = torch.Generator().manual_seed(seed)      # ... and batch order for every run
    optimizer = OPTIMIZERS[optimizer_name](model.parameters(), lr=lr)
    probe = AccuracyEvery(val_data, task.eval_every)
    row = {"task": task.title, "optimizer": optimizer_name, "lr": lr, "seed": seed,
           "steps": task.steps, "batch_size": task.batch_size}
    start = time.perf_counter()
    try:
        history = train(model, optimizer, train_data, epochs=None, max_steps=task.steps,
                        batch_size=task.batch_size, generator=generator, epoch_metrics=False,
                        callbacks=[probe], quiet=True)
    except TrainingDiverged as error:
        return {**row, "val_accuracy": math.nan, "test_accuracy": math.nan,
                "train_loss": math.nan, "seconds": round(time.perf_counter() - start, 2),
                "steps_to_target": None, "seconds_to_target": None, "diverged_at": error.step,
                "val_curve": np.array(probe.accuracies)}
    seconds = time.perf_counter() - start
    reached = [i for i, a in enumerate(probe.accuracies) if a >= task.target]
    steps_to_target = (reached[0] + 1) * task.eval_every if reached else None
    return {**row,
            "val_accuracy": round(evaluate(model, *val_data)["accuracy"], 6),
            "test_accuracy": round(evaluate(model, *test_data)["accuracy"], 6),
            "train_loss": round(float(np.mean(history.step_loss[-task.eval_every:])), 6),
            "seconds": round(seconds, 2),
            "steps_to_target": steps_to_target,
            # the loop's time per step (evaluations included) times the steps it took
            "seconds_to_target": (round(seconds * steps_to_target / task.steps, 2)
                                  if reached else None),
            "diverged_at": None,
            "val_curve": np.array(probe.accuracies)}


def _run_job(job):
    """One run of the sweep, in this process or in a worker (``--jobs``)."""
    task, optimizer_name, lr, seed, device, data_dir = job
    return run_one(task, optimizer_name, lr, seed, load(task.dataset, data_dir),
                   torch.device(device))


# --- the CSV ----------------------------------------------------------------------------------------
def read_csv(path) -> list[dict]:
    """The rows of a ``compare.csv``, with numbers as numbers (NaN for a diverged run's
    accuracies, None for a target not reached)."""
    rows = read_rows(path, FIELDS)
    for row in rows:
        for key in ("seed", "steps", "batch_size"):
            row[key] = int(row[key])
        for key in ("lr", "val_accuracy", "test_accuracy", "train_loss", "seconds"):
            row[key] = float(row[key])
        for key in ("steps_to_target", "diverged_at"):
            row[key] = int(row[key]) if row[key] else None
        row["seconds_to_target"] = float(row["seconds_to_target"]) if row["seconds_to_target"] else None
        row["val_curve"] = curve_array(row["val_curve"])
    return rows


def _write_csv(rows: list[dict], path: Path) -> None:
    def plain(row):
        out = {key: "" if value is None else value for key, value in row.items()}
        out["val_curve"] = curve_text(row["val_curve"])
        return out

    write_rows(rows, path, FIELDS, plain)     # never a half-written CSV, even on ^C


def _key(task: str, optimizer: str, lr: float, seed: int, steps: int, batch_size: int) -> tuple:
    """What identifies a run (the rate to 6 significant digits, as the CSV round-trips it)."""
    return task, optimizer, float(f"{lr:.6g}"), int(seed), int(steps), int(batch_size)


# --- the analysis -----------------------------------------------------------------------------------
def _runs(rows, task, optimizer, lr=None, seeds=None):
    return [r for r in rows if r["task"] == task and r["optimizer"] == optimizer
            and (lr is None or math.isclose(r["lr"], lr, rel_tol=1e-9))
            and (seeds is None or r["seed"] in seeds)]


def sensitivity(rows, task: str, optimizer: str, tune_seeds) -> dict[float, float]:
    """{learning rate: mean final validation accuracy over the tuning seeds}; a rate at which
    any tuning seed diverged counts as NaN."""
    out = {}
    for lr in sorted({r["lr"] for r in _runs(rows, task, optimizer, seeds=tune_seeds)}):
        runs = _runs(rows, task, optimizer, lr, tune_seeds)
        if {r["seed"] for r in runs} >= set(tune_seeds):
            out[lr] = float(np.mean([r["val_accuracy"] for r in runs]))
    return out


def tuned_lr(rows, task: str, optimizer: str, tune_seeds) -> float:
    """The rate of the best mean validation accuracy (NaN counts as worst; ties: the smaller)."""
    curve = sensitivity(rows, task, optimizer, tune_seeds)
    if not curve:
        raise ValueError(f"no tuning runs of {optimizer} on {task!r} in the rows")
    return max(curve, key=lambda lr: (-1.0 if math.isnan(curve[lr]) else curve[lr], -lr))


def tuned_results(rows, task: str, optimizers, protocol: Protocol) -> dict[str, dict]:
    """Per optimizer: its tuned rate, the runs there (one per reported seed) and the summaries."""
    out = {}
    for optimizer in optimizers:
        lr = tuned_lr(rows, task, optimizer, protocol.tune_seeds)
        runs = sorted(_runs(rows, task, optimizer, lr, protocol.seeds), key=lambda r: r["seed"])
        reached = [r["steps_to_target"] for r in runs if r["steps_to_target"] is not None]
        out[optimizer] = {
            "lr": lr, "runs": runs,
            "test": t_interval([r["test_accuracy"] for r in runs]),
            "val": t_interval([r["val_accuracy"] for r in runs]),
            "train_loss": float(np.mean([r["train_loss"] for r in runs])),
            "reached": len(reached),
            "steps_to_target": float(np.mean(reached)) if reached else math.nan,
            "seconds_to_target": float(np.mean([r["seconds_to_target"] for r in runs
                                                if r["seconds_to_target"] is not None]))
            if reached else math.nan,
            "seconds": float(np.mean([r["seconds"] for r in runs])),
        }
    return out


def untuned_results(rows, task: str, optimizers, protocol: Protocol) -> dict[str, list[dict]]:
    """Per optimizer: its runs at the protocol's one fixed rate for all, over the reported
    seeds, as a comparison without tuning would make them."""
    return {o: sorted(_runs(rows, task, o, protocol.fixed_lr, protocol.seeds),
                      key=lambda r: r["seed"]) for o in optimizers}


# --- the sweep ------------------------------------------------------------------------------------------
def _pending(rows, tasks, optimizers, protocol):
    """The runs still missing, with widening: the next batch of (task, optimizer, lr, seed)."""
    done = {_key(r["task"], r["optimizer"], r["lr"], r["seed"], r["steps"], r["batch_size"])
            for r in rows}
    todo = []
    for task in tasks:
        for optimizer in optimizers:
            def missing(lr, seed):
                return _key(task.title, optimizer, lr, seed, task.steps, task.batch_size) not in done

            have = sorted({r["lr"] for r in _runs(rows, task.title, optimizer)} | set(protocol.lrs))
            grid = [lr for lr in have if lr in protocol.lrs or _runs(rows, task.title, optimizer, lr,
                                                                      protocol.tune_seeds)]
            untuned = [(task, optimizer, lr, s) for lr in grid for s in protocol.tune_seeds
                       if missing(lr, s)]
            if untuned:
                todo += untuned
                continue
            best = tuned_lr(rows, task.title, optimizer, protocol.tune_seeds)
            widened = len(grid) - len(protocol.lrs)
            if best in (grid[0], grid[-1]) and widened < protocol.max_widen:
                lr = best / 2 if best == grid[0] else best * 2
                todo += [(task, optimizer, lr, s) for s in protocol.tune_seeds]
                continue
            rates = [best] + ([protocol.fixed_lr] if protocol.fixed_lr not in (None, best) else [])
            todo += [(task, optimizer, lr, s) for lr in rates for s in protocol.seeds
                     if missing(lr, s)]
    return todo


def sweep(tasks: list[Task], optimizers, protocol: Protocol, csv_path: Path,
          device: str = "cpu", jobs: int = 1, data_dir: str | None = None,
          progress: bool = True) -> list[dict]:
    """Run (or resume) the whole protocol for ``tasks``, appending every run to ``csv_path``;
    ``jobs`` > 1 trains that many runs at once in worker processes of one thread each."""
    from tqdm.auto import tqdm

    rows = read_csv(csv_path)
    bar = tqdm(desc="compare runs", unit="run", disable=not progress)
    try:
        with job_map(jobs) as run_all:
            while todo := _pending(rows, tasks, optimizers, protocol):
                bar.total = bar.n + len(todo)
                bar.refresh()
                for row in run_all(_run_job, [(task, o, lr, s, device, data_dir)
                                              for task, o, lr, s in todo]):
                    rows.append(row)
                    _write_csv(rows, csv_path)           # after every run: nothing lost on ^C
                    bar.set_postfix_str(f"{row['optimizer']} lr {row['lr']:.2g} seed {row['seed']}")
                    bar.update()
    finally:
        bar.close()
    return rows


# --- the report --------------------------------------------------------------------------------------
def _pct(interval, digits=1):
    mean, half, _ = interval
    return f"{100 * mean:.{digits}f}" + ("" if math.isnan(half) else f" ± {100 * half:.{digits}f}")


def markdown(rows, tasks, optimizers, protocol: Protocol, elapsed: float) -> list[str]:
    lines = ["# The recent optimizers compared with tuned learning rates", "", provenance(), "",
             f"Protocol: the learning rate of every optimizer tuned on a validation split (20 % of "
             f"the training set) over a factor-2 grid starting at {protocol.lrs[0]:g}–"
             f"{protocol.lrs[-1]:g}, widened when the best rate lay at an end; mean final "
             f"validation accuracy of seeds {list(protocol.tune_seeds)}; then test accuracy at the "
             f"tuned rate over seeds {list(protocol.seeds)} (95 % t-intervals). Same initial "
             "weights and batch order for every run of a seed.", ""]
    for task in tasks:
        if not any(r["task"] == task.title for r in rows):
            continue
        result = tuned_results(rows, task.title, optimizers, protocol)
        lines += [f"## {task.title}", "",
                  f"{task.steps} steps of batch {task.batch_size}; target {100 * task.target:.0f} % "
                  f"validation accuracy; the architecture reaches {task.reference}.", "",
                  "| optimizer | tuned lr | test accuracy, % | train loss | reached target | "
                  "steps to target | seconds to target |", "|---|---|---|---|---|---|---|"]
        for o in optimizers:
            r = result[o]
            lines.append(f"| {o} | {r['lr']:.3g} | {_pct(r['test'])} | {r['train_loss']:.3f} | "
                         f"{r['reached']}/{len(r['runs'])} | {r['steps_to_target']:.0f} | "
                         f"{r['seconds_to_target']:.1f} |")
        fixed = protocol.fixed_lr is not None
        lines += ["", "Paired by seed, test accuracy at each one's tuned rate (points, 95 % CI)"
                  + (f", and at one rate, {protocol.fixed_lr:g}, for both:" if fixed else ":"), "",
                  "| comparison | tuned |" + (" fixed rate |" if fixed else ""),
                  "|---|---|" + ("---|" if fixed else "")]
        untuned = untuned_results(rows, task.title, optimizers, protocol) if fixed else {}
        for a, b in NORM_PAIRS + TECHNIQUE_PAIRS:
            if a in optimizers and b in optimizers:
                lines.append(f"| {b} − {a} | {_pct(paired(result[a]['runs'], result[b]['runs']), 2)}"
                             " |" + (f" {_pct(paired(untuned[a], untuned[b]), 2)} |" if fixed else ""))
        lines += ["", "Validation accuracy (%) by learning rate, mean of the tuning seeds "
                  "(the sensitivity curves):", ""]
        lrs = sorted({r["lr"] for r in rows if r["task"] == task.title})
        lines += ["| optimizer | " + " | ".join(f"{lr:.3g}" for lr in lrs) + " |",
                  "|---" * (len(lrs) + 1) + "|"]
        for o in optimizers:
            curve = sensitivity(rows, task.title, o, protocol.tune_seeds)
            lines.append(f"| {o} | " + " | ".join(
                ("—" if lr not in curve else "diverged" if math.isnan(curve[lr])
                 else f"{100 * curve[lr]:.1f}") for lr in lrs) + " |")
        lines.append("")
    total = sum(r["seconds"] for r in rows)
    lines += [f"{len(rows)} training runs, {total / 60:.0f} minutes of training "
              f"({elapsed / 60:.0f} minutes for this invocation)."]
    return lines


def plot_sensitivity(ax, rows, task: str, optimizers, protocol: Protocol, legend_size=9) -> None:
    """Mean validation accuracy of the tuning seeds against the learning rate, one line per
    optimizer (dashed with AdaNorm), its tuned rate starred, Adam's default 1e-3 dotted."""
    from ..plotting import color_of

    for i, o in enumerate(optimizers):
        curve = sensitivity(rows, task, o, protocol.tune_seeds)
        lrs = sorted(curve)
        best = tuned_lr(rows, task, o, protocol.tune_seeds)
        ax.plot(lrs, [100 * curve[lr] for lr in lrs], marker="o", markersize=4, color=color_of(i),
                linestyle="--" if o.endswith("Norm") else "-", label=o)
        ax.plot(best, 100 * curve[best], marker="*", markersize=11, color=color_of(i),
                linestyle="none")
    ax.axvline(UNTUNED_LR, color="gray", linewidth=0.8, linestyle=":")
    ax.text(UNTUNED_LR * 1.05, ax.get_ylim()[0] + 1, "Adam's default, 1e-3", fontsize=10,
            color="gray")
    ax.set(xscale="log", xlabel="learning rate", ylabel="validation accuracy (%)")
    ax.legend(fontsize=legend_size, ncol=2, loc="lower right")


def figure(rows, tasks, optimizers, protocol: Protocol, path: Path) -> None:
    """Per task: validation accuracy against the learning rate for every optimizer (left), test
    accuracy at the tuned rate with its 95 % interval (right)."""
    from matplotlib.figure import Figure      # no pyplot: a kernel's backend stays as it is

    from ..plotting import color_of, use_book_style

    use_book_style()
    titles = [t.title for t in tasks if any(r["task"] == t.title for r in rows)]
    fig = Figure(figsize=(11, 4.6 * len(titles)))
    axes = fig.subplots(len(titles), 2, squeeze=False)
    for (left, right), title in zip(axes, titles):
        result = tuned_results(rows, title, optimizers, protocol)
        plot_sensitivity(left, rows, title, optimizers, protocol, legend_size=8)
        left.set_title(f"{title}: sensitivity to the learning rate")
        for i, o in enumerate(optimizers):
            mean, half, _ = result[o]["test"]
            right.errorbar(100 * mean, i, xerr=100 * half, fmt="s", color=color_of(i), capsize=3)
        right.set_yticks(range(len(optimizers)), optimizers)
        right.invert_yaxis()
        right.set(xlabel="test accuracy at the tuned rate (%), mean ± 95 % CI",
                  title=f"{title}: tuned")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# --- command line --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lecture_code.bench compare",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(DATASET_TASKS), default="mnist1d",
                        help="mnist1d (generated locally, the committed results) or cifar10 "
                             "(read from --data-dir)")
    parser.add_argument("--data-dir", help="cifar10 only: a folder with CIFAR-10's python batches")
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), metavar="TASK",
                        help=f"tasks of the data set (default: the first; known: {list(TASKS)})")
    parser.add_argument("--optimizers", nargs="+", choices=sorted(OPTIMIZERS),
                        default=list(OPTIMIZER_NAMES), metavar="NAME",
                        help="optimizers to compare (default: the chapter's ten)")
    parser.add_argument("--lrs", type=float, nargs="+", help="the initial grid (default: "
                        "1e-3 to 6.4e-2 by factors of 2)")
    parser.add_argument("--tune-seeds", type=int, nargs="+", help="seeds that choose the rate")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds reported at the tuned rate")
    parser.add_argument("--max-widen", type=int, help="rates added at most at the grid's ends")
    parser.add_argument("--steps", type=int, help="override the task's budget")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 40 steps, 3 rates, 2 seeds (seconds)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs in parallel, one thread each (CPU; default 1)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="folder for compare.csv/.md/.png (default: the repository's "
                             "benchmarks/)")
    args = parser.parse_args(argv)

    names = args.tasks or list(DATASET_TASKS[args.dataset])
    if any(TASKS[t].dataset != args.dataset for t in names):
        parser.error(f"--tasks {names} are not all tasks of --dataset {args.dataset} "
                     f"({list(DATASET_TASKS[args.dataset])})")
    if args.dataset == "cifar10" and not args.data_dir:
        parser.error("--dataset cifar10 needs --data-dir DIR (a folder with CIFAR-10's python "
                     "batches data_batch_1..5 and test_batch; never downloaded)")
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch finds no CUDA GPU on this machine")
    protocol = QUICK["protocol"] if args.quick else Protocol()
    protocol = replace(protocol, **{k: tuple(v) if isinstance(v, list) else v
                                    for k, v in (("lrs", args.lrs), ("tune_seeds", args.tune_seeds),
                                                 ("seeds", args.seeds),
                                                 ("max_widen", args.max_widen)) if v is not None})
    if not protocol.lrs or min(protocol.lrs) <= 0:
        parser.error(f"--lrs must be positive, got {protocol.lrs}")
    if not set(protocol.tune_seeds) <= set(protocol.seeds):
        parser.error(f"--tune-seeds {list(protocol.tune_seeds)} must be among --seeds "
                     f"{list(protocol.seeds)}: the tuning runs are reported too")
    if protocol.max_widen < 0:
        parser.error(f"--max-widen must be >= 0, got {protocol.max_widen}")
    steps = args.steps if args.steps is not None else QUICK["steps"] if args.quick else None
    if steps is not None and steps < 1:
        parser.error(f"--steps must be >= 1, got {steps}")
    tasks = [TASKS[name] if steps is None else replace(
        TASKS[name], steps=steps, eval_every=min(TASKS[name].eval_every,
                                                 QUICK["eval_every"] if args.quick else steps))
             for name in names]
    if args.jobs > 1 and args.device != "cpu":
        parser.error("--jobs > 1 is for the CPU; on a GPU one run at a time fills it")
    torch.set_num_threads(1 if args.device == "cpu" else torch.get_num_threads())

    csv_path = args.out / "compare.csv"
    start = time.perf_counter()
    rows = sweep(tasks, args.optimizers, protocol, csv_path, args.device, args.jobs,
                 args.data_dir)
    elapsed = time.perf_counter() - start
    write_report(args.out / "compare.md", markdown(rows, tasks, args.optimizers, protocol,
                                                   elapsed))
    figure(rows, tasks, args.optimizers, protocol, args.out / "compare.png")
    print(f"wrote {csv_path}, compare.md and compare.png ({elapsed / 60:.1f} minutes)")
    return 0
