"""Rprop: resilient backpropagation, per-coordinate step sizes driven by gradient signs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, _make, mutate
from chainrule.dtypes import kind_of
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    as_real,
    check_capturable,
    check_lr,
    check_unsupported,
    params_with_grad,
    scalar,
    step_state,
    zeros_state,
)

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """``torch.optim.Rprop``. With ``g`` the gradient (negated if ``maximize``)::

    s <- sign(g * prev):  etaplus where > 0, etaminus where < 0, 1 where 0
    step_size <- clamp(step_size * s, *step_sizes)     (starts at lr)
    g <- 0 where the sign flipped
    p <- p - sign(g) * step_size,  prev <- g
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        check_unsupported(differentiable=differentiable)
        defaults = {
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform a single optimization step; returns the closure's loss if one is given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr = scalar(group["lr"])

            def init(p: Tensor, state: dict[str, Any], lr: float = lr) -> None:
                state["step"] = step_state()
                state["prev"] = zeros_state(p)
                # complex: the real and imaginary parts are two independent numbers
                fill = complex(lr, lr) if kind_of(p._data.dtype) == "c" else lr
                state["step_size"] = _make(np.full_like(p.grad._data, fill))

            params = params_with_grad(self, group, init)
            etaminus, etaplus = group["etas"]
            step_size_min, step_size_max = group["step_sizes"]
            for p in params:
                check_capturable(group, foreach_xla=True)
                state = self.state[p]
                grad = p.grad._data
                if group["maximize"]:
                    grad = -grad
                mutate(state["step"])[...] += 1
                grad = as_real(grad)
                prev = as_real(mutate(state["prev"]))
                sign = np.sign(grad * prev)
                sign = np.where(sign > 0, etaplus, np.where(sign < 0, etaminus, sign))
                sign = np.where(sign == 0, 1, sign).astype(grad.dtype, copy=False)
                # versions move as torch's mul_ + clamp_, addcmul_, copy_
                step_size = as_real(mutate(state["step_size"], times=2))
                step_size *= sign
                np.clip(step_size, step_size_min, step_size_max, out=step_size)
                grad = np.where(sign == etaminus, 0, grad).astype(grad.dtype, copy=False)
                param = as_real(mutate(p))
                param -= np.sign(grad) * step_size
                prev[...] = grad
        return loss
