"""Fast NumPy kernels shared by forward passes: a branch-free ``np.where``.

Not ops (nothing here records or differentiates): plain array functions that give the same
result, bit for bit, as the obvious NumPy call, only faster on the sizes where it matters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["select"]

_INT = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64,
        np.dtype(np.float16): np.int16}  # fmt: skip
_BRANCHY = 8192  # below this many elements np.where (branch prediction) is as fast


def _bits(v: Any, dt: np.dtype, it: type, shape: tuple) -> np.ndarray | None:
    """``v`` (an array of ``dt`` shaped like the condition or 0-d, or a Python number) seen
    as integers of the same width; None if the fast path does not apply."""
    if type(v) is np.ndarray:
        if v.dtype != dt or (v.shape != shape and v.ndim):
            return None
        return v.view(it)
    if type(v) is float or type(v) is int:
        return np.array(v, dt).view(it)
    return None


def select(cond: np.ndarray, a: Any, b: Any) -> np.ndarray:
    """``np.where(cond, a, b)``, the same bits. For large float arrays it blends by bit masks
    (``a & m | b & ~m``) instead: ``np.where`` branches per element and mispredicts on
    irregular masks (activations, their gradients), which makes it ~10x slower there."""
    if type(cond) is not np.ndarray or cond.size < _BRANCHY or cond.dtype != np.bool_:
        return np.where(cond, a, b)
    dt = a.dtype if type(a) is np.ndarray else b.dtype if type(b) is np.ndarray else None
    it = _INT.get(dt)
    shape = cond.shape
    ai = bi = None
    if it is not None:
        ai, bi = _bits(a, dt, it, shape), _bits(b, dt, it, shape)
    if ai is None or bi is None:
        return np.where(cond, a, b)
    out = np.empty(shape, dt)
    o = out.view(it)
    m = cond.view(np.int8).astype(it)  # 0 / 1
    np.negative(m, out=m)  # 0 / all bits set
    if not bi.ndim and not bi:  # b is +0.0: a & m
        np.bitwise_and(ai, m, out=o)
        return out
    if not ai.ndim and not ai:  # a is +0.0: b & ~m
        np.invert(m, out=m)
        np.bitwise_and(bi, m, out=o)
        return out
    np.bitwise_and(ai, m, out=o)
    np.invert(m, out=m)
    np.bitwise_and(bi, m, out=m)
    np.bitwise_or(o, m, out=o)
    return out
