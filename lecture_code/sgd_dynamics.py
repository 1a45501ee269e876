"""The dynamics of SGD, measured: the experiments of the two SGD chapters: mini-batch SGD and the problems it runs into.

*Mini-batch stochastic gradient descent* (``book/optimization/sgd.ipynb``):

* :func:`gradient_noise_vs_batch_size` — how far a mini-batch gradient lies from the full-batch
  gradient, measured by sampling mini-batches, next to the exact law
  :math:`\\mathbb E\\|g_B - g\\|^2 = \\frac{\\sigma^2}{B}\\frac{N-B}{N-1}`;
* :func:`run_with_budget`, :func:`loss_curve_grid` — training runs that record the full
  training loss against examples processed, updates and wall-clock seconds;

Their figures and explorers are in :mod:`lecture_code.widgets.sgd_dynamics`.

*Problems with SGD* (``book/optimization/sgd_problems.ipynb``):

* :func:`parallel_trajectories` — many runs of one optimizer on a 2-D surface at once;
* :func:`steps_to_tolerance`, :func:`best_fixed_step`, :func:`gd_steps_theory` — gradient
  descent on an ill-conditioned quadratic, measured and predicted;
* :func:`noise_ball_radius` — the stationary spread of SGD with noisy gradients on a quadratic;
* :func:`goe_minimum_fraction` — how rarely a random symmetric matrix is positive definite;
* :class:`RandomField`, :func:`critical_points` — the critical points of a random smooth function
  and their index (fraction of downhill directions) against their value.
"""
from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_int, check_real
from .surfaces import Surface
from .training import Callback, TrainingDiverged, evaluate, train

# ---------------------------------------------------------------------------------------------
# Gradient noise of a mini-batch
# ---------------------------------------------------------------------------------------------


def flat_gradient(model: nn.Module, loss_fn: Callable, x: torch.Tensor,
                  y: torch.Tensor) -> torch.Tensor:
    """The gradient of ``loss_fn(model(x), y)`` with respect to all trainable parameters.

    Returned as one float64 vector (the parameters' gradients concatenated in ``parameters()``
    order). The parameters' ``.grad`` fields are left untouched.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss_fn(model(x), y), params)
    return torch.cat([g.reshape(-1) for g in grads]).to(torch.float64)


def per_example_gradients(model: nn.Module, loss_fn: Callable, x: torch.Tensor,
                          y: torch.Tensor) -> torch.Tensor:
    """The gradient of every single example's loss, as an (N, P) float64 matrix.

    Row ``i`` is :func:`flat_gradient` on the batch ``(x[i:i+1], y[i:i+1])``, computed for all
    rows at once with ``torch.func.vmap``. Meaningful for models without layers that mix the
    examples of a batch (batch normalization would).
    """
    from torch.func import functional_call, grad, vmap

    names = [name for name, p in model.named_parameters() if p.requires_grad]
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}

    def loss_of_one(parameters, xi, yi):
        return loss_fn(functional_call(model, parameters, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    grads = vmap(grad(loss_of_one), in_dims=(None, 0, 0))(params, x, y)
    return torch.cat([grads[name].reshape(len(x), -1) for name in names], dim=1).to(torch.float64)


@dataclass(frozen=True)
class GradientNoise:
    """The result of :func:`gradient_noise_vs_batch_size`.

    ``variance[i]`` is the mean of :math:`\\|g_B - g\\|^2` over the mini-batches of size
    ``batch_sizes[i]`` (all of them when ``samples`` is None, else ``samples`` random ones),
    where :math:`g` is the full-batch gradient. ``per_example_variance`` is
    :math:`\\sigma^2 = \\frac1N \\sum_i \\|g_i - g\\|^2` over the N single-example gradients.
    """

    batch_sizes: np.ndarray
    variance: np.ndarray
    per_example_variance: float
    full_gradient_norm: float
    n: int
    samples: int | None

    def law_with_replacement(self, batch_sizes=None) -> np.ndarray:
        """:math:`\\sigma^2 / B`: the variance if the B examples were drawn independently."""
        b = self.batch_sizes if batch_sizes is None else np.asarray(batch_sizes, dtype=float)
        return self.per_example_variance / b

    def law_without_replacement(self, batch_sizes=None) -> np.ndarray:
        """:math:`\\frac{\\sigma^2}{B}\\,\\frac{N-B}{N-1}`: exact for B distinct examples.

        The finite-population correction :math:`(N-B)/(N-1)` makes the variance vanish at
        :math:`B = N`, where the mini-batch is the whole data set.
        """
        b = self.batch_sizes if batch_sizes is None else np.asarray(batch_sizes, dtype=float)
        if self.n == 1:
            return np.zeros_like(b, dtype=float)
        return self.per_example_variance / b * (self.n - b) / (self.n - 1)

    def fitted_slope(self, max_batch_size: int | None = None) -> float:
        """Least-squares slope of log(variance) against log(B), for B ≤ ``max_batch_size``.

        The 1/B law predicts −1 wherever B is small next to N.
        """
        keep = self.variance > 0
        if max_batch_size is not None:
            keep &= self.batch_sizes <= max_batch_size
        if keep.sum() < 2:
            raise ValueError("fitted_slope needs at least two batch sizes with positive variance")
        return float(np.polyfit(np.log(self.batch_sizes[keep]), np.log(self.variance[keep]), 1)[0])


def gradient_noise_vs_batch_size(model: nn.Module, loss_fn: Callable, x: torch.Tensor,
                                 y: torch.Tensor, batch_sizes: Sequence[int],
                                 samples: int | None = 100,
                                 generator: torch.Generator | None = None,
                                 max_subsets: int = 20_000) -> GradientNoise:
    r"""Measure how noisy the mini-batch gradient is, at the model's current parameters.

    For each batch size :math:`B`, mini-batches :math:`S` of :math:`B` distinct examples are
    drawn uniformly (``torch.randperm(N)[:B]``, exactly how an epoch of :func:`train` samples
    them), the gradient :math:`g_S` of the mini-batch's mean loss is computed by backprop, and
    the mean squared distance to the full-batch gradient :math:`g` is returned:

    .. math::
        \operatorname{Var}(B) = \mathbb E_S \|g_S - g\|^2
        = \frac{\sigma^2}{B}\,\frac{N-B}{N-1},
        \qquad \sigma^2 = \frac1N \sum_{i=1}^N \|g_i - g\|^2 .

    ``samples=None`` averages over *every* subset of size B (exact; only for small problems,
    at most ``max_subsets`` subsets per size). The loss must be the mean of per-example losses
    (``reduction="mean"``). The model's train/eval mode is used as it is.
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {loss_fn!r}")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
    n = check_int("len(x)", len(x), low=1)
    batch_sizes = [check_int("batch_sizes[]", int(b) if isinstance(b, np.integer) else b,
                             low=1, high=n) for b in batch_sizes]
    if not batch_sizes:
        raise ValueError("batch_sizes is empty: give at least one batch size")
    if samples is not None:
        check_int("samples", samples, low=1)
    check_int("max_subsets", max_subsets, low=1)

    full = flat_gradient(model, loss_fn, x, y)
    each = per_example_gradients(model, loss_fn, x, y)
    sigma2 = float(((each - each.mean(dim=0)) ** 2).sum(dim=1).mean())
    variance = np.empty(len(batch_sizes))
    for k, b in enumerate(batch_sizes):
        if samples is None:
            count = math.comb(n, b)
            if count > max_subsets:
                raise ValueError(f"samples=None enumerates all {count} subsets of size {b} of "
                                 f"{n} examples, more than max_subsets={max_subsets}; "
                                 f"pass a number of samples instead")
            subsets = (torch.tensor(s) for s in itertools.combinations(range(n), b))
        else:
            subsets = (torch.randperm(n, generator=generator)[:b] for _ in range(samples))
        total, count = 0.0, 0
        for index in subsets:
            total += float(((flat_gradient(model, loss_fn, x[index], y[index]) - full) ** 2).sum())
            count += 1
        variance[k] = total / count
    return GradientNoise(np.array(batch_sizes, dtype=float), variance, sigma2,
                         float(full.norm()), n, samples)


# ---------------------------------------------------------------------------------------------
# Training runs on a budget of examples
# ---------------------------------------------------------------------------------------------


def examples_after(steps: int, n: int, batch_size: int) -> int:
    """How many examples :func:`train` has processed after ``steps`` updates.

    An epoch is ``ceil(n / batch_size)`` mini-batches; the last one may be smaller.
    """
    per_epoch = math.ceil(n / batch_size)
    epochs, rest = divmod(steps, per_epoch)
    return epochs * n + min(rest * batch_size, n)


def steps_for_examples(examples: int, n: int, batch_size: int) -> int:
    """The fewest updates after which at least ``examples`` examples have been processed."""
    per_epoch = math.ceil(n / batch_size)
    epochs, rest = divmod(examples, n)
    return epochs * per_epoch + math.ceil(rest / batch_size)


class LossRecorder(Callback):
    """Record the full training-set loss at chosen numbers of processed examples.

    Also counts updates and the seconds spent *training* (the evaluations this recorder does
    are not counted).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int | None,
                 checkpoints: Sequence[int], loss_fn: Callable = F.cross_entropy):
        self.x, self.y, self.loss_fn = x, y, loss_fn
        self.n = len(y)
        self.batch_size = self.n if batch_size is None else batch_size
        self.checkpoints = sorted(set(int(c) for c in checkpoints))
        self.examples, self.updates, self.seconds, self.loss = [], [], [], []

    def _record(self, step: int, model: nn.Module) -> None:
        self.examples.append(examples_after(step, self.n, self.batch_size))
        self.updates.append(step)
        self.seconds.append(self._elapsed)
        self.loss.append(evaluate(model, self.x, self.y, self.loss_fn)["loss"])

    def on_train_begin(self, model, optimizer) -> None:
        self._elapsed, self._next = 0.0, 0
        self._record(0, model)
        self._last = time.perf_counter()

    def on_step_end(self, step, loss, model, optimizer) -> None:
        now = time.perf_counter()
        self._elapsed += now - self._last
        seen = examples_after(step, self.n, self.batch_size)
        due = False
        while self._next < len(self.checkpoints) and self.checkpoints[self._next] <= seen:
            self._next += 1
            due = True
        if due:
            self._record(step, model)
        self._last = time.perf_counter()


@dataclass(frozen=True)
class LossCurve:
    """Full training loss of one run against examples processed, updates and seconds."""

    batch_size: int
    lr: float
    examples: np.ndarray
    updates: np.ndarray
    seconds: np.ndarray
    loss: np.ndarray
    diverged: bool

    @property
    def final_loss(self) -> float:
        """The last recorded loss; ``inf`` for a run that diverged."""
        return float("inf") if self.diverged else float(self.loss[-1])


def run_with_budget(model: nn.Module, optimizer: torch.optim.Optimizer,
                    data: tuple[torch.Tensor, torch.Tensor], *, batch_size: int | None,
                    examples: int, points: int = 40, loss_fn: Callable = F.cross_entropy,
                    generator: torch.Generator | None = None) -> LossCurve:
    """Train with :func:`train` until ``examples`` examples have been processed.

    The full training loss is recorded at about ``points`` moments, spread both evenly and
    geometrically over the budget (so that curves read well on linear and on log axes), and
    after the last update. ``batch_size=None`` is full-batch gradient descent. A run whose
    loss becomes non-finite stops there and is marked ``diverged``.
    """
    x, y = data
    n = len(y)
    check_int("examples", examples, low=1)
    check_int("points", points, low=2)
    b = n if batch_size is None else check_int("batch_size", batch_size, low=1, high=n)
    steps = steps_for_examples(examples, n, b)
    checkpoints = np.unique(np.concatenate([
        np.linspace(0, examples, points // 2 + 1), np.geomspace(b, examples, points // 2)]
    ).round().astype(int))
    recorder = LossRecorder(x, y, b, checkpoints, loss_fn)
    diverged = False
    try:
        train(model, optimizer, (x, y), epochs=None, max_steps=steps, batch_size=b,
              loss_fn=loss_fn, generator=generator, callbacks=[recorder], quiet=True,
              epoch_metrics=False)  # the recorder measures the loss itself
    except TrainingDiverged:
        diverged = True
    lr = optimizer.param_groups[0]["lr"]
    return LossCurve(b, float(lr), np.array(recorder.examples), np.array(recorder.updates),
                     np.array(recorder.seconds), np.array(recorder.loss), diverged)


def loss_curve_grid(make_model: Callable[[], nn.Module], data: tuple[torch.Tensor, torch.Tensor],
                    batch_sizes: Sequence[int], learning_rates: Sequence[float], *,
                    examples: int, optimizer_cls=None, points: int = 30, seed: int = 0,
                    **hyperparameters) -> dict[tuple[int, float], LossCurve]:
    """One :func:`run_with_budget` per (batch size, learning rate), all from the same start.

    Every run seeds torch with ``seed`` before ``make_model()`` (same initial weights) and draws
    its mini-batches from a generator seeded with ``seed``. ``optimizer_cls`` defaults to the
    book's :class:`~lecture_code.optimizers.SGD`; extra keyword arguments go to it.
    """
    if optimizer_cls is None:
        from .optimizers import SGD as optimizer_cls
    curves = {}
    for b in batch_sizes:
        for lr in learning_rates:
            torch.manual_seed(seed)
            model = make_model()
            optimizer = optimizer_cls(model.parameters(), lr=lr, **hyperparameters)
            curves[(b, lr)] = run_with_budget(
                model, optimizer, data, batch_size=b, examples=examples, points=points,
                generator=torch.Generator().manual_seed(seed))
    return curves


# ---------------------------------------------------------------------------------------------
# Two-dimensional surfaces: many runs at once, conditioning, the noise ball
# ---------------------------------------------------------------------------------------------


def parallel_trajectories(optimizer_cls, surface: Surface, starts, steps: int, *,
                          gradient_noise: float = 0.0, seed: int = 0,
                          **hyperparameters) -> np.ndarray:
    """Run ``optimizer_cls`` from every start at once; returns an array (steps + 1, M, 2).

    The M points form one (M, 2) float64 parameter; because the book's optimizers update each
    element independently, this is M independent runs, each identical to
    :func:`lecture_code.surfaces.trajectory` from that start (with ``M = 1`` and the same seed,
    even the noise is the same). Gaussian noise of standard deviation ``gradient_noise`` is
    added to each gradient component. Runs that diverge keep their non-finite values.
    """
    check_int("steps", steps, low=0)
    check_real("gradient_noise", gradient_noise, low=0.0)
    starts = torch.as_tensor(np.asarray(starts, dtype=np.float64))
    if starts.ndim != 2 or starts.shape[1] != 2:
        raise ValueError(f"starts must be an array of points of shape (M, 2), got shape "
                         f"{tuple(starts.shape)}")
    param = torch.nn.Parameter(starts.clone())
    optimizer = optimizer_cls([param], **hyperparameters)
    # One draw for the whole run, in the same order as trajectory() draws it.
    noise = gradient_noise * torch.randn(steps, *starts.shape, dtype=torch.float64,
                                         generator=torch.Generator().manual_seed(seed))
    paths = np.empty((steps + 1, *starts.shape))
    paths[0] = starts.numpy()
    for k in range(1, steps + 1):
        param.grad = surface.gradient(param.detach()) + noise[k - 1]
        optimizer.step()
        paths[k] = param.detach().numpy()
    return paths


def steps_to_tolerance(path: np.ndarray, target, tol: float) -> int | None:
    """The first step k with ‖x_k − x*‖ ≤ tol · ‖x_0 − x*‖ (None if the path never gets there)."""
    check_real("tol", tol, low=0.0, high=1.0, low_open=True, high_open=True)
    distance = np.linalg.norm(np.asarray(path) - np.asarray(target, dtype=float), axis=-1)
    hits = np.flatnonzero(distance <= tol * distance[0])
    return int(hits[0]) if len(hits) else None


def best_fixed_step(condition_number: float) -> float:
    r"""The learning rate that contracts gradient descent fastest on the quadratic
    :func:`~lecture_code.surfaces.ill_conditioned_quadratic` (curvatures 1 and 1/κ).

    .. math::
        \alpha^\star = \frac{2}{\lambda_{\max} + \lambda_{\min}} = \frac{2\kappa}{\kappa + 1},

    with which both coordinates shrink by the same factor :math:`(\kappa-1)/(\kappa+1)` per
    step (Polyak, *Introduction to Optimization*, 1987, §1.4).
    """
    kappa = check_real("condition_number", condition_number, low=1.0)
    return 2 * kappa / (kappa + 1)


def gd_steps_theory(condition_number: float, tol: float) -> int:
    r"""Steps gradient descent with :func:`best_fixed_step` needs to shrink the error by ``tol``.

    The error contracts by exactly :math:`\rho = (\kappa-1)/(\kappa+1)` per step, so

    .. math::
        k = \left\lceil \frac{\ln(1/\mathrm{tol})}{\ln(1/\rho)} \right\rceil
        \approx \frac{\kappa}{2}\ln\frac{1}{\mathrm{tol}} \quad (\kappa \gg 1).

    For κ = 1 one step lands on the minimum.
    """
    kappa = check_real("condition_number", condition_number, low=1.0)
    check_real("tol", tol, low=0.0, high=1.0, low_open=True, high_open=True)
    if kappa == 1:
        return 1
    rho = (kappa - 1) / (kappa + 1)
    return math.ceil(math.log(tol) / math.log(rho) - 1e-9)


def noise_ball_radius(curvatures: Sequence[float], lr: float, gradient_noise: float) -> float:
    r"""Root-mean-square distance to the minimum of SGD with noisy gradients, in the long run.

    On :math:`f(x) = \frac12 \sum_i \lambda_i x_i^2` with gradient noise of standard deviation
    :math:`\sigma` per coordinate, each coordinate follows
    :math:`x_{t+1} = (1-\alpha\lambda_i)x_t - \alpha\sigma\xi_t` and settles at the variance
    :math:`v_i = \alpha^2\sigma^2 / (1-(1-\alpha\lambda_i)^2) = \alpha\sigma^2/(\lambda_i(2-\alpha\lambda_i))`,
    so the radius :math:`\sqrt{\sum_i v_i}` grows like :math:`\sqrt\alpha` for small α.
    Needs :math:`0 < \alpha\lambda_i < 2` for every i (else SGD diverges).
    """
    check_real("lr", lr, low=0.0, low_open=True)
    check_real("gradient_noise", gradient_noise, low=0.0)
    total = 0.0
    for lam in curvatures:
        check_real("curvature", lam, low=0.0, low_open=True)
        if lr * lam >= 2:
            raise ValueError(f"lr={lr} times curvature {lam} is {lr * lam:g} >= 2: SGD diverges "
                             f"and has no stationary spread")
        total += lr * gradient_noise ** 2 / (lam * (2 - lr * lam))
    return math.sqrt(total)


# ---------------------------------------------------------------------------------------------
# Saddle points in high dimension
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MinimumFraction:
    """The result of :func:`goe_minimum_fraction`, one entry per dimension."""

    dims: np.ndarray
    minima_fraction: np.ndarray               # P(all n eigenvalues > 0), estimated
    positive_eigenvalue_fraction: np.ndarray  # fraction of all eigenvalues that are > 0
    samples: int

    def standard_error(self) -> np.ndarray:
        """Binomial standard error of ``minima_fraction``."""
        p = self.minima_fraction
        return np.sqrt(p * (1 - p) / self.samples)

    def fitted_gaussian_rate(self) -> float:
        r"""c in a least-squares fit :math:`\ln P(n) = -c\,n^2 + b\,n + a` over the dims with
        a nonzero estimate. Dean & Majumdar (2006) show :math:`c \to \ln(3)/4 \approx 0.275`."""
        keep = self.minima_fraction > 0
        if keep.sum() < 3:
            raise ValueError("the fit needs at least three dimensions with a nonzero fraction")
        return float(-np.polyfit(self.dims[keep], np.log(self.minima_fraction[keep]), 2)[0])


def goe_minimum_fraction(dims: Sequence[int], samples: int = 100_000, seed: int = 0,
                         chunk: int = 50_000) -> MinimumFraction:
    r"""How often a random n×n symmetric matrix is positive definite, for each n in ``dims``.

    The matrices are :math:`H = (A + A^\top)/2` with i.i.d. standard normal :math:`A` (the
    Gaussian orthogonal ensemble): the Hessian at a critical point of a "typical" random
    function, in the model of Bray & Dean (2007) and Dauphin et al. (2014). Each eigenvalue is
    positive with probability 1/2, but the eigenvalues repel each other, so all n are positive —
    the critical point is a *minimum* — with probability :math:`\approx e^{-c n^2}`, far below
    the :math:`2^{-n}` of n independent coin flips.
    """
    check_int("samples", samples, low=1)
    check_int("chunk", chunk, low=1)
    dims = [check_int("dims[]", n, low=1) for n in dims]
    rng = np.random.default_rng(seed)
    minima, positive = [], []
    for n in dims:
        all_positive, positive_count, done = 0, 0, 0
        while done < samples:
            m = min(chunk, samples - done)
            a = rng.standard_normal((m, n, n))
            eigenvalues = np.linalg.eigvalsh((a + a.transpose(0, 2, 1)) / 2)
            all_positive += int((eigenvalues > 0).all(axis=1).sum())
            positive_count += int((eigenvalues > 0).sum())
            done += m
        minima.append(all_positive / samples)
        positive.append(positive_count / (samples * n))
    return MinimumFraction(np.array(dims), np.array(minima), np.array(positive), samples)


class RandomField:
    r"""A smooth random function of ``dim`` variables: a sum of random cosine waves.

    .. math::
        f(x) = \sqrt{2/K}\sum_{k=1}^{K} a_k \cos(w_k^\top x + b_k),\quad
        a_k \sim \mathcal N(0, 1),\ w_k \sim \mathcal N(0, I/\ell^2),\ b_k \sim U[0, 2\pi),

    an approximation of a Gaussian random field with squared-exponential covariance
    (Rahimi & Recht, 2007). Its value, gradient and Hessian are analytic; points are rows of
    an (M, dim) array.
    """

    def __init__(self, dim: int, features: int = 200, length_scale: float = 1.0, seed: int = 0):
        self.dim = check_int("dim", dim, low=1)
        self.features = check_int("features", features, low=1)
        check_real("length_scale", length_scale, low=0.0, low_open=True)
        rng = np.random.default_rng(seed)
        self.w = rng.standard_normal((features, dim)) / length_scale
        self.b = rng.uniform(0.0, 2 * np.pi, features)
        self.a = rng.standard_normal(features) * np.sqrt(2.0 / features)

    def value(self, x: np.ndarray) -> np.ndarray:
        return np.cos(x @ self.w.T + self.b) @ self.a

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return -(np.sin(x @ self.w.T + self.b) * self.a) @ self.w

    def hessian(self, x: np.ndarray) -> np.ndarray:
        weights = np.cos(x @ self.w.T + self.b) * self.a          # (M, K)
        return -np.matmul(self.w.T[None] * weights[:, None, :], self.w)


@dataclass(frozen=True)
class CriticalPoints:
    """Distinct critical points found by :func:`critical_points`, with value and index."""

    points: np.ndarray       # (C, dim)
    values: np.ndarray       # f at each point
    eigenvalues: np.ndarray  # (C, dim) Hessian eigenvalues, ascending
    starts: int

    @property
    def index(self) -> np.ndarray:
        """The fraction of negative Hessian eigenvalues: 0 at a minimum, 1 at a maximum."""
        return (self.eigenvalues < 0).mean(axis=1)


def critical_points(field: RandomField, starts: int = 500, box: float = 2.0,
                    newton_steps: int = 40, max_step: float = 0.5, tol: float = 1e-9,
                    seed: int = 0) -> CriticalPoints:
    r"""Find critical points (∇f = 0) of ``field`` with Newton's method from random starts.

    Newton's step :math:`x \leftarrow x - H^{-1}\nabla f` (capped at length ``max_step``)
    converges to the critical point nearest its start *whatever its type* — minima, saddles
    and maxima alike, which is why Newton's method is no cure for saddles (Dauphin et al.
    2014) and why it serves here to take a census of them. Starts are uniform in
    :math:`[-\mathrm{box}, \mathrm{box}]^{dim}`; only starts that end with
    :math:`\|\nabla f\| <` ``tol`` count, and duplicates are merged.
    """
    check_int("starts", starts, low=1)
    check_real("box", box, low=0.0, low_open=True)
    check_int("newton_steps", newton_steps, low=1)
    check_real("max_step", max_step, low=0.0, low_open=True)
    check_real("tol", tol, low=0.0, low_open=True)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-box, box, size=(starts, field.dim))
    for _ in range(newton_steps):
        with np.errstate(all="ignore"):
            step = np.linalg.solve(field.hessian(x), field.gradient(x)[..., None])[..., 0]
        step = np.nan_to_num(step, nan=0.0, posinf=0.0, neginf=0.0)
        length = np.linalg.norm(step, axis=1, keepdims=True)
        x = x - step * np.minimum(1.0, max_step / np.maximum(length, 1e-300))
    converged = np.linalg.norm(field.gradient(x), axis=1) < tol
    x = x[converged]
    _, first = np.unique(np.round(x, 6), axis=0, return_index=True)
    x = x[np.sort(first)]
    return CriticalPoints(x, field.value(x), np.linalg.eigvalsh(field.hessian(x)), starts)
