"""Convolution and pooling over 1-D and 2-D signals, vectorised with im2col + matmul, in
three files: geometry.py (geometry, argument checks, im2col kernels), convolution.py
(Conv, ConvTranspose, ConvWeight; conv1d/2d, conv_transpose1d/2d) and pooling.py
(max_pool, avg_pool, adaptive_avg_pool)."""

from __future__ import annotations

from chainrule._registry import export_package
from chainrule.ops.conv import convolution, pooling  # noqa: F401  (each declares its ops)

__all__ = export_package(globals(), __name__)
