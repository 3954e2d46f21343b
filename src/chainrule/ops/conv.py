"""Convolution and pooling over 1-D and 2-D signals, vectorised with im2col + matmul.

Three ops close under differentiation, which gives every order of derivative:
``y = Conv(x, w)``, its input-gradient ``ConvTranspose(gy, w)`` (also torch's
``conv_transpose2d``) and its weight-gradient ``ConvWeight(x, gy)``. Each one's backward is
written with the other two. 1-D calls run as 2-D with a height of 1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from chainrule._tensor import Tensor, _make
from chainrule.ops.op import Op

__all__ = [
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
]  # fmt: skip


# --------------------------------------------------------------------------- geometry


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
    """im2col, channels first: (C*KH*KW, N*OH*OW), built with one strided copy per kernel
    offset (contiguous inner loops), ready for a single GEMM with the weight."""
    xp = _padded(x, geo)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (dh, dw) = geo.k, geo.stride, geo.dilation
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
        for j in range(kw):
            cs = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            cols[:, i, j] = xp[:, :, rows, cs].transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * oh * ow)


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
    c, kh, kw, n, oh, ow = gcols.shape
    (pt, pb), (pl, pr) = geo.pad
    h, wd = x_shape[2] + pt + pb, x_shape[3] + pl + pr
    gx = np.zeros((n, c, h, wd), dtype=gcols.dtype)
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
        for j in range(kw):
            cs = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            gx[:, :, rows, cs] += gcols[:, i, j].transpose(1, 0, 2, 3)
    return gx[:, :, pt : h - pb, pl : wd - pr]


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


class Conv(Op):
    multilinear = True
    torch_name = "ConvolutionBackward0"

    def forward(self, x, w, geo):
        self.geo = geo
        return _conv(x, w, geo)

    def backward(self, g):
        x, w = self.inputs
        gx = (
            ConvTranspose.apply(g, w, geo=self.geo, x_shape=x._data.shape)
            if self.needs(0)
            else None
        )
        gw = ConvWeight.apply(x, g, geo=self.geo, w_shape=w._data.shape) if self.needs(1) else None
        return gx, gw


class ConvTranspose(Op):
    multilinear = True
    torch_name = "ConvolutionBackward0"

    def forward(self, gy, w, geo, x_shape):
        self.geo = geo
        return _conv_transpose(gy, w, geo, x_shape)

    def backward(self, g):
        gy, w = self.inputs
        ggy = Conv.apply(g, w, geo=self.geo) if self.needs(0) else None
        gw = ConvWeight.apply(g, gy, geo=self.geo, w_shape=w._data.shape) if self.needs(1) else None
        return ggy, gw


class ConvWeight(Op):
    multilinear = True
    torch_name = "ConvolutionBackwardBackward0"

    def forward(self, x, gy, geo, w_shape):
        self.geo = geo
        return _conv_weight(x, gy, geo, w_shape)

    def backward(self, g):
        x, gy = self.inputs
        gx = (
            ConvTranspose.apply(gy, g, geo=self.geo, x_shape=x._data.shape)
            if self.needs(0)
            else None
        )
        ggy = Conv.apply(x, g, geo=self.geo) if self.needs(1) else None
        return gx, ggy


# --------------------------------------------------------------------------- public conv


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


def _convnd(nd, name, input, weight, bias, stride, padding, dilation, groups):
    x, unbatched = _batched(input, nd, name)
    w = weight
    if w._data.ndim != nd + 2:
        raise RuntimeError(
            f"Expected {nd + 2}-dimensional weight for {name}, but got {w._data.ndim}-dimensional "
            f"weight of size {list(w._data.shape)}"
        )
    c = x._data.shape[1]
    if c != w._data.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(w._data.shape)}, expected input"
            f"{list(x._data.shape)} to have {w._data.shape[1] * groups} channels, but got {c} "
            "channels instead"
        )
    if w._data.shape[0] % groups:
        raise RuntimeError("out_channels must be divisible by groups")
    if nd == 1:  # run as 2-D with height 1
        x, w = x.reshape(*x._data.shape[:2], 1, -1), w.reshape(*w._data.shape[:2], 1, -1)
    k = w._data.shape[2:]
    s, d = _pair(stride, nd, "stride"), _pair(dilation, nd, "dilation")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(v != 1 for v in s):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            kk = k[-nd:]
            pads = tuple(
                ((d[i] * (kk[i] - 1)) // 2, d[i] * (kk[i] - 1) - (d[i] * (kk[i] - 1)) // 2)
                for i in range(nd)
            )
        else:
            raise ValueError(
                f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}"
            )
    else:
        pads = tuple((p, p) for p in _pair(padding, nd, "padding"))
    if nd == 1:
        s, d, pads = (1, *s), (1, *d), ((0, 0), *pads)
    geo = _Geometry(k, s, pads, d, groups)
    oh, ow = geo.out_size(*x._data.shape[2:])
    if oh <= 0 or ow <= 0:
        raise RuntimeError(f"Calculated output size: ({oh}x{ow}). Output size is too small")
    out = Conv.apply(x, w, geo=geo)
    if nd == 1:
        out = out.reshape(out._data.shape[0], out._data.shape[1], -1)
    if bias is not None:
        out = out + bias.reshape(-1, *([1] * nd))
    return out.reshape(*out._data.shape[1:]) if unbatched else out


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as torch) over (N, C, H, W) or (C, H, W)."""
    return _convnd(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution over (N, C, L) or (C, L)."""
    return _convnd(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def _conv_transposend(
    nd, name, input, weight, bias, stride, padding, output_padding, groups, dilation
):
    x, unbatched = _batched(input, nd, name)
    w = weight  # (C_in, C_out/groups, *k)
    if x._data.shape[1] != w._data.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(w._data.shape)}, expected input"
            f"{list(x._data.shape)} to have {w._data.shape[0]} channels, but got "
            f"{x._data.shape[1]} channels instead"
        )
    if nd == 1:
        x, w = x.reshape(*x._data.shape[:2], 1, -1), w.reshape(*w._data.shape[:2], 1, -1)
    s, d = _pair(stride, nd, "stride"), _pair(dilation, nd, "dilation")
    p, op = _pair(padding, nd, "padding"), _pair(output_padding, nd, "output_padding")
    if nd == 1:
        s, d, p, op = (1, *s), (1, *d), (0, *p), (0, *op)
    k = w._data.shape[2:]
    n, _, h, wd = x._data.shape
    out_hw = [
        (hw - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i, hw in enumerate((h, wd))
    ]
    c_out = w._data.shape[1] * groups
    geo = _Geometry(k, s, ((p[0], p[0]), (p[1], p[1])), d, groups)
    out = ConvTranspose.apply(x, w, geo=geo, x_shape=(n, c_out, *out_hw))
    if nd == 1:
        out = out.reshape(n, c_out, -1)
    if bias is not None:
        out = out + bias.reshape(-1, *([1] * nd))
    return out.reshape(*out._data.shape[1:]) if unbatched else out


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """The adjoint of conv2d ("deconvolution"); weight is (C_in, C_out/groups, kH, kW)."""
    return _conv_transposend(
        2,
        "conv_transpose2d",
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    return _conv_transposend(
        1,
        "conv_transpose1d",
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


# --------------------------------------------------------------------------- pooling


def _pool_geometry(x_shape, nd, kernel_size, stride, padding, dilation, ceil_mode):
    k = _pair(kernel_size, nd, "kernel_size")
    s = _pair(stride if stride not in (None, ()) and stride != [] else k, nd, "stride")
    p, d = _pair(padding, nd, "padding"), _pair(dilation, nd, "dilation")
    if any(2 * p[i] > k[i] for i in range(nd)):
        raise RuntimeError(
            f"pad should be at most half of effective kernel size, but got "
            f"pad={p[0]}, kernel_size={k[0]} and dilation={d[0]}"
        )
    if nd == 1:
        k, s, p, d = (1, *k), (1, *s), (0, *p), (1, *d)
    hw = x_shape[2:]
    out, extra = [], []
    for i in range(2):
        eff = d[i] * (k[i] - 1) + 1
        span = hw[i] + 2 * p[i] - eff
        o = (-(-span // s[i]) if ceil_mode else span // s[i]) + 1
        if ceil_mode and (o - 1) * s[i] >= hw[i] + p[i]:  # last window must start inside
            o -= 1
        out.append(o)
        extra.append(max(0, (o - 1) * s[i] + eff - (hw[i] + 2 * p[i])))
    if out[0] <= 0 or out[1] <= 0:
        raise RuntimeError(
            f"Given input size: ({'x'.join(map(str, x_shape[1:]))}). Calculated "
            f"output size: ({x_shape[1]}x{out[0]}x{out[1]}). Output size is too small"
        )
    pads = ((p[0], p[0] + extra[0]), (p[1], p[1] + extra[1]))
    return _Geometry(k, s, pads, d, 1), (p[0], p[1]), tuple(out)


def _max_index(x: np.ndarray, geo: _Geometry, out_hw: tuple) -> np.ndarray:
    """Position (within its H*W plane) of the maximum of every window, as torch picks it
    (scanning the window in order, a later value wins if greater or nan)."""
    w = x.shape[3]
    xp = _padded(x, geo, -np.inf)
    (kh, kw), (sh, sw), (dh, dw) = geo.k, geo.stride, geo.dilation
    oh, ow = out_hw
    # flat position of each window's top-left corner in the unpadded plane
    corner = ((np.arange(oh) * sh - geo.pad[0][0]).reshape(-1, 1) * w
              + np.arange(ow) * sw - geo.pad[1][0])  # fmt: skip
    best = index = None
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
        for j in range(kw):
            v = xp[:, :, rows, slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)]
            here = corner + (i * dh * w + j * dw)
            if best is None:
                best = v.copy()
                index = np.empty(v.shape, dtype=np.int64)
                index[...] = here
                continue
            wins = (v > best) | np.isnan(v)
            np.copyto(best, v, where=wins)
            np.copyto(index, here, where=wins)
    return index


class PoolScatter(Op):
    """Add each output gradient into the input position it came from (duplicates add up)."""

    linear = True

    save_inputs = False

    def forward(self, g, index, x_shape):
        self.index = index
        n, c, h, w = x_shape
        plane = h * w
        flat = (np.arange(n * c).reshape(n, c, 1, 1) * plane + index).ravel()
        out = np.bincount(flat, weights=g.ravel().astype(np.float64), minlength=n * c * plane)
        return out.astype(g.dtype).reshape(x_shape)

    def backward(self, gg):
        return PoolGather.apply(gg, index=self.index)


class PoolGather(Op):
    """Pick one input position per output (max pooling): the gradient is scattered back."""

    linear = True

    save_inputs = False
    torch_name = "MaxPool2DWithIndicesBackward0"

    def forward(self, x, index):
        self.index, self.x_shape = index, x.shape
        n, c = x.shape[:2]
        return np.take_along_axis(x.reshape(n, c, -1), index.reshape(n, c, -1), -1).reshape(
            index.shape
        )

    def backward(self, g):
        return PoolScatter.apply(g, index=self.index, x_shape=self.x_shape)


def _pool_input(input: Tensor, nd: int, name: str) -> tuple[Tensor, bool]:
    x, unbatched = _batched(input, nd, name)
    if nd == 1:
        x = x.reshape(*x._data.shape[:2], 1, -1)
    return x, unbatched


def _pool_output(out: Tensor, nd: int, unbatched: bool) -> Tensor:
    if nd == 1:
        out = out.reshape(*out._data.shape[:2], -1)
    return out.reshape(*out._data.shape[1:]) if unbatched else out


def _max_poolnd(nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, unbatched = _pool_input(input, nd, f"max_pool{nd}d")
    geo, _, out_hw = _pool_geometry(
        x._data.shape, nd, kernel_size, stride, padding, dilation, ceil_mode
    )
    index = _max_index(x._data, geo, out_hw)
    out = _pool_output(PoolGather.apply(x, index=index), nd, unbatched)
    if not return_indices:
        return out
    return out, _make(index.reshape(out._data.shape).astype(np.int64))


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Max over each window; ``return_indices`` gives flat positions within each H*W plane."""
    return _max_poolnd(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    return _max_poolnd(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_poolnd(
    nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    x, unbatched = _pool_input(input, nd, f"avg_pool{nd}d")
    geo, p, out_hw = _pool_geometry(x._data.shape, nd, kernel_size, stride, padding, 1, ceil_mode)
    n, c, h, w = x._data.shape
    # average = a depthwise convolution with a constant kernel, divided by each window's count
    ones = np.ones((c, 1, *geo.k), dtype=x._data.dtype)
    geo.groups = c
    summed = Conv.apply(x, _make(ones), geo=geo)
    if divisor_override:
        return _pool_output(summed / divisor_override, nd, unbatched)
    mask = np.zeros((1, 1, h + 2 * p[0], w + 2 * p[1]), dtype=x._data.dtype)
    if count_include_pad:
        mask[:] = 1
    else:
        mask[:, :, p[0] : p[0] + h, p[1] : p[1] + w] = 1
    count_geo = _Geometry(
        geo.k, geo.stride, ((0, geo.pad[0][1] - p[0]), (0, geo.pad[1][1] - p[1])), geo.dilation, 1
    )
    counts = _conv(mask, np.ones((1, 1, *geo.k), dtype=mask.dtype), count_geo)
    return _pool_output(summed / _make(counts), nd, unbatched)


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    return _avg_poolnd(
        2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def avg_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    return _avg_poolnd(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def _adaptive_matrix(n_in: int, n_out: int, dtype: np.dtype) -> np.ndarray:
    """Row i averages input positions floor(i*n/o) .. ceil((i+1)*n/o) (torch's windows)."""
    m = np.zeros((n_out, n_in), dtype=dtype)
    for i in range(n_out):
        lo, hi = (i * n_in) // n_out, math.ceil((i + 1) * n_in / n_out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


class AdaptiveAvgPool(Op):
    """out = Ph · x · Pwᵀ over the last two dims, with constant averaging matrices."""

    linear = True

    save_inputs = False
    torch_name = "AdaptiveAvgPool2DBackward0"

    def forward(self, x, ph, pw):
        self.ph, self.pw = ph, pw
        return ph @ x @ pw.T

    def backward(self, g):
        return AdaptiveAvgPool.apply(g, ph=self.ph.T, pw=self.pw.T)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    x, unbatched = _batched(input, 2, "adaptive_avg_pool2d")
    h, w = x._data.shape[2:]
    oh, ow = _pair(output_size, 2, "output_size") if output_size is not None else (h, w)
    oh, ow = oh or h, ow or w
    dt = x._data.dtype
    out = AdaptiveAvgPool.apply(x, ph=_adaptive_matrix(h, oh, dt), pw=_adaptive_matrix(w, ow, dt))
    return out.reshape(*out._data.shape[1:]) if unbatched else out


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    x, unbatched = _batched(input, 1, "adaptive_avg_pool1d")
    length = x._data.shape[-1]
    (o,) = _pair(output_size, 1, "output_size")
    dt = x._data.dtype
    x4 = x.reshape(*x._data.shape[:2], 1, length)
    out = AdaptiveAvgPool.apply(x4, ph=np.ones((1, 1), dt), pw=_adaptive_matrix(length, o, dt))
    out = out.reshape(*out._data.shape[:2], o)
    return out.reshape(*out._data.shape[1:]) if unbatched else out
