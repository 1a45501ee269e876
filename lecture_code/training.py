"""The training loop of the lecture, written once and used by every chapter.

Mini-batch SGD, as on the slides::

    loop:
        1. sample a mini-batch of data
        2. forward it through the network, get the loss
        3. backpropagate to compute the gradients
        4. update the parameters with the gradient

:func:`train` is exactly that loop plus bookkeeping: per-step losses, per-epoch training and
validation metrics, a progress bar, callbacks (the babysitting chapter plugs its monitors in
here) and a readable error the moment the loss stops being a finite number. Whatever stops a
run, nothing it recorded is lost: the exception carries the partial :class:`History` as
``error.history``, and every callback's :meth:`Callback.on_train_end` runs (hook-based monitors
detach their hooks there, as torch.optim ties clean-up to registration).
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_int


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the message says where and with which learning rate.

    :func:`train` attaches ``history``, what the run recorded until then (every finite
    mini-batch loss and the metrics of the finished epochs), as it does to any exception that
    stops a run, so a diverged run still has its curve.
    """

    def __init__(self, step: int, epoch: int, loss: float, lr):
        self.step, self.epoch, self.loss, self.lr = step, epoch, loss, lr
        super().__init__(
            f"training diverged: the loss is {loss} at step {step} (epoch {epoch}) with learning "
            f"rate {lr}. Lower the learning rate, check the data for NaNs, or look at the "
            f"babysitting chapter's NaN guard to find the first layer that went non-finite.")


class Callback:
    """Hooks into :func:`train`; override the ones you need (all default to doing nothing)."""

    def on_train_begin(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None: ...

    def after_backward(self, step: int, model: nn.Module) -> None:
        """Gradients are ready, the update has not been applied yet."""

    def on_step_end(self, step: int, loss: float, model: nn.Module,
                    optimizer: torch.optim.Optimizer) -> None: ...

    def on_epoch_end(self, epoch: int, metrics: dict, model: nn.Module) -> None: ...

    def on_train_end(self, model: nn.Module) -> None:
        """The run is over, finished or stopped by an exception (called from a ``finally``)."""


@dataclass
class History:
    """What a run recorded: the loss of every mini-batch and the metrics of every epoch."""

    step_loss: list[float] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)

    def __getitem__(self, name: str) -> np.ndarray:
        """``history["val_accuracy"]``: one metric over the epochs, as an array."""
        if not self.epochs or name not in self.epochs[0]:
            known = sorted(self.epochs[0]) if self.epochs else []
            raise KeyError(f"no metric {name!r} in this history; it has {known}")
        return np.array([row[name] for row in self.epochs])


def minibatches(n: int, batch_size: int | None, generator: torch.Generator | None = None,
                shuffle: bool = True, drop_last: bool = False) -> Iterator[torch.Tensor]:
    """Index tensors of one epoch: a random permutation of ``range(n)`` cut into mini-batches.

    ``batch_size=None`` means full-batch gradient descent. The last batch may be smaller, unless
    ``drop_last`` drops it (batch norm, for one, dislikes a last batch of a few examples).
    """
    check_int("n", n, low=1)
    if batch_size is None:
        batch_size = n
    check_int("batch_size", batch_size, low=1)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for batch in order.split(batch_size):
        if drop_last and len(batch) < batch_size:
            return
        yield batch


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of rows whose largest logit is the target class."""
    return (logits.argmax(dim=1) == target).float().mean().item()


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
             loss_fn: Callable = F.cross_entropy, batch_size: int = 1024) -> dict:
    """Loss and accuracy of ``model`` on ``(x, y)`` in eval mode (the mode is restored after)."""
    was_training = model.training
    model.eval()
    try:
        total_loss, correct = 0.0, 0
        for index in torch.arange(len(y)).split(batch_size):
            logits = model(x[index])
            total_loss += loss_fn(logits, y[index], reduction="sum").item()
            correct += (logits.argmax(dim=1) == y[index]).sum().item()
    finally:
        model.train(was_training)
    return {"loss": total_loss / len(y), "accuracy": correct / len(y)}


def _learning_rates(optimizer: torch.optim.Optimizer):
    rates = [group.get("lr") for group in optimizer.param_groups]
    return rates[0] if len(set(map(float, rates))) == 1 else rates


def train(model: nn.Module, optimizer: torch.optim.Optimizer,
          train_data: tuple[torch.Tensor, torch.Tensor], *, epochs: int | None = 1,
          batch_size: int | None = 32, val_data: tuple[torch.Tensor, torch.Tensor] | None = None,
          loss_fn: Callable = F.cross_entropy, generator: torch.Generator | None = None,
          callbacks: Sequence[Callback] = (), quiet: bool = False,
          max_steps: int | None = None, drop_last: bool = False, shuffle: bool = True,
          epoch_metrics: bool = True) -> History:
    """Train ``model`` with mini-batch SGD-style updates from ``optimizer``.

    Each epoch visits every training example once in a random order drawn from ``generator``
    (in order with ``shuffle=False``). After each epoch the training and (if given) validation
    loss and accuracy are evaluated in eval mode; ``epoch_metrics=False`` skips that evaluation
    (the epoch's row then holds only ``epoch`` and ``step``; for a regression loss, or a fixed
    budget of steps where only the end counts). ``drop_last`` skips each epoch's last, smaller
    mini-batch. ``max_steps`` stops after that many updates; with ``epochs=None`` the epochs run
    until it is reached.

    Raises :class:`TrainingDiverged` as soon as a mini-batch loss is NaN or infinite. Any
    exception that stops the run (that one, a callback's, a ``KeyboardInterrupt``) carries the
    partial :class:`History` as ``error.history``, and :meth:`Callback.on_train_end` is called
    on every callback however the run ends.
    """
    if epochs is None:
        if max_steps is None:
            raise ValueError("epochs=None needs max_steps: without either the run never ends")
    else:
        check_int("epochs", epochs, low=1)
    if max_steps is not None:
        check_int("max_steps", max_steps, low=1)
    x, y = train_data
    if len(x) != len(y):
        raise ValueError(f"train_data has {len(x)} inputs but {len(y)} targets")
    from tqdm.auto import tqdm

    history = History()
    try:
        for callback in callbacks:
            callback.on_train_begin(model, optimizer)
        _loop(model, optimizer, x, y, history, epochs=epochs, batch_size=batch_size,
              val_data=val_data, loss_fn=loss_fn, generator=generator, callbacks=callbacks,
              bar=tqdm(itertools.count(1) if epochs is None else range(1, epochs + 1),
                       desc="epochs", disable=quiet, leave=False),
              max_steps=max_steps, drop_last=drop_last, shuffle=shuffle,
              epoch_metrics=epoch_metrics)
    except BaseException as error:
        error.history = history  # the run's record travels with whatever stopped it
        raise
    finally:
        for callback in callbacks:
            callback.on_train_end(model)
    return history


def _loop(model, optimizer, x, y, history: History, *, epochs, batch_size, val_data, loss_fn,
          generator, callbacks, bar, max_steps, drop_last, shuffle, epoch_metrics) -> None:
    """The body of :func:`train`: the four steps of the slide, repeated, recorded in ``history``."""
    step = 0
    for epoch in bar:
        model.train()
        batches = minibatches(len(y), batch_size, generator, shuffle=shuffle, drop_last=drop_last)
        for index in batches:                                     # 1. sample a mini-batch
            loss = loss_fn(model(x[index]), y[index])             # 2. forward: the loss
            step += 1
            if not torch.isfinite(loss):
                raise TrainingDiverged(step, epoch, loss.item(), _learning_rates(optimizer))
            optimizer.zero_grad()
            loss.backward()                                       # 3. backward: the gradients
            for callback in callbacks:
                callback.after_backward(step, model)
            optimizer.step()                                      # 4. update the parameters
            history.step_loss.append(loss.item())
            for callback in callbacks:
                callback.on_step_end(step, history.step_loss[-1], model, optimizer)
            if max_steps is not None and step >= max_steps:
                break
        metrics = {"epoch": epoch, "step": step}
        if epoch_metrics:
            metrics.update({f"train_{k}": v for k, v in evaluate(model, x, y, loss_fn).items()})
            if val_data is not None:
                metrics.update({f"val_{k}": v
                                for k, v in evaluate(model, *val_data, loss_fn).items()})
            bar.set_postfix(loss=f"{metrics['train_loss']:.3g}")
        history.epochs.append(metrics)
        for callback in callbacks:
            callback.on_epoch_end(epoch, metrics, model)
        if max_steps is not None and step >= max_steps:
            break


@dataclass
class Run:
    """One seeded run of :func:`seeded_run`: the trained model, its optimizer, what was recorded."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    history: History


def seeded_run(make_model: Callable[[], nn.Module], optimizer_class: type[torch.optim.Optimizer],
               train_data: tuple[torch.Tensor, torch.Tensor], *, seed: int = 0,
               epochs: int | None = 1, batch_size: int | None = 32,
               val_data: tuple[torch.Tensor, torch.Tensor] | None = None,
               loss_fn: Callable = F.cross_entropy, callbacks: Sequence[Callback] = (),
               max_steps: int | None = None, drop_last: bool = False,
               **optimizer_kwargs) -> Run:
    """One reproducible experiment: ``seed`` fixes the initialisation and the mini-batch order.

    ``torch.manual_seed(seed)``, then ``model = make_model()``, ``optimizer =
    optimizer_class(model.parameters(), **optimizer_kwargs)`` (as with ``torch.optim``:
    ``seeded_run(make, SGD, data, lr=0.1, momentum=0.9)``) and :func:`train` (quiet) with the
    mini-batch order drawn from a generator seeded with ``seed``. Two calls with the same
    arguments give identical runs; runs of different optimizers with one seed start from the
    same weights and see the same mini-batches. If the run stops with an exception, the
    exception carries ``error.history`` (as from :func:`train`) and ``error.run``.
    """
    check_int("seed", seed, low=0)
    if isinstance(make_model, nn.Module) or not callable(make_model):
        raise TypeError(f"make_model must be a function returning a model, got "
                        f"{type(make_model).__name__}")
    torch.manual_seed(seed)
    model = make_model()
    optimizer = optimizer_class(model.parameters(), **optimizer_kwargs)
    try:
        history = train(model, optimizer, train_data, epochs=epochs, batch_size=batch_size,
                        val_data=val_data, loss_fn=loss_fn, callbacks=callbacks, quiet=True,
                        generator=torch.Generator().manual_seed(seed), max_steps=max_steps,
                        drop_last=drop_last)
    except BaseException as error:
        error.run = Run(model, optimizer, error.history)
        raise
    return Run(model, optimizer, history)


def seeded_runs(make_model: Callable[[], nn.Module], optimizer_class: type[torch.optim.Optimizer],
                train_data: tuple[torch.Tensor, torch.Tensor], *,
                seeds: Sequence[int] = (0, 1, 2), **kwargs) -> list[Run]:
    """:func:`seeded_run` once per seed (keyword arguments as there), one :class:`Run` each."""
    seeds = [check_int(f"seeds[{i}]", s, low=0) for i, s in enumerate(seeds)]
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    return [seeded_run(make_model, optimizer_class, train_data, seed=seed, **kwargs)
            for seed in seeds]


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """A multilayer perceptron with the given layer widths, e.g. ``mlp([64, 128, 10])``."""
    if len(sizes) < 2:
        raise ValueError(f"sizes={list(sizes)!r} needs at least an input and an output width")
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)
