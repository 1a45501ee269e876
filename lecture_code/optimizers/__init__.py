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

__all__ = ["OPTIMIZERS", "CENTRALIZE_MEAN", "ElementwiseOptimizer", "AdamFamily", "adam_family_rule", "sgd_rule",
           "adagrad_rule", "rmsprop_rule", *OPTIMIZERS]
