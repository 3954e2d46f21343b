"""unfold (im2col) and fold (col2im): compositions of a grouped conv2d / conv_transpose2d
with a one-hot weight, so both are differentiable to any order by the conv ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule.ops.conv.convolution import conv2d, conv_transpose2d


def _pair(v: Any) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, tuple | list) else (int(v), int(v))


def _picker(c: int, k: tuple[int, int], dtype: np.dtype) -> Tensor:
    """Weight (c * kh * kw, 1, kh, kw): output channel c * kh * kw + i * kw + j reads
    position (i, j) of input channel c."""
    kk = k[0] * k[1]
    w = np.eye(kk, dtype=dtype).reshape(kk, 1, *k)
    return _make(np.tile(w, (c, 1, 1, 1)))


@op(namespace="nn.functional", method=False)
def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Tensor:  # fmt: skip
    """Sliding blocks of (N, C, H, W) as columns: (N, C * kh * kw, L)."""
    x = input._data
    if x.ndim == 2:  # torch reads dim 2 before checking
        raise IndexError("Dimension out of range (expected to be in range of [-2, 1], but got 2)")
    if x.ndim not in (3, 4):
        raise NotImplementedError(
            f"Input Error: Only 3D or 4D input Tensors are supported (got {x.ndim}D)"
        )
    k, d, p, s = _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride)
    h, w = x.shape[-2:]
    blocks = [(n + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i, n in enumerate((h, w))]
    if min(blocks) < 1:
        raise RuntimeError(
            f"Given input with spatial size ({h}, {w}), kernel_size={k}, dilation={d}, "
            f"padding={p}, calculated shape of the array of sliding blocks as "
            f"({blocks[0]}, {blocks[1]}), but its components must be at least one."
        )
    c = x.shape[-3]
    cols = conv2d(input, _picker(c, k, x.dtype), None, s, p, d, c)
    return cols.reshape(*cols._data.shape[:-2], -1)


@op(namespace="nn.functional", method=False)
def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Tensor:  # fmt: skip
    """The adjoint of unfold: columns (N, C * kh * kw, L) summed back into (N, C, H, W)."""
    x = input._data
    if x.ndim not in (2, 3):
        raise NotImplementedError(
            f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
            f"(got {x.ndim}D)"
        )
    o, k = _pair(output_size), _pair(kernel_size)
    d, p, s = _pair(dilation), _pair(padding), _pair(stride)
    kk = k[0] * k[1]
    if x.shape[-2] % kk:
        raise RuntimeError(
            "Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
            f"but got input.size(1)={x.shape[-2]} and kernel_size={k}."
        )
    blocks = [(o[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    if blocks[0] * blocks[1] != x.shape[-1]:
        raise RuntimeError(
            f"Given output_size={o}, kernel_size={k}, dilation={d}, padding={p}, stride={s}, "
            "expected size of input's dimension 2 to match the calculated number of sliding "
            f"blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got "
            f"input.size(2)={x.shape[-1]}."
        )
    c = x.shape[-2] // kk
    grid = input.reshape(*x.shape[:-1], *blocks)
    base = [(blocks[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + 1 for i in range(2)]
    extra = (o[0] - base[0], o[1] - base[1])
    return conv_transpose2d(grid, _picker(c, k, x.dtype), None, s, p, extra, c, d)
