"""linalg's norms: vector_norm, matrix_norm ('fro', 'nuc', 1, -1, 2, -2, inf, -inf) and norm.

The vector norm is reduce's primitive (shared with torch.norm); matrix norms are compositions
(abs, sum, amax/amin, svdvals) as in torch, so their grad_fn names match torch's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule.dtypes import REDUCED, kind_of, scalar_type_name
from chainrule.ops.elementwise.select import nan_to_num, where
from chainrule.ops.linalg.decomp import inv, svdvals
from chainrule.ops.reduce.extrema import amax, amin
from chainrule.ops.reduce.stats import Norm, check_matrix_norm_args, norm_axes
from chainrule.ops.reduce.sums import sum as sum_

__all__: list = []


def _float_input(name: str, x: Tensor, dtype: Any) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if kind_of(x._data.dtype) not in "fc":
        raise RuntimeError(
            f"linalg.{name}: Expected a floating point or complex tensor as input. "
            f"Got {scalar_type_name(x._data)}"
        )
    return x


@op(namespace="linalg", method=False)
def vector_norm(
    input: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """The ``ord``-norm of ``input`` as a vector over ``dim`` (all if None)."""
    x = _float_input("vector_norm", input, dtype)
    p = float(ord)
    return Norm.apply(x, axes=norm_axes(x, p, dim), keepdim=keepdim, p=p)


@op(namespace="linalg", method=False)
def matrix_norm(
    input: Tensor,
    ord: Any = "fro",
    dim: Any = (-2, -1),
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """'fro', 1, -1, inf or -inf norm of the matrices in the ``dim`` planes of ``input``."""
    A = input  # torch's docs call it A; its binding takes ``input=``
    check_matrix_norm_args(A, dim)
    A = _float_input("matrix_norm", A, dtype)
    n = A._data.ndim
    d0, d1 = wrap_dim(dim[0], n), wrap_dim(dim[1], n)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        if A._data.dtype in REDUCED:
            raise RuntimeError(
                f"linalg.matrix_norm: Low precision dtypes not supported. Got {scalar_type_name(A)}"
            )
        s = svdvals(A.movedim((d0, d1), (-2, -1)))
        out = (sum_ if ord == "nuc" else amax if ord == 2 else amin)(s, -1)
        if keepdim:
            for d in sorted((d0, d1)):
                out = out.unsqueeze(d)
        return out
    if ord not in (1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if abs(ord) == math.inf:
        d0, d1 = d1, d0
    s = A.abs().sum(d0, keepdim=keepdim)
    d1 = d1 - 1 if not keepdim and d1 > d0 else d1
    return (amax if ord > 0 else amin)(s, d1, keepdim)


@op(namespace="linalg", method=False)
def norm(
    input: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """torch.linalg.norm: a vector norm over one dim (or all), a matrix norm over two."""
    A = input  # torch's docs call it A; its binding takes ``input=``
    if dim is not None:
        dim = (dim,) if isinstance(dim, int | np.integer) else tuple(dim)
        if len(dim) not in (1, 2):
            raise RuntimeError(
                f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dim)}"
            )
    if isinstance(ord, str):
        return matrix_norm(A, ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if dim is None:
        if A._data.ndim not in (1, 2):
            raise RuntimeError(
                "linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                f"Got {A._data.ndim}D."
            )
        dim = tuple(range(A._data.ndim))
    if len(dim) == 1:
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, ord, dim, keepdim, dtype=dtype)


@op(namespace="linalg", method=False)
def cond(A: Tensor, p: Any = None) -> Tensor:
    """The condition number of each matrix in ``A`` for the norm ``p``: σ₁/σₙ (None, 2; -2:
    σₙ/σ₁, any shape) or ‖A‖ ‖A⁻¹‖ for a square A ('fro', 'nuc', 1, -1, inf, -inf; inf for
    a singular matrix)."""
    x = A._data
    if isinstance(p, str):
        if x.ndim < 2:
            raise RuntimeError(
                f"linalg.cond(ord={p}): The input tensor A must have at least 2 dimensions."
            )
        _cond_square(A, p)
        if p not in ("fro", "nuc"):
            raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    else:
        if x.ndim < 2:
            raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
        if p is not None and p not in (1, -1, 2, -2, math.inf, -math.inf):
            raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    if x.size == 0:
        dt = x.dtype if kind_of(x.dtype) in "fc" else np.dtype(np.float32)
        return _make(np.zeros(x.shape[:-2], np.finfo(dt).dtype))
    if p is None or p in (2, -2):
        s = svdvals(A)
        k = s._data.shape[-1]
        big, small = s.narrow(-1, 0, 1), s.narrow(-1, k - 1, 1)
        return (small / big if p == -2 else big / small).squeeze(-1)
    if p == "nuc":  # torch's: the norms from the singular values directly
        s = svdvals(A)
        return s.sum(-1) * s.reciprocal().sum(-1)
    if not isinstance(p, str):
        _cond_square(A, p)
    Ainv = _inv_or_inf(A)
    out = matrix_norm(A, p) * matrix_norm(Ainv, p)
    return nan_to_num(out, math.inf, math.inf, -math.inf)  # 0 * inf: inf, as NumPy


def _cond_square(A: Tensor, p: Any) -> None:
    x = A._data
    name = p if isinstance(p, str) else str(p) if isinstance(p, int) else f"{p:f}"
    if x.ndim < 2:
        raise RuntimeError(
            f"linalg.cond(ord={name}): The input tensor A must have at least 2 dimensions."
        )
    if x.shape[-1] != x.shape[-2]:
        raise RuntimeError(
            f"linalg.cond(ord={name}): A must be batches of square matrices, but they are "
            f"{x.shape[-2]} by {x.shape[-1]} matrices"
        )


def _inv_or_inf(A: Tensor) -> Tensor:
    """torch's linalg_inv_ex, then its singular matrices' inverses filled with inf in place:
    as in torch, that write makes the inverse's saved output stale, so a gradient through
    it raises "modified by an inplace operation"."""
    x = A._data
    singular = np.zeros(x.shape[:-2], bool)
    if kind_of(x.dtype) in "fc" and x.dtype not in REDUCED:
        flat = singular.reshape(-1)
        for i, a in enumerate(x.reshape(-1, *x.shape[-2:])):
            try:
                np.linalg.inv(a)
            except np.linalg.LinAlgError:
                flat[i] = True
    mask = _make(singular[..., None, None])
    if singular.any():
        A = where(mask, _make(np.eye(x.shape[-1], dtype=x.dtype)), A)
    return inv(A).masked_fill_(mask, math.inf)
