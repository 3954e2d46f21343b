"""Adamax: Adam with the infinity norm of past gradients in place of the second moment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, mutate
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    addcdiv_,
    as_real,
    check_adam_args,
    check_capturable,
    check_lr,
    check_unsupported,
    lerp_,
    params_with_grad,
    scalar,
    signed_grad,
    step_state,
    zeros_state,
)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """``torch.optim.Adamax``. With ``g`` the gradient (negated if ``maximize``) at step ``t``::

    g <- g + weight_decay * p                          (if weight_decay != 0)
    m <- lerp(m, g, 1 - beta1)                         exp_avg
    u <- max(beta2 * u, |g| + eps)                     exp_inf
    p <- p - lr / (1 - beta1**t) * m / u
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_lr(lr)
        check_adam_args(eps, betas, weight_decay)
        check_unsupported(differentiable=differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict[str, Any]) -> None:
        state["step"] = step_state()
        state["exp_avg"] = zeros_state(p)
        state["exp_inf"] = zeros_state(p)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform a single optimization step; returns the closure's loss if one is given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            params = params_with_grad(self, group, self._init_state)
            lr, eps = scalar(group["lr"]), group["eps"]
            beta1, beta2 = group["betas"]
            for p in params:
                check_capturable(group)
                state = self.state[p]
                grad = as_real(signed_grad(p, group["maximize"], group["weight_decay"]))
                mutate(state["step"])[...] += 1
                # versions move as torch's lerp_, mul_ + maximum(out=), addcdiv_
                exp_avg = as_real(mutate(state["exp_avg"]))
                exp_inf = as_real(mutate(state["exp_inf"], times=2))
                lerp_(exp_avg, grad, 1 - beta1)
                exp_inf *= beta2
                norm = np.abs(grad)
                norm += eps
                np.maximum(exp_inf, norm, out=exp_inf)
                clr = lr / (1 - beta1 ** float(state["step"]._data))
                addcdiv_(as_real(mutate(p)), exp_avg, exp_inf, -clr)
        return loss
