"""linalg's norms: vector_norm, matrix_norm ('fro', 'nuc', 1, -1, 2, -2, inf, -inf) and norm.

The vector norm is reduce's primitive (shared with torch.norm); matrix norms are compositions
(abs, sum, amax/amin, svdvals) as in torch, so their grad_fn names match torch's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, wrap_dim
from chainrule.dtypes import REDUCED, kind_of, scalar_type_name
from chainrule.ops.linalg.decomp import svdvals
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
