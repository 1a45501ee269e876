"""``python -m lecture_code.bench regularization``: every regularizer of the book measured on a
network that overfits, each with its strength tuned on a validation split.

The lecture defines regularization as controlling a network's capacity to prevent overfitting,
and its babysitting advice reads a big train–validation gap as "increase the regularization".
This command measures that. The shared regime is the MNIST-1D paper's MLP size (two hidden
layers of 100 ReLUs; Greydanus 2020) trained with Adam (learning rate 1e-3, batch 50) for 3000
steps on **500** training signals: it reaches 100 % training accuracy while its validation
loss rises. Against that baseline it runs L2, L1 and elastic-net penalties, decoupled weight
decay (AdamW), dropout, DropConnect, batch norm, data augmentation (MNIST-1D's own shifts and
amplitude changes) and early stopping, and writes

* ``regularization.csv``: one row per run (final train, validation and test accuracy and loss,
  and the curves evaluated every ``eval_every`` steps, from which early stopping is read);
* ``regularization.md``: per regime, each technique's tuned strength, its test accuracy and
  train–test gap with 95 % intervals, and both paired by seed against no regularization;
* ``regularization.png``: the summary figure (gap and test accuracy side by side).

The protocol, per regime and technique: train every strength of a small grid with the tuning
seeds; the tuned strength has the best mean final **validation** accuracy; then train it with
the other reported seeds and report **test** accuracy over all of them (the tuning seeds
included). Early stopping needs no extra run: every run
records its validation accuracy every ``eval_every`` steps, and early stopping keeps the
weights of the best one (its "strength", the stopping step, is chosen on validation too). For
one seed every run starts from the same weights, trains on the same subset and sees the
mini-batches in the same order.

Besides the main regime (``small``) the same protocol runs where regularization is expected to
matter less: ``large`` (all 3500 training signals) and ``short`` (500 signals, 300 steps);
``fullbatch`` trains the unregularized and the batch-norm network of ``small`` on the whole
training set at every step, where batch norm's statistics carry no mini-batch noise. Two
more experiments use the tuned strengths: the gain of augmentation and dropout as the training
set grows (``sizes``), and crops, small and large rotations and flips on scikit-learn's digits
at small training-set sizes (``digits``). Everything runs on the CPU in about 20 minutes with
``--jobs 2``; an interrupted run resumes from the CSV.
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..augment import (AugmentedModel, Compose, RandomSignalJitter, digit_augmentations,
                       small_cnn)
from ..optimizers import Adam, AdamW
from ..regularization import (elastic_net_penalty, penalized_parameters, regularized_loss,
                              regularized_mlp)
from ..training import Callback, TrainingDiverged, evaluate, train
from . import RESULTS, provenance, write_report
from .baselines import CLASSES, LENGTH, paper_data
from .sweeps import curve_array, curve_text, job_map, paired, read_rows, t_interval, write_rows

#: The network: the MNIST-1D paper's MLP widths (without its residual connection, so that
#: dropout, DropConnect and batch norm sit in a plain stack).
SIZES = (LENGTH, 100, 100, CLASSES)
LR = 1e-3
#: The elastic net's weight of the L2 part, beta * w^2 + |w|: the two parts are equal at
#: |w| = 0.1, about the size of this network's initial weights.
ELASTIC_BETA = 10.0
#: The amplitude change of the MNIST-1D augmentation, the generator's own (scale_coeff 0.4).
AMPLITUDE = 0.2


@dataclass(frozen=True)
class Technique:
    """A regularizer: the configuration entry it tunes (``knob``) and that entry's grid, what it
    always switches on (``fixed``), and optionally another technique whose *tuned*
    configuration it is added to (``on_top_of``)."""

    label: str
    knob: str | None = None
    grid: tuple = ()
    fixed: tuple = ()
    on_top_of: str | None = None


TECHNIQUES = {t.label: t for t in (
    Technique("none"),
    Technique("L2", "l2", (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)),
    Technique("L1", "l1", (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3)),
    Technique("elastic net", "elastic", (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3)),
    Technique("weight decay", "decay", (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)),
    Technique("dropout", "dropout", (0.05, 0.1, 0.2, 0.3, 0.5, 0.7)),
    Technique("DropConnect", "dropconnect", (0.05, 0.1, 0.2, 0.3, 0.5, 0.7)),
    Technique("batch norm", fixed=(("batch_norm", 1),)),
    Technique("augmentation", "shift", (1, 2, 4, 8, 20)),
    Technique("batch norm + dropout", "dropout", (0.05, 0.1, 0.3, 0.5, 0.7), fixed=(("batch_norm", 1),)),
    Technique("augmentation + dropout", "dropout", (0.05, 0.1, 0.3, 0.5, 0.7), on_top_of="augmentation"),
)}
#: Early stopping is read off the unregularized runs: the checkpoint of the best validation
#: accuracy, or of the lowest validation loss (evaluated every ``eval_every`` steps).
EARLY_STOPPING = "early stopping"
EARLY_STOPPING_LOSS = "early stopping (val. loss)"
#: What the strength of each knob is, for the reports.
KNOBS = {"l2": "λ", "l1": "λ", "elastic": "λ", "decay": "wd", "dropout": "p",
         "dropconnect": "p", "shift": "max shift"}


@dataclass(frozen=True)
class Regime:
    """How much data and how many steps: the budget every technique is given."""

    name: str
    n_train: int
    steps: int
    batch_size: int = 50
    eval_every: int = 100
    #: The techniques the regime runs (None: all of them).
    techniques: tuple[str, ...] | None = None


REGIMES = {"small": Regime("small", 500, 3000),
           "large": Regime("large", 3500, 3000),
           "short": Regime("short", 500, 300, eval_every=25),
           # the small regime with every step on the whole training set: batch norm's statistics
           # are then those of all 500 signals, without the noise of a mini-batch's
           "fullbatch": Regime("fullbatch", 500, 3000, batch_size=500,
                               techniques=("none", "batch norm"))}
#: Training-set sizes of the ``sizes`` experiment, and the techniques it runs at the strengths
#: tuned in the ``small`` regime.
SIZE_GRID = (125, 250, 500, 1000, 2000, 3500)
SIZE_TECHNIQUES = ("none", "augmentation", "dropout")
#: The digits experiment: training-set sizes, its budget and test split.
DIGIT_SIZES = (50, 100, 200, 400, 800)
DIGIT_STEPS, DIGIT_BATCH, DIGIT_LR, DIGIT_TEST = 1500, 32, 3e-3, 250


def digit_conditions() -> dict:
    """The augmentation chapter's conditions (:func:`digit_augmentations`) and the two
    label-preserving jitters together."""
    conditions = digit_augmentations()
    return {**conditions, "crop + rotation ±10°": Compose([conditions["crop + scale"],
                                                           conditions["rotation ±10°"]])}


@dataclass(frozen=True)
class Protocol:
    tune_seeds: tuple[int, ...] = (0, 1)
    seeds: tuple[int, ...] = tuple(range(10))
    digit_seeds: tuple[int, ...] = tuple(range(10))
    regimes: tuple[str, ...] = tuple(REGIMES)
    sizes: tuple[int, ...] = SIZE_GRID
    digit_sizes: tuple[int, ...] = DIGIT_SIZES


QUICK = Protocol(tune_seeds=(0,), seeds=(0, 1), digit_seeds=(0,), regimes=("small", "short"),
                 sizes=(125, 500), digit_sizes=(50,))
QUICK_STEPS = 60


# --- data ----------------------------------------------------------------------------------------
N_VAL = 500


@lru_cache(maxsize=1)
def mnist1d_data():
    """(pool, val, test): the MNIST-1D paper's 4000 training signals split into a fixed
    validation set of 500 (permutation seed 0) and a pool of 3500 that training sets are drawn
    from; its 1000 test signals. Not standardized, as in the paper."""
    (x, y), test = paper_data()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    val, pool = order[:N_VAL], order[N_VAL:]
    return (x[pool], y[pool]), (x[val], y[val]), test


def training_subset(pool, n_train: int, seed: int):
    """The first ``n_train`` signals of the pool in seed ``seed``'s order: each seed trains on
    its own subset, and a seed's smaller subsets are part of its larger ones."""
    x, y = pool
    if not 1 <= n_train <= len(y):
        raise ValueError(f"n_train must be in [1, {len(y)}], got {n_train}")
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(1000 + seed))
    return x[order[:n_train]], y[order[:n_train]]


@lru_cache(maxsize=1)
def digits_data():
    """(pool, val, test) of scikit-learn's digits as 8×8 images in [0, 1]: the book's 75/25
    split, with 250 of its held-out images kept apart as the test set."""
    from ..data import digits
    from ..regularization import holdout

    split, test = holdout(digits(images=True, standardize=False, seed=0), DIGIT_TEST)
    return ((split.x_train / 16, split.y_train), (split.x_val / 16, split.y_val),
            (test[0] / 16, test[1]))


# --- one run ---------------------------------------------------------------------------------------
FIELDS = ("experiment", "technique", "config", "strength", "n_train", "steps", "batch_size",
          "seed", "train_accuracy", "val_accuracy", "test_accuracy", "train_loss", "val_loss",
          "test_loss", "seconds",
          "diverged_at", "train_curve", "val_curve", "val_loss_curve", "test_curve")
CURVES = ("train_curve", "val_curve", "val_loss_curve", "test_curve")


def config_text(config: dict) -> str:
    """A configuration as one CSV cell, ``key=value;...`` in key order ('' for none)."""
    return ";".join(f"{k}={config[k]:g}" for k in sorted(config))


def parse_config(text: str) -> dict:
    return {k: float(v) for k, v in (item.split("=") for item in text.split(";") if item)}


def build(config: dict, seed: int):
    """(model, optimizer, loss function) of one configuration of the MLP. The seed fixes the
    initial weights (the same for every configuration: the regularizers add no randomly
    initialized parameters) and the dropout, DropConnect and augmentation draws."""
    torch.manual_seed(seed)
    masks = torch.Generator().manual_seed(10_000 + seed)
    model = regularized_mlp(SIZES, dropout=config.get("dropout", 0.0),
                            dropconnect=config.get("dropconnect", 0.0),
                            batch_norm=bool(config.get("batch_norm", 0)), generator=masks)
    loss_fn = F.cross_entropy
    for knob, penalty in (("l2", "l2"), ("l1", "l1"),
                          ("elastic", partial(elastic_net_penalty, beta=ELASTIC_BETA))):
        if knob in config:
            loss_fn = regularized_loss(F.cross_entropy, model, penalty, config[knob])
    if "decay" in config:              # decoupled, on the same weights the penalties see
        weights = {id(p) for p in penalized_parameters(model)}
        groups = [{"params": [p for p in model.parameters() if id(p) in weights],
                   "weight_decay": config["decay"]},
                  {"params": [p for p in model.parameters() if id(p) not in weights],
                   "weight_decay": 0.0}]
        optimizer = AdamW(groups, lr=LR)
    else:
        optimizer = Adam(model.parameters(), lr=LR)
    if "shift" in config:
        model = AugmentedModel(model, RandomSignalJitter(int(config["shift"]), AMPLITUDE),
                               torch.Generator().manual_seed(20_000 + seed))
    return model, optimizer, loss_fn


def build_digits(condition: str, seed: int):
    """The digits experiment's small CNN with one of :func:`digit_conditions`."""
    torch.manual_seed(seed)
    model = small_cnn()
    optimizer = Adam(model.parameters(), lr=DIGIT_LR)
    transform = digit_conditions()[condition]
    if transform is not None:
        model = AugmentedModel(model, transform, torch.Generator().manual_seed(20_000 + seed))
    return model, optimizer, F.cross_entropy


class Curves(Callback):
    """Accuracy on the training set, validation accuracy and loss and test accuracy every
    ``every`` steps (in eval mode)."""

    def __init__(self, train_data, val_data, test_data, every: int):
        self.data, self.every = (train_data, val_data, test_data), every
        self.curves = {name: [] for name in CURVES}

    def on_step_end(self, step, loss, model, optimizer):
        if step % self.every == 0:
            train_data, val_data, test_data = self.data
            val = evaluate(model, *val_data)
            self.curves["train_curve"].append(evaluate(model, *train_data)["accuracy"])
            self.curves["val_curve"].append(val["accuracy"])
            self.curves["val_loss_curve"].append(val["loss"])
            self.curves["test_curve"].append(evaluate(model, *test_data)["accuracy"])


@dataclass(frozen=True)
class Job:
    """One run: where its row goes and what it trains."""

    experiment: str
    technique: str
    config: tuple               # sorted (key, value) pairs
    strength: float | None
    n_train: int
    steps: int
    batch_size: int
    eval_every: int
    seed: int

    def key(self) -> tuple:
        return run_key(self.experiment, self.technique, config_text(dict(self.config)),
                       self.n_train, self.steps, self.seed)


def run_key(experiment, technique, config, n_train, steps, seed) -> tuple:
    return experiment, technique, config, int(n_train), int(steps), int(seed)


def run_one(job: Job, device: str = "cpu") -> dict:
    """Train one job; its CSV row (a run whose loss becomes NaN/inf is recorded with the step
    it diverged at and NaN accuracies)."""
    device = torch.device(device)
    digits = job.experiment == "digits"
    pool, val_data, test_data = digits_data() if digits else mnist1d_data()
    if digits:
        from ..data import Split
        split = Split(*pool, *val_data, CLASSES).subset(job.n_train, seed=job.seed)
        train_data = split.train
        model, optimizer, loss_fn = build_digits(job.technique, job.seed)
    else:
        train_data = training_subset(pool, job.n_train, job.seed)
        model, optimizer, loss_fn = build(dict(job.config), job.seed)
    train_data, val_data, test_data = (tuple(t.to(device) for t in part)
                                       for part in (train_data, val_data, test_data))
    model.to(device)
    curves = Curves(train_data, val_data, test_data, job.eval_every)
    row = {"experiment": job.experiment, "technique": job.technique,
           "config": config_text(dict(job.config)), "strength": job.strength,
           "n_train": job.n_train, "steps": job.steps, "batch_size": job.batch_size,
           "seed": job.seed}
    start = time.perf_counter()
    try:
        train(model, optimizer, train_data, epochs=None, max_steps=job.steps,
              batch_size=job.batch_size, loss_fn=loss_fn,
              generator=torch.Generator().manual_seed(job.seed), epoch_metrics=False,
              callbacks=[curves], quiet=True)
    except TrainingDiverged as error:
        nan = math.nan
        return {**row, **dict.fromkeys(("train_accuracy", "val_accuracy", "test_accuracy",
                                        "train_loss", "val_loss", "test_loss"), nan),
                "seconds": round(time.perf_counter() - start, 2),
                "diverged_at": error.step, **{k: np.array(v) for k, v in curves.curves.items()}}
    seconds = time.perf_counter() - start
    final = {name: evaluate(model, *data) for name, data in
             (("train", train_data), ("val", val_data), ("test", test_data))}
    return {**row,
            **{f"{name}_{what}": round(final[name][what], 6) for name in final
               for what in ("accuracy", "loss")},
            "seconds": round(seconds, 2), "diverged_at": None,
            **{k: np.array(v) for k, v in curves.curves.items()}}


def _run_job(args):
    job, device = args
    return run_one(job, device)


# --- the CSV ----------------------------------------------------------------------------------------
def read_csv(path) -> list[dict]:
    """The rows of a ``regularization.csv`` with numbers as numbers (None where empty)."""
    rows = read_rows(path, FIELDS)
    ints = ("n_train", "steps", "batch_size", "seed", "diverged_at")
    for row in rows:
        for key, value in row.items():
            if key in CURVES:
                row[key] = curve_array(value)
            elif key in ints:
                row[key] = int(value) if value else None
            elif key not in ("experiment", "technique", "config"):
                row[key] = float(value) if value else None
    return rows


def _write_csv(rows, path: Path) -> None:
    def plain(row):
        out = {k: "" if v is None else v for k, v in row.items()}
        out.update({k: curve_text(row[k]) for k in CURVES})
        return out

    write_rows(rows, path, FIELDS, plain)


# --- the analysis -----------------------------------------------------------------------------------
def runs(rows, experiment: str, technique: str, *, config: str | None = None,
         n_train: int | None = None, seeds=None) -> list[dict]:
    """The rows of one technique in one experiment, sorted by seed."""
    return sorted((r for r in rows if r["experiment"] == experiment and r["technique"] == technique
                   and (config is None or r["config"] == config)
                   and (n_train is None or r["n_train"] == n_train)
                   and (seeds is None or r["seed"] in seeds)), key=lambda r: r["seed"])


def _score(values) -> float:
    """Mean validation accuracy; a configuration where a seed diverged counts as worst."""
    values = np.asarray(values, float)
    return -1.0 if np.isnan(values).any() else float(values.mean())


def base_config(rows, regime: str, technique: Technique, protocol: Protocol) -> dict | None:
    """What a technique's strengths are added to: its fixed entries, plus the tuned
    configuration of ``on_top_of``; None while that one is not tuned yet."""
    config = dict(technique.fixed)
    if technique.on_top_of:
        below = tuned(rows, regime, TECHNIQUES[technique.on_top_of], protocol)
        if below is None:
            return None
        config.update(parse_config(below["config"]))
    return config


def candidates(rows, regime: str, technique: Technique, protocol: Protocol):
    """[(strength, configuration)] of a technique's grid (one, strength None, without a grid)."""
    config = base_config(rows, regime, technique, protocol)
    if config is None:
        return []
    if technique.knob is None:
        return [(None, config)]
    return [(s, {**config, technique.knob: s}) for s in technique.grid]


def sensitivity(rows, regime: str, technique: Technique, protocol: Protocol) -> dict:
    """{strength: mean final validation accuracy of the tuning seeds} over the grid."""
    out = {}
    for strength, config in candidates(rows, regime, technique, protocol):
        tuning = runs(rows, regime, technique.label, config=config_text(config),
                      seeds=protocol.tune_seeds)
        if {r["seed"] for r in tuning} >= set(protocol.tune_seeds):
            out[strength] = _score([r["val_accuracy"] for r in tuning])
    return out


def tuned(rows, regime: str, technique: Technique, protocol: Protocol) -> dict | None:
    """The tuned configuration: {"strength", "config", "at_edge"}; None until its grid is done.
    Ties go to the weaker strength (the first of the grid)."""
    grid = candidates(rows, regime, technique, protocol)
    curve = sensitivity(rows, regime, technique, protocol)
    if not grid or len(curve) < len(grid):
        return None
    best = max(range(len(grid)), key=lambda i: (curve[grid[i][0]], -i))
    strength, config = grid[best]
    return {"strength": strength, "config": config_text(config),
            "at_edge": technique.knob is not None and best in (0, len(grid) - 1)}


def gap(row) -> float:
    """The generalization gap of a run: training accuracy minus test accuracy."""
    return row["train_accuracy"] - row["test_accuracy"]


def results(rows, regime: str, protocol: Protocol) -> dict[str, dict]:
    """Per technique (and early stopping) in one regime: its tuned strength, its runs at it
    over the reported seeds, test accuracy and gap with 95 % intervals, and both paired by seed
    against no regularization."""
    out = {}
    baseline = runs(rows, regime, "none", config="", seeds=protocol.seeds)
    for technique in TECHNIQUES.values():
        choice = tuned(rows, regime, technique, protocol)
        if choice is None:
            continue
        mine = runs(rows, regime, technique.label, config=choice["config"], seeds=protocol.seeds)
        out[technique.label] = {**choice, **_summary(mine, baseline)}
    for label, pick in ((EARLY_STOPPING, np.argmax), (EARLY_STOPPING_LOSS, np.argmin)):
        if baseline:
            out[label] = _early_stopping(baseline, pick, "val_curve" if pick is np.argmax
                                         else "val_loss_curve")
    return out


def _early_stopping(baseline: list[dict], pick, curve: str) -> dict:
    """The unregularized runs stopped at the evaluation ``pick`` chooses on a validation curve
    (the first best): their training and test accuracy there, and the mean stopping step."""
    stopped, steps = [], []
    for r in baseline:
        i = int(pick(r[curve]))
        every = r["steps"] // len(r[curve])
        steps.append((i + 1) * every)
        stopped.append({**r, "train_accuracy": r["train_curve"][i],
                        "test_accuracy": r["test_curve"][i]})
    return {"strength": float(np.mean(steps)), "config": "", "at_edge": False,
            **_summary(stopped, baseline)}


def _summary(mine: list[dict], baseline: list[dict]) -> dict:
    """The runs of one configuration, their test accuracy, gap and training accuracy (95 %
    intervals), and test accuracy and gap paired by seed against ``baseline``."""
    return {"runs": mine,
            "test": t_interval([r["test_accuracy"] for r in mine]),
            "gap": t_interval([gap(r) for r in mine]),
            "train": t_interval([r["train_accuracy"] for r in mine]),
            "delta_test": paired(baseline, mine), "delta_gap": paired(baseline, mine, gap)}


def _by_size(rows, experiment: str, labels, sizes, seeds) -> dict[str, dict[int, dict]]:
    """Per technique and training-set size of an experiment: test accuracy, gap and the test
    accuracy's paired difference from "none"."""
    out = {}
    for label in labels:
        out[label] = {}
        for n in sizes:
            mine = runs(rows, experiment, label, n_train=n, seeds=seeds)
            if mine:
                out[label][n] = {"runs": mine,
                                 "test": t_interval([r["test_accuracy"] for r in mine]),
                                 "gap": t_interval([gap(r) for r in mine]),
                                 "delta_test": paired(runs(rows, experiment, "none", n_train=n,
                                                           seeds=seeds), mine)}
    return out


def size_results(rows, protocol: Protocol) -> dict[str, dict[int, dict]]:
    """The sizes experiment (MNIST-1D at the strengths tuned in ``small``), by size."""
    return _by_size(rows, "sizes", SIZE_TECHNIQUES, protocol.sizes, protocol.seeds)


def digit_results(rows, protocol: Protocol) -> dict[str, dict[int, dict]]:
    """The digits experiment (every condition of :func:`digit_conditions`), by size."""
    return _by_size(rows, "digits", digit_conditions(), protocol.digit_sizes,
                    protocol.digit_seeds)


# --- the sweep ------------------------------------------------------------------------------------------
def _pending(rows, protocol: Protocol, steps: dict[str, int] | None = None) -> list[Job]:
    """The runs still missing whose inputs are known: tuning grids, then the reported seeds at
    the tuned strengths, then what depends on those."""
    done = {run_key(r["experiment"], r["technique"], r["config"], r["n_train"], r["steps"],
                    r["seed"]) for r in rows}
    steps = steps or {}
    todo: list[Job] = []

    def want(experiment, technique, strength, config, regime, seeds):
        for seed in seeds:
            job = Job(experiment, technique, tuple(sorted(config.items())), strength,
                      regime.n_train, regime.steps, regime.batch_size, regime.eval_every, seed)
            if job.key() not in done:
                todo.append(job)

    for name in protocol.regimes:
        regime = REGIMES[name]
        regime = replace(regime, steps=steps.get(name, regime.steps),
                         eval_every=min(regime.eval_every, steps.get(name, regime.steps)))
        for technique in TECHNIQUES.values():
            if regime.techniques is not None and technique.label not in regime.techniques:
                continue
            for strength, config in candidates(rows, name, technique, protocol):
                want(name, technique.label, strength, config, regime, protocol.tune_seeds)
            choice = tuned(rows, name, technique, protocol)
            if choice is not None:
                want(name, technique.label, choice["strength"], parse_config(choice["config"]),
                     regime, protocol.seeds)
    if "small" in protocol.regimes:
        small = replace(REGIMES["small"], steps=steps.get("small", REGIMES["small"].steps))
        small = replace(small, eval_every=min(small.eval_every, small.steps))
        for technique in SIZE_TECHNIQUES:
            choice = tuned(rows, "small", TECHNIQUES[technique], protocol)
            if choice is None:
                continue
            for n in protocol.sizes:
                want("sizes", technique, choice["strength"], parse_config(choice["config"]),
                     replace(small, n_train=n), protocol.seeds)
    digit_steps = steps.get("digits", DIGIT_STEPS)
    for condition in digit_conditions():
        for n in protocol.digit_sizes:
            want("digits", condition, None, {},
                 Regime("digits", n, digit_steps, DIGIT_BATCH, eval_every=min(100, digit_steps)),
                 protocol.digit_seeds)
    return todo


def sweep(protocol: Protocol, csv_path: Path, device: str = "cpu", jobs: int = 1,
          steps: dict[str, int] | None = None, progress: bool = True) -> list[dict]:
    """Run (or resume) every experiment of ``protocol``, appending each run to ``csv_path``."""
    from tqdm.auto import tqdm

    rows = read_csv(csv_path)
    bar = tqdm(desc="regularization runs", unit="run", disable=not progress)
    try:
        with job_map(jobs) as run_all:
            while todo := _pending(rows, protocol, steps):
                bar.total = bar.n + len(todo)
                bar.refresh()
                for row in run_all(_run_job, [(job, device) for job in todo]):
                    rows.append(row)
                    _write_csv(rows, csv_path)        # after every run: nothing lost on ^C
                    bar.set_postfix_str(f"{row['experiment']} {row['technique']} "
                                        f"{row['config']} seed {row['seed']}")
                    bar.update()
    finally:
        bar.close()
    return rows


# --- the report --------------------------------------------------------------------------------------
def _pct(interval, digits=1, sign=False):
    mean, half, _ = interval
    text = f"{100 * mean:+.{digits}f}" if sign else f"{100 * mean:.{digits}f}"
    return text + ("" if math.isnan(half) else f" ± {100 * half:.{digits}f}")


def strength_text(label: str, result: dict) -> str:
    technique = TECHNIQUES.get(label)
    if label in (EARLY_STOPPING, EARLY_STOPPING_LOSS):
        return f"step {result['strength']:.0f} (mean)"
    if technique is None or technique.knob is None:
        return "—"
    edge = " (grid's end)" if result["at_edge"] else ""
    return f"{KNOBS[technique.knob]} = {result['strength']:g}{edge}"


def regime_table(rows, regime: str, protocol: Protocol) -> list[str]:
    """The Markdown table of one regime: every technique's tuned strength, test accuracy and
    gap with their 95 % intervals, and both paired against no regularization ([] if none ran)."""
    result = results(rows, regime, protocol)
    if "none" not in result:
        return []
    lines = ["| technique | tuned strength | test accuracy, % | gap, points | Δ test, points | "
             "Δ gap, points |", "|---|---|---|---|---|---|"]
    for label, r in result.items():
        deltas = ("— | —" if label == "none" else
                  f"{_pct(r['delta_test'], sign=True)} | {_pct(r['delta_gap'], sign=True)}")
        lines.append(f"| {label} | {strength_text(label, r)} | {_pct(r['test'])} | "
                     f"{_pct(r['gap'])} | {deltas} |")
    return lines


def markdown(rows, protocol: Protocol, elapsed: float) -> list[str]:
    lines = ["# Regularization on a network that overfits", "", provenance(), "",
             f"The MLP {list(SIZES)} with Adam (lr {LR:g}); strengths tuned by mean final "
             f"validation accuracy of seeds {list(protocol.tune_seeds)} over each grid, then test "
             f"accuracy over seeds {list(protocol.seeds)} (95 % t-intervals; Δ paired by seed "
             "against no regularization). Gap = training accuracy − test accuracy.", ""]
    for name in protocol.regimes:
        table = regime_table(rows, name, protocol)
        if not table:
            continue
        first = results(rows, name, protocol)["none"]["runs"][0]
        regime = replace(REGIMES[name], steps=first["steps"])
        lines += [f"## Regime `{name}`: {regime.n_train} training signals, {regime.steps} steps "
                  f"of batch {regime.batch_size}", "", *table, ""]
    for title, by_size, sizes in (
            ("Training-set size (strengths tuned in the `small` regime)",
             size_results(rows, protocol), protocol.sizes),
            (f"Digits: augmentation by training-set size (small CNN, {DIGIT_STEPS} steps)",
             digit_results(rows, protocol), protocol.digit_sizes)):
        if not any(by_size.values()):
            continue
        lines += [f"## {title}", "", "| technique | " + " | ".join(f"n = {n}" for n in sizes)
                  + " |", "|---" * (len(sizes) + 1) + "|"]
        for label, by_n in by_size.items():        # none's accuracy, the others' gain over it
            cells = [(_pct(by_n[n]["test"]) if label == "none"
                      else _pct(by_n[n]["delta_test"], sign=True)) if n in by_n else "—"
                     for n in sizes]
            lines.append(f"| {label}{'' if label == 'none' else ' (Δ)'} | " + " | ".join(cells)
                         + " |")
        lines.append("")
    total = sum(r["seconds"] for r in rows)
    lines += [f"{len(rows)} training runs, {total / 60:.0f} minutes of training "
              f"({elapsed / 60:.0f} minutes for this invocation)."]
    return lines


def plot_summary(axes, rows, regime: str, protocol: Protocol) -> None:
    """Two panels for one regime: the train–test gap (left) and the test accuracy (right) of
    every technique at its tuned strength, mean ± 95 % CI, with no regularization's as a line."""
    from ..plotting import color_of

    result = results(rows, regime, protocol)
    labels = list(result)
    for ax, key, xlabel in ((axes[0], "gap", "train − test accuracy (points)"),
                            (axes[1], "test", "test accuracy (%)")):
        for i, label in enumerate(labels):
            mean, half, _ = result[label][key]
            ax.errorbar(100 * mean, i, xerr=0 if math.isnan(half) else 100 * half, fmt="o",
                        color=color_of(0 if label == "none" else 1), capsize=3)
        ax.axvline(100 * result["none"][key][0], color="gray", linewidth=0.8, linestyle=":")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", alpha=0.3)
    axes[1].tick_params(labelleft=False)
    axes[0].set_title("generalization gap (smaller is better)")
    axes[1].set_title("test accuracy (larger is better)")


def mean_curves(rows, regime: str, technique: str, config: str, protocol: Protocol) -> dict:
    """{"step", and per curve name its mean over the reported seeds}: the learning curves of
    one configuration (evaluated every ``eval_every`` steps)."""
    mine = runs(rows, regime, technique, config=config, seeds=protocol.seeds)
    if not mine:
        raise ValueError(f"no runs of {technique!r} ({config!r}) in regime {regime!r}")
    every = mine[0]["steps"] // len(mine[0]["val_curve"])
    out = {name: np.mean([r[name] for r in mine], axis=0) for name in CURVES}
    out["step"] = every * np.arange(1, len(out["val_curve"]) + 1)
    return out


def plot_curves(ax, rows, regime: str, protocol: Protocol, techniques=("none",),
                loss_ax=None) -> None:
    """Training accuracy (dashed) and test accuracy (solid) against the step, mean over the
    reported seeds, for each technique at its tuned configuration. The generalization gap is
    shaded for one technique; for several, a bracket at the last step marks each one's final
    gap. ``loss_ax`` also gets the validation loss."""
    from ..plotting import color_of

    result = results(rows, regime, protocol)
    for i, label in enumerate(techniques):
        curves = mean_curves(rows, regime, label, result[label]["config"], protocol)
        color, step = color_of(i), curves["step"]
        train_acc, test_acc = 100 * curves["train_curve"], 100 * curves["test_curve"]
        ax.plot(step, train_acc, "--", color=color, label=f"{label}: training")
        ax.plot(step, test_acc, "-", color=color, label=f"{label}: test")
        if len(techniques) == 1:
            ax.fill_between(step, test_acc, train_acc, color=color, alpha=0.12)
        else:
            x = step[-1] * (1.02 + 0.07 * i)
            ax.plot([x, x], [test_acc[-1], train_acc[-1]], color=color, linewidth=2.5,
                    solid_capstyle="butt")
            ax.text(x, (test_acc[-1] + train_acc[-1]) / 2, f" {train_acc[-1] - test_acc[-1]:.0f}",
                    color=color, fontsize=10, va="center")
        if loss_ax is not None:
            loss_ax.plot(step, curves["val_loss_curve"], color=color, label=label)
    ax.set(xlabel="step", ylabel="accuracy (%)", ylim=(0, 102))
    if len(techniques) > 1:               # the brackets sit past the last step: no ticks there
        last = curves["step"][-1]
        ax.set_xticks([t for t in ax.get_xticks() if 0 <= t <= last])
    ax.legend(fontsize=10, loc="lower right")
    if loss_ax is not None:
        loss_ax.set(xlabel="step", ylabel="validation loss")
        if len(techniques) > 1:
            loss_ax.legend(fontsize=10)


def plot_strength(ax, rows, regime: str, technique: str, protocol: Protocol) -> None:
    """Mean final validation accuracy of the tuning seeds against the strength (the tuned one
    starred), with no regularization's as a dotted line."""
    from ..plotting import color_of

    spec = TECHNIQUES[technique]
    curve = sensitivity(rows, regime, spec, protocol)
    strengths = sorted(curve)
    choice = tuned(rows, regime, spec, protocol)
    ax.plot(strengths, [100 * curve[s] for s in strengths], "o-", color=color_of(1),
            label=technique)
    ax.plot(choice["strength"], 100 * curve[choice["strength"]], "*", markersize=14,
            color=color_of(1), label="tuned")
    base = sensitivity(rows, regime, TECHNIQUES["none"], protocol)[None]
    ax.axhline(100 * base, color="gray", linestyle=":", label="no regularization")
    if spec.knob in ("l2", "l1", "elastic", "decay"):
        ax.set_xscale("log")
    ax.set(xlabel=f"{technique}: {KNOBS[spec.knob]}", ylabel="validation accuracy (%)")
    ax.legend(fontsize=10)


def plot_deltas(ax, rows, protocol: Protocol, techniques, regimes=None) -> None:
    """The paired test-accuracy gain over no regularization (mean ± 95 % CI) of each technique
    in each regime, one marker per regime."""
    from ..plotting import color_of

    regimes = regimes or protocol.regimes
    offsets = np.linspace(-0.25, 0.25, len(regimes))
    for j, name in enumerate(regimes):
        result = results(rows, name, protocol)
        labelled = False
        for i, label in enumerate(techniques):
            if label not in result:                 # a regime that does not run it
                continue
            mean, half, _ = result[label]["delta_test"]
            ax.errorbar(100 * mean, i + offsets[j], xerr=100 * half, fmt="os^D"[j % 4],
                        color=color_of(j), capsize=3,
                        label=(f"{name}: {REGIMES[name].n_train} signals, "
                               f"{REGIMES[name].steps} steps"
                               + (f", batch {REGIMES[name].batch_size}"
                                  if REGIMES[name].batch_size != 50 else ""))
                        if not labelled else None)
            labelled = True
    ax.axvline(0, color="gray", linewidth=0.8)
    ax.set_yticks(range(len(techniques)), techniques)
    ax.set_ylim(len(techniques) - 0.5, -0.5)
    ax.set_xlabel("test accuracy gain over no regularization (points, 95 % CI)")
    ax.legend(fontsize=10, loc="center right")
    ax.grid(axis="x", alpha=0.3)


def plot_sizes(ax, by_n: dict[str, dict[int, dict]], techniques, *, xlabel: str) -> None:
    """The paired test-accuracy gain (mean ± 95 % CI) against the training-set size, one line
    per technique (``by_n`` from :func:`size_results` or :func:`digit_results`)."""
    from ..plotting import color_of

    order = [*TECHNIQUES, *digit_conditions()]     # one colour per technique, in every panel
    for k, label in enumerate(techniques):
        sizes = sorted(by_n[label])
        means = [100 * by_n[label][n]["delta_test"][0] for n in sizes]
        halves = [100 * by_n[label][n]["delta_test"][1] for n in sizes]
        nudge = 1 + 0.035 * (k - (len(techniques) - 1) / 2)    # side by side, bars apart
        ax.errorbar([n * nudge for n in sizes], means, yerr=halves, marker="o", capsize=3,
                    color=color_of(order.index(label)), label=label)
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.set(xscale="log", xlabel=xlabel, ylabel="test accuracy gain (points)")
    ax.set_xticks(sorted(next(iter(by_n.values()))), [str(n) for n in sorted(next(iter(by_n.values())))])
    ax.minorticks_off()
    ax.legend(fontsize=10)


def figure(rows, protocol: Protocol, path: Path) -> None:
    """The summary figure of the main regime."""
    from matplotlib.figure import Figure      # no pyplot: a kernel's backend stays as it is

    from ..plotting import use_book_style

    use_book_style()
    regime = protocol.regimes[0]
    fig = Figure(figsize=(10, 4.8))
    axes = fig.subplots(1, 2, sharey=True)
    plot_summary(axes, rows, regime, protocol)
    fig.suptitle(f"MLP on {REGIMES[regime].n_train} MNIST-1D signals, each technique tuned "
                 f"on validation ({len(protocol.seeds)} seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# --- command line --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lecture_code.bench regularization",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--regimes", nargs="+", choices=list(REGIMES),
                        help=f"regimes to run (default: all, {list(REGIMES)})")
    parser.add_argument("--tune-seeds", type=int, nargs="+", help="seeds that choose strengths")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds reported (default 0-9)")
    parser.add_argument("--sizes", type=int, nargs="*", metavar="N",
                        help="training-set sizes of the sizes experiment (none: skip it)")
    parser.add_argument("--digit-sizes", type=int, nargs="*", metavar="N",
                        help="training-set sizes of the digits experiment (none: skip it)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke test: {QUICK_STEPS} steps, 2 regimes, few seeds and sizes")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs in parallel, one thread each (CPU; default 1)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="folder for regularization.csv/.md/.png (default: benchmarks/)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch finds no CUDA GPU on this machine")
    if args.jobs > 1 and args.device != "cpu":
        parser.error("--jobs > 1 is for the CPU")
    protocol = QUICK if args.quick else Protocol()
    protocol = replace(protocol, **{k: tuple(v) for k, v in (
        ("regimes", args.regimes), ("tune_seeds", args.tune_seeds), ("seeds", args.seeds),
        ("sizes", args.sizes), ("digit_sizes", args.digit_sizes)) if v is not None})
    pool, digits = len(mnist1d_data()[0][1]), len(digits_data()[0][1])
    for name, sizes, most in (("--sizes", protocol.sizes, pool),
                              ("--digit-sizes", protocol.digit_sizes, digits)):
        if any(not 1 <= n <= most for n in sizes):
            parser.error(f"{name} must lie in [1, {most}], got {list(sizes)}")
    if not set(protocol.tune_seeds) <= set(protocol.seeds):
        parser.error(f"--tune-seeds {list(protocol.tune_seeds)} must be among --seeds "
                     f"{list(protocol.seeds)}: the tuning runs are reported too")
    if min(protocol.seeds) < 0:
        parser.error(f"--seeds must be >= 0, got {list(protocol.seeds)}")
    steps = (dict.fromkeys((*REGIMES, "digits"), QUICK_STEPS) if args.quick else None)
    torch.set_num_threads(1 if args.device == "cpu" else torch.get_num_threads())
    csv_path = args.out / "regularization.csv"
    start = time.perf_counter()
    rows = sweep(protocol, csv_path, args.device, args.jobs, steps)
    elapsed = time.perf_counter() - start
    write_report(args.out / "regularization.md", markdown(rows, protocol, elapsed))
    figure(rows, protocol, args.out / "regularization.png")
    print(f"wrote {csv_path}, regularization.md and regularization.png "
          f"({elapsed / 60:.1f} minutes)")
    return 0
