"""Convolution as three ops closed under differentiation, which gives every order of
derivative: ``y = Conv(x, w)``, its input-gradient ``ConvTranspose(gy, w)`` (also torch's
``conv_transpose2d``) and its weight-gradient ``ConvWeight(x, gy)``. Each one's backward is
written with the other two. 1-D calls run as 2-D with a height of 1, inside the ops, so
their nodes save the caller's tensors as torch's ``ConvolutionBackward0`` does."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, inplace_log
from chainrule.amp.autocast_mode import autocast_policy
from chainrule.dtypes import c_type_name, scalar_type_name
from chainrule.ops.conv.geometry import (
    _FLOAT,
    _batched,
    _conv,
    _conv_transpose,
    _conv_weight,
    _Geometry,
    _pair,
)
from chainrule.ops.op import Op, tied


def _h1(a):
    """An (N, C, L) array as (N, C, 1, L): a 1-D convolution is a 2-D one of height 1."""
    return a[:, :, None] if a.ndim == 3 else a


def _h1_shape(shape: tuple) -> tuple:
    return (*shape[:2], 1, *shape[2:]) if len(shape) == 3 else tuple(shape)


def _like(out, a):
    """``out`` (4-d) back in the rank of ``a`` (3-d for a 1-D convolution)."""
    return out[:, :, 0] if a.ndim == 3 else out


def _check_bias_dtype(input: Tensor, bias: Tensor | None) -> None:
    """torch's first check of a convolution (before any shape): the bias's dtype."""
    if bias is not None and bias._data.dtype != input._data.dtype:
        raise RuntimeError(
            f"Input type ({c_type_name(input)}) and bias type ({c_type_name(bias)}) should be "
            "the same"
        )


def _check_weight_dtype(input: Tensor, weight: Tensor) -> None:
    """The kernel's check, after every shape: the weight in the input's dtype."""
    if weight._data.dtype != input._data.dtype:
        raise RuntimeError(
            f"expected scalar type {scalar_type_name(input)} but found {scalar_type_name(weight)}"
        )


# the im2col columns a convolution keeps for its weight gradient, up to this many bytes
# (larger ones are made again at backward, as torch's kernels do)
KEEP_COLS = 1 << 25


def _keep_cols(node: Op, x: np.ndarray, cols: np.ndarray) -> None:
    """Keep ``cols`` on the node for backward, with what tells they are still x's columns."""
    node.cols = cols if cols.nbytes <= KEEP_COLS else None
    node.cols_of = (id(x), inplace_log.count)


def _kept_cols(node: Op, x: Tensor) -> np.ndarray | None:
    """The forward's columns if x's values cannot have changed since: no in-place write has
    run anywhere (a write through ``.data`` or a view counts; the version check covers x's
    own) and x holds the same array. Otherwise None: made again from x's values now."""
    cols = node.cols
    if cols is None or node.cols_of != (id(x._data), inplace_log.count):
        return None
    return cols


def _conv_grads(node: Op, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
    x, w = node.inputs[0], node.inputs[1]
    gx = ConvTranspose.apply(g, w, geo=node.geo, x_shape=x._data.shape) if node.needs(0) else None
    gw = (
        ConvWeight.apply(x, g, geo=node.geo, w_shape=w._data.shape, cols=_kept_cols(node, x))
        if node.needs(1)
        else None
    )
    return tied(gx, x), tied(gw, w)  # torch's node takes g, x and w for both


class Conv(Op):
    formula = "d conv(x, w) = conv_transpose(g, w), the correlation of x with g"
    jvp_rule = "multilinear"
    torch_name = "ConvolutionBackward0"

    def forward(self, x, w, geo):
        self.geo = geo
        out, cols = _conv(_h1(x), _h1(w), geo)
        _keep_cols(self, x, cols)
        return _like(out, x)

    def backward(self, g):
        return _conv_grads(self, g)


class ConvBias(Op):
    """``conv(x, w) + b`` in one node, as torch's ConvolutionBackward0: it saves x and w
    even when only b needs a gradient, is freed as one, and in float16/bfloat16 adds the
    bias before its one rounding (two ops would round twice)."""

    torch_name = "ConvolutionBackward0"
    saved_for = ((0, 1), (0, 1), (0, 1))  # x and w whatever needs a gradient; never b

    def forward(self, x, w, b, geo):  # the bias added in the pass that lays out the GEMM's result
        self.geo = geo
        out, cols = _conv(_h1(x), _h1(w), geo, b)
        _keep_cols(self, x, cols)
        return _like(out, x)

    def backward(self, g):
        x, w, _ = self.inputs
        gx, gw = _conv_grads(self, g)
        # torch's node takes x and w too: under create_graph the bias gradient requires grad
        # when they do (its derivative in them is zero)
        return gx, gw, tied(ConvBiasGrad.apply(g), x, w) if self.needs(2) else None


class ConvBiasGrad(Op):
    """The bias's gradient, Σ g over all dims but the channels."""

    torch_name = "CopyBackwards"
    save_inputs = False
    jvp_rule = "linear"

    def forward(self, g):
        self.shape = g.shape
        if g.ndim > 2 and g.dtype in _FLOAT and g.flags.c_contiguous and g.size:
            # each (sample, channel) plane's sum as one matrix-vector product (BLAS), then
            # the samples': ~2x faster than NumPy's reduction over the strided axes
            n, c = g.shape[:2]
            planes = g.reshape(n * c, -1)
            return (planes @ np.ones(planes.shape[1], g.dtype)).reshape(n, c).sum(0)
        return g.sum((0, *range(2, g.ndim)))

    def backward(self, gg):
        return gg.reshape(-1, *[1] * (len(self.shape) - 2)).expand(self.shape)


class ConvTranspose(Op):
    jvp_rule = "multilinear"
    torch_name = "ConvolutionBackward0"

    def forward(self, gy, w, geo, x_shape):
        self.geo = geo
        return _like(_conv_transpose(_h1(gy), _h1(w), geo, _h1_shape(x_shape)), gy)

    def backward(self, g):
        gy, w = self.inputs
        ggy = Conv.apply(g, w, geo=self.geo) if self.needs(0) else None
        gw = ConvWeight.apply(g, gy, geo=self.geo, w_shape=w._data.shape) if self.needs(1) else None
        return ggy, gw


class ConvWeight(Op):
    jvp_rule = "multilinear"
    torch_name = "ConvolutionBackwardBackward0"

    def forward(self, x, gy, geo, w_shape, cols=None):
        self.geo = geo
        return _like(_conv_weight(_h1(x), _h1(gy), geo, _h1_shape(w_shape), cols), x)

    def backward(self, g):
        x, gy = self.inputs
        gx = (
            ConvTranspose.apply(gy, g, geo=self.geo, x_shape=x._data.shape)
            if self.needs(0)
            else None
        )
        ggy = Conv.apply(x, g, geo=self.geo) if self.needs(1) else None
        return gx, ggy


def _convnd(nd, name, input, weight, bias, stride, padding, dilation, groups):
    x, unbatched = _batched(input, nd, name)
    _check_bias_dtype(input, bias)
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
    x4 = _h1_shape(x._data.shape)  # as torch's kernel sees it (a 1-D one as 2-D)
    if x4[0] and x4[1] and 0 in x4[2:]:
        raise RuntimeError(
            f"Only zero batch or zero channel inputs are supported, but got input shape: {list(x4)}"
        )
    k = _h1_shape(w._data.shape)[2:]  # a 1-D convolution runs as 2-D with height 1
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
    oh, ow = geo.out_size(*_h1_shape(x._data.shape)[2:])
    if oh <= 0 or ow <= 0:
        raise RuntimeError(f"Calculated output size: ({oh}x{ow}). Output size is too small")
    _check_weight_dtype(input, weight)
    if bias is not None:
        if bias._data.shape != (w._data.shape[0],):
            raise RuntimeError(
                f"Given weight of size {list(w._data.shape)}, expected bias to be 1-dimensional "
                f"with {w._data.shape[0]} elements, but got bias of size "
                f"{list(bias._data.shape)} instead"
            )
        out = ConvBias.apply(x, w, bias, geo=geo)
    else:
        out = Conv.apply(x, w, geo=geo)
    return out.reshape(*out._data.shape[1:]) if unbatched else out


@op(namespace=("", "nn.functional"), method=False)
@autocast_policy("lower_precision_fp")
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


@op(namespace=("", "nn.functional"), method=False)
@autocast_policy("lower_precision_fp")
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
    s, d = _pair(stride, nd, "stride"), _pair(dilation, nd, "dilation")
    p, op = _pair(padding, nd, "padding"), _pair(output_padding, nd, "output_padding")
    if nd == 1:
        s, d, p, op = (1, *s), (1, *d), (0, *p), (0, *op)
    k = _h1_shape(w._data.shape)[2:]  # a 1-D convolution runs as 2-D with height 1
    n, _, h, wd = _h1_shape(x._data.shape)
    out_hw = [
        (hw - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i, hw in enumerate((h, wd))
    ]
    c_out = w._data.shape[1] * groups
    geo = _Geometry(k, s, ((p[0], p[0]), (p[1], p[1])), d, groups)
    _check_weight_dtype(input, weight)
    out = ConvTranspose.apply(x, w, geo=geo, x_shape=(n, c_out, *out_hw[2 - nd :]))
    if bias is not None:
        if bias._data.dtype != out._data.dtype:  # torch adds it into the input's dtype
            bias = bias.to(out.dtype)
        out = out + bias.reshape(-1, *([1] * nd))
    return out.reshape(*out._data.shape[1:]) if unbatched else out


@op(namespace=("", "nn.functional"), method=False)
@autocast_policy("lower_precision_fp")
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


@op(namespace=("", "nn.functional"), method=False)
@autocast_policy("lower_precision_fp")
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
    """1-D transposed convolution (the gradient of ``conv1d`` with respect to its input)
    of ``(N, C_in, L)`` with ``weight`` ``(C_in, C_out / groups, k)``.
    """
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
