"""``python -m lecture_code.bench compare``: the AdaNorm table of the slides, at laptop scale.

Trains small networks on offline data with every optimizer of the recent-optimizers chapter —
Adam, diffGrad, RAdam and AdaBelief, each without and with AdaNorm, plus Adam with AdaInject and
with moment centralization — and writes

* ``compare.csv``: one row per optimizer × model × seed (final and best validation accuracy,
  final training loss, wall time, the validation accuracy after every epoch);
* ``compare.md``: mean ± standard deviation over the seeds, the paired "with AdaNorm − without"
  differences (the slides' arrows), and how the numbers were made;
* ``compare.png``: the same as a figure, with the learning curves.

Fair by construction: for one seed every optimizer starts from the same initial weights and sees
the mini-batches in the same order, with the same learning rate and budget (epochs). What differs
between two rows of one seed is the update rule only. A control row, Adam at half the learning
rate, tests whether diffGrad and AdaInject do more than halve Adam's step (see the chapter).

Settings: the default (about 10–15 minutes on 2 CPU cores), ``--quick`` (a smoke test of a few
seconds) and ``--large`` (wider networks, more data, epochs and seeds, on
:func:`lecture_code.device`, meant for a GPU).
"""
from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import device as default_device
from ..data import Split, digits, mnist1d
from ..optimizers import OPTIMIZERS
from ..training import mlp, train
from . import RESULTS, provenance

#: The optimizers compared, in table order: the four bases of the AdaNorm table with and without
#: AdaNorm, then Adam with the two other techniques of the chapter, then a control: Adam at half
#: the learning rate (diffGrad's ξ and AdaInject's 1/k both shrink steps by about 2 on networks,
#: where gradients are small: is that all they do?).
OPTIMIZER_NAMES = ("Adam", "AdamNorm", "DiffGrad", "DiffGradNorm", "RAdam", "RAdamNorm",
                   "AdaBelief", "AdaBeliefNorm", "AdamInject", "AdamCentralized", "Adam(lr/2)")
#: Names that are not classes: (class name, factor on the learning rate).
VARIANTS = {"Adam(lr/2)": ("Adam", 0.5)}
#: The rows of the slides' table: (without, with AdaNorm).
NORM_PAIRS = (("Adam", "AdamNorm"), ("DiffGrad", "DiffGradNorm"), ("RAdam", "RAdamNorm"),
              ("AdaBelief", "AdaBeliefNorm"))


@dataclass(frozen=True)
class Setting:
    """One benchmark configuration."""

    epochs: int
    seeds: tuple[int, ...]
    batch_size: int = 64
    lr: float = 1e-3
    mnist1d_samples: int = 4000
    n_train: int | None = None       # keep only this many training examples (quick runs)
    width: int = 1                   # multiplies every layer's width (--large)


SETTINGS = {
    "default": Setting(epochs=25, seeds=(0, 1, 2, 3, 4)),
    "quick": Setting(epochs=2, seeds=(0,), n_train=192, mnist1d_samples=400),
    "large": Setting(epochs=60, seeds=(0, 1, 2, 3, 4), batch_size=128, mnist1d_samples=20000,
                     width=4),
}


# --- models -----------------------------------------------------------------------------------------
def mlp_mnist1d(width: int = 1) -> nn.Module:
    """A two-hidden-layer perceptron on the 40 samples of an MNIST-1D signal."""
    return mlp([40, 128 * width, 128 * width, 10])


def cnn1d_mnist1d(width: int = 1) -> nn.Module:
    """A small 1-D convolutional network: two conv–ReLU–pool blocks and a linear classifier."""
    c1, c2 = 16 * width, 32 * width
    return nn.Sequential(
        nn.Unflatten(1, (1, 40)),                                    # (N, 40) → (N, 1, 40)
        nn.Conv1d(1, c1, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool1d(2),    # → 20
        nn.Conv1d(c1, c2, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool1d(2),   # → 10
        nn.Flatten(), nn.Linear(c2 * 10, 10))


def cnn_digits(width: int = 1) -> nn.Module:
    """A small 2-D convolutional network for scikit-learn's 8×8 digits."""
    c1, c2 = 16 * width, 32 * width
    return nn.Sequential(
        nn.Conv2d(1, c1, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(c1, c2, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # → 4×4
        nn.Flatten(), nn.Linear(c2 * 16, 10))


#: model name → (builder, data set name)
MODELS = {
    "MLP / MNIST-1D": (mlp_mnist1d, "mnist1d"),
    "1-D CNN / MNIST-1D": (cnn1d_mnist1d, "mnist1d"),
    "CNN / digits": (cnn_digits, "digits"),
}


def load_data(name: str, setting: Setting) -> Split:
    """The offline data sets: MNIST-1D generated locally, scikit-learn's digits as images."""
    split = (mnist1d(num_samples=setting.mnist1d_samples) if name == "mnist1d"
             else digits(images=True))
    if setting.n_train is not None and setting.n_train < len(split.y_train):
        split = split.subset(setting.n_train)
    return split


# --- one run ------------------------------------------------------------------------------------------
def run_one(optimizer_name: str, model_name: str, seed: int, split: Split, setting: Setting,
            initial_state: dict, device: torch.device) -> dict:
    """Train one model from ``initial_state`` with one optimizer; the row of the CSV."""
    builder, _ = MODELS[model_name]
    model = builder(setting.width).to(device)
    model.load_state_dict(initial_state)
    class_name, factor = VARIANTS.get(optimizer_name, (optimizer_name, 1.0))
    optimizer = OPTIMIZERS[class_name](model.parameters(), lr=factor * setting.lr)
    generator = torch.Generator().manual_seed(seed)     # the same batch order for every optimizer
    start = time.perf_counter()
    history = train(model, optimizer, split.train, epochs=setting.epochs,
                    batch_size=setting.batch_size, val_data=split.val, generator=generator,
                    quiet=True)
    seconds = time.perf_counter() - start
    curve = history["val_accuracy"]
    return {
        "optimizer": optimizer_name, "model": model_name, "seed": seed,
        "epochs": setting.epochs, "lr": setting.lr, "batch_size": setting.batch_size,
        "final_val_accuracy": round(float(curve[-1]), 6),
        "best_val_accuracy": round(float(curve.max()), 6),
        "final_train_loss": round(float(history["train_loss"][-1]), 6),
        "time_s": round(seconds, 3),
        "val_accuracy_per_epoch": " ".join(f"{a:.4f}" for a in curve),
    }


def run(setting: Setting, optimizer_names, model_names, device: torch.device,
        progress: bool = True) -> list[dict]:
    """Every optimizer × model × seed of ``setting``; returns the rows."""
    rows = []
    cache: dict[str, Split] = {}
    total = len(optimizer_names) * len(model_names) * len(setting.seeds)
    for model_name in model_names:
        builder, data_name = MODELS[model_name]
        if data_name not in cache:
            cache[data_name] = load_data(data_name, setting)
        split = cache[data_name].to(device)
        for seed in setting.seeds:
            torch.manual_seed(seed)                       # the same initial weights ...
            initial_state = {k: v.clone() for k, v in builder(setting.width).state_dict().items()}
            for optimizer_name in optimizer_names:        # ... for every optimizer
                row = run_one(optimizer_name, model_name, seed, split, setting, initial_state,
                              device)
                rows.append(row)
                if progress:
                    print(f"[{len(rows):3d}/{total}] {model_name:20s} seed {seed} "
                          f"{optimizer_name:15s} val acc {row['final_val_accuracy']:.4f} "
                          f"({row['time_s']:.1f} s)", flush=True)
    return rows


# --- summaries ----------------------------------------------------------------------------------------
COLUMNS = ("optimizer", "model", "seed", "epochs", "lr", "batch_size", "final_val_accuracy",
           "best_val_accuracy", "final_train_loss", "time_s", "val_accuracy_per_epoch")


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path) -> list[dict]:
    """The rows of a ``compare.csv``, with numbers as numbers."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in ("seed", "epochs", "batch_size"):
            row[key] = int(row[key])
        for key in ("lr", "final_val_accuracy", "best_val_accuracy", "final_train_loss", "time_s"):
            row[key] = float(row[key])
        row["val_accuracy_per_epoch"] = _curve(row)
    return rows


def _values(rows, optimizer, model, key):
    return np.array([r[key] for r in rows if r["optimizer"] == optimizer and r["model"] == model])


def summary(rows: list[dict], key: str = "final_val_accuracy") -> dict:
    """{(optimizer, model): (mean, std over seeds, n)} of ``key`` (std with ddof=1)."""
    out = {}
    for optimizer in dict.fromkeys(r["optimizer"] for r in rows):
        for model in dict.fromkeys(r["model"] for r in rows):
            values = _values(rows, optimizer, model, key)
            if len(values):
                std = values.std(ddof=1) if len(values) > 1 else float("nan")
                out[optimizer, model] = (values.mean(), std, len(values))
    return out


def paired_differences(rows: list[dict], key: str = "final_val_accuracy") -> dict:
    """{(with, model): (mean, std, n)} of the per-seed difference "with AdaNorm − without"."""
    out = {}
    models = list(dict.fromkeys(r["model"] for r in rows))
    for without, with_ in NORM_PAIRS:
        for model in models:
            a = {r["seed"]: r[key] for r in rows if r["optimizer"] == without and r["model"] == model}
            b = {r["seed"]: r[key] for r in rows if r["optimizer"] == with_ and r["model"] == model}
            seeds = sorted(a.keys() & b.keys())
            if seeds:
                d = np.array([b[s] - a[s] for s in seeds])
                out[with_, model] = (d.mean(), d.std(ddof=1) if len(d) > 1 else float("nan"),
                                     len(d))
    return out


def _pm(mean, std, scale=100.0, digits=2):
    if np.isnan(std):
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


def markdown(rows: list[dict], setting: Setting, elapsed: float) -> str:
    models = list(dict.fromkeys(r["model"] for r in rows))
    optimizers = list(dict.fromkeys(r["optimizer"] for r in rows))
    final, best = summary(rows), summary(rows, "best_val_accuracy")
    loss = summary(rows, "final_train_loss")
    n = len(setting.seeds)
    lines = ["# Recent optimizers compared at small scale", "",
             f"Validation accuracy (%) after {setting.epochs} epochs, mean ± standard deviation over "
             f"{n} seed{'s' if n > 1 else ''} (same initial weights and batch order for every "
             f"optimizer of a seed; learning rate {setting.lr:g}, batch size "
             f"{setting.batch_size}, default betas and ε).", "",
             "| optimizer | " + " | ".join(models) + " |",
             "|---" * (len(models) + 1) + "|"]
    for opt in optimizers:
        lines.append(f"| {opt} | " + " | ".join(_pm(*final[opt, m][:2]) for m in models) + " |")
    lines += ["", "Best validation accuracy over the epochs (%):", "",
              "| optimizer | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for opt in optimizers:
        lines.append(f"| {opt} | " + " | ".join(_pm(*best[opt, m][:2]) for m in models) + " |")
    lines += ["", "Final training loss (cross-entropy):", "",
              "| optimizer | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for opt in optimizers:
        lines.append(f"| {opt} | " + " | ".join(_pm(*loss[opt, m][:2], scale=1.0, digits=4)
                                                 for m in models) + " |")
    differences = paired_differences(rows)
    if differences:
        lines += ["", "With AdaNorm − without, paired by seed (percentage points of final "
                  "validation accuracy; the slides' arrows):", "",
                  "| pair | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
        for without, with_ in NORM_PAIRS:
            if all((with_, m) in differences for m in models):
                cells = []
                for m in models:
                    mean, std, _ = differences[with_, m]
                    sign = "+" if mean >= 0 else "−"
                    cells.append(f"{sign}{abs(100 * mean):.2f}"
                                 + ("" if np.isnan(std) else f" ± {100 * std:.2f}"))
                lines.append(f"| {with_} − {without} | " + " | ".join(cells) + " |")
    total_time = sum(r["time_s"] for r in rows)
    lines += ["", f"{len(rows)} training runs, {total_time:.0f} s of training, "
              f"{elapsed:.0f} s in all.", "", provenance()]
    return "\n".join(lines)


def _color(i: int):
    """The book's palette for the first ten rows, black for the control row after them."""
    from ..plotting import color_of
    return color_of(i) if i < 10 else "black"


def _curve(row: dict) -> np.ndarray:
    curve = row["val_accuracy_per_epoch"]
    return np.array(curve.split(), float) if isinstance(curve, str) else np.asarray(curve)


def figure(rows: list[dict], path: Path) -> None:
    """Final validation accuracy per optimizer (seeds as dots, mean ± std as a bar) on top, the
    mean validation accuracy per epoch below, one column per model."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plotting import use_book_style

    use_book_style()
    models = list(dict.fromkeys(r["model"] for r in rows))
    optimizers = list(dict.fromkeys(r["optimizer"] for r in rows))
    fig, axes = plt.subplots(2, len(models), figsize=(4.6 * len(models), 7.5), squeeze=False)
    final = summary(rows)
    for j, model in enumerate(models):
        ax = axes[0, j]
        for i, opt in enumerate(optimizers):
            values = 100 * _values(rows, opt, model, "final_val_accuracy")
            mean, std, _ = final[opt, model]
            ax.errorbar(100 * mean, i, xerr=0 if np.isnan(std) else 100 * std, fmt="s",
                        color=_color(i), capsize=3, markersize=5)
            ax.plot(values, np.full(len(values), i) + 0.18, "o", color=_color(i),
                    markersize=3, alpha=0.6)
        ax.set_yticks(range(len(optimizers)), optimizers if j == 0 else [""] * len(optimizers))
        ax.invert_yaxis()
        ax.set_xlabel("final validation accuracy (%)")
        ax.set_title(model)
        ax = axes[1, j]
        for i, opt in enumerate(optimizers):
            curves = np.array([_curve(r) for r in rows
                               if r["optimizer"] == opt and r["model"] == model])
            epochs = np.arange(1, curves.shape[1] + 1)
            ax.plot(epochs, 100 * curves.mean(axis=0), color=_color(i), label=opt,
                    linewidth=1.2, linestyle="--" if opt in VARIANTS else "-")
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation accuracy (%), mean over seeds")
        ax.set_title(f"{model}: learning curves")
        if j == len(models) - 1:
            ax.legend(fontsize=7, ncol=2, loc="lower right")
    axes[0, 0].set_ylabel("optimizer (squares: mean ± std; dots: seeds)")
    fig.suptitle("Adam-family optimizers at small scale: same weights, batches and budget per seed")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- command line ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lecture_code.bench compare",
                                     description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a tiny smoke setting (seconds)")
    size.add_argument("--large", action="store_true",
                      help="wider networks, more data, epochs and seeds, on the GPU if present")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="folder for compare.csv/.md/.png (default: the repository's "
                             "benchmarks/)")
    parser.add_argument("--optimizers", nargs="+", choices=sorted(OPTIMIZERS) + list(VARIANTS),
                        default=list(OPTIMIZER_NAMES), metavar="NAME",
                        help="optimizers to compare (default: the chapter's ten)")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS),
                        metavar="NAME", help=f"models (default: all of {list(MODELS)})")
    parser.add_argument("--epochs", type=int, help="override the setting's number of epochs")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the setting's seeds")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads on the CPU (default: 1; these models are too small "
                             "to gain from more, and the book's machines are shared)")
    args = parser.parse_args(argv)

    name = "quick" if args.quick else "large" if args.large else "default"
    setting = SETTINGS[name]
    if args.epochs is not None or args.seeds is not None:
        setting = Setting(**{**setting.__dict__,
                             **({"epochs": args.epochs} if args.epochs is not None else {}),
                             **({"seeds": tuple(args.seeds)} if args.seeds is not None else {})})
    if setting.epochs < 1 or not setting.seeds:
        parser.error("need at least one epoch and one seed")
    device = default_device() if args.large else torch.device("cpu")
    torch.set_num_threads(args.threads or (torch.get_num_threads() if args.large else 1))

    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = run(setting, args.optimizers, args.models, device)
    elapsed = time.perf_counter() - start
    write_csv(rows, args.out / "compare.csv")
    (args.out / "compare.md").write_text(markdown(rows, setting, elapsed))
    figure(rows, args.out / "compare.png")
    print(f"wrote {args.out / 'compare.csv'}, compare.md and compare.png in {elapsed:.0f} s")
    return 0
