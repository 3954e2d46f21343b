"""Composite products: tensordot, inner, kron, bilinear, vecdot, multi_dot (chain_matmul)
and matrix_power."""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any

from chainrule._registry import op
from chainrule._tensor import Tensor, wrap_dim
from chainrule.amp.autocast_mode import autocast_policy
from chainrule.creation import eye
from chainrule.dtypes import c_type_name
from chainrule.ops.linalg.decomp import _square, inv
from chainrule.ops.linalg.products import matmul, mm


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


@op(namespace=("", "nn.functional"), method=False)
@autocast_policy("off")
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y_o = x1ᵀ W_o x2 + b_o``: a composition (one matmul, one product, one sum)."""
    a, b, w = input1._data, input2._data, weight._data
    if not (a.dtype == b.dtype == w.dtype and (bias is None or bias._data.dtype == a.dtype)):
        got = f"input1: {c_type_name(input1)}, input2: {c_type_name(input2)}, weight: "
        got += c_type_name(weight) + ("" if bias is None else f", bias: {c_type_name(bias)}")
        raise RuntimeError(f"All tensors must have the same dtype, got {got}")
    if a.ndim != b.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {a.ndim} and {b.ndim}")
    for i in range(a.ndim - 1):
        if a.shape[i] != b.shape[i]:
            raise RuntimeError(
                f"bilinear(): input batch dimensions do not match at dim {i}: got {a.shape[i]} and "
                f"{b.shape[i]}"
            )
    if a.shape[-1] != w.shape[1]:
        raise RuntimeError(
            f"bilinear(): input1 size does not match weight size: got {a.shape[-1]} but "
            f"expected {w.shape[1]}"
        )
    if b.shape[-1] != w.shape[2]:
        raise RuntimeError(
            f"bilinear(): input2 size does not match weight size: got {b.shape[-1]} but "
            f"expected {w.shape[2]}"
        )
    if bias is not None and bias._data.shape[0] != w.shape[0]:
        raise RuntimeError(
            f"bilinear(): bias size does not match weight size: got {bias._data.shape[0]} but "
            f"expected {w.shape[0]}"
        )
    o, i, j = w.shape
    lead = a.shape[:-1]
    x1 = input1.reshape(-1, i)
    x2 = input2.reshape(-1, 1, j)
    t = matmul(x1, weight.permute(1, 0, 2).reshape(i, o * j)).reshape(-1, o, j)
    out = (t * x2).sum(-1).reshape(*lead, o)
    return out if bias is None else out + bias


@op(namespace="linalg", method=False)
@autocast_policy("lower_precision_fp")
def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """Dot products of vectors along ``dim`` (broadcasting the others)."""
    return (x * y).sum(dim)


def _chain_order(sizes: list[int]) -> list[list[int]]:
    """torch's matrix_chain_order: the split of each sub-chain that costs the fewest scalar
    multiplications (CLRS's dynamic program; ties keep the first split)."""
    n = len(sizes) - 1
    m = [[0] * n for _ in range(n)]
    s = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            m[i][j] = sys.maxsize
            for k in range(i, j):
                q = m[i][k] + m[k + 1][j] + sizes[i] * sizes[k + 1] * sizes[j + 1]
                if q < m[i][j]:
                    m[i][j], s[i][j] = q, k
    return s


def _chain(ts: list[Tensor], order: list[list[int]], i: int, j: int) -> Tensor:
    if i == j:
        return ts[i]
    k = order[i][j]
    return mm(_chain(ts, order, i, k), _chain(ts, order, k + 1, j))


@op(namespace="linalg", method=False)
@autocast_policy("lower_precision_fp")
def multi_dot(tensors: Any) -> Tensor:
    """A chain of matrix products in the cheapest order (torch's); the first and last may be
    vectors."""
    given = list(tensors)
    n = len(given)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    ts = list(given)
    out_shape: list[int] = []
    first, last = given[0]._data.ndim, given[-1]._data.ndim
    if first == 1:
        ts[0] = given[0].unsqueeze(0)
    elif first == 2:
        out_shape.append(given[0]._data.shape[0])
    else:
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {first}D")
    if last == 1:
        ts[-1] = given[-1].unsqueeze(-1)
    elif last == 2:
        out_shape.append(given[-1]._data.shape[1])
    else:
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last}D")
    for i, t in enumerate(given[1:-1], 1):
        if t._data.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t._data.ndim}D")
    dtype = ts[0]._data.dtype
    for i in range(1, n):
        if ts[i]._data.dtype != dtype:
            raise RuntimeError(
                "multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                f"{c_type_name(dtype)} and tensor {i} {c_type_name(ts[i]._data.dtype)}"
            )
        if ts[i - 1]._data.shape[-1] != ts[i]._data.shape[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {i - 1} and {i} with shapes "
                f"{list(given[i - 1]._data.shape)} and {list(given[i]._data.shape)} cannot be "
                "multiplied"
            )
    if n == 2:
        result = mm(ts[0], ts[1])
    elif n == 3:  # (a x b), (b x c), (c x d): the cheaper of the two orders
        a, b = ts[0]._data.shape
        c, d = ts[2]._data.shape
        if (a * c) * (b + d) > (b * d) * (a + c):
            result = mm(ts[0], mm(ts[1], ts[2]))
        else:
            result = mm(mm(ts[0], ts[1]), ts[2])
    else:
        sizes = [t._data.shape[0] for t in ts] + [ts[-1]._data.shape[1]]
        result = _chain(ts, _chain_order(sizes), 0, n - 1)
    return result.view(out_shape)


_chain_matmul_warned = [False]


@op(method=False)
def chain_matmul(*matrices: Tensor) -> Tensor:
    """The product of 2-D ``matrices`` (deprecated: ``linalg.multi_dot`` takes a list), with
    torch's once-per-process deprecation warning."""
    if not _chain_matmul_warned[0]:
        _chain_matmul_warned[0] = True
        warnings.warn(
            "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. "
            "Use torch.linalg.multi_dot instead, which accepts a list of two or more tensors "
            "rather than multiple parameters.",
            UserWarning,
            stacklevel=2,
        )
    for i, m in enumerate(matrices):
        if not isinstance(m, Tensor):
            raise TypeError(
                f"expected Tensor as element {i} in argument 0, but got {type(m).__name__}"
            )
        if m._data.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m._data.ndim}, expected 2 instead.")
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    if len(matrices) == 1:
        return matrices[0].clone()
    return multi_dot(matrices)


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
