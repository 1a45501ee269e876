"""The book's optimizers: each the slide's equation written once, applied by shared machinery.

See :mod:`lecture_code.optimizers.base` for how a rule, its class and the execution strategy
fit together.
"""
from .adam import (CENTRALIZE_MEAN, AdaBelief, AdaBeliefCentralized, AdaBeliefInject, AdaBeliefNorm, Adam,
                   AdamCentralized, AdamFamily, AdamInject, AdamNorm, AdamW, DiffGrad,
                   DiffGradCentralized, DiffGradInject, DiffGradNorm, RAdam, RAdamCentralized,
                   RAdamInject, RAdamNorm, adam_family_rule)
from .base import ElementwiseOptimizer
from .classic import SGD, AdaGrad, RMSProp, adagrad_rule, rmsprop_rule, sgd_rule

#: Every optimizer class by its name, for pickers in widgets and benchmarks.
OPTIMIZERS = {cls.__name__: cls for cls in (
    SGD, AdaGrad, RMSProp, Adam, AdamW, DiffGrad, AdaBelief, RAdam,
    AdamNorm, DiffGradNorm, RAdamNorm, AdaBeliefNorm,
    AdamInject, DiffGradInject, RAdamInject, AdaBeliefInject,
    AdamCentralized, DiffGradCentralized, RAdamCentralized, AdaBeliefCentralized)}


def hyperparameters_for(optimizer_cls, *, lr: float, momentum: float = 0.9,
                        beta1: float = 0.9, beta2: float = 0.999) -> dict:
    """The keyword arguments that the explorer's sliders mean for ``optimizer_cls``.

    ``momentum`` is SGD's ρ, ``beta2`` doubles as RMSProp's decay rate, ``beta1``/``beta2`` are
    the Adam family's betas; AdaGrad only takes the learning rate.
    """
    if issubclass(optimizer_cls, SGD):
        return {"lr": lr, "momentum": momentum}
    if issubclass(optimizer_cls, RMSProp):
        return {"lr": lr, "decay_rate": beta2}
    if issubclass(optimizer_cls, AdaGrad):
        return {"lr": lr}
    if issubclass(optimizer_cls, AdamFamily):
        return {"lr": lr, "betas": (beta1, beta2)}
    raise TypeError(f"no slider mapping for optimizer class {optimizer_cls.__name__}")


__all__ = ["OPTIMIZERS", "hyperparameters_for", "CENTRALIZE_MEAN", "ElementwiseOptimizer", "AdamFamily", "adam_family_rule", "sgd_rule",
           "adagrad_rule", "rmsprop_rule", *OPTIMIZERS]
