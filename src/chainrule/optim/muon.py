"""Muon: momentum SGD for 2-D parameters whose update is orthogonalised by a Newton-Schulz
iteration (run in bfloat16, as torch runs it)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, mutate
from chainrule.optim.optimizer import Optimizer, ParamsT, lerp_, scalar, zeros_state

__all__ = ["Muon"]

EPS = 1e-7
DEFAULT_A = 3.4445
DEFAULT_B = -4.7750
DEFAULT_C = 2.0315
DEFAULT_NS_STEPS = 5


def _bfloat16(a: Any) -> np.ndarray:
    """Values rounded to bfloat16 (to nearest, ties to even; NaN kept), held in float64:
    NumPy has no bfloat16. torch's bfloat16 kernels accumulate in float32 and round each
    result to bfloat16; accumulating in float64 here gives the correctly rounded result, which
    is torch's except where its float32 sums land on the other side of a rounding boundary
    (then one bfloat16 unit apart)."""
    a = np.asarray(a, dtype=np.float32)
    bits = a.view(np.uint32).astype(np.uint64)
    rounded = ((bits + ((bits >> 16) & 1) + 0x7FFF) & 0xFFFF0000).astype(np.uint32)
    return np.where(np.isnan(a), a, rounded.view(np.float32)).astype(np.float64)


def _zeropower_via_newtonschulz(
    grad: np.ndarray, ns_coefficients: tuple[float, float, float], ns_steps: int, eps: float
) -> np.ndarray:
    """The nearest semi-orthogonal matrix to ``grad`` (approximately: ``ns_steps`` quintic
    Newton-Schulz iterations), in bfloat16 precision."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(grad.shape) != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    # torch's scalars meet bfloat16 tensors as float32 numbers
    a, b, c = (float(np.float32(x)) for x in ns_coefficients)
    x = _bfloat16(grad.astype(np.float32))  # double -> float -> bfloat16, as torch's cast
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = x.T
    norm = _bfloat16(np.sqrt(np.sum(x * x)))
    x = _bfloat16(x / np.maximum(norm, _bfloat16(eps)))
    for _ in range(ns_steps):
        gram = _bfloat16(x @ x.T)
        gram_update = _bfloat16(b * gram + c * (gram @ gram))  # torch.addmm(beta=b, alpha=c)
        x = _bfloat16(a * x + gram_update @ x)  # torch.addmm(x, gram_update, x, beta=a)
    return x.T if tall else x


def _adjust_lr(lr: float, adjust_lr_fn: str | None, param_shape: tuple[int, ...]) -> float:
    rows, cols = param_shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        adjusted_ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        adjusted_ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        adjusted_ratio = 1.0
    return lr * adjusted_ratio


class Muon(Optimizer):
    """``torch.optim.Muon``, for 2-D parameters only. With ``g`` the gradient::

    b <- lerp(b, g, 1 - momentum)                         momentum_buffer
    u <- orthogonalise(lerp(g, b, momentum) if nesterov else b)
    p <- p * (1 - lr * weight_decay) - lr * ratio * u
    with ratio sqrt(max(1, rows / cols)) ("original", the default) or
    0.2 * sqrt(max(rows, cols)) ("match_rms_adamw").
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = (DEFAULT_A, DEFAULT_B, DEFAULT_C),
        eps: float = EPS,
        ns_steps: int = DEFAULT_NS_STEPS,
        adjust_lr_fn: str | None = None,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ["original", "match_rms_adamw"]:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = {
            "lr": lr,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "nesterov": nesterov,
            "ns_coefficients": ns_coefficients,
            "eps": eps,
            "ns_steps": ns_steps,
            "adjust_lr_fn": adjust_lr_fn,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(
                        "Muon only supports 2D parameters whereas we found a parameter with "
                        f"size: {p.size()}"
                    )

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform a single optimization step; returns the closure's loss if one is given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            params = []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.is_complex():
                    raise RuntimeError("Muon does not support complex parameters")
                params.append(p)
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = zeros_state(p.grad)
            lr, weight_decay, momentum = (
                scalar(group["lr"]),
                group["weight_decay"],
                group["momentum"],
            )
            for p in params:
                grad = p.grad._data
                if grad.ndim != 2:
                    raise ValueError("Param gradient must be a 2D matrix")
                buf = mutate(self.state[p]["momentum_buffer"])  # torch: buf.lerp_(grad, ...)
                lerp_(buf, grad, 1 - momentum)
                if group["nesterov"]:
                    update = grad.copy()  # torch: grad.lerp(buf, momentum)
                    lerp_(update, buf, momentum)
                else:
                    update = buf
                update = _zeropower_via_newtonschulz(
                    update, group["ns_coefficients"], group["ns_steps"], group["eps"]
                )
                adjusted_lr = _adjust_lr(lr, group["adjust_lr_fn"], p.shape)
                param = mutate(p, times=2)  # torch: p.mul_(1 - lr * wd); p.add_(u, alpha=-lr')
                param *= 1 - lr * weight_decay
                param += -adjusted_lr * update.astype(param.dtype)
        return loss
