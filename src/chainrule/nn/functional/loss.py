"""Regression and probabilistic losses: mse, l1, smooth_l1, huber, kl_div (compositions),
binary_cross_entropy (a primitive, for torch's clamped logs and its gradient at 0 and 1) and
binary_cross_entropy_with_logits (a composition with logsigmoid: stable for any logit)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Size, Tensor
from chainrule.amp.autocast_mode import autocast_policy
from chainrule.dtypes import kind_of, scalar_type_name
from chainrule.nn.functional._utils import check_float, get_reduction
from chainrule.nn.functional._utils import reduce as _reduce
from chainrule.ops.activation import logsigmoid
from chainrule.ops.elementwise.select import clamp, where
from chainrule.ops.elementwise.unary import abs, exp, log, log1p
from chainrule.ops.op import Op, expand, save_index


def broadcast_check(a: Tensor, b: Tensor) -> None:
    """torch's error when two shapes do not broadcast (before any arithmetic)."""
    sa, sb = a._data.shape, b._data.shape
    for i in range(1, min(len(sa), len(sb)) + 1):
        if sa[-i] != sb[-i] and sa[-i] != 1 and sb[-i] != 1:
            raise RuntimeError(
                f"The size of tensor a ({sa[-i]}) must match the size of tensor b ({sb[-i]}) "
                f"at non-singleton dimension {max(len(sa), len(sb)) - i}"
            )


def _warn_broadcast(input: Tensor, target: Tensor) -> None:
    if target._data.shape != input._data.shape:
        warnings.warn(
            f"Using a target size ({Size(target._data.shape)!r}) that is different to the input "
            f"size ({Size(input._data.shape)!r}). This will likely lead to incorrect results due "
            "to broadcasting. Please ensure they have the same size.",
            UserWarning,
            stacklevel=3,
        )


def _weighted(
    loss: Tensor, input: Tensor, weight: Tensor, reduction: str, by_weight: bool
) -> Tensor:
    """torch's weighted regression losses: 'mean' divides by the weights' sum (mse, l1) or by
    the element count (huber)."""
    if weight._data.shape != input._data.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / weight.sum() if by_weight else loss.mean()
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")


def _pointwise(
    input: Tensor,
    target: Tensor,
    size_average: Any,
    reduce: Any,
    reduction: str,
    weight: Tensor | None,
    loss_fn: Any,
    by_weight: bool,
    saves: bool = True,
) -> Tensor:
    """``saves``: torch's loss is one node saving input and target (mse, smooth_l1, huber;
    l1 and a weighted mse are composites of sub, abs, mul), so writing either raises."""
    _warn_broadcast(input, target)
    broadcast_check(input, target)
    if size_average is not None or reduce is not None:
        reduction = get_reduction(reduction, size_average, reduce)
    if weight is not None:
        out = _weighted(loss_fn(input - target), input, weight, reduction, by_weight)
    else:
        out = _reduce(loss_fn(input - target), get_reduction(reduction))
    return save_index(out, input, target) if saves else out


@op(namespace="nn.functional", method=False)
@autocast_policy("fp32")
def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """``(input - target)²``, reduced; with ``weight``, 'mean' is ``sum(w l) / sum(w)``."""
    check_float(input, "mse_cpu", complex=False)
    return _pointwise(
        input,
        target,
        size_average,
        reduce,
        reduction,
        weight,
        lambda d: d * d,
        True,
        weight is None,
    )  # fmt: skip (weighted: composite)


@op(namespace="nn.functional", method=False)
@autocast_policy("fp32")
def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """``|input - target|``, reduced (gradient 0 where they are equal, as torch)."""
    return _pointwise(input, target, size_average, reduce, reduction, weight, abs, True, False)


def _quadratic_part(d: Tensor, ad: Tensor, beta: float) -> tuple[Tensor, Tensor]:
    """Where smooth_l1/huber are quadratic (torch's backward: not ``|d| >= beta``, so nan
    too), and ``d`` there, 0 elsewhere: the square's gradient is then 0 outside, not
    ``0 * inf = nan`` for an infinite difference."""
    quad = ~(ad >= beta)
    return quad, where(quad, d, 0.0)


@op(namespace="nn.functional", method=False)
@autocast_policy("fp32")
def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """``0.5 d² / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``; l1 when beta is 0."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")

    def loss_fn(d: Tensor) -> Tensor:
        ad = abs(d)
        if beta == 0:
            return ad
        quad, dq = _quadratic_part(d, ad, beta)
        return where(quad, (0.5 / beta) * dq * dq, ad - 0.5 * beta)

    return _pointwise(input, target, size_average, reduce, reduction, None, loss_fn, False)


@op(namespace="nn.functional", method=False)
@autocast_policy("fp32")
def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """``0.5 d²`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``."""
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")

    def loss_fn(d: Tensor) -> Tensor:
        ad = abs(d)
        quad, dq = _quadratic_part(d, ad, delta)
        out = where(quad, 0.5 * dq * dq, delta * (ad - 0.5 * delta))
        return out if out._data.dtype == input._data.dtype else out.to(input.dtype)  # as torch

    return _pointwise(input, target, None, None, reduction, weight, loss_fn, False)


@op(namespace="nn.functional", method=False)
@autocast_policy("fp32")
def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """``target (log target - input)`` (0 where target is 0), or with ``log_target``
    ``exp(target) (target - input)``; 'batchmean' divides the sum by the batch size."""
    legacy = size_average is not None or (reduce) is not None
    if legacy:
        reduction = get_reduction(reduction, size_average, reduce)
    elif reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            UserWarning,
            stacklevel=2,
        )
    elif reduction != "batchmean":
        reduction = get_reduction(reduction)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        zero = target == 0  # xlogy: 0 there; negative targets give nan, as torch
        loss = where(zero, 0.0, target * log(where(zero, 1.0, target))) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input._data.shape[0] if input._data.ndim else total
    return _reduce(loss, reduction)


class BinaryCrossEntropy(Op):
    """``-(y log x + (1 - y) log(1 - x))`` with each log clamped at -100 (torch); the vjp is
    torch's: ``g (x - y) / max(x (1 - x), 1e-12)`` for x and ``g (log(1 - x) - log x)`` for y."""

    def forward(self, x, y):
        with np.errstate(divide="ignore"):
            lx = np.maximum(np.log(x), -100)
            l1x = np.maximum(np.log1p(-x), -100)
        return -(y * lx + (1 - y) * l1x)

    def backward(self, g):
        x, y = self.inputs
        gx = g * (x - y) / clamp((1 - x) * x, min=1e-12) if self.needs(0) else None
        gy = g * (log1p(-x) - log(x)) if self.needs(1) else None
        return gx, gy


@op(namespace="nn.functional", method=False)
@autocast_policy("fp32")
def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Cross entropy between probabilities ``input`` and ``target`` (both in [0, 1])."""
    reduction = get_reduction(reduction, size_average, reduce)
    if target._data.shape != input._data.shape:
        raise ValueError(
            f"Using a target size ({Size(target._data.shape)!r}) that is different to the input "
            f"size ({Size(input._data.shape)!r}) is deprecated. Please ensure they have the same "
            "size."
        )
    x, y = input._data, target._data
    if y.dtype != x.dtype:
        raise RuntimeError(
            f"Found dtype {scalar_type_name(target)} but expected {scalar_type_name(input)}"
        )
    if not np.all((x >= 0) & (x <= 1)):
        raise RuntimeError("all elements of input should be between 0 and 1")
    if not np.all((y >= 0) & (y <= 1)):
        raise RuntimeError("all elements of target should be between 0 and 1")
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        if weight._data.dtype != x.dtype:  # torch multiplies it in place into the loss
            weight = weight.to(input.dtype)
        loss = loss * expand(weight, x.shape)
    return _reduce(loss, reduction)


@op(namespace="nn.functional", method=False)
@autocast_policy("fp32")
def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """``binary_cross_entropy(sigmoid(input), target)`` computed as
    ``(1 - y) x - (1 + (pos_weight - 1) y) logsigmoid(x)``: no overflow for any logit."""
    reduction = get_reduction(reduction, size_average, reduce)
    if target._data.shape != input._data.shape:
        raise ValueError(
            f"Target size ({Size(target._data.shape)!r}) must be the same as input size "
            f"({Size(input._data.shape)!r})"
        )
    if pos_weight is not None:
        broadcast_check(pos_weight, target)
    dt = target._data.dtype  # torch computes in place into ``1 - target``: its dtype
    if kind_of(dt) == "b":
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
            "or `logical_xor()` operator instead."
        )
    if kind_of(dt) in "iu" and kind_of(input._data.dtype) in "fc":
        raise RuntimeError(
            f"result type {scalar_type_name(input)} can't be cast to the desired output type "
            f"{scalar_type_name(target)}"
        )
    if pos_weight is None:
        loss = (1 - target) * input - logsigmoid(input)
    else:
        loss = (1 - target) * input - (1 + (pos_weight - 1) * target) * logsigmoid(input)
    if weight is not None:
        loss = loss * weight
    if loss._data.dtype != dt and kind_of(dt) in "fc":
        loss = loss.to(target.dtype)
    return _reduce(loss, reduction)
