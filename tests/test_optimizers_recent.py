"""The recent members of the Adam family (diffGrad, AdaBelief, RAdam) and the three techniques
(AdaNorm, AdaInject, moment centralization) against three kinds of oracle:

1. the equations, evaluated by hand: :func:`reference_run` below is an independent, plain
   NumPy float64 transcription of the update rules, step by step and tensor by tensor (it
   imports nothing from ``lecture_code``), compared to 1e-10 over 150 steps;
2. ``torch.optim.RAdam`` (1e-10);
3. ``pytorch_optimizer`` 4.1.0's DiffGrad, AdaBelief, AdaNorm and RAdam, within the tolerance that
   their different conventions allow. Each such difference is also pinned down exactly: the
   reference run has switches for pytorch_optimizer's conventions, and with them switched on it
   reproduces pytorch_optimizer to 1e-10 — so the tolerance covers that difference and nothing
   else.

What pytorch_optimizer 4.1.0 cannot be compared with (read from its source,
``pytorch_optimizer/optimizer/*.py``):

* AdaInject and moment centralization: it has neither (its ``centralize_gradient`` is *gradient*
  centralization, Yong et al. 2020, which removes a per-row mean from the gradient before the
  moments; moment centralization removes one mean per tensor from the first moment after it).
  Those two are checked against the hand-evaluated equations only.
* AdaBelief with ``adanorm=True``: its residual is ``grad - exp_avg`` with the *raw* gradient
  (``optimizer/adabelief.py``, line 187), whereas AdaNorm's authors (and the book) use the
  corrected one, g̃ − m. The two agree while the correction is inactive; the test checks
  pytorch_optimizer against the reference with a raw-gradient residual instead.
* RAdam with weight decay and ``weight_decouple=False``: its ``_step_per_param`` passes
  ``grad=None`` to ``apply_weight_decay`` (``optimizer/radam.py``, lines 150-158), so coupled
  (L2) decay is silently skipped. It is compared with weight decay off only.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from lecture_code.optimizers import (CENTRALIZE_MEAN, OPTIMIZERS, AdaBelief, AdaBeliefNorm, Adam,
                                     AdamCentralized, AdamNorm, DiffGrad,
                                     DiffGradNorm, RAdam, RAdamNorm)

STEPS = 150


# --- the problem ---------------------------------------------------------------------------------
class LeastSquares:
    """½·mean‖X W + b − Y‖², a random, well-conditioned least-squares problem in float64.

    Two parameter tensors of different shapes (a 6×3 weight, a 3-vector bias), so that the
    per-tensor quantities (AdaNorm's norm, centralization's mean) are exercised. The start lies
    far from the optimum: within 150 steps of a small learning rate the gradient keeps its sign
    and the dynamics stay smooth, so last-bit rounding differences (fused multiply-adds, the order
    of a reduction) are not amplified — what is compared is the update rule, not chaos.
    """

    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)
        self.x = rng.standard_normal((64, 6))
        self.y = rng.standard_normal((64, 3))
        self.start = [rng.standard_normal((6, 3)) + 3.0, rng.standard_normal(3) - 2.0]

    def gradient(self, params):
        """The analytic gradient, as NumPy arrays (the same oracle feeds both implementations)."""
        w, b = params
        residual = (self.x @ w + b - self.y) / len(self.y)
        return [self.x.T @ residual, residual.sum(axis=0)]


# --- the independent reference --------------------------------------------------------------------
def reference_run(problem: LeastSquares, steps: int, *, lr, betas=(0.9, 0.999), eps=1e-8,
                  weight_decay=0.0, algorithm="adam", rectify=False, adanorm=False,
                  adanorm_gamma=0.95, inject=False, inject_k=2.0, centralize=False,
                  eps_outside_bias_correction=False, eps_inside_sqrt=0.0,
                  belief_residual_raw_gradient=False, rectify_threshold=5.0,
                  rectify_inclusive=False):
    """The update rules evaluated by hand in NumPy float64; returns every iterate.

    ``algorithm`` is ``"adam"``, ``"diffgrad"``, ``"adabelief"`` or ``"radam"``. The notation is
    the book's: t counts from 1, bc1 = 1 − β1^t, bc2 = 1 − β2^t, L2 weight decay g ← g + λθ.

    The last five switches reproduce *other* implementations' conventions, for the comparisons
    with pytorch_optimizer (the book's rules have them all off):

    * ``eps_outside_bias_correction``: θ ← θ − lr·√bc2/bc1 · m/(√v + ε), i.e. ε/√bc2 in the
      book's form (the authors' diffGrad and AdaInject code, pytorch_optimizer's DiffGrad and
      AdaNorm);
    * ``eps_inside_sqrt``: a constant added to v under the square root (pytorch_optimizer's
      ``apply_ams_bound``: 1e-15);
    * ``belief_residual_raw_gradient``: AdaBelief's residual is g − m even when AdaNorm feeds the
      first moment g̃ (pytorch_optimizer's AdaBelief);
    * ``rectify_threshold``/``rectify_inclusive``: rectify when ρ_t > 5 (torch) or ρ_t ≥ 5 (the
      authors' code, pytorch_optimizer).
    """
    beta1, beta2 = betas
    theta = [p.copy() for p in problem.start]
    n = len(theta)
    m = [np.zeros_like(p) for p in theta]
    v = [np.zeros_like(p) for p in theta]          # v for Adam, s for AdaBelief
    previous_g = [np.zeros_like(p) for p in theta]  # diffGrad: g_0 = 0
    e = [0.0] * n                                  # AdaNorm: e_0 = 0
    history = [[p.copy() for p in theta]]           # θ_0, θ_1, ...
    for t in range(1, steps + 1):
        grads = problem.gradient(theta)
        new_theta = []
        for i in range(n):
            g = grads[i] + weight_decay * theta[i]

            # what the first moment is fed
            fed = g
            if adanorm:
                norm = math.sqrt(float(np.sum(g * g)))
                e[i] = adanorm_gamma * e[i] + (1 - adanorm_gamma) * norm
                if norm > 0 and e[i] > norm:
                    fed = (e[i] / norm) * g
            if inject:
                if t > 1:
                    delta = history[t - 2][i] - history[t - 1][i]   # θ_{t−2} − θ_{t−1}
                    fed = (g + delta * g * g) / inject_k
                else:
                    fed = g

            m[i] = beta1 * m[i] + (1 - beta1) * fed
            m_used = m[i] - m[i].mean() if centralize else m[i]

            if algorithm == "adabelief":
                # residual: g̃ − m with AdaNorm, g − m with AdaInject (its second moment uses g),
                # and the centralized moment when centralizing
                source = g if (inject or belief_residual_raw_gradient) else fed
                v[i] = beta2 * v[i] + (1 - beta2) * (source - m_used) ** 2 + eps
            else:
                v[i] = beta2 * v[i] + (1 - beta2) * g * g

            bc1, bc2 = 1 - beta1 ** t, 1 - beta2 ** t
            m_hat = m_used / bc1
            if algorithm == "radam" or rectify:
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * t * beta2 ** t / bc2
                tractable = (rho_t >= rectify_threshold if rectify_inclusive
                             else rho_t > rectify_threshold)
                if tractable:
                    r_t = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                    step = r_t * m_hat * math.sqrt(bc2) / (np.sqrt(v[i] + eps_inside_sqrt) + eps)
                else:
                    step = m_hat
            elif eps_outside_bias_correction:
                step = math.sqrt(bc2) * m_hat / (np.sqrt(v[i] + eps_inside_sqrt) + eps)
            else:
                step = m_hat / (np.sqrt(v[i] / bc2 + eps_inside_sqrt / bc2) + eps)

            if algorithm == "diffgrad":
                xi = 1.0 / (1.0 + np.exp(-np.abs(previous_g[i] - g)))
                previous_g[i] = g.copy()
                step = xi * step
            new_theta.append(theta[i] - lr * step)
        theta = new_theta
        history.append([p.copy() for p in theta])
    return history


def torch_run(optimizer_factory, problem: LeastSquares, steps: int):
    """Run a torch optimizer on the problem, fed the same analytic gradient; every iterate."""
    params = [torch.nn.Parameter(torch.tensor(p, dtype=torch.float64)) for p in problem.start]
    optimizer = optimizer_factory(params)
    history = [[p.detach().numpy().copy() for p in params]]
    for _ in range(steps):
        grads = problem.gradient([p.detach().numpy() for p in params])
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history


def assert_same_path(ours, reference, atol):
    """Every iterate of both runs agrees to ``atol``; and the run went somewhere."""
    assert len(ours) == len(reference)
    moved = max(np.abs(a - b).max() for a, b in zip(ours[-1], ours[0]))
    assert moved > 1e-3, "the test problem barely moved: it would not detect a wrong rule"
    worst = max(np.abs(a - b).max() for step_a, step_b in zip(ours, reference)
                for a, b in zip(step_a, step_b))
    assert worst <= atol, f"largest difference {worst:.3g} > {atol:g}"
    return worst


# --- 1. against the hand-evaluated equations ---------------------------------------------------
HYPERPARAMETERS = [
    dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2),
    # β2 = 0.9 reacts fast: with ε = 1e-8 a coordinate whose gradient crosses zero gets
    # sign-like, chaotic steps (even torch.optim.Adam and this rule part by 1e-4); ε = 1e-3 keeps
    # the steps smooth there
    dict(lr=1e-2, betas=(0.5, 0.9), eps=1e-3, weight_decay=0.1),
]
# our class and its fixed keywords, the reference's algorithm and keywords
BASES = {
    "Adam": (Adam, {}, dict(algorithm="adam")),
    "DiffGrad": (DiffGrad, {}, dict(algorithm="diffgrad")),
    "RAdam": (RAdam, {}, dict(algorithm="radam")),
    "AdaBelief": (AdaBelief, {}, dict(algorithm="adabelief")),
    "AdaBelief(rectify)": (AdaBelief, dict(rectify=True), dict(algorithm="adabelief",
                                                                rectify=True)),
}
FLAGS = {
    "plain": {},
    "adanorm": dict(adanorm=True),
    "adanorm(γ=0.8)": dict(adanorm=True, adanorm_gamma=0.8),
    "inject": dict(inject=True),
    "inject(k=3)": dict(inject=True, inject_k=3.0),
    "centralize": dict(centralize=True),
}


# AdaBelief with AdaInject: the residual is g − m, not u − m (the specification and the authors'
# code, shivram1987/AdaInject, TinyImageNet/AdaBeliefInject.py, line 127:
# grad_residual = grad - exp_avg). This test found the book's first version feeding u − m.


def _cases():
    for base in BASES:
        for flag in FLAGS:
            for setting in range(len(HYPERPARAMETERS)):
                yield pytest.param(base, flag, setting, id=f"{base}-{flag}-h{setting}")


@pytest.mark.parametrize("base, flag, setting", list(_cases()))
def test_matches_the_equations_by_hand(base, flag, setting):
    cls, fixed, reference_kwargs = BASES[base]
    hyper = dict(HYPERPARAMETERS[setting])
    if base.startswith("AdaBelief"):
        hyper["eps"] = 1e-16 if setting == 0 else hyper["eps"]   # AdaBelief's own default
    problem = LeastSquares(seed=10 * setting + 1)
    flags = FLAGS[flag]
    ours = torch_run(lambda p: cls(p, **hyper, **fixed, **flags), problem, STEPS)
    reference = reference_run(problem, STEPS, **hyper, **reference_kwargs, **flags)
    assert_same_path(ours, reference, atol=1e-10)


def test_the_flags_change_the_path():
    """Guard against a vacuous comparison: each technique really alters the trajectory."""
    problem = LeastSquares(seed=1)
    plain = reference_run(problem, STEPS, lr=1e-2)
    for flags in FLAGS.values():
        if flags:
            changed = reference_run(problem, STEPS, lr=1e-2, **flags)
            assert max(np.abs(a - b).max() for a, b in zip(changed[-1], plain[-1])) > 1e-4


def test_the_reference_of_adam_is_torch_adam():
    """Sanity check of the oracle itself: the reference's Adam is torch.optim.Adam."""
    problem = LeastSquares(seed=4)
    hyper = dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2)
    theirs = torch_run(lambda p: torch.optim.Adam(p, **hyper), problem, STEPS)
    assert_same_path(theirs, reference_run(problem, STEPS, **hyper), atol=1e-10)


# --- 2. RAdam against torch.optim.RAdam ----------------------------------------------------------
@pytest.mark.parametrize("hyper", [
    dict(lr=1e-2),                                                   # β2 = 0.999: SGD phase 5 steps
    dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2),
    dict(lr=2e-2, betas=(0.5, 0.9), weight_decay=0.1),               # ρ∞ = 19: rectified at t = 6
])
def test_radam_matches_torch(hyper):
    problem = LeastSquares(seed=7)
    ours = torch_run(lambda p: RAdam(p, **hyper), problem, STEPS)
    theirs = torch_run(lambda p: torch.optim.RAdam(p, **hyper), problem, STEPS)
    assert_same_path(ours, theirs, atol=1e-10)


def test_radam_switches_from_momentum_to_rectified_steps_where_rho_exceeds_five():
    """With β2 = 0.999, ρ_5 = 4.996 and ρ_6 = 5.994: the first five steps are θ ← θ − lr·m̂."""
    problem = LeastSquares(seed=2)
    lr = 1e-2
    ours = torch_run(lambda p: RAdam(p, lr=lr), problem, 6)
    m = [np.zeros_like(p) for p in problem.start]
    theta = [p.copy() for p in problem.start]
    for t in range(1, 6):
        grads = problem.gradient(theta)
        m = [0.9 * mi + 0.1 * g for mi, g in zip(m, grads)]
        theta = [p - lr * mi / (1 - 0.9 ** t) for p, mi in zip(theta, m)]
        for a, b in zip(ours[t], theta):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
    # step 6 is rectified, hence much shorter than a momentum step on gradients of size ~3
    momentum_step = lr * np.abs(0.9 * m[0] + 0.1 * problem.gradient(theta)[0]).max() / (1 - 0.9 ** 6)
    assert np.abs(ours[6][0] - ours[5][0]).max() < 0.1 * momentum_step


# --- 3. against pytorch_optimizer 4.1.0 ------------------------------------------------------------
try:   # a test-only oracle (requirements.txt); the rest of the module runs without it
    import pytorch_optimizer as po
except ImportError:  # pragma: no cover
    po = None
needs_po = pytest.mark.skipif(po is None, reason="pytorch_optimizer is not installed")

# The conventions pytorch_optimizer uses, as reference switches.
PO_ADAM_EPS = dict(eps_outside_bias_correction=True, eps_inside_sqrt=1e-15)


def _po(name, **kwargs):
    cls = getattr(po, name)
    return lambda params: cls(params, weight_decouple=False, **kwargs)


PO_CASES = [
    # (id, ours, pytorch_optimizer, the reference's switches for pytorch_optimizer's conventions,
    #  the tolerance between ours and theirs and the difference it covers)
    #
    # AdaBelief: pytorch_optimizer writes exactly the book's equations (s += ε inside the
    # recursion, √ŝ + ε): only rounding differs.
    ("AdaBelief",
     lambda p: AdaBelief(p, lr=1e-2, weight_decay=1e-2),
     _po("AdaBelief", lr=1e-2, weight_decay=1e-2),
     dict(algorithm="adabelief", lr=1e-2, eps=1e-16, weight_decay=1e-2), {}, 1e-10),
    # AdaBelief(rectify=True): RAdam's rectification with ρ_t ≥ 5 (ours: > 5; never equal here)
    # and the momentum step before it (degenerated_to_sgd=True): only rounding differs.
    ("AdaBelief(rectify)",
     lambda p: AdaBelief(p, lr=1e-2, rectify=True),
     _po("AdaBelief", lr=1e-2, rectify=True, degenerated_to_sgd=True),
     dict(algorithm="adabelief", rectify=True, lr=1e-2, eps=1e-16),
     dict(rectify_inclusive=True), 1e-10),
    # AdaBeliefNorm: pytorch_optimizer's residual uses the raw g (not g̃). While e ≤ ‖g‖ the two
    # agree; here the correction is active and the paths part by ~0.3, so pytorch_optimizer is
    # only checked against the reference with a raw residual, and ours against the book's
    # equations (test_matches_the_equations_by_hand).
    ("AdaBelief+adanorm",
     lambda p: AdaBeliefNorm(p, lr=1e-2),
     _po("AdaBelief", lr=1e-2, adanorm=True, adanorm_r=0.95),
     dict(algorithm="adabelief", lr=1e-2, eps=1e-16, adanorm=True),
     dict(belief_residual_raw_gradient=True), None),
    # DiffGrad: step lr·√bc2/bc1 · ξ·m/(√(v + 1e-15) + ε), i.e. ε/√bc2 instead of ε next to √v̂
    # (the authors' code does the same, without the 1e-15). With β2 = 0.999, √bc2 = 0.03 at t = 1,
    # so the effective ε is up to 30× larger early on: a relative change of the step of about
    # 3e-7/|g|, summed over 150 steps of size ≤ lr → well below 1e-6 in θ (measured: 5e-8).
    ("DiffGrad",
     lambda p: DiffGrad(p, lr=1e-2, weight_decay=1e-2),
     _po("DiffGrad", lr=1e-2, weight_decay=1e-2),
     dict(algorithm="diffgrad", lr=1e-2, weight_decay=1e-2), PO_ADAM_EPS, 1e-6),
    # DiffGradNorm: the same ε difference; AdaNorm feeds m, ξ uses the raw g in both.
    ("DiffGrad+adanorm",
     lambda p: DiffGradNorm(p, lr=1e-2),
     _po("DiffGrad", lr=1e-2, adanorm=True, adanorm_r=0.95),
     dict(algorithm="diffgrad", lr=1e-2, adanorm=True), PO_ADAM_EPS, 1e-6),
    # AdaNorm (= the book's AdamNorm): default betas there are (0.9, 0.99), so pass them; the
    # denominator is (√(v + 1e-15) + ε)/√bc2: the same ε difference as DiffGrad.
    ("AdaNorm",
     lambda p: AdamNorm(p, lr=1e-2, betas=(0.9, 0.999), weight_decay=1e-2),
     _po("AdaNorm", lr=1e-2, betas=(0.9, 0.999), r=0.95, weight_decay=1e-2),
     dict(algorithm="adam", lr=1e-2, adanorm=True, weight_decay=1e-2), PO_ADAM_EPS, 1e-6),
    ("AdaNorm(γ=0.8)",
     lambda p: AdamNorm(p, lr=5e-3, betas=(0.8, 0.99), adanorm_gamma=0.8),
     _po("AdaNorm", lr=5e-3, betas=(0.8, 0.99), r=0.8),
     dict(algorithm="adam", lr=5e-3, betas=(0.8, 0.99), adanorm=True, adanorm_gamma=0.8),
     PO_ADAM_EPS, 1e-6),
    # RAdam: torch's math with ρ_t ≥ 5 and (degenerated_to_sgd=True) the momentum step before;
    # weight decay off (coupled decay is skipped there, see the module docstring).
    ("RAdam",
     lambda p: RAdam(p, lr=1e-2),
     _po("RAdam", lr=1e-2, degenerated_to_sgd=True),
     dict(algorithm="radam", lr=1e-2), dict(rectify_inclusive=True), 1e-10),
    ("RAdam+adanorm",
     lambda p: RAdamNorm(p, lr=1e-2),
     _po("RAdam", lr=1e-2, degenerated_to_sgd=True, adanorm=True, adanorm_r=0.95),
     dict(algorithm="radam", lr=1e-2, adanorm=True), dict(rectify_inclusive=True), 1e-10),
]


@needs_po
@pytest.mark.parametrize("case", PO_CASES, ids=lambda c: c[0])
def test_against_pytorch_optimizer(case):
    _, ours_factory, theirs_factory, reference_kwargs, their_conventions, tolerance = case
    problem = LeastSquares(seed=3)
    theirs = torch_run(theirs_factory, problem, STEPS)
    # pytorch_optimizer is the reference evaluated with its own conventions, to rounding.
    assert_same_path(theirs, reference_run(problem, STEPS, **reference_kwargs,
                                           **their_conventions), atol=1e-10)
    ours = torch_run(ours_factory, problem, STEPS)
    if tolerance is None:
        # a documented difference of convention, not of rounding: the paths really part
        assert max(np.abs(a - b).max() for a, b in zip(ours[-1], theirs[-1])) > 1e-2
        return
    worst = assert_same_path(ours, theirs, atol=tolerance)
    if their_conventions.keys() & PO_ADAM_EPS.keys():
        assert worst > 1e-12, "the ε placements should differ measurably; is ε passed?"


@needs_po
def test_pytorch_optimizer_adabelief_norm_differs_only_in_the_residual():
    """Where AdaNorm's correction is inactive (e ≤ ‖g‖ at every step, as when gradients grow),
    ours and pytorch_optimizer's AdaBelief with adanorm agree to rounding; the residual
    convention is the only difference."""
    problem = LeastSquares(seed=3)
    # an ascent-like problem: feed −g, so that ‖g‖ grows every step and e stays below it
    flipped = LeastSquares(seed=3)
    flipped.gradient = lambda params: [-g for g in problem.gradient(params)]
    ours = torch_run(lambda p: AdaBeliefNorm(p, lr=1e-2), flipped, 60)
    theirs = torch_run(_po("AdaBelief", lr=1e-2, adanorm=True, adanorm_r=0.95), flipped, 60)
    assert_same_path(ours, theirs, atol=1e-10)


def test_the_shortcuts_are_their_base_with_a_flag():
    p = [torch.nn.Parameter(torch.zeros(2))]
    for name, cls in OPTIMIZERS.items():
        for suffix, key in (("Norm", "adanorm"), ("Inject", "inject"), ("Centralized", "centralize")):
            if name.endswith(suffix):
                base = OPTIMIZERS[name[: -len(suffix)]]
                assert issubclass(cls, base) and cls(p).defaults[key] is True
                assert cls(p, **{key: False}).defaults[key] is False   # the flag can be overridden


def apply_gradients(params, optimizer, grads):
    """One optimizer step per entry of ``grads`` (a list of gradients, one per parameter)."""
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        optimizer.step()


@pytest.mark.parametrize("old_format", ["no running mean", "old name"])
def test_checkpoints_of_older_centralization_still_load(old_format):
    """Checkpoints from before centralization kept mean(m) as state have no running mean:
    loading one starts it at mean(m); checkpoints that kept it as ``exp_avg_mean`` (its old
    name) load it as CENTRALIZE_MEAN. Either way the run continues as if it had never stopped."""
    torch.manual_seed(0)
    initial = [torch.randn(50, 4), torch.randn(4)]
    grads = [[torch.randn(50, 4), torch.randn(4)] for _ in range(10)]

    straight = [torch.nn.Parameter(p.clone()) for p in initial]
    apply_gradients(straight, AdamCentralized(straight, lr=0.01), grads)
    first = [torch.nn.Parameter(p.clone()) for p in initial]
    optimizer = AdamCentralized(first, lr=0.01)
    apply_gradients(first, optimizer, grads[:5])
    saved = optimizer.state_dict()
    for state in saved["state"].values():
        mean = state.pop(CENTRALIZE_MEAN)
        if old_format == "old name":
            state["exp_avg_mean"] = mean
    resumed = AdamCentralized(first, lr=0.01)
    resumed.load_state_dict(saved)
    assert all(CENTRALIZE_MEAN in state and "exp_avg_mean" not in state
               for state in resumed.state.values())
    if old_format == "old name":   # the saved value itself, not a recomputed mean(m)
        marked = copy.deepcopy(saved)
        for state in marked["state"].values():
            state["exp_avg_mean"] = torch.tensor(123.0)
        fresh = AdamCentralized(first, lr=0.01)
        fresh.load_state_dict(marked)
        assert all(state[CENTRALIZE_MEAN].item() == 123.0 for state in fresh.state.values())
    apply_gradients(first, resumed, grads[5:])
    for a, b in zip(straight, first):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
