"""SGD (with momentum and Nesterov), AdaGrad and RMSProp — each rule as on the lecture slides."""
from __future__ import annotations

import torch

from .._checks import check_bool, check_real
from .base import ElementwiseOptimizer


def sgd_rule(param, grad, state, *, lr, momentum, nesterov, weight_decay):
    r"""Stochastic gradient descent, with optional (Nesterov) momentum.

    .. math::
        v_{t+1} = \rho\, v_t + \nabla f(x_t), \qquad x_{t+1} = x_t - \alpha\, v_{t+1}

    with :math:`v_0 = 0`; without momentum (:math:`\rho = 0`) this is plain
    :math:`x_{t+1} = x_t - \alpha \nabla f(x_t)`. Nesterov's variant steps along
    :math:`\nabla f(x_t) + \rho\, v_{t+1}` (Sutskever et al., ICML 2013, in the form torch uses).
    Weight decay :math:`\lambda` adds :math:`\lambda x_t` to the gradient (the L2 penalty).
    Polyak (1964); the slide form follows cs231n.
    """
    if weight_decay != 0:
        grad = grad + weight_decay * param
    if momentum == 0:
        param -= lr * grad
        return
    velocity = state["velocity"]
    velocity.mul_(momentum).add_(grad)                      # v ← ρ v + ∇f(x)
    direction = grad + momentum * velocity if nesterov else velocity
    param -= lr * direction                                 # x ← x − α v


def adagrad_rule(param, grad, state, *, lr, eps, weight_decay):
    r"""AdaGrad: per-coordinate steps shrink with the sum of all squared gradients seen so far.

    .. math::
        G_t = G_{t-1} + g_t^2, \qquad x_{t+1} = x_t - \alpha\, \frac{g_t}{\sqrt{G_t} + \epsilon}

    Because :math:`G_t` only grows, the effective learning rate :math:`\alpha/\sqrt{G_t}`
    decays towards zero. Duchi, Hazan & Singer, JMLR 2011.
    """
    if weight_decay != 0:
        grad = grad + weight_decay * param
    sum_of_squares = state["sum_of_squares"]
    sum_of_squares += grad * grad                            # G ← G + g²
    param -= lr * grad / (sum_of_squares.sqrt() + eps)       # x ← x − α g / (√G + ε)


def rmsprop_rule(param, grad, state, *, lr, decay_rate, eps, weight_decay):
    r"""RMSProp: AdaGrad with a leaky (exponentially decaying) average of squared gradients.

    .. math::
        r_t = \delta\, r_{t-1} + (1 - \delta)\, g_t^2, \qquad
        x_{t+1} = x_t - \alpha\, \frac{g_t}{\sqrt{r_t} + \epsilon}

    with decay rate :math:`\delta`. Tieleman & Hinton, Coursera lecture 6.5, 2012.
    """
    if weight_decay != 0:
        grad = grad + weight_decay * param
    mean_square = state["mean_square"]
    mean_square.mul_(decay_rate).add_((1 - decay_rate) * grad * grad)   # r ← δ r + (1−δ) g²
    param -= lr * grad / (mean_square.sqrt() + eps)                     # x ← x − α g / (√r + ε)


class SGD(ElementwiseOptimizer):
    """SGD with optional momentum ρ and Nesterov momentum; see :func:`sgd_rule`.

    Matches ``torch.optim.SGD(..., dampening=0)``.
    """

    rule = staticmethod(sgd_rule)
    counts_steps = False

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, *, execution: str = "eager"):
        check_real("momentum", momentum, low=0.0, high=1.0, high_open=True)
        check_bool("nesterov", nesterov)
        check_real("weight_decay", weight_decay, low=0.0)
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0")
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      weight_decay=weight_decay), execution)

    def init_state(self, param, group):
        if group["momentum"] == 0:
            return {}
        return {"velocity": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def hyperparameters(self, group):
        return {k: group[k] for k in ("lr", "momentum", "nesterov", "weight_decay")}


class AdaGrad(ElementwiseOptimizer):
    """AdaGrad; see :func:`adagrad_rule`. Matches ``torch.optim.Adagrad`` (no lr decay)."""

    rule = staticmethod(adagrad_rule)

    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-7, weight_decay: float = 0.0,
                 *, execution: str = "eager"):
        check_real("eps", eps, low=0.0)
        check_real("weight_decay", weight_decay, low=0.0)
        super().__init__(params, dict(lr=lr, eps=eps, weight_decay=weight_decay), execution)

    def init_state(self, param, group):
        return {"sum_of_squares": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def hyperparameters(self, group):
        return {k: group[k] for k in ("lr", "eps", "weight_decay")}


class RMSProp(ElementwiseOptimizer):
    """RMSProp; see :func:`rmsprop_rule`. Matches ``torch.optim.RMSprop(alpha=decay_rate)``."""

    rule = staticmethod(rmsprop_rule)

    def __init__(self, params, lr: float = 1e-3, decay_rate: float = 0.99, eps: float = 1e-7,
                 weight_decay: float = 0.0, *, execution: str = "eager"):
        check_real("decay_rate", decay_rate, low=0.0, high=1.0, high_open=True)
        check_real("eps", eps, low=0.0)
        check_real("weight_decay", weight_decay, low=0.0)
        super().__init__(params, dict(lr=lr, decay_rate=decay_rate, eps=eps,
                                      weight_decay=weight_decay), execution)

    def init_state(self, param, group):
        return {"mean_square": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def hyperparameters(self, group):
        return {k: group[k] for k in ("lr", "decay_rate", "eps", "weight_decay")}
