"""ASGD: SGD with a decaying step size and a running (Polyak) average of the parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._tensor import Tensor, _make, mutate
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
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

__all__ = ["ASGD"]


def _scalar_state(value: float) -> Tensor:
    """A 0-d tensor of the default dtype (torch keeps ``eta`` and ``mu`` in it)."""
    return _make(np.array(value, dtype=dtypes.get_default_dtype().np))


class ASGD(Optimizer):
    """``torch.optim.ASGD``. With ``g`` the gradient (negated if ``maximize``) at step ``t``::

    g <- g + weight_decay * p                          (if weight_decay != 0)
    p <- p * (1 - lambd * eta) - eta * g
    ax <- ax + mu * (p - ax)                           (ax <- p while mu == 1)
    eta <- lr / (1 + lambd * lr * t)**alpha,  mu <- 1 / max(1, t - t0)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_lr(lr)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        check_unsupported(differentiable=differentiable)
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
            "weight_decay": weight_decay,
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
                state["eta"] = _scalar_state(lr)
                state["mu"] = _scalar_state(1.0)
                state["ax"] = zeros_state(p)

            params = params_with_grad(self, group, init)
            lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
            for p in params:
                check_capturable(group, "params, mus, etas, and state_steps")
                state = self.state[p]
                grad = as_real(signed_grad(p, group["maximize"], group["weight_decay"]))
                mutate(state["step"])[...] += 1
                eta = float(state["eta"]._data)
                # versions move as torch's mul_ + add_, add_ (or copy_), copy_, copy_
                param = as_real(mutate(p, times=2))
                param *= 1 - lambd * eta
                param += -eta * grad
                ax = as_real(mutate(state["ax"]))
                mu = state["mu"]._data
                if float(mu) != 1:
                    ax += (param - ax) * mu
                else:
                    ax[...] = param
                step = float(state["step"]._data)
                # torch.as_tensor(number) rounds to the default dtype, then copy_ converts
                mutate(state["eta"], _scalar_state(lr / ((1 + lambd * lr * step) ** alpha))._data)
                mutate(state["mu"], _scalar_state(1 / max(1, step - t0))._data)
        return loss
