"""layer_norm, group_norm, rms_norm, batch_norm, normalize: compositions of mean, var and
rsqrt (ARCHITECTURE principle 4), except the standardization ``(x - mean) / sqrt(var + eps)``,
one primitive for cost (one node and a three-term backward instead of seven nodes); batch_norm
updates the running statistics in place."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chainrule._tensor import Size, Tensor, _make
from chainrule.graph import grad_mode
from chainrule.ops.elementwise import clamp, rsqrt
from chainrule.ops.op import Op
from chainrule.ops.reduce import mean, norm, var

__all__ = ["layer_norm", "group_norm", "rms_norm", "batch_norm", "normalize"]


def _shape(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(int(s) for s in normalized_shape)


class Standardize(Op):
    """``(x - mu) * rstd`` with ``rstd = 1 / sqrt(v + eps)`` over ``axes`` (``mu``, ``v``: the
    mean and biased variance, computed by the caller); the vjp is
    ``rstd * (g - mean(g) - y * mean(g * y))``. Building a graph of the gradient, rstd is
    recomputed from the input with tensor ops and y is the connected output, so every order
    of derivative works."""

    save_output = True
    torch_name = "MulBackward0"  # the composition's last node

    def forward(self, x, axes, eps, mu, v):
        self.axes, self.eps = axes, eps
        self.rstd = 1 / np.sqrt(v + eps)
        return (x - mu) * self.rstd

    def backward(self, g):
        y = self.output
        if grad_mode.enabled:  # differentiable statistics
            x = self.inputs[0]
            rstd = rsqrt(var(x, self.axes, unbiased=False, keepdim=True) + self.eps)
        else:
            rstd = _make(self.rstd)
        axes = self.axes
        return rstd * (g - mean(g, axes, keepdim=True) - y * mean(g * y, axes, keepdim=True))


def _moments(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and biased variance over ``axes``, kept dims (as ``mean`` and ``var`` compute)."""
    mu = np.mean(x, axis=axes, keepdims=True)
    d = x - mu
    n = 1
    for a in axes:
        n *= x.shape[a]
    return mu, np.sum(d * d, axis=axes, keepdims=True) / n


def _standardize(x: Tensor, axes: tuple[int, ...], eps: float, moments: tuple = None) -> Tensor:
    """``(x - mean) / sqrt(var + eps)`` over ``axes`` (biased variance)."""
    if not x._data.size or x._data.dtype.kind != "f":  # edge cases: the plain composition
        mu = mean(x, axes, keepdim=True)
        return (x - mu) * rsqrt(var(x, axes, unbiased=False, keepdim=True) + eps)
    mu, v = moments if moments is not None else _moments(x._data, axes)
    return Standardize.apply(x, axes=axes, eps=eps, mu=mu, v=v)


def _check_affine(t: Tensor | None, what: str, shape: tuple) -> None:
    if t is not None and tuple(t._data.shape) != shape:
        raise RuntimeError(
            f"Expected {what} to be of same shape as normalized_shape, but got {what} of shape "
            f"{list(t._data.shape)} and normalized_shape = {list(shape)}"
        )


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Standardize over the last ``len(normalized_shape)`` dims, then ``* weight + bias``."""
    shape = _shape(normalized_shape)
    x = input._data
    k = len(shape)
    if x.ndim < k or x.shape[x.ndim - k :] != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size{list(x.shape)}"
        )
    _check_affine(weight, "weight", shape)
    _check_affine(bias, "bias", shape)
    y = _standardize(input, tuple(range(x.ndim - k, x.ndim)), eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def rms_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """``x / sqrt(mean(x²) + eps) * weight`` over the last dims; eps defaults to the dtype's
    machine epsilon."""
    shape = _shape(normalized_shape)
    x = input._data
    k = len(shape)
    if x.ndim < k or x.shape[x.ndim - k :] != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*{', '.join(map(str, shape))}], but got input of size{list(x.shape)}"
        )
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    axes = tuple(range(x.ndim - k, x.ndim))
    y = input * rsqrt(mean(input * input, axes, keepdim=True) + eps)
    return y if weight is None else y * weight


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Standardize each of ``num_groups`` channel groups per sample, then a per-channel
    affine."""
    x = input._data
    if x.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {x.ndim}")
    n, c = x.shape[:2]
    if c % num_groups:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {list(x.shape)} and num_groups={num_groups}"
        )
    y = _standardize(input.reshape(n, num_groups, -1), (2,), eps).reshape(x.shape)
    per_channel = (c,) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(per_channel)
    return y if bias is None else y + bias.reshape(per_channel)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (dim 1) with the batch statistics while ``training`` (and fold
    them into the running ones: ``(1 - momentum) * running + momentum * batch``, the variance
    unbiased; in place without a version bump, as torch's kernel), with the running statistics
    otherwise."""
    x = input._data
    c = x.shape[1] if x.ndim > 1 else 0
    if training:
        count = x.size // max(c, 1)
        if count == 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input size "
                f"{Size(x.shape)!r}"
            )
    elif running_mean is None or running_var is None:
        raise RuntimeError(
            f"running_{'mean' if running_mean is None else 'var'} must be defined in "
            "evaluation mode"
        )
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):  # fmt: skip
        if t is not None and t._data.size != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t._data.size}")
    axes = (0, *range(2, x.ndim))
    per_channel = (c,) + (1,) * (x.ndim - 2)
    if training:
        if not x.size or x.dtype.kind != "f":
            mu = mean(input, axes, keepdim=True)._data
            v = var(input, axes, unbiased=False, keepdim=True)._data
        else:
            mu, v = _moments(x, axes)
        if running_mean is not None or running_var is not None:
            n = x.size // c
            m = momentum
            if running_mean is not None:
                rm = running_mean._data
                rm *= 1 - m
                rm += m * mu.reshape(c).astype(rm.dtype, copy=False)
            if running_var is not None:
                rv = running_var._data
                rv *= 1 - m
                rv += (m * n / max(n - 1, 1)) * v.reshape(c).astype(rv.dtype, copy=False)
        y = _standardize(input, axes, eps, (mu, v))
    else:
        y = (input - running_mean.reshape(per_channel)) * rsqrt(
            running_var.reshape(per_channel) + eps
        )
    if weight is not None:
        y = y * weight.reshape(per_channel)
    return y if bias is None else y + bias.reshape(per_channel)


def normalize(
    input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Tensor | None = None
) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``."""
    return input / clamp(norm(input, p, dim, keepdim=True), min=eps)
