import numpy as np
import pytest
import torch

from lecture_code import surfaces
from lecture_code.optimizers import SGD, Adam


@pytest.mark.parametrize("name", sorted(surfaces.SURFACES))
def test_analytic_gradient_matches_autograd(name):
    surface = surfaces.SURFACES[name]()
    points = torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    points.requires_grad_(True)
    (autograd,) = torch.autograd.grad(surface.value(points).sum(), points)
    torch.testing.assert_close(surface.gradient(points.detach()), autograd, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(surfaces.SURFACES))
def test_listed_minima_are_stationary(name):
    surface = surfaces.SURFACES[name]()
    for point in surface.minima:
        grad = surface.gradient(torch.tensor(point, dtype=torch.float64))
        assert grad.abs().max() < 1e-3


def test_gradient_descent_on_quadratic_contracts_as_theory_says():
    """With lr = 1, the y coordinate is zeroed in one step and x shrinks by (1 - 1/κ) a step."""
    kappa = 10.0
    path = surfaces.trajectory(SGD, surfaces.ill_conditioned_quadratic(kappa), start=(1.0, 1.0),
                               steps=5, lr=1.0)
    np.testing.assert_allclose(path[:, 0], (1 - 1 / kappa) ** np.arange(6), rtol=1e-12)
    np.testing.assert_allclose(path[1:, 1], 0.0, atol=1e-15)


def test_gradient_descent_stalls_on_the_saddle_axis_and_noise_escapes():
    surface = surfaces.saddle()
    stuck = surfaces.trajectory(SGD, surface, start=(-1.5, 0.0), steps=200, lr=0.05)
    assert np.abs(stuck[-1]).max() < 1e-6
    escaped = surfaces.trajectory(SGD, surface, start=(-1.5, 0.0), steps=200, lr=0.05,
                                  gradient_noise=0.01)
    assert abs(escaped[-1, 1]) > 1.0


def test_trajectory_stops_when_it_diverges():
    path = surfaces.trajectory(SGD, surfaces.rosenbrock(), steps=500, lr=0.1)
    assert len(path) < 501 and np.isfinite(path).all()


def test_trajectory_runs_the_optimizer_classes():
    path = surfaces.trajectory(Adam, surfaces.two_minima(), start=(1.8, 1.0), steps=300, lr=0.05)
    assert path.shape == (301, 2)
    assert np.linalg.norm(path[-1] - np.array(surfaces.two_minima().minima[1])) < 0.05


@pytest.mark.parametrize("kwargs, error", [(dict(steps=-1), ValueError),
                                           (dict(gradient_noise=-0.1), ValueError),
                                           (dict(start=(1.0, 2.0, 3.0)), ValueError)])
def test_trajectory_validates_its_arguments(kwargs, error):
    with pytest.raises(error):
        surfaces.trajectory(SGD, surfaces.saddle(), **{"lr": 0.1, **kwargs})


def test_condition_number_below_one_is_refused():
    with pytest.raises(ValueError, match="condition_number"):
        surfaces.ill_conditioned_quadratic(0.5)
