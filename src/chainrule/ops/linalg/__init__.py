"""Linear algebra (a sub-package): products.py (matmul, mm, bmm, dot, outer, trace, diagonal),
einsum.py, and decomp.py (inv, det, slogdet, solve, norms; ``chainrule.linalg`` exposes them)."""

from __future__ import annotations

from chainrule.ops.linalg import decomp, products
from chainrule.ops.linalg.decomp import det, inverse, logdet, slogdet
from chainrule.ops.linalg.products import (
    bmm,
    diagonal,
    dot,
    einsum,
    matmul,
    mm,
    mv,
    outer,
    trace,
)  # fmt: skip

__all__ = [*products.__all__, *decomp.__all__]

TENSOR_METHODS: dict = {**products.TENSOR_METHODS, **decomp.TENSOR_METHODS}

_ = (det, inverse, logdet, slogdet, bmm, diagonal, dot, einsum, matmul, mm, mv, outer, trace)
