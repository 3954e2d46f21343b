"""Adafactor: Adam-like steps whose second moment of a matrix is kept factored (a row and a
column average), with a relative step size and update clipping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, _make, mutate
from chainrule.dtypes import np_finfo
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    lerp_,
    params_with_grad,
    scalar,
    step_state,
    zeros_state,
)

__all__ = ["Adafactor"]


def _norm(a: np.ndarray, axis: int | None = None) -> Any:
    """The 2-norm of ``a`` (along ``axis``, kept as a size-1 axis)."""
    if axis is None:
        return np.sqrt(np.sum(a * a))
    return np.sqrt(np.sum(a * a, axis=axis, keepdims=True))


class Adafactor(Optimizer):
    """``torch.optim.Adafactor``. With ``g`` the gradient (negated if ``maximize``) at step
    ``t`` and ``b_t = t**beta2_decay``::

    alpha <- max(eps2, rms(p)) * min(lr, 1 / sqrt(t))
    p <- p * (1 - lr * weight_decay)
    matrices: r <- lerp(r, mean(g**2, -1), b_t), c <- lerp(c, mean(g**2, -2), b_t)
              v <- r @ c / max(mean(r, -2), eps1)                row_var, col_var
    others:   v <- lerp(v, g**2, b_t)                            variance
    u <- g / sqrt(max(v, eps1**2)),  p <- p - alpha / max(1, rms(u) / d) * u
    (``eps1`` None: the machine epsilon of the first parameter's dtype.)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = {
            "lr": lr,
            "beta2_decay": beta2_decay,
            "eps": eps,
            "d": d,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict[str, Any]) -> None:
        if p.is_complex():
            raise RuntimeError("Adafactor does not support complex parameters")
        state["step"] = step_state()
        grad = p.grad._data
        if grad.ndim > 1:
            state["row_var"] = _make(np.zeros(grad.shape[:-1] + (1,), grad.dtype))
            state["col_var"] = _make(np.zeros(grad.shape[:-2] + (1,) + grad.shape[-1:], grad.dtype))
        else:
            state["variance"] = zeros_state(p.grad)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform a single optimization step; returns the closure's loss if one is given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and p.is_complex():
                    raise RuntimeError("Adafactor does not support complex parameters")
            params = params_with_grad(self, group, self._init_state)
            lr, d, beta2_decay = scalar(group["lr"]), group["d"], group["beta2_decay"]
            weight_decay = group["weight_decay"]
            eps1, eps2 = group["eps"]
            for p in params:
                state = self.state[p]
                grad = p.grad._data
                if group["maximize"]:
                    grad = -grad
                if eps1 is None:  # torch fixes it from the first parameter of the group
                    eps1 = float(np_finfo(p._data.dtype).eps)
                mutate(state["step"])[...] += 1
                step = float(state["step"]._data)
                one_minus_beta2_t = step**beta2_decay
                rho_t = min(lr, 1 / (step**0.5))
                rms = float(_norm(p._data)) / (p._data.size**0.5)
                alpha = max(eps2, rms) * rho_t
                if weight_decay != 0:
                    decayed = mutate(p)  # torch: p.mul_(1 - lr * weight_decay)
                    decayed *= 1 - lr * weight_decay

                if grad.ndim > 1:  # versions move as torch's lerp_ of each factor
                    row_var = mutate(state["row_var"])
                    col_var = mutate(state["col_var"])
                    row_mean = _norm(grad, -1) ** 2 / grad.shape[-1]
                    lerp_(row_var, row_mean, one_minus_beta2_t)
                    col_mean = _norm(grad, -2) ** 2 / grad.shape[-2]
                    lerp_(col_var, col_mean, one_minus_beta2_t)
                    var_estimate = np.matmul(row_var, col_var)
                    var_estimate /= np.maximum(row_var.mean(axis=-2, keepdims=True), eps1)
                else:
                    variance = mutate(state["variance"])
                    lerp_(variance, grad * grad, one_minus_beta2_t)
                    var_estimate = variance.copy()
                update = 1 / np.sqrt(np.maximum(var_estimate, eps1 * eps1))
                update = update * grad
                denom = max(1.0, float(_norm(update)) / ((update.size**0.5) * d))
                param = mutate(p)  # torch: p.add_(update, alpha=-alpha / denom)
                param += (-alpha / denom) * update
        return loss
