"""The NumPy reference of the normalization kernels (native_norm.h is their C twin):
batch_norm (statistics, the normalization, the backward; inputs (N, C, d1, ...), per
channel) and rms_norm over the last ``k`` dims."""

from __future__ import annotations

import numpy as np

from chainrule._fp import quiet


def mean_keepdims(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``np.mean(a, axes, keepdims=True)``, same bits, without its Python overhead (float16
    is summed in float32 by np.mean, so it keeps np.mean)."""
    if a.dtype == np.float16:
        return np.mean(a, axis=axes, keepdims=True)
    n = 1
    for ax in axes:
        n *= a.shape[ax]
    s = np.add.reduce(a, axis=axes, keepdims=True)
    return np.true_divide(s, n, out=s, casting="unsafe") if n else s / n


def _per_channel(a: np.ndarray, ndim: int) -> np.ndarray:
    return a.reshape((1, -1) + (1,) * (ndim - 2))


def _axes(ndim: int) -> tuple[int, ...]:
    return (0, *range(2, ndim))


@quiet  # inf - inf in x - mean: nan, silently, as in torch
def batch_norm_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each channel's mean and biased variance (two passes), shaped (C,)."""
    axes = _axes(x.ndim)
    mu = mean_keepdims(x, axes)
    d = x - mu
    n = x.size // x.shape[1]
    return mu.reshape(-1), (np.sum(d * d, axis=axes) / n).astype(x.dtype, copy=False)


@quiet
def batch_norm_elemt(x, mean, rstd, w, b) -> np.ndarray:
    """``(x - mean) * rstd [* w] [+ b]`` per channel (mean, rstd, w, b: (C,) or None)."""
    y = x - _per_channel(mean, x.ndim)
    y *= _per_channel(rstd, x.ndim)
    if w is not None:
        y *= _per_channel(w, x.ndim)
    if b is not None:
        y += _per_channel(b, x.ndim)
    return y


@quiet
def batch_norm_backward(g, x, mean, rstd, w, training: bool):
    """``(dx, dw, db)``, ``xhat = (x - mean) * rstd``: ``dw = sum(g * xhat)``, ``db = sum(g)``
    per channel; training: with ``u = g [* w]``, ``dx = (u - mean(u) - xhat * mean(u *
    xhat)) * rstd``; eval (the running statistics): ``dx = g * (w * rstd)``."""
    axes, nd = _axes(x.ndim), x.ndim
    r = _per_channel(rstd, nd)
    xhat = (x - _per_channel(mean, nd)) * r
    dw, db = np.add.reduce(g * xhat, axis=axes), np.add.reduce(g, axis=axes)
    if not training:
        return g * (r if w is None else _per_channel(w, nd) * r), dw, db
    u = g * _per_channel(w, nd) if w is not None else g.copy()
    t = u * xhat
    c = mean_keepdims(t, axes)
    m = mean_keepdims(u, axes)
    u -= m
    u -= np.multiply(xhat, c, out=t)
    u *= r
    return u, dw, db


@quiet
def rms_norm(x, w, eps: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Over the last ``k`` dims: ``rstd = 1 / sqrt(mean(x * x) + eps)`` (kept dims) and
    ``y = x * rstd [* w]``; returns y and rstd."""
    axes = tuple(range(x.ndim - k, x.ndim))
    rstd = 1 / np.sqrt(mean_keepdims(x * x, axes) + eps)
    y = x * rstd
    if w is not None:
        y *= w
    return y, rstd


@quiet
def rms_norm_backward(g, x, rstd, w, k: int) -> tuple[np.ndarray, np.ndarray]:
    """With ``xhat = x * rstd`` and ``u = g [* w]``: ``dx = (u - xhat * mean(u * xhat)) *
    rstd`` over the last ``k`` dims and ``dw = sum(g * xhat)`` over the others."""
    axes = tuple(range(x.ndim - k, x.ndim))
    xhat = x * rstd
    u = g * w if w is not None else g.copy()
    u -= xhat * mean_keepdims(u * xhat, axes)
    u *= rstd
    return u, np.add.reduce(g * xhat, axis=tuple(range(x.ndim - k)))
