"""RAdam: Adam with the variance of its adaptive learning rate rectified (SGD with momentum
for the first steps, while that variance is intractable)."""

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
    check_adam_args,
    check_capturable,
    check_lr,
    check_unsupported,
    decayed_grad,
    lerp_,
    params_with_grad,
    scalar,
    step_state,
    zeros_state,
)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """``torch.optim.RAdam``. With ``g`` the gradient (negated if ``maximize``) at step ``t``::

    g <- g + weight_decay * p          (decoupled_weight_decay: p <- p * (1 - lr * weight_decay))
    m <- lerp(m, g, 1 - beta1),  v <- beta2 * v + (1 - beta2) * g * g    exp_avg, exp_avg_sq
    rho_inf <- 2 / (1 - beta2) - 1,  rho_t <- rho_inf - 2 t beta2**t / (1 - beta2**t)
    p <- p - lr * m / (1 - beta1**t) * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r_t  (rho_t > 5)
    p <- p - lr * m / (1 - beta1**t)                                              (otherwise)
    with r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        check_adam_args(eps, betas, weight_decay)
        check_unsupported(differentiable=differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict[str, Any]) -> None:
        state["step"] = step_state()
        state["exp_avg"] = zeros_state(p)
        state["exp_avg_sq"] = zeros_state(p)

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
                mutate(state["step"])[...] += 1
                step = float(state["step"]._data)
                grad = decayed_grad(p, group, lr)

                # versions move as torch's lerp_, mul_ + addcmul_, add_
                grad = as_real(grad)
                exp_avg = as_real(mutate(state["exp_avg"]))
                exp_avg_sq = as_real(mutate(state["exp_avg_sq"], times=2))
                lerp_(exp_avg, grad, 1 - beta1)
                exp_avg_sq *= beta2
                addcmul_(exp_avg_sq, grad, grad, 1 - beta2)

                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                update = exp_avg / bias_correction1
                update = update * lr
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
                if rho_t > 5.0:
                    rect = (rho_t - 4) * (rho_t - 2) * rho_inf
                    rect = (rect / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    # torch's scalar / tensor is reciprocal(tensor) * scalar
                    adaptive_lr = np.reciprocal(np.sqrt(exp_avg_sq) + eps) * bias_correction2**0.5
                    update = update * adaptive_lr
                    update = update * rect
                param = as_real(mutate(p))
                param -= update
        return loss
