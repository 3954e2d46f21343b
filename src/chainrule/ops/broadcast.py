"""Dims and promotion, shared by every op: dims, as_tensor_arg, broadcast_error and binary
(torch's type promotion for two-input ops). The broadcasting pair sum_to_size / expand lives
in op.py, whose backward uses it."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._tensor import Tensor, wrap_dim
from chainrule.creation import tensor
from chainrule.dtypes import kind_of
from chainrule.ops.op import Op, save_index

# --------------------------------------------------------------------------- dims


def dims(dim: Any, ndim: int) -> tuple[int, ...]:
    """``dim`` (None, an int or a sequence, negatives allowed) as sorted non-negative axes;
    torch's IndexError when out of range and RuntimeError when repeated."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int | np.integer):
        return (wrap_dim(int(dim), ndim),)
    out = tuple(sorted(wrap_dim(int(d), ndim) for d in dim))
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {out[0]} appears multiple times in the list of dims")
    return out


# --------------------------------------------------------------------------- promotion


def as_tensor_arg(x: Any, name: str = "other") -> Any:
    """Python and NumPy scalars pass through (as Python numbers); anything else must be a
    tensor."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, numbers.Number):
        return x.item() if isinstance(x, np.generic) else x
    if isinstance(x, np.ndarray):
        return tensor(x)
    raise TypeError(f"{name} must be a Tensor or a number, not {type(x).__name__}")


def _cast(x: Any, dt: np.dtype) -> Any:
    if isinstance(x, Tensor):
        if x._data.dtype != dt:
            return x.to(dtypes.FROM_NP[dt])
        return x
    return x


def number_as(x: Any, dt: np.dtype) -> np.ndarray:
    """A Python number as an array of ``dt``; an int past an integer dtype's range wraps
    around, as torch's cast of it (NumPy 2 raises OverflowError)."""
    if type(x) is int and dt.kind in "iu":
        info = np.iinfo(dt)
        if not info.min <= x <= info.max:
            if not -(2**63) <= x < 2**64:  # past 64 bits: torch raises too
                raise OverflowError("int too big to convert")
            return np.asarray(x & ((1 << (8 * dt.itemsize)) - 1), np.uint64).astype(dt)
    return np.asarray(x, dtype=dt)


def has_complex(*operands: Any) -> bool:
    """Is any of the operands a complex tensor (for the ops torch refuses them)?"""
    return any(isinstance(x, Tensor) and x._data.dtype.kind == "c" for x in operands)


def broadcast_error(*operands: Any) -> RuntimeError | None:
    """torch's error for shapes that do not broadcast (None if they do). Like torch, the
    shapes are broadcast pairwise from the left, so a size-0 dimension is a real size."""
    shapes = [tuple(np.shape(x._data if isinstance(x, Tensor) else x)) for x in operands]
    res = shapes[0]
    for s in shapes[1:]:
        n = max(len(res), len(s))
        pa, pb = (1,) * (n - len(res)) + res, (1,) * (n - len(s)) + s
        for i in range(n - 1, -1, -1):
            if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
                return RuntimeError(
                    f"The size of tensor a ({pa[i]}) must match the size of tensor b "
                    f"({pb[i]}) at non-singleton dimension {i}"
                )
        res = tuple(b if a == 1 else a for a, b in zip(pa, pb))
    return None


def binary(cls: type[Op], a: Any, b: Any, float_result: bool = False, **params: Any) -> Tensor:
    """Apply a two-input elementwise op with torch's type promotion.

    Python numbers stay numbers (NumPy then keeps the tensor's dtype); tensors of another
    dtype are cast with a recorded ``to`` so their gradients come back in their own dtype.
    ``float_result`` promotes integer results to the default float (true division);
    ``params`` go to the op (add's ``alpha``).
    """
    try:
        if isinstance(a, Tensor):  # the common cases, as _binary's first tests (one frame less)
            if isinstance(b, Tensor):
                if a._data.dtype == b._data.dtype and (
                    not float_result or kind_of(a._data.dtype) in "fc"
                ):
                    return cls.apply(a, b, **params) if params else cls.apply(a, b)
            elif type(b) is float or type(b) is int:
                k = a._data.dtype.kind  # (bfloat16's is "V": kind_of says "f")
                if k == "f" or k == "c" or kind_of(a._data.dtype) == "f":
                    return cls.apply(a, b, **params) if params else cls.apply(a, b)
        return _binary(cls, a, b, float_result, params)
    except ValueError:
        reraise_broadcast(a, b)
        raise  # (not reached)


def reraise_broadcast(a: Any, b: Any) -> None:
    """In an ``except ValueError`` around a binary op: raise torch's error if the shapes do
    not broadcast, else the ValueError itself."""
    error = broadcast_error(a, b)
    if error is None:
        raise  # (called from the except block: re-raises its ValueError)
    raise error from None


def _binary(cls: type[Op], a: Any, b: Any, float_result: bool, params: dict) -> Tensor:
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._data.dtype == b._data.dtype and (
                not float_result or kind_of(a._data.dtype) in "fc"
            ):
                return cls.apply(a, b, **params)
        elif type(b) is float or type(b) is int:
            if kind_of(a._data.dtype) in "fc":
                return cls.apply(a, b, **params)
        b = as_tensor_arg(b)
    else:
        a = as_tensor_arg(a, "input")
        b = as_tensor_arg(b)
    dt = dtypes.result_type(a, b)
    if float_result and kind_of(dt) not in "fc":
        dt = dtypes.get_default_dtype().np
    given = a, b
    a, b = _cast(a, dt), _cast(b, dt)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError("expected at least one Tensor argument")
    # a Python number with a tensor of a lower category: make it an array of the result dtype
    if not isinstance(a, Tensor):
        a = number_as(a, dt)
    if not isinstance(b, Tensor):
        b = number_as(b, dt)
    out = cls.apply(a, b, **params)
    node = out.grad_fn
    if node is not None and node.inputs is not None:
        # torch's kernel promotes internally and saves the tensor it was given: a write
        # into it must be seen although the rule reads a cast copy
        pairs = [
            (y, x)
            for x, y in zip(given, (a, b))
            if y is not x and isinstance(x, Tensor) and any(s is y for s in node.inputs)
        ]
        if pairs:  # version-checked, and read at backward as they are then (.data writes)
            save_index(out, *[x for _, x in pairs])
            node._recast = tuple(pairs)
    return out
