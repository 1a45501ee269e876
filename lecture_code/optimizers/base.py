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

Rules only use tensor arithmetic (``+ - * /``, ``sqrt``, ``torch.where``) on tensors and
Python numbers, so the very same function runs eagerly and compiled. Quantities that depend only
on the step count ``t`` — Adam's bias corrections :math:`1-\beta^t`, RAdam's :math:`\rho_t` —
are *step scalars*: a class computes them once per step in :meth:`ElementwiseOptimizer.step_scalars`
and the rule receives them as keyword arguments. Eagerly they are Python floats; compiled, they
(and the learning rate) are passed as 0-dimensional tensors, so neither a schedule nor the
advancing step recompiles anything, and no per-element loop re-evaluates a power of β.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch.optim import Optimizer

from .._checks import check_choice, check_real

EXECUTIONS = ("eager", "compiled")
SUM_BLOCK = 1024


def blocked_sum(x: torch.Tensor) -> torch.Tensor:
    """The sum of all elements of ``x``, computed as a sum of sums over blocks of 1024 elements.

    Mathematically ``x.sum()``; the per-tensor reductions of the rules (AdaNorm's norm, moment
    centralization's mean) use it. The two levels are for speed: compiled for the CPU, one long
    float32 sum becomes a single dependent chain of additions per thread, which cannot keep up
    with memory (1.4 ms for 10 M elements here), while per-block sums vectorize and run 1.5 to
    2.3 times as fast (0.6–0.95 ms). The same function runs eagerly, so both executions compute
    the same sum. Half-precision tensors are summed in float32 (the result is float32), as
    ``torch.sum`` does internally: in float16 a sum of 2 M elements of 0.1 overflows.
    """
    x = _at_least_float32(x)
    in_blocks = x.numel() - x.numel() % SUM_BLOCK           # a constant once shapes are known
    if in_blocks == 0:
        return x.sum()
    flat = x.reshape(-1)
    total = flat[:in_blocks].view(-1, SUM_BLOCK).sum(dim=1).sum()
    return total + flat[in_blocks:].sum() if in_blocks < flat.numel() else total


def blocked_norm(x: torch.Tensor) -> torch.Tensor:
    """The Euclidean norm of all elements of ``x``, ``sqrt(blocked_sum(x²))``; half-precision
    tensors are squared in float32 (in float16, gradients of 1e-4 square to 0)."""
    x = _at_least_float32(x)
    return blocked_sum(x * x).sqrt()


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _apply_rule(rule: Callable, params, grads, states, step_scalars, hyperparameters: dict) -> None:
    for param, grad, state, scalars in zip(params, grads, states, step_scalars):
        rule(param, grad, state, **hyperparameters, **scalars)


class ElementwiseOptimizer(Optimizer):
    """Base class: subclasses define ``rule``, :meth:`hyperparameters`, and where needed
    :meth:`init_state` and :meth:`step_scalars`.

    ``rule`` is a staticmethod ``rule(param, grad, state, **hyperparameters, **step_scalars)``
    that updates one tensor in place. ``state`` is the parameter's state dict;
    ``state["step"]`` counts the steps taken, the current one included. It is a Python int
    (``torch.optim`` keeps a 0-dim tensor; a checkpoint holding one loads too): the step count
    only feeds the step scalars, which are computed in Python anyway, and adding 1 to an int is
    ~50 times cheaper than to a tensor — on a model of 62 tensors that was a sixth of a
    compiled step. A class whose rule needs no step count (SGD, like ``torch.optim.SGD``) sets
    ``counts_steps = False`` and skips that bookkeeping.
    """

    rule: Callable
    counts_steps: bool = True

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

    def step_scalars(self, group: dict, t: int) -> dict:
        """Keyword arguments that depend only on the step count ``t`` (default: none)."""
        return {}

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
                    if self.counts_steps:
                        state["step"] = 0
                    state.update(self.init_state(param, group))
                params.append(param)
                grads.append(param.grad)
                states.append(state)
            if not params:
                continue
            self._execute(params, grads, states, self._count_steps(group, states),
                          self.hyperparameters(group))
        return loss

    def _count_steps(self, group: dict, states: list[dict]) -> list[dict]:
        """t ← t + 1 for every parameter; returns each parameter's step scalars."""
        if not self.counts_steps:
            return [{}] * len(states)
        step_counts = []
        for state in states:
            state["step"] = int(state["step"]) + 1                # also reads torch's tensor
            step_counts.append(state["step"])
        scalars_at = {t: self._as_data(self.step_scalars(group, t)) for t in set(step_counts)}
        return [scalars_at[t] for t in step_counts]            # usually one t for the group

    def _as_data(self, values: dict) -> dict:
        """Compiled: floats become 0-dim tensors, so that new values do not recompile."""
        if self.execution == "eager":
            return values
        return {k: torch.tensor(v, dtype=torch.float64) if isinstance(v, float) else v
                for k, v in values.items()}

    def _execute(self, params, grads, states, step_scalars, hyperparameters: dict) -> None:
        if self.execution == "eager":
            _apply_rule(self.rule, params, grads, states, step_scalars, hyperparameters)
            return
        if self._compiled_rule is None:
            _allow_recompiles()
            # Static shapes: dynamo's guards already check every input's size and stride, so
            # inductor's second check of each (a Python call per tensor per step) is dropped.
            self._compiled_rule = torch.compile(_apply_rule, dynamic=False,
                                                options={"size_asserts": False})
        # The learning rate changes under schedules: pass it as data, not as a constant.
        hyperparameters = dict(hyperparameters, **self._as_data({"lr": float(hyperparameters["lr"])}))
        self._compiled_rule(self.rule, params, grads, states, step_scalars, hyperparameters)


def _allow_recompiles() -> None:
    # Each distinct model (number, shapes and dtypes of tensors) and each setting of the static
    # hyperparameters is one compiled graph; the default limit of 8 is too low for a book that
    # builds many optimizers in one process.
    import torch._dynamo

    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 256)
    torch._dynamo.config.accumulated_recompile_limit = max(
        torch._dynamo.config.accumulated_recompile_limit, 4096)
