"""Adam and AdamW (Adam with decoupled weight decay), with optional AMSGrad."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, mutate
from chainrule.backend import K
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    addcdiv_,
    addcmul_,
    as_real,
    check_adam_args,
    check_unsupported,
    decayed_grad,
    lerp_,
    signed_grad,
    step_state,
    zeros_state,
)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """``torch.optim.Adam``. With ``g`` the gradient (negated if ``maximize``) at step ``t``::

    g <- g + weight_decay * p          (AdamW instead: p <- p * (1 - lr * weight_decay))
    m <- lerp(m, g, 1 - beta1)                      exp_avg
    v <- beta2 * v + (1 - beta2) * g * g            exp_avg_sq
    v_max <- max(v_max, v)                          max_exp_avg_sq (amsgrad)
    p <- p - lr / (1 - beta1**t) * m / (sqrt(v or v_max) / sqrt(1 - beta2**t) + eps)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        check_adam_args(eps, betas, weight_decay)
        if not (
            (isinstance(betas[0], float) and isinstance(betas[1], float))
            or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))
        ):
            raise ValueError("betas must be either both floats or both Tensors")
        betas = (float(betas[0]), float(betas[1]))
        check_unsupported(capturable=capturable, differentiable=differentiable, fused=fused)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform a single optimization step; returns the closure's loss if one is given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps = group["lr"], group["eps"]
            beta1, beta2 = group["betas"]
            amsgrad = group["amsgrad"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:  # lazy state initialization
                    state["step"] = step_state()
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = zeros_state(p)

                mutate(state["step"])[...] += 1
                decay = 1.0  # AdamW's p.mul_(1 - lr * weight_decay), done by the kernel below
                if not amsgrad and group["weight_decay"] != 0 and group["decoupled_weight_decay"]:
                    decay = 1 - lr * group["weight_decay"]
                    mutate(p)  # (torch's mul_ counts a version)
                    grad = signed_grad(p, group["maximize"])
                else:
                    grad = decayed_grad(p, group, lr)

                # decay the first and second moment running averages (complex: as real pairs);
                # versions move as torch's lerp_, mul_ + addcmul_, maximum(out=), addcdiv_
                param, grad = as_real(mutate(p)), as_real(grad)
                exp_avg = as_real(mutate(state["exp_avg"]))
                exp_avg_sq = as_real(mutate(state["exp_avg_sq"], times=2))

                step = float(state["step"]._data)
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2**0.5
                if not amsgrad:  # the moments and the update in one kernel
                    K.adam_step(param, grad, exp_avg, exp_avg_sq, beta1, beta2, step_size,
                                bias_correction2_sqrt, eps, decay)  # fmt: skip
                    continue
                lerp_(exp_avg, grad, 1 - beta1)
                exp_avg_sq *= beta2
                addcmul_(exp_avg_sq, grad, grad, 1 - beta2)

                if amsgrad:  # normalise by the largest second moment seen so far
                    max_exp_avg_sq = as_real(mutate(state["max_exp_avg_sq"]))
                    np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
                    denom = np.sqrt(max_exp_avg_sq)
                else:
                    denom = np.sqrt(exp_avg_sq)
                denom /= bias_correction2_sqrt
                denom += eps

                addcdiv_(param, exp_avg, denom, -step_size)
        return loss


class AdamW(Adam):
    """``torch.optim.AdamW``: Adam whose weight decay shrinks the parameter directly
    (``p <- p * (1 - lr * weight_decay)``) instead of being added to the gradient."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
