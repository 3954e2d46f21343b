"""addcmul and addcdiv: ``input + value * tensor1 * tensor2`` (``/ tensor2``) in one op, as
hand-written optimizers use them (``p.addcdiv_(m, v.sqrt() + eps, value=-lr)``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._fp import quiet
from chainrule._registry import op
from chainrule._tensor import Tensor
from chainrule.ops.broadcast import _cast, as_tensor_arg
from chainrule.ops.op import Op

_INTEGER_ADDCDIV = (
    "Integer division with addcdiv is no longer supported, and in a future  release addcdiv "
    "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can "
    "be implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
    "integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future "
    "addcdiv behavior is just the latter implementation: (input + value * tensor1 / tensor2), "
    "for all dtypes."
)


class Addcmul(Op):
    formula = "d(a + v b c) = g, v g c, v g b"
    jvp_rule = "diagonal"
    elementwise = True
    saved_for = ((), (2,), (1,))  # torch's: each factor for the other's gradient

    def forward(self, a, b, c, value):
        self.value = value
        return a + value * b * c  # torch's order: (value * b) * c, then + a

    def backward(self, g):
        _, b, c = self.inputs
        v = self.value
        gb = g * v * c if self.needs(1) else None
        gc = g * v * b if self.needs(2) else None
        return g if self.needs(0) else None, gb, gc


class Addcdiv(Op):
    formula = "d(a + v b / c) = g, v g / c, -v g b / c²"
    jvp_rule = "diagonal"
    elementwise = True
    saved_for = ((2,), (2,), (1, 2))  # torch's (tensor2 even for input's gradient)

    @quiet
    def forward(self, a, b, c, value):
        self.value = value
        return a + value * b / c  # torch's order: (value * b) / c, then + a

    def backward(self, g):
        _, b, c = self.inputs
        v = self.value
        gb = g * v / c if self.needs(1) else None
        gc = -g * v * b / (c * c) if self.needs(2) else None
        return g if self.needs(0) else None, gb, gc


def _addc(cls: type[Op], input: Tensor, tensor1: Any, tensor2: Any, value: Any) -> Tensor:
    operands = [as_tensor_arg(x) for x in (input, tensor1, tensor2)]
    dt = dtypes.result_type(*operands)
    a, b, c = (_cast(x, np.dtype(dt)) for x in operands)
    if dtypes.kind_of(np.dtype(dt)) in "iub":  # torch reads value as the integer type
        value = int(value)
    return cls.apply(a, b, c, value=value)


@op(inplace=True)
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 * tensor2`` element by element (broadcast)."""
    return _addc(Addcmul, input, tensor1, tensor2, value)


@op(inplace=True)
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 / tensor2`` element by element (broadcast); integer
    ``tensor1`` and ``tensor2`` are refused, as torch's."""
    kinds = [dtypes.kind_of(t._data.dtype) for t in (tensor1, tensor2) if isinstance(t, Tensor)]
    if len(kinds) == 2 and all(k in "iub" for k in kinds):
        raise RuntimeError(_INTEGER_ADDCDIV)
    return _addc(Addcdiv, input, tensor1, tensor2, value)
