"""RMSprop: scale the gradient by a running root mean square (optionally centered, momentum)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import mutate
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    addcdiv_,
    addcmul_,
    as_real,
    check_unsupported,
    lerp_,
    signed_grad,
    step_state,
    zeros_state,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``torch.optim.RMSprop``. With ``g`` the gradient (negated if ``maximize``)::

    g <- g + weight_decay * p                          (if weight_decay != 0)
    v <- alpha * v + (1 - alpha) * g * g               square_avg
    a <- lerp(a, g, 1 - alpha)                         grad_avg (centered)
    d <- sqrt(v - a * a) if centered else sqrt(v),  then d <- d + eps
    b <- momentum * b + g / d,  p <- p - lr * b        momentum_buffer (momentum > 0)
    p <- p - lr * g / d                                (momentum == 0)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        check_unsupported(capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform a single optimization step; returns the closure's loss if one is given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, momentum = group["weight_decay"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:  # lazy state initialization
                    state["step"] = step_state()
                    state["square_avg"] = zeros_state(p)
                    if momentum > 0:
                        state["momentum_buffer"] = zeros_state(p)
                    if group["centered"]:
                        state["grad_avg"] = zeros_state(p)

                mutate(state["step"])[...] += 1
                grad = signed_grad(p, group["maximize"], weight_decay)

                # complex: as real pairs; versions move as torch's mul_ + addcmul_, lerp_ ...
                param, grad = as_real(mutate(p)), as_real(grad)
                square_avg = as_real(mutate(state["square_avg"], times=2))
                square_avg *= alpha
                addcmul_(square_avg, grad, grad, 1 - alpha)

                if group["centered"]:
                    grad_avg = as_real(mutate(state["grad_avg"]))
                    lerp_(grad_avg, grad, 1 - alpha)
                    avg = np.sqrt(square_avg - grad_avg * grad_avg)
                else:
                    avg = np.sqrt(square_avg)
                avg += eps

                if momentum > 0:
                    buf = as_real(mutate(state["momentum_buffer"], times=2))
                    buf *= momentum
                    addcdiv_(buf, grad, avg)
                    param -= lr * buf
                else:
                    addcdiv_(param, grad, avg, -lr)
        return loss
