"""Composite products: tensordot, inner, kron, vecdot, multi_dot and matrix_power."""

from __future__ import annotations

import math
from typing import Any

from chainrule._registry import op
from chainrule._tensor import Tensor, wrap_dim
from chainrule.amp.autocast_mode import autocast_policy
from chainrule.creation import eye
from chainrule.ops.linalg.decomp import _square, inv
from chainrule.ops.linalg.products import matmul


@op(method=False)
@autocast_policy("lower_precision_fp")
def tensordot(a: Tensor, b: Tensor, dims: Any = 2) -> Tensor:
    """Contract ``a``'s dims ``dims[0]`` with ``b``'s ``dims[1]`` (or a's last ``dims`` with
    b's first ``dims``): one matmul between two permuted, flattened views."""
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(na - dims, na)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
        if len(da) != len(db):
            raise RuntimeError("both dimension lists should have same length")
        da, db = [wrap_dim(d, na) for d in da], [wrap_dim(d, nb) for d in db]
    sa, sb = a._data.shape, b._data.shape
    for x, y in zip(da, db):
        if sa[x] != sb[y]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {sa[x]} in dim {x} "
                f"and second has size {sb[y]} in dim {y}"
            )
    fa = [i for i in range(na) if i not in da]
    fb = [i for i in range(nb) if i not in db]
    k = math.prod(sa[i] for i in da)
    pa, pb = fa + da, db + fb
    A = a if pa == list(range(na)) else a.permute(pa)
    B = b if pb == list(range(nb)) else b.permute(pb)
    out = matmul(
        A.reshape(math.prod(sa[i] for i in fa), k), B.reshape(k, math.prod(sb[i] for i in fb))
    )
    return out.reshape([sa[i] for i in fa] + [sb[i] for i in fb])


@op
@autocast_policy("lower_precision_fp")
def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum of products over the last dims (a product when either is 0-d)."""
    if not input._data.ndim or not other._data.ndim:
        return input * other
    if input._data.shape[-1] != other._data.shape[-1]:
        raise RuntimeError(
            "inner() the last dimension must match on both input tensors but got shapes "
            f"{list(input._data.shape)} and {list(other._data.shape)}"
        )
    return tensordot(input, other, ([-1], [-1]))


@op
@autocast_policy("off")
def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product: blocks ``input[i, j] * other``."""
    n = max(input._data.ndim, other._data.ndim)
    sa = (1,) * (n - input._data.ndim) + input._data.shape
    sb = (1,) * (n - other._data.ndim) + other._data.shape
    a = input.reshape([v for s in sa for v in (s, 1)])
    b = other.reshape([v for s in sb for v in (1, s)])
    return (a * b).reshape([x * y for x, y in zip(sa, sb)])


@op(namespace="linalg", method=False)
@autocast_policy("lower_precision_fp")
def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """Dot products of vectors along ``dim`` (broadcasting the others)."""
    return (x * y).sum(dim)


@op(namespace="linalg", method=False)
@autocast_policy("lower_precision_fp")
def multi_dot(tensors: Any) -> Tensor:
    """A chain of matrix products; the first and last may be vectors."""
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    first, last = ts[0]._data.ndim, ts[-1]._data.ndim
    if first not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {first}D")
    if last not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last}D")
    for i, t in enumerate(ts[1:-1], 1):
        if t._data.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t._data.ndim}D")
    out = ts[0]
    for t in ts[1:]:
        out = matmul(out, t)
    return out


@op(namespace=("", "linalg"))
@autocast_policy("lower_precision_fp")
def matrix_power(input: Tensor, n: int) -> Tensor:
    """``input`` multiplied by itself ``n`` times (the inverse's powers if negative)."""
    _square("matrix_power", input, floating=n < 0)
    if n == 0:
        k = input._data.shape[-1]
        return input * 0 + eye(k, dtype=input.dtype)
    if n < 0:
        input, n = inv(input), -n
    result, base = None, input
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result.clone() if result is input else result
