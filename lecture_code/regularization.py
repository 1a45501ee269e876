"""Regularization: weight penalties, weight decay, dropout and DropConnect.

The regularized training objective adds a penalty on the weights to the data loss,

.. math::

    L(W) = \\frac{1}{N} \\sum_{i=1}^{N} L_i\\big(f(x_i, W), y_i\\big) + \\lambda R(W),

where the data loss asks the model to fit the training set and :math:`\\lambda R(W)` keeps it
from fitting it *too* well. This module provides

* the penalties :func:`l2_penalty`, :func:`l1_penalty`, :func:`elastic_net_penalty`, the set of
  parameters they apply to (:func:`penalized_parameters`) and a loss wrapper
  (:func:`regularized_loss`) that plugs them into :func:`lecture_code.training.train`;
* :func:`l2_versus_weight_decay`, which shows with numbers that an L2 penalty and weight decay
  are the same thing for SGD and different things for Adam (Adam + L2 versus AdamW,
  Loshchilov & Hutter 2019);
* a 2-D example of "regularization adds curvature" (:class:`QuadraticValley`,
  :func:`penalized_surface` on the surfaces of :mod:`lecture_code.surfaces`);
* :class:`Dropout` (Srivastava et al. 2014) in its inverted and original forms and
  :class:`DropConnect` (Wan et al. 2013), plus :func:`regularized_mlp` to build models with them;
* :func:`lambda_sweep`, the experiment behind the λ chapter and its widget.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_bool, check_choice, check_int, check_real
from .training import Callback, evaluate, mlp, seeded_run, train

__all__ = [
    "penalized_parameters", "l2_penalty", "l1_penalty", "elastic_net_penalty", "PENALTIES",
    "regularized_loss", "RegularizedLoss", "l2_versus_weight_decay", "WeightDecayComparison",
    "QuadraticValley", "penalized_surface", "Dropout", "DropConnect", "regularized_mlp",
    "lambda_sweep", "LambdaSweep", "fraction_near_zero", "holdout", "compare", "Runs", "mc_predict",
]


# --------------------------------------------------------------------------------------------
# Which parameters are penalized
# --------------------------------------------------------------------------------------------

#: Layers whose ``weight`` is penalized by default: fully connected and convolutional layers
#: (``_ConvNd`` covers Conv1d/2d/3d and the transposed convolutions).
WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Bilinear, nn.modules.conv._ConvNd)


def penalized_parameters(model: nn.Module, *, include_biases: bool = False) -> list[nn.Parameter]:
    """The parameters a weight penalty applies to: the weights of Linear and Conv layers.

    Biases are left out by default (they shift a unit's output but do not scale any input, so
    shrinking them does not make the function smoother), and so are the scale and shift of
    normalization layers (BatchNorm, LayerNorm, ...), which are not weights of a Linear/Conv
    layer. ``include_biases=True`` adds the biases of the same layers. A :class:`DropConnect`
    layer's weight is found through the ``nn.Linear`` it wraps. Each parameter appears once,
    even if a layer is shared.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_bool("include_biases", include_biases)
    chosen: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        if not isinstance(module, WEIGHT_LAYERS):
            continue
        names = ("weight", "bias") if include_biases else ("weight",)
        for name in names:
            param = getattr(module, name, None)
            if isinstance(param, nn.Parameter) and id(param) not in seen:
                seen.add(id(param))
                chosen.append(param)
    return chosen


def _as_tensors(params) -> list[torch.Tensor]:
    if isinstance(params, torch.Tensor):
        return [params]
    if isinstance(params, nn.Module):
        raise TypeError("pass the parameters to penalize, e.g. penalized_parameters(model), "
                        "not the module itself")
    if not isinstance(params, Iterable):
        raise TypeError(f"params must be a tensor or an iterable of tensors, got "
                        f"{type(params).__name__}")
    tensors = list(params)
    if not tensors:
        raise ValueError("params is empty: there is nothing to penalize")
    for i, tensor in enumerate(tensors):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"params[{i}] must be a tensor, got {type(tensor).__name__}")
    return tensors


# --------------------------------------------------------------------------------------------
# The penalties R(W)
# --------------------------------------------------------------------------------------------

def l2_penalty(params) -> torch.Tensor:
    """L2 regularization, :math:`R(W) = \\sum_k \\sum_l W_{k,l}^2`, summed over all ``params``.

    Note: no factor 1/2. The gradient is therefore :math:`2W`, which is why an L2 penalty of
    strength λ equals SGD weight decay of strength 2λ (:func:`l2_versus_weight_decay`).
    ``params`` is one tensor or an iterable of tensors (e.g. :func:`penalized_parameters`).
    """
    return sum(tensor.pow(2).sum() for tensor in _as_tensors(params))


def l1_penalty(params) -> torch.Tensor:
    """L1 regularization, :math:`R(W) = \\sum_k \\sum_l |W_{k,l}|`, summed over all ``params``.

    Its (sub)gradient is :math:`\\operatorname{sign}(W)`: a constant pull towards zero whatever
    the size of the weight, which drives small weights to (near) zero and makes ``W`` sparse.
    At exactly 0 autograd uses the subgradient 0.
    """
    return sum(tensor.abs().sum() for tensor in _as_tensors(params))


def elastic_net_penalty(params, beta: float) -> torch.Tensor:
    """Elastic net (L1 + L2), :math:`R(W) = \\sum_k \\sum_l \\beta W_{k,l}^2 + |W_{k,l}|`.

    ``beta >= 0`` weighs the L2 part against the L1 part; ``beta=0`` is the L1 penalty.
    """
    check_real("beta", beta, low=0.0)
    tensors = _as_tensors(params)
    return sum((beta * tensor.pow(2) + tensor.abs()).sum() for tensor in tensors)


#: The penalties by name, for :func:`regularized_loss` and :func:`lambda_sweep`.
PENALTIES: dict[str, Callable] = {"l2": l2_penalty, "l1": l1_penalty}


# --------------------------------------------------------------------------------------------
# Plugging a penalty into the training loop
# --------------------------------------------------------------------------------------------

class RegularizedLoss:
    """A loss function ``(logits, target, reduction="mean") -> loss`` that adds λR(W).

    Built by :func:`regularized_loss`; see there. ``penalty_value()`` returns the current
    λR(W) as a float (for logging).
    """

    def __init__(self, loss_fn: Callable, params: list[torch.Tensor], penalty: Callable,
                 lam: float, name: str):
        self.loss_fn, self.params, self.penalty, self.lam, self.name = (
            loss_fn, params, penalty, lam, name)

    def __call__(self, logits: torch.Tensor, target: torch.Tensor,
                 reduction: str = "mean") -> torch.Tensor:
        data_loss = self.loss_fn(logits, target, reduction=reduction)
        if reduction != "mean" or self.lam == 0.0:
            # evaluate() sums per-example losses over batches and divides by N: it gets the
            # data loss only, so that curves for different λ are on the same scale.
            return data_loss
        return data_loss + self.lam * self.penalty(self.params)

    @torch.no_grad()
    def penalty_value(self) -> float:
        """λR(W) at the current weights."""
        return float(self.lam * self.penalty(self.params))

    def __repr__(self) -> str:
        return f"RegularizedLoss({self.name}, lam={self.lam:g}, {len(self.params)} tensors)"


def regularized_loss(loss_fn: Callable, model: nn.Module, penalty: Callable | str,
                     lam: float, params: Iterable[torch.Tensor] | None = None) -> RegularizedLoss:
    """Wrap ``loss_fn`` into data loss + λR(W), usable as ``loss_fn=`` of ``train``.

    ``penalty`` is a function of a list of tensors (:func:`l2_penalty`, :func:`l1_penalty`,
    ``functools.partial(elastic_net_penalty, beta=...)``) or the name ``"l2"``/``"l1"``;
    ``params`` defaults to :func:`penalized_parameters` of ``model`` (weights, not biases or
    normalization parameters).

    Training calls the loss with the default ``reduction="mean"`` and gets

    .. math:: \\frac{1}{B} \\sum_{i \\in \\text{batch}} L_i + \\lambda R(W),

    so the per-step losses recorded by ``train`` include the penalty. With any other
    reduction -- ``evaluate()`` asks for ``reduction="sum"`` -- the wrapper returns the **data
    loss only**: the ``train_loss``/``val_loss`` of a History are then comparable across λ
    (and a penalty summed once per evaluation batch would be meaningless anyway). Use
    ``penalty_value()`` to log λR(W).
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(penalty, str):
        check_choice("penalty", penalty, PENALTIES)
        name, penalty = penalty, PENALTIES[penalty]
    elif callable(penalty):
        name = getattr(penalty, "__name__", getattr(getattr(penalty, "func", None), "__name__",
                                                     repr(penalty)))
    else:
        raise TypeError(f"penalty must be callable or one of {sorted(PENALTIES)}, got "
                        f"{type(penalty).__name__}")
    lam = float(check_real("lam", lam, low=0.0))
    chosen = _as_tensors(penalized_parameters(model) if params is None else params)
    return RegularizedLoss(loss_fn, chosen, penalty, lam, name)


# --------------------------------------------------------------------------------------------
# L2 penalty versus (decoupled) weight decay
# --------------------------------------------------------------------------------------------

def _optimizer_classes():
    """The book's SGD, Adam and AdamW (same math as ``torch.optim``'s)."""
    from .optimizers import SGD, Adam, AdamW

    return SGD, Adam, AdamW


@dataclass
class WeightDecayComparison:
    """Final parameters of each run of :func:`l2_versus_weight_decay` and their differences."""

    lam: float
    lr: float
    steps: int
    final: dict[str, torch.Tensor]
    differences: dict[str, float] = field(default_factory=dict)

    def table(self) -> str:
        """The differences as aligned text lines."""
        width = max(map(len, self.differences))
        return "\n".join(f"{name:<{width}}  max |Δθ| = {value:.3e}"
                         for name, value in self.differences.items())


def _regression_problem(seed: int, n: int = 64, d: int = 5, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    # columns of very different scales: Adam's per-coordinate normalisation then matters
    scales = torch.logspace(-1, 0.5, d, dtype=dtype)
    x = torch.randn(n, d, generator=generator, dtype=dtype) * scales
    w_true = torch.randn(d, generator=generator, dtype=dtype)
    y = x @ w_true + 0.1 * torch.randn(n, generator=generator, dtype=dtype)
    w0 = torch.randn(d, generator=generator, dtype=dtype)
    return x, y, w0


class _LinearRegression(nn.Module):
    """``x @ w`` with the weights ``w`` as the one parameter (no bias)."""

    def __init__(self, w0: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w0.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w


def _run_optimizer(optimizer_cls, x, y, w0, *, lam_penalty: float, steps: int,
                   **hyper) -> torch.Tensor:
    """Full-batch least squares (+ λ·L2 penalty) from ``w0``, ``steps`` updates of the book's loop."""
    model = _LinearRegression(w0)

    def loss_fn(prediction, target):
        loss = (prediction - target).pow(2).mean()
        return loss + lam_penalty * l2_penalty([model.w]) if lam_penalty else loss

    train(model, optimizer_cls([model.w], **hyper), (x, y), epochs=steps, batch_size=None,
          shuffle=False, loss_fn=loss_fn, quiet=True, epoch_metrics=False)
    return model.w.detach()


def l2_versus_weight_decay(lam: float = 0.05, lr: float = 0.01, steps: int = 50, seed: int = 0,
                           dtype: torch.dtype = torch.float64) -> WeightDecayComparison:
    """Train the same least-squares model with an L2 penalty and with weight decay; compare.

    For plain SGD an L2 penalty λΣW² adds its gradient 2λW to the data gradient, so

    .. math:: \\theta \\leftarrow \\theta - \\eta(g + 2\\lambda\\theta)
              = (1 - 2\\eta\\lambda)\\,\\theta - \\eta g,

    which is SGD with ``weight_decay=2λ``, whether the decay is coupled (added to the gradient)
    or decoupled (the weights shrunk directly): the runs agree to rounding error.
    For Adam the penalty's gradient 2λθ goes through the per-coordinate normalisation
    :math:`1/(\\sqrt{\\hat v}+\\epsilon)`, so weights with large gradients are decayed less;
    AdamW (Loshchilov & Hutter 2019) decays every weight by the same factor
    :math:`1 - \\eta\\lambda_{wd}` outside the normalisation. With ``weight_decay=2λ`` both
    are "the same strength" but the runs end at different weights.

    The problem is least squares on 64 random examples with 5 features of scales 0.1 to 3.2,
    full batch, in ``dtype``. Returns the final weights of each run and the max absolute
    differences between pairs (the first pair, penalty versus none, gives the scale of the
    penalty's effect).
    """
    check_real("lam", lam, low=0.0, low_open=True)
    check_real("lr", lr, low=0.0, low_open=True)
    check_int("steps", steps, low=1)
    check_int("seed", seed, low=0)
    SGD, Adam, AdamW = _optimizer_classes()
    x, y, w0 = _regression_problem(seed, dtype=dtype)
    run = lambda cls, lam_penalty=0.0, **hyper: _run_optimizer(  # noqa: E731
        cls, x, y, w0, lam_penalty=lam_penalty, steps=steps, lr=lr, **hyper)
    final = {
        "SGD + L2 penalty": run(SGD, lam),
        "SGD(weight_decay=2λ)": run(SGD, weight_decay=2 * lam),
        "Adam + L2 penalty": run(Adam, lam),
        "Adam(weight_decay=2λ)": run(Adam, weight_decay=2 * lam),
        "AdamW(weight_decay=2λ)": run(AdamW, weight_decay=2 * lam),
        "SGD, no regularization": run(SGD),
        "Adam, no regularization": run(Adam),
    }
    pairs = [("SGD + L2 penalty", "SGD, no regularization"),  # the scale of the effect
             ("SGD + L2 penalty", "SGD(weight_decay=2λ)"),
             ("Adam + L2 penalty", "Adam(weight_decay=2λ)"),
             ("Adam + L2 penalty", "AdamW(weight_decay=2λ)")]
    differences = {f"{a}  vs  {b}": (final[a] - final[b]).abs().max().item() for a, b in pairs}
    return WeightDecayComparison(lam, lr, steps, final, differences)


# --------------------------------------------------------------------------------------------
# "Regularization adds curvature": a 2-D example
# --------------------------------------------------------------------------------------------

def penalized_surface(surface, lam: float):
    """``surface`` (a :class:`lecture_code.surfaces.Surface`) plus the L2 penalty λ(x² + y²).

    The gradient gains 2λ(x, y) and the Hessian gains 2λ on its diagonal: every curvature
    grows by 2λ. Running plain SGD on this surface is the same as running
    ``SGD(weight_decay=2λ)`` on the original one.
    """
    from .surfaces import Surface

    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a lecture_code.surfaces.Surface, got "
                        f"{type(surface).__name__}")
    lam = float(check_real("lam", lam, low=0.0))
    f, grad = surface.f, surface.grad

    def penalized_grad(x, y):
        dx, dy = grad(x, y)
        return dx + 2 * lam * x, dy + 2 * lam * y

    return Surface(name=f"{surface.name} + {lam:g}·‖w‖²",
                   f=lambda x, y: f(x, y) + lam * (x ** 2 + y ** 2), grad=penalized_grad,
                   extent=surface.extent, start=surface.start, minima=(),
                   log_levels=surface.log_levels)


@dataclass(frozen=True)
class QuadraticValley:
    """A long, nearly flat valley, :math:`f(w) = \\tfrac12 (w-c)^\\top \\mathrm{diag}(a, b)(w-c)`.

    With ``b`` much smaller than ``a`` the Hessian :math:`\\mathrm{diag}(a, b)` is badly
    conditioned (condition number ``a/b``; infinite for ``b=0``, a perfectly flat valley with no
    unique minimum): gradient descent, whose step size is limited by the steep direction,
    crawls along the flat one. Adding :math:`\\lambda\\lVert w\\rVert^2` adds :math:`2\\lambda`
    to every eigenvalue of the Hessian, so the condition number drops to
    :math:`(a+2\\lambda)/(b+2\\lambda)` -- at the price of moving the minimum towards 0.
    (``lecture_code.surfaces.ill_conditioned_quadratic`` is the same valley centred at 0,
    where the penalty does not move the minimum.)
    """

    a: float = 1.0
    b: float = 0.01
    center: tuple[float, float] = (2.0, 2.0)

    def __post_init__(self):
        check_real("a", self.a, low=0.0, low_open=True)
        check_real("b", self.b, low=0.0)
        if self.b > self.a:
            raise ValueError(f"b={self.b!r} must be at most a={self.a!r} (b is the flat direction)")

    def loss(self, w1, w2, lam: float = 0.0):
        """f(w) + λ‖w‖² on arrays or tensors of coordinates (broadcasting)."""
        c1, c2 = self.center
        return (0.5 * (self.a * (w1 - c1) ** 2 + self.b * (w2 - c2) ** 2)
                + lam * (w1 ** 2 + w2 ** 2))

    def grad(self, w: np.ndarray, lam: float = 0.0) -> np.ndarray:
        """The gradient of f(w) + λ‖w‖² at a point (the penalty contributes 2λw)."""
        w = np.asarray(w, dtype=float)
        return np.array([self.a, self.b]) * (w - np.array(self.center)) + 2 * lam * w

    def surface(self, lam: float = 0.0):
        """The valley plus λ‖w‖² as a :class:`lecture_code.surfaces.Surface`."""
        from .surfaces import Surface

        c1, c2 = self.center
        base = Surface(name="flat valley", f=lambda x, y: self.loss(x, y),
                       grad=lambda x, y: (self.a * (x - c1), self.b * (y - c2)),
                       extent=(-3.0, 3.5, -3.0, 3.5), start=(-2.0, -2.5))
        penalized = penalized_surface(base, lam)
        return Surface(name=penalized.name if lam else base.name, f=penalized.f,
                       grad=penalized.grad, extent=base.extent, start=base.start,
                       minima=(tuple(self.minimizer(lam)),))

    def hessian_eigenvalues(self, lam: float = 0.0) -> tuple[float, float]:
        return self.a + 2 * lam, self.b + 2 * lam

    def condition_number(self, lam: float = 0.0) -> float:
        """Largest over smallest Hessian eigenvalue (inf when the valley is perfectly flat)."""
        check_real("lam", lam, low=0.0)
        high, low = self.hessian_eigenvalues(lam)
        return math.inf if low == 0 else high / low

    def minimizer(self, lam: float = 0.0) -> np.ndarray:
        """:math:`(H + 2\\lambda I)^{-1} H c`: the minimum, shrunk towards 0 by the penalty."""
        h = np.array([self.a, self.b])
        return h * np.array(self.center) / (h + 2 * lam)

    def gradient_descent(self, lam: float = 0.0, start=None, lr: float | None = None,
                         steps: int = 200) -> np.ndarray:
        """Points visited by the book's SGD (full gradient) on the valley + λ‖w‖².

        ``lr`` defaults to ``1/L`` with ``L`` the largest curvature, the classical safe step.
        Returns ``steps + 1`` rows of (w1, w2), from :func:`lecture_code.surfaces.trajectory`.
        """
        from .surfaces import trajectory

        check_real("lam", lam, low=0.0)
        check_int("steps", steps, low=1)
        if lr is None:
            lr = 1.0 / self.hessian_eigenvalues(lam)[0]
        check_real("lr", lr, low=0.0, low_open=True)
        SGD, _, _ = _optimizer_classes()
        return trajectory(SGD, self.surface(lam), start, steps, lr=lr)

    def steps_to_converge(self, lam: float = 0.0, tol: float = 1e-3, start=None,
                          max_steps: int = 5000) -> int:
        """Gradient-descent steps (lr = 1/L) until ‖w − w*(λ)‖ < tol (``max_steps`` if never)."""
        check_real("tol", tol, low=0.0, low_open=True)
        check_int("max_steps", max_steps, low=1)
        steps = min(64, max_steps)
        while True:  # double the horizon until the run gets there (at most 2x the work)
            path = self.gradient_descent(lam, start, steps=steps)
            below = np.flatnonzero(np.linalg.norm(path - self.minimizer(lam), axis=1) < tol)
            if below.size:
                return int(below[0])
            if steps >= max_steps:
                return max_steps
            steps = min(2 * steps, max_steps)


# --------------------------------------------------------------------------------------------
# Dropout and DropConnect
# --------------------------------------------------------------------------------------------

def _check_p(p) -> float:
    return float(check_real("p", p, low=0.0, high=1.0, high_open=True))


def _check_generator(generator):
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got "
                        f"{type(generator).__name__}")
    return generator


def _bernoulli_mask(shape, keep: float, like: torch.Tensor,
                    generator: torch.Generator | None) -> torch.Tensor:
    """A tensor of ``shape`` with entries 1 (probability ``keep``) or 0, on ``like``'s device.

    Without a generator this draws ``empty_like(...).bernoulli_(keep)`` from the default
    generator of the device -- on the CPU the same random stream as
    ``torch.nn.functional.dropout``. With a generator the mask is drawn on the generator's
    device and moved to ``like``'s device, so a CPU generator gives the same mask on any device.
    """
    dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
    if generator is None:
        return torch.empty(shape, dtype=dtype, device=like.device).bernoulli_(keep)
    mask = torch.empty(shape, dtype=dtype, device=generator.device)
    return mask.bernoulli_(keep, generator=generator).to(like.device)


class _RandomDrop(nn.Module):
    """What Dropout and DropConnect share: the drop probability ``p``, ``keep = 1 - p`` and an
    optional generator for reproducible masks."""

    def __init__(self, p: float, generator: torch.Generator | None):
        super().__init__()
        self.p = _check_p(p)
        self.generator = _check_generator(generator)

    @property
    def keep(self) -> float:
        """Probability of keeping a unit (or weight), ``1 - p``."""
        return 1.0 - self.p


class Dropout(_RandomDrop):
    """Dropout (Srivastava et al. 2014): zero each activation independently with probability p.

    ``p`` is the probability of **dropping** a unit, as in ``torch.nn.Dropout``. (The lecture
    slides' NumPy code uses ``p`` for the probability of *keeping* a unit; here that is
    ``keep = 1 - p``.) The two forms differ in where the rescaling by ``keep`` happens, so
    that the test-time output equals the expected training-time output:

    * ``inverted=True`` (the common form, what ``torch.nn.Dropout`` does): training computes
      :math:`h \\odot m / \\text{keep}` with :math:`m_i \\sim \\text{Bernoulli}(\\text{keep})`;
      evaluation is the identity.
    * ``inverted=False`` (the original paper's form): training computes :math:`h \\odot m`
      with no scaling; evaluation multiplies by ``keep``.

    In both, :math:`\\mathbb E[\\text{train output}] = \\text{eval output}`. A fresh mask is
    drawn for every element of every forward pass (any input shape). ``generator`` (a
    ``torch.Generator``) makes masks reproducible; without one the device's default generator
    is used, and on the CPU the inverted form then reproduces ``F.dropout`` exactly.
    """

    def __init__(self, p: float = 0.5, inverted: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__(p, generator)
        self.inverted = check_bool("inverted", inverted)

    def sample_mask(self, like: torch.Tensor) -> torch.Tensor:
        """A 0/1 mask shaped like ``like`` (1 = kept), drawn as in a training forward pass."""
        return _bernoulli_mask(like.shape, self.keep, like, self.generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_floating_point():
            raise TypeError(f"Dropout needs a floating-point input, got dtype {x.dtype}")
        if self.p == 0.0:
            return x
        if not self.training:
            return x if self.inverted else x * self.keep
        mask = self.sample_mask(x)
        if self.inverted:
            return x * mask.div_(self.keep)  # same arithmetic as F.dropout
        return x * mask

    def extra_repr(self) -> str:
        form = "inverted" if self.inverted else "original"
        return f"p={self.p:g} (drop probability; keep={self.keep:g}), form={form}"


class DropConnect(_RandomDrop):
    """DropConnect (Wan et al. 2013): drop *weights* of a Linear layer, not activations.

    In training each weight :math:`W_{jk}` of the wrapped ``linear`` is zeroed with
    probability ``p`` (a fresh mask :math:`M` every forward pass) and the layer computes
    :math:`(M \\odot W)x + b`. The bias is not dropped. Because output unit ``j`` uses its own
    row of the mask, the same input is dropped for some output units and kept for others --
    unlike dropout, which removes a unit from *every* unit downstream.

    ``per_sample=False`` (default) shares one weight mask across the mini-batch, the cheap form
    used in practice; ``per_sample=True`` draws one mask per example as in the paper (memory
    ``batch × out × in``).

    At test time this implementation uses the **mean network**: the expected weights
    :math:`\\text{keep}\\cdot W`, so the pre-activation equals its expectation over masks
    exactly. Wan et al. instead approximate the distribution of the pre-activation by a
    Gaussian (moment matching), sample it, pass the samples through the nonlinearity and
    average; that is more accurate after a nonlinearity and is *not* what is implemented here.
    """

    def __init__(self, linear: nn.Linear, p: float = 0.5, per_sample: bool = False,
                 generator: torch.Generator | None = None):
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
        super().__init__(p, generator)
        self.linear = linear
        self.per_sample = check_bool("per_sample", per_sample)

    def sample_mask(self, batch: int | None = None) -> torch.Tensor:
        """A 0/1 weight mask shaped like the weight, or ``(batch, out, in)`` when given."""
        weight = self.linear.weight
        shape = weight.shape if batch is None else (batch, *weight.shape)
        return _bernoulli_mask(shape, self.keep, weight, self.generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.linear.weight, self.linear.bias
        if self.p == 0.0:
            return F.linear(x, weight, bias)
        if not self.training:
            return F.linear(x, weight * self.keep, bias)
        if not self.per_sample:
            return F.linear(x, weight * self.sample_mask(), bias)
        flat = x.reshape(-1, x.shape[-1])
        masked = weight * self.sample_mask(flat.shape[0])             # (B, out, in)
        out = torch.einsum("bi,boi->bo", flat, masked)
        if bias is not None:
            out = out + bias
        return out.reshape(*x.shape[:-1], weight.shape[0])

    def extra_repr(self) -> str:
        return (f"p={self.p:g} (weight drop probability), per_sample={self.per_sample}, "
                f"test time: mean weights keep*W")


def regularized_mlp(sizes: Sequence[int], *, dropout: float = 0.0, dropconnect: float = 0.0,
                    batch_norm: bool = False, inverted: bool = True,
                    generator: torch.Generator | None = None) -> nn.Sequential:
    """An MLP like ``training.mlp(sizes)`` with optional regularizers in its hidden layers.

    Each hidden layer is ``Linear [DropConnect] -> [BatchNorm1d] -> ReLU -> [Dropout]``; the
    output layer is a plain Linear (dropping logits would only add noise to the loss).
    ``dropconnect`` wraps every hidden Linear in :class:`DropConnect`.
    """
    sizes = [check_int(f"sizes[{i}]", s, low=1) for i, s in enumerate(sizes)]
    if len(sizes) < 2:
        raise ValueError(f"sizes={sizes!r} needs at least an input and an output width")
    dropout, dropconnect = _check_p(dropout), _check_p(dropconnect)
    check_bool("batch_norm", batch_norm)
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(fan_in, fan_out)
        if i == len(sizes) - 2:
            layers.append(linear)
            break
        layers.append(DropConnect(linear, dropconnect, generator=generator) if dropconnect
                      else linear)
        if batch_norm:
            layers.append(nn.BatchNorm1d(fan_out))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(Dropout(dropout, inverted=inverted, generator=generator))
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------------------------
# Experiments
# --------------------------------------------------------------------------------------------

def fraction_near_zero(params, tol: float = 1e-3) -> float:
    """Fraction of the entries of ``params`` with absolute value below ``tol``."""
    check_real("tol", tol, low=0.0, low_open=True)
    flat = torch.cat([t.detach().reshape(-1) for t in _as_tensors(params)])
    return (flat.abs() < tol).float().mean().item()


def holdout(split, n_test: int, seed: int = 0):
    """Cut ``n_test`` random examples off the validation set of ``split`` as a test set.

    Returns ``(split_with_smaller_val, (x_test, y_test))``. Choosing a hyperparameter on the
    validation set and reporting its gain on the same set is optimistic; the test part is for
    the report.
    """
    from .data import Split

    check_int("n_test", n_test, low=1, high=len(split.y_val) - 1)
    order = torch.randperm(len(split.y_val), generator=torch.Generator().manual_seed(seed))
    test, val = order[:n_test], order[n_test:]
    smaller = Split(split.x_train, split.y_train, split.x_val[val], split.y_val[val],
                    split.num_classes)
    return smaller, (split.x_val[test], split.y_val[test])


def _evaluate_on_callback(name: str, data):

    class EvaluateOn(Callback):
        """Adds ``{name}_loss`` and ``{name}_accuracy`` to every epoch's metrics."""

        def on_epoch_end(self, epoch, metrics, model):
            metrics.update({f"{name}_{k}": v for k, v in evaluate(model, *data).items()})

    return EvaluateOn()


def _seeded_run(make_model, split, seed, optimizer_class, test_data, **kwargs):
    """:func:`lecture_code.training.seeded_run` on ``split`` with the book's SGD by default;
    ``test_data=(x, y)`` adds ``test_loss`` and ``test_accuracy`` to every epoch."""

    if optimizer_class is None:
        optimizer_class, _, _ = _optimizer_classes()
    callbacks = [] if test_data is None else [_evaluate_on_callback("test", test_data)]
    return seeded_run(make_model, optimizer_class, split.train, seed=seed, val_data=split.val,
                      callbacks=callbacks, **kwargs)


@dataclass
class Runs:
    """Histories (and final models) of several seeds of several named configurations."""

    histories: dict[str, list] = field(default_factory=dict)
    models: dict[str, list[nn.Module]] = field(default_factory=dict)

    def final(self, name: str, metric: str) -> np.ndarray:
        """``metric`` at the last epoch, one value per seed."""
        return np.array([h[metric][-1] for h in self.histories[name]])

    def summary(self, metric: str = "test_accuracy") -> str:
        """One line per configuration: mean ± standard deviation over seeds of ``metric``."""
        width = max(map(len, self.histories))
        lines = []
        for name in self.histories:
            values = self.final(name, metric)
            lines.append(f"{name:<{width}}  {metric} = {values.mean():.4f} ± {values.std():.4f}"
                         f"  (n={len(values)} seeds)")
        return "\n".join(lines)


def compare(builders: dict[str, Callable[[torch.Generator], nn.Module]], split, *,
            seeds: Sequence[int] = (0, 1, 2), optimizer_class: type | None = None,
            epochs: int = 30, batch_size: int | None = 50, test_data=None,
            **optimizer_kwargs) -> Runs:
    """Train each ``builders[name](generator)`` once per seed and collect the runs.

    Each run is :func:`lecture_code.training.seeded_run` with ``optimizer_class`` (the book's
    SGD by default) and ``optimizer_kwargs`` (``lr=0.05, momentum=0.9``): the seed fixes the
    initialisation, the mini-batch order and the generator handed to the builder for
    dropout/DropConnect masks, so configurations of one seed differ only in what the builder
    changes. ``test_data=(x, y)`` adds ``test_loss`` and ``test_accuracy`` to every epoch.
    """
    seeds = [check_int(f"seeds[{i}]", s, low=0) for i, s in enumerate(seeds)]
    runs = Runs()
    for name, build in builders.items():
        runs.histories[name], runs.models[name] = [], []
        for seed in seeds:
            generator = torch.Generator().manual_seed(10_000 + seed)
            run = _seeded_run(lambda: build(generator), split, seed, optimizer_class, test_data,
                              epochs=epochs, batch_size=batch_size, **optimizer_kwargs)
            runs.histories[name].append(run.history)
            runs.models[name].append(run.model)
    return runs


def _stochastic_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (Dropout, DropConnect, nn.Dropout))]


@torch.no_grad()
def mc_predict(model: nn.Module, x: torch.Tensor, samples: int = 50,
               cumulative: bool = False) -> torch.Tensor:
    """Average the softmax outputs of ``samples`` random sub-networks (Monte-Carlo averaging).

    Only the dropout/DropConnect layers are put in training mode (each pass samples fresh
    masks); everything else, e.g. batch normalization, stays in eval mode. With ``samples``
    large this approximates the true ensemble average over masks, which the eval-mode
    ("weight-scaled") network approximates in one pass. The model's modes are restored.

    Returns class probabilities of shape ``(len(x), classes)``; with ``cumulative=True``
    the running averages over the first 1, 2, ..., ``samples`` sub-networks, shape
    ``(samples, len(x), classes)``.
    """
    check_int("samples", samples, low=1)
    check_bool("cumulative", cumulative)
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        for module in _stochastic_modules(model):
            module.train()
        probs = torch.stack([F.softmax(model(x), dim=-1) for _ in range(samples)])
    finally:
        for module, mode in modes.items():
            module.train(mode)
    if not cumulative:
        return probs.mean(0)
    counts = torch.arange(1, samples + 1, dtype=probs.dtype).reshape(-1, 1, 1)
    return probs.cumsum(0) / counts


@dataclass
class LambdaSweep:
    """Results of :func:`lambda_sweep`: one entry per (λ, seed).

    ``histories[lam][seed]`` is a :class:`~lecture_code.training.History` (data loss only in
    ``train_loss``/``val_loss``), ``weights[lam][seed]`` the final penalized weights as one
    flat NumPy array, ``shapes`` their shapes (to view them as images).
    """

    penalty: str
    lambdas: list[float]
    seeds: list[int]
    histories: dict[float, list] = field(default_factory=dict)
    weights: dict[float, list[np.ndarray]] = field(default_factory=dict)
    shapes: list[tuple[int, ...]] = field(default_factory=list)

    def final(self, metric: str, lam: float) -> np.ndarray:
        """``metric`` (e.g. ``"val_accuracy"``) at the last epoch, one value per seed."""
        return np.array([h[metric][-1] for h in self.histories[lam]])

    def near_zero(self, lam: float, tol: float = 1e-2) -> np.ndarray:
        """Fraction of final weights with ``|w| < tol``, one value per seed."""
        return np.array([(np.abs(w) < tol).mean() for w in self.weights[lam]])

    def best(self, metric: str = "val_loss") -> float:
        """The λ with the best seed-averaged final ``metric`` (lowest loss, highest accuracy)."""
        means = {lam: self.final(metric, lam).mean() for lam in self.lambdas}
        pick = min if metric.endswith("loss") else max
        return pick(means, key=means.get)


def lambda_sweep(split, lambdas: Sequence[float], *, penalty: str = "l2",
                 hidden: Sequence[int] = (256,), seeds: Sequence[int] = (0,),
                 optimizer_class: type | None = None, epochs: int = 30,
                 batch_size: int | None = 50, test_data=None, **optimizer_kwargs) -> LambdaSweep:
    """Train one model per (λ, seed) with data loss + λR(W) and record curves and weights.

    ``split`` is a :class:`lecture_code.data.Split`; the model is
    ``mlp([inputs, *hidden, classes])`` (``hidden=()`` is a linear classifier), trained by
    :func:`lecture_code.training.seeded_run` with ``optimizer_class`` (the book's SGD by
    default) and ``optimizer_kwargs`` (``lr=0.05, momentum=0.9``) on :func:`regularized_loss`.
    The seed fixes the initialisation and the mini-batch order, so all λ of one seed share both.
    """

    check_choice("penalty", penalty, PENALTIES)
    lambdas = [float(check_real(f"lambdas[{i}]", lam, low=0.0)) for i, lam in enumerate(lambdas)]
    if not lambdas:
        raise ValueError("lambdas is empty")
    seeds = [check_int(f"seeds[{i}]", s, low=0) for i, s in enumerate(seeds)]
    sweep = LambdaSweep(penalty, lambdas, seeds)
    sizes = [split.x_train.shape[1], *hidden, split.num_classes]
    for lam in lambdas:
        sweep.histories[lam], sweep.weights[lam] = [], []
        for seed in seeds:
            # the loss needs the model's weights, so the model is made (seeded) before the run;
            # seeded_run seeds again before "making" it, which an MLP's training never reads
            torch.manual_seed(seed)
            model = mlp(sizes)
            run = _seeded_run(lambda: model, split, seed, optimizer_class, test_data,
                              epochs=epochs, batch_size=batch_size,
                              loss_fn=regularized_loss(F.cross_entropy, model, penalty, lam),
                              **optimizer_kwargs)
            weights = penalized_parameters(model)
            sweep.shapes = [tuple(w.shape) for w in weights]
            sweep.histories[lam].append(run.history)
            sweep.weights[lam].append(torch.cat([w.detach().reshape(-1) for w in weights]).numpy())
    return sweep
