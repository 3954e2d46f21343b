"""Whole-slice and flat index ops: index_select, index_add, index_copy, take, take_along_dim,
put (out-of-place; torch's checks and messages). The helpers are gather.py's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, wrap_dim
from chainrule.dtypes import kind_of, np_finfo, scalar_type_name
from chainrule.ops.index.core import Index, IndexPutAdd, add_at, infer_size
from chainrule.ops.index.gather import (
    _INT_INDEX,
    Gather,
    _check_range,
    _data,
    _grid,
    _save_if_src,
    gather,
)
from chainrule.ops.index.mask import IndexFill
from chainrule.ops.op import Op, expand, save_index
from chainrule.ops.strided import scratch_windows

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
        out = IndexSelect.apply(input.reshape(1), key=(idx.reshape(-1),))
        return save_index(out, index).reshape(())
    key = (slice(None),) * d + (idx.reshape(-1),)
    try:
        return save_index(IndexSelect.apply(input, key=key, dim=d), index)
    except IndexError:
        _select_range(idx, n)
        raise


def _select_range(idx: np.ndarray, n: int) -> None:
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)].flat[0]
        raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} axis_dim={n}")


class IndexAdd(Op):
    """``out = x`` with ``alpha * source`` slices added at the indices along ``dim``."""

    saved_for = ((), (1,))  # torch saves the source for its own gradient (expand_as(source))

    def forward(self, x, src, key, alpha):
        self.key, self.alpha, self.dim = key, alpha, len(key) - 1
        out = x.copy()
        if out.size:  # an empty self is left unchecked (torch's kernel returns early)
            add_at(out, key, src if alpha == 1 else src * alpha)
        return out

    def backward(self, g):
        gsrc = None
        if self.needs(1):
            idx, shape = self.key[-1], g._data.shape
            if idx.size and not g._data.size:  # forward did not check an empty self
                if not shape[self.dim]:
                    raise RuntimeError("index_select(): self indexing axis dim should be positive")
                _select_range(idx, shape[self.dim])
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
    if not s.ndim and idx.size != 1:  # torch asks a 0-d source for its size(dim)
        raise IndexError(f"Dimension specified as {d} but tensor has no dimensions")
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
    if idx.size and (x.ndim <= 1 or x.size) and (idx.min() < 0 or idx.max() >= n):
        # torch's CPU kernel: an empty self (2-D and up) is not checked; scatter_add's
        # message where it goes through scatter_add, "in self" otherwise
        if not _via_scatter_add(x, idx, d, alpha):
            raise IndexError("index out of range in self")
        _check_range(idx, d, n)
    alpha = _alpha(alpha, x.dtype)
    if not x.ndim:
        i1 = index.reshape(-1) if isinstance(index, Tensor) else idx.reshape(-1)
        return index_add(input.reshape(1), 0, i1, source.reshape(1), alpha=alpha)[0]
    out = IndexAdd.apply(input, source, key=(slice(None),) * d + (idx.reshape(-1),), alpha=alpha)
    return _save_if_src(out, index)


def _via_scatter_add(x: np.ndarray, idx: np.ndarray, d: int, alpha: Any) -> bool:
    """Does torch's CPU index_add_ run scatter_add (its index message, its element order)?
    For an int64 index on the first or last dim of a 2-D or larger self, with alpha 1."""
    return x.ndim > 1 and idx.dtype == np.int64 and d in (0, x.ndim - 1) and alpha == 1


def index_add_aliased(
    input: Tensor, out: Tensor, dim: int, index: Any, source: Tensor, *, alpha: Any = 1
) -> None:
    """``input.index_add_(dim, index, source)`` where ``source`` shares input's memory (a
    view of the same tensor that torch's overlap check cannot judge, as a column of it):
    torch's CPU kernel adds one source slice at a time into that memory, so a slice read
    after earlier ones were added sees them. ``out`` (what adding a copy of the source
    gives; its node saved nothing of it) gets the value that order leaves, worked out on
    a scratch copy of the memory both are windows on (``write`` then writes it)."""
    x, s = input._data, source._data
    if not (x.ndim and x.size and isinstance(source, Tensor) and np.may_share_memory(x, s)):
        return
    d, idx = wrap_dim(dim, x.ndim), _data(index).reshape(-1)
    by_element = _via_scatter_add(x, idx, d, alpha)
    np.copyto(out._data, _through_memory(x, s, d, idx, _alpha(alpha, x.dtype), by_element))


def _through_memory(
    x: np.ndarray, src: np.ndarray, d: int, idx: np.ndarray, alpha: Any, by_element: bool
) -> np.ndarray:
    """The sums on a scratch copy of the memory, one element at a time, in torch's order:
    each source slice in turn, its elements in iterator order (the dim of least stride
    fastest), or on scatter_add's path each of those positions in turn, with its ``i`` in
    order."""
    xs, ss = scratch_windows((x, src), x.dtype)
    ss[...], xs[...] = src, x
    outer = sorted((k for k in range(x.ndim) if k != d), key=lambda k: -abs(x.strides[k]))
    positions = list(np.ndindex(*(x.shape[k] for k in outer)))
    pairs = list(enumerate(idx.tolist()))
    order = (
        [(p, ij) for p in positions for ij in pairs]
        if by_element
        else [(p, ij) for ij in pairs for p in positions]
    )
    for pos, (i, j) in order:
        at = dict(zip(outer, pos))
        at[d] = j
        target = tuple(at[k] for k in range(x.ndim))
        at[d] = i
        xs[target] += ss[tuple(at[k] for k in range(x.ndim))] * alpha
    return xs.copy()


_CONVERT_NAMES = {"int64": "int64_t", "int32": "int", "int16": "int16_t", "int8": "int8_t",
                  "uint8": "uint8_t", "float16": "c10::Half", "float32": "float",
                  "float64": "double"}  # fmt: skip


def _alpha(alpha: Any, dt: np.dtype) -> Any:
    """``alpha`` as torch's kernel reads it for a ``dt`` tensor (``Scalar::to<scalar_t>``, a
    checked conversion): truncated toward zero for integers, "value cannot be converted"
    where it does not fit (unsigned types take negative integers, which wrap)."""
    if kind_of(dt) == "b":
        return np.bool_(alpha)
    if kind_of(dt) == "c":
        return alpha
    if isinstance(alpha, complex | np.complexfloating):
        bad = bool(alpha.imag)
        alpha = alpha.real
    else:
        bad = False
    if kind_of(dt) in "iu":
        info = np.iinfo(dt)
        if isinstance(alpha, bool | np.bool_):
            alpha = int(alpha)
        if isinstance(alpha, int | np.integer):
            a = int(alpha)
            bad = bad or a > info.max or (a < -info.max if kind_of(dt) == "u" else a < info.min)
        else:
            bad = bad or not (info.min <= alpha <= info.max)
        if not bad:
            alpha = np.array(int(alpha)).astype(dt)[()]
    elif np.isfinite(alpha) and abs(alpha) > np_finfo(dt).max:
        bad = True
    if bad:
        name = _CONVERT_NAMES.get(dt.name, dt.name)
        raise RuntimeError(f"value cannot be converted to type {name} without overflow")
    return alpha


# --------------------------------------------------------------------------- index_copy


class IndexCopy(Op):
    """``out = x`` with the slices of ``source`` copied in at the indices along ``dim``
    (both at least 1-d inside: ``shape``/``src_shape``); torch's gradients: ``x`` gets the
    upstream gradient with the copied slices zeroed (index_fill), ``source`` the slices at
    the indices (index_select, so a repeated index gives each copy its gradient)."""

    torch_name = "IndexCopyBackward0"
    saved_for = ((), (1,))  # torch saves the source (for its dim) when it needs a gradient

    def forward(self, x, src, key, shape, src_shape):
        self.key, self.x_shape, self.s_shape, self.shape = key, x.shape, src.shape, shape
        self.dim = len(key) - 1
        out = x.reshape(shape).copy()
        out[key] = src.reshape(src_shape)
        mask = np.zeros(shape, bool)
        mask[key] = True
        self.mask = mask.reshape(x.shape)
        return out.reshape(x.shape)

    def backward(self, g):
        gx = gs = None
        if self.needs(0):
            zero = g._data.dtype.type(0)
            gx = IndexFill.apply(g, zero, mask=self.mask, tensor_value=False)
        if self.needs(1):
            gr = g if g._data.shape == self.shape else g.reshape(self.shape)
            gs = IndexSelect.apply(gr, key=self.key, dim=self.dim)
            if gs._data.shape != self.s_shape:
                gs = gs.reshape(self.s_shape)
        return gx, gs


@op(inplace=True)
def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """Out-of-place ``index_copy_``: the slices of ``source`` along ``dim`` copied into
    ``input`` at the indices of a vector (or 0-d) long ``index``."""
    x, idx, s = input._data, _data(index), _data(source)
    d = wrap_dim(dim, x.ndim)
    if idx.ndim > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {idx.ndim})")
    n = idx.size
    if not s.ndim and n != 1:
        raise IndexError(
            f"index_copy_(): When source is scalar, index should have one element (got {n})"
        )
    if s.ndim != x.ndim and s.ndim and x.ndim:
        raise IndexError(
            "index_copy_(): When source and destination are not scalars, their dimensionality "
            f"must match. Source dimensionality ({s.ndim}), destination dimensionality "
            f"({x.ndim})"
        )
    if idx.dtype != np.int64:
        raise RuntimeError(
            f"index_copy_(): Expected a long tensor for index, but got {scalar_type_name(idx)}"
        )
    if s.dtype != x.dtype:
        raise RuntimeError(
            "index_copy_(): self and source expected to have the same dtype, but got (self) "
            f"{scalar_type_name(x)} and (source) {scalar_type_name(s)}"
        )
    xs = [v for k, v in enumerate(x.shape) if k != d]
    ss = [v for k, v in enumerate(s.shape) if k != d]
    if xs != ss:
        raise RuntimeError(
            "index_copy_(): Source/destination tensor must have same slice shapes. "
            f"Destination slice shape: {' '.join(map(str, xs))} at dimension {d} and source "
            f"slice shape: {' '.join(map(str, ss))} at dimension 0."
        )
    if s.ndim and n != s.shape[d]:
        raise IndexError(
            f"index_copy_(): Number of indices ({n}) should be equal to source.size(dim) "
            f"({s.shape[d]})"
        )
    shape = x.shape if x.ndim else (1,)
    flat = idx.reshape(-1)
    if flat.size and (flat.min() < 0 or flat.max() >= shape[d]):
        bad = flat[(flat < 0) | (flat >= shape[d])][0]
        raise IndexError(
            f"index_copy_(): index {bad} is out of bounds for dimension {d} with size {shape[d]}"
        )
    src_shape = tuple(n if k == d else v for k, v in enumerate(shape))
    key = (slice(None),) * d + (flat,)
    out = IndexCopy.apply(input, source, key=key, shape=shape, src_shape=src_shape)
    return save_index(out, index)


# --------------------------------------------------------------------------- take


class Take(Op):
    """``input.flatten()[index]``, negative indices counting from the end. Saves the input
    (torch's TakeBackward0 saves self, and the index: save_index)."""

    def forward(self, x, index):
        self.index, self.in_shape = index, x.shape
        return x.reshape(-1)[index]

    def backward(self, g):
        shape = self.in_shape
        n = int(np.prod(shape))
        if not shape:  # a 0-d input: the flat sum, read back as 0-d
            return IndexPutAdd.apply(g, key=(self.index,), shape=(n,)).reshape(shape)
        # torch's take_backward: a new tensor of the input's shape (put_ into zeros), not
        # a view of a flat one (a view made in backward refuses in-place writes that need
        # a gradient); each index's coordinates, so the sums run in the same order
        flat = np.where(self.index < 0, self.index + n, self.index)
        return IndexPutAdd.apply(g, key=np.unravel_index(flat, shape), shape=shape)


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
    return save_index(Take.apply(input, idx), index)


@op
def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``gather`` after broadcasting ``input`` and ``indices`` on the other dims; with
    ``dim=None`` both are read as 1-D. Indices along ``dim`` wrap modulo its size (torch)."""
    x, idx = input._data, _data(indices)
    if dim is None:  # torch saves the indices (GatherBackward0): second backward, writes
        return save_index(gather(input.reshape(-1), 0, idx.reshape(-1)), indices)
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
    return save_index(Gather.apply(expand(input, tuple(xs)), key=_grid(idx, d)), indices)


# --------------------------------------------------------------------------- put


class Put(Op):
    """``input`` as a flat array with ``source``'s elements written (or, ``accumulate``,
    added, repeats adding up) at the flat indices; torch's gradients: ``input`` the upstream
    gradient (with the written places zeroed unless accumulating), ``source`` ``take``."""

    torch_name = "PutBackward0"
    saved_for = ((), (1,))  # torch saves the source (its shape) when it needs a gradient

    def forward(self, x, src, index, accumulate):
        self.index, self.accumulate, self.s_shape = index, accumulate, src.shape
        out = x.copy()
        flat = out.reshape(-1)
        if accumulate:
            np.add.at(flat, index, src.reshape(-1))
        else:
            flat[index] = src.reshape(-1)
        return out

    def backward(self, g):
        gx = gs = None
        if self.needs(0):
            gx = g
            if not self.accumulate:
                zero = np.zeros(self.s_shape, g._data.dtype)
                gx = Put.apply(g, zero, index=self.index, accumulate=False)
        if self.needs(1):
            gs = take(g, self.index).reshape(self.s_shape)
        return gx, gs


@op(inplace=True)
def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """Out-of-place ``put_``: ``input`` treated as 1-D, ``source``'s elements written at the
    flat indices of a long ``index`` (negative ones count from the end); ``accumulate`` adds
    them instead, repeated indices adding up. A non-tensor ``source`` gets the TypeError of
    torch's function (its method numbers the arguments one less)."""
    if not isinstance(source, Tensor):
        raise TypeError(
            f"put(): argument 'source' (position 3) must be Tensor, not {type(source).__name__}"
        )
    x, idx, s = input._data, _data(index), source._data
    if idx.dtype != np.int64:
        raise RuntimeError(
            f"put_(): Expected a long tensor for index, but got {scalar_type_name(idx)}"
        )
    if s.dtype != x.dtype:
        raise RuntimeError(
            "put_(): self and source expected to have the same dtype, but got self.dtype = "
            f"{scalar_type_name(x)} and source.dtype = {scalar_type_name(s)}"
        )
    if s.size != idx.size:
        raise IndexError(
            "put_(): Expected source and index to have the same number of elements, but got "
            f"source.numel() = {s.size}, index.numel() = {idx.size}"
        )
    if idx.size and not x.size:
        raise IndexError("put_(): Tried to put elements into an empty tensor")
    flat = idx.reshape(-1)
    n = x.size
    if flat.size and (flat.min() < -n or flat.max() >= n):
        bad = flat[(flat < -n) | (flat >= n)][0]
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    out = Put.apply(input, source, index=flat, accumulate=bool(accumulate))
    return save_index(out, index)
