"""Margin, embedding and count losses: soft_margin, margin_ranking, hinge_embedding,
cosine_embedding, multilabel_soft_margin and poisson_nll, each the composition torch's own
kernel is (ATen's CompositeImplicit formulas, or nn.functional's Python), so values,
gradients and double backward follow from the ops they are written in."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule.nn.functional._utils import get_reduction, size_repr
from chainrule.nn.functional._utils import reduce as _reduce
from chainrule.ops.activation import logsigmoid
from chainrule.ops.elementwise.select import where
from chainrule.ops.elementwise.unary import exp, log, log1p


def _reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    return get_reduction(reduction, size_average, reduce)


@op(namespace="nn.functional", method=False)
def soft_margin_loss(input: Tensor, target: Tensor, size_average: Any = None,
                     reduce: Any = None, reduction: str = "mean") -> Tensor:  # fmt: skip
    """``log(1 + exp(-target * input))``, reduced (torch's formula: it overflows as torch's
    does for large ``-target * input``)."""
    red = _reduction(size_average, reduce, reduction)
    return _reduce(log1p(exp(-input * target)), red)


@op(namespace="nn.functional", method=False)
def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> Tensor:  # fmt: skip
    """``max(0, -target * (input1 - input2) + margin)``, reduced."""
    red = _reduction(size_average, reduce, reduction)
    dims = {t._data.ndim for t in (input1, input2, target)}
    if len(dims) != 1:
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {size_repr(input1)}, input2: {size_repr(input2)}, "
            f"target: {size_repr(target)} "
        )
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), red)


@op(namespace="nn.functional", method=False)
def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average: Any = None, reduce: Any = None,
                         reduction: str = "mean") -> Tensor:  # fmt: skip
    """``x`` where target is 1, ``max(0, margin - x)`` where it is -1 (ATen: both terms
    where target is neither), reduced."""
    red = _reduction(size_average, reduce, reduction)
    zeros = _make(np.zeros_like(input._data))
    margin_clamp = (margin - input).clamp_min(0)
    out = where(target != 1, margin_clamp, zeros) + where(target != -1, input, zeros)
    return _reduce(out, red)


@op(namespace="nn.functional", method=False)
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average: Any = None, reduce: Any = None,
                          reduction: str = "mean") -> Tensor:  # fmt: skip
    """``1 - cos(x1, x2)`` where target is 1, ``max(0, cos - margin)`` where it is -1 (cos
    along the last dim, its squared norms + 1e-12, as ATen), reduced."""
    red = _reduction(size_average, reduce, reduction)
    tdim = target._data.ndim
    if tdim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if tdim == 1:
        if input1._data.ndim != 2 or input2._data.ndim != 2:
            raise RuntimeError(
                f"1D target tensor expects 2D input tensors, but found inputs with sizes "
                f"{list(input1._data.shape)} and {list(input2._data.shape)}."
            )
    elif input1._data.ndim != 1 or input2._data.ndim != 1:
        raise RuntimeError(
            f"0D target tensor expects 1D input tensors, but found inputs with sizes "
            f"{list(input1._data.shape)} and {list(input2._data.shape)}."
        )
    d = 1 if input1._data.ndim == 2 else 0
    eps = 1e-12
    prod = (input1 * input2).sum(d)
    mag1 = (input1 * input1).sum(d) + eps
    mag2 = (input2 * input2).sum(d) + eps
    cos = prod / (mag1 * mag2).sqrt()
    zeros = _make(np.zeros_like(cos._data))
    pos = 1 - cos
    neg = (cos - margin).clamp_min(0)
    out = where(target == 1, pos, zeros) + where(target == -1, neg, zeros)
    return _reduce(out, red)


@op(namespace="nn.functional", method=False)
def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: Any = None, reduce: Any = None,
                                reduction: str = "mean") -> Tensor:  # fmt: skip
    """``-(y log sigmoid(x) + (1 - y) log sigmoid(-x))``, weighted, averaged over the last
    (class) dim, then reduced (torch's Python)."""
    if size_average is not None or reduce is not None:
        reduction = get_reduction(reduction, size_average, reduce)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input._data.ndim - 1
    loss = loss.sum(class_dim) / input._data.shape[class_dim]
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not valid")  # torch's words here


@op(namespace="nn.functional", method=False)
def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: Any = None, eps: float = 1e-8, reduce: Any = None,
                     reduction: str = "mean") -> Tensor:  # fmt: skip
    """``exp(x) - y x`` (``log_input``) or ``x - y log(x + eps)``, plus Stirling's
    ``y log y - y + log(2 pi y) / 2`` where y > 1 when ``full``, reduced."""
    if size_average is not None or reduce is not None:
        reduction = get_reduction(reduction, size_average, reduce)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_input:
        loss = exp(input) - target * input
    else:
        loss = input - target * log(input + eps)
    if full:
        t = target
        stirling = t * log(t) - t + 0.5 * log(2 * math.pi * t)
        loss = loss + stirling.masked_fill(t <= 1, 0)
    return _reduce(loss, reduction)
