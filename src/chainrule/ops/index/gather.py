"""Index-tensor ops along a dim: gather, scatter, scatter_add, scatter_reduce (out-of-place;
torch's checks and messages), and the helpers select.py shares (``_grid``, ``_check_range``, ...).

The reading ops are ``Index`` (see getitem.py) with torch's name and a NumPy key, so their
backward is the accumulating ``IndexPutAdd`` and their double backward the gather again.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule.dtypes import kind_of
from chainrule.graph import grad_mode
from chainrule.ops.index.core import BasicIndexScatter, Index, add_at
from chainrule.ops.op import Op, save_index

_REDUCE_WARNING = (
    "The reduce argument of torch.scatter with Tensor src is deprecated and will be removed in "
    "a future PyTorch release. Use torch.scatter_reduce instead for more reduction options."
)


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
    return BasicIndexScatter.apply(g, key=key, shape=shape, tname="SliceBackward0")


# --------------------------------------------------------------------------- gather


class Gather(Index):
    """``out[i][j] = x[i][index[i][j]]`` (dim 1): Index with the grid key."""

    formula = "d gather(a, dim, idx) = g scattered back into zeros at idx (duplicates add)"
    torch_name = "GatherBackward0"
    save_inputs = True  # torch's GatherBackward0 saves self (and the index: save_index)


@op
def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """Values of ``input`` along ``dim`` at ``index``; the result has the index's shape."""
    if sparse_grad:
        raise NotImplementedError("chainrule: gather(sparse_grad=True) is not supported")
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
        return save_index(Gather.apply(flat, key=(idx.reshape(-1),)), index).reshape(idx.shape)
    for k in range(x.ndim):
        if k != d and idx.shape[k] > x.shape[k]:
            raise RuntimeError(
                f"Size does not match at dimension {k} expected index {list(idx.shape)} to be no "
                f"larger than self {list(x.shape)} apart from dimension {d}"
            )
    if idx.size and idx.min() < 0:  # NumPy would wrap; too large ones make it raise
        _check_range(idx, d, x.shape[d])
    try:
        return save_index(Gather.apply(input, key=_grid(idx, d)), index)
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


@op(inplace=True)
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """Out-of-place ``scatter_add_``: repeated indices accumulate."""
    x, idx, s = input._data, _data(index), _data(src)
    d = _scatter_checks(x, dim, idx, s)
    if not x.ndim:  # 0-d: as 1-d
        i1 = idx.reshape(-1)
        out = ScatterAdd.apply(input.reshape(1), src.reshape(-1), key=(i1,), idx_shape=i1.shape)
        return _save_if_src(out, index).reshape(())
    return _save_if_src(ScatterAdd.apply(input, src, key=_grid(idx, d), idx_shape=idx.shape), index)


def _save_if_src(out: Tensor, index: Any) -> Tensor:
    """scatter_add and index_add read the index only for the source's gradient: torch
    saves it only when the source needs one."""
    if out.grad_fn is not None and out.grad_fn.needs(1):
        save_index(out, index)
    return out


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


@op(inplace=True)
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
        return save_index(out, index).reshape(())
    out = Scatter.apply(input, src, key=_grid(idx, d), idx_shape=idx.shape, reduce=reduce)
    return save_index(out, index)


# --------------------------------------------------------------------------- scatter_reduce

_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")
_AT = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
       "amin": np.minimum}  # fmt: skip


def _identity(reduce: str, dt: np.dtype) -> Any:
    """What a place ``include_self=False`` reduces into starts from."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    big = np.inf if kind_of(dt) in "fc" else (True if dt == np.bool_ else np.iinfo(dt).max)
    if reduce == "amin":
        return big
    return -np.inf if kind_of(dt) in "fc" else (False if dt == np.bool_ else np.iinfo(dt).min)


class ScatterReduce(Op):
    """``out = x`` with ``src[i][j]`` reduced into ``out[i][index[i][j]]`` (dim 1) by sum,
    prod, mean, amax or amin, starting from ``x`` (``include_self``) or from the places'
    identity. The gradient is torch's ``scatter_reduce_backward``, written with ops so it
    differentiates again: prod divides by the other factors (a zero factor's by the product
    of the rest), mean by the counts, amax/amin share the gradient evenly among ties."""

    torch_name = "ScatterReduceBackward0"
    save_output = True

    def forward(self, x, src, key, index, dim, reduce, include_self):
        self.key, self.index, self.dim = key, index, dim
        self.reduce, self.include_self = reduce, include_self
        self.shapes = (x.shape, src.shape) if not x.ndim or not src.ndim else None
        if self.shapes:  # a 0-d operand: all as 1-d (torch's scalars as one-element tensors)
            x, src = x.reshape(-1), src.reshape(-1)
        out = x.copy()
        if not include_self:
            out[key] = _identity(reduce, x.dtype)
        if reduce in ("sum", "mean"):
            add_at(out, key, src)
        else:
            _AT[reduce].at(out, key, src)
        if reduce == "mean":
            count = np.full(x.shape, 1 if include_self else 0, dtype=np.int64)
            np.add.at(count, key, 1)
            count[count == 0] = 1
            if kind_of(x.dtype) in "fc":
                out = (out / count).astype(x.dtype, copy=False)
            else:
                out = np.floor_divide(out, count).astype(x.dtype, copy=False)
        return out.reshape(self.shapes[0]) if self.shapes else out

    def backward(self, g):
        x, s = self.inputs
        res, d, i = self.output, self.dim, _make(self.index)
        if self.shapes:
            x, s, res, g = (t.reshape(-1) for t in (x, s, res, g))
        gx, gs = self._rule(g, x, s, res, d, i)
        if self.shapes:
            gx, gs = gx.reshape(self.shapes[0]), gs.reshape(self.shapes[1])
        return gx if self.needs(0) else None, gs if self.needs(1) else None

    def _rule(self, g, x, s, res, d, i):
        red = self.reduce
        if red == "sum":
            gx, gs = g, gather(g, d, i)
        elif red == "prod":
            masked_self = x.masked_fill(x == 0, 1)
            gx = g * masked_self.scatter_reduce(d, i, s, red, include_self=self.include_self)
            gx = gx / masked_self
            src_zero = s == 0
            zeros = np.zeros(x._data.shape, x._data.dtype)
            np.add.at(zeros, self.key, src_zero._data)
            num_zeros = zeros[self.key]
            single = _make(src_zero._data & (num_zeros == 1))
            masked_src_result = x.scatter_reduce(
                d, i, s.masked_fill(single, 1), red, include_self=self.include_self
            )
            gs = gather(g * masked_src_result, d, i).where(
                single, gather(g * res, d, i) / s.masked_fill(src_zero, 1)
            )
            if grad_mode.enabled and (num_zeros > 1).any():
                gs = DelayedError.apply(gs, message=_PROD_DOUBLE_BACKWARD)
        elif red == "mean":
            n = np.full(x._data.shape, 1 if self.include_self else 0, x._data.dtype)
            np.add.at(n, self.key, 1)
            n[n == 0] = 1
            gx = g / _make(n)
            gs = gather(g, d, i) / _make(n[self.key])
        else:
            value = gather(res, d, i)
            self_is, src_is = x == res, s == value
            n = self_is.to(x.dtype).scatter_add(d, i, src_is.to(x.dtype))
            share = g / n
            gx = self_is * share
            gs = src_is * gather(share, d, i)
        if not self.include_self:
            gx = gx.scatter(d, i, 0)
        return gx, gs


_PROD_DOUBLE_BACKWARD = (
    "scatter_reduce(): Double backward is unsupported for src when >1 zeros in src are "
    "scattered to the same position in self"
)


class DelayedError(Op):
    """A gradient that exists but cannot be differentiated again (torch's ``Error`` node):
    its value passes through, its backward raises ``message``."""

    torch_name = "torch::autograd::Error"
    save_inputs = False
    jvp_rule = "linear"

    def forward(self, x, message):
        self.message = message
        return x.copy()

    def backward(self, g):
        raise RuntimeError(self.message)


@op(inplace=True)
def scatter_reduce(
    input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
    include_self: bool = True,
) -> Tensor:  # fmt: skip
    """Out-of-place ``scatter_reduce_``: ``src`` reduced into ``input`` at the index along
    ``dim`` by ``reduce`` ("sum", "prod", "mean", "amax" or "amin"), each place starting
    from its value in ``input`` (``include_self``) or from nothing; integer means round
    down. A non-tensor ``src`` gets the TypeError of torch's function (its method numbers
    the arguments one less)."""
    if not isinstance(src, Tensor):
        raise TypeError(
            "scatter_reduce(): argument 'src' (position 4) must be Tensor, not "
            f"{type(src).__name__}"
        )
    x, idx, s = input._data, _data(index), src._data
    d = _scatter_checks(x, dim, idx, s)
    if reduce not in _REDUCTIONS:
        raise RuntimeError(
            f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}"
        )
    if not x.ndim or not s.ndim or not idx.ndim:  # a 0-d operand: all as 1-d
        idx = idx.reshape(-1)
    elif s.shape != idx.shape:  # only the index's corner of src is read
        src = src[tuple(slice(0, n) for n in idx.shape)]
    key = _grid(idx, d)
    out = ScatterReduce.apply(input, src, key=key, index=idx, dim=d, reduce=reduce,
                              include_self=bool(include_self))  # fmt: skip
    return save_index(out, index)
