"""Reductions over dimensions: sum, mean, ... (dim: None, int, negative or tuple; keepdim)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._tensor import Tensor
from chainrule.ops.op import Op, dims, expand

__all__ = ["sum", "mean"]


def _keep(grad: Tensor, axes: tuple[int, ...], keepdim: bool) -> Tensor:
    """Put the reduced axes back (size 1) so ``grad`` broadcasts against the input."""
    if keepdim or not axes:
        return grad
    shape = list(grad._data.shape)
    for a in axes:
        shape.insert(a, 1)
    return grad.reshape(shape)


class Sum(Op):
    save_inputs = False

    def forward(self, x, axes, keepdim, dtype):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        self.dim_given = axes is not None
        return np.sum(x, axis=axes, keepdims=keepdim, dtype=dtype)

    def name(self):
        return f"SumBackward{1 if self.dim_given else 0}"

    def backward(self, g):
        axes = self.axes if self.axes is not None else tuple(range(len(self.in_shape)))
        return expand(_keep(g, axes, self.keepdim), self.in_shape)


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Sum of elements over ``dim`` (all if None). Integers and bools sum to int64."""
    np_dtype = dtypes.to_np(dtype)
    if np_dtype is None and input._data.dtype.kind in "iub":
        np_dtype = np.dtype(np.int64)
    axes = None if dim is None else dims(dim, input._data.ndim)
    return Sum.apply(input, axes=axes, keepdim=keepdim, dtype=np_dtype)


class Mean(Op):
    save_inputs = False

    def forward(self, x, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        self.count = int(np.prod([x.shape[a] for a in axes])) if axes is not None else x.size
        return np.mean(x, axis=axes, keepdims=keepdim)

    def name(self):
        return f"MeanBackward{0 if self.axes is None else 1}"

    def backward(self, g):
        axes = self.axes if self.axes is not None else tuple(range(len(self.in_shape)))
        return expand(_keep(g, axes, self.keepdim) / self.count, self.in_shape)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Arithmetic mean over ``dim`` (all if None); floating or complex inputs only."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind not in "fc":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {_torch_type_name(input)}"
        )
    axes = None if dim is None else dims(dim, input._data.ndim)
    return Mean.apply(input, axes=axes, keepdim=keepdim)


def _torch_type_name(t: Tensor) -> str:
    """torch's short name of a dtype in messages: Float, Double, Long, Int, Bool ..."""
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}.get(t.dtype.name, t.dtype.name)  # fmt: skip


TENSOR_METHODS = {name: globals()[name] for name in __all__}
