"""Convolution geometry (kernel, stride, padding, dilation, groups), argument checks, and the
NumPy im2col kernels of the convolution, its transpose and its weight gradient."""

from __future__ import annotations

from typing import Any

import numpy as np

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


def _cols_t(x: np.ndarray, geo: _Geometry, oh: int, ow: int) -> np.ndarray:
    """im2col, channels first: (C*KH*KW, N*OH*OW), ready for a single GEMM (``K.im2col``);
    with groups, its rows are the groups' blocks, in order."""
    return K.im2col(x, geo.k, geo.stride, geo.pad, geo.dilation, (oh, ow))


def _to_nchw(out: np.ndarray, n: int, oh: int, ow: int, b: np.ndarray | None) -> np.ndarray:
    """A GEMM's (O, N*OH*OW) result as a contiguous (N, O, OH, OW) array, torch's layout,
    with the bias added in the same pass."""
    o = out.shape[0]
    y = np.empty((n, o, oh, ow), dtype=out.dtype)
    src = out.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)
    if b is None:
        np.copyto(y, src)
    else:
        np.add(src, b.reshape(-1, 1, 1), out=y)
    return y


# positions per sample from which one GEMM per sample, written straight into the NCHW
# result, beats one large GEMM and the pass that lays its (O, N*L) result out as NCHW
PER_SAMPLE_L = 128
_FLOAT = (np.dtype(np.float32), np.dtype(np.float64))


def _per_sample(groups: int, cols: np.ndarray, positions: int, n: int) -> bool:
    return groups == 1 and positions >= PER_SAMPLE_L and cols.dtype in _FLOAT and cols.size > 0


def _conv(
    x: np.ndarray, w: np.ndarray, geo: _Geometry, b: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The convolution (plus ``b``) as im2col and one GEMM per group; returns the result
    (contiguous NCHW) and the columns (what the weight gradient reads)."""
    n, g, o = x.shape[0], geo.groups, w.shape[0]
    oh, ow = geo.out_size(*x.shape[2:])
    cols = _cols_t(x, geo, oh, ow)
    if _per_sample(g, cols, oh * ow, n):  # a GEMM per sample, written in place as NCHW
        ckk = cols.shape[0]
        y = K.matmul(w.reshape(o, ckk), cols.reshape(ckk, n, oh * ow).transpose(1, 0, 2))
        if b is not None:
            y += b.reshape(-1, 1)
        return y.reshape(n, o, oh, ow), cols
    if g == 1:  # one large GEMM: (O, CKK) @ (CKK, N*L)
        out = w.reshape(o, -1) @ cols
    else:  # (g, O/g, CKK/g) @ (g, CKK/g, N*L)
        out = (w.reshape(g, o // g, -1) @ cols.reshape(g, -1, cols.shape[1])).reshape(o, -1)
    return _to_nchw(out, n, oh, ow, b), cols


def _gy_t(gy: np.ndarray) -> np.ndarray:
    """The output gradient (N, O, OH, OW) as (O, N*OH*OW), the GEMMs' layout."""
    n, o = gy.shape[:2]
    return gy.reshape(n, o, -1).transpose(1, 0, 2).reshape(o, -1)


def _col2im(gcols: np.ndarray, geo: _Geometry, x_shape: tuple, out_hw: tuple) -> np.ndarray:
    """Add (C*KH*KW, N*OH*OW) window gradients back into an (N, C, H, W) gradient."""
    oh, ow = out_hw
    return K.col2im(gcols, x_shape, geo.k, geo.stride, geo.pad, geo.dilation, (oh, ow))


def _conv_transpose(gy: np.ndarray, w: np.ndarray, geo: _Geometry, x_shape: tuple) -> np.ndarray:
    """The adjoint of ``_conv`` in its input: col2im of wᵀ·gy, summed where windows overlap."""
    o, g = gy.shape[1], geo.groups
    gy_t = _gy_t(gy)  # O, N*L
    if g == 1:
        gcols = w.reshape(o, -1).T @ gy_t  # CKK, N*L
    else:  # (g, CKK/g, O/g) @ (g, O/g, N*L)
        wg = w.reshape(g, o // g, -1).transpose(0, 2, 1)
        gcols = (wg @ gy_t.reshape(g, o // g, -1)).reshape(-1, gy_t.shape[1])
    return _col2im(gcols, geo, x_shape, gy.shape[2:])


def _conv_weight(
    x: np.ndarray, gy: np.ndarray, geo: _Geometry, w_shape: tuple, cols: np.ndarray | None = None
) -> np.ndarray:
    """The adjoint of ``_conv`` in its weight: Σ over batch and positions of gy ⊗ windows;
    ``cols``: x's columns if the forward kept them (else made again)."""
    o, oh, ow = gy.shape[1:]
    g = geo.groups
    if cols is None:
        cols = _cols_t(x, geo, oh, ow)
    n, ckk, nl = gy.shape[0], cols.shape[0], cols.shape[1]
    if _per_sample(g, cols, oh * ow, n) and ckk <= oh * ow:
        # Σ over samples of gy_n (O, L) @ cols_nᵀ: no (O, N*L) copy of gy; the N partial
        # products (N, O, CKK) are no larger than gy
        cols_n = cols.reshape(ckk, n, oh * ow).transpose(1, 2, 0)  # N, L, CKK (views)
        return K.matmul(gy.reshape(n, o, oh * ow), cols_n).sum(0).reshape(w_shape)
    gy_t = _gy_t(gy)  # O, N*L
    if g == 1:
        return (gy_t @ cols.T).reshape(w_shape)
    gw = gy_t.reshape(g, o // g, nl) @ cols.reshape(g, -1, nl).transpose(0, 2, 1)
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
