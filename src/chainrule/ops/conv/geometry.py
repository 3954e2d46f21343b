"""Convolution geometry (kernel, stride, padding, dilation, groups), argument checks, and the
NumPy im2col kernels of the convolution, its transpose and its weight gradient."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from chainrule._tensor import Tensor
from chainrule.backend import K


class _Geometry:
    """Kernel size, stride, padding ((top, bottom), (left, right)), dilation and groups."""

    __slots__ = ("k", "stride", "pad", "dilation", "groups")

    def __init__(self, k, stride, pad, dilation, groups):
        self.k, self.stride, self.pad, self.dilation, self.groups = (
            k, stride, pad, dilation, groups)  # fmt: skip

    def out_size(self, h: int, w: int) -> tuple[int, int]:
        (pt, pb), (pl, pr) = self.pad
        oh = (h + pt + pb - self.dilation[0] * (self.k[0] - 1) - 1) // self.stride[0] + 1
        ow = (w + pl + pr - self.dilation[1] * (self.k[1] - 1) - 1) // self.stride[1] + 1
        return oh, ow


def _padded(x: np.ndarray, geo: _Geometry, value: float = 0.0) -> np.ndarray:
    (pt, pb), (pl, pr) = geo.pad
    if pt or pb or pl or pr:
        return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=value)
    return x


def _windows(xp: np.ndarray, geo: _Geometry, oh: int, ow: int) -> np.ndarray:
    """A (N, C, OH, OW, KH, KW) read-only view of every kernel window of ``xp``."""
    n, c = xp.shape[:2]
    s = xp.strides
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    return as_strided(
        xp,
        (n, c, oh, ow, geo.k[0], geo.k[1]),
        (s[0], s[1], s[2] * sh, s[3] * sw, s[2] * dh, s[3] * dw),
        writeable=False,
    )


def _cols(x: np.ndarray, geo: _Geometry, oh: int, ow: int) -> np.ndarray:
    """im2col: (N, groups, OH*OW, C/groups*KH*KW)."""
    n, c = x.shape[:2]
    g = geo.groups
    win = _windows(_padded(x, geo), geo, oh, ow).reshape(n, g, c // g, oh, ow, *geo.k)
    return win.transpose(0, 1, 3, 4, 2, 5, 6).reshape(n, g, oh * ow, -1)


def _cols_t(x: np.ndarray, geo: _Geometry, oh: int, ow: int) -> np.ndarray:
    """im2col, channels first: (C*KH*KW, N*OH*OW), ready for a single GEMM (``K.im2col``)."""
    return K.im2col(x, geo.k, geo.stride, geo.pad, geo.dilation, (oh, ow))


def _conv(x: np.ndarray, w: np.ndarray, geo: _Geometry) -> np.ndarray:
    n, g, o = x.shape[0], geo.groups, w.shape[0]
    oh, ow = geo.out_size(*x.shape[2:])
    if g == 1:  # one large GEMM: (O, CKK) @ (CKK, N*L)
        out = w.reshape(o, -1) @ _cols_t(x, geo, oh, ow)
        return out.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)
    cols = _cols(x, geo, oh, ow)  # N, g, L, K
    wm = w.reshape(g, o // g, -1).transpose(0, 2, 1)  # g, K, O/g
    out = cols @ wm  # N, g, L, O/g
    return out.transpose(0, 1, 3, 2).reshape(n, o, oh, ow)


def _col2im(gcols: np.ndarray, geo: _Geometry, x_shape: tuple) -> np.ndarray:
    """Add (C, KH, KW, N, OH, OW) window gradients back into an (N, C, H, W) gradient."""
    oh, ow = gcols.shape[-2:]
    return K.col2im(gcols, x_shape, geo.k, geo.stride, geo.pad, geo.dilation, (oh, ow))


def _conv_transpose(gy: np.ndarray, w: np.ndarray, geo: _Geometry, x_shape: tuple) -> np.ndarray:
    """The adjoint of ``_conv`` in its input: col2im of gy·w, summed where windows overlap."""
    n, o, oh, ow = gy.shape
    g = geo.groups
    c = x_shape[1]
    if g == 1:
        gy_t = gy.transpose(1, 0, 2, 3).reshape(o, -1)  # O, N*L
        gcols = w.reshape(o, -1).T @ gy_t  # CKK, N*L
        return _col2im(gcols.reshape(c, *geo.k, n, oh, ow), geo, x_shape)
    gcols = gy.reshape(n, g, o // g, oh * ow).transpose(0, 1, 3, 2) @ w.reshape(g, o // g, -1)
    gcols = gcols.reshape(n, g, oh, ow, c // g, *geo.k)  # -> C, KH, KW, N, OH, OW
    gcols = gcols.transpose(1, 4, 5, 6, 0, 2, 3).reshape(c, *geo.k, n, oh, ow)
    return _col2im(gcols, geo, x_shape)


def _conv_weight(x: np.ndarray, gy: np.ndarray, geo: _Geometry, w_shape: tuple) -> np.ndarray:
    """The adjoint of ``_conv`` in its weight: Σ over batch and positions of gy ⊗ windows."""
    n, o, oh, ow = gy.shape
    g = geo.groups
    if g == 1:
        gy_t = gy.transpose(1, 0, 2, 3).reshape(o, -1)  # O, N*L
        return (gy_t @ _cols_t(x, geo, oh, ow).T).reshape(w_shape)
    cols = _cols(x, geo, oh, ow)  # N, g, L, K
    gyr = gy.reshape(n, g, o // g, oh * ow)
    gw = (gyr.transpose(1, 2, 0, 3).reshape(g, o // g, -1)
          @ cols.transpose(1, 0, 2, 3).reshape(g, n * oh * ow, -1))  # fmt: skip
    return gw.reshape(w_shape)


def _pair(v: Any, n: int, name: str) -> tuple[int, ...]:
    t = tuple(int(a) for a in v) if isinstance(v, tuple | list) else (int(v),) * n
    if len(t) != n:
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {n} values "
            f"to match the convolution dimensions, but got {name}={list(t)}"
        )
    return t


def _batched(x: Tensor, nd: int, name: str) -> tuple[Tensor, bool]:
    if x._data.ndim == nd + 1:
        return x.reshape(1, *x._data.shape), True
    if x._data.ndim != nd + 2:
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
            f"{name}, but got input of size: {list(x._data.shape)}"
        )
    return x, False
