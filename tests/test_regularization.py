"""Tests of lecture_code.regularization against hand computations, autograd and torch.nn."""
from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lecture_code import regularization as reg
from lecture_code.data import Split
from lecture_code.regularization import (DropConnect, Dropout, QuadraticValley,
                                         elastic_net_penalty, l1_penalty, l2_penalty,
                                         penalized_parameters, regularized_loss)
from lecture_code.training import evaluate, train

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------------
# Penalties
# --------------------------------------------------------------------------------------------

X = torch.tensor([1.0, 1.0, 1.0, 1.0])
W1 = torch.tensor([1.0, 0.0, 0.0, 0.0])
W2 = torch.tensor([0.25, 0.25, 0.25, 0.25])


def test_slide_example_same_score_different_penalties():
    assert W1 @ X == W2 @ X == 1.0
    assert l2_penalty(W1).item() == 1.0
    assert l2_penalty(W2).item() == 0.25          # L2 prefers the spread-out weights
    assert l1_penalty(W1).item() == l1_penalty(W2).item() == 1.0  # L1 cannot tell them apart
    # elastic net: sum beta*w^2 + |w|
    assert elastic_net_penalty(W1, beta=2.0).item() == pytest.approx(2 * 1 + 1)
    assert elastic_net_penalty(W2, beta=2.0).item() == pytest.approx(2 * 0.25 + 1)
    assert elastic_net_penalty(W2, beta=0.0).item() == l1_penalty(W2).item()


def test_penalties_sum_over_a_list_of_tensors_of_any_shape():
    a = torch.tensor([[1.0, -2.0], [3.0, 0.5]])
    b = torch.tensor([-1.5])
    assert l2_penalty([a, b]).item() == pytest.approx(1 + 4 + 9 + 0.25 + 2.25)
    assert l1_penalty([a, b]).item() == pytest.approx(1 + 2 + 3 + 0.5 + 1.5)
    assert elastic_net_penalty([a, b], 0.5).item() == pytest.approx(0.5 * 16.5 + 8.0)


@pytest.mark.parametrize("penalty, expected_grad", [
    (l2_penalty, lambda w: 2 * w),
    (l1_penalty, torch.sign),
    (functools.partial(elastic_net_penalty, beta=0.3), lambda w: 0.6 * w + torch.sign(w)),
])
def test_penalty_gradients_match_the_formula(penalty, expected_grad):
    w = torch.randn(5, 7, generator=gen(1), dtype=torch.float64).requires_grad_(True)
    penalty([w]).backward()
    torch.testing.assert_close(w.grad, expected_grad(w.detach()), rtol=0, atol=1e-12)


@pytest.mark.parametrize("penalty", [l2_penalty, l1_penalty,
                                     functools.partial(elastic_net_penalty, beta=1.7)])
def test_penalty_gradcheck(penalty):
    # away from 0 the L1 part is differentiable, so finite differences apply
    w = (torch.rand(4, 3, generator=gen(2), dtype=torch.float64) + 0.1)
    w = (w * torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: penalty([t]), (w,))


def test_penalty_argument_validation():
    with pytest.raises(ValueError, match="beta"):
        elastic_net_penalty(W1, beta=-1.0)
    with pytest.raises(ValueError, match="empty"):
        l2_penalty([])
    with pytest.raises(TypeError, match="not the module"):
        l2_penalty(nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"params\[1\]"):
        l1_penalty([W1, 3.0])


def test_penalized_parameters_are_linear_and_conv_weights_only():
    conv, lin1, lin2 = nn.Conv2d(1, 2, 3), nn.Linear(8, 4), nn.Linear(4, 3)
    bn, ln = nn.BatchNorm1d(4), nn.LayerNorm(4)
    model = nn.Sequential(conv, nn.Flatten(), lin1, bn, nn.ReLU(), ln, DropConnect(lin2, 0.5))
    chosen = penalized_parameters(model)
    assert [id(p) for p in chosen] == [id(conv.weight), id(lin1.weight), id(lin2.weight)]
    with_bias = penalized_parameters(model, include_biases=True)
    assert {id(p) for p in with_bias} == {id(p) for m in (conv, lin1, lin2)
                                          for p in (m.weight, m.bias)}
    assert not {id(p) for p in with_bias} & {id(p) for p in [*bn.parameters(), *ln.parameters()]}


def test_penalized_parameters_counts_a_shared_layer_once():
    shared = nn.Linear(3, 3)
    assert len(penalized_parameters(nn.Sequential(shared, nn.ReLU(), shared))) == 1
    with pytest.raises(TypeError, match="model"):
        penalized_parameters([shared.weight])


# --------------------------------------------------------------------------------------------
# The loss wrapper and the training loop
# --------------------------------------------------------------------------------------------

def _tiny_problem(seed=0, n=32, d=6, classes=3):
    g = gen(seed)
    x = torch.randn(n, d, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(d, 5), nn.ReLU(), nn.Linear(5, classes))
    return model, x, y


def test_regularized_loss_adds_lambda_r_in_training_and_not_in_evaluation():
    model, x, y = _tiny_problem()
    lam = 0.3
    loss_fn = regularized_loss(F.cross_entropy, model, "l2", lam)
    logits = model(x)
    weights = [model[0].weight, model[2].weight]
    by_hand = F.cross_entropy(logits, y) + lam * sum((w ** 2).sum() for w in weights)
    torch.testing.assert_close(loss_fn(logits, y), by_hand)
    # evaluate() asks for reduction="sum": the wrapper returns the data loss only
    torch.testing.assert_close(loss_fn(logits, y, reduction="sum"),
                               F.cross_entropy(logits, y, reduction="sum"))
    metrics = evaluate(model, x, y, loss_fn, batch_size=10)
    assert metrics["loss"] == pytest.approx(F.cross_entropy(model(x), y).item(), rel=1e-5)
    assert loss_fn.penalty_value() == pytest.approx(lam * sum((w ** 2).sum().item()
                                                              for w in weights), rel=1e-6)


def test_regularized_loss_accepts_a_callable_penalty_and_explicit_params():
    model, x, y = _tiny_problem()
    params = [model[0].weight, model[0].bias]
    pen = functools.partial(elastic_net_penalty, beta=0.5)
    loss_fn = regularized_loss(F.cross_entropy, model, pen, 0.1, params=params)
    logits = model(x)
    by_hand = F.cross_entropy(logits, y) + 0.1 * sum((0.5 * p ** 2 + p.abs()).sum() for p in params)
    torch.testing.assert_close(loss_fn(logits, y), by_hand)


def test_regularized_loss_in_train_gives_the_gradient_step_of_the_penalized_objective():
    model, x, y = _tiny_problem(seed=3)
    reference = [p.detach().clone() for p in model.parameters()]
    lam, lr = 0.05, 0.1
    train(model, torch.optim.SGD(model.parameters(), lr=lr), (x, y), epochs=1, batch_size=None,
          loss_fn=regularized_loss(F.cross_entropy, model, "l1", lam), quiet=True)
    # the same step by hand
    params = [p.clone().requires_grad_(True) for p in reference]
    h = torch.relu(x @ params[0].T + params[1])
    loss = F.cross_entropy(h @ params[2].T + params[3], y)
    loss = loss + lam * (params[0].abs().sum() + params[2].abs().sum())
    grads = torch.autograd.grad(loss, params)
    for p, p0, g in zip(model.parameters(), reference, grads):
        torch.testing.assert_close(p.detach(), p0 - lr * g)


def test_regularized_loss_validation():
    model, _, _ = _tiny_problem()
    with pytest.raises(ValueError, match="lam"):
        regularized_loss(F.cross_entropy, model, "l2", -0.1)
    with pytest.raises(ValueError, match="penalty"):
        regularized_loss(F.cross_entropy, model, "l3", 0.1)
    with pytest.raises(TypeError, match="penalty"):
        regularized_loss(F.cross_entropy, model, 3, 0.1)
    with pytest.raises(TypeError, match="loss_fn"):
        regularized_loss("ce", model, "l2", 0.1)


# --------------------------------------------------------------------------------------------
# L2 penalty versus weight decay
# --------------------------------------------------------------------------------------------

def _run(optimizer_cls, lam_penalty, steps=5, **hyper):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    g = gen(5)
    x = torch.randn(20, 4, generator=g, dtype=torch.float64) * torch.tensor(
        [0.1, 1.0, 3.0, 10.0], dtype=torch.float64)
    y = torch.randn(20, 2, generator=g, dtype=torch.float64)
    params = list(model.parameters())
    opt = optimizer_cls(params, **hyper)
    for _ in range(steps):
        loss = F.mse_loss(model(x), y) + lam_penalty * l2_penalty(params)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return torch.cat([p.detach().reshape(-1) for p in params])


def test_sgd_l2_penalty_equals_weight_decay_two_lambda():
    SGD, _, _ = reg._optimizer_classes()
    lam = 0.07
    for momentum in (0.0, 0.9):
        with_penalty = _run(SGD, lam, lr=0.05, momentum=momentum)
        with_decay = _run(SGD, 0.0, lr=0.05, momentum=momentum, weight_decay=2 * lam)
        assert (with_penalty - with_decay).abs().max().item() < 1e-10
        # ... and the factor 2 matters: weight_decay=λ is a different run
        wrong = _run(SGD, 0.0, lr=0.05, momentum=momentum, weight_decay=lam)
        assert (with_penalty - wrong).abs().max().item() > 1e-4


def test_adam_l2_penalty_differs_from_adamw():
    _, Adam, AdamW = reg._optimizer_classes()
    lam = 0.07
    adam_l2 = _run(Adam, lam, lr=0.01)
    adam_coupled = _run(Adam, 0.0, lr=0.01, weight_decay=2 * lam)
    adamw = _run(AdamW, 0.0, lr=0.01, weight_decay=2 * lam)
    assert (adam_l2 - adam_coupled).abs().max().item() < 1e-10  # coupled decay = L2 penalty
    assert (adam_l2 - adamw).abs().max().item() > 1e-4           # decoupled decay is not


def test_l2_versus_weight_decay_report():
    result = reg.l2_versus_weight_decay(lam=0.05, lr=0.05, steps=20)
    sgd, adam_coupled, adam_w = list(result.differences.values())[1:]
    scale = list(result.differences.values())[0]
    assert scale > 1e-3
    assert sgd < 1e-10 and adam_coupled < 1e-10
    assert adam_w > 1e-3
    assert "AdamW" in result.table()
    with pytest.raises(ValueError, match="lam"):
        reg.l2_versus_weight_decay(lam=0.0)


# --------------------------------------------------------------------------------------------
# Curvature
# --------------------------------------------------------------------------------------------

def test_quadratic_valley_penalty_improves_conditioning():
    valley = QuadraticValley(a=1.0, b=0.01)
    assert valley.condition_number(0.0) == pytest.approx(100.0)
    assert valley.condition_number(0.05) == pytest.approx(1.1 / 0.11)
    assert QuadraticValley(b=0.0).condition_number() == math.inf
    # the regularized minimizer has zero gradient and gradient descent reaches it faster
    for lam in (0.0, 0.05):
        np.testing.assert_allclose(valley.grad(valley.minimizer(lam), lam), 0.0, atol=1e-12)
    assert valley.steps_to_converge(0.05) < valley.steps_to_converge(0.0) / 5
    path = valley.gradient_descent(lam=0.05, steps=500)
    np.testing.assert_allclose(path[-1], valley.minimizer(0.05), atol=1e-6)
    # the gradient of the penalty term is 2*lam*w (finite differences)
    w, eps = np.array([0.3, -0.7]), 1e-6
    numeric = [(valley.loss(*(w + eps * e), lam=0.2) - valley.loss(*(w - eps * e), lam=0.2))
               / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(valley.grad(w, 0.2), numeric, rtol=1e-6)
    with pytest.raises(ValueError, match="b="):
        QuadraticValley(a=0.1, b=1.0)


def test_penalized_surface_equals_sgd_weight_decay_on_the_plain_surface():
    from lecture_code.surfaces import ill_conditioned_quadratic, trajectory

    SGD, _, _ = reg._optimizer_classes()
    base, lam = ill_conditioned_quadratic(50.0), 0.1
    penalized = reg.penalized_surface(base, lam)
    point = torch.tensor([1.5, -0.5], dtype=torch.float64)
    torch.testing.assert_close(penalized.value(point), base.value(point) + lam * 2.5)
    torch.testing.assert_close(penalized.gradient(point), base.gradient(point) + 2 * lam * point)
    on_penalized = trajectory(SGD, penalized, steps=30, lr=0.3)
    with_decay = trajectory(SGD, base, steps=30, lr=0.3, weight_decay=2 * lam)
    np.testing.assert_allclose(on_penalized, with_decay, rtol=0, atol=1e-12)
    assert np.abs(on_penalized - trajectory(SGD, base, steps=30, lr=0.3)).max() > 1e-2
    with pytest.raises(TypeError, match="surface"):
        reg.penalized_surface(QuadraticValley(), 0.1)


# --------------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan")])
@pytest.mark.parametrize("cls", [Dropout, lambda p: DropConnect(nn.Linear(2, 2), p)])
def test_p_outside_zero_one_is_a_value_error_naming_p(cls, bad):
    with pytest.raises(ValueError, match=r"\bp="):
        cls(bad)


def test_other_argument_validation():
    with pytest.raises(TypeError, match="generator"):
        Dropout(0.5, generator=0)
    with pytest.raises(TypeError, match="inverted"):
        Dropout(0.5, inverted=1)
    with pytest.raises(TypeError, match="linear"):
        DropConnect(nn.Conv1d(1, 1, 1), 0.5)
    with pytest.raises(TypeError, match="floating"):
        Dropout(0.5)(torch.ones(3, dtype=torch.int64))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_fraction_dropped_is_binomial(p):
    n = 200_000
    out = Dropout(p, generator=gen(1))(torch.ones(n))
    dropped = (out == 0).float().mean().item()
    assert abs(dropped - p) < 5 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("inverted", [True, False])
@pytest.mark.parametrize("p", [0.3, 0.5])
def test_dropout_train_output_averages_to_eval_output(inverted, p):
    x = torch.randn(500, generator=gen(2)).abs() + 0.5
    layer = Dropout(p, inverted=inverted, generator=gen(3))
    passes = 4000
    mean = torch.stack([layer(x) for _ in range(passes)]).mean(0)
    layer.eval()
    expected = layer(x)
    keep = 1 - p
    # per element, one pass has std |x| sqrt(keep (1-keep)) * (1/keep if inverted else 1)
    std = x * math.sqrt(keep * (1 - keep)) / (keep if inverted else 1.0)
    assert ((mean - expected).abs() / (std / math.sqrt(passes))).max() < 5.0
    torch.testing.assert_close(expected, x if inverted else keep * x)


@pytest.mark.parametrize("inverted", [True, False])
def test_dropout_eval_is_deterministic_and_p0_is_identity(inverted):
    x = torch.randn(3, 4, 5)
    layer = Dropout(0.5, inverted=inverted).eval()
    assert torch.equal(layer(x), layer(x))
    assert torch.equal(Dropout(0.0, inverted=inverted)(x), x)
    assert torch.equal(Dropout(0.0, inverted=inverted).eval()(x), x)


@pytest.mark.parametrize("inverted", [True, False])
def test_dropout_gradient_flows_only_through_kept_units(inverted):
    x = (torch.rand(64, 16, generator=gen(4)) + 0.1).requires_grad_(True)
    p = 0.4
    layer = Dropout(p, inverted=inverted, generator=gen(5))
    out = layer(x)
    out.sum().backward()
    kept = out != 0
    assert 0 < kept.float().mean() < 1
    scale = 1 / (1 - p) if inverted else 1.0
    torch.testing.assert_close(x.grad, kept.float() * scale)
    # the mask is what the generator draws: replay it
    replay = Dropout(p, inverted=inverted, generator=gen(5)).sample_mask(x)
    assert torch.equal(replay.bool(), kept)


def test_dropout_masks_are_reproducible_with_a_generator():
    x = torch.ones(8, 100)
    a, b = Dropout(0.5, generator=gen(7)), Dropout(0.5, generator=gen(7))
    first_a, first_b = a(x), b(x)
    assert torch.equal(first_a, first_b)
    assert not torch.equal(first_a, a(x))           # a fresh mask every pass
    assert not torch.equal(first_a, Dropout(0.5, generator=gen(8))(x))


def test_dropout_any_batch_shape_and_independent_elements():
    x = torch.ones(4, 3, 5, 7)
    out = Dropout(0.5, generator=gen(9))(x)
    assert out.shape == x.shape
    # elementwise masks: not whole rows or channels at a time
    assert (out == 0).any(dim=-1).all() and (out != 0).any(dim=-1).all()


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_inverted_dropout_reproduces_torch_functional_dropout_exactly(p):
    x = torch.randn(33, 17)
    torch.manual_seed(11)
    expected = F.dropout(x, p, training=True)
    torch.manual_seed(11)
    assert torch.equal(Dropout(p)(x), expected)
    torch.manual_seed(11)
    assert torch.equal(nn.Dropout(p)(x), expected)  # the oracle itself is consistent


def test_inverted_dropout_matches_torch_dropout_statistically():
    x = torch.ones(100_000) * 3.0
    ours = Dropout(0.3, generator=gen(12))(x)
    torch.manual_seed(12)
    theirs = F.dropout(x, 0.3, training=True)
    assert set(ours.unique().tolist()) == set(theirs.unique().tolist())
    torch.testing.assert_close(ours.unique(), torch.tensor([0.0, 3.0 / 0.7]))
    # two independent draws: difference of zero fractions within 5 standard errors
    se = math.sqrt(2 * 0.3 * 0.7 / x.numel())
    assert abs((ours == 0).float().mean() - (theirs == 0).float().mean()) < 5 * se


# --------------------------------------------------------------------------------------------
# DropConnect
# --------------------------------------------------------------------------------------------

def _ones_linear(n_in, n_out):
    linear = nn.Linear(n_in, n_out)
    with torch.no_grad():
        linear.weight.fill_(1.0)
        linear.bias.zero_()
    return linear


def test_dropconnect_drops_weights_not_activations():
    n_in, n_out, p = 200, 50, 0.5
    layer = DropConnect(_ones_linear(n_in, n_out), p, generator=gen(13))
    out = layer(torch.ones(1, n_in))[0]
    # out_j = number of weights kept in row j. Dropping input *activations* would give every
    # output unit the same count; dropping output units would give exact zeros.
    assert len(out.unique()) > 10
    assert (out > 0).all()
    keep = 1 - p
    z = (out - n_in * keep) / math.sqrt(n_in * keep * (1 - keep))
    assert z.abs().max() < 5 and abs(z.mean()) < 5 / math.sqrt(n_out)


def test_dropconnect_forward_is_masked_weight_matrix_and_gradient_is_masked():
    linear = nn.Linear(6, 4)
    x = torch.randn(5, 6, generator=gen(14))
    layer = DropConnect(linear, 0.4, generator=gen(15))
    out = layer(x)
    mask = DropConnect(linear, 0.4, generator=gen(15)).sample_mask()
    torch.testing.assert_close(out, x @ (linear.weight * mask).T + linear.bias)
    out.sum().backward()
    torch.testing.assert_close(linear.weight.grad, mask * x.sum(0).expand(4, 6))


def test_dropconnect_fresh_mask_each_pass_and_per_sample_option():
    x = torch.ones(3, 100)
    shared = DropConnect(_ones_linear(100, 8), 0.5, generator=gen(16))
    first = shared(x)
    assert torch.equal(first[0], first[1])               # one mask for the whole batch
    assert not torch.equal(first, shared(x))             # a new one next pass
    per_sample = DropConnect(_ones_linear(100, 8), 0.5, per_sample=True, generator=gen(16))
    out = per_sample(x)
    assert not torch.equal(out[0], out[1])               # one mask per example
    nd = per_sample(torch.ones(2, 3, 100))
    assert nd.shape == (2, 3, 8)
    assert DropConnect(nn.Linear(100, 8), 0.5)(torch.ones(2, 3, 100)).shape == (2, 3, 8)


@pytest.mark.parametrize("per_sample", [False, True])
def test_dropconnect_eval_uses_mean_weights_equal_to_train_expectation(per_sample):
    linear = nn.Linear(10, 3)
    x = torch.randn(4, 10, generator=gen(17))
    layer = DropConnect(linear, 0.3, per_sample=per_sample, generator=gen(18))
    passes = 3000
    with torch.no_grad():
        mean = torch.stack([layer(x) for _ in range(passes)]).mean(0)
        layer.eval()
        expected = layer(x)
        torch.testing.assert_close(expected, x @ (0.7 * linear.weight).T + linear.bias)
        assert torch.equal(expected, layer(x))
        # per output, one pass has variance sum_k (w_jk x_k)^2 keep(1-keep)
        std = torch.sqrt(((linear.weight[None] * x[:, None]) ** 2).sum(-1) * 0.7 * 0.3)
    assert ((mean - expected).abs() / (std / math.sqrt(passes))).max() < 5.0


def test_regularized_mlp_layout():
    model = reg.regularized_mlp([8, 16, 16, 3], dropout=0.5, dropconnect=0.2, batch_norm=True)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["DropConnect", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    assert model(torch.randn(5, 8)).shape == (5, 3)
    plain = reg.regularized_mlp([8, 16, 3])
    assert [type(m).__name__ for m in plain] == ["Linear", "ReLU", "Linear"]


def test_lambda_sweep_shrinks_weights_and_sparsifies_with_l1():
    g = gen(19)
    split = Split(torch.randn(40, 5, generator=g), torch.randint(0, 2, (40,), generator=g),
                  torch.randn(20, 5, generator=g), torch.randint(0, 2, (20,), generator=g), 2)
    sweep = reg.lambda_sweep(split, [0.0, 0.1], penalty="l1", hidden=(), epochs=30,
                             batch_size=None, lr=0.1, momentum=0.9, seeds=[0])
    norm = {lam: np.abs(sweep.weights[lam][0]).sum() for lam in sweep.lambdas}
    assert norm[0.1] < norm[0.0]
    assert sweep.near_zero(0.1, tol=0.02)[0] > sweep.near_zero(0.0, tol=0.02)[0]
    assert sweep.final("val_accuracy", 0.0).shape == (1,)
    assert reg.fraction_near_zero([torch.tensor([0.0, 0.5, -1e-4, 2.0])]) == 0.5


# --------------------------------------------------------------------------------------------
# GPU
# --------------------------------------------------------------------------------------------

@cuda
def test_dropout_and_dropconnect_on_gpu_with_a_cpu_generator():
    x = torch.randn(16, 32)
    cpu = Dropout(0.5, generator=gen(20))(x)
    gpu = Dropout(0.5, generator=gen(20))(x.cuda())
    assert gpu.device.type == "cuda" and torch.equal(gpu.cpu(), cpu)
    linear = nn.Linear(32, 4)
    a = DropConnect(linear, 0.5, generator=gen(21))(x)
    b = DropConnect(linear.cuda(), 0.5, generator=gen(21))(x.cuda())
    torch.testing.assert_close(b.cpu(), a)
    assert Dropout(0.5)(x.cuda()).device.type == "cuda"
    assert DropConnect(linear, 0.5, per_sample=True)(x.cuda()).device.type == "cuda"


# --------------------------------------------------------------------------------------------
# Experiment helpers
# --------------------------------------------------------------------------------------------

def _random_split(seed=22, n=40, n_val=30, d=5, classes=3):
    g = gen(seed)
    x, y = torch.randn(n, d, generator=g), torch.randint(0, classes, (n,), generator=g)
    x_val = torch.randn(n_val, d, generator=g)
    y_val = torch.randint(0, classes, (n_val,), generator=g)
    return Split(x, y, x_val, y_val, classes)


def test_holdout_partitions_the_validation_set():
    split = _random_split()
    smaller, (x_test, y_test) = reg.holdout(split, 12, seed=1)
    assert len(y_test) == 12 and len(smaller.y_val) == 18
    assert torch.equal(smaller.x_train, split.x_train)
    rows = {tuple(r.tolist()) for r in torch.cat([smaller.x_val, x_test])}
    assert rows == {tuple(r.tolist()) for r in split.x_val}
    with pytest.raises(ValueError, match="n_test"):
        reg.holdout(split, 30)


def test_compare_is_reproducible_and_records_test_metrics():
    split = _random_split()
    smaller, test = reg.holdout(split, 10)
    builders = {"a": lambda g: reg.regularized_mlp([5, 8, 3], dropout=0.5, generator=g),
                "b": lambda g: reg.regularized_mlp([5, 8, 3], dropout=0.5, generator=g)}
    runs = reg.compare(builders, smaller, seeds=[0, 1], epochs=2, batch_size=10, test_data=test,
                       lr=0.05, momentum=0.9)
    np.testing.assert_array_equal(runs.final("a", "test_loss"), runs.final("b", "test_loss"))
    assert runs.final("a", "val_loss")[0] != runs.final("a", "val_loss")[1]
    assert "test_accuracy" in runs.summary() and len(runs.models["a"]) == 2


def test_mc_predict_samples_masks_but_keeps_batch_norm_in_eval_mode():
    model = reg.regularized_mlp([5, 16, 3], dropout=0.5, batch_norm=True, generator=gen(23))
    model.train()
    bn = model[1]
    bn.running_mean.fill_(0.3)
    x = torch.randn(7, 5, generator=gen(24))
    probs = reg.mc_predict(model, x, samples=20)
    assert model.training and all(m.training for m in model.modules())  # modes restored
    assert torch.all(bn.running_mean == 0.3)                           # BN not updated
    torch.testing.assert_close(probs.sum(-1), torch.ones(7))
    model.eval()
    single = F.softmax(model(x), -1)
    assert not torch.allclose(probs, single)                           # masks were sampled
    model[3].generator = gen(25)
    running = reg.mc_predict(model, x, samples=4, cumulative=True)
    assert running.shape == (4, 7, 3)
    model[3].generator = gen(25)
    torch.testing.assert_close(running[-1], reg.mc_predict(model, x, samples=4))
    model[3].generator = gen(25)
    torch.testing.assert_close(running[1], reg.mc_predict(model, x, samples=2))
    model[3].p = 0.0
    torch.testing.assert_close(reg.mc_predict(model, x, samples=3), single)


# --------------------------------------------------------------------------------------------
# Figures of the regularization chapters
# --------------------------------------------------------------------------------------------

def test_loss_tick_labels_one_two_three_and_five_times_a_power_of_ten():
    from lecture_code.widgets.regularization import _loss_tick

    assert [_loss_tick(v) for v in (0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0, 2.0, 30.0)] == \
        ["0.1", "0.2", "0.3", "", "0.5", "", "1", "2", "30"]
    assert _loss_tick(0.0) == "" and _loss_tick(-1.0) == ""


def test_plot_lambda_sweep_fits_the_column_and_shows_the_chosen_run_next_to_lambda_zero():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lecture_code.widgets.regularization import plot_lambda_sweep

    g = gen(19)
    split = Split(torch.randn(40, 5, generator=g), torch.randint(0, 2, (40,), generator=g),
                  torch.randn(20, 5, generator=g), torch.randint(0, 2, (20,), generator=g), 2)
    sweep = reg.lambda_sweep(split, [0.0, 0.1], penalty="l1", hidden=(), epochs=3,
                             batch_size=None, lr=0.1, momentum=0.9, seeds=[0])
    fig = plot_lambda_sweep(sweep, 0.1)
    assert fig.get_figwidth() <= 8          # drawn for the book's column, not shrunk into it
    hist, curves = fig.axes
    labels = [t.get_text() for t in hist.get_legend().get_texts()]
    assert labels[0].startswith("λ = 0: ") and labels[1].startswith("λ = 0.1: ")
    assert hist.get_title() == "trained weights, L1 penalty"
    assert [line.get_label() for line in curves.get_lines()] == [
        "train, λ = 0", "val, λ = 0", "train, λ = 0.1", "val, λ = 0.1"]
    only = plot_lambda_sweep(sweep, 0.0)    # λ = 0 itself: no grey reference
    assert len(only.axes[1].get_lines()) == 2
    plt.close("all")


def test_plot_dropout_masks_fits_the_column_and_counts_the_dropped_units():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lecture_code.widgets.regularization import plot_dropout_masks

    fig = plot_dropout_masks(p=0.25, seed=1, batch=8, units=32)
    assert fig.get_figwidth() <= 8
    net, masks = fig.axes
    assert masks.get_images()[0].get_array().shape == (8, 32)
    dropped = masks.get_images()[0].get_array().mean()     # drawn as 1 - mask: dark = dropped
    assert f"{dropped:.0%} dropped (expected 25%)" in masks.get_title()
    assert "masks of a mini-batch (8 examples)" in masks.get_title()
    assert "p = 0.25" in net.get_title()
    plt.close("all")
