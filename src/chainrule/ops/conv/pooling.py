"""Pooling over 1-D and 2-D signals: max_pool (window argmax as torch picks it), avg_pool
(strided window sums) and adaptive_avg_pool (two averaging matrices)."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule.backend import K
from chainrule.backend.numpy_kernels import avg_windows
from chainrule.dtypes import kind_of
from chainrule.ops.conv.convolution import Conv
from chainrule.ops.conv.geometry import _batched, _Geometry, _pair
from chainrule.ops.op import Op
from chainrule.ops.reduce.sums import mean


def _pool_geometry(x_shape, nd, kernel_size, stride, padding, dilation, ceil_mode):
    """Geometry, padding and output size; cached on hashable arguments (the result is
    shared: never mutate it)."""
    try:
        return _pool_geometry_cached(x_shape, nd, kernel_size, stride, padding, dilation, ceil_mode)
    except TypeError:  # a list argument
        return _pool_geometry_uncached(
            x_shape, nd, kernel_size, stride, padding, dilation, ceil_mode
        )


def _pool_geometry_uncached(x_shape, nd, kernel_size, stride, padding, dilation, ceil_mode):
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


_pool_geometry_cached = functools.lru_cache(maxsize=256)(_pool_geometry_uncached)


class PoolScatter(Op):
    """Add each output gradient into the input position it came from (duplicates add up)."""

    jvp_rule = "linear"

    save_inputs = False

    def forward(self, g, index, x_shape, flat=None):
        self.index, self.flat = index, flat
        return K.max_pool2d_backward(g, index, x_shape)

    def backward(self, gg):
        return PoolGather.apply(gg, index=self.index, flat=self.flat)


def _flat_index(index: np.ndarray, plane: int) -> np.ndarray:
    """``index`` (positions within each H*W plane, (N, C, OH, OW)) as flat positions."""
    n, c = index.shape[:2]
    return np.arange(0, n * c * plane, plane).reshape(n, c, 1, 1) + index


class PoolGather(Op):
    """Pick one input position per output (max pooling): the gradient is scattered back.
    Max pooling passes the kernel's ``values`` (already picked), so the forward-mode rule
    is the double vjp, not "apply the op to the tangent" (which would return them again)."""

    jvp_rule = "vjp"

    torch_name = "MaxPool2DWithIndicesBackward0"  # saves its input, as torch

    def forward(self, x, index, flat=None, values=None, geo=None, out_hw=None):
        if index is None:  # max pooling: the kernel finds the argmax from x alone (traceable)
            values, index = K.max_pool2d(x, geo.k, geo.stride, geo.pad, geo.dilation, out_hw)
        self.index, self.flat, self.x_shape = index, flat, x.shape
        if values is not None:  # the max pooling kernel's own (the values at index)
            return values
        if flat is None:
            self.flat = flat = _flat_index(index, x.shape[2] * x.shape[3])
        return x.reshape(-1)[flat]

    def backward(self, g):
        return PoolScatter.apply(g, index=self.index, x_shape=self.x_shape, flat=self.flat)

    def jvp(self, tangents: list) -> Tensor | None:  # linear, with the argmax of x (not t's)
        t = tangents[0]
        return None if t is None else PoolGather.apply(t, index=self.index, flat=self.flat)


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
    if not return_indices:
        out = PoolGather.apply(x, index=None, geo=geo, out_hw=out_hw)
        return _pool_output(out, nd, unbatched)
    values, index = K.max_pool2d(x._data, geo.k, geo.stride, geo.pad, geo.dilation, out_hw)
    out = _pool_output(PoolGather.apply(x, index=index, values=values), nd, unbatched)
    return out, _make(index.reshape(out._data.shape).astype(np.int64))


@op(namespace="nn.functional", method=False)
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


@op(namespace="nn.functional", method=False)
def max_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """The maximum over sliding windows of ``(N, C, L)``; ``return_indices`` also returns
    where each maximum was.
    """
    return _max_poolnd(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


class AvgPool(Op):
    """The mean of each window (``K.avg_pool2d``: torch's divisor from the window, its
    padding, ``count_include_pad`` and ``divisor_override``)."""

    jvp_rule = "linear"
    torch_name = "AvgPool2DBackward0"  # saves its input, as torch

    def forward(self, x, window):  # window: kernel, stride, padding, out_hw, ... (K's)
        self.window, self.x_shape = window, x.shape
        return K.avg_pool2d(x, *window)

    def backward(self, g):
        return AvgPoolT.apply(g, x_shape=self.x_shape, window=self.window)


class AvgPoolT(Op):
    """The adjoint of ``AvgPool``: each output gradient, divided, spread over its window."""

    jvp_rule = "linear"
    save_inputs = False

    def forward(self, g, x_shape, window):
        self.window = window
        return K.avg_pool2d_backward(g, x_shape, *window)

    def backward(self, gg):
        return AvgPool.apply(gg, window=self.window)


@functools.lru_cache(maxsize=256)
def _counts(h, w, k, stride, p, count_include_pad, out_hw, dtype):
    """How many input positions each window averages (torch's divisor), (1, 1, OH, OW)."""
    div, _ = avg_windows((1, 1, h, w), k, stride, p, out_hw, count_include_pad, 0)
    counts = div.astype(dtype).reshape(1, 1, *out_hw)
    counts.flags.writeable = False
    return counts


def _avg_poolnd(
    nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    x, unbatched = _pool_input(input, nd, f"avg_pool{nd}d")
    geo, p, out_hw = _pool_geometry(x._data.shape, nd, kernel_size, stride, padding, 1, ceil_mode)
    n, c, h, w = x._data.shape
    dt = x._data.dtype
    if kind_of(dt) != "f" or not x._data.size:  # a depthwise convolution with a constant kernel
        conv_geo = _Geometry(geo.k, geo.stride, geo.pad, geo.dilation, c)
        summed = Conv.apply(x, _make(np.ones((c, 1, *geo.k), dtype=dt)), geo=conv_geo)
        div = divisor_override or _make(
            _counts(h, w, geo.k, geo.stride, p, count_include_pad, out_hw, dt)
        )
        return _pool_output(summed / div, nd, unbatched)
    window = (geo.k, geo.stride, p, out_hw, count_include_pad, divisor_override or 0)
    out = AvgPool.apply(x, window=window)
    return _pool_output(out, nd, unbatched)


@op(namespace="nn.functional", method=False)
def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean over sliding ``kernel_size`` windows of ``(N, C, H, W)``."""
    return _avg_poolnd(
        2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


@op(namespace=("", "nn.functional"), method=False)
def avg_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean over sliding windows of ``(N, C, L)``."""
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

    jvp_rule = "linear"

    torch_name = "AdaptiveAvgPool2DBackward0"  # saves its input, as torch

    def forward(self, x, ph, pw):
        self.ph, self.pw = ph, pw
        return ph @ x @ pw.T

    def backward(self, g):
        return AdaptiveAvgPool.apply(g, ph=self.ph.T, pw=self.pw.T)


@op(namespace="nn.functional", method=False)
def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of ``(N, C, H, W)`` to a fixed ``output_size`` (windows chosen to fit)."""
    x, unbatched = _batched(input, 2, "adaptive_avg_pool2d")
    h, w = x._data.shape[2:]
    oh, ow = _pair(output_size, 2, "output_size") if output_size is not None else (h, w)
    oh, ow = oh or h, ow or w
    if (oh, ow) == (1, 1) and x._data.size and kind_of(x._data.dtype) == "f":
        # torch's global pooling is a mean (MeanBackward1), which saves nothing
        return mean(input, (-2, -1), keepdim=True)
    dt = x._data.dtype
    out = AdaptiveAvgPool.apply(x, ph=_adaptive_matrix(h, oh, dt), pw=_adaptive_matrix(w, ow, dt))
    return out.reshape(*out._data.shape[1:]) if unbatched else out


@op(namespace=("", "nn.functional"), method=False)
def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of ``(N, C, L)`` to a fixed ``output_size`` (windows chosen to fit)."""
    x, unbatched = _batched(input, 1, "adaptive_avg_pool1d")
    length = x._data.shape[-1]
    (o,) = _pair(output_size, 1, "output_size")
    dt = x._data.dtype
    x4 = x.reshape(*x._data.shape[:2], 1, length)
    out = AdaptiveAvgPool.apply(x4, ph=np.ones((1, 1), dt), pw=_adaptive_matrix(length, o, dt))
    out = out.reshape(*out._data.shape[:2], o)
    return out.reshape(*out._data.shape[1:]) if unbatched else out


def _torch_max_pool(fn: Any, name: str) -> Any:
    """``torch.max_poolNd``: nn.functional's without ``return_indices``."""

    def pool(
        input: Tensor,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
    ) -> Tensor:
        return fn(input, kernel_size, stride, padding, dilation, ceil_mode)

    pool.__name__ = pool.__qualname__ = name
    pool.__doc__ = _torch_max_pool.__doc__
    return op(pool, method=False)


torch_max_pool1d = _torch_max_pool(max_pool1d, "max_pool1d")
torch_max_pool2d = _torch_max_pool(max_pool2d, "max_pool2d")
