"""``Tensor.__getitem__``: torch's indexing rules, parsed into one view and one gather.

Torch applies an index left to right: ints select, slices slice, ``None`` unsqueezes (all
views), and tensors, lists and bools are collected as *advanced* indices that are applied
last, in one ``index`` call whose result dims follow NumPy's placement rule (indexed dims
adjacent: in place; separated: first). Ints therefore never count as advanced indices here,
unlike NumPy: ``x[:, [0, 1], :, 0]`` has shape ``(5, 2, 7)`` for ``x`` of shape (5, 6, 7, 8).

Graph: torch records one node per basic step (SelectBackward0, SliceBackward0, ...); here
all basic steps are one ``BasicIndex`` node (one NumPy view) carrying the name of torch's
last step, followed by one ``Index`` node (IndexBackward0) when there are advanced indices.

``BasicIndex`` and ``BasicIndexScatter`` are each other's backward, as are ``Index`` and
``IndexPutAdd`` (all four in core.py), so every order of derivative works. ``index_key`` gives
``Tensor.__setitem__`` the same parsing and checks.
"""

from __future__ import annotations

import operator
import warnings
from typing import Any

import numpy as np

from chainrule._registry import tensor_method
from chainrule._tensor import Tensor
from chainrule.dtypes import kind_of
from chainrule.ops.index.core import BasicIndex, Index
from chainrule.ops.op import save_index

__all__ = ["getitem", "index_key", "as_index_array"]

_SEQ_WARNING = (
    "Using a non-tuple sequence for multidimensional indexing is deprecated and will be "
    "changed in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be "
    "interpreted as tensor index, x[torch.tensor(seq)], which will result either in an error "
    "or a different result"
)
_ZERO_DIM_INT = (
    "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in "
    "C++ to convert a 0-dim tensor to a number"
)
_INT_INDEX = frozenset([np.dtype(np.int64), np.dtype(np.int32)])
_BAD_DTYPE = "tensors used as indices must be long, int, byte or bool tensors"


# --------------------------------------------------------------------------- parsing


def as_index_array(obj: Any) -> np.ndarray:
    """An index given as a tensor, array or (nested) list, as a NumPy array."""
    if isinstance(obj, Tensor):
        return obj._data
    if isinstance(obj, np.ndarray):
        return obj
    if isinstance(obj, list | tuple) and len(obj) == 0:
        return np.empty(0, np.int64)
    a = np.asarray(obj)
    if kind_of(a.dtype) in "US":
        raise TypeError(f"new(): invalid data type '{type(obj).__name__}'")
    if kind_of(a.dtype) == "f":  # torch reads a list of floats as long indices (truncating)
        a = a.astype(np.int64)
    return a


def _is_seq(obj: Any) -> bool:
    return isinstance(obj, list | tuple | np.ndarray | Tensor | str | range)


def _sequence_as_tuple(index: Any) -> bool:
    """torch's (NumPy's old) rule: a short list holding slices, None, ..., tensors or
    sequences is read as a tuple of indices (with a deprecation warning)."""
    if not isinstance(index, list) or len(index) >= 32:
        return False
    for obj in index:
        if obj is None or obj is Ellipsis or isinstance(obj, slice) or _is_seq(obj):
            return True
    return False


def _check_step(step: Any) -> None:
    if step is not None:
        step = operator.index(step)
        if step == 0:
            raise ValueError("slice step cannot be zero")
        if step < 0:
            raise ValueError("step must be greater than zero")


def _bad_scalar(obj: Any) -> Exception:
    if isinstance(obj, str):
        return TypeError("new(): invalid data type 'str'")
    return IndexError(
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
        f"valid indices (got {type(obj).__name__})"
    )


@tensor_method(name="__getitem__")
def getitem(self: Tensor, index: Any) -> Tensor:
    """``tensor[index]``: every torch/NumPy index form; basic indexing returns a view."""
    x = self._data
    t = type(index)
    if t is int:  # the hot paths: x[i], x[a:b]
        if not x.ndim:
            raise IndexError(_ZERO_DIM_INT)
        n = x.shape[0]
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of bounds for dimension 0 with size {n}")
        return BasicIndex.apply(self, key=(index, Ellipsis), tname="SelectBackward0")
    if t is slice:
        if not x.ndim:
            raise IndexError("slice() cannot be applied to a 0-dim tensor.")
        _check_step(index.step)
        return BasicIndex.apply(self, key=(index,), tname="SliceBackward0")
    if index is None:
        return BasicIndex.apply(self, key=(None,), tname="UnsqueezeBackward0")
    if isinstance(index, np.integer):
        return getitem(self, int(index))
    if t is not tuple:
        if _sequence_as_tuple(index):
            warnings.warn(_SEQ_WARNING, UserWarning, stacklevel=2)
            index = tuple(index)
        else:
            index = (index,)
    else:
        specified = ellipses = 0
        for it in index:
            tp = type(it)
            if tp is int or tp is slice:
                specified += 1
            elif it is Ellipsis:
                ellipses += 1
            elif it is not None:
                break
        else:
            if ellipses < 2:
                return _basic(self, index, specified, ellipses)
    return _index(self, index)


def _basic(self: Tensor, items: tuple, specified: int, ellipses: int) -> Tensor:
    """A tuple of ints, slices, None and at most one Ellipsis: one view, no conversions."""
    shape = self._data.shape
    ndim = len(shape)
    if specified > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    tname = None
    idim = 0
    for i, it in enumerate(items):
        if it is None:
            tname = "UnsqueezeBackward0"
        elif it is Ellipsis:
            idim += ndim - specified
        elif type(it) is int:
            n = shape[idim]
            if not -n <= it < n:
                raise IndexError(f"index {it} is out of bounds for dimension {i} with size {n}")
            tname = "SelectBackward0"
            idim += 1
        else:
            start, stop, step = it.start, it.stop, it.step
            if step is not None:
                _check_step(step)
                step = operator.index(step)
            start = start if start is None else operator.index(start)
            stop = stop if stop is None else operator.index(stop)
            if (
                step not in (None, 1)
                or start not in (None, 0)
                or stop is not None
                and stop < shape[idim]
            ):
                tname = "SliceBackward0"
            idim += 1
    if tname is None:
        return BasicIndex.apply(self, key=(Ellipsis,), tname="AliasBackward0")
    return BasicIndex.apply(self, key=items if ellipses else (*items, Ellipsis), tname=tname)


def _convert(items: tuple) -> tuple[list, int]:
    """Each item as int, slice, None, Ellipsis, bool or an index array; and the number of
    dims the items address (torch's ``count_specified_dimensions``)."""
    out, specified = [], 0
    for it in items:
        if it is None or it is Ellipsis:
            out.append(it)
        elif isinstance(it, bool | np.bool_):
            out.append(bool(it))
        elif isinstance(it, int | np.integer):
            out.append(int(it))
            specified += 1
        elif isinstance(it, slice):
            _check_step(it.step)
            out.append(it)
            specified += 1
        elif isinstance(it, Tensor | np.ndarray | list | tuple | range):
            a = as_index_array(it)
            kind = kind_of(a.dtype)
            if kind == "b" or a.dtype == np.uint8:
                if kind != "b":
                    warnings.warn(
                        "indexing with dtype torch.uint8 is now deprecated, please use a dtype "
                        "torch.bool instead.",
                        UserWarning,
                        stacklevel=3,
                    )
                    a = a.astype(bool)
                specified += a.ndim
                out.append(bool(a) if a.ndim == 0 else a)
            elif a.dtype in _INT_INDEX:
                specified += 1
                out.append(int(a) if a.ndim == 0 else a)
            else:
                raise IndexError(_BAD_DTYPE)
        else:
            raise _bad_scalar(it)
    return out, specified


def _parse(x: np.ndarray, items: tuple) -> tuple[list, str | None, dict, bool, bool]:
    """Split converted-or-raw index items into the basic key on ``x``'s dims, the name of
    torch's last basic step, the advanced indices (dim of the basic result -> int array or
    bool mask), whether they cannot hit an element twice, and whether a mask's shape differs
    from the dims it indexes. Ints are bounds-checked here (torch's IndexError)."""
    ndim = x.ndim
    items, specified = _convert(items)
    if specified > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    key: list = []  # the basic part, on the input's dims
    adv: dict = {}  # dim of the basic result -> index array (int, or a bool mask over k dims)
    unique = True  # only masks and bools: no element can be hit twice
    tname = None
    idim = rdim = 0
    ellipsis_seen = mismatch = False
    for i, it in enumerate(items):
        if it is None:
            key.append(None)
            rdim += 1
            tname = "UnsqueezeBackward0"
        elif it is Ellipsis:
            skip = 0 if ellipsis_seen else ndim - specified
            ellipsis_seen = True
            key.extend([slice(None)] * skip)
            idim += skip
            rdim += skip
        elif it is True or it is False:
            key.append(None)
            adv[rdim] = np.arange(1) if it else np.empty(0, np.int64)
            rdim += 1
            tname = "UnsqueezeBackward0"
        elif type(it) is int:
            n = x.shape[idim]
            if not -n <= it < n:
                raise IndexError(f"index {it} is out of bounds for dimension {i} with size {n}")
            key.append(it)
            idim += 1
            tname = "SelectBackward0"
        elif type(it) is slice:
            n = x.shape[idim]
            start, stop, step = it.start, it.stop, it.step
            if (
                (start is None or operator.index(start) == 0)
                and (stop is None or operator.index(stop) >= n)
                and (step is None or operator.index(step) == 1)
            ):
                key.append(slice(None))  # torch skips a full slice inside a tuple
            else:
                key.append(it)
                tname = "SliceBackward0"
            idim += 1
            rdim += 1
        else:  # an index array
            k = it.ndim if it.dtype == np.bool_ else 1
            unique = unique and it.dtype == np.bool_
            if it.dtype == np.bool_ and it.shape != x.shape[idim : idim + k]:
                mismatch = True  # NumPy lets a size-0 mask index a size-1 dim; torch does not
            key.extend([slice(None)] * k)
            adv[rdim] = it
            idim += k
            rdim += k
    return key, tname, adv, unique, mismatch


def _adv_key(adv: dict) -> tuple:
    """The NumPy key of the advanced indices on the basic result."""
    key, pos = [], 0
    for rd in sorted(adv):
        a = adv[rd]
        key.extend([slice(None)] * (rd - pos))
        key.append(a)
        pos = rd + (a.ndim if a.dtype == np.bool_ else 1)
    return tuple(key)


def _index(self: Tensor, items: tuple) -> Tensor:
    key, tname, adv, unique, mismatch = _parse(self._data, items)
    if tname is not None:
        out = BasicIndex.apply(self, key=(*key, Ellipsis), tname=tname)
    elif not adv:
        return BasicIndex.apply(self, key=(Ellipsis,), tname="AliasBackward0")
    else:
        out = self
    if not adv:
        return out
    if mismatch or 0 in out._data.shape:
        adv = _check_advanced(out._data.shape, adv)
    try:  # NumPy rejects what torch rejects (and more); torch's checks run only then
        out = Index.apply(out, key=_adv_key(adv), unique=unique)
    except IndexError:
        adv = _check_advanced(out._data.shape, adv)
        out = Index.apply(out, key=_adv_key(adv), unique=unique)
    return save_index(out, *items) if out.grad_fn is not None else out


def index_key(x: np.ndarray, index: Any) -> tuple[tuple, tuple | None, bool]:
    """For writes (``x[index] = v``): the basic key (a NumPy view of ``x``), the advanced
    key on that view (None if there is none) and whether it cannot hit an element twice,
    with getitem's checks and torch's errors; ``x[basic][advanced]`` is the region."""
    t = type(index)
    if t is int:
        if not x.ndim:
            raise IndexError(_ZERO_DIM_INT)
        n = x.shape[0]
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of bounds for dimension 0 with size {n}")
        return (index, Ellipsis), None, True
    if t is slice:
        if not x.ndim:
            raise IndexError("slice() cannot be applied to a 0-dim tensor.")
        _check_step(index.step)
        return (index,), None, True
    if isinstance(index, np.integer):
        return index_key(x, int(index))
    if t is not tuple:
        if _sequence_as_tuple(index):
            warnings.warn(_SEQ_WARNING, UserWarning, stacklevel=3)
            index = tuple(index)
        else:
            index = (index,)
    key, _, adv, unique, _ = _parse(x, index)
    basic = (*key, Ellipsis)
    if not adv:
        return basic, None, True
    return basic, _adv_key(_check_advanced(x[basic].shape, adv)), unique


def _check_advanced(shape: tuple, adv: dict) -> dict:
    """Check the advanced indices against the sliced tensor in torch's order (mask shapes,
    broadcasting, an index into a size-0 dim, bounds) and raise torch's IndexError. Torch
    skips the bounds checks when the result is empty: the indices are then returned made
    harmless (broadcast to the empty shape, or zeros), so NumPy selects nothing too."""
    shapes, bounds = [], []
    indexed = set()
    for rd in sorted(adv):
        a = adv[rd]
        if a.dtype == np.bool_:
            for j, s in enumerate(a.shape):
                if shape[rd + j] != s:
                    raise IndexError(
                        f"The shape of the mask {list(a.shape)} at index {j} does not match the "
                        f"shape of the indexed tensor {list(shape)} at index {rd + j}"
                    )
                indexed.add(rd + j)
            shapes.extend([(int(np.count_nonzero(a)),)] * a.ndim)
        else:
            bounds.append((rd, a, len(shapes), shape[rd]))
            indexed.add(rd)
            shapes.append(a.shape)
    try:
        result = np.broadcast_shapes(*shapes)
    except ValueError:
        raise IndexError(
            "shape mismatch: indexing tensors could not be broadcast together with shapes "
            + ", ".join(str(list(s)) for s in shapes)
        ) from None
    if 0 not in result and any(shape[d] == 0 for d in indexed):
        raise IndexError("index is out of bounds for dimension with size 0")
    if 0 in result or any(shape[d] == 0 for d in range(len(shape)) if d not in indexed):
        adv = dict(adv)  # an empty result: torch checks no bounds
        for rd, a, _, _ in bounds:
            adv[rd] = np.broadcast_to(a, result) if 0 in result else np.zeros_like(a)
        return adv
    for _, a, d, n in bounds:
        if a.size and (a.min() < -n or a.max() >= n):
            bad = a[(a < -n) | (a >= n)].flat[0]
            raise IndexError(f"index {bad} is out of bounds for dimension {d} with size {n}")
    return adv
