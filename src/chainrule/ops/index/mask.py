"""Boolean-mask ops: masked_fill (and index_fill, a mask along one dim), masked_scatter,
masked_select, and the index finders nonzero and argwhere."""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule.backend import K
from chainrule.dtypes import c_type_name, scalar_type_name
from chainrule.ops.index.core import BasicIndexScatter, Index, infer_size
from chainrule.ops.op import Op, expand, save_index


class MaskedFill(Op):
    """``value`` where the mask is True, ``x`` elsewhere (the mask broadcasts).

    MaskedFillBackward0 for a number, MaskedFillBackward1 for a 0-d tensor value, whose
    gradient is the sum of the upstream gradient over the filled places."""

    elementwise, save_inputs = True, False

    def forward(self, x, value, mask, tensor_value):
        self.mask, self.tensor_value = mask, tensor_value
        return K.masked_fill(x, mask, value)

    def name(self):
        return f"MaskedFillBackward{1 if self.tensor_value else 0}"

    def backward(self, g):  # linear in g: the fill itself, with 0, where the value did not land
        zero = g._data.dtype.type(0)
        gx = (
            MaskedFill.apply(g, zero, mask=self.mask, tensor_value=False) if self.needs(0) else None
        )
        gv = (
            MaskedFill.apply(g, zero, mask=~self.mask, tensor_value=False)
            if self.needs(1)
            else None
        )
        return gx, gv


@op(inplace=True)
def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``input`` with ``value`` (a number or a 0-d tensor) where ``mask`` is True."""
    x = input._data
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(
            f"masked_fill_ only supports boolean masks, but got mask with dtype {c_type_name(m)}"
        )
    infer_size(m.shape, x.shape)
    if isinstance(value, Tensor):
        value = _value_tensor("masked_fill_", input, value)
        return save_index(MaskedFill.apply(input, value, mask=m, tensor_value=True), mask)
    if not isinstance(value, int | float | bool | complex | np.number | np.bool_):
        raise TypeError(
            f"masked_fill() received an invalid combination of arguments - got (Tensor, "
            f"{type(value).__name__})"
        )
    out = MaskedFill.apply(input, x.dtype.type(value), mask=m, tensor_value=False)
    return save_index(out, mask)


def _value_tensor(name: str, input: Tensor, value: Tensor) -> Tensor:
    """A fill value given as a tensor: 0-d (torch's error otherwise), in input's dtype."""
    if value._data.ndim:
        raise RuntimeError(
            f"{name} only supports a 0-dimensional value tensor, but got tensor with "
            f"{value._data.ndim} dimension(s)."
        )
    return value if value._data.dtype == input._data.dtype else value.to(input.dtype)


class IndexFill(MaskedFill):
    """index_fill: a masked_fill whose mask is the slices at ``index`` along one dim."""

    def name(self):
        return f"IndexFillBackward{1 if self.tensor_value else 0}"


@op(inplace=True)
def index_fill(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """``input`` with ``value`` (a number or a 0-d tensor) in the slices at ``index`` along
    ``dim``; repeated indices are fine."""
    x = input._data
    d = wrap_dim(dim, x.ndim)
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype != np.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    if idx.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    n = x.shape[d] if x.ndim else 1
    for i in idx.reshape(-1).tolist():
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of bounds for dimension {d} with size {n}")
    hot = np.zeros(n, dtype=bool)
    hot[idx.reshape(-1)] = True
    shape = [1] * x.ndim
    if x.ndim:
        shape[d] = n
    mask = hot.reshape(shape)
    if isinstance(value, Tensor):
        value = _value_tensor("index_fill_", input, value)
        return save_index(IndexFill.apply(input, value, mask=mask, tensor_value=True), index)
    out = IndexFill.apply(input, np.asarray(value).astype(x.dtype)[()], mask=mask,
                          tensor_value=False)  # fmt: skip
    return save_index(out, index)


class MaskedScatter(Op):
    """``x`` with the leading elements of ``source`` (in order) where the mask is True; the
    gradient: ``x`` gets it where the mask is False, ``source`` its leading elements get
    it from the masked places (zeros for the ones left unread)."""

    torch_name = "MaskedScatterBackward0"
    save_inputs = False

    def forward(self, x, src, mask):
        self.mask, self.s_shape, self.k = mask, src.shape, int(np.count_nonzero(mask))
        out = x.copy()
        out[mask] = src.reshape(-1)[: self.k]
        return out

    def backward(self, g):
        gx = gs = None
        if self.needs(0):
            zero = g._data.dtype.type(0)
            gx = MaskedFill.apply(g, zero, mask=self.mask, tensor_value=False)
        if self.needs(1):
            gs = Index.apply(g, key=(self.mask,), unique=True)
            n = int(np.prod(self.s_shape))
            if n != self.k:
                gs = BasicIndexScatter.apply(gs, key=(slice(0, self.k),), shape=(n,),
                                             tname="SliceBackward0")  # fmt: skip
            if self.s_shape != (n,):
                gs = gs.reshape(self.s_shape)
        return gx, gs


@op(inplace=True)
def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``input`` (broadcast with ``mask``) with the elements of ``source``, in order, copied
    where ``mask`` is True; ``source`` needs at least as many elements as the mask has True
    values. ``masked_scatter_`` refuses a source sharing self's memory (torch reads it as it
    writes, seeing its own writes). A non-tensor ``source`` gets the TypeError of torch's
    function (its method numbers the arguments one less)."""
    if not isinstance(source, Tensor):
        raise TypeError(
            "masked_scatter(): argument 'source' (position 3) must be Tensor, not "
            f"{type(source).__name__}"
        )
    x, s = input._data, source._data
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    shape = infer_size(m.shape, x.shape)
    if s.dtype != x.dtype:
        raise RuntimeError(
            "masked_scatter: expected self and source to have same dtypes but got"
            f"{scalar_type_name(x)} and {scalar_type_name(s)}"
        )
    if m.dtype != np.bool_:
        raise RuntimeError(
            "masked_scatter_ only supports boolean masks, but got mask with dtype "
            f"{scalar_type_name(m)}"
        )
    if m.shape != shape:
        m = np.broadcast_to(m, shape)
    if np.count_nonzero(m) > s.size:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    if x.shape != shape:
        input = expand(input, shape)
    return save_index(MaskedScatter.apply(input, source, mask=m), mask)


class MaskedSelect(Index):
    """The elements where the (broadcast) mask is True, as a 1-D tensor."""

    torch_name = "MaskedSelectBackward0"
    save_inputs = True  # torch saves self (and the mask: save_index)


@op
def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """A 1-D tensor of the elements of ``input`` where ``mask`` is True (both broadcast)."""
    x = input._data
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    shape = infer_size(m.shape, x.shape)
    if x.shape != shape:
        input = expand(input, shape)
    if m.shape != shape:
        m = np.broadcast_to(m, shape)
    return save_index(MaskedSelect.apply(input, key=(m,), unique=True), mask)


@overload  # the overloads are for type checkers (chainrule._stubs copies them)
def nonzero(input: Tensor, *, as_tuple: Literal[False] = False) -> Tensor: ...
@overload
def nonzero(input: Tensor, *, as_tuple: Literal[True]) -> tuple[Tensor, ...]: ...
@overload
def nonzero(input: Tensor, *, as_tuple: bool) -> Tensor | tuple[Tensor, ...]: ...
@op
def nonzero(input: Tensor, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
    """Indices of the nonzero elements: an (n, ndim) int64 tensor, or with ``as_tuple`` one
    1-D tensor per dim (a 0-d input counts as 1-d there)."""
    x = input._data
    if as_tuple:
        return tuple(
            _make(a.astype(np.int64, copy=False))
            for a in np.nonzero(x.reshape(-1) if not x.ndim else x)
        )
    return _make(np.argwhere(x).astype(np.int64, copy=False))


@op
def argwhere(input: Tensor) -> Tensor:
    """Indices of the nonzero elements as an (n, ndim) int64 tensor."""
    return nonzero(input)
