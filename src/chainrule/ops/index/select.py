"""Whole-slice and flat index ops: index_select, index_add, take, take_along_dim
(out-of-place; torch's checks and messages). The helpers are gather.py's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, wrap_dim
from chainrule.dtypes import scalar_type_name
from chainrule.ops.index.core import Index, IndexPutAdd, add_at, infer_size
from chainrule.ops.index.gather import (
    _INT_INDEX,
    Gather,
    _check_range,
    _data,
    _grid,
    gather,
)
from chainrule.ops.op import Op, expand

# --------------------------------------------------------------------------- index_select


class IndexSelect(Index):
    """Whole slices along ``dim`` at a vector of indices (np.take)."""

    torch_name = "IndexSelectBackward0"

    def forward(self, x, key, unique=False, dim=0):
        self.key, self.unique, self.in_shape = key, unique, x.shape
        return np.take(x, key[dim], axis=dim)


@op
def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``input`` along ``dim`` at the indices of a vector (or 0-d) index."""
    x, idx = input._data, _data(index)
    d = wrap_dim(dim, x.ndim)
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if idx.dtype not in _INT_INDEX:
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    n = x.shape[d] if x.ndim else 1
    if not x.ndim and idx.size != 1:
        raise RuntimeError(
            f"index_select(): Index to scalar can have only 1 value, got {idx.size} value(s)"
        )
    if idx.size and idx.min() < 0:  # np.take would wrap; too large ones make it raise
        _select_range(idx, n)
    if not x.ndim:
        return IndexSelect.apply(input.reshape(1), key=(idx.reshape(-1),)).reshape(())
    key = (slice(None),) * d + (idx.reshape(-1),)
    try:
        return IndexSelect.apply(input, key=key, dim=d)
    except IndexError:
        _select_range(idx, n)
        raise


def _select_range(idx: np.ndarray, n: int) -> None:
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)].flat[0]
        raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} axis_dim={n}")


class IndexAdd(Op):
    """``out = x`` with ``alpha * source`` slices added at the indices along ``dim``."""

    save_inputs = False

    def forward(self, x, src, key, alpha):
        self.key, self.alpha, self.dim = key, alpha, len(key) - 1
        out = x.copy()
        add_at(out, key, src if alpha == 1 else src * alpha)
        return out

    def backward(self, g):
        gsrc = None
        if self.needs(1):
            gsrc = IndexSelect.apply(g, key=self.key, dim=self.dim)
            if self.alpha != 1:
                gsrc = gsrc * self.alpha
        return g if self.needs(0) else None, gsrc


@op(inplace=True)
def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """Out-of-place ``index_add_``: ``alpha * source`` added at ``index`` along ``dim``;
    repeated indices accumulate."""
    x, idx, s = input._data, _data(index), source._data
    d = wrap_dim(dim, x.ndim)
    if idx.ndim > 1:
        raise IndexError(
            f"index_add_(): Index is supposed to be a vector, but got dim: {idx.ndim} with type: "
            f"{scalar_type_name(idx)} and size: {list(idx.shape)}"
        )
    if idx.dtype not in _INT_INDEX:
        raise RuntimeError(
            f"index_add_(): Expected dtype int32/int64 for index but got: {scalar_type_name(idx)}"
        )
    if s.dtype != x.dtype:
        raise RuntimeError(
            f"index_add_(): self ({scalar_type_name(x)}) and source ({scalar_type_name(s)}) "
            "must have the same scalar type"
        )
    if s.ndim and d >= s.ndim:
        raise RuntimeError(
            f"index_add_(): Indexing dim {d} is out of bounds of the source tensor with dim "
            f"{s.ndim}"
        )
    ns = s.shape[d] if s.ndim else 1
    if idx.size != ns:
        raise RuntimeError(
            f"index_add_(): Number of indices ({idx.size}) should be equal to source.size(dim): "
            f"({ns}), for dim: {d}"
        )
    if x.ndim != s.ndim or any(a != b for k, (a, b) in enumerate(zip(x.shape, s.shape)) if k != d):
        raise RuntimeError(
            "source tensor shape must match self tensor shape, excluding the specified "
            f"dimension. Got self.shape = {list(x.shape)} source.shape = {list(s.shape)}"
        )
    n = x.shape[d] if x.ndim else 1
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        if x.ndim <= 1 or idx.dtype == np.int32:
            raise IndexError("index out of range in self")
        _check_range(idx, d, n)
    if not x.ndim:
        return index_add(input.reshape(1), 0, idx.reshape(-1), source.reshape(1), alpha=alpha)[0]
    return IndexAdd.apply(input, source, key=(slice(None),) * d + (idx.reshape(-1),), alpha=alpha)


# --------------------------------------------------------------------------- take


class Take(Op):
    """``input.flatten()[index]``, negative indices counting from the end."""

    save_inputs = False

    def forward(self, x, index):
        self.index, self.in_shape = index, x.shape
        return x.reshape(-1)[index]

    def backward(self, g):
        n = int(np.prod(self.in_shape))
        return IndexPutAdd.apply(g, key=(self.index,), shape=(n,)).reshape(self.in_shape)


@op
def take(input: Tensor, index: Tensor) -> Tensor:
    """Elements of ``input`` read as 1-D at ``index``; the result has the index's shape."""
    x, idx = input._data, _data(index)
    if idx.dtype != np.int64:
        raise RuntimeError(
            f"take(): Expected a long tensor for index, but got {scalar_type_name(idx)}"
        )
    n = x.size
    if idx.size:
        if not n:
            raise IndexError("take(): tried to take from an empty tensor")
        if idx.min() < -n or idx.max() >= n:
            bad = idx[(idx < -n) | (idx >= n)].flat[0]
            raise IndexError(
                f"out of range: tried to access index {bad} on a tensor of {n} elements."
            )
    return Take.apply(input, idx)


@op
def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``gather`` after broadcasting ``input`` and ``indices`` on the other dims; with
    ``dim=None`` both are read as 1-D. Indices along ``dim`` wrap modulo its size (torch)."""
    x, idx = input._data, _data(indices)
    if dim is None:
        return gather(input.reshape(-1), 0, idx.reshape(-1))
    d = wrap_dim(dim, x.ndim)
    if idx.dtype != np.int64:
        raise RuntimeError(
            "torch.take_along_dim(): dtype of indices should be Long but got "
            f"{scalar_type_name(idx)}"
        )
    if x.ndim != idx.ndim:
        raise RuntimeError(
            "torch.take_along_dim(): input and indices should have the same number of "
            f"dimensions, but got {x.ndim} dimensions for input, and {idx.ndim} dimensions for "
            "indices"
        )
    xs, ids = list(x.shape), list(idx.shape)
    xs[d] = ids[d] = 1
    shape = infer_size(tuple(xs), tuple(ids))
    xs, ids = list(shape), list(shape)
    xs[d], ids[d] = x.shape[d], idx.shape[d]
    if x.shape[d]:
        idx = idx % x.shape[d]
    idx = np.broadcast_to(idx, ids)
    if x.ndim == 0:
        return gather(input, 0, idx)
    return Gather.apply(expand(input, tuple(xs)), key=_grid(idx, d))
