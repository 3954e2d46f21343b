"""Index-tensor ops along a dim: gather, scatter, scatter_add, index_select, index_add, take,
take_along_dim (out-of-place; torch's checks and messages).

The reading ops are ``Index`` (see getitem.py) with torch's name and a NumPy key, so their
backward is the accumulating ``IndexPutAdd`` and their double backward the gather again.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule._tensor import Tensor
from chainrule.ops.index.core import Index, IndexPutAdd, add_at, infer_size
from chainrule.ops.index.getitem import ViewScatter
from chainrule.ops.op import Op, expand, wrap_dim

__all__ = [
    "gather", "scatter", "scatter_add", "index_select", "index_add", "take", "take_along_dim",
]  # fmt: skip

_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
               "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
               "complex64": "ComplexFloat", "complex128": "ComplexDouble"}  # fmt: skip


_REDUCE_WARNING = (
    "The reduce argument of torch.scatter with Tensor src is deprecated and will be removed in "
    "a future PyTorch release. Use torch.scatter_reduce instead for more reduction options."
)


def _type_name(a: np.ndarray) -> str:
    return _TYPE_NAMES.get(a.dtype.name, a.dtype.name)


def _data(t: Any) -> np.ndarray:
    return t._data if isinstance(t, Tensor) else np.asarray(t)


_INT_INDEX = frozenset([np.dtype(np.int64), np.dtype(np.int32)])
_ARANGES: dict = {}  # (size, ndim, dim) -> a read-only arange shaped to broadcast on dim


def _grid(index: np.ndarray, dim: int) -> tuple:
    """The key reading ``x[i][j][index[i][j][k]]`` (for dim 2): ``index`` on ``dim``,
    broadcast aranges of the index's own sizes on the other dims."""
    nd, shape = index.ndim, index.shape
    key = []
    for d in range(nd):
        if d == dim:
            key.append(index)
            continue
        r = _ARANGES.get((shape[d], nd, d))
        if r is None:
            if len(_ARANGES) > 1024:
                _ARANGES.clear()
            r = np.arange(shape[d]).reshape([shape[d] if k == d else 1 for k in range(nd)])
            r.flags.writeable = False
            _ARANGES[shape[d], nd, d] = r
        key.append(r)
    return tuple(key)


def _check_range(index: np.ndarray, dim: int, n: int, exc: type = RuntimeError) -> None:
    if index.size and (index.min() < 0 or index.max() >= n):
        bad = index[(index < 0) | (index >= n)].flat[0]
        raise exc(f"index {bad} is out of bounds for dimension {dim} with size {n}")


def _pad(g: Tensor, shape: tuple) -> Tensor:
    """``g`` in the leading corner of zeros of ``shape`` (differentiable)."""
    if g._data.shape == shape:
        return g
    key = tuple(slice(0, s) for s in g._data.shape)
    return ViewScatter.apply(g, key=key, shape=shape, tname="SliceBackward0")


# --------------------------------------------------------------------------- gather


class Gather(Index):
    """``out[i][j] = x[i][index[i][j]]`` (dim 1): Index with the grid key."""

    torch_name = "GatherBackward0"


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """Values of ``input`` along ``dim`` at ``index``; the result has the index's shape."""
    x, idx = input._data, _data(index)
    d = dim if type(dim) is int and 0 <= dim < x.ndim else wrap_dim(dim, x.ndim)
    if idx.dtype not in _INT_INDEX:
        raise RuntimeError("gather(): Expected dtype int32/int64 for index")
    if max(idx.ndim, 1) != max(x.ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    if x.ndim == 0 or idx.ndim == 0:
        if idx.size:
            _check_range(idx, d, max(x.size, 1) if x.ndim == 0 else x.shape[0])
        flat = input.reshape(1) if x.ndim == 0 else input
        return Gather.apply(flat, key=(idx.reshape(-1),)).reshape(idx.shape)
    for k in range(x.ndim):
        if k != d and idx.shape[k] > x.shape[k]:
            raise RuntimeError(
                f"Size does not match at dimension {k} expected index {list(idx.shape)} to be no "
                f"larger than self {list(x.shape)} apart from dimension {d}"
            )
    if idx.size and idx.min() < 0:  # NumPy would wrap; too large ones make it raise
        _check_range(idx, d, x.shape[d])
    try:
        return Gather.apply(input, key=_grid(idx, d))
    except IndexError:
        _check_range(idx, d, x.shape[d])
        raise


# --------------------------------------------------------------------------- scatter


def _scatter_checks(x: np.ndarray, dim: int, idx: np.ndarray, src: np.ndarray | None) -> int:
    d = wrap_dim(dim, x.ndim)
    if idx.dtype not in _INT_INDEX:
        raise RuntimeError("scatter(): Expected dtype int32/int64 for index")
    if src is not None and src.dtype != x.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if max(idx.ndim, 1) != max(x.ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if src is not None and max(idx.ndim, 1) != max(src.ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    if idx.size:
        too_big = any(idx.shape[k] > x.shape[k] for k in range(x.ndim) if k != d)
        if src is not None:
            too_big = too_big or any(a > b for a, b in zip(idx.shape, src.shape))
            if too_big:
                raise RuntimeError(
                    f"Expected index {list(idx.shape)} to be no larger than self "
                    f"{list(x.shape)} apart from dimension {d} and to be no larger size than "
                    f"src {list(src.shape)}"
                )
        elif too_big:
            raise RuntimeError(
                f"Expected index {list(idx.shape)} to be no larger than self {list(x.shape)} "
                f"apart from dimension {d}"
            )
        _check_range(idx, d, x.shape[d] if x.ndim else 1)
    return d


class ScatterAdd(Op):
    """``out = x`` with ``src[i][j]`` added at ``out[i][index[i][j]]`` (dim 1)."""

    save_inputs = False

    def forward(self, x, src, key, idx_shape):
        self.key, self.src_shape = key, src.shape
        out = x.copy()
        add_at(out, key, src[tuple(slice(0, s) for s in idx_shape)])
        return out

    def backward(self, g):
        gsrc = None
        if self.needs(1):
            gsrc = _pad(Gather.apply(g, key=self.key), self.src_shape)
        return g if self.needs(0) else None, gsrc


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """Out-of-place ``scatter_add_``: repeated indices accumulate."""
    x, idx, s = input._data, _data(index), _data(src)
    d = _scatter_checks(x, dim, idx, s)
    if not x.ndim:  # 0-d: as 1-d
        i1 = idx.reshape(-1)
        out = ScatterAdd.apply(input.reshape(1), src.reshape(-1), key=(i1,), idx_shape=i1.shape)
        return out.reshape(())
    return ScatterAdd.apply(input, src, key=_grid(idx, d), idx_shape=idx.shape)


class Scatter(Op):
    """``out = x`` with ``src`` (ScatterBackward0) or a number (ScatterBackward1) written
    at the index; ``reduce`` ('add', 'multiply') has no derivative, as in torch."""

    save_inputs = False

    def forward(self, x, src, key, idx_shape, reduce=None):
        self.key, self.src_shape, self.reduce = key, np.shape(src), reduce
        self.value = not isinstance(src, np.ndarray)
        out = x.copy()
        if isinstance(src, np.ndarray):
            src = src[tuple(slice(0, s) for s in idx_shape)]
        if reduce is None:
            out[key] = src
        elif reduce == "add":
            np.add.at(out, key, src)
        else:
            np.multiply.at(out, key, src)
        return out

    def name(self):
        if self.reduce is not None:
            return "torch::autograd::NotImplemented"
        return f"ScatterBackward{1 if self.value else 0}"

    def backward(self, g):
        if self.reduce is not None:
            raise RuntimeError("derivative for aten::scatter is not implemented")
        gx = Scatter.apply(g, 0, key=self.key, idx_shape=()) if self.needs(0) else None
        if self.value:
            return gx
        gsrc = _pad(Gather.apply(g, key=self.key), self.src_shape) if self.needs(1) else None
        return gx, gsrc


def scatter(
    input: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None,
    reduce: str | None = None,
) -> Tensor:  # fmt: skip
    """Out-of-place ``scatter_``: ``src`` (a tensor) or ``value`` (a number) written at the
    index along ``dim``."""
    if src is None:
        src = value
    if not isinstance(src, Tensor | int | float | bool | np.number | np.bool_):
        raise TypeError(
            "scatter() received an invalid combination of arguments - got (Tensor, int, Tensor"
            + ("" if src is None else f", {type(src).__name__}")
            + ")"
        )
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    x, idx = input._data, _data(index)
    if isinstance(src, Tensor):
        if reduce is not None:
            warnings.warn(_REDUCE_WARNING, UserWarning, stacklevel=2)
        d = _scatter_checks(x, dim, idx, src._data)
    else:
        d = _scatter_checks(x, dim, idx, None)
        src = x.dtype.type(src)  # a NumPy scalar: cast to the input's dtype, as torch does
    if not x.ndim:  # 0-d: as 1-d
        i1 = idx.reshape(-1)
        src = src.reshape(-1) if isinstance(src, Tensor) else src
        out = Scatter.apply(input.reshape(1), src, key=(i1,), idx_shape=i1.shape, reduce=reduce)
        return out.reshape(())
    return Scatter.apply(input, src, key=_grid(idx, d), idx_shape=idx.shape, reduce=reduce)


# --------------------------------------------------------------------------- index_select


class IndexSelect(Index):
    """Whole slices along ``dim`` at a vector of indices (np.take)."""

    torch_name = "IndexSelectBackward0"

    def forward(self, x, key, unique=False, dim=0):
        self.key, self.unique, self.in_shape = key, unique, x.shape
        return np.take(x, key[dim], axis=dim)


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


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """Out-of-place ``index_add_``: ``alpha * source`` added at ``index`` along ``dim``;
    repeated indices accumulate."""
    x, idx, s = input._data, _data(index), source._data
    d = wrap_dim(dim, x.ndim)
    if idx.ndim > 1:
        raise IndexError(
            f"index_add_(): Index is supposed to be a vector, but got dim: {idx.ndim} with type: "
            f"{_type_name(idx)} and size: {list(idx.shape)}"
        )
    if idx.dtype not in _INT_INDEX:
        raise RuntimeError(
            f"index_add_(): Expected dtype int32/int64 for index but got: {_type_name(idx)}"
        )
    if s.dtype != x.dtype:
        raise RuntimeError(
            f"index_add_(): self ({_type_name(x)}) and source ({_type_name(s)}) must have the "
            "same scalar type"
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


def take(input: Tensor, index: Tensor) -> Tensor:
    """Elements of ``input`` read as 1-D at ``index``; the result has the index's shape."""
    x, idx = input._data, _data(index)
    if idx.dtype != np.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {_type_name(idx)}")
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


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``gather`` after broadcasting ``input`` and ``indices`` on the other dims; with
    ``dim=None`` both are read as 1-D. Indices along ``dim`` wrap modulo its size (torch)."""
    x, idx = input._data, _data(indices)
    if dim is None:
        return gather(input.reshape(-1), 0, idx.reshape(-1))
    d = wrap_dim(dim, x.ndim)
    if idx.dtype != np.int64:
        raise RuntimeError(
            f"torch.take_along_dim(): dtype of indices should be Long but got {_type_name(idx)}"
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
