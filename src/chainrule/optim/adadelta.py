"""Adadelta: steps scaled by the ratio of running RMS of past updates to that of gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, mutate
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    addcmul_,
    as_real,
    check_capturable,
    check_lr,
    check_unsupported,
    params_with_grad,
    scalar,
    signed_grad,
    step_state,
    zeros_state,
)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """``torch.optim.Adadelta``. With ``g`` the gradient (negated if ``maximize``)::

    g <- g + weight_decay * p                          (if weight_decay != 0)
    v <- rho * v + (1 - rho) * g * g                   square_avg
    delta <- sqrt(u + eps) / sqrt(v + eps) * g
    u <- rho * u + (1 - rho) * delta * delta           acc_delta
    p <- p - lr * delta
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        check_unsupported(differentiable=differentiable)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict[str, Any]) -> None:
        state["step"] = step_state()
        state["square_avg"] = zeros_state(p)
        state["acc_delta"] = zeros_state(p)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform a single optimization step; returns the closure's loss if one is given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            params = params_with_grad(self, group, self._init_state)
            if params:
                check_capturable(group, xla=False)
            lr, rho, eps = scalar(group["lr"]), group["rho"], group["eps"]
            for p in params:
                state = self.state[p]
                mutate(state["step"])[...] += 1
                grad = as_real(signed_grad(p, group["maximize"], group["weight_decay"]))
                # versions move as torch's mul_ + addcmul_ (twice) and add_
                square_avg = as_real(mutate(state["square_avg"], times=2))
                acc_delta = as_real(mutate(state["acc_delta"], times=2))
                square_avg *= rho
                addcmul_(square_avg, grad, grad, 1 - rho)
                std = np.sqrt(square_avg + eps)
                delta = np.sqrt(acc_delta + eps)
                delta /= std
                delta *= grad
                acc_delta *= rho
                addcmul_(acc_delta, delta, delta, 1 - rho)
                param = as_real(mutate(p))
                param += -lr * delta
        return loss
