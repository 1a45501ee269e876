"""The bug lab: short training scripts, each with one planted mistake that students make.

Every function here is a complete little experiment on scikit-learn's digits (a small MLP,
a few epochs, about a second on one CPU core). Called with ``fixed=False`` (the default) it
contains exactly one fault; ``fixed=True`` runs the corrected script. Both return a
:class:`BugRun` with what the monitors of :mod:`lecture_code.diagnostics` recorded, so that the
symptoms can be studied before the diagnosis is revealed.

=========================  ==================================================================
script                     the planted fault
=========================  ==================================================================
``high_learning_rate``     learning rate 10x too high, with a hand-written softmax: NaNs
``missing_zero_grad``      gradients are never reset, so they accumulate over the steps
``train_mode_at_test``     the validation accuracy is computed with dropout still active
``shuffled_labels``        inputs and labels shuffled with two different permutations
``softmax_twice``          a softmax layer in the model *and* ``F.cross_entropy``
``zero_init``              all weights and biases initialised to zero
``large_init``             weights drawn with standard deviation 1 (about 14x too large)
``unnormalized_data``      raw 0-255 pixel values fed to the network
``tiny_validation``        a validation set of 20 examples
=========================  ==================================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from . import diagnostics as diag
from ._checks import check_bool
from .data import Split, digits
from .optimizers import SGD
from .training import Callback, History, TrainingDiverged, mlp, train

__all__ = ["BugRun", "BUGS", "baseline", "NaiveSoftmax", "nll_of_probabilities", "high_learning_rate",
           "missing_zero_grad", "train_mode_at_test", "shuffled_labels", "softmax_twice",
           "zero_init", "large_init", "unnormalized_data", "tiny_validation", "run_all",
           "MYSTERY_ORDER", "mystery", "dashboard", "show"]

#: The width of every network of the lab and its default training setting.
SIZES = [64, 64, 64, 10]
LR, MOMENTUM, EPOCHS, BATCH = 0.05, 0.9, 6, 32


@dataclass
class BugRun:
    """What one bug-lab script recorded.

    ``history`` holds every mini-batch loss and the per-epoch metrics up to the end (or the
    crash) of the run; ``monitors`` the :mod:`~lecture_code.diagnostics` callbacks by name;
    ``error`` the message of the exception that stopped training, if any; ``extra`` numbers
    specific to the script (for example what the student's own code reported).
    """

    name: str
    fixed: bool
    history: History
    monitors: dict
    error: str | None = None
    extra: dict = field(default_factory=dict)

    def report(self) -> str:
        """:func:`lecture_code.diagnostics.report` of the run and what stopped it, if anything.

        The script's name is left out, so that the report of a mystery gives nothing away.
        """
        text = diag.report(self.history, *self.monitors.values())
        for key, value in self.extra.items():
            text += f"\n{key}: {_fmt(value)}"
        if self.error:
            text += f"\nstopped: {self.error}"
        return text


def _fmt(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:.3f}" for v in value) + "]"
    return str(value)


def _monitors(histogram_every: int = 40) -> dict:
    return {"update_ratio": diag.UpdateRatioMonitor(),
            "histograms": diag.HistogramMonitor(every=histogram_every),
            "dead_relu": diag.DeadReLUMonitor(),
            "grad_norm": diag.GradNormMonitor(),
            "nan_guard": diag.NaNGuard(),
            "modes": diag.ModeMonitor(keep_hooks=False)}


def _run(name: str, fixed: bool, model: nn.Module, optimizer, data: Split, *,
         epochs: int = EPOCHS, loss_fn=F.cross_entropy, extra_callbacks=(), seed: int = 0,
         val_data=None) -> BugRun:
    monitors = _monitors()  # train() detaches their hooks however the run ends
    try:
        history = train(model, optimizer, data.train, epochs=epochs, batch_size=BATCH,
                        val_data=data.val if val_data is None else val_data, loss_fn=loss_fn,
                        generator=torch.Generator().manual_seed(seed), quiet=True,
                        callbacks=[*monitors.values(), *extra_callbacks])
    except (diag.NonFiniteError, TrainingDiverged) as stop:
        return BugRun(name, fixed, stop.history, monitors, str(stop))
    return BugRun(name, fixed, history, monitors)


def _data() -> Split:
    return digits()


def _model(seed: int = 0, sizes=SIZES) -> nn.Sequential:
    torch.manual_seed(seed)
    return mlp(sizes)


# ----------------------------------------------------------------------------------------
# The scripts
# ----------------------------------------------------------------------------------------
class NaiveSoftmax(nn.Module):
    r"""A softmax written straight from the formula, $e^{z_k} / \sum_j e^{z_j}$.

    It is correct for small logits but ``exp`` overflows to ``inf`` above about 88 in float32,
    and ``inf / inf`` is NaN. (``torch.softmax`` subtracts the largest logit first.)
    """

    def forward(self, z):
        e = torch.exp(z)
        return e / e.sum(dim=1, keepdim=True)


def nll_of_probabilities(p, y, reduction: str = "mean"):
    """Cross-entropy of probabilities (not logits): ``-log p[y]``, as a student writes it."""
    return F.nll_loss(torch.log(p), y, reduction=reduction)


def baseline(seed: int = 0) -> BugRun:
    """The lab's script without any bug: the reference that every fixed script resembles."""
    model = _model(seed)
    return _run("baseline", True, model, SGD(model.parameters(), lr=LR, momentum=MOMENTUM),
                _data(), seed=seed)


def high_learning_rate(fixed: bool = False, seed: int = 0) -> BugRun:
    """SGD with momentum at lr 0.5 instead of 0.05; the model ends in a hand-written softmax.

    Bug: the logits grow with every too-large step until ``exp`` overflows, and the loss
    becomes NaN after some iterations. Caught by :class:`~lecture_code.diagnostics.NaNGuard`
    (it names the softmax layer) and by update/weight ratios far above 1e-3.
    """
    check_bool("fixed", fixed)
    model = nn.Sequential(*_model(seed), NaiveSoftmax())
    lr = LR if fixed else 10 * LR
    return _run("high_learning_rate", fixed, model, SGD(model.parameters(), lr=lr, momentum=MOMENTUM),
                _data(), loss_fn=nll_of_probabilities, seed=seed)


def missing_zero_grad(fixed: bool = False, seed: int = 0) -> BugRun:
    """The training step forgets ``optimizer.zero_grad()``.

    Bug: ``backward`` *adds* to ``.grad``, so every step uses the sum of all gradients so far.
    Caught by :class:`~lecture_code.diagnostics.GradNormMonitor`: the gradient norm grows
    step after step instead of shrinking.
    """
    check_bool("fixed", fixed)
    model = _model(seed)
    optimizer = SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    if not fixed:
        optimizer.zero_grad = lambda set_to_none=True: None  # the forgotten line
    return _run("missing_zero_grad", fixed, model, optimizer, _data(), seed=seed)


class _StudentValidation(Callback):
    """The student's own validation code, run after every epoch."""

    def __init__(self, data: Split, fixed: bool):
        self.data, self.fixed, self.accuracy = data, fixed, []

    @torch.no_grad()
    def on_epoch_end(self, epoch, metrics, model):
        if self.fixed:
            model.eval()  # the line that is missing in the buggy script
        predictions = model(self.data.x_val).argmax(dim=1)
        self.accuracy.append((predictions == self.data.y_val).float().mean().item())
        model.train()


def train_mode_at_test(fixed: bool = False, seed: int = 0) -> BugRun:
    """A network with dropout, validated by the student's own loop without ``model.eval()``.

    Bug: dropout stays active at test time, so half the hidden units are zeroed at random and
    the reported validation accuracy is too low and changes from one evaluation to the next.
    Caught by :class:`~lecture_code.diagnostics.ModeMonitor` (evaluation passes in train
    mode). ``extra["reported_val_accuracy"]`` is what the student's code printed;
    ``history["val_accuracy"]`` is the correct evaluation.
    """
    check_bool("fixed", fixed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(128, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
    data = _data()
    student = _StudentValidation(data, fixed)
    run = _run("train_mode_at_test", fixed, model, SGD(model.parameters(), lr=LR, momentum=MOMENTUM),
               data, extra_callbacks=[student], seed=seed)
    run.extra["reported_val_accuracy"] = student.accuracy
    return run


def shuffled_labels(fixed: bool = False, seed: int = 0) -> BugRun:
    """The student shuffles the training set, but inputs and labels with different permutations.

    Bug: the labels no longer belong to the images. The network can only memorize, so the
    training loss creeps down slowly while the validation accuracy stays at chance (10%).
    Caught by the training/validation curves (:func:`~lecture_code.diagnostics.plot_curves`).
    """
    check_bool("fixed", fixed)
    data = _data()
    g = torch.Generator().manual_seed(seed + 1)
    order = torch.randperm(len(data.y_train), generator=g)
    label_order = order if fixed else torch.randperm(len(data.y_train), generator=g)
    data = Split(data.x_train[order], data.y_train[label_order], data.x_val, data.y_val,
                 data.num_classes)
    model = _model(seed)
    return _run("shuffled_labels", fixed, model, SGD(model.parameters(), lr=LR, momentum=MOMENTUM),
                data, seed=seed)


def softmax_twice(fixed: bool = False, seed: int = 0) -> BugRun:
    """The model ends with ``nn.Softmax`` and the loss is ``F.cross_entropy``.

    Bug: ``cross_entropy`` applies its own (log-)softmax, so it sees probabilities in [0, 1]
    as logits. The loss cannot go below log(9 + e) - 1 ≈ 1.46 nats even for perfect
    predictions, and the gradients are small. Caught by the loss curve (a floor far above 0
    while the accuracy is high) and :class:`~lecture_code.diagnostics.GradNormMonitor`.
    """
    check_bool("fixed", fixed)
    model = _model(seed)
    if not fixed:
        model.append(nn.Softmax(dim=1))
    return _run("softmax_twice", fixed, model, SGD(model.parameters(), lr=LR, momentum=MOMENTUM),
                _data(), seed=seed)


def zero_init(fixed: bool = False, seed: int = 0) -> BugRun:
    """Every weight and bias starts at zero.

    Bug: every hidden unit computes the same thing (zero), the ReLUs pass no gradient, and
    only the last bias learns: the network predicts the most frequent class. Caught by
    :class:`~lecture_code.diagnostics.DeadReLUMonitor` (100% dead) and the activation
    histograms (all exactly zero).
    """
    check_bool("fixed", fixed)
    model = _model(seed)
    if not fixed:
        with torch.no_grad():
            for param in model.parameters():
                param.zero_()
    return _run("zero_init", fixed, model, SGD(model.parameters(), lr=LR, momentum=MOMENTUM),
                _data(), seed=seed)


def large_init(fixed: bool = False, seed: int = 0) -> BugRun:
    """Weights drawn from N(0, 1) instead of PyTorch's default (std ≈ 0.07 for 64 inputs).

    Bug: every layer multiplies the scale of the activations by about sqrt(64 / 2) ≈ 6, the
    logits are in the hundreds, the first loss is enormous instead of ln 10 ≈ 2.3, and training
    thrashes. Caught by the activation histograms (:class:`~lecture_code.diagnostics.HistogramMonitor`)
    and the loss at initialization.
    """
    check_bool("fixed", fixed)
    model = _model(seed)
    if not fixed:
        with torch.no_grad():
            for layer in model:
                if isinstance(layer, nn.Linear):
                    layer.weight.normal_(0.0, 1.0)
    return _run("large_init", fixed, model, SGD(model.parameters(), lr=LR, momentum=MOMENTUM),
                _data(), seed=seed)


def unnormalized_data(fixed: bool = False, seed: int = 0) -> BugRun:
    """The images are fed as raw 8-bit intensities (0-255) instead of standardized features.

    Bug: the inputs are about 100x larger than the network (and the learning rate) expects;
    the first layer's outputs are huge, the first update wrecks the weights and most ReLUs
    die. Caught by the activation histograms and the update/weight ratio of the first layer.
    """
    check_bool("fixed", fixed)
    if fixed:
        data = _data()
    else:
        raw = digits(standardize=False)
        scale = 255.0 / 16.0  # the digits are stored as 0..16; a camera gives 0..255
        data = Split(raw.x_train * scale, raw.y_train, raw.x_val * scale, raw.y_val, raw.num_classes)
    model = _model(seed)
    return _run("unnormalized_data", fixed, model, SGD(model.parameters(), lr=LR, momentum=MOMENTUM),
                data, seed=seed)


def tiny_validation(fixed: bool = False, seed: int = 0) -> BugRun:
    """Model selection on a validation set of 20 examples.

    Bug: a validation accuracy on 20 examples moves in steps of 5% and has a standard error of
    about 5–7%: differences between epochs or models are noise. Caught by
    :func:`~lecture_code.diagnostics.validation_noise`; ``extra["noise"]`` holds its result
    for the last epoch. The fixed script validates on all 449 held-out examples.
    """
    check_bool("fixed", fixed)
    data = _data()
    val = data.val if fixed else (data.x_val[:20], data.y_val[:20])
    model = _model(seed)
    run = _run("tiny_validation", fixed, model, SGD(model.parameters(), lr=LR, momentum=MOMENTUM),
               data, seed=seed, val_data=val)
    run.extra["noise"] = diag.validation_noise(len(val[1]), float(run.history["val_accuracy"][-1]))
    return run


#: Every script of the lab by name, with the monitor meant to catch its bug.
BUGS = {
    "high_learning_rate": (high_learning_rate, "NaNGuard + update/weight ratio"),
    "missing_zero_grad": (missing_zero_grad, "GradNormMonitor"),
    "train_mode_at_test": (train_mode_at_test, "ModeMonitor"),
    "shuffled_labels": (shuffled_labels, "train/val curves"),
    "softmax_twice": (softmax_twice, "loss floor + GradNormMonitor"),
    "zero_init": (zero_init, "DeadReLUMonitor + activation histograms"),
    "large_init": (large_init, "activation histograms + loss at init"),
    "unnormalized_data": (unnormalized_data, "activation histograms + update/weight ratio"),
    "tiny_validation": (tiny_validation, "validation_noise"),
}


def run_all(fixed: bool = False, seed: int = 0) -> dict[str, BugRun]:
    """Run every script of the lab (buggy by default); about ten seconds in all."""
    return {name: script(fixed=fixed, seed=seed) for name, (script, _) in BUGS.items()}


#: The order in which the bug-lab chapter presents the scripts, as numbered mysteries.
MYSTERY_ORDER = ("softmax_twice", "high_learning_rate", "shuffled_labels", "zero_init",
                 "missing_zero_grad", "tiny_validation", "large_init", "train_mode_at_test",
                 "unnormalized_data")


def mystery(number: int, fixed: bool = False, seed: int = 0) -> BugRun:
    """Run bug-lab script number ``number`` (1-9, see :data:`MYSTERY_ORDER`) without naming it."""
    from ._checks import check_int
    check_int("number", number, low=1, high=len(MYSTERY_ORDER))
    return BUGS[MYSTERY_ORDER[number - 1]][0](fixed=fixed, seed=seed)


def dashboard(run: BugRun, reference: BugRun | None = None, title: str | None = None,
              width: float = 8.0):
    """Six panels of what the monitors saw: the symptoms of ``run`` (and, if given, ``reference``).

    Three rows of two panels, ``width`` inches wide (8: the book's text column): mini-batch
    loss and accuracy per epoch; update/weight ratio of the first weight matrix and gradient
    norm; dead ReLUs (mean over the ReLU layers) and the activation histogram of the first
    hidden layer at step 1. One legend above the panels names the runs (by colour) and the
    line styles, so that no legend covers a curve. If the script recorded what the student's
    own validation code reported, that curve replaces the validation accuracy. Returns the
    figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.lines import Line2D
    from .plotting import color_of

    if not width > 0:
        raise ValueError(f"width must be > 0 inches, got {width!r}")
    # A fixed layout: constrained layout would cost half of the drawing time of these figures.
    height = width * 1.08
    fig, axes = plt.subplots(3, 2, figsize=(width, height))
    top = 1 - (1.05 if title else 0.62) / height      # room for the title and the legend
    fig.subplots_adjust(left=0.14, right=0.985, bottom=0.065, top=top, wspace=0.32, hspace=0.55)
    runs = [(run, "this run" if reference is None else "buggy", 3)]
    if reference is not None:
        runs.append((reference, "fixed", 2))
    student = False
    for index, (run_, label, colour) in enumerate(runs):
        c = color_of(colour)
        h = run_.history
        steps = np.arange(1, len(h.step_loss) + 1)
        axes[0, 0].plot(steps, h.step_loss, color=c, lw=0.8)
        if h.epochs:
            student = student or "reported_val_accuracy" in run_.extra
            val = run_.extra.get("reported_val_accuracy", h["val_accuracy"])
            axes[0, 1].plot(h["epoch"], h["train_accuracy"], "o-", ms=3, color=c)
            axes[0, 1].plot(h["epoch"], val, "s--", ms=3, color=c)
        else:
            axes[0, 1].text(0.5, 0.55 - 0.22 * index,
                            f"{label}: stopped before the end\nof the first epoch",
                            color=c, ha="center", va="center", transform=axes[0, 1].transAxes)
        ratios = run_.monitors["update_ratio"]
        first = next(iter(ratios.ratios))
        r = np.asarray(ratios.ratios[first], dtype=float)
        axes[1, 0].plot(ratios.steps, np.where(r > 0, r, np.nan), color=c, lw=0.8)
        grads = run_.monitors["grad_norm"]
        axes[1, 1].plot(grads.steps, grads.total, color=c, lw=0.8)
        dead = run_.monitors["dead_relu"]
        if dead.fractions:
            axes[2, 0].plot(dead.steps, np.nanmean(np.array(list(dead.fractions.values())), axis=0),
                            color=c, lw=0.8)
        hist = run_.monitors["histograms"]
        if 1 in hist.activations:
            values = hist.activations[1][next(iter(hist.activations[1]))]
            values = values[torch.isfinite(values)].numpy()
            axes[2, 1].hist(values, bins=60, histtype="step", color=c, density=True)
    axes[0, 0].set(yscale="log", xlabel="step", ylabel="loss (nats)",
                   title="loss per mini-batch")
    axes[0, 1].set(xlabel="epoch", ylabel="accuracy (fraction)", ylim=(0, 1.02),
                   title="accuracy per epoch")
    axes[1, 0].axhline(1e-3, color="k", ls=":", lw=1)
    axes[1, 0].set(yscale="log", xlabel="step", ylabel=r"$\|\Delta W\|/\|W\|$",
                   title=f"update / weight ratio, '{first}'")
    axes[1, 1].set(yscale="log", xlabel="step", ylabel=r"$\|\nabla_\theta L\|_2$",
                   title="gradient norm")
    axes[2, 0].set(ylim=(-0.02, 1.02), xlabel="step", ylabel="fraction of units",
                   title="dead ReLUs (whole batch zero)")
    axes[2, 1].set(yscale="log", xlabel="output of the first linear layer", ylabel="density",
                   title="first-layer outputs at step 1")
    for ax in axes.flat:
        ax.tick_params(labelsize=9)
        ax.title.set_fontsize(10)
        ax.xaxis.label.set_fontsize(9)
        ax.yaxis.label.set_fontsize(9)
    handles = [Line2D([], [], color=color_of(colour), lw=2, label=label) for _, label, colour in runs]
    handles += [Line2D([], [], color="0.3", marker="o", ms=3, ls="-", label="training accuracy"),
                Line2D([], [], color="0.3", marker="s", ms=3, ls="--",
                       label="validation (student's code)" if student else "validation accuracy"),
                Line2D([], [], color="k", ls=":", lw=1, label="1e-3 rule of thumb")]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=9,
               bbox_to_anchor=(0.5, 1 - (0.45 if title else 0.05) / height),
               handlelength=1.8, columnspacing=1.2)
    if title:
        fig.suptitle(title, y=1 - 0.08 / height, va="top")
    return fig


def show(fig) -> bytes:
    """Show ``fig`` as the book shows figures (drawn at 2x, shown at 1x) and return its PNG.

    The figure is drawn once, on its whole canvas (``figure_png(tight=False)``): a dashboard's
    layout is fixed and leaves room for every label, so trimming (a second draw) is not needed.
    The figure is closed. The bytes can become a frame of a
    :class:`~lecture_code.widgets.static.FrameExplorer` without drawing the figure again.
    """
    from .plotting import figure_png, show_png

    png = figure_png(fig, scale=2.0, tight=False)
    show_png(png)
    return png
