"""``python -m lecture_code.bench baselines``: the MNIST-1D paper's baselines, re-run here.

Greydanus (2020), "Scaling down Deep Learning" (arXiv:2011.14439), reports four baselines on
its default data set (4000 training and 1000 test signals of length 40): logistic regression,
an MLP, a 1-D CNN and a bidirectional GRU, all trained with Adam at learning rate 1e-2, batch
100, no weight decay, for 6000 steps through the training set in a fixed order. This command
re-implements those models from the paper's description (layer sizes and the training setup
of its repository), trains them with this project's own ``training.train`` and
``optimizers.Adam`` on the package's local generator, and writes

* ``mnist1d_baselines.csv``: one row per model x seed (final test accuracy, best test accuracy
  over the run's evaluations, final training loss, seconds, parameter count);
* ``mnist1d_baselines.md``: the mean and range over the seeds beside the paper's numbers.

An interrupted run resumes: rows already in the CSV are kept and not re-trained. The default
(4 models x 5 seeds) took 15 minutes on one CPU core of a busy 2-core machine, most of
it the GRU (about 2 minutes a run); ``--quick`` is a smoke test.
"""
from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import device as default_device
from ..optimizers import Adam
from ..training import Callback, History, evaluate, train
from . import RESULTS, provenance, write_report

#: The paper's reported test accuracies in %: its README's table, and the range its
#: repository's own training logs show (quoted in the chapter; Greydanus 2020).
PAPER = {"logistic": (32.0, "31.5"), "mlp": (68.0, "64.6-65.1"), "cnn": (94.0, "92.3"),
         "gru": (91.0, "89-92")}

LENGTH, CLASSES = 40, 10


class ResidualMLP(nn.Module):
    """Two hidden layers of 100 ReLUs, the second added to the first (the paper's MLP)."""

    def __init__(self, hidden: int = 100):
        super().__init__()
        self.inp, self.mid, self.out = (nn.Linear(LENGTH, hidden), nn.Linear(hidden, hidden),
                                        nn.Linear(hidden, CLASSES))

    def forward(self, x):
        h = torch.relu(self.inp(x))
        return self.out(h + torch.relu(self.mid(h)))


class ConvNet1d(nn.Module):
    """Three stride-2 convolutions of 25 channels (kernels 5, 3, 3), then one linear layer."""

    def __init__(self, channels: int = 25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, channels, 5, stride=2, padding=1), nn.ReLU(),   # 40 -> 19
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),   # 19 -> 10
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU())   # 10 -> 5
        self.classify = nn.Linear(channels * 5, CLASSES)

    def forward(self, x):
        return self.classify(self.features(x.unsqueeze(1)).flatten(1))


class BiGRU(nn.Module):
    """A bidirectional GRU of 6 units per direction read over the 40 samples; a linear layer
    on all 40 x 12 outputs classifies."""

    def __init__(self, hidden: int = 6):
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.classify = nn.Linear(2 * hidden * LENGTH, CLASSES)

    def forward(self, x):
        outputs, _ = self.gru(x.unsqueeze(-1))
        return self.classify(outputs.flatten(1))


MODELS: dict[str, Callable[[], nn.Module]] = {
    "logistic": lambda: nn.Linear(LENGTH, CLASSES),
    "mlp": ResidualMLP,
    "cnn": ConvNet1d,
    "gru": BiGRU,
}
FIELDS = ("model", "seed", "steps", "test_accuracy", "best_test_accuracy", "train_loss",
          "seconds", "parameters")


def paper_data(num_samples: int = 5000):
    """The package's default data set from its local generator (never downloaded): 80 % of
    ``num_samples`` for training, the rest for testing, not standardized (as in the paper)."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    data = make_dataset(args)
    as_x = lambda a: torch.tensor(a, dtype=torch.float32)   # noqa: E731
    as_y = lambda a: torch.tensor(a, dtype=torch.long)      # noqa: E731
    return (as_x(data["x"]), as_y(data["y"])), (as_x(data["x_test"]), as_y(data["y_test"]))


class AccuracyEvery(Callback):
    """The accuracy on ``data`` (inputs, targets) every ``every`` steps, in ``accuracies``
    (the paper evaluates its test set every 250 steps)."""

    def __init__(self, data, every: int):
        self.data, self.every, self.accuracies = data, every, []

    def on_step_end(self, step, loss, model, optimizer):
        if step % self.every == 0:
            self.accuracies.append(evaluate(model, *self.data)["accuracy"])


def run_one(name: str, seed: int, train_data, test_data, *, steps: int = 6000,
            lr: float = 1e-2, batch_size: int = 100, device=None) -> dict:
    """Train model ``name`` with the paper's setup; return its CSV row."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {name!r}")
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    model = MODELS[name]().to(device)
    train_data = tuple(t.to(device) for t in train_data)
    test_data = tuple(t.to(device) for t in test_data)
    probe = AccuracyEvery(test_data, every=250)
    start = time.perf_counter()
    history: History = train(model, Adam(model.parameters(), lr=lr), train_data,
                             epochs=None, max_steps=steps, batch_size=batch_size,
                             shuffle=False, epoch_metrics=False, callbacks=[probe], quiet=True)
    seconds = time.perf_counter() - start
    accuracy = evaluate(model, *test_data)["accuracy"]
    return {"model": name, "seed": seed, "steps": steps,
            "test_accuracy": round(100 * accuracy, 2),
            "best_test_accuracy": round(100 * max(probe.accuracies + [accuracy]), 2),
            "train_loss": round(float(np.mean(history.step_loss[-40:])), 4),
            "seconds": round(seconds, 1),
            "parameters": sum(p.numel() for p in model.parameters())}


def read_rows(path: Path) -> list[dict]:
    """The rows already measured (an interrupted run resumes from them)."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and set(rows[0]) != set(FIELDS):
        raise ValueError(f"{path}: columns {sorted(rows[0])} are not this bench's {sorted(FIELDS)}"
                         f"; move the file away or pass another --out")
    return rows


def report(rows: list[dict], steps: int = 6000) -> list[str]:
    """Markdown: mean and range of the final test accuracy per model (runs of ``steps``
    steps), beside the paper's."""
    lines = ["# MNIST-1D baselines, re-run (Greydanus 2020, \"Scaling down Deep Learning\")", "",
             provenance(), "",
             f"Setup of the paper: Adam, learning rate 1e-2, batch 100, {steps} steps in a fixed order, "
             "4000 training / 1000 test signals from the package's local generator.", "",
             "| model | parameters | test accuracy here, % (mean, min-max) | seeds | "
             "paper README, % | paper's logs, % | seconds per run |",
             "|---|---|---|---|---|---|---|"]
    for name in MODELS:
        mine = [r for r in rows if r["model"] == name and int(r["steps"]) == steps]
        if not mine:
            continue
        acc = np.array([float(r["test_accuracy"]) for r in mine])
        secs = np.mean([float(r["seconds"]) for r in mine])
        readme, logs = PAPER[name]
        lines.append(f"| {name} | {mine[0]['parameters']} | {acc.mean():.1f} "
                     f"({acc.min():.1f}-{acc.max():.1f}) | {len(mine)} | {readme:.0f} | {logs} | "
                     f"{secs:.0f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lecture_code.bench baselines",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=6000, help="Adam steps per run (paper: 6000)")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 60 steps, 1 seed")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the CSV and report")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: lecture_code.device())")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: these models are tiny)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    if args.quick:
        args.steps, args.seeds = 60, args.seeds[:1]
    torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else default_device()
    csv_path = args.out / "mnist1d_baselines.csv"
    rows = read_rows(csv_path)
    done = {(r["model"], int(r["seed"]), int(r["steps"])) for r in rows}
    todo = [(m, s) for m in args.models for s in args.seeds if (m, s, args.steps) not in done]
    train_data, test_data = paper_data()
    from tqdm.auto import tqdm

    args.out.mkdir(parents=True, exist_ok=True)
    for name, seed in tqdm(todo, desc="baseline runs"):
        rows.append(run_one(name, seed, train_data, test_data, steps=args.steps, device=device))
        with csv_path.open("w", newline="") as f:     # after every run: nothing lost on ^C
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    lines = report(rows, args.steps)
    write_report(args.out / "mnist1d_baselines.md", lines)
    print("\n".join(lines[-len(MODELS) - 2:]))
    return 0
