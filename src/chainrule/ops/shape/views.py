"""Shape operations: views and rearrangements (reshape, transpose, cat, ...)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule._tensor import Tensor
from chainrule.ops.op import Op, expand, sum_to_size

__all__ = ["reshape", "expand", "sum_to_size"]

TENSOR_METHODS: dict = {"expand": expand, "sum_to_size": sum_to_size}


def _shape_arg(shape: tuple) -> tuple:
    if len(shape) == 1 and not isinstance(shape[0], int | np.integer):
        return tuple(shape[0])
    return tuple(shape)


def infer_shape(shape: tuple, numel: int) -> tuple:
    """Resolve one -1 in ``shape``; torch's errors for bad shapes."""
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class Reshape(Op):
    save_inputs = False
    torch_name = "ViewBackward0"

    def forward(self, x, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.in_shape)


def reshape(input: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape (a view when the memory layout allows)."""
    shape = infer_shape(_shape_arg(shape), input._data.size)
    return Reshape.apply(input, shape=shape)


TENSOR_METHODS["reshape"] = reshape
