r"""The Adam family: Adam, AdamW, diffGrad, AdaBelief, RAdam, and three techniques for all of them.

Notation (the book's): :math:`t` counts steps from 1, :math:`g_t` is the gradient,
:math:`b_1 = 1-\beta_1^t` and :math:`b_2 = 1-\beta_2^t` are the bias corrections,
:math:`\hat m = m/b_1` and :math:`\hat v = v/b_2`.

Every algorithm of the family is one call of :func:`adam_family_rule`, which is composed of the
small pieces below — the exponential moving average, the bias-corrected step, RAdam's
rectification, diffGrad's friction, AdaNorm's gradient-norm correction, AdaInject's injection and
moment centralization. Each piece is written once; an algorithm is a choice of pieces.
"""
from __future__ import annotations

import math

import torch

from .._checks import check_betas, check_bool, check_choice, check_real
from .base import ElementwiseOptimizer, blocked_norm, blocked_sum


# --- pieces ------------------------------------------------------------------------------------
def ema_(average, value, beta):
    r"""Exponential moving average, in place: :math:`a \leftarrow \beta a + (1-\beta)\,x`."""
    average.mul_(beta).add_((1 - beta) * value)


def adam_step_scalars(t, beta1, beta2, rectify=False):
    r"""The constants of step ``t`` that every element shares, computed once per step.

    The bias corrections :math:`b_1 = 1-\beta_1^t`, :math:`b_2 = 1-\beta_2^t`; with
    ``rectify``, RAdam's test :math:`\rho_t > 5` and rectification factor :math:`r_t`:

    .. math::
        \rho_\infty = \frac{2}{1-\beta_2} - 1, \quad
        \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1-\beta_2^t}, \quad
        r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}
    """
    scalars = {"bias_correction1": 1 - beta1 ** t, "bias_correction2": 1 - beta2 ** t}
    if rectify:
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2 ** t / scalars["bias_correction2"]
        tractable = rho_t > 5
        scalars["variance_tractable"] = tractable
        scalars["rectification"] = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / (
            (rho_inf - 4) * (rho_inf - 2) * rho_t)) if tractable else 0.0
    return scalars


def adam_step(m, v, bias_correction1, bias_correction2, eps, bias_correction=True):
    r"""Adam's step direction :math:`\hat m / (\sqrt{\hat v} + \epsilon)`, with
    :math:`\hat m = m/b_1` and :math:`\hat v = v/b_2`.

    With ``bias_correction=False`` it is :math:`m / (\sqrt{v} + \epsilon)`: the slides' "Adam
    without bias correction", whose first step is large because :math:`v_1 = (1-\beta_2) g_1^2`.
    """
    if not bias_correction:
        return m / (v.sqrt() + eps)
    m_hat = m / bias_correction1
    v_hat = v / bias_correction2
    return m_hat / (v_hat.sqrt() + eps)


def rectified_step(m, v, bias_correction1, bias_correction2, eps, variance_tractable,
                   rectification):
    r"""RAdam's step direction (Liu et al., ICLR 2020), in the form ``torch.optim.RAdam`` uses.

    If :math:`\rho_t > 5` (see :func:`adam_step_scalars`) the step is
    :math:`r_t\, \hat m \sqrt{b_2} / (\sqrt{v} + \epsilon)`; otherwise the variance of the
    adaptive rate is not yet tractable and the step is the un-adapted :math:`\hat m` (SGD with
    momentum).
    """
    m_hat = m / bias_correction1
    if not variance_tractable:
        return m_hat
    return rectification * m_hat * bias_correction2 ** 0.5 / (v.sqrt() + eps)


def _scalar(param):
    return torch.zeros((), dtype=param.dtype, device=param.device)


def diffgrad_friction_state(param) -> dict:
    """:func:`diffgrad_friction_`'s state: the previous gradient, :math:`g_0 = 0`."""
    return {"previous_grad": torch.zeros_like(param, memory_format=torch.preserve_format)}


def diffgrad_friction_(grad, previous_grad):
    r"""diffGrad's friction :math:`\xi_t = 1/(1+e^{-|g_{t-1} - g_t|})`, in :math:`[0.5, 1)`.

    A gradient that barely changed (near an optimum) gives :math:`\xi \approx 0.5`: the step is
    halved; a fast-changing gradient gives :math:`\xi \to 1`. :math:`g_0 = 0`. Stores
    :math:`g_t` for the next step. Dubey et al., IEEE TNNLS 2020.
    """
    friction = torch.sigmoid((previous_grad - grad).abs())
    previous_grad.copy_(grad)
    return friction


def adanorm_state(param) -> dict:
    """:func:`adanorm_correction_`'s state: the running gradient norm, :math:`e_0 = 0`."""
    return {"grad_norm_ema": _scalar(param)}


def adanorm_correction_(grad, grad_norm_ema, gamma):
    r"""AdaNorm's gradient-norm correction (Dubey et al., WACV 2023), per parameter tensor.

    .. math::
        e_t = \gamma e_{t-1} + (1-\gamma)\lVert g_t\rVert, \qquad
        \tilde g_t = \begin{cases} (e_t / \lVert g_t\rVert)\, g_t & e_t > \lVert g_t\rVert \\
                     g_t & \text{otherwise} \end{cases}

    with :math:`e_0 = 0`: a gradient whose norm falls below its recent history is scaled back up
    to it. (:math:`\tilde g = g` when :math:`\lVert g\rVert = 0`.) Updates :math:`e` in place.
    """
    norm = blocked_norm(grad)
    ema_(grad_norm_ema, norm, gamma)
    boost = (grad_norm_ema > norm) & (norm > 0)
    return grad * torch.where(boost, grad_norm_ema / norm, 1.0)


def inject_state(param) -> dict:
    """:func:`inject_`'s state: the previous parameter (the start, before the first step)."""
    return {"previous_param": param.detach().clone(memory_format=torch.preserve_format)}


def inject_(grad, param, previous_param, k, first_step):
    r"""AdaInject's injected gradient (Dubey et al., IEEE TAI 2023).

    .. math::
        u_t = (g_t + \Delta\theta \odot g_t^2) / k, \qquad \Delta\theta = \theta_{t-2} - \theta_{t-1}

    for :math:`t > 1`, and :math:`u_1 = g_1`. The second-order term uses the last step taken
    (a cheap curvature hint). Records :math:`\theta_{t-1}` for the next step, so it must be
    called before the parameter is updated.
    """
    delta = previous_param - param
    # `copy_(param * 1)`, not `copy_(param)`: under torch.compile (inductor, torch 2.13) a plain
    # copy of an input that is mutated later in the same graph can store the *updated* value.
    previous_param.copy_(param * 1)
    if first_step:
        return grad
    return (grad + delta * grad * grad) / k


#: :func:`centralize_`'s state entry: the running mean of m, named after the technique.
CENTRALIZE_MEAN = "centralize_mean"
#: The same entry's name in checkpoints saved before it was renamed; loading one renames it.
_OLD_CENTRALIZE_MEAN = "exp_avg_mean"


def centralize_state(param) -> dict:
    """:func:`centralize_`'s state: the running mean of m, :math:`\bar m_0 = 0`."""
    return {CENTRALIZE_MEAN: _scalar(param)}


def centralize_(m, moment_input, moment_mean, beta1):
    r"""Moment centralization (Sadu, Dubey & Sreeja, CVMI 2022): the step uses
    :math:`\tilde m = m - \bar m`, with one mean over the whole tensor, as the authors' code does.

    The mean is kept as a running scalar instead of being recomputed from :math:`m`: the mean of
    an exponential moving average is the moving average of the means,

    .. math::
        \bar m_t = \beta_1 \bar m_{t-1} + (1-\beta_1)\, \overline{x_t}, \qquad \bar m_0 = 0,

    where :math:`x_t` is what the first moment was fed (the gradient). Equal to ``m.mean()`` up
    to rounding, it costs one pass over :math:`x` instead of one over :math:`m` and :math:`x`
    (the update needs the mean before it can start). Updates ``moment_mean`` in place.
    """
    ema_(moment_mean, blocked_sum(moment_input) / max(moment_input.numel(), 1), beta1)
    return m - moment_mean


# --- the composed rule --------------------------------------------------------------------------
def adam_family_rule(param, grad, state, *, lr, beta1, beta2, eps, weight_decay,
                     bias_correction1, bias_correction2, decoupled_weight_decay=False,
                     bias_correction=True, second_moment="gradient", friction=False,
                     rectify=False, variance_tractable=False, rectification=0.0,
                     adanorm=False, adanorm_gamma=0.95, inject=False, inject_k=2.0,
                     first_step=False, centralize=False):
    r"""One step of any member of the Adam family on one parameter tensor.

    Adam (Kingma & Ba, ICLR 2015)::

        m ← β1 m + (1 − β1) g          first moment: momentum
        v ← β2 v + (1 − β2) g²         second moment: RMSProp's scale
        θ ← θ − α m̂ / (√v̂ + ε)

    and the variants, by keyword:

    * ``second_moment="belief"`` — AdaBelief: :math:`s \leftarrow \beta_2 s + (1-\beta_2)(g-m)^2 + \epsilon`
      replaces :math:`v` (the "belief" in the gradient is its deviation from the momentum);
    * ``friction=True`` — diffGrad: the step is multiplied by :func:`diffgrad_friction_` (raw g);
    * ``rectify=True`` — RAdam's :func:`rectified_step` replaces :func:`adam_step`;
    * ``adanorm=True`` — the first moment is fed AdaNorm's :func:`adanorm_correction_` g̃;
    * ``inject=True`` — the first moment is fed AdaInject's :func:`inject_` u;
    * ``centralize=True`` — the step uses :func:`centralize_`'s m̃ (the stored m is unchanged);
    * ``decoupled_weight_decay=True`` — AdamW: θ ← θ (1 − αλ) instead of g ← g + λθ.

    The second moment always uses the raw gradient g. AdaBelief's residual uses AdaNorm's g̃
    when that is on, but never AdaInject's u (like the second moment, it sees the gradient, as
    in the AdaInject authors' AdaBeliefInject), and the (centralized) moment the step uses. The bias corrections and
    RAdam's ρ_t, r_t come from :func:`adam_step_scalars`, once per step.
    """
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay                   # AdamW: θ ← θ (1 − αλ)
        else:
            grad = grad + weight_decay * param               # L2: g ← g + λθ
    m, v = state["exp_avg"], state["exp_avg_sq"]

    first_moment_input = grad
    if adanorm:
        first_moment_input = adanorm_correction_(first_moment_input, state["grad_norm_ema"],
                                                 adanorm_gamma)
    belief_input = first_moment_input                        # AdaBelief's g (AdaNorm's g̃)
    if inject:
        first_moment_input = inject_(first_moment_input, param, state["previous_param"],
                                     inject_k, first_step)
    ema_(m, first_moment_input, beta1)                       # m ← β1 m + (1 − β1) g
    m_used = m
    if centralize:                                           # m̃ = m − mean(m)
        m_used = centralize_(m, first_moment_input, state[CENTRALIZE_MEAN], beta1)

    if second_moment == "belief":
        ema_(v, (belief_input - m_used) ** 2, beta2)        # s ← β2 s + (1 − β2)(g − m)² + ε
        v += eps
    else:
        ema_(v, grad * grad, beta2)                          # v ← β2 v + (1 − β2) g²

    if rectify:
        direction = rectified_step(m_used, v, bias_correction1, bias_correction2, eps,
                                   variance_tractable, rectification)
    else:
        direction = adam_step(m_used, v, bias_correction1, bias_correction2, eps,
                              bias_correction)
    if friction:
        direction = diffgrad_friction_(grad, state["previous_grad"]) * direction
    param -= lr * direction                                  # θ ← θ − α · direction


# --- classes ------------------------------------------------------------------------------------
class AdamFamily(ElementwiseOptimizer):
    """Base of the Adam family: hyperparameter checks, state layout and the technique flags.

    Subclasses fix the algorithm through class attributes (``second_moment``, ``friction``,
    ``rectify``, ``decoupled_weight_decay``); every class accepts the technique flags
    ``adanorm``/``adanorm_gamma``, ``inject``/``inject_k`` and ``centralize``.
    """

    rule = staticmethod(adam_family_rule)
    second_moment = "gradient"
    friction = False
    rectify = False
    decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 bias_correction=True, rectify=None, adanorm=False, adanorm_gamma=0.95,
                 inject=False, inject_k=2.0, centralize=False, execution="eager"):
        beta1, beta2 = check_betas("betas", betas)
        check_real("eps", eps, low=0.0)
        check_real("weight_decay", weight_decay, low=0.0)
        check_bool("bias_correction", bias_correction)
        rectify = type(self).rectify if rectify is None else check_bool("rectify", rectify)
        for name, flag in (("adanorm", adanorm), ("inject", inject), ("centralize", centralize)):
            check_bool(name, flag)
        check_real("adanorm_gamma", adanorm_gamma, low=0.0, high=1.0, high_open=True)
        check_real("inject_k", inject_k, low=0.0, low_open=True)
        if rectify and not bias_correction:
            raise ValueError("rectify=True needs bias_correction=True (RAdam's rectification "
                             "is defined on bias-corrected moments)")
        check_choice("second_moment", self.second_moment, ("gradient", "belief"))
        defaults = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay,
                        bias_correction=bias_correction, rectify=rectify, adanorm=adanorm,
                        adanorm_gamma=adanorm_gamma, inject=inject, inject_k=inject_k,
                        centralize=centralize)
        super().__init__(params, defaults, execution)

    def init_state(self, param, group):
        state = {"exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
                 "exp_avg_sq": torch.zeros_like(param, memory_format=torch.preserve_format)}
        for on, piece_state in ((self.friction, diffgrad_friction_state),
                                (group["adanorm"], adanorm_state),
                                (group["centralize"], centralize_state),
                                (group["inject"], inject_state)):
            if on:
                state.update(piece_state(param))             # each piece names its own state
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        # Older checkpoints: the running mean under its old name (renamed here), or, from
        # before centralization kept it, none at all (it starts at mean(m)).
        for group in self.param_groups:
            for param in group["params"] if group.get("centralize") else ():
                param_state = self.state.get(param, {})
                if _OLD_CENTRALIZE_MEAN in param_state:
                    param_state[CENTRALIZE_MEAN] = param_state.pop(_OLD_CENTRALIZE_MEAN)
                if "exp_avg" in param_state and CENTRALIZE_MEAN not in param_state:
                    param_state[CENTRALIZE_MEAN] = param_state["exp_avg"].mean()

    def step_scalars(self, group, t):
        scalars = adam_step_scalars(t, *group["betas"], rectify=group["rectify"])
        if group["inject"]:
            scalars["first_step"] = t == 1
        return scalars

    def hyperparameters(self, group):
        beta1, beta2 = group["betas"]
        return dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                    weight_decay=group["weight_decay"],
                    decoupled_weight_decay=self.decoupled_weight_decay,
                    bias_correction=group["bias_correction"], second_moment=self.second_moment,
                    friction=self.friction, rectify=group["rectify"], adanorm=group["adanorm"],
                    adanorm_gamma=group["adanorm_gamma"], inject=group["inject"],
                    inject_k=group["inject_k"], centralize=group["centralize"])


class Adam(AdamFamily):
    """Adam (Kingma & Ba, ICLR 2015); ``bias_correction=False`` is the slides' Adam without it.

    Matches ``torch.optim.Adam`` (weight decay is the coupled L2 term g ← g + λθ).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 bias_correction=True, **techniques):
        super().__init__(params, lr, betas, eps, weight_decay, bias_correction=bias_correction,
                         rectify=False, **techniques)


class AdamW(AdamFamily):
    """Adam with decoupled weight decay θ ← θ(1 − αλ) (Loshchilov & Hutter, ICLR 2019).

    Matches ``torch.optim.AdamW``.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 **techniques):
        super().__init__(params, lr, betas, eps, weight_decay, rectify=False, **techniques)


class DiffGrad(AdamFamily):
    """diffGrad (Dubey et al., IEEE TNNLS 2020): Adam's step times the friction ξ."""

    friction = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 **techniques):
        super().__init__(params, lr, betas, eps, weight_decay, rectify=False, **techniques)


class AdaBelief(AdamFamily):
    """AdaBelief (Zhuang et al., NeurIPS 2020); ``rectify=True`` adds RAdam's rectification,
    as the authors' released code does."""

    second_moment = "belief"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-16, weight_decay=0.0,
                 rectify=False, **techniques):
        super().__init__(params, lr, betas, eps, weight_decay, rectify=rectify, **techniques)


class RAdam(AdamFamily):
    """Rectified Adam (Liu et al., ICLR 2020); matches ``torch.optim.RAdam``."""

    rectify = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 **techniques):
        super().__init__(params, lr, betas, eps, weight_decay, rectify=True, **techniques)


def variant(base: type[AdamFamily], name: str, **flags) -> type[AdamFamily]:
    """A named shortcut for ``base`` with technique flags switched on, e.g. AdamNorm."""

    def __init__(self, params, *args, **kwargs):
        base.__init__(self, params, *args, **{**flags, **kwargs})

    doc = f"{base.__name__} with {', '.join(f'{k}={v!r}' for k, v in flags.items())}."
    return type(name, (base,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})


AdamNorm = variant(Adam, "AdamNorm", adanorm=True)
DiffGradNorm = variant(DiffGrad, "DiffGradNorm", adanorm=True)
RAdamNorm = variant(RAdam, "RAdamNorm", adanorm=True)
AdaBeliefNorm = variant(AdaBelief, "AdaBeliefNorm", adanorm=True)
AdamInject = variant(Adam, "AdamInject", inject=True)
DiffGradInject = variant(DiffGrad, "DiffGradInject", inject=True)
RAdamInject = variant(RAdam, "RAdamInject", inject=True)
AdaBeliefInject = variant(AdaBelief, "AdaBeliefInject", inject=True)
AdamCentralized = variant(Adam, "AdamCentralized", centralize=True)
DiffGradCentralized = variant(DiffGrad, "DiffGradCentralized", centralize=True)
RAdamCentralized = variant(RAdam, "RAdamCentralized", centralize=True)
AdaBeliefCentralized = variant(AdaBelief, "AdaBeliefCentralized", centralize=True)
