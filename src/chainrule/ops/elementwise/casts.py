"""Copies and casts: clone, and ``Tensor.to`` (a recorded dtype cast)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule import _layout, dtypes
from chainrule._registry import op, tensor_method
from chainrule._tensor import Tensor
from chainrule.dtypes import kind_of
from chainrule.ops.op import Op


class Clone(Op):
    fp_quiet = True  # (see Op.fp_quiet)
    layout = None  # the forward keeps torch's preserve_format
    formula = "d clone(a) = g"
    jvp_rule = "linear"
    save_inputs = False

    def forward(self, x, memory_format=None):
        if memory_format is _layout.contiguous_format:
            return np.array(x, order="C", copy=True)
        return _layout.preserve(x)  # torch's default, preserve_format

    def backward(self, g):
        return g


class ToCopy(Op):
    """A cast to another dtype; the gradient is cast back."""

    layout = None  # the forward keeps torch's preserve_format

    jvp_rule = "linear"
    save_inputs = False

    def forward(self, x, dtype, warn=True):
        self.in_dtype = dtypes.FROM_NP[x.dtype]
        if x.dtype.kind == "c" and np.dtype(dtype).kind != "c":
            if warn and not _warned_complex:  # torch warns once per process
                _warned_complex.append(True)
                warnings.warn(_DISCARDS_IMAG, UserWarning, stacklevel=2)
            x = x.real
        return _layout.preserve(x, dtype)

    def backward(self, g):
        if g._data.dtype.kind == "c" and self.in_dtype.np.kind != "c":
            return ToCopy.apply(g, dtype=self.in_dtype.np, warn=False)  # the real part
        return g.to(self.in_dtype)


def real_part(t: Tensor) -> Tensor:
    """The real part of a complex tensor: a recorded cast (traced, differentiable), silent."""
    return ToCopy.apply(t, dtype=t._data.real.dtype, warn=False)


_DISCARDS_IMAG = "Casting complex values to real discards the imaginary part"
_warned_complex: list[bool] = []


@op
def clone(input: Tensor, *, memory_format: Any = _layout.preserve_format) -> Tensor:
    """A copy; by default with ``input``'s strides when it is non-overlapping and dense
    (torch's preserve_format), contiguous with ``memory_format=contiguous_format``."""
    _layout.check_format(memory_format, "clone()")
    return Clone.apply(input, memory_format=memory_format)


@tensor_method
def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """``tensor.to(dtype)``, ``.to(other)``, ``.to('cpu')``; ``copy=True`` forces a copy."""
    dt = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("device", None)
    kwargs.pop("non_blocking", None)
    fmt = kwargs.pop("memory_format", _layout.preserve_format)  # used when it copies
    for a in args:
        if isinstance(a, dtypes.dtype):
            dt = a
        elif isinstance(a, Tensor):
            dt = a.dtype
        elif a not in ("cpu", None) and str(a) != "cpu":
            raise RuntimeError(f"chainrule runs on the CPU only; cannot move a tensor to {a!r}")
    if dt is None or dt.np == self._data.dtype:
        return clone(self, memory_format=fmt) if copy else self
    _layout.check_format(fmt, "to()")
    if fmt is _layout.contiguous_format:
        self = self.contiguous()
    if self._requires_grad and kind_of(dt.np) not in "fc":
        # torch allows the cast; the result simply stops requiring grad
        return ToCopy.apply(self.detach(), dtype=dt.np)
    return ToCopy.apply(self, dtype=dt.np)


def _cast(name: str, dt: dtypes.dtype) -> None:
    def cast(self: Tensor) -> Tensor:
        return to(self, dt)

    cast.__name__ = cast.__qualname__ = name
    cast.__doc__ = f"``self.to({dt})``"
    tensor_method(cast)


for _name, _dt in [
    ("float", dtypes.float32), ("double", dtypes.float64), ("half", dtypes.float16),
    ("bfloat16", dtypes.bfloat16),
    ("int", dtypes.int32), ("long", dtypes.int64), ("short", dtypes.int16), ("bool", dtypes.bool),
]:  # fmt: skip
    _cast(_name, _dt)


@tensor_method(name="type")
def type_(self: Tensor, dtype: Any = None) -> Any:
    """The tensor's legacy type name (``chainrule.FloatTensor``), or a cast to ``dtype``
    (a dtype, a legacy type, or its name: ``x.type("torch.LongTensor")``)."""
    if dtype is None:
        return f"chainrule.{dtypes.tensor_type_name(self.dtype)}"
    if isinstance(dtype, str) and dtype.split(".")[0] in ("torch", "chainrule"):
        from chainrule.legacy import BY_NAME

        legacy = BY_NAME.get(dtype.split(".")[-1])
        if legacy is None:
            raise ValueError(f"invalid type: '{dtype}'")
        dtype = legacy
    return to(self, getattr(dtype, "dtype", dtype))


@tensor_method
def type_as(self: Tensor, other: Tensor) -> Tensor:
    """``self`` cast to ``other``'s dtype (a recorded ``to``)."""
    return to(self, other.dtype)
