"""Broadcasting and promotion, shared by every op: dims, unbroadcast_shape, sum_to_size and
expand (ops, each the other's adjoint), as_tensor_arg, broadcast_error and binary (torch's
type promotion for two-input ops); re-exported by op.py, which loads this module."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._registry import tensor_method
from chainrule._tensor import Tensor
from chainrule._tensor import _wrap_dim as wrap_dim
from chainrule.ops.op import Op

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


# --------------------------------------------------------------------------- broadcasting


def unbroadcast_shape(shape: tuple, target: tuple) -> tuple[tuple, tuple]:
    """Axes to sum so a gradient of ``shape`` becomes ``target`` (leading, then size-1)."""
    lead = len(shape) - len(target)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(target) if s == 1 and shape[lead + i] != 1
    )
    return axes, target


class SumToSize(Op):
    """Sum a broadcast gradient back to a smaller shape (the adjoint of ``expand``)."""

    jvp_rule = "linear"
    save_inputs = False
    torch_name = "SumToSizeBackward0"

    def forward(self, x: np.ndarray, shape: tuple) -> np.ndarray:
        self.in_shape = x.shape
        axes, _ = unbroadcast_shape(x.shape, shape)
        return np.sum(x, axis=axes, keepdims=True).reshape(shape) if axes else x.reshape(shape)

    def backward(self, grad: Tensor) -> Tensor:
        return expand(grad, self.in_shape)


class Expand(Op):
    """Broadcast to a larger shape without copying (a read-only NumPy view)."""

    jvp_rule = "linear"
    save_inputs = False

    def forward(self, x: np.ndarray, shape: tuple) -> np.ndarray:
        self.in_shape = x.shape
        return np.broadcast_to(x, shape)

    def backward(self, grad: Tensor) -> Tensor:
        return sum_to_size(grad, self.in_shape)


@tensor_method
def sum_to_size(x: Tensor, *size: Any) -> Tensor:
    """Sum ``x`` down to ``size``, a shape that ``x``'s shape is expandable from."""
    shape = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else tuple(size)
    if x._data.shape == shape:
        return x
    try:
        ok = np.broadcast_shapes(shape, x._data.shape) == x._data.shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"size {list(shape)} is not expandable to size {list(x._data.shape)}.")
    return SumToSize.apply(x, shape=shape)


_LEGACY = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
           "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
           "complex64": "ComplexFloat", "complex128": "ComplexDouble"}  # fmt: skip


@tensor_method
def expand(x: Tensor, *sizes: Any, size: Any = None) -> Tensor:
    """A broadcast view of ``x`` with ``sizes`` (-1 keeps a dimension), like ``Tensor.expand``."""
    if size is not None:
        sizes = (size,)
    shape = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else tuple(sizes)
    nd = x._data.ndim
    if len(shape) < nd:
        raise RuntimeError(
            f"expand(torch.{_LEGACY.get(x._data.dtype.name, '')}Tensor{{{list(x._data.shape)}}}, "
            f"size={list(shape)}): the number of "
            "sizes provided "
            f"({len(shape)}) must be greater or equal to the number of dimensions in the tensor "
            f"({nd})"
        )
    lead = len(shape) - nd
    full = list(shape)
    for i, s in enumerate(x._data.shape):
        want = shape[lead + i]
        if want == -1:
            full[lead + i] = s
        elif s != want and s != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({want}) must match the existing size ({s}) "
                f"at non-singleton dimension {lead + i}.  Target sizes: {list(shape)}.  "
                f"Tensor sizes: {list(x._data.shape)}"
            )
    if any(s < 0 for s in full[:lead]):
        raise RuntimeError(
            f"The expanded size of the tensor (-1) isn't allowed in a leading, non-existing "
            f"dimension {full.index(-1)}"
        )
    full = tuple(full)
    if full == x._data.shape:
        return x
    return Expand.apply(x, shape=full)


# --------------------------------------------------------------------------- promotion


def as_tensor_arg(x: Any, name: str = "other") -> Any:
    """Python and NumPy scalars pass through (as Python numbers); anything else must be a
    tensor."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, numbers.Number):
        return x.item() if isinstance(x, np.generic) else x
    if isinstance(x, np.ndarray):
        from chainrule.creation import tensor

        return tensor(x)
    raise TypeError(f"{name} must be a Tensor or a number, not {type(x).__name__}")


def _cast(x: Any, dt: np.dtype) -> Any:
    if isinstance(x, Tensor):
        if x._data.dtype != dt:
            return x.to(dtypes.FROM_NP[dt])
        return x
    return x


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


def binary(cls: type[Op], a: Any, b: Any, float_result: bool = False) -> Tensor:
    """Apply a two-input elementwise op with torch's type promotion.

    Python numbers stay numbers (NumPy then keeps the tensor's dtype); tensors of another
    dtype are cast with a recorded ``to`` so their gradients come back in their own dtype.
    ``float_result`` promotes integer results to the default float (true division).
    """
    try:
        return _binary(cls, a, b, float_result)
    except ValueError:
        error = broadcast_error(a, b)
        if error is None:
            raise
        raise error from None


def _binary(cls: type[Op], a: Any, b: Any, float_result: bool) -> Tensor:
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._data.dtype == b._data.dtype and (not float_result or a._data.dtype.kind in "fc"):
                return cls.apply(a, b)
        elif type(b) is float or type(b) is int:
            if a._data.dtype.kind in "fc":
                return cls.apply(a, b)
        b = as_tensor_arg(b)
    else:
        a = as_tensor_arg(a, "input")
        b = as_tensor_arg(b)
    dt = dtypes.result_type(a, b)
    if float_result and dt.kind not in "fc":
        dt = dtypes.get_default_dtype().np
    a, b = _cast(a, dt), _cast(b, dt)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError("expected at least one Tensor argument")
    # a Python number with a tensor of a lower category: make it an array of the result dtype
    if not isinstance(a, Tensor):
        a = np.asarray(a, dtype=dt)
    if not isinstance(b, Tensor):
        b = np.asarray(b, dtype=dt)
    return cls.apply(a, b)
