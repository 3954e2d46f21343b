"""Signs: copysign, heaviside and signbit.

copysign is differentiable in its magnitude (its sign argument gets a zero gradient, as
torch's); heaviside records a node whose backward raises, as torch's; signbit is a boolean
test.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._fp import quiet
from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule.dtypes import kind_of
from chainrule.ops.broadcast import binary, has_complex
from chainrule.ops.elementwise.select import where
from chainrule.ops.op import Op


class Copysign(Op):
    """``|a|`` with ``b``'s sign: d/da = result / a (0 where a = 0), d/db = 0."""

    formula = "d copysign(a, b) = g * copysign(a, b) / a (0 at a = 0), 0"
    jvp_rule = "diagonal"
    elementwise = True
    # torch's: self for self's gradient; the result whenever a gradient is needed (its
    # codegen saves a result unconditionally)
    saved_for = ((0, "result"), ("result",))

    @quiet
    def forward(self, a, b):
        return np.copysign(a, b)

    @quiet
    def backward(self, g):
        a = self.inputs[0]
        ga = gb = None
        if self.needs(0):
            ga = g * where(a == 0, 0.0, self.output / a)
        if self.needs(1):  # torch's zeros_like(other) (summed back to other's shape)
            gb = _make(np.zeros(g._data.shape, dtype=g._data.dtype))
        return ga, gb


@op(inplace=True)
def copysign(input: Tensor, other: Any) -> Tensor:
    """The magnitude of ``input`` with the sign of ``other`` (its sign bit: -0.0 counts as
    negative); integers give the default float."""
    if has_complex(input, other):
        raise dtypes.kernel_missing("copysign_cpu", dtypes.result_type(input, other))
    out = binary(Copysign, input, other, float_result=True)
    if out.grad_fn is not None and not isinstance(other, Tensor):
        out.grad_fn.overload = 1  # CopysignBackward1: the Scalar overload
    return out


class Heaviside(Op):
    """Not differentiable in torch: the node's backward raises, as torch's does."""

    elementwise, save_inputs = True, False
    torch_name = "NotImplemented"

    def forward(self, x, values):
        return np.where(x == 0, values, x > 0).astype(x.dtype)

    def backward(self, g):
        raise RuntimeError("derivative for aten::heaviside is not implemented")


@op(inplace=True)
def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """The step function: 0 where ``input < 0``, ``values`` where it is 0, 1 where it is
    positive (nan counts as not positive); ``values`` a tensor of ``input``'s dtype."""
    if not isinstance(values, Tensor):
        raise TypeError(
            "heaviside(): argument 'values' (position 2) must be Tensor, not "
            f"{type(values).__name__}"
        )
    if has_complex(input, values):
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    if input._data.dtype != values._data.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    return binary(Heaviside, input, values)


@op
def signbit(input: Tensor) -> Tensor:
    """Whether each element's sign bit is set (True for -0.0 and a negative nan; False
    for every bool)."""
    data = input._data
    kind = kind_of(data.dtype)
    if kind == "c":
        raise NotImplementedError("signbit is not implemented for complex tensors.")
    if kind == "b":
        return _make(np.zeros(data.shape, dtype=bool))
    if kind in "iu":
        return _make(np.asarray(data < 0))
    return _make(
        np.asarray(np.signbit(data if data.dtype.kind == "f" else data.astype(np.float32)))
    )
