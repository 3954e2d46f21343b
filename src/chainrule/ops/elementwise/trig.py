"""The inverse and hyperbolic trigonometric functions (asin, acos, atan, sinh, cosh, asinh,
acosh, atanh, with torch's arc* aliases) and atan2. Each rule is written for real numbers;
a complex input gets torch's conjugate gradient from the engine (``Op._complex_rule``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._fp import quiet
from chainrule._registry import op
from chainrule._tensor import Tensor
from chainrule.ops.broadcast import binary, has_complex
from chainrule.ops.elementwise.unary import _unary, reciprocal, rsqrt
from chainrule.ops.op import Op


def _no_inplace_derivative(name: str) -> NotImplementedError:
    """torch records ``x.asinh_()`` (acosh_, atanh_) as <Name>Backward1, with no rule."""
    return NotImplementedError(
        f"the derivative for 'inplace version of {name}' is not implemented."
    )


class Asin(Op):
    formula = "d asin(a) = g / sqrt(1 - a²)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.arcsin(x)

    def backward(self, g):
        x = self.inputs[0]
        return g * rsqrt(1 - x * x)


class Acos(Op):
    formula = "d acos(a) = -g / sqrt(1 - a²)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.arccos(x)

    def backward(self, g):
        x = self.inputs[0]
        return -g * rsqrt(1 - x * x)


class Atan(Op):
    formula = "d atan(a) = g / (1 + a²)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.arctan(x)

    def backward(self, g):
        x = self.inputs[0]
        return g * reciprocal(1 + x * x)


class Sinh(Op):
    formula = "d sinh(a) = g * cosh(a)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.sinh(x)

    def backward(self, g):
        return g * cosh(self.inputs[0])


class Cosh(Op):
    formula = "d cosh(a) = g * sinh(a)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.cosh(x)

    def backward(self, g):
        return g * sinh(self.inputs[0])


class Asinh(Op):
    formula = "d asinh(a) = g / sqrt(a² + 1)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.arcsinh(x)

    def backward(self, g):
        if self.overload == 1:
            raise _no_inplace_derivative("asinh")
        x = self.inputs[0]
        return g * rsqrt(x * x + 1)


class Acosh(Op):
    formula = "d acosh(a) = g / sqrt(a² - 1)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.arccosh(x)

    def backward(self, g):
        if self.overload == 1:
            raise _no_inplace_derivative("acosh")
        x = self.inputs[0]
        return g * rsqrt(x * x - 1)


class Atanh(Op):
    formula = "d atanh(a) = g / (1 - a²)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.arctanh(x)

    def backward(self, g):
        if self.overload == 1:
            raise _no_inplace_derivative("atanh")
        x = self.inputs[0]
        return g * reciprocal(1 - x * x)


class Atan2(Op):
    """The angle of the point (b, a): ``atan2(a, b)``, in (-pi, pi]."""

    formula = "d atan2(a, b) = g * b / (a² + b²), -g * a / (a² + b²)"
    jvp_rule = "diagonal"
    elementwise = True

    @quiet
    def forward(self, a, b):
        return np.arctan2(a, b)

    def backward(self, g):
        a, b = self.inputs
        scale = g * reciprocal(a * a + b * b)
        return (scale * b if self.needs(0) else None), (-scale * a if self.needs(1) else None)


def _trig(cls: type[Op], name: str, aliases: tuple[str, ...] = ()) -> Any:
    fn = _unary(cls, name, to_float=True)
    fn.__module__ = __name__  # (documented from here)
    return op(fn, aliases=aliases, inplace=True, inplace_function=True)


asin = _trig(Asin, "asin", ("arcsin",))
acos = _trig(Acos, "acos", ("arccos",))
atan = _trig(Atan, "atan", ("arctan",))
asinh = _trig(Asinh, "asinh", ("arcsinh",))
acosh = _trig(Acosh, "acosh", ("arccosh",))
atanh = _trig(Atanh, "atanh", ("arctanh",))
sinh = _trig(Sinh, "sinh")
cosh = _trig(Cosh, "cosh")


@op(aliases=("arctan2",), inplace=True)
def atan2(input: Tensor, other: Tensor) -> Tensor:
    """The angle of the point (other, input) elementwise, in (-pi, pi] (broadcasting;
    integer inputs give the default float dtype)."""
    if has_complex(input, other):
        raise dtypes.kernel_missing("atan2_cpu", dtypes.result_type(input, other))
    return binary(Atan2, input, other, float_result=True)
