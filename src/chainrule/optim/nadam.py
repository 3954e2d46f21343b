"""NAdam: Adam with Nesterov momentum (a momentum schedule decayed by ``momentum_decay``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._tensor import Tensor, _make, mutate
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    addcdiv_,
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

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """``torch.optim.NAdam``. With ``g`` the gradient (negated if ``maximize``) at step ``t``::

    g <- g + weight_decay * p          (decoupled_weight_decay: p <- p * (1 - lr * weight_decay))
    mu_t <- beta1 * (1 - 0.5 * 0.96**(t * momentum_decay)),  P <- P * mu_t     mu_product
    m <- lerp(m, g, 1 - beta1),  v <- beta2 * v + (1 - beta2) * g * g    exp_avg, exp_avg_sq
    d <- sqrt(v / (1 - beta2**t)) + eps
    p <- p - lr * (1 - mu_t) / (1 - P) * g / d - lr * mu_{t+1} / (1 - P * mu_{t+1}) * m / d
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        check_adam_args(eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        check_unsupported(differentiable=differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict[str, Any]) -> None:
        state["step"] = step_state()
        # a 0-d tensor of the default dtype, multiplied in that precision (as torch)
        state["mu_product"] = _make(np.array(1.0, dtype=dtypes.get_default_dtype().np))
        state["exp_avg"] = zeros_state(p)
        state["exp_avg_sq"] = zeros_state(p)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform a single optimization step; returns the closure's loss if one is given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            params = params_with_grad(self, group, self._init_state)
            lr, eps = scalar(group["lr"]), group["eps"]
            beta1, beta2 = group["betas"]
            momentum_decay = group["momentum_decay"]
            for p in params:
                check_capturable(
                    group,
                    "params, mu_products and state_steps",
                    foreach_what="params, mu_products, and state_steps",
                )
                state = self.state[p]
                mutate(state["step"])[...] += 1
                step = float(state["step"]._data)
                bias_correction2 = 1 - beta2**step
                grad = decayed_grad(p, group, lr)

                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                mutate(state["mu_product"])[...] *= mu
                mu_product = float(state["mu_product"]._data)

                # versions move as torch's lerp_, mul_ + addcmul_, and two addcdiv_
                grad = as_real(grad)
                exp_avg = as_real(mutate(state["exp_avg"]))
                exp_avg_sq = as_real(mutate(state["exp_avg_sq"], times=2))
                lerp_(exp_avg, grad, 1 - beta1)
                exp_avg_sq *= beta2
                addcmul_(exp_avg_sq, grad, grad, 1 - beta2)
                denom = np.sqrt(exp_avg_sq / bias_correction2)
                denom += eps

                param = as_real(mutate(p, times=2))
                mu_product_next = mu_product * mu_next
                addcdiv_(param, grad, denom, -lr * (1.0 - mu) / (1.0 - mu_product))
                addcdiv_(param, exp_avg, denom, (-lr * mu_next) / (1.0 - mu_product_next))
        return loss
