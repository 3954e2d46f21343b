"""Linear algebra (a sub-package): products, einsum, decomp (inv, det ...), norms, compose.

``chainrule.linalg`` (src/chainrule/linalg.py) exposes decomp's functions under torch.linalg's
names; the top-level names here are torch's (matmul, mm, bmm, dot, det, inverse, slogdet ...).
"""

from __future__ import annotations

from chainrule.ops.linalg import compose, decomp, products
from chainrule.ops.linalg.compose import inner, kron, matrix_power, tensordot
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

__all__ = [*products.__all__, *decomp.__all__, *compose.__all__]

TENSOR_METHODS: dict = {
    **products.TENSOR_METHODS, **decomp.TENSOR_METHODS, **compose.TENSOR_METHODS,
}  # fmt: skip

_ = (
    inner,
    kron,
    matrix_power,
    tensordot,
    det,
    inverse,
    logdet,
    slogdet,
    bmm,
    diagonal,
    dot,
    einsum,
    matmul,
    mm,
    mv,
    outer,
    trace,
)
