"""The machinery every optimizer of the book shares: math apart from execution.

An optimizer here is three things:

* a **rule** — a function ``rule(param, grad, state, **hyperparameters)`` that updates *one*
  parameter tensor in place, written as close to the algorithm's equation as Python allows;
* a thin **class** (a :class:`torch.optim.Optimizer` subclass) that validates the
  hyperparameters, says which state each parameter carries, and names its rule;
* an **execution strategy**, shared by all classes, that applies the rule to every parameter:
  ``"eager"`` calls the rule tensor by tensor (what the chapters show and step through), and
  ``"compiled"`` hands the same rule, looped over all parameters of a group, to
  :func:`torch.compile`, which fuses each tensor's update into one pass over memory — the speed
  of ``torch.optim``'s fused kernels without a second, hand-written copy of any algorithm.

Rules only use tensor arithmetic (``+ - * / **``, ``sqrt``, ``torch.where``) on tensors and
Python numbers, so the very same function runs eagerly and compiled. The step count ``t`` is a
0-dimensional tensor in the state (as in ``torch.optim``), so bias corrections never force a
recompilation; in compiled mode the learning rate is passed as a tensor too, so a schedule that
changes it does not recompile either.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch.optim import Optimizer

from .._checks import check_choice, check_real

EXECUTIONS = ("eager", "compiled")


def _apply_rule(rule: Callable, params, grads, states, hyperparameters: dict) -> None:
    for param, grad, state in zip(params, grads, states):
        rule(param, grad, state, **hyperparameters)


class ElementwiseOptimizer(Optimizer):
    """Base class: subclasses define :meth:`init_state`, :meth:`hyperparameters` and ``rule``.

    ``rule`` is a staticmethod ``rule(param, grad, state, **hyperparameters)``. ``state`` is the
    parameter's state dict; ``state["step"]`` (a float64 0-dim tensor) already counts the
    current step, starting at 1.
    """

    rule: Callable

    def __init__(self, params, defaults: dict, execution: str = "eager"):
        check_real("lr", defaults["lr"], low=0.0)
        check_choice("execution", execution, EXECUTIONS)
        super().__init__(params, defaults)
        self.execution = execution
        self._compiled_rule = None

    # --- what subclasses say -------------------------------------------------------------
    def init_state(self, param: torch.Tensor, group: dict) -> dict:
        """The state of a parameter before its first step (default: only the step count)."""
        return {}

    def hyperparameters(self, group: dict) -> dict:
        """The keyword arguments the rule receives for the parameters of ``group``."""
        raise NotImplementedError

    # --- shared execution ----------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        """Apply one update to every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, states = [], [], []
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise TypeError(f"{type(self).__name__} does not support sparse gradients")
                state = self.state[param]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float64)
                    state.update(self.init_state(param, group))
                state["step"] += 1
                params.append(param)
                grads.append(param.grad)
                states.append(state)
            if params:
                self._execute(params, grads, states, self.hyperparameters(group))
        return loss

    def _execute(self, params, grads, states, hyperparameters: dict) -> None:
        if self.execution == "eager":
            _apply_rule(self.rule, params, grads, states, hyperparameters)
            return
        if self._compiled_rule is None:
            _allow_recompiles()
            self._compiled_rule = torch.compile(_apply_rule)
        # The learning rate changes under schedules: pass it as data, not as a constant.
        hyperparameters = dict(hyperparameters,
                               lr=torch.tensor(hyperparameters["lr"], dtype=torch.float64))
        self._compiled_rule(self.rule, params, grads, states, hyperparameters)


def _allow_recompiles() -> None:
    # Each distinct model (number, shapes and dtypes of tensors) and each setting of the static
    # hyperparameters is one compiled graph; the default limit of 8 is too low for a book that
    # builds many optimizers in one process.
    import torch._dynamo

    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 256)
    torch._dynamo.config.accumulated_recompile_limit = max(
        torch._dynamo.config.accumulated_recompile_limit, 4096)
