"""Gradient clipping: clip_grad_norm_ (scale by max_norm / (norm + 1e-6)), clip_grad_value_."""

from __future__ import annotations

import types
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, _make, mutate
from chainrule.creation import tensor as _tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]  # fmt: skip


def _vector_norm(x: np.ndarray, p: float) -> np.ndarray:
    """``linalg.vector_norm`` of a whole array, computed in its own dtype."""
    a = np.abs(x.ravel())
    if p == 2.0:
        return np.sqrt(np.dot(a, a)) if a.size else np.zeros((), x.dtype)
    if p == float("inf"):
        return a.max() if a.size else np.zeros((), x.dtype)
    if p == float("-inf"):
        return a.min() if a.size else np.array(np.inf, x.dtype)
    if p == 0.0:
        return np.asarray(np.count_nonzero(a), x.dtype)
    if p == 1.0:
        return a.sum(dtype=x.dtype)
    return np.power(np.power(a, x.dtype.type(p)).sum(dtype=x.dtype), x.dtype.type(1.0 / p))


def _as_list(tensors: Any) -> list:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def get_total_norm(
    tensors: Iterable[Tensor] | Tensor,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """The norm of the norms of ``tensors`` (as if all were one vector)."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return _tensor(0.0)
    norms = [_vector_norm(t._data, norm_type) for t in tensors]
    dt = np.result_type(*[n.dtype for n in norms])
    total = np.asarray(_vector_norm(np.stack(norms).astype(dt), norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return _make(total)


def clip_grads_with_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    total_norm: Tensor,
    foreach: bool | None = None,
) -> None:
    """Scale the gradients in place by ``min(1, max_norm / (total_norm + 1e-6))``."""
    grads = [g for p in _as_list(parameters) if (g := getattr(p, "_grad", None)) is not None]
    if not grads:
        return
    norm = total_norm._data
    coef = np.minimum(norm.dtype.type(float(max_norm)) / (norm + norm.dtype.type(1e-6)), 1.0)
    coef = np.asarray(coef, norm.dtype)
    for g in grads:  # torch: g.mul_(coef)
        mutate(g, g._data * coef.astype(g._data.dtype))


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Rescale gradients so that their total norm is at most ``max_norm``; returns the norm."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and not parameters:
            warnings.warn(
                "`parameters` is an empty generator, no gradient clipping will occur.",
                stacklevel=2,
            )
    grads = [g for p in parameters if (g := getattr(p, "_grad", None)) is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Deprecated: warns, then calls ``clip_grad_norm_`` (torch's old name)."""
    warnings.warn(
        "`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
        "`torch.nn.utils.clip_grad_norm_`.".replace("torch.", "chainrule."),
        FutureWarning,
        stacklevel=2,
    )
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


def clip_grad_value_(
    parameters: Iterable[Tensor] | Tensor, clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient in place to ``[-clip_value, clip_value]``. With no gradient
    at all it raises, as torch does (its grouping of the gradients fails a check)."""
    clip_value = float(clip_value)
    grads = [g for p in _as_list(parameters) if (g := getattr(p, "_grad", None)) is not None]
    if not grads:
        raise RuntimeError(
            "Expected !nested_tensorlist[0].empty() to be true, but got false. (torch's "
            "clip_grad_value_ fails so when no parameter has a gradient)"
        )
    for g in grads:  # torch clamps with clamp_min_ then clamp_max_
        mutate(g, np.clip(g._data, -clip_value, clip_value), times=2)
