"""``chainrule.linalg``: torch.linalg's names (inv, det, slogdet, solve, norm, ...)."""

from __future__ import annotations

from chainrule._tensor import Tensor
from chainrule.ops.linalg import products
from chainrule.ops.linalg.compose import matrix_power, multi_dot, vecdot
from chainrule.ops.linalg.decomp import LinAlgError, det, inv, solve, svdvals
from chainrule.ops.linalg.decomp import linalg_slogdet as slogdet
from chainrule.ops.linalg.norms import matrix_norm, norm, vector_norm
from chainrule.ops.linalg.products import matmul

__all__ = [
    "LinAlgError", "inv", "det", "slogdet", "solve", "norm", "vector_norm", "matrix_norm",
    "matmul", "diagonal", "svdvals", "vecdot", "multi_dot", "matrix_power",
]  # fmt: skip


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The diagonals of a batch of matrices (the last two dims by default)."""
    return products.diagonal(A, offset, dim1, dim2)


_ = (
    matrix_power,
    multi_dot,
    vecdot,
    LinAlgError,
    det,
    inv,
    matrix_norm,
    norm,
    solve,
    svdvals,
    vector_norm,
    slogdet,
    matmul,
)
