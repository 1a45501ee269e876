"""The SGD chapters' measurements against hand computations, brute-force enumeration, autograd
and the published closed forms."""
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lecture_code import sgd_dynamics as ex
from lecture_code.widgets import sgd_dynamics as figures
from lecture_code.optimizers import SGD
from lecture_code.surfaces import ill_conditioned_quadratic, saddle, trajectory, two_minima
from lecture_code.training import evaluate, mlp


# --- gradient noise ----------------------------------------------------------------------------

def half_squared_error(prediction, target):
    return 0.5 * ((prediction.squeeze(-1) - target) ** 2).mean()


def scalar_problem():
    """w ↦ ½ (w·x − y)² at w = 0: the per-example gradients are −x·y = 1, 2, 3, 6."""
    model = nn.Linear(1, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        model.weight.zero_()
    x = torch.ones(4, 1, dtype=torch.float64)
    y = -torch.tensor([1.0, 2.0, 3.0, 6.0], dtype=torch.float64)
    return model, x, y


def test_exact_variance_by_hand():
    """Gradients 1, 2, 3, 6: mean 3, σ² = (4 + 1 + 0 + 9)/4 = 3.5. The six pairs have means
    1.5, 2, 3.5, 2.5, 4, 4.5, squared deviations 2.25, 1, .25, .25, 1, 2.25: mean 7/6."""
    model, x, y = scalar_problem()
    result = ex.gradient_noise_vs_batch_size(model, half_squared_error, x, y, [1, 2, 3, 4],
                                             samples=None)
    assert result.per_example_variance == pytest.approx(3.5, abs=1e-12)
    assert result.full_gradient_norm == pytest.approx(3.0, abs=1e-12)
    # B = 3: the means of the four triples are 11/3, 10/3, 3, 2: deviations² 4/9, 1/9, 0, 1.
    expected = [3.5, 7 / 6, (4 / 9 + 1 / 9 + 0 + 1) / 4, 0.0]
    np.testing.assert_allclose(result.variance, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.law_without_replacement(), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.law_with_replacement(), 3.5 / np.arange(1, 5), atol=1e-12)


def linear_regression(n=7, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(d, 1, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, d, generator=g, dtype=torch.float64))
        model.bias.copy_(torch.randn(1, generator=g, dtype=torch.float64))
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    return model, x, y


def test_enumeration_matches_an_independent_brute_force():
    model, x, y = linear_regression()
    n = len(y)
    result = ex.gradient_noise_vs_batch_size(model, half_squared_error, x, y, range(1, n + 1),
                                             samples=None)
    # Oracle: closed-form gradient of the linear model, every subset enumerated here.
    w, b = model.weight.detach()[0], model.bias.detach()[0]
    residual = x @ w + b - y
    per_example = torch.cat([residual[:, None] * x, residual[:, None]], dim=1)
    full = per_example.mean(0)
    for k, size in enumerate(range(1, n + 1)):
        deviations = [float(((per_example[list(s)].mean(0) - full) ** 2).sum())
                      for s in itertools.combinations(range(n), size)]
        assert result.variance[k] == pytest.approx(np.mean(deviations), rel=1e-10, abs=1e-14)
    sigma2 = float(((per_example - full) ** 2).sum(1).mean())
    assert result.per_example_variance == pytest.approx(sigma2, rel=1e-12)


def test_finite_population_law_on_a_linear_model():
    """Exact enumeration equals σ²/B·(N−B)/(N−1) for every B; sampling agrees statistically."""
    model, x, y = linear_regression(n=8, d=2, seed=1)
    sizes = list(range(1, 9))
    exact = ex.gradient_noise_vs_batch_size(model, half_squared_error, x, y, sizes, samples=None)
    np.testing.assert_allclose(exact.variance, exact.law_without_replacement(), rtol=1e-10,
                               atol=1e-14)
    sampled = ex.gradient_noise_vs_batch_size(model, half_squared_error, x, y, [1, 2, 4, 6],
                                              samples=4000,
                                              generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(sampled.variance, sampled.law_without_replacement(), rtol=0.08)
    # ... and not the i.i.d. law, which overestimates by (N−1)/(N−B) = 7/2 at B = 6.
    assert sampled.variance[-1] < 0.5 * sampled.law_with_replacement()[-1]


def test_one_over_b_slope_on_a_larger_linear_model():
    model, x, y = linear_regression(n=400, d=5, seed=2)
    result = ex.gradient_noise_vs_batch_size(model, half_squared_error, x, y, [1, 2, 4, 8, 16],
                                             samples=400,
                                             generator=torch.Generator().manual_seed(1))
    assert result.fitted_slope() == pytest.approx(-1.0, abs=0.1)


def test_per_example_gradients_match_a_loop():
    torch.manual_seed(0)
    model = mlp([5, 7, 3])
    x, y = torch.randn(6, 5), torch.randint(0, 3, (6,))
    each = ex.per_example_gradients(model, F.cross_entropy, x, y)
    for i in range(6):
        torch.testing.assert_close(each[i], ex.flat_gradient(model, F.cross_entropy, x[i:i + 1],
                                                             y[i:i + 1]), rtol=1e-5, atol=1e-6)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_sizes=[0]), "batch_sizes"), (dict(batch_sizes=[5]), "batch_sizes"),
    (dict(batch_sizes=[]), "empty"), (dict(batch_sizes=[1], samples=0), "samples"),
])
def test_gradient_noise_rejects_bad_arguments(kwargs, message):
    model, x, y = scalar_problem()
    kwargs.setdefault("samples", 3)
    with pytest.raises(ValueError, match=message):
        ex.gradient_noise_vs_batch_size(model, half_squared_error, x, y, **kwargs)


def test_enumeration_refuses_too_many_subsets():
    model, x, y = linear_regression(n=30)
    with pytest.raises(ValueError, match="max_subsets"):
        ex.gradient_noise_vs_batch_size(model, half_squared_error, x, y, [15], samples=None)


# --- budgeted training runs --------------------------------------------------------------------

@pytest.mark.parametrize("n, b", [(10, 3), (10, 10), (12, 4), (7, 1)])
def test_example_counting_matches_minibatches(n, b):
    from lecture_code.training import minibatches
    sizes = [len(i) for _ in range(3) for i in minibatches(n, b)]
    for steps in range(len(sizes) + 1):
        assert ex.examples_after(steps, n, b) == sum(sizes[:steps])
    for examples in range(1, 3 * n + 1):
        steps = ex.steps_for_examples(examples, n, b)
        assert sum(sizes[:steps]) >= examples > sum(sizes[:steps - 1])


def test_run_with_budget_records_the_full_training_loss():
    torch.manual_seed(0)
    x, y = torch.randn(50, 4), torch.randint(0, 3, (50,))
    model = mlp([4, 8, 3])
    curve = ex.run_with_budget(model, SGD(model.parameters(), lr=0.1), (x, y), batch_size=8,
                               examples=120, points=10,
                               generator=torch.Generator().manual_seed(0))
    assert curve.examples[0] == 0 and curve.updates[0] == 0 and curve.examples[-1] >= 120
    assert curve.updates[-1] == ex.steps_for_examples(120, 50, 8)
    assert np.all(np.diff(curve.updates) > 0) and np.all(np.diff(curve.seconds) >= 0)
    assert curve.loss[-1] == pytest.approx(evaluate(model, x, y)["loss"], rel=1e-6)
    assert not curve.diverged and curve.lr == 0.1 and curve.batch_size == 8


def test_full_batch_run_and_divergence():
    torch.manual_seed(0)
    x, y = torch.randn(40, 4), torch.randint(0, 3, (40,))
    model = mlp([4, 8, 3])
    curve = ex.run_with_budget(model, SGD(model.parameters(), lr=0.1), (x, y), batch_size=None,
                               examples=200)
    assert list(curve.updates) == [0, 1, 2, 3, 4, 5] and curve.batch_size == 40
    model = mlp([4, 8, 3])
    blown = ex.run_with_budget(model, SGD(model.parameters(), lr=1e30), (x, y), batch_size=4,
                               examples=400)
    assert blown.diverged and blown.final_loss == float("inf")


def test_loss_curve_grid_and_its_figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    curves = ex.loss_curve_grid(lambda: mlp([4, 6, 3]), (x, y), [4, 16], [0.1, 0.3], examples=64)
    assert set(curves) == {(4, 0.1), (4, 0.3), (16, 0.1), (16, 0.3)}
    # same seed → same initial weights → same initial loss for every run
    assert len({round(c.loss[0], 10) for c in curves.values()}) == 1
    axes = figures.plot_loss_curves(curves, 16, 0.3)
    assert axes[0].get_xlabel() and axes[0].get_legend() is not None
    plt.close("all")
    with pytest.raises(ValueError, match="batch_size"):
        figures.plot_loss_curves(curves, 8, 0.3)
    assert figures.batch_size_explorer(curves, 4, 0.1) is not None
    plt.close("all")


def test_figures_fit_the_column_and_keep_one_size_with_text_of_at_least_8_pt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lecture_code.plotting import SMALLEST_TEXT_KEY, figure_png, png_size, png_text
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    curves = ex.loss_curve_grid(lambda: mlp([4, 6, 3]), (x, y), [4, 16], [0.1, 1e30],
                                examples=64)
    pngs = [figure_png(figures.loss_curves_figure(curves, b, r)) for b, r in curves]
    pngs += [figure_png(figures.conditioning_figure(k, lr, 20)) for k, lr in
             [(1, 1.0), (20, 1.8), (100, 2.05)]]
    for png in pngs:
        points, _, dpi, _ = png_text(png)[SMALLEST_TEXT_KEY].split()
        assert float(points) >= figures.SMALL == 8
        # drawn at 2x and shown at half its width: at most the 798 px of the output column
        assert png_size(png)[0] / 2 <= 798
    # the whole canvas is kept, so an explorer's frames do not change size between settings
    assert len({png_size(png) for png in pngs}) == 1
    assert plt.get_fignums() == []


def test_batch_size_frames_one_frame_per_run_starting_at_the_chosen_one():
    import matplotlib
    matplotlib.use("Agg")
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    curves = ex.loss_curve_grid(lambda: mlp([4, 6, 3]), (x, y), [4, 16], [0.1, 0.3],
                                examples=64)
    explorer = figures.batch_size_frames(curves, batch_size=16, lr=0.1)
    assert len(explorer.frames) == 4
    assert [c.values for c in explorer.controls] == [(4, 16), (0.1, 0.3)]
    assert explorer.start == 2                                  # (B = 16, α = 0.1), row-major
    assert explorer.alt(2).endswith("(batch size B: 16, learning rate α: 0.1)")
    assert figures.batch_size_frames(curves).start == 3         # the middle of the grid
    with pytest.raises(ValueError, match="batch_size=8"):
        figures.batch_size_frames(curves, batch_size=8, lr=0.1)


# --- 2-D surfaces ------------------------------------------------------------------------------

def test_parallel_trajectories_equal_single_ones():
    surface = two_minima()
    starts = np.array([[1.8, 1.0], [-1.5, 0.5], [0.1, -1.0]])
    paths = ex.parallel_trajectories(SGD, surface, starts, 50, lr=0.05, momentum=0.5)
    for m, start in enumerate(starts):
        np.testing.assert_array_equal(paths[:, m],
                                      trajectory(SGD, surface, tuple(start), 50, lr=0.05,
                                                 momentum=0.5))
    noisy = ex.parallel_trajectories(SGD, surface, starts[:1], 30, gradient_noise=0.7, seed=3,
                                     lr=0.05)
    np.testing.assert_array_equal(noisy[:, 0], trajectory(SGD, surface, tuple(starts[0]), 30,
                                                          gradient_noise=0.7, seed=3, lr=0.05))
    with pytest.raises(ValueError, match="starts"):
        ex.parallel_trajectories(SGD, surface, [1.0, 2.0], 5, lr=0.1)


@pytest.mark.parametrize("kappa", [1, 2, 5, 10, 50, 200])
def test_gd_steps_on_the_quadratic_match_theory(kappa):
    surface = ill_conditioned_quadratic(kappa)
    tol = 1e-6
    lr = ex.best_fixed_step(kappa)
    theory = ex.gd_steps_theory(kappa, tol)
    path = trajectory(SGD, surface, steps=theory + 5, lr=lr)
    assert abs(ex.steps_to_tolerance(path, (0, 0), tol) - theory) <= 1
    if kappa > 1:   # both coordinates contract by exactly (κ−1)/(κ+1)
        rho = (kappa - 1) / (kappa + 1)
        np.testing.assert_allclose(np.abs(path[1:11]), np.abs(path[:10]) * rho, rtol=1e-9)
        assert theory == pytest.approx(kappa / 2 * math.log(1 / tol), rel=0.15 if kappa >= 5 else 1)


def test_steps_to_tolerance_none_when_never_reached():
    assert ex.steps_to_tolerance(np.array([[1.0, 0.0], [0.9, 0.0]]), (0, 0), 0.5) is None
    assert ex.steps_to_tolerance(np.array([[1.0, 0.0], [0.5, 0.0]]), (0, 0), 0.5) == 1


def test_noise_ball_radius_matches_simulation():
    surface = ill_conditioned_quadratic(4.0)
    lr, sigma = 0.2, 0.5
    starts = np.zeros((400, 2))
    paths = ex.parallel_trajectories(SGD, surface, starts, 600, gradient_noise=sigma, seed=0,
                                     lr=lr)
    rms = np.sqrt((paths[200:] ** 2).sum(-1).mean())
    assert rms == pytest.approx(ex.noise_ball_radius([0.25, 1.0], lr, sigma), rel=0.05)
    # by hand: v = ασ²/(λ(2−αλ)) = 0.05/(0.25·1.95) + 0.05/(1·1.8)
    assert ex.noise_ball_radius([0.25, 1.0], lr, sigma) == pytest.approx(
        math.sqrt(0.05 / (0.25 * 1.95) + 0.05 / 1.8))
    with pytest.raises(ValueError, match="diverges"):
        ex.noise_ball_radius([1.0], 2.5, 1.0)


def test_plot_conditioning_and_explorer():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    axes = figures.plot_conditioning(10, 1.0, 20)
    assert axes[1].get_yscale() == "log" and axes[0].get_legend() is not None
    assert figures.conditioning_explorer(5, 0.5, 10) is not None
    plt.close("all")


def test_plot_conditioning_draws_a_coordinate_that_lands_on_zero_and_says_so():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    # α = 1 zeroes the steep coordinate in one step; at κ = 1 the shallow one too
    _, right = figures.plot_conditioning(1, 1.0, 10)
    steep, shallow = right.get_lines()
    assert steep.get_ydata()[0] == 3 and shallow.get_ydata()[0] == 9
    assert np.all(steep.get_ydata()[1:] == figures.ZERO_FLOOR)
    assert np.all(shallow.get_ydata()[1:] == figures.ZERO_FLOOR)
    labels = [t.get_text() for t in right.get_legend().get_texts()]
    assert all("exactly 0 from step 1" in label for label in labels)
    assert right.get_ylim()[0] < figures.ZERO_FLOOR           # the floor is in view
    plt.close("all")
    _, right = figures.plot_conditioning(20, 1.8, 30)           # nothing lands: no floor
    assert not any("exactly 0" in t.get_text() for t in right.get_legend().get_texts())
    assert np.all(right.get_lines()[0].get_ydata() > figures.ZERO_FLOOR)
    plt.close("all")


def test_power_of_ten_labels_in_plain_text():
    assert figures.power_of_ten(1e-16) == "10⁻¹⁶"
    assert figures.power_of_ten(1.0) == "10⁰" and figures.power_of_ten(1000) == "10³"
    assert figures.power_of_ten(30) == "3×10¹" and figures.power_of_ten(0.002) == "2×10⁻³"
    with pytest.raises(ValueError):
        figures.power_of_ten(0.0)
    formatter = figures.PowerOfTenFormatter()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    _, ax = plt.subplots()
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 1e2)
    ax.yaxis.set_major_formatter(formatter)
    assert formatter(1e-2) == "10⁻²" and "$" not in formatter(10.0)
    plt.close("all")


def test_conditioning_frames_over_kappa_and_lr():
    import matplotlib
    matplotlib.use("Agg")
    explorer = figures.conditioning_frames([1, 20], [1.0, 1.8, 2.05], steps=10,
                                           condition_number=20, lr=1.8)
    assert len(explorer.frames) == 6 and explorer.start == 4    # (κ = 20, α = 1.8)
    assert len(set(explorer.frames)) == 6                       # no control does nothing
    assert explorer.alt(4).endswith("(condition κ: 20, learning rate α: 1.8)")
    assert "10 steps" in explorer.description
    with pytest.raises(ValueError, match="condition_number=5"):
        figures.conditioning_frames([1, 20], [1.0], condition_number=5)
    with pytest.raises(ValueError, match="lr=0.5"):
        figures.conditioning_frames([1, 20], [1.0], lr=0.5)


# --- saddles in high dimension -----------------------------------------------------------------

def test_goe_minimum_fraction_known_values():
    """n = 1: P = 1/2. n = 2: integrating the GOE's joint eigenvalue density
    ∝ |λ1 − λ2| exp(−(λ1² + λ2²)/2) in polar coordinates gives P(λ1, λ2 > 0) = (2 − √2)/4."""
    result = ex.goe_minimum_fraction([1, 2, 3], samples=100_000, seed=0)
    se = result.standard_error()
    assert abs(result.minima_fraction[0] - 0.5) < 4 * se[0]
    assert abs(result.minima_fraction[1] - (2 - math.sqrt(2)) / 4) < 4 * se[1]
    assert result.minima_fraction[2] < 0.125 / 3          # far below the coin-flip 2⁻³
    np.testing.assert_allclose(result.positive_eigenvalue_fraction, 0.5, atol=0.01)


def test_goe_minimum_fraction_by_direct_sampling():
    """The chunked, vectorised count equals one eigen-decomposition per matrix, same draws."""
    result = ex.goe_minimum_fraction([3], samples=500, seed=5, chunk=128)
    rng = np.random.default_rng(5)
    count, done = 0, 0
    while done < 500:
        m = min(128, 500 - done)
        a = rng.standard_normal((m, 3, 3))
        for one in a:
            count += bool(np.all(np.linalg.eigvalsh((one + one.T) / 2) > 0))
        done += m
    assert result.minima_fraction[0] == count / 500


def test_goe_fitted_rate_on_exact_gaussian_data():
    fake = ex.MinimumFraction(np.arange(1, 6), np.exp(-0.3 * np.arange(1, 6) ** 2 + 0.1),
                              np.full(5, 0.5), 10)
    assert fake.fitted_gaussian_rate() == pytest.approx(0.3)


def test_random_field_derivatives_match_autograd():
    field = ex.RandomField(3, features=20, seed=1)
    x = np.random.default_rng(0).normal(size=(4, 3))
    w, b, a = (torch.from_numpy(v) for v in (field.w, field.b, field.a))

    def f(point):
        return torch.cos(point @ w.T + b) @ a

    for i in range(4):
        point = torch.from_numpy(x[i])
        assert field.value(x[i:i + 1])[0] == pytest.approx(f(point).item(), rel=1e-12)
        np.testing.assert_allclose(field.gradient(x[i:i + 1])[0],
                                   torch.func.grad(f)(point).numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(field.hessian(x[i:i + 1])[0],
                                   torch.func.hessian(f)(point).numpy(), rtol=1e-10, atol=1e-12)


def test_critical_points_are_critical_and_their_index_is_right():
    field = ex.RandomField(3, features=40, seed=0)
    found = ex.critical_points(field, starts=200, seed=0)
    assert len(found.points) > 10
    assert np.all(np.linalg.norm(field.gradient(found.points), axis=1) < 1e-8)
    index = [np.mean(np.linalg.eigvalsh(h) < 0) for h in field.hessian(found.points)]
    np.testing.assert_allclose(found.index, index)
    # distinct points
    d = np.linalg.norm(found.points[:, None] - found.points[None], axis=-1)
    assert np.all(d[~np.eye(len(d), dtype=bool)] > 1e-5)
    # in a random landscape, low critical points are minima-like, high ones maxima-like
    assert np.corrcoef(found.values, found.index)[0, 1] > 0.5


def test_saddle_gd_on_axis_stays_on_axis():
    path = trajectory(SGD, saddle(), (-1.8, 0.0), 200, lr=0.1)
    assert np.all(path[:, 1] == 0.0) and abs(path[-1, 0]) < 1e-15
