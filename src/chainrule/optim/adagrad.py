"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import _make, mutate
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    addcdiv_,
    addcmul_,
    as_real,
    check_unsupported,
    signed_grad,
    step_state,
)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """``torch.optim.Adagrad``. With ``g`` the gradient (negated if ``maximize``) at step ``t``::

    g <- g + weight_decay * p                          (if weight_decay != 0)
    clr <- lr / (1 + (t - 1) * lr_decay)
    s <- s + g * g                                     sum (starts at initial_accumulator_value)
    p <- p - clr * g / (sqrt(s) + eps)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}"
            )
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_unsupported(differentiable=differentiable, fused=fused)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        # unlike the other optimizers, torch creates Adagrad's state up front
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p: Any) -> None:
        # torch fills `sum` from the optimizer's default, never from a group's own value
        state = self.state[p]
        state["step"] = step_state()
        init = self.defaults["initial_accumulator_value"]
        if p.is_complex():  # both the real and the imaginary part start at the value
            init = complex(init, init)
        state["sum"] = _make(np.full_like(p._data, init))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform a single optimization step; returns the closure's loss if one is given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
            weight_decay = group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:  # a parameter added with add_param_group
                    self._init_state(p)

                mutate(state["step"])[...] += 1
                step = float(state["step"]._data)
                grad = signed_grad(p, group["maximize"], weight_decay)

                clr = lr / (1 + (step - 1) * lr_decay)
                param, grad = as_real(mutate(p)), as_real(grad)  # complex: as real pairs
                state_sum = as_real(mutate(state["sum"]))
                addcmul_(state_sum, grad, grad)
                std = np.sqrt(state_sum)
                std += eps
                addcdiv_(param, grad, std, -clr)
        return loss
