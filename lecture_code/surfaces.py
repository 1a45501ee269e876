"""Two-dimensional loss surfaces with analytic gradients, and optimizer trajectories on them.

The optimizer chapters run the *same* optimizer classes that train networks on a single
two-element parameter, so that a reader can watch what the update rule does: jitter along a
steep direction, crawl along a shallow one, stall at a saddle, fall into the nearer of two minima.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ._checks import check_int, check_real


@dataclass(frozen=True)
class Surface:
    """A function f(x, y) with its analytic gradient and a window to draw it in.

    ``f`` and ``grad`` take two tensors (or arrays) of the same shape; ``grad`` returns the pair
    (∂f/∂x, ∂f/∂y).
    """

    name: str
    f: Callable
    grad: Callable
    extent: tuple[float, float, float, float]   # xmin, xmax, ymin, ymax
    start: tuple[float, float]                  # a telling default starting point
    minima: tuple[tuple[float, float], ...] = ()
    log_levels: bool = False                    # draw contours on a log scale

    def value(self, point: torch.Tensor) -> torch.Tensor:
        """f at ``point`` (last dimension of size 2)."""
        return self.f(point[..., 0], point[..., 1])

    def gradient(self, point: torch.Tensor) -> torch.Tensor:
        """∇f at ``point`` (last dimension of size 2), analytically."""
        dx, dy = self.grad(point[..., 0], point[..., 1])
        return torch.stack([dx, dy], dim=-1)

    def grid(self, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coordinates and values on an n×n grid over ``extent``, for contour plots."""
        x0, x1, y0, y1 = self.extent
        xs, ys = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
        values = self.f(torch.from_numpy(xs), torch.from_numpy(ys)).numpy()
        return xs, ys, values


def ill_conditioned_quadratic(condition_number: float = 20.0) -> Surface:
    r"""f(x, y) = ½ (x²/κ + y²): curvature 1 along y, 1/κ along x.

    The Hessian's condition number is κ. Gradient descent is stable for learning rates below 2
    (set by the steep y direction) whatever κ is, but its progress along the shallow x direction
    shrinks like 1/κ: the classic "jitter along steep, crawl along shallow".
    """
    kappa = check_real("condition_number", condition_number, low=1.0)
    return Surface(
        name=f"ill-conditioned quadratic (κ = {kappa:g})",
        f=lambda x, y: 0.5 * (x ** 2 / kappa + y ** 2),
        grad=lambda x, y: (x / kappa, y),
        extent=(-10.0, 10.0, -4.0, 4.0), start=(-9.0, 3.0), minima=((0.0, 0.0),))


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Surface:
    r"""Rosenbrock's banana valley f = (a − x)² + b (y − x²)², minimum at (a, a²)."""
    check_real("a", a)
    check_real("b", b, low=0.0, low_open=True)
    return Surface(
        name="Rosenbrock",
        f=lambda x, y: (a - x) ** 2 + b * (y - x ** 2) ** 2,
        grad=lambda x, y: (-2 * (a - x) - 4 * b * x * (y - x ** 2), 2 * b * (y - x ** 2)),
        extent=(-2.0, 2.0, -1.0, 3.0), start=(-1.5, 2.5), minima=((a, a * a),), log_levels=True)


def saddle() -> Surface:
    r"""f = x² − y²: a saddle at the origin, a minimum along x and a maximum along y.

    Started exactly on the x axis, gradient descent walks into the saddle and stops there (the
    gradient's y component is exactly zero); the smallest perturbation lets it escape.
    """
    return Surface(
        name="saddle x² − y²",
        f=lambda x, y: x ** 2 - y ** 2,
        grad=lambda x, y: (2 * x, -2 * y),
        extent=(-2.0, 2.0, -2.0, 2.0), start=(-1.8, 0.0))


def two_minima() -> Surface:
    r"""f = (x² − 1)² + 0.3 x + y²: a local minimum at x ≈ 0.960 and the global one at x ≈ −1.036."""
    return Surface(
        name="local and global minimum",
        f=lambda x, y: (x ** 2 - 1) ** 2 + 0.3 * x + y ** 2,
        grad=lambda x, y: (4 * x * (x ** 2 - 1) + 0.3, 2 * y),
        extent=(-2.0, 2.0, -1.5, 1.5), start=(1.8, 1.0),
        minima=((-1.03558, 0.0), (0.96015, 0.0)))


#: The surfaces by name, for pickers in widgets and benchmarks.
SURFACES = {
    "ill-conditioned quadratic": ill_conditioned_quadratic,
    "Rosenbrock": rosenbrock,
    "saddle": saddle,
    "two minima": two_minima,
}


def trajectory(optimizer_cls, surface: Surface, start=None, steps: int = 100, *,
               gradient_noise: float = 0.0, seed: int = 0, **hyperparameters) -> np.ndarray:
    """Run ``optimizer_cls(**hyperparameters)`` on ``surface`` and return the visited points.

    The optimizer updates one two-element float64 parameter, fed the surface's analytic gradient
    (plus Gaussian noise of standard deviation ``gradient_noise``, to mimic mini-batch noise).
    Returns an array of shape (k + 1, 2): the start and the point after each of the k steps;
    k < ``steps`` when the run leaves the finite numbers (it diverged) — it stops there.
    """
    check_int("steps", steps, low=0)
    check_real("gradient_noise", gradient_noise, low=0.0)
    start = surface.start if start is None else start
    param = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    if param.shape != (2,):
        raise ValueError(f"start={start!r} must be a point (x, y)")
    optimizer = optimizer_cls([param], **hyperparameters)
    noise = gradient_noise * torch.randn(steps, 2, dtype=torch.float64,
                                         generator=torch.Generator().manual_seed(seed)).numpy()
    path = np.empty((steps + 1, 2))
    path[0] = param.detach().numpy()
    for k in range(1, steps + 1):
        # The gradient is evaluated on NumPy scalars, not tensors: the explorers redraw on every slider move,
        # and tensor overhead on two numbers would dominate the time of a trajectory.
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run ends below
            dx, dy = surface.grad(path[k - 1, 0], path[k - 1, 1])
        param.grad = torch.tensor((dx + noise[k - 1, 0], dy + noise[k - 1, 1]),
                                  dtype=torch.float64)
        optimizer.step()
        path[k] = param.detach().numpy()
        if not (math.isfinite(path[k, 0]) and math.isfinite(path[k, 1])):
            return path[:k]
    return path
