"""The first optimizers (SGD, AdaGrad, RMSProp, Adam, AdamW) against torch.optim and by hand,
plus the shared machinery: validation, resume, the compiled execution path."""
import copy

import pytest
import torch

from lecture_code.optimizers import (CENTRALIZE_MEAN, OPTIMIZERS, SGD, AdaBelief, AdaGrad, Adam,
                                     AdamCentralized, AdamInject, AdamNorm, AdamW, DiffGrad,
                                     RAdam, RAdamNorm, RMSProp)
from lecture_code.optimizers.base import blocked_norm, blocked_sum

# Each case: our class and kwargs, torch's class and the kwargs that mean the same math.
PARITY_CASES = [
    (SGD, dict(lr=0.05), torch.optim.SGD, dict(lr=0.05)),
    (SGD, dict(lr=0.05, weight_decay=0.1), torch.optim.SGD, dict(lr=0.05, weight_decay=0.1)),
    (SGD, dict(lr=0.02, momentum=0.9), torch.optim.SGD, dict(lr=0.02, momentum=0.9)),
    (SGD, dict(lr=0.02, momentum=0.99, weight_decay=0.01), torch.optim.SGD,
     dict(lr=0.02, momentum=0.99, weight_decay=0.01)),
    (SGD, dict(lr=0.02, momentum=0.9, nesterov=True), torch.optim.SGD,
     dict(lr=0.02, momentum=0.9, nesterov=True)),
    (AdaGrad, dict(lr=0.1), torch.optim.Adagrad, dict(lr=0.1, eps=1e-7)),
    (AdaGrad, dict(lr=0.3, eps=1e-5, weight_decay=0.05), torch.optim.Adagrad,
     dict(lr=0.3, eps=1e-5, weight_decay=0.05)),
    (RMSProp, dict(lr=0.01), torch.optim.RMSprop, dict(lr=0.01, alpha=0.99, eps=1e-7)),
    (RMSProp, dict(lr=0.001, decay_rate=0.95, eps=1e-6, weight_decay=0.1), torch.optim.RMSprop,
     dict(lr=0.001, alpha=0.95, eps=1e-6, weight_decay=0.1)),
    (Adam, dict(lr=0.01), torch.optim.Adam, dict(lr=0.01)),
    (Adam, dict(lr=0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), torch.optim.Adam,
     dict(lr=0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    (AdamW, dict(lr=0.01), torch.optim.AdamW, dict(lr=0.01)),
    (AdamW, dict(lr=0.005, betas=(0.8, 0.99), weight_decay=0.3), torch.optim.AdamW,
     dict(lr=0.005, betas=(0.8, 0.99), weight_decay=0.3)),
]


def least_squares_problem(seed, dtype=torch.float64):
    """A random, well-conditioned least-squares problem with two parameter tensors.

    The start lies far from the optimum: near an optimum the adaptive methods divide tiny
    gradients by tiny running averages, which amplifies last-bit rounding differences (torch's
    kernels use fused multiply-adds) into visible ones — a property of the dynamics, not of the
    update rule under test.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 6, generator=g, dtype=dtype)
    y = torch.randn(64, 3, generator=g, dtype=dtype)
    weight = torch.randn(6, 3, generator=g, dtype=dtype) + 3.0
    bias = torch.randn(3, generator=g, dtype=dtype)

    def loss(params):
        w, b = params
        return ((x @ w + b - y) ** 2).mean()

    return loss, [weight, bias]


def take_steps(optimizer, params, loss, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        loss(params).backward()
        optimizer.step()


def run(optimizer_cls, kwargs, params, loss, steps):
    params = [p.detach().clone().requires_grad_() for p in params]
    optimizer = optimizer_cls(params, **kwargs)
    take_steps(optimizer, params, loss, steps)
    return params, optimizer


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("ours, our_kwargs, theirs, their_kwargs", PARITY_CASES,
                         ids=lambda v: getattr(v, "__name__", None))
def test_matches_torch_optim(ours, our_kwargs, theirs, their_kwargs, seed):
    loss, params = least_squares_problem(seed)
    mine, _ = run(ours, our_kwargs, params, loss, 150)
    reference, _ = run(theirs, their_kwargs, params, loss, 150)
    for a, b, start in zip(mine, reference, params):   # each tensor moved from its own start
        assert not torch.equal(a, start) and not torch.equal(b, start)
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("lr, betas, eps", [(1e-3, (0.9, 0.999), 1e-8), (0.01, (0.8, 0.99), 1e-4)])
def test_adam_without_bias_correction_by_hand(lr, betas, eps):
    """θ ← θ − α m / (√v + ε), the equations evaluated step by step in plain Python floats."""
    beta1, beta2 = betas
    loss, params = least_squares_problem(3)
    ours, _ = run(Adam, dict(lr=lr, betas=betas, eps=eps, bias_correction=False), params, loss,
                  100)
    theta = [p.detach().clone() for p in params]
    m = [torch.zeros_like(p) for p in theta]
    v = [torch.zeros_like(p) for p in theta]
    for _ in range(100):
        ps = [p.clone().requires_grad_() for p in theta]
        grads = torch.autograd.grad(loss(ps), ps)
        for i, g in enumerate(grads):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            theta[i] = theta[i] - lr * m[i] / (torch.sqrt(v[i]) + eps)
    for a, b in zip(ours, theta):
        torch.testing.assert_close(a.detach(), b, rtol=0, atol=1e-10)


def test_adam_without_bias_correction_takes_a_huge_first_step():
    """The slides' warning: with v₀ = 0 and β2 = 0.999, the first step is ≈ α·g/(√0.001|g|)·0.1."""
    p = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    corrected = torch.nn.Parameter(p.detach().clone())
    for param, flag in ((p, False), (corrected, True)):
        param.grad = torch.tensor([0.01], dtype=torch.float64)
        Adam([param], lr=1e-3, bias_correction=flag).step()
    first_uncorrected = 1.0 - p.item()
    first_corrected = 1.0 - corrected.item()
    assert first_corrected == pytest.approx(1e-3, rel=1e-4)
    # m₁ = 0.1 g, √v₁ = √0.001 |g| → step = α · 0.1/√0.001 ≈ 3.16 α
    assert first_uncorrected == pytest.approx(1e-3 * 0.1 / 0.001 ** 0.5, rel=1e-4)


# Every optimizer's bad arguments, in one list: (class, kwargs, the argument named, the error).
BAD_ARGUMENTS = [
    (SGD, dict(lr=-0.1), "lr"),
    (SGD, dict(lr=0.1, momentum=1.5), "momentum"),
    (SGD, dict(lr=0.1, momentum=-0.1), "momentum"),
    (SGD, dict(lr=0.1, nesterov=True), "nesterov"),
    (SGD, dict(lr=0.1, weight_decay=-1.0), "weight_decay"),
    (AdaGrad, dict(eps=-1e-7), "eps"),
    (RMSProp, dict(decay_rate=1.0), "decay_rate"),
    (Adam, dict(betas=(0.9, 1.0)), "betas[1]"),
    (Adam, dict(betas=(-0.1, 0.999)), "betas[0]"),
    (Adam, dict(lr=float("nan")), "lr"),
    (AdamW, dict(weight_decay=-0.01), "weight_decay"),
    (Adam, dict(execution="fast"), "execution"),
]
BAD_ARGUMENTS = [(cls, kwargs, name, ValueError) for cls, kwargs, name in BAD_ARGUMENTS] + [
    (Adam, dict(lr="0.1"), "lr", TypeError), (Adam, dict(betas=0.9), "betas", TypeError),
    (Adam, dict(bias_correction=1), "bias_correction", TypeError),
    (DiffGrad, dict(betas=(0.9, 1.0)), "betas[1]", ValueError),
    (AdaBelief, dict(betas=(1.2, 0.999)), "betas[0]", ValueError),
    (RAdam, dict(eps=-1e-8), "eps", ValueError),
    (AdaBelief, dict(eps=float("inf")), "eps", ValueError),
    (RAdam, dict(lr=-1e-3), "lr", ValueError),
    (DiffGrad, dict(weight_decay=-0.1), "weight_decay", ValueError),
    (AdamNorm, dict(adanorm_gamma=1.0), "adanorm_gamma", ValueError),
    (RAdamNorm, dict(adanorm_gamma=-0.5), "adanorm_gamma", ValueError),
    (AdamInject, dict(inject_k=0.0), "inject_k", ValueError),
    (DiffGrad, dict(inject=True, inject_k=-2.0), "inject_k", ValueError),
    (AdaBelief, dict(rectify=True, bias_correction=False), "rectify", ValueError),
    (AdamCentralized, dict(execution="jit"), "execution", ValueError),
    (AdaBelief, dict(rectify="yes"), "rectify", TypeError),
    (Adam, dict(adanorm=1), "adanorm", TypeError),
    (RAdam, dict(inject="True"), "inject", TypeError),
    (DiffGrad, dict(centralize=None), "centralize", TypeError),
    (AdamNorm, dict(adanorm_gamma="0.9"), "adanorm_gamma", TypeError),
    (DiffGrad, dict(betas=(0.9,)), "betas", TypeError),
]


@pytest.mark.parametrize("cls, kwargs, name, error", BAD_ARGUMENTS,
                         ids=[f"{c.__name__}-{n}-{e.__name__}" for c, _, n, e in BAD_ARGUMENTS])
def test_bad_arguments_name_the_argument(cls, kwargs, name, error):
    kwargs = {"lr": 0.01, **kwargs} if cls is SGD else kwargs
    with pytest.raises(error) as raised:
        cls([torch.nn.Parameter(torch.zeros(2))], **kwargs)
    message = str(raised.value)
    assert name in message
    if error is ValueError and cls in (SGD, AdaGrad, RMSProp, Adam, AdamW):
        assert message.startswith(name) or f" {name}" in message
        bad_value = next(v for k, v in kwargs.items() if name.split("[")[0] == k)
        if isinstance(bad_value, tuple):
            bad_value = bad_value[int(name[-2])]
        assert repr(bad_value) in message


# Every optimizer with its defaults, and the techniques' flags in combinations that cover every
# state entry (previous_grad, grad_norm_ema, centralize_mean, previous_param).
ALL_CASES = [(OPTIMIZERS[name], {}) for name in sorted(OPTIMIZERS)] + [
    (AdaBelief, dict(rectify=True, adanorm=True, centralize=True)),
    (DiffGrad, dict(inject=True, weight_decay=1e-3)),
    (RAdam, dict(adanorm=True, adanorm_gamma=0.9, inject=True, inject_k=3.0)),
    (Adam, dict(inject=True, centralize=True)),
]
CASE_IDS = [cls.__name__ + "".join(f"-{k}" for k in flags) for cls, flags in ALL_CASES]


@pytest.mark.parametrize("cls, flags", ALL_CASES, ids=CASE_IDS)
def test_resume_from_state_dict_is_bit_identical(cls, flags, tmp_path):
    """Stop after 10 steps (RAdam still in its momentum phase below t = 6 is covered by the
    first half), save with torch.save, load into a fresh optimizer and continue: the same bits
    as never stopping; and the saved state is a snapshot that continuing does not change."""
    kwargs = {"lr": 0.01, "momentum": 0.9, **flags} if cls is SGD else {"lr": 0.01, **flags}
    loss, params = least_squares_problem(5, dtype=torch.float32)
    straight, _ = run(cls, kwargs, params, loss, 20)

    first_half, optimizer = run(cls, kwargs, params, loss, 10)
    torch.save({"params": first_half, "optimizer": optimizer.state_dict()}, tmp_path / "ckpt.pt")
    checkpoint = torch.load(tmp_path / "ckpt.pt")
    resumed = [p.detach().clone().requires_grad_() for p in checkpoint["params"]]
    fresh = cls(resumed, **kwargs)
    fresh.load_state_dict(checkpoint["optimizer"])
    take_steps(fresh, resumed, loss, 10)
    for a, b in zip(straight, resumed):
        assert torch.equal(a, b)
    before = copy.deepcopy(checkpoint["optimizer"]["state"])
    take_steps(optimizer, first_half, loss, 1)
    for key, value in before[0].items():
        saved = checkpoint["optimizer"]["state"][0][key]
        assert torch.equal(value, saved) if torch.is_tensor(value) else value == saved


def test_parameters_without_gradient_and_empty_tensors_are_handled():
    used = torch.nn.Parameter(torch.ones(3))
    frozen = torch.nn.Parameter(torch.ones(3))
    empty = torch.nn.Parameter(torch.ones(0))
    optimizer = Adam([used, frozen, empty], lr=0.1)
    used.grad = torch.ones(3)
    empty.grad = torch.ones(0)
    optimizer.step()
    assert torch.equal(frozen.detach(), torch.ones(3)) and frozen not in optimizer.state
    assert torch.all(used < 1)


def test_param_groups_use_their_own_hyperparameters():
    a = torch.nn.Parameter(torch.zeros(2))
    b = torch.nn.Parameter(torch.zeros(2))
    optimizer = SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad, b.grad = torch.ones(2), torch.ones(2)
    optimizer.step()
    assert torch.allclose(a, torch.full((2,), -0.1)) and torch.allclose(b, torch.full((2,), -1.0))


def test_sparse_gradients_are_refused():
    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.zeros(3).to_sparse()
    with pytest.raises(TypeError, match="sparse"):
        Adam([p]).step()


COMPILED_CASES = [(OPTIMIZERS[name], {}) for name in sorted(OPTIMIZERS)] + [
    (AdaBelief, dict(rectify=True, adanorm=True, inject=True, centralize=True)),
    (DiffGrad, dict(adanorm=True, centralize=True, weight_decay=1e-2)),
    (Adam, dict(inject=True, weight_decay=0.1)),
]


# AdaInject with weight decay, compiled: inductor (torch 2.13, CPU) compiled
# `previous_param.copy_(param)` followed by `param -= ...` into a copy of the *updated* θ (same
# class as pytorch/pytorch#198131); the Adam-inject-weight_decay case found it, and inject_
# now copies `param * 1`.
@pytest.mark.parametrize("cls, flags", COMPILED_CASES,
                         ids=[c.__name__ + "".join(f"-{k}" for k in f) for c, f in COMPILED_CASES])
def test_compiled_execution_matches_eager(cls, flags):
    """The fast path runs the same rule fused by torch.compile: equal to 1e-6 in float32 over
    8 steps (through RAdam's switch at t = 6), on mixed shapes, an empty tensor, a parameter
    without gradient and two param groups."""
    extra = {"momentum": 0.9, **flags} if cls is SGD else flags
    g = torch.Generator().manual_seed(0)
    shapes = [(7, 5), (5,), (0,), (3, 2, 2), (4,), (40, 64)]   # 2560: two sum blocks + tail
    initial = [torch.randn(s, generator=g) for s in shapes]
    grads = [[torch.randn(s, generator=g) for s in shapes] for _ in range(8)]
    results = []
    for execution in ("eager", "compiled"):
        params = [torch.nn.Parameter(p.clone()) for p in initial]
        groups = [{"params": params[:3]}, {"params": params[3:], "lr": 0.003}]
        optimizer = cls(groups, lr=0.01, execution=execution, **extra)
        for step_grads in grads:
            for p, grad in zip(params, step_grads):
                p.grad = None if p is params[4] else grad.clone()
            optimizer.step()
        results.append(params)
    for start, eager, compiled in zip(initial, *results):
        torch.testing.assert_close(compiled.detach(), eager.detach(), rtol=1e-6, atol=1e-6)
    assert torch.equal(results[1][4].detach(), initial[4])
    for i in (0, 1, 3, 5):                       # every tensor with a gradient moved
        assert (results[0][i].detach() - initial[i]).abs().max() > 1e-4


@pytest.mark.parametrize("numel", [0, 1, 1023, 1024, 1025, 5000])
def test_blocked_sum_is_the_sum(numel):
    """The rules' per-tensor reductions sum in blocks; the result is the plain sum."""
    x = torch.randn(numel, generator=torch.Generator().manual_seed(numel), dtype=torch.float64)
    torch.testing.assert_close(blocked_sum(x), x.sum(), rtol=1e-12, atol=1e-12)
    strided = torch.randn(2 * numel + 1, dtype=torch.float64)[::2].reshape(-1)   # not contiguous
    torch.testing.assert_close(blocked_sum(strided), strided.sum(), rtol=1e-12, atol=1e-12)
    assert blocked_sum(x.float()).dtype == torch.float32


def test_half_precision_sums_and_norms_accumulate_in_float32():
    many = torch.full((2_000_000,), 0.1, dtype=torch.float16)
    assert torch.isclose(blocked_sum(many), torch.tensor(2e5), rtol=1e-3)   # not inf
    small = torch.full((20_000,), 1e-4, dtype=torch.float16)
    expected = torch.linalg.vector_norm(small.float())
    assert torch.isclose(blocked_norm(small), expected, rtol=1e-3)          # not 0


def test_half_precision_parameters_keep_their_per_tensor_statistics():
    """float16 parameters: AdaNorm's norm and centralization's mean are accumulated in float32
    (in float16 they would be 0 and inf here)."""
    g = torch.Generator().manual_seed(0)
    grads = [scale * torch.randn(2_000_000, generator=g) + 0.1 for scale in (1e-4, 0.1)]
    norm = OPTIMIZERS["AdamNorm"]([p := torch.nn.Parameter(torch.zeros(2_000_000,
                                                                       dtype=torch.float16))])
    p.grad = (grads[0] - 0.1).half()                          # tiny: squares underflow in fp16
    norm.step()
    expected = 0.05 * torch.linalg.vector_norm(p.grad.float())   # e_1 = (1 − γ) ‖g‖
    assert torch.isclose(norm.state[p]["grad_norm_ema"].float(), expected, rtol=1e-2)
    centralized = OPTIMIZERS["AdamCentralized"]([q := torch.nn.Parameter(
        torch.zeros(2_000_000, dtype=torch.float16))])
    for grad in grads:                                        # sums overflow in fp16
        q.grad = grad.half()
        centralized.step()
    m = centralized.state[q]["exp_avg"].float()
    assert torch.isclose(centralized.state[q][CENTRALIZE_MEAN].float(), m.mean(), rtol=1e-2)
    assert torch.isfinite(q).all()


def test_sgd_keeps_no_step_count_like_torch():
    """SGD's rule needs no step count, so (as torch.optim.SGD) it stores none."""
    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.ones(3)
    optimizer = SGD([p], lr=0.1, momentum=0.9)
    optimizer.step()
    assert set(optimizer.state[p]) == {"velocity"}
    adam = Adam([p], lr=0.1)
    adam.step()
    assert adam.state[p]["step"] == 1


def test_resumes_from_a_checkpoint_with_tensor_step_counts():
    """state["step"] is an int here; checkpoints that hold it as a 0-dim tensor (as torch.optim
    and earlier versions of this package do) load and continue bit-identically."""
    loss, params = least_squares_problem(3)
    straight, _ = run(Adam, dict(lr=0.01), params, loss, 10)
    first, optimizer = run(Adam, dict(lr=0.01), params, loss, 5)
    checkpoint = optimizer.state_dict()
    for state in checkpoint["state"].values():
        state["step"] = torch.tensor(float(state["step"]), dtype=torch.float64)
    resumed = Adam(first, lr=0.01)
    resumed.load_state_dict(checkpoint)
    take_steps(resumed, first, loss, 5)
    for a, b in zip(straight, first):
        assert torch.equal(a, b)
    assert resumed.state[first[0]]["step"] == 10
