"""Extremes and logic: amax, amin, aminmax, max, min (values and indices), argmax, argmin,
all, any."""

from __future__ import annotations

import collections
from typing import Any, overload

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule.dtypes import kernel_missing
from chainrule.graph import grad_mode
from chainrule.ops.elementwise.select import maximum, minimum, where
from chainrule.ops.op import Op, save_index
from chainrule.ops.reduce.sums import axes_of, keep, keep_all


def _return_type(name: str) -> type:
    """A named tuple ``(values, indices)`` like ``torch.return_types.<name>``."""
    cls = collections.namedtuple(name, ["values", "indices"])
    cls.__module__ = "chainrule.return_types"
    cls.__qualname__ = name
    cls.__repr__ = lambda self: (
        f"chainrule.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"
    )
    return cls


max_type, min_type = _return_type("max"), _return_type("min")


class Extremum(Op):
    """amax/amin, and max/min of all elements: ties share the gradient evenly (torch)."""

    jvp_rule = "reduction"

    save_output = True

    def forward(self, x, axes, keepdim, largest, torch_name):
        self.axes, self.keepdim, self.torch_name = axes, keepdim, torch_name
        return (np.max if largest else np.min)(x, axis=axes, keepdims=keepdim)

    def backward(self, g):
        x = self.inputs[0]._data
        nd = x.ndim
        out = self.out_data.reshape(_kept(x, self.axes))
        mask = x == out
        if self.torch_name[0] == "A":  # amax/amin: a slice with a nan gets nan (torch)
            with np.errstate(divide="ignore", invalid="ignore"):
                w = mask / mask.sum(axis=self.axes, keepdims=True)
        else:  # max/min of all: the nans share the gradient (torch)
            if np.isnan(out).any():
                mask |= np.isnan(x) & np.isnan(out)
            # torch puts g / count into zeros (index_put): elsewhere +0, even for inf or nan g
            if not grad_mode.enabled:  # a plain backward: in NumPy
                gx = np.zeros_like(x)
                gx[mask] = g._data / mask.sum()
                return _make(gx)
            w = _make((1 / mask.sum(axis=self.axes, keepdims=True)).astype(x.dtype, copy=False))
            return where(mask, keep_all(g, self.axes, self.keepdim, nd) * w, 0.0)
        return keep_all(g, self.axes, self.keepdim, nd) * _make(w.astype(x.dtype, copy=False))


def _kept(x: np.ndarray, axes: tuple[int, ...] | None) -> tuple[int, ...]:
    return tuple(1 if axes is None or i in axes else s for i, s in enumerate(x.shape))


def _check_nonempty(name: str, input: Tensor, axes: tuple[int, ...] | None) -> None:
    shape = input._data.shape
    if axes is None:
        if input._data.size == 0:
            raise RuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                "Specify the reduction dim with the 'dim' argument."
            )
        return
    for a in axes:
        if shape and shape[a] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {a} to have non-zero size.")


@op
def amax(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Largest value over ``dim`` (all if empty); ties share the gradient evenly."""
    if input._data.dtype.kind == "c":
        raise kernel_missing("max_values_cpu", input)
    axes = axes_of(dim, input._data.ndim)
    _check_nonempty("amax", input, axes)
    return Extremum.apply(input, axes=axes, keepdim=keepdim, largest=True,
                          torch_name="AmaxBackward0")  # fmt: skip


@op
def amin(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Smallest value over ``dim`` (all if empty); ties share the gradient evenly."""
    if input._data.dtype.kind == "c":
        raise kernel_missing("min_values_cpu", input)
    axes = axes_of(dim, input._data.ndim)
    _check_nonempty("amin", input, axes)
    return Extremum.apply(input, axes=axes, keepdim=keepdim, largest=False,
                          torch_name="AminBackward0")  # fmt: skip


class AminmaxMax(Extremum):
    """aminmax's second output: torch's one node gives (min, max); here two nodes, this
    one naming its output as torch's output 1."""

    output_nr = 1


aminmax_type = collections.namedtuple("aminmax", ["min", "max"])
aminmax_type.__module__ = "chainrule.return_types"
aminmax_type.__repr__ = lambda self: (  # type: ignore[method-assign]
    f"chainrule.return_types.aminmax(\nmin={self.min!r},\nmax={self.max!r})"
)


@op
def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> Any:
    """The named tuple ``(min, max)`` over ``dim`` (all elements if None), each as ``amin``
    and ``amax``: ties share the gradient evenly."""
    x = input._data
    if x.dtype.kind == "c":
        raise kernel_missing("aminmax_cpu", input)
    if dim is not None and not isinstance(dim, int | np.integer):
        raise TypeError(f"aminmax(): argument 'dim' must be int, not {type(dim).__name__}")
    if dim is None:
        if x.size == 0:
            raise RuntimeError(
                "aminmax(): cannot compute aminmax over an empty dimension as the operation "
                "has no identity."
            )
        axes = None
    else:
        d = wrap_dim(int(dim), x.ndim)
        if x.ndim and x.shape[d] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
        axes = (d,) if x.ndim else None
    keep = keepdim and (dim is None or x.ndim > 0)
    lo = Extremum.apply(input, axes=axes, keepdim=keep, largest=False,
                        torch_name="AminmaxBackward0")  # fmt: skip
    hi = AminmaxMax.apply(input, axes=axes, keepdim=keep, largest=True,
                          torch_name="AminmaxBackward0")  # fmt: skip
    return aminmax_type(lo, hi)


class Select(Op):
    """max/min along a dim: the value at the index picked (the first extreme, as torch)."""

    jvp_rule = "reduction"

    def reduced_axes(self):
        return (self.dim,) if self.shape else None, self.keepdim

    save_inputs = False

    def forward(self, x, idx, dim, keepdim):
        self.idx, self.dim, self.keepdim, self.shape = idx, dim, keepdim, x.shape
        if not x.ndim:
            return x.copy()
        v = np.take_along_axis(x, idx, axis=dim)
        return v if keepdim else np.squeeze(v, dim)

    def backward(self, g):
        if not self.shape:  # torch scatters into zeros: a new tensor, not g itself
            return g.clone()
        if not grad_mode.enabled:  # a plain backward: scatter in NumPy
            gk = g._data if self.keepdim else np.expand_dims(g._data, self.dim)
            gx = np.zeros(self.shape, gk.dtype)
            np.put_along_axis(gx, self.idx, gk, axis=self.dim)
            return _make(gx)
        shape = [1] * len(self.shape)
        shape[self.dim] = self.shape[self.dim]
        hot = np.arange(self.shape[self.dim]).reshape(shape) == self.idx
        # torch scatters g into zeros: elsewhere +0, even for an inf or nan g
        return where(hot, keep(g, (self.dim,), self.keepdim), 0.0)


class MaxSelect(Select):
    torch_name = "MaxBackward0"


class MinSelect(Select):
    torch_name = "MinBackward0"


def _extreme(name: str, input: Tensor, dim: Any, keepdim: bool, other: Any) -> Any:
    largest = name == "max"
    if other is not None or isinstance(dim, Tensor):
        return (maximum if largest else minimum)(input, dim if other is None else other)
    if input._data.dtype.kind == "c":
        if dim is None:
            raise kernel_missing(f"{name}_all", input)
        raise RuntimeError(f"{name}(): does not support complex input")
    if dim is None:
        _check_nonempty(name, input, None)
        return Extremum.apply(input, axes=None, keepdim=False, largest=largest,
                              torch_name=f"{name.capitalize()}Backward1")  # fmt: skip
    if not isinstance(dim, int | np.integer):
        raise TypeError(
            f"{name}() received an invalid combination of arguments - got (Tensor, "
            f"{type(dim).__name__}), but expected one of:\n * (Tensor input)\n"
            " * (Tensor input, Tensor other, *, Tensor out = None)\n"
            " * (Tensor input, int dim, bool keepdim = False, *, tuple of Tensors out = None)\n"
        )
    rt = max_type if largest else min_type
    d = wrap_dim(int(dim), input._data.ndim)
    if input._data.ndim == 0:  # the index is saved (and version-checked) all the same
        idx = np.zeros((), dtype=np.int64)
        values = (MaxSelect if largest else MinSelect).apply(input, idx=idx, dim=0,
                                                              keepdim=keepdim)  # fmt: skip
        indices = _make(idx)
        return rt(save_index(values, indices), indices)
    _check_nonempty(name, input, (d,))
    idx = (np.argmax if largest else np.argmin)(input._data, axis=d, keepdims=True)
    values = (MaxSelect if largest else MinSelect).apply(input, idx=idx, dim=d, keepdim=keepdim)
    indices = _make(idx if keepdim else np.squeeze(idx, d))
    return rt(save_index(values, indices), indices)


# the overloads are for type checkers (chainrule._stubs copies them): a reduction or the
# elementwise form is a Tensor, max(x, dim) the named tuple (values, indices)
@overload
def max(input: Tensor) -> Tensor: ...
@overload
def max(input: Tensor, dim: Tensor) -> Tensor: ...
@overload
def max(input: Tensor, *, other: Tensor) -> Tensor: ...
@overload
def max(input: Tensor, dim: int, keepdim: bool = False) -> Any: ...
@op
def max(input: Tensor, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:
    """``max(input)``: the largest element (ties share the gradient evenly);
    ``max(input, dim, keepdim=False)``: ``(values, indices)``, the gradient going to the
    index returned; ``max(input, other)``: ``maximum``."""
    return _extreme("max", input, dim, keepdim, other)


@overload
def min(input: Tensor) -> Tensor: ...
@overload
def min(input: Tensor, dim: Tensor) -> Tensor: ...
@overload
def min(input: Tensor, *, other: Tensor) -> Tensor: ...
@overload
def min(input: Tensor, dim: int, keepdim: bool = False) -> Any: ...
@op
def min(input: Tensor, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:
    """Like ``max``, for the smallest elements."""
    return _extreme("min", input, dim, keepdim, other)


def _arg(name: str, input: Tensor, dim: Any, keepdim: bool) -> Tensor:
    fn = np.argmax if name == "argmax" else np.argmin
    x = input._data
    if x.dtype == np.bool_ or x.dtype.kind == "c":
        kind = "bool" if x.dtype == np.bool_ else "complex"
        raise RuntimeError(f"{name}(): does not support {kind} input")
    if dim is None:
        if x.size == 0:
            raise IndexError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
            )
        i = np.asarray(fn(x), dtype=np.int64)
        return _make(i.reshape((1,) * x.ndim) if keepdim else i)
    d = wrap_dim(int(dim), x.ndim)
    if x.ndim == 0:
        return _make(np.zeros((), dtype=np.int64))
    if x.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    return _make(np.asarray(fn(x, axis=d, keepdims=keepdim), dtype=np.int64))


@op
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the (first) largest element; over the flattened tensor when ``dim`` is None."""
    return _arg("argmax", input, dim, keepdim)


@op
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the (first) smallest element; over the flattened tensor when ``dim`` is None."""
    return _arg("argmin", input, dim, keepdim)


@op
def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    """The number of nonzero elements (int64), over ``dim`` (an int or a tuple; all if None)."""
    axes = None if dim is None else axes_of(dim, input._data.ndim)
    return _make(np.asarray(np.count_nonzero(input._data, axis=axes), dtype=np.int64))


def _logic(fn: Any, input: Tensor, dim: Any, keepdim: bool) -> Tensor:
    x = input._data
    if dim is not None and not isinstance(dim, int | np.integer) and len(dim) == 0:
        axes = ()  # all/any over dim=() reduce nothing (unlike sum), as in torch
    else:
        axes = axes_of(dim, x.ndim)
    r = np.asarray(fn(x, axis=axes, keepdims=keepdim))
    return _make(r.astype(np.uint8) if x.dtype == np.uint8 else r)


@op
def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether every element over ``dim`` is nonzero (bool; uint8 for uint8 input)."""
    return _logic(np.all, input, dim, keepdim)


@op
def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether some element over ``dim`` is nonzero (bool; uint8 for uint8 input)."""
    return _logic(np.any, input, dim, keepdim)
