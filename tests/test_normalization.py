"""Tests of lecture_code.normalization against torch.nn and the papers' equations (float64)."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.autograd.gradcheck import GradcheckError
from torch.nn.utils.parametrizations import weight_norm as torch_weight_norm

from lecture_code.normalization import (BATCH, INSTANCE, LAYER, BatchNorm, DecorrelatedBatchNorm,
                                        GroupNorm, Grouping, InstanceNorm, LayerNorm, group,
                                        normalize, normalized_mlp, preactivations,
                                        recompute_batch_norm_statistics, weight_norm)

TOL = dict(rtol=0.0, atol=1e-10)
DOUBLE = torch.float64


def _per_channel(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-channel vector broadcast to the shape of ``like`` (torch's LayerNorm((C,H,W)))."""
    return values.reshape(like.shape[:1] + (1,) * (like.dim() - 1)).expand_as(like)


def _randomise_affine(mine: nn.Module, reference: nn.Module, gen: torch.Generator) -> None:
    """Give both layers the same non-trivial scale and shift (γ=1, β=0 would hide bugs)."""
    with torch.no_grad():
        weight = 1.0 + 0.5 * torch.randn(mine.weight.shape, generator=gen, dtype=DOUBLE)
        bias = torch.randn(mine.bias.shape, generator=gen, dtype=DOUBLE)
        mine.weight.copy_(weight)
        mine.bias.copy_(bias)
        reference.weight.copy_(_per_channel(weight, reference.weight))
        reference.bias.copy_(_per_channel(bias, reference.bias))


def _compare_steps(mine: nn.Module, reference: nn.Module, shape, gen, steps: int = 4,
                   affine_per_element: bool = False) -> None:
    """Several SGD steps on random batches: outputs, all gradients and buffers must agree."""
    mine, reference = mine.to(DOUBLE), reference.to(DOUBLE)
    params, params_ref = list(mine.parameters()), list(reference.parameters())
    assert len(params) == len(params_ref)
    for step in range(steps):
        # a different mean and scale every step, so that running averages actually move
        x = (3.0 * torch.randn(shape, generator=gen, dtype=DOUBLE) + step).requires_grad_()
        x_ref = x.detach().clone().requires_grad_()
        y, y_ref = mine(x), reference(x_ref)
        torch.testing.assert_close(y, y_ref, **TOL)
        upstream = torch.randn(y.shape, generator=gen, dtype=DOUBLE)
        (y * upstream).sum().backward()
        (y_ref * upstream).sum().backward()
        torch.testing.assert_close(x.grad, x_ref.grad, **TOL)
        for p, p_ref in zip(mine.parameters(), reference.parameters()):
            grad_ref = p_ref.grad
            if affine_per_element:   # torch's LayerNorm((C,H,W)) has one γ per element
                grad_ref = grad_ref.reshape(grad_ref.shape[0], -1).sum(1)
            torch.testing.assert_close(p.grad, grad_ref, **TOL)
        with torch.no_grad():   # one SGD step on both (per-channel step copied if per-element)
            for p, p_ref in zip(params, params_ref):
                p.sub_(0.1 * p.grad)
                if affine_per_element:
                    p_ref.copy_(_per_channel(p, p_ref))
                else:
                    p_ref.sub_(0.1 * p_ref.grad)
                p.grad, p_ref.grad = None, None
        for name, buffer in mine.named_buffers():
            torch.testing.assert_close(buffer, reference.get_buffer(name), **TOL)


# ---------------------------------------------------------------------------- batch norm

@pytest.mark.parametrize("shape, reference, momentum, affine", [
    ((16, 5), nn.BatchNorm1d, 0.1, True),
    ((16, 5), nn.BatchNorm1d, 0.3, False),
    ((6, 5, 7), nn.BatchNorm1d, 0.1, True),
    ((4, 5, 3, 6), nn.BatchNorm2d, 0.1, True),
    ((2, 5, 3, 3), nn.BatchNorm2d, 0.9, True),
])
def test_batch_norm_matches_torch_in_training_and_eval(shape, reference, momentum, affine):
    gen = torch.Generator().manual_seed(0)
    mine = BatchNorm(shape[1], eps=1e-3, momentum=momentum, affine=affine)
    ref = reference(shape[1], eps=1e-3, momentum=momentum, affine=affine)
    if affine:
        _randomise_affine(mine, ref, gen)
    _compare_steps(mine, ref, shape, gen)
    assert int(mine.num_batches_tracked) == 4
    mine.eval(), ref.eval()
    x = 2.0 * torch.randn(shape, generator=gen, dtype=DOUBLE) - 1.0
    torch.testing.assert_close(mine(x), ref(x), **TOL)


def test_batch_norm_running_variance_is_unbiased():
    x = torch.tensor([[0.0], [2.0]], dtype=DOUBLE)   # biased variance 1, unbiased 2
    layer = BatchNorm(1, momentum=1.0).to(DOUBLE)
    layer(x)
    assert layer.running_mean.item() == pytest.approx(1.0)
    assert layer.running_var.item() == pytest.approx(2.0)


def test_batch_norm_normalises_each_channel_of_the_batch():
    gen = torch.Generator().manual_seed(1)
    x = 5.0 + 3.0 * torch.randn(32, 4, 3, 3, generator=gen, dtype=DOUBLE)
    y = BatchNorm(4, eps=1e-12).to(DOUBLE)(x)
    torch.testing.assert_close(y.mean((0, 2, 3)), torch.zeros(4, dtype=DOUBLE), **TOL)
    torch.testing.assert_close(y.var((0, 2, 3), unbiased=False), torch.ones(4, dtype=DOUBLE),
                               rtol=0, atol=1e-9)


def test_batch_norm_eval_is_independent_of_batch_mates_and_train_is_not():
    gen = torch.Generator().manual_seed(2)
    layer = BatchNorm(3).to(DOUBLE)
    layer(torch.randn(64, 3, generator=gen, dtype=DOUBLE))
    sample = torch.randn(1, 3, generator=gen, dtype=DOUBLE)
    mates_a, mates_b = (torch.randn(7, 3, generator=gen, dtype=DOUBLE) for _ in range(2))
    train_a = layer(torch.cat([sample, mates_a]))[0]
    train_b = layer(torch.cat([sample, mates_b]))[0]
    assert (train_a - train_b).abs().max() > 1e-3
    layer.eval()
    torch.testing.assert_close(layer(torch.cat([sample, mates_a]))[0],
                               layer(torch.cat([sample, mates_b]))[0], **TOL)
    torch.testing.assert_close(layer(torch.cat([sample, mates_a]))[0], layer(sample)[0], **TOL)


def test_identity_recovery_with_gamma_and_beta():
    gen = torch.Generator().manual_seed(3)
    x = 4.0 + 2.0 * torch.randn(50, 6, generator=gen, dtype=DOUBLE)
    layer = BatchNorm(6, eps=1e-5).to(DOUBLE)
    with torch.no_grad():
        layer.weight.copy_((x.var(0, unbiased=False) + layer.eps).sqrt())
        layer.bias.copy_(x.mean(0))
    torch.testing.assert_close(layer(x), x, **TOL)


# ------------------------------------------------------------ the hand-written backward pass

@pytest.mark.parametrize("grouping, shape", [
    (BATCH, (6, 3)), (BATCH, (3, 2, 2, 3)), (LAYER, (3, 4, 2, 2)), (INSTANCE, (2, 3, 2, 3)),
    (group(2), (2, 4, 3)),
])
def test_gradcheck_of_hand_written_backward(grouping, shape):
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(shape, generator=gen, dtype=DOUBLE, requires_grad=True)
    weight = torch.randn(shape[1], generator=gen, dtype=DOUBLE, requires_grad=True)
    bias = torch.randn(shape[1], generator=gen, dtype=DOUBLE, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: normalize(x, grouping, w, b, eps=1e-3)[0].sin(), (x, weight, bias),
        eps=1e-6, atol=1e-7)
    assert torch.autograd.gradcheck(lambda x: normalize(x, grouping, eps=1e-3)[0].sin(), (x,),
                                    eps=1e-6, atol=1e-7)


def test_gradcheck_detects_a_wrong_backward(monkeypatch):
    """The gradcheck above can fail: drop the variance path and it must."""
    from lecture_code import normalization as module

    def broken(ctx, grad_y, grad_mean, grad_var):
        xhat, inv_std, weight = ctx.saved_tensors
        g = grad_y.reshape(xhat.shape)
        grad_x = inv_std * (g - g.mean(ctx.reduced_dims, keepdim=True))   # no x̂ term
        return grad_x.reshape(grad_y.shape), None, None, None, None, None

    monkeypatch.setattr(module.NormalizeFunction, "backward", staticmethod(broken))
    x = torch.randn(6, 3, dtype=DOUBLE, requires_grad=True)
    with pytest.raises(GradcheckError):
        torch.autograd.gradcheck(lambda x: normalize(x, BATCH)[0].sin(), (x,))


# ------------------------------------------------------------ layer, instance, group norm

@pytest.mark.parametrize("shape", [(5, 6), (3, 6, 4, 5)])
def test_layer_norm_matches_torch(shape):
    gen = torch.Generator().manual_seed(5)
    mine = LayerNorm(shape[1], eps=1e-4)
    ref = nn.LayerNorm(shape[1:], eps=1e-4)
    _randomise_affine(mine, ref, gen)
    _compare_steps(mine, ref, shape, gen, steps=2, affine_per_element=len(shape) > 2)
    mine.eval(), ref.eval()
    x = torch.randn(shape, generator=gen, dtype=DOUBLE)
    torch.testing.assert_close(mine(x), ref(x), **TOL)


def test_instance_norm_matches_torch():
    gen = torch.Generator().manual_seed(6)
    mine, ref = InstanceNorm(4, eps=1e-4), nn.InstanceNorm2d(4, eps=1e-4, affine=True)
    _randomise_affine(mine, ref, gen)
    _compare_steps(mine, ref, (3, 4, 5, 5), gen, steps=2)
    mine.eval(), ref.eval()
    x = torch.randn(3, 4, 5, 5, generator=gen, dtype=DOUBLE)
    torch.testing.assert_close(mine(x), ref(x), **TOL)


@pytest.mark.parametrize("num_groups, shape", [(1, (3, 6, 4, 4)), (2, (3, 6, 4, 4)),
                                               (3, (2, 6, 5)), (6, (3, 6, 4, 4)), (2, (5, 6))])
def test_group_norm_matches_torch(num_groups, shape):
    gen = torch.Generator().manual_seed(7)
    mine, ref = GroupNorm(num_groups, 6, eps=1e-4), nn.GroupNorm(num_groups, 6, eps=1e-4)
    _randomise_affine(mine, ref, gen)
    _compare_steps(mine, ref, shape, gen, steps=2)


def test_group_norm_extremes_are_layer_and_instance_norm():
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(3, 6, 4, 5, generator=gen, dtype=DOUBLE)
    one_group = GroupNorm(1, 6, affine=False)(x)
    torch.testing.assert_close(one_group, nn.functional.layer_norm(x, x.shape[1:], eps=1e-5),
                               **TOL)
    torch.testing.assert_close(one_group, LayerNorm(6, affine=False)(x), **TOL)
    c_groups = GroupNorm(6, 6, affine=False)(x)
    torch.testing.assert_close(c_groups, nn.functional.instance_norm(x, eps=1e-5), **TOL)
    torch.testing.assert_close(c_groups, InstanceNorm(6, affine=False)(x), **TOL)
    assert (one_group - c_groups).abs().max() > 0.1   # the two extremes really differ


@pytest.mark.parametrize("grouping, count", [(BATCH, 6), (LAYER, 2), (INSTANCE, 12),
                                             (group(3), 6)])
def test_labels_describe_what_normalize_computes(grouping, count):
    """The picture's labels: every labelled set has mean 0 and variance 1 after normalize."""
    gen = torch.Generator().manual_seed(9)
    x = 3.0 + torch.randn(2, 6, 2, 4, generator=gen, dtype=DOUBLE) * torch.arange(1, 7).reshape(
        1, 6, 1, 1)
    labels = torch.as_tensor(grouping.labels(x.shape)).reshape(-1)
    assert len(labels.unique()) == count
    y = normalize(x, grouping, eps=1e-12)[0].reshape(2, 6, -1).reshape(-1)
    for label in labels.unique():
        values = y[labels == label]
        assert abs(values.mean().item()) < 1e-9
        assert values.var(unbiased=False).item() == pytest.approx(1.0, abs=1e-8)


# ------------------------------------------------------------------------------ weight norm

@pytest.mark.parametrize("make, shape", [(lambda: nn.Linear(5, 3), (4, 5)),
                                         (lambda: nn.Conv2d(2, 3, 3), (2, 2, 5, 5))])
def test_weight_norm_matches_torch(make, shape):
    gen = torch.Generator().manual_seed(10)
    torch.manual_seed(0)
    layer = make().to(DOUBLE)
    mine, ref = weight_norm(copy.deepcopy(layer)), torch_weight_norm(copy.deepcopy(layer))
    assert set(mine.state_dict()) == set(ref.state_dict())
    torch.testing.assert_close(mine.weight, layer.weight, **TOL)   # same function at first
    with torch.no_grad():   # move g and v away from their initial values, identically
        for name, p in ref.named_parameters():
            p.mul_(1.0 + 0.3 * torch.rand(p.shape, generator=gen, dtype=DOUBLE))
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(shape, generator=gen, dtype=DOUBLE)
    y, y_ref = mine(x), ref(x)
    torch.testing.assert_close(y, y_ref, **TOL)
    upstream = torch.randn(y.shape, generator=gen, dtype=DOUBLE)
    (y * upstream).sum().backward()
    (y_ref * upstream).sum().backward()
    for (name, p), (_, p_ref) in zip(mine.named_parameters(), ref.named_parameters()):
        torch.testing.assert_close(p.grad, p_ref.grad, **TOL, msg=name)


def test_weight_norm_length_is_g_and_direction_is_free_of_scale():
    layer = weight_norm(nn.Linear(4, 3).to(DOUBLE))
    g = layer.parametrizations.weight.original0
    v = layer.parametrizations.weight.original1
    with torch.no_grad():
        g.copy_(torch.tensor([[0.5], [2.0], [3.0]], dtype=DOUBLE))
    torch.testing.assert_close(layer.weight.norm(dim=1), g.reshape(-1), **TOL)
    before = layer.weight.detach().clone()
    with torch.no_grad():
        v.mul_(7.0)
    torch.testing.assert_close(layer.weight, before, **TOL)


# ------------------------------------------------------------------ decorrelated batch norm

def test_decorrelated_batch_norm_whitens_the_batch():
    gen = torch.Generator().manual_seed(11)
    mixing = torch.randn(5, 5, generator=gen, dtype=DOUBLE)
    x = torch.randn(400, 5, generator=gen, dtype=DOUBLE) @ mixing + 2.0
    assert (torch.cov(x.T) - torch.eye(5, dtype=DOUBLE)).abs().max() > 0.5   # correlated input
    y = DecorrelatedBatchNorm(5, eps=1e-9).to(DOUBLE)(x)
    cov = torch.cov(y.T, correction=0)
    torch.testing.assert_close(cov, torch.eye(5, dtype=DOUBLE), rtol=0, atol=1e-6)
    # ordinary batch norm standardises but leaves the correlations in place
    z = BatchNorm(5).to(DOUBLE)(x)
    assert (torch.cov(z.T, correction=0) - torch.eye(5, dtype=DOUBLE)).abs().max() > 0.1


def test_decorrelated_batch_norm_is_zca_and_keeps_running_statistics():
    gen = torch.Generator().manual_seed(12)
    layer = DecorrelatedBatchNorm(3, eps=1e-6, momentum=0.5).to(DOUBLE)
    mixing = torch.tensor([[2.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.5]], dtype=DOUBLE)
    batches = [torch.randn(64, 3, generator=gen, dtype=DOUBLE) @ mixing + 1.0 for _ in range(2)]
    expected_mean = torch.zeros(3, dtype=DOUBLE)
    expected_whitening = torch.eye(3, dtype=DOUBLE)
    for x in batches:
        y = layer(x)
        centred = x - x.mean(0)
        cov = centred.T @ centred / len(x) + 1e-6 * torch.eye(3, dtype=DOUBLE)
        # ZCA: the symmetric inverse square root, checked by squaring it
        whitening = layer.whitening_matrix(x)[1]
        torch.testing.assert_close(whitening, whitening.T, **TOL)
        torch.testing.assert_close(whitening @ cov @ whitening, torch.eye(3, dtype=DOUBLE),
                                   rtol=0, atol=1e-9)
        torch.testing.assert_close(y, centred @ whitening, **TOL)
        expected_mean = 0.5 * expected_mean + 0.5 * x.mean(0)
        expected_whitening = 0.5 * expected_whitening + 0.5 * whitening
    torch.testing.assert_close(layer.running_mean, expected_mean, **TOL)
    torch.testing.assert_close(layer.running_whitening, expected_whitening, **TOL)
    layer.eval()
    x = torch.randn(5, 3, generator=gen, dtype=DOUBLE)
    torch.testing.assert_close(layer(x), (x - expected_mean) @ expected_whitening, **TOL)
    torch.testing.assert_close(layer(x[:1]), layer(x)[:1], **TOL)


# ------------------------------------------------------------------------------ the errors

@pytest.mark.parametrize("build, x, error, words", [
    (lambda: BatchNorm(3), torch.randn(1, 3), ValueError, ["batch of one", "no variance"]),
    (lambda: BatchNorm(3), torch.randn(3), ValueError, ["input.dim()=1", "(N, C, H, W)"]),
    (lambda: BatchNorm(3), torch.randn(2, 3, 2, 2, 2), ValueError, ["input.dim()=5"]),
    (lambda: BatchNorm(3), torch.randn(4, 5, 2, 2), ValueError, ["input.shape[1]=5", "3"]),
    (lambda: GroupNorm(2, 4), torch.randn(4, 6, 2, 2), ValueError, ["input.shape[1]=6"]),
    (lambda: InstanceNorm(4), torch.randn(5, 4), ValueError, ["single value"]),
    (lambda: DecorrelatedBatchNorm(3), torch.randn(4, 3, 2, 2), ValueError, ["input.dim()=4"]),
    (lambda: DecorrelatedBatchNorm(3), torch.randn(1, 3), ValueError, ["batch of one"]),
    (lambda: BatchNorm(3), [[1.0, 2.0, 3.0]], TypeError, ["torch.Tensor"]),
    (lambda: BatchNorm(3), torch.ones(4, 3, dtype=torch.long), TypeError, ["floating-point"]),
])
def test_input_errors(build, x, error, words):
    with pytest.raises(error) as info:
        build()(x)
    for word in words:
        assert word in str(info.value)


def test_batch_of_one_is_fine_in_eval_mode():
    layer = BatchNorm(3).eval()
    assert layer(torch.randn(1, 3)).shape == (1, 3)


@pytest.mark.parametrize("build, error, words", [
    (lambda: BatchNorm(3, eps=0.0), ValueError, ["eps=0.0", "0.0 < eps"]),
    (lambda: LayerNorm(3, eps=-1e-5), ValueError, ["eps=-1e-05"]),
    (lambda: DecorrelatedBatchNorm(3, eps=0), ValueError, ["eps=0"]),
    (lambda: BatchNorm(3, momentum=1.5), ValueError, ["momentum=1.5"]),
    (lambda: BatchNorm(0), ValueError, ["num_features=0"]),
    (lambda: BatchNorm(3, affine=1), TypeError, ["affine"]),
    (lambda: GroupNorm(4, 6), ValueError, ["num_channels=6", "num_groups=4", "[1, 2, 3, 6]"]),
    (lambda: GroupNorm(0, 6), ValueError, ["num_groups=0"]),
    (lambda: weight_norm(nn.ReLU()), TypeError, ["ReLU"]),
    (lambda: weight_norm(nn.Linear(2, 2), name="bais"), ValueError, ["'bais'"]),
    (lambda: normalize(torch.randn(4, 3), BATCH, weight=torch.ones(4)), ValueError,
     ["weight.shape=(4,)"]),
    (lambda: normalize(torch.randn(4, 3), "batch"), TypeError, ["Grouping"]),
    (lambda: normalized_mlp([4, 3], norm="weird"), ValueError, ["norm='weird'"]),
])
def test_argument_errors(build, error, words):
    with pytest.raises(error) as info:
        build()
    for word in words:
        assert word in str(info.value)


def test_recompute_batch_norm_statistics_averages_the_batches():
    gen = torch.Generator().manual_seed(13)
    model = nn.Sequential(BatchNorm(3, momentum=0.1)).to(DOUBLE).eval()
    x = 2.0 + torch.randn(40, 3, generator=gen, dtype=DOUBLE)
    recompute_batch_norm_statistics(model, x, batch_size=20)
    halves = x.split(20)
    layer = model[0]
    torch.testing.assert_close(layer.running_mean, x.mean(0), **TOL)
    torch.testing.assert_close(layer.running_var, sum(h.var(0) for h in halves) / 2, **TOL)
    assert layer.momentum == 0.1 and not model.training   # restored
    with pytest.raises(ValueError, match="no BatchNorm"):
        recompute_batch_norm_statistics(nn.Linear(2, 2), x)


def test_preactivations_are_the_inputs_of_the_relus():
    torch.manual_seed(0)
    model = normalized_mlp([4, 5, 6, 2], norm=None, init="he")
    x = torch.randn(3, 4)
    values = preactivations(model, x)
    assert [tuple(v.shape) for v in values] == [(3, 5), (3, 6)]
    torch.testing.assert_close(values[0], model[0](x))
    torch.testing.assert_close(values[1], model[2](torch.relu(model[0](x))))
    assert all(b.abs().max() == 0 for b in (model[0].bias, model[2].bias))   # He init: zero bias


def test_normalized_mlp_has_the_requested_layers():
    model = normalized_mlp([8, 16, 16, 3], norm="group", num_groups=4)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "GroupNorm", "ReLU", "Linear", "GroupNorm", "ReLU", "Linear"]
    assert model(torch.randn(2, 8)).shape == (2, 3)
    assert Grouping(None, True).reduced_dims == (0, 2, 3)


# ------------------------------------------------------------- figures and widgets (smoke)

def test_batch_statistics_noise_follows_sampling_theory():
    from lecture_code.widgets.normalization import activation_population, batch_statistics

    population = activation_population(seed=0)
    sigma2 = population.var(unbiased=False).item()
    means, variances = batch_statistics(population, 64, num_batches=4000, seed=1)
    assert means.std().item() == pytest.approx((sigma2 / 64) ** 0.5, rel=0.1)
    # the biased batch variance is (m-1)/m of the population variance on average
    assert variances.mean().item() == pytest.approx(sigma2 * 63 / 64, rel=0.03)
    _, variances_2 = batch_statistics(population, 2, num_batches=4000, seed=1)
    assert variances_2.mean().item() == pytest.approx(sigma2 / 2, rel=0.1)


def test_figures_and_widgets_build():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lecture_code.widgets import normalization as figures

    fig = figures.plot_group_membership(1, num_channels=4, num_samples=2, num_positions=3)
    title = fig._suptitle.get_text()
    assert "layer norm" in title and "2 normalised sets" in title
    fig = figures.plot_group_membership(4, num_channels=4, num_samples=2, num_positions=3)
    title = fig._suptitle.get_text()
    assert "instance norm" in title and "8 normalised sets" in title
    fig = figures.plot_normalization_cubes(num_samples=2, num_channels=2, num_positions=2)
    assert [ax.get_title() for ax in fig.axes] == ["Batch norm", "Layer norm", "Instance norm",
                                                   "Group norm, G = 2 (= instance norm)"]
    # at most two cubes side by side: four make a 2 x 2 grid
    assert [ax.get_subplotspec().get_geometry()[:2] for ax in fig.axes] == [(2, 2)] * 4
    runs = {"a": {0.1: {"losses": [2.0, 1.0], "val_accuracy": 0.9},
                  1.0: {"losses": [2.0, 9.0], "val_accuracy": None}}}
    fig = figures.plot_learning_rate_sweep(runs, show_lr=1.0, accuracy_to_train=0.8)
    assert "loss NaN at step 3" in fig.axes[0].get_legend().get_texts()[0].get_text()
    assert fig.get_figwidth() <= 8      # drawn for the book's column, not shrunk into it
    plt.close("all")
    widget = figures.group_membership_widget(num_channels=6)
    slider, pooling = widget.children[:2]
    assert list(slider.options) == [1, 2, 3, 6]
    assert [label for label, _ in pooling.options] == list(figures.POOLING)
    slider.value = 3   # redraws through the callback without error
    pooling.value = True
    widget = figures.batch_statistics_noise_widget()
    assert widget.children[0].value == 16
    plt.close("all")


def test_group_membership_across_the_batch_shares_the_sets_of_all_samples():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import numpy as np

    from lecture_code.widgets import normalization as figures

    def cell_labels(fig):
        return [np.array([[int(t.get_text()) for t in ax.texts]]) for ax in fig.axes]

    per_sample = figures.plot_group_membership(2, num_channels=4, num_samples=2, num_positions=3)
    across = figures.plot_group_membership(2, across_batch=True, num_channels=4, num_samples=2,
                                           num_positions=3)
    first, second = cell_labels(per_sample)
    assert set(first.ravel()) == {0, 1} and set(second.ravel()) == {2, 3}   # a set per sample
    first, second = cell_labels(across)
    np.testing.assert_array_equal(first, second)                          # shared by the batch
    assert across._suptitle.get_text().startswith("Across the batch, G = 2: 2 normalised sets")
    # G = C across the batch is batch norm: one set per channel, the same in every sample
    batch_norm = figures.plot_group_membership(4, across_batch=True, num_channels=4,
                                               num_samples=2, num_positions=3)
    assert "(= batch norm): 4 normalised sets" in batch_norm._suptitle.get_text()
    single = figures.plot_group_membership(1, across_batch=True, num_channels=4, num_samples=2,
                                           num_positions=3)
    assert ": 1 normalised set\n" in single._suptitle.get_text()
    with pytest.raises(ValueError, match="num_groups"):
        figures.plot_group_membership(3, num_channels=4)
    plt.close("all")


def test_batch_statistics_figure_fits_the_column_and_marks_the_batch_size():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lecture_code.widgets import normalization as figures

    fig = figures.plot_batch_statistics_noise(8, num_batches=200)
    assert fig.get_figwidth() <= 8 and len(fig.axes) == 3
    mean_ax, var_ax, noise_ax = fig.axes
    assert mean_ax.get_title() == "Batch mean, B = 8" and var_ax.get_title() == "Batch variance, B = 8"
    # the noise panel spans the figure's width, below the two histograms
    assert noise_ax.get_position().width > 1.8 * mean_ax.get_position().width
    assert noise_ax.get_position().y1 < mean_ax.get_position().y0
    assert "B = 8" in [t.get_text() for t in noise_ax.get_legend().get_texts()]
    plt.close("all")


def test_layer_histograms_stack_one_row_per_layer_in_one_panel_per_model():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lecture_code.widgets import normalization as figures

    gen = torch.Generator().manual_seed(0)
    activations = {"wide": [torch.randn(64, 8, generator=gen) * s for s in (1.0, 0.5, 0.1)],
                   "unit": [torch.randn(64, 8, generator=gen) for _ in range(3)]}
    fig = figures.plot_layer_histograms(activations)
    assert fig.get_figwidth() <= 8 and [ax.get_title() for ax in fig.axes] == ["wide", "unit"]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["layer 3", "layer 2", "layer 1"]
    stds = [t.get_text() for t in ax.texts]
    assert stds == [f"std {v.reshape(-1).numpy().std():.2g}" for v in activations["wide"]]
    # each layer's histogram fills its own row, layer 1 on top, scaled to at most 0.9 of it
    rows = [collection.get_paths()[0].vertices[:, 1] for collection in ax.collections]
    assert [(r.min(), round(r.max(), 6)) for r in rows] == [(2, 2.9), (1, 1.9), (0, 0.9)]
    plt.close("all")
