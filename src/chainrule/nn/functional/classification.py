"""nll_loss and cross_entropy (class indices or probabilities, weights, ignore_index, label
smoothing): compositions of log_softmax, gather and sums with torch's exact normalisers; the
common case ((N, C) input, no weights, nothing ignored, mean or sum) is one primitive for
cost, ``NllLoss``, whose backward ``NllLossGrad`` is its adjoint. cross_entropy with class
indices on a float32/float64 (N, C, ...) input is one node, ``CrossEntropy``: the fused
kernels ``K.cross_entropy`` / ``K.cross_entropy_backward`` (log-softmax and nll in one pass)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule._trace import state as trace
from chainrule.amp.autocast_mode import autocast_policy
from chainrule.backend import K
from chainrule.dtypes import kind_of, scalar_type_name
from chainrule.graph import grad_mode
from chainrule.nn.functional._utils import get_reduction, type_name
from chainrule.ops.index.gather import gather
from chainrule.ops.op import Op, forward_ad, save_index
from chainrule.ops.softmax import LogSoftmaxBackward, log_softmax, log_softmax_result


def _check_target(input: Tensor, target: Tensor) -> None:
    _check_shapes(input, target)
    if target._data.dtype not in (np.int64, np.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {type_name(target)}")


def _check_shapes(input: Tensor, target: Tensor) -> None:
    x, t = input._data, target._data
    if x.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {x.ndim})")
    if x.ndim == 1:
        if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != 1):
            raise ValueError(
                f"For 1D input, 1D target must have size 1, but got target size: {t.shape[0]}"
            )
        return
    if t.ndim == 0 or x.shape[0] != t.shape[0]:
        raise ValueError(
            f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
            f"({t.shape[0] if t.ndim else 1})."
        )
    if x.ndim == 2 and t.ndim != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if x.ndim > 2 and t.shape != x.shape[:1] + x.shape[2:]:
        raise RuntimeError(
            f"Expected target size {[x.shape[0], *x.shape[2:]]}, got {list(t.shape)}"
        )


def _class_weights(weight: Tensor | None, c: int) -> np.ndarray | None:
    if weight is None:
        return None
    w = weight._data
    if w.ndim != 1 or w.shape[0] != c:
        raise RuntimeError(
            f"weight tensor should be defined either for all {c} classes or no classes but got "
            f"weight tensor of shape: {list(w.shape)}"
        )
    return w


def _picked(input: Tensor, target: Tensor, ignore_index: int, w: np.ndarray | None):
    """``input`` at each target class (along dim 1), and each element's weight (0 where
    ignored), as a constant array."""
    x, t = input._data, target._data.astype(np.int64, copy=False)
    c = x.shape[1]
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"Target {t[bad].flat[0]} is out of bounds.")
    safe = np.where(valid, t, 0)
    picked = gather(input, 1, _make(safe[:, None])).squeeze(1)
    wt = valid.astype(x.dtype) if w is None else np.where(valid, w[safe], 0).astype(x.dtype)
    return picked, wt, valid, safe


class NllLoss(Op):
    """``-mean`` (or ``-sum``) over n of ``x[n, t[n]]`` for an (N, C) input, every target in
    range: linear in ``x``; the gradient is ``NllLossGrad``, and that op's is this one."""

    jvp_rule = "linear"
    save_inputs = False

    def forward(self, x, t, mean):
        self.t, self.mean, self.shape = t, mean, x.shape
        picked = x[np.arange(x.shape[0]), t]
        return -np.mean(picked) if mean else np.sum(-picked)

    def backward(self, g):
        return NllLossGrad.apply(g, t=self.t, mean=self.mean, shape=self.shape)


class NllLossGrad(Op):
    """Zeros of ``shape`` with ``-g`` (``-g / N`` for the mean) at each ``[n, t[n]]``."""

    jvp_rule = "linear"
    save_inputs = False
    torch_name = "NllLossBackwardBackward0"

    def forward(self, g, t, mean, shape):
        self.t, self.mean = t, mean
        v = -g * (1 / shape[0]) if mean else -g
        out = np.zeros(shape, g.dtype)
        out[np.arange(shape[0]), t] = v + 0.0  # 0 + v, as accumulating into zeros gives
        return out

    def backward(self, gg):
        return NllLoss.apply(gg, t=self.t, mean=self.mean)


class CrossEntropy(Op):
    """cross_entropy with class indices in one node: ``K.cross_entropy`` computes the
    log-probabilities and each element's loss in one pass over the logits (label smoothing,
    class weights, ignore_index); reduced here ('mean': over the weights of the targets not
    ignored). Saves the log-probabilities, as torch's LogSoftmaxBackward0 its result, never
    the input (the target and weight are version-checked, as torch's NllLossBackward0 saves
    them). The plain backward is ``K.cross_entropy_backward`` (one pass); building a graph
    of the gradient, it is log_softmax's backward of the log-probabilities' gradient (linear
    in ``g``) through a LogSoftmax node on this node's input, so every order is torch's."""

    save_inputs = False
    torch_name = "NllLossBackward0"

    def forward(self, x, t, w, ignore_index, label_smoothing, reduction):
        logp, loss, wt = K.cross_entropy(x, t, w, ignore_index, label_smoothing)
        self.logp, self.t, self.w = logp, t, w
        self.ignore_index, self.ls, self.reduction = ignore_index, label_smoothing, reduction
        self.denom = None
        if reduction == "none":
            return loss
        total = np.add.reduce(loss, axis=None)
        if reduction == "sum":
            return total
        self.denom = np.asarray(np.add.reduce(wt, axis=None))  # an array: cr.compile reads it
        return total / self.denom

    def backward(self, g):
        if not grad_mode.enabled:  # the plain backward: one pass
            args = (self.logp, self.t, self.w, self.denom)
            params = dict(ignore_index=self.ignore_index, ls=self.ls, reduction=self.reduction)
            if trace.tracer:  # an op, for cr.compile to record (the same kernel, same bits)
                return CrossEntropyGrad.apply(g, *args, **params)
            return _make(CrossEntropyGrad.compute(g._data, *args, **params))
        logp, t, w, ls = self.logp, self.t, self.w, self.ls
        c = logp.shape[1]
        valid = t != self.ignore_index
        safe = np.where(valid, t, 0)
        wt = np.ones(t.shape, logp.dtype) if w is None else w[safe]
        cls = np.arange(c).reshape((1, c) + (1,) * (logp.ndim - 2))
        coef = -(1 - ls) * (cls == safe[:, None]) * wt[:, None]  # d loss / d logp, per unit g
        if ls > 0:
            ws = np.ones(c, logp.dtype) if w is None else w
            coef = coef - (ls / c) * ws.reshape(cls.shape)
        coef = np.where(valid[:, None], coef, 0).astype(logp.dtype)
        if self.reduction == "mean":
            coef = coef / self.denom
        grad_logp = (g if self.reduction != "none" else g.unsqueeze(1)) * _make(coef)
        y = log_softmax_result(self, logp, 1)
        return LogSoftmaxBackward.apply(grad_logp, y, dim=1)


class CrossEntropyGrad(Op):
    """CrossEntropy's plain backward as an op (what cr.compile records): the gradient of
    each element's loss from ``g`` (``g / denom`` for the mean, broadcast), then
    ``K.cross_entropy_backward``. Never recorded in a graph (run with grad mode off)."""

    save_inputs = False

    @staticmethod
    def compute(g, logp, t, w, denom, ignore_index, ls, reduction):
        if reduction == "none":
            ge = np.ascontiguousarray(g)
        else:
            ge = np.full(t.shape, g / denom if reduction == "mean" else g, dtype=logp.dtype)
        return K.cross_entropy_backward(ge, logp, t, w, ignore_index, ls)

    def forward(self, g, logp, t, w, denom, ignore_index, ls, reduction):
        return self.compute(g, logp, t, w, denom, ignore_index, ls, reduction)


class CrossEntropySmoothed(CrossEntropy):
    """With label smoothing torch's result is a sum of the two terms."""

    torch_name = "AddBackward0"


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _fused_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing):
    """The one-node loss when it applies (else None): float32/float64 (N, C, ...) logits,
    no forward-mode level open."""
    x = input._data
    if x.dtype not in _FLOATS or x.ndim < 2 or not x.size or forward_ad.level:
        return None
    t = np.ascontiguousarray(target._data, dtype=np.int64)
    w = None if weight is None else np.ascontiguousarray(weight._data)
    cls = CrossEntropySmoothed if label_smoothing > 0 else CrossEntropy
    ls = float(max(label_smoothing, 0.0))  # torch ignores a negative one
    out = cls.apply(input, t=t, w=w, ignore_index=int(ignore_index), label_smoothing=ls,
                    reduction=reduction)  # fmt: skip
    return save_index(out, target, weight)


def _nll_plain(input: Tensor, target: Tensor, ignore_index: int, reduction: str):
    """The one-node loss when it applies (else None: the general composition)."""
    x, t = input._data, target._data
    if x.ndim != 2 or not x.shape[0] or not x.shape[1] or kind_of(x.dtype) != "f":
        return None
    if t.dtype != np.int64:
        t = t.astype(np.int64)
    if t.min() < 0 or t.max() >= x.shape[1] or (ignore_index >= 0 and (t == ignore_index).any()):
        return None  # out of range (the composition raises torch's error) or ignored targets
    return NllLoss.apply(input, t=t, mean=reduction == "mean")


def _nll(
    input: Tensor, target: Tensor, w: np.ndarray | None, ignore_index: int, reduction: str
) -> Tensor:
    one_d = input._data.ndim == 1
    if one_d:
        input, target = input.reshape(1, -1), target.reshape(1)
    if w is None and reduction != "none":
        loss = _nll_plain(input, target, ignore_index, reduction)
        if loss is not None:
            return loss
    picked, wt, _, _ = _picked(input, target, ignore_index, w)
    plain = w is None and wt.all()  # no weights and nothing ignored
    if reduction == "mean":
        denom = wt.sum()
        if denom == 0:  # everything ignored: nan, as torch, with a zero gradient
            return (picked * 0.0).sum() + float("nan")
        return -picked.mean() if plain else -(picked * _make(wt / denom)).sum()
    loss = -picked if plain else -(picked * _make(wt))
    if reduction == "sum":
        return loss.sum()
    return loss.reshape(()) if one_d else loss


def _check_weight_dtype(input: Tensor, weight: Tensor | None) -> None:
    """The nll kernel's check (after the shapes, before the target's range)."""
    if weight is not None and weight._data.dtype != input._data.dtype:
        raise RuntimeError(
            f"expected scalar type {scalar_type_name(input)} but found {scalar_type_name(weight)}"
        )


@op(namespace="nn.functional", method=False)
@autocast_policy("fp32")
def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """``-input[n, target[n]] * weight[target[n]]`` over (N, C, d1, ...) log-probabilities;
    'mean' divides by the sum of the weights of the targets that are not ignored."""
    reduction = get_reduction(reduction, size_average, reduce)
    _check_target(input, target)
    w = _class_weights(weight, input._data.shape[0 if input._data.ndim == 1 else 1])
    _check_weight_dtype(input, weight)
    return _nll(input, target, w, ignore_index, reduction)


@op(namespace="nn.functional", method=False)
@autocast_policy("fp32")
def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """``nll_loss(log_softmax(input, 1), target)`` for class indices; for class
    probabilities (target shaped like input) ``-sum(target * log_softmax(input))``; with
    torch's label smoothing and weighting in both."""
    reduction = get_reduction(reduction, size_average, reduce)
    if label_smoothing > 1.0:  # torch lets a negative value through (and ignores it)
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    x = input._data
    class_dim = 0 if x.ndim == 1 else 1
    c = x.shape[class_dim] if x.ndim else 1
    w = _class_weights(weight, c)
    wshape = [1] * x.ndim
    if x.ndim:
        wshape[class_dim] = c
    if target._data.shape == x.shape:  # class probabilities
        if kind_of(target._data.dtype) != "f":
            raise RuntimeError(
                "Expected floating point type for target with class probabilities, got "
                f"{type_name(target)}"
            )
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        logp = log_softmax(input, class_dim)
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / c
        prod = logp * target
        if w is not None:
            prod = prod * _make(w.reshape(wshape))
        if reduction == "none":
            return -prod.sum(class_dim)
        if reduction == "sum":
            return -prod.sum()
        return -prod.sum() / (x.size / c) if x.size else -prod.sum() * np.nan
    _check_target(input, target)
    _check_weight_dtype(input, weight)
    fused = _fused_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)
    if fused is not None:
        return fused
    logp = log_softmax(input, class_dim)
    nll = _nll(logp, target, w, ignore_index, reduction)
    if label_smoothing <= 0:
        return nll
    t = target._data.astype(np.int64, copy=False)
    ignored = _make(t == ignore_index)
    smooth = -(logp if w is None else logp * _make(w.reshape(wshape))).sum(class_dim)
    smooth = smooth.masked_fill(ignored, 0.0)
    if reduction == "sum":
        smooth = smooth.sum()
    elif reduction == "mean":
        valid = t != ignore_index
        denom = w[t[valid]].sum() if w is not None else valid.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            smooth = smooth.sum() / _make(np.asarray(denom, dtype=x.dtype))
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / c)
