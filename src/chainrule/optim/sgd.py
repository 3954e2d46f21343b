"""SGD: stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import _make, mutate
from chainrule.backend import K
from chainrule.optim.optimizer import Optimizer, ParamsT, check_unsupported, signed_grad

__all__ = ["SGD"]


class SGD(Optimizer):
    """``torch.optim.SGD``. With ``g`` the gradient (negated if ``maximize``)::

    g <- g + weight_decay * p                              (if weight_decay != 0)
    b <- g  at the first step,  else  momentum * b + (1 - dampening) * g
    g <- g + momentum * b  if nesterov  else  b            (if momentum != 0)
    p <- p - lr * g
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        check_unsupported(differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform a single optimization step; returns the closure's loss if one is given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr = group["lr"]
            momentum = group["momentum"]
            dampening = group["dampening"]
            weight_decay = group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = signed_grad(p, group["maximize"], weight_decay)

                b = None  # the momentum buffer to update with the step, if any
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        # a copy, and an array even when `grad` is a 0-d result (a NumPy scalar)
                        buf = state["momentum_buffer"] = _make(np.array(grad, copy=True))
                        if group["nesterov"]:
                            grad = grad + momentum * buf._data
                        else:
                            grad = buf._data
                    else:  # torch: buf.mul_(momentum).add_(grad, alpha=1 - dampening)
                        b = mutate(buf, times=2)

                # torch: p.add_(grad, alpha=-lr), after the buffer's update (one kernel)
                K.sgd_step(mutate(p), grad, b, lr, momentum, dampening, group["nesterov"])
        return loss
