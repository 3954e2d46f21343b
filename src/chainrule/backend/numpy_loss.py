"""The NumPy reference of the loss kernels (native_loss.h is their C twin): cross_entropy
with class-index targets, forward and backward, over logits (N, C, d1, ...) with the class
dim at 1 and targets (N, d1, ...) of int64."""

from __future__ import annotations

import numpy as np

from chainrule._fp import quiet


def _weights(w: np.ndarray | None, c: int, ndim: int, dtype) -> np.ndarray:
    """The class weights shaped to broadcast along dim 1 (ones without weights)."""
    shape = (1, c) + (1,) * (ndim - 2)
    return np.ones(shape, dtype) if w is None else w.reshape(shape)


@quiet
def cross_entropy(x, t, w, ignore_index: int, label_smoothing: float):
    """``(logp, loss, weight)``: ``logp = log_softmax(x, 1)``; each element's loss
    ``(1 - ls) * -(w[t] * logp[t]) + (ls / C) * -sum_c(w[c] * logp[c])`` (the nll alone when
    ``ls == 0``; 0 where ``t == ignore_index``); each element's weight ``w[t]`` (1 without
    weights, 0 where ignored: the mean divides by their sum). A target out of range that is
    not ignored raises torch's IndexError."""
    c = x.shape[1]
    logp = x - np.maximum.reduce(x, axis=1, keepdims=True)
    logp -= np.log(np.add.reduce(np.exp(logp), axis=1, keepdims=True))
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"Target {t[bad].flat[0]} is out of bounds.")
    safe = np.where(valid, t, 0)
    picked = np.take_along_axis(logp, safe[:, None], 1)[:, 0]
    wt = np.ones(t.shape, x.dtype) if w is None else w[safe]
    loss = -(picked * wt)
    if label_smoothing > 0:
        sm = np.add.reduce(_weights(w, c, x.ndim, x.dtype) * logp, axis=1)
        loss = (1 - label_smoothing) * loss + (-sm) * (label_smoothing / c)
    zero = np.zeros((), x.dtype)
    return logp, np.where(valid, loss, zero), np.where(valid, wt, zero)


@quiet
def cross_entropy_backward(g, logp, t, w, ignore_index: int, label_smoothing: float):
    """The logits' gradient, ``g`` that of each element's loss: with ``ga = -(g * (1 - ls)
    w[t])`` and ``gb = -(g * ls / C)`` (0 where ignored), the log-probabilities' gradient is
    ``G = gb * w`` plus ``ga`` at the target, and ``dx = G - exp(logp) * sum(G)`` (log_softmax's
    backward) with ``sum(G) = ga + gb * sum(w)``; the target's entry is
    ``(gb * w[t] + ga) - exp(logp[t]) * sum(G)``."""
    c = logp.shape[1]
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    wt = np.ones(t.shape, logp.dtype) if w is None else w[safe]
    zero = np.zeros((), logp.dtype)
    ga = np.where(valid, -(g * ((1 - label_smoothing) * wt)), zero)
    gb = np.where(valid, -(g * (label_smoothing / c)), zero)
    wsum = logp.dtype.type(c) if w is None else np.add.reduce(w)
    sg = (ga + gb * wsum)[:, None]
    dx = np.exp(logp)
    dx *= sg
    np.negative(dx, out=dx)  # -(p * sum(G)), then + gb * w: the same as gb * w - p * sum(G)
    dx += gb[:, None] * _weights(w, c, logp.ndim, logp.dtype)
    at = safe[:, None]  # (an ignored element keeps its entry at class 0)
    target = (gb * wt + ga)[:, None] - np.exp(np.take_along_axis(logp, at, 1)) * sg
    np.put_along_axis(dx, at, np.where(valid[:, None], target, np.take_along_axis(dx, at, 1)), 1)
    return dx
