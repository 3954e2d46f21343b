"""Margin, embedding and likelihood losses: soft_margin, margin_ranking, hinge_embedding,
cosine_embedding, multilabel_soft_margin, poisson_nll, gaussian_nll and triplet_margin (with
pairwise_distance), each the composition torch's own
kernel is (ATen's CompositeImplicit formulas, or nn.functional's Python), so values,
gradients and double backward follow from the ops they are written in."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule.dtypes import scalar_type_name
from chainrule.graph import no_grad
from chainrule.nn.functional._utils import get_reduction, size_repr
from chainrule.nn.functional._utils import reduce as _reduce
from chainrule.ops.activation import logsigmoid
from chainrule.ops.elementwise.select import minimum, where
from chainrule.ops.elementwise.unary import exp, log, log1p
from chainrule.ops.reduce.stats import norm


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


@op(namespace="nn.functional", method=False)
def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:  # fmt: skip
    """``(log(var) + (input - target)² / var) / 2`` (+ ``log(2 pi) / 2`` when ``full``), var
    clamped to ``eps`` without changing its gradient (torch's in-place clamp under no_grad);
    a var one dim short, or broadcasting along one dim, is torch's homoscedastic case."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * _make(np.ones_like(input._data))
    elif bool((var._data < 0).any()):
        raise ValueError("var has negative entry/entries")
    vs, xs = var._data.shape, input._data.shape
    if vs != xs:
        if xs[:-1] == vs:
            var = var.unsqueeze(-1)
        elif not (len(xs) == len(vs) and sum(y for x, y in zip(xs, vs) if x != y) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not valid")
    var = var.clone()
    with no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


@op(namespace="nn.functional", method=False)
def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:  # fmt: skip
    """``norm(x1 - x2 + eps, p)`` along the last dim (ATen's formula)."""
    dim = max(x1._data.ndim, x2._data.ndim, 1) - 1
    return norm(x1 - x2 + eps, p, dim, keepdim)


@op(namespace="nn.functional", method=False)
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> Tensor:  # fmt: skip
    """``max(0, margin + d(a, p) - d(a, n))`` with pairwise distances (``swap``: d(a, n) is
    the smaller of it and d(p, n)), reduced."""
    red = _reduction(size_average, reduce, reduction)
    a, q, n = (t._data.ndim for t in (anchor, positive, negative))
    if not a == q == n:
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {a}D, positive {q}D, and negative {n}D inputs"
        )
    dist_pos = pairwise_distance(anchor, positive, p, eps)
    dist_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = minimum(dist_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + dist_pos - dist_neg).clamp_min(0), red)


def _check_margin_reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    return _reduction(size_average, reduce, reduction)


def _long_target(target: Tensor) -> None:
    if target._data.dtype != np.int64:
        raise RuntimeError(f"expected scalar type Long but found {scalar_type_name(target)}")


@op(namespace="nn.functional", method=False)
def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1,
                      weight: Tensor | None = None, size_average: Any = None,
                      reduce: Any = None, reduction: str = "mean") -> Tensor:  # fmt: skip
    """The multi-class hinge: ``sum_{j != y} max(0, margin - x[y] + x[j])^p * w[y] / C`` per
    sample, reduced (a composition of torch's kernel: no gradient where the hinge is 0)."""
    red = _check_margin_reduction(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight._data.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    xs, ts = input._data.shape, target._data.shape
    two_d = input._data.ndim == 2
    n, c = (xs[0], xs[1]) if two_d else (1, xs[0] if xs else 1)
    if (two_d and ts != (n,)) or (not two_d and target._data.size != 1):
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of "
            f"input samples (batch size). Expected target size [{n}], but got "
            f"{list(ts)}. Input has shape {list(xs)}."
        )
    if weight is not None and weight._data.shape != (c,):
        raise RuntimeError(
            f"inconsistent weight size, expected {c} but got {list(weight._data.shape)}"
        )
    _long_target(target)
    t = target._data.reshape(n)
    if ((t < 0) | (t >= c)).any():
        raise RuntimeError("target out of range")
    x = input.reshape(n, c)
    idx = _make(t.reshape(n, 1))
    z = (margin - x.gather(1, idx) + x).relu()
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight.gather(0, _make(t)).unsqueeze(1)
    z = z.masked_fill(_make(np.arange(c) == t[:, None]), 0)
    loss = z.sum(1) / c
    if not two_d:
        loss = loss.reshape(())
    return _reduce(loss, red)


@op(namespace="nn.functional", method=False)
def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: Any = None,
                           reduce: Any = None, reduction: str = "mean") -> Tensor:  # fmt: skip
    """``sum_{j in y} sum_{k not in y} max(0, 1 - (x[j] - x[k])) / C`` per sample, ``y`` the
    target's labels up to its first -1, reduced (no gradient where the hinge is 0)."""
    red = _check_margin_reduction(size_average, reduce, reduction)
    xs, ts = input._data.shape, target._data.shape
    if ts != xs:
        raise RuntimeError(f"inconsistent target size: {list(ts)} for input of size: {list(xs)}")
    _long_target(target)
    two_d = input._data.ndim == 2
    n, c = (xs[0], xs[1]) if two_d else (1, xs[0] if xs else 1)
    t = target._data.reshape(n, c)
    if ((t < -1) | (t >= c)).any():
        raise RuntimeError("argument #2 'target' is out of range")
    valid = np.cumprod(t != -1, axis=1).astype(bool)  # the labels before the first -1
    labels = np.where(valid, t, 0)
    is_target = np.zeros((n, c), bool)
    for i in range(n):
        is_target[i, labels[i][valid[i]]] = True
    x = input.reshape(n, c)
    xt = x.gather(1, _make(labels))  # (n, c): x at each listed label
    z = (1 - xt.unsqueeze(2) + x.unsqueeze(1)).relu()  # [i, j, k]: label j against class k
    keep = valid[:, :, None] & ~is_target[:, None, :]
    loss = z.masked_fill(_make(~keep), 0).sum((1, 2)) / c
    if not two_d:
        loss = loss.reshape(())
    return _reduce(loss, red)
