"""Convolution and pooling over 1-D and 2-D signals, vectorised with im2col + matmul, in
three files: geometry.py (geometry, argument checks, im2col kernels), convolution.py
(Conv, ConvTranspose, ConvWeight; conv1d/2d, conv_transpose1d/2d) and pooling.py
(max_pool, avg_pool, adaptive_avg_pool)."""

from __future__ import annotations

from chainrule.ops.conv.convolution import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from chainrule.ops.conv.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)

__all__ = [
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
]  # fmt: skip
