"""Babysitting a training run: monitors, sanity checks and checkpoints.

Training a network is, in the words of the lecture, "still a black art" that needs close
babysitting. This module collects the instruments of that craft:

* **Monitors** — :class:`lecture_code.training.Callback` subclasses that plug into
  :func:`lecture_code.training.train` (there is no second training loop here):
  :class:`UpdateRatioMonitor` (the ~1e-3 rule of thumb), :class:`HistogramMonitor`
  (activations and gradients per layer), :class:`DeadReLUMonitor`, :class:`GradNormMonitor`,
  :class:`NaNGuard` (names the first layer that went non-finite) and :class:`ModeMonitor`
  (Dropout/BatchNorm in the wrong mode).
* **Sanity checks** from Karpathy's recipe {cite}`karpathy2019recipe`: :func:`overfit_one_batch`,
  :func:`gradient_check` (cs231n's relative error), :func:`lr_range_test`
  {cite}`smith2017clr` and :func:`validation_noise` (is the validation set big enough?).
* **Checkpoints** that make a resumed run bit-identical to an uninterrupted one:
  :func:`save_checkpoint` / :func:`load_checkpoint`.
* **Reports**: ``plot_*`` functions and :func:`report`, a compact text summary.
"""
from __future__ import annotations

import copy
import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_bool, check_choice, check_int, check_real
from .training import Callback, History, minibatches

__all__ = [
    "NonFiniteError", "UpdateRatioMonitor", "HistogramMonitor", "DeadReLUMonitor",
    "GradNormMonitor", "NaNGuard", "ModeMonitor", "LRRangeResult", "lr_range_test",
    "GradCheckResult", "gradient_check", "OverfitResult", "overfit_one_batch",
    "ValidationNoise", "validation_noise", "save_checkpoint", "load_checkpoint",
    "plot_curves", "plot_update_ratios", "plot_histograms", "plot_dead_relus",
    "plot_grad_norms", "plot_lr_range", "report",
]


class NonFiniteError(FloatingPointError):
    """An activation or a gradient became NaN or infinite; ``layer`` names the module."""

    def __init__(self, message: str, *, step: int, layer: str, kind: str):
        self.step, self.layer, self.kind = step, layer, kind
        super().__init__(message)


def _leaf_modules(model: nn.Module, types: tuple | None = None) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of the modules without children (optionally only of ``types``)."""
    found = []
    for name, module in model.named_modules():
        if next(module.children(), None) is not None:
            continue
        if types is None or isinstance(module, types):
            found.append((name or type(module).__name__, module))
    return found


def _describe(name: str, module: nn.Module) -> str:
    return f"layer '{name}' ({type(module).__name__})"


class _HookedCallback(Callback):
    """A callback that owns forward hooks; :meth:`remove` detaches them.

    The hooks are registered in ``on_train_begin`` and detached in ``on_train_end``, which
    :func:`~lecture_code.training.train` calls however the run ends, so a monitor never
    outlives its run on the model, unless it was made with ``keep_hooks=True`` (then it keeps
    watching the model after training, until :meth:`remove`).
    """

    def __init__(self, keep_hooks: bool = False):
        self._handles: list = []
        self.keep_hooks = check_bool("keep_hooks", keep_hooks)
        self.step = 0  # the last step whose gradients were seen

    def remove(self) -> None:
        """Detach every hook this monitor registered on the model."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, modules, make_hook) -> None:
        self.remove()  # a second call to train() must not double the hooks
        for name, module in modules:
            self._handles.append(module.register_forward_hook(make_hook(name, module)))

    def after_backward(self, step, model):
        self.step = step

    def on_train_end(self, model):
        if not self.keep_hooks:
            self.remove()


# ----------------------------------------------------------------------------------------
# Monitors
# ----------------------------------------------------------------------------------------
class UpdateRatioMonitor(Callback):
    r"""Ratio of the update's norm to the weight's norm, per parameter tensor and step.

    $$r_\ell = \frac{\lVert W_\ell^{(t+1)} - W_\ell^{(t)} \rVert_2}{\lVert W_\ell^{(t)} \rVert_2}$$

    The cs231n rule of thumb: about ``1e-3``. Much larger (1e-1) and the learning rate is
    probably too high; much smaller (1e-6) and it is probably too low. By default only weight
    matrices (tensors with two or more dimensions) are tracked. A weight of norm zero gives
    ``inf`` if it moved and ``0`` if it did not.
    """

    def __init__(self, every: int = 1, include_biases: bool = False):
        self.every = check_int("every", every, low=1)
        self.include_biases = check_bool("include_biases", include_biases)
        self.steps: list[int] = []
        self.ratios: dict[str, list[float]] = {}
        self._before: dict[str, torch.Tensor] = {}

    def _tracked(self, model):
        return [(n, p) for n, p in model.named_parameters()
                if p.requires_grad and (self.include_biases or p.dim() >= 2)]

    def on_train_begin(self, model, optimizer):
        for name, _ in self._tracked(model):
            self.ratios.setdefault(name, [])

    def after_backward(self, step, model):
        if step % self.every == 0 or step == 1:
            self._before = {n: p.detach().clone() for n, p in self._tracked(model)}

    def on_step_end(self, step, loss, model, optimizer):
        if not self._before:
            return
        self.steps.append(step)
        for name, param in self._tracked(model):
            old = self._before[name]
            update = (param.detach() - old).norm().item()
            scale = old.norm().item()
            ratio = update / scale if scale > 0 else (math.inf if update > 0 else 0.0)
            self.ratios[name].append(ratio)
        self._before = {}

    def summary(self) -> str:
        if not self.steps:
            return "update/weight ratio: nothing recorded"
        parts = [f"{n}: {np.median(r[-10:]):.1e}" for n, r in self.ratios.items()]
        return "update/weight ratio (median of last 10 records; ~1e-3 is healthy): " + ", ".join(parts)


class HistogramMonitor(_HookedCallback):
    """Activations (outputs of chosen layers) and gradients (of weights) at chosen steps.

    ``layer_types`` picks the modules whose outputs are recorded (default: every leaf module).
    At step 1 and every ``every`` steps the last training mini-batch's outputs are kept in
    ``activations[step][layer]`` and the weight gradients in ``gradients[step][parameter]``
    (flattened CPU tensors, for histograms). Only forward passes with gradients enabled
    (training passes, not :func:`~lecture_code.training.evaluate`) are recorded.
    """

    def __init__(self, every: int = 50, layer_types: tuple | None = None):
        super().__init__()
        self.every = check_int("every", every, low=1)
        self.layer_types = layer_types
        self.activations: dict[int, dict[str, torch.Tensor]] = {}
        self.gradients: dict[int, dict[str, torch.Tensor]] = {}
        self.kinds: dict[str, str] = {}  # layer name -> module class name, for legends
        self._last: dict[str, torch.Tensor] = {}

    def on_train_begin(self, model, optimizer):
        def make_hook(name, module):
            def hook(mod, inputs, output):
                if torch.is_grad_enabled() and isinstance(output, torch.Tensor):
                    self._last[name] = output.detach()
            return hook
        modules = _leaf_modules(model, self.layer_types)
        self.kinds.update({name: type(module).__name__ for name, module in modules})
        self._hook(modules, make_hook)

    def after_backward(self, step, model):
        super().after_backward(step, model)
        if step % self.every == 0 or step == 1:
            self.activations[step] = {n: a.flatten().clone() for n, a in self._last.items()}
            self.gradients[step] = {n: p.grad.detach().flatten().clone()
                                    for n, p in model.named_parameters()
                                    if p.grad is not None and p.dim() >= 2}
        self._last = {}

    def stats(self, step: int | None = None) -> dict[str, dict[str, float]]:
        """Mean, standard deviation and fraction of exact zeros of each layer's output."""
        step = max(self.activations) if step is None else step
        return {n: {"mean": a.mean().item(), "std": a.std().item(),
                    "zeros": (a == 0).float().mean().item()}
                for n, a in self.activations[step].items()}

    def summary(self) -> str:
        if not self.activations:
            return "activations: nothing recorded"
        first, last = min(self.activations), max(self.activations)
        parts = [f"{n}: {s['std']:.2g}" for n, s in self.stats(last).items()]
        return (f"activation std per layer at step {last}: " + ", ".join(parts)
                + f" (first record: step {first})")


class DeadReLUMonitor(_HookedCallback):
    """Fraction of ReLU units that output zero for *every* example of a training mini-batch.

    A unit that is zero for the whole batch passes no gradient to its weights; if it stays so
    for every batch it is "dead" and will never recover. Recorded per ReLU module and step in
    ``fractions[layer]``.
    """

    def __init__(self, layer_types: tuple = (nn.ReLU,)):
        super().__init__()
        self.layer_types = layer_types
        self.steps: list[int] = []
        self.fractions: dict[str, list[float]] = {}
        self._last: dict[str, float] = {}

    @staticmethod
    def dead_fraction(output: torch.Tensor) -> float:
        """Fraction of units (all dimensions but the batch) that are zero for every example."""
        flat = output.detach().reshape(output.shape[0], -1)
        return (flat <= 0).all(dim=0).float().mean().item()

    def on_train_begin(self, model, optimizer):
        def make_hook(name, module):
            def hook(mod, inputs, output):
                if torch.is_grad_enabled():
                    self._last[name] = self.dead_fraction(output)
            return hook
        modules = _leaf_modules(model, self.layer_types)
        for name, _ in modules:
            self.fractions.setdefault(name, [])
        self._hook(modules, make_hook)

    def after_backward(self, step, model):
        super().after_backward(step, model)
        self.steps.append(step)
        for name in self.fractions:
            self.fractions[name].append(self._last.get(name, math.nan))
        self._last = {}

    def summary(self) -> str:
        if not self.steps:
            return "dead ReLUs: nothing recorded"
        return "dead ReLU fraction (last step): " + ", ".join(
            f"{n}: {f[-1]:.0%}" for n, f in self.fractions.items())


class GradNormMonitor(Callback):
    r"""The global gradient norm $\lVert \nabla_\theta L \rVert_2$ and each parameter's, per step."""

    def __init__(self):
        self.steps: list[int] = []
        self.total: list[float] = []
        self.per_parameter: dict[str, list[float]] = {}

    def after_backward(self, step, model):
        self.steps.append(step)
        squares = 0.0
        for name, param in model.named_parameters():
            if param.grad is None:
                continue
            norm = param.grad.detach().norm().item()
            self.per_parameter.setdefault(name, []).append(norm)
            squares += norm ** 2
        self.total.append(math.sqrt(squares))

    def summary(self) -> str:
        if not self.steps:
            return "gradient norm: nothing recorded"
        t = np.asarray(self.total)
        return (f"gradient norm: first {t[0]:.3g}, median {np.median(t):.3g}, "
                f"last {t[-1]:.3g}, max {t.max():.3g}")


class NaNGuard(_HookedCallback):
    """Stops training at the first non-finite activation or gradient and names its layer.

    A forward hook on every leaf module checks its output; a hook on that output checks the
    gradient flowing back into it (backward order: the layer nearest the loss first), and
    :meth:`after_backward` checks the parameters' gradients. The first failure raises
    :class:`NonFiniteError` (unless ``raise_error=False``) and is kept in ``first``:
    ``(step, kind, layer, message)``.
    """

    def __init__(self, raise_error: bool = True):
        super().__init__()
        self.raise_error = check_bool("raise_error", raise_error)
        self.first: tuple | None = None
        self._pending_grad: tuple | None = None

    def _fail(self, kind, name, module, message):
        step = self.step + 1 if kind == "activation" else self.step
        if self.first is None:
            self.first = (step, kind, name, message)
        if self.raise_error:
            raise NonFiniteError(message, step=step, layer=name, kind=kind)

    def on_train_begin(self, model, optimizer):
        self._pending_grad = None

        def make_hook(name, module):
            def hook(mod, inputs, output):
                if not isinstance(output, torch.Tensor):
                    return
                if not torch.isfinite(output).all():
                    step = self.step + 1
                    nan = torch.isnan(output).sum().item()
                    inf = torch.isinf(output).sum().item()
                    if any(isinstance(x, torch.Tensor) and not torch.isfinite(x).all()
                           for x in inputs):
                        cause = "its input was already non-finite (check the data)"
                    elif any(not torch.isfinite(p).all() for p in mod.parameters()):
                        cause = ("its own parameters are non-finite: an earlier update blew "
                                 "them up (learning rate too high?)")
                    else:
                        cause = ("its input and parameters are finite: the values overflowed "
                                 "here (learning rate too high or bad initialization?)")
                    self._fail("activation", name, mod,
                               f"step {step}: the output of {_describe(name, mod)} has {nan} NaN "
                               f"and {inf} inf entries; {cause}")
                    return
                if output.requires_grad:
                    def grad_hook(grad):
                        if self._pending_grad is None and not torch.isfinite(grad).all():
                            self._pending_grad = (name, mod)
                    output.register_hook(grad_hook)
            return hook
        self._hook(_leaf_modules(model), make_hook)

    def after_backward(self, step, model):
        super().after_backward(step, model)
        if self._pending_grad is not None:
            name, mod = self._pending_grad
            self._pending_grad = None
            self._fail("gradient", name, mod,
                       f"step {step}: the gradient of the loss with respect to the output of "
                       f"{_describe(name, mod)} is non-finite (the first such layer going "
                       f"backward from the loss)")
            return
        for name, param in model.named_parameters():
            if param.grad is not None and not torch.isfinite(param.grad).all():
                self._fail("gradient", name, param,
                           f"step {step}: the gradient of parameter '{name}' is non-finite")
                return

    def summary(self) -> str:
        return "NaN guard: all finite" if self.first is None else f"NaN guard: {self.first[3]}"


class ModeMonitor(_HookedCallback):
    """Counts forward passes of Dropout/BatchNorm layers that ran in the wrong mode.

    A pass with gradients enabled is taken to be a training pass and should run in train mode;
    a pass under :func:`torch.no_grad` is taken to be an evaluation and should run in eval mode.
    ``wrong["train_pass_in_eval_mode"]`` and ``wrong["eval_pass_in_train_mode"]`` count the
    violations (one per layer and pass). Unlike the other hook-based monitors it keeps its
    hooks after :func:`~lecture_code.training.train` returns, so that it also counts the passes
    of your own evaluation code, until :meth:`remove` (``keep_hooks=False``: detach at the end
    of the run).
    """

    def __init__(self, layer_types: tuple = (nn.Dropout, nn.modules.batchnorm._BatchNorm),
                 keep_hooks: bool = True):
        super().__init__(keep_hooks=keep_hooks)
        self.layer_types = layer_types
        self.wrong = {"train_pass_in_eval_mode": 0, "eval_pass_in_train_mode": 0}
        self.passes = 0

    def on_train_begin(self, model, optimizer):
        def make_hook(name, module):
            def hook(mod, inputs, output):
                self.passes += 1
                if torch.is_grad_enabled() and not mod.training:
                    self.wrong["train_pass_in_eval_mode"] += 1
                elif not torch.is_grad_enabled() and mod.training:
                    self.wrong["eval_pass_in_train_mode"] += 1
            return hook
        self._hook(_leaf_modules(model, self.layer_types), make_hook)

    def summary(self) -> str:
        return (f"layer modes: {self.passes} Dropout/BatchNorm passes, "
                f"{self.wrong['train_pass_in_eval_mode']} training passes in eval mode, "
                f"{self.wrong['eval_pass_in_train_mode']} evaluation passes in train mode")


# ----------------------------------------------------------------------------------------
# Sanity checks
# ----------------------------------------------------------------------------------------
@dataclass
class LRRangeResult:
    """The curve of an LR range test and the range it suggests."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    diverged: bool
    best_lr: float
    suggested: tuple[float, float]


def lr_range_test(model: nn.Module, loss_fn: Callable, data: tuple[torch.Tensor, torch.Tensor],
                  lr_min: float = 1e-5, lr_max: float = 10.0, steps: int = 100, *,
                  optimizer_factory: Callable | None = None, batch_size: int = 64,
                  generator: torch.Generator | None = None, smoothing: float = 0.9,
                  divergence_factor: float = 4.0) -> LRRangeResult:
    r"""The learning-rate range test of Smith {cite}`smith2017clr`.

    Train for ``steps`` mini-batches while the learning rate grows exponentially,

    $$\eta_i = \eta_{\min} \left(\eta_{\max}/\eta_{\min}\right)^{i/(\text{steps}-1)},$$

    record the loss of each mini-batch and its bias-corrected exponential moving average
    (``smoothing`` = β), and stop as soon as the loss is not finite or the smoothed loss
    exceeds ``divergence_factor`` times its best value. The suggested range: the upper end is
    ``best_lr / 10``, where ``best_lr`` has the lowest smoothed loss (the loss there is about to
    blow up, and it is seen with a delay, since the rate grows while the loss responds); the
    lower end is a quarter of the upper end (Smith's base_lr ≈ max_lr/3–4).
    The model's weights are restored afterwards. ``optimizer_factory(params, lr)`` builds the
    optimizer (default: plain SGD).
    """
    lr_min = check_real("lr_min", lr_min, low=0.0, low_open=True)
    lr_max = check_real("lr_max", lr_max, low=lr_min, low_open=True)
    steps = check_int("steps", steps, low=2)
    check_real("smoothing", smoothing, low=0.0, high=1.0, high_open=True)
    check_real("divergence_factor", divergence_factor, low=1.0, low_open=True)
    if optimizer_factory is None:
        from .optimizers import SGD
        optimizer_factory = SGD
    x, y = data
    saved = copy.deepcopy(model.state_dict())
    was_training = model.training
    optimizer = optimizer_factory(model.parameters(), lr=lr_min)
    lrs, losses, smoothed = [], [], []
    average, best, diverged = 0.0, math.inf, False
    batches = iter(())
    model.train()
    try:
        for i in range(steps):
            lr = lr_min * (lr_max / lr_min) ** (i / (steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            index = next(batches, None)
            if index is None:
                batches = iter(minibatches(len(y), batch_size, generator))
                index = next(batches)
            loss = loss_fn(model(x[index]), y[index])
            value = loss.item()
            if not math.isfinite(value):
                diverged = True
                break
            average = smoothing * average + (1 - smoothing) * value
            smooth = average / (1 - smoothing ** (i + 1))
            lrs.append(lr)
            losses.append(value)
            smoothed.append(smooth)
            best = min(best, smooth)
            if smooth > divergence_factor * best:
                diverged = True
                break
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        model.load_state_dict(saved)
        model.train(was_training)
    if not lrs:
        raise ValueError(f"the loss was not finite at lr_min={lr_min}: lower lr_min")
    smoothed_arr = np.asarray(smoothed)
    best_lr = lrs[int(np.argmin(smoothed_arr))]
    high = best_lr / 10
    return LRRangeResult(np.asarray(lrs), np.asarray(losses), smoothed_arr, diverged, best_lr,
                         (high / 4, high))


@dataclass
class GradCheckResult:
    """Result of :func:`gradient_check`: the worst relative error and one per input."""

    max_relative_error: float
    relative_errors: list[float]
    passed: bool
    tolerance: float


def relative_error(analytic: torch.Tensor, numeric: torch.Tensor) -> torch.Tensor:
    r"""cs231n's elementwise relative error $|a-n| / \max(|a|, |n|)$ (0 where both are 0)."""
    scale = torch.maximum(analytic.abs(), numeric.abs())
    diff = (analytic - numeric).abs()
    return torch.where(scale > 0, diff / torch.where(scale > 0, scale, 1), torch.zeros_like(diff))


def gradient_check(fn: Callable, inputs: Sequence[torch.Tensor], analytic: Callable | None = None,
                   *, eps: float = 1e-6, tolerance: float = 1e-6, max_checks: int | None = None,
                   seed: int = 0) -> GradCheckResult:
    r"""Compare a gradient with centered finite differences, in float64.

    $$\frac{\partial f}{\partial x_i} \approx \frac{f(x + \varepsilon e_i) - f(x - \varepsilon e_i)}{2\varepsilon}$$

    ``fn(*inputs)`` may return any tensor; a fixed random projection ``(fn(*inputs) * v).sum()``
    turns it into a scalar, so every output element is checked. The analytic gradient is
    ``analytic(*inputs, v)`` if given (a hand-written backward pass that receives the upstream
    gradient ``v`` and returns one gradient per input), otherwise autograd through ``fn`` (which
    runs the backward of any custom :class:`torch.autograd.Function` inside it). The error is
    cs231n's relative error; ``max_checks`` samples that many entries per input (all by
    default). cs231n's guide: above 1e-2 the gradient is probably wrong, below 1e-7 (1e-4 with
    kinks such as ReLU) it is right.
    """
    check_real("eps", eps, low=0.0, low_open=True)
    check_real("tolerance", tolerance, low=0.0, low_open=True)
    if max_checks is not None:
        check_int("max_checks", max_checks, low=1)
    inputs = [torch.as_tensor(t).detach().to(torch.float64).clone() for t in inputs]
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        out = fn(*inputs)
    upstream = torch.randn(out.shape, generator=rng, dtype=torch.float64)

    def scalar(*args):
        return (fn(*args) * upstream).sum()

    if analytic is None:
        leaves = [t.clone().requires_grad_(True) for t in inputs]
        grads = torch.autograd.grad(scalar(*leaves), leaves, allow_unused=True)
        grads = [torch.zeros_like(t) if g is None else g for g, t in zip(grads, inputs)]
    else:
        with torch.no_grad():
            grads = analytic(*inputs, upstream)
        grads = [torch.as_tensor(g, dtype=torch.float64) for g in grads]
    if len(grads) != len(inputs):
        raise ValueError(f"analytic returned {len(grads)} gradients for {len(inputs)} inputs")
    errors = []
    with torch.no_grad():
        for k, (x, g) in enumerate(zip(inputs, grads)):
            if g.shape != x.shape:
                raise ValueError(f"gradient {k} has shape {tuple(g.shape)}, input has {tuple(x.shape)}")
            flat = x.view(-1)
            positions = torch.arange(flat.numel())
            if max_checks is not None and flat.numel() > max_checks:
                positions = torch.randperm(flat.numel(), generator=rng)[:max_checks]
            worst = 0.0
            for i in positions.tolist():
                saved = flat[i].item()
                flat[i] = saved + eps
                plus = scalar(*inputs).item()
                flat[i] = saved - eps
                minus = scalar(*inputs).item()
                flat[i] = saved
                numeric = torch.tensor((plus - minus) / (2 * eps), dtype=torch.float64)
                worst = max(worst, relative_error(g.reshape(-1)[i], numeric).item())
            errors.append(worst)
    largest = max(errors) if errors else 0.0
    return GradCheckResult(largest, errors, largest <= tolerance, tolerance)


@dataclass
class OverfitResult:
    """Losses of :func:`overfit_one_batch` and whether the last one is below ``threshold``."""

    losses: list[float]
    reached: bool
    threshold: float

    @property
    def final_loss(self) -> float:
        return self.losses[-1]


def overfit_one_batch(model: nn.Module, optimizer: torch.optim.Optimizer,
                      batch: tuple[torch.Tensor, torch.Tensor], steps: int = 200, *,
                      loss_fn: Callable = F.cross_entropy, threshold: float = 0.01) -> OverfitResult:
    """Karpathy's first sanity check: a network must drive the loss on one small batch to ~0.

    Takes ``steps`` optimizer steps on the same ``batch`` (in train mode) and reports the loss
    curve and whether the last loss fell below ``threshold``. If it cannot, there is a bug
    (data, loss, model or optimizer), and no amount of tuning will fix it. The model is
    modified in place (use a fresh one afterwards).
    """
    check_int("steps", steps, low=1)
    check_real("threshold", threshold, low=0.0, low_open=True)
    x, y = batch
    model.train()
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        losses.append(loss_fn(model(x), y).item())
    return OverfitResult(losses, math.isfinite(losses[-1]) and losses[-1] < threshold, threshold)


@dataclass(frozen=True)
class ValidationNoise:
    """Standard error of a validation accuracy and its 95% Wilson score interval."""

    n_val: int
    accuracy: float
    standard_error: float
    low: float
    high: float

    def __str__(self):
        return (f"accuracy {self.accuracy:.1%} on {self.n_val} examples: standard error "
                f"{self.standard_error:.1%}, 95% interval [{self.low:.1%}, {self.high:.1%}]")


def validation_noise(n_val: int, accuracy: float, z: float = 1.96) -> ValidationNoise:
    r"""How much a validation accuracy measured on ``n_val`` examples can be trusted.

    Each example is right with probability $p$, independently, so the measured accuracy has
    standard error $\mathrm{SE} = \sqrt{p(1-p)/n}$. Two models whose accuracies differ by less
    than about two standard errors cannot be told apart by this validation set. The 95%
    interval is Wilson's score interval,

    $$\frac{p + \frac{z^2}{2n} \pm z\sqrt{\frac{p(1-p)}{n} + \frac{z^2}{4n^2}}}{1 + \frac{z^2}{n}},$$

    which is $p \pm z\,\mathrm{SE}$ for large $n$ but, unlike it, does not collapse to a
    single point when $p$ is 0 or 1 (20 out of 20 correct does not prove 100% accuracy).
    """
    n_val = check_int("n_val", n_val, low=1)
    p = check_real("accuracy", accuracy, low=0.0, high=1.0)
    check_real("z", z, low=0.0, low_open=True)
    se = math.sqrt(p * (1 - p) / n_val)
    centre = (p + z * z / (2 * n_val)) / (1 + z * z / n_val)
    half = z * math.sqrt(p * (1 - p) / n_val + z * z / (4 * n_val ** 2)) / (1 + z * z / n_val)
    return ValidationNoise(n_val, p, se, max(0.0, centre - half), min(1.0, centre + half))


# ----------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------
_FORMAT = "lecture_code.checkpoint/1"


def save_checkpoint(path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    generator: torch.Generator | None = None, epoch: int = 0, *,
                    history: History | None = None, extra: dict | None = None) -> None:
    """Save everything a run needs to continue exactly where it stopped.

    The model's and optimizer's state dicts, the state of the data-order ``generator``, the
    global random states (torch, NumPy, Python: dropout masks and initializations come from
    there), the epoch, and optionally the :class:`~lecture_code.training.History` and a dict of
    ``extra`` plain values. Training epoch by epoch with the same generator object and resuming
    from this file gives bit-identical weights.
    """
    check_int("epoch", epoch, low=0)
    np_state = np.random.get_state()
    state = {
        "format": _FORMAT,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "generator": None if generator is None else generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": {"keys": torch.from_numpy(np_state[1].astype(np.int64)),
                      "pos": int(np_state[2]), "has_gauss": int(np_state[3]),
                      "cached": float(np_state[4])},
        "python_rng": random.getstate(),
        "history": None if history is None else {"step_loss": list(history.step_loss),
                                                 "epochs": list(history.epochs)},
        "extra": extra or {},
    }
    directory = os.path.dirname(os.fspath(path))
    if directory and not os.path.isdir(directory):
        raise ValueError(f"cannot save checkpoint {os.fspath(path)!r}: "
                         f"the directory {directory!r} does not exist")
    tmp = os.fspath(path) + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)  # never leave a half-written checkpoint behind


def load_checkpoint(path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    generator: torch.Generator | None = None) -> dict:
    """Restore what :func:`save_checkpoint` saved; returns ``{"epoch", "history", "extra"}``.

    Raises :class:`ValueError` naming the path if the file is missing, unreadable, or not a
    checkpoint of this module, or if it does not fit ``model``/``optimizer``.
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise ValueError(f"checkpoint {name!r} does not exist")
    try:
        state = torch.load(name, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, corrupt or not a torch file
        raise ValueError(f"checkpoint {name!r} is corrupt or not a checkpoint: "
                         f"{type(error).__name__}: {str(error)[:200]}") from error
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise ValueError(f"checkpoint {name!r} was not written by save_checkpoint")
    try:
        model.load_state_dict(state["model"])
        if optimizer is not None:
            if state["optimizer"] is None:
                raise ValueError("it holds no optimizer state")
            optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as error:
        raise ValueError(f"checkpoint {name!r} does not fit this model/optimizer: {error}") from error
    if generator is not None:
        if state["generator"] is None:
            raise ValueError(f"checkpoint {name!r} holds no data-order generator state")
        generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    np_state = state["numpy_rng"]
    np.random.set_state(("MT19937", np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["cached"]))
    random.setstate(_as_tuples(state["python_rng"]))
    history = None
    if state["history"] is not None:
        history = History(list(state["history"]["step_loss"]), list(state["history"]["epochs"]))
    return {"epoch": state["epoch"], "history": history, "extra": state["extra"]}


def _as_tuples(value):
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuples(v) for v in value)
    return value


# ----------------------------------------------------------------------------------------
# Reports
# ----------------------------------------------------------------------------------------
def _axes(ax, ncols=1, figsize=None):
    import matplotlib.pyplot as plt
    if ax is not None:
        return ax
    # at most 8 inches wide: the book's text column, where a wider figure would be shrunk
    _, ax = plt.subplots(1, ncols, figsize=figsize or (min(4.0 * ncols + 1, 8.0), 3.6),
                         layout="constrained")
    return ax


def plot_curves(history: History, axes=None, title: str = ""):
    """Training vs validation loss and accuracy per epoch (two panels); returns the axes."""
    from .plotting import color_of
    axes = _axes(axes, 2)
    epochs = history["epoch"]
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for i, split in enumerate(("train", "val")):
            key = f"{split}_{metric}"
            if history.epochs and key in history.epochs[0]:
                ax.plot(epochs, history[key], "o-", ms=3, color=color_of(i),
                        label="training" if split == "train" else "validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss (nats)" if metric == "loss" else "accuracy (fraction)")
        ax.legend()
        ax.set_title(f"{title}: {metric}" if title else metric)
    return axes


def plot_update_ratios(monitor: UpdateRatioMonitor, ax=None, title: str = "update / weight ratio"):
    """Each layer's update/weight ratio over the steps, log scale, with the 1e-3 guide line."""
    from .plotting import color_of
    ax = _axes(ax)
    for i, (name, ratios) in enumerate(monitor.ratios.items()):
        ax.plot(monitor.steps, ratios, color=color_of(i), label=name, lw=1)
    ax.axhline(1e-3, color="k", ls="--", lw=1, label="rule of thumb 1e-3")
    ax.set(yscale="log", xlabel="step", ylabel=r"$\|\Delta W\| / \|W\|$", title=title)
    ax.legend(fontsize=8)
    return ax


def plot_histograms(monitor: HistogramMonitor, step: int | None = None, kind: str = "activations",
                    ax=None, bins: int = 50, title: str | None = None):
    """Histograms of each layer's activations (or weight gradients) at ``step`` (default last)."""
    from .plotting import color_of
    check_choice("kind", kind, ("activations", "gradients"))
    records = monitor.activations if kind == "activations" else monitor.gradients
    if not records:
        raise ValueError("the monitor recorded nothing: was it passed to train()?")
    step = max(records) if step is None else step
    ax = _axes(ax)
    for i, (name, values) in enumerate(records[step].items()):
        values = values[torch.isfinite(values)].numpy()
        label = f"{name} ({monitor.kinds[name]})" if name in monitor.kinds else name
        if values.size:
            ax.hist(values, bins=bins, histtype="step", color=color_of(i), label=label, density=True)
    ax.set(yscale="log", xlabel="activation value" if kind == "activations" else "gradient value",
           ylabel="density", title=title or f"{kind} per layer at step {step}")
    ax.legend(fontsize=8)
    return ax


def plot_dead_relus(monitor: DeadReLUMonitor, ax=None, title: str = "dead ReLU units"):
    """The fraction of dead units of each ReLU layer over the steps."""
    from .plotting import color_of
    ax = _axes(ax)
    for i, (name, fractions) in enumerate(monitor.fractions.items()):
        ax.plot(monitor.steps, fractions, color=color_of(i), label=f"ReLU '{name}'")
    ax.set(ylim=(-0.02, 1.02), xlabel="step", ylabel="fraction of units zero on the whole batch",
           title=title)
    ax.legend(fontsize=8)
    return ax


def plot_grad_norms(monitor: GradNormMonitor, ax=None, title: str = "gradient norm", label=None):
    """The global gradient norm over the steps (log scale)."""
    ax = _axes(ax)
    ax.plot(monitor.steps, monitor.total, lw=1, label=label or "global norm")
    ax.set(yscale="log", xlabel="step", ylabel=r"$\|\nabla_\theta L\|_2$", title=title)
    ax.legend(fontsize=8)
    return ax


def plot_lr_range(result: LRRangeResult, ax=None, title: str = "learning-rate range test"):
    """Loss (raw and smoothed) against the learning rate, with the suggested range shaded."""
    ax = _axes(ax)
    ax.plot(result.lrs, result.losses, lw=0.8, alpha=0.5, label="mini-batch loss")
    ax.plot(result.lrs, result.smoothed, lw=2, label="smoothed loss")
    ax.axvspan(*result.suggested, color="tab:green", alpha=0.2, label="suggested range")
    ax.axvline(result.best_lr, color="k", ls=":", label="lowest smoothed loss")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss (nats)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def report(history: History | None = None, *monitors) -> str:
    """A compact text summary: the last epoch's metrics and one line per monitor."""
    lines = []
    if history is not None and history.epochs:
        last = history.epochs[-1]
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k not in ("epoch", "step"))
        lines.append(f"epoch {last['epoch']} (step {last['step']}): {metrics}")
        if history.step_loss:
            lines.append(f"first mini-batch loss {history.step_loss[0]:.4g}")
        if "val_accuracy" in last:
            gap = last["train_accuracy"] - last["val_accuracy"]
            lines.append(f"train - val accuracy gap {gap:+.3f}")
    for monitor in monitors:
        lines.append(monitor.summary())
    return "\n".join(lines)
