"""Elementwise math: arithmetic, unary functions, clamp, minimum/maximum, where, lerp, casts.

Each rule is a line of the derivative table: ``d(a*b) = g*b, g*a``. Broadcasting and type
promotion are handled by ``op.binary`` and the ``elementwise`` flag, never here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._tensor import Tensor, _make
from chainrule.ops.kernels import quiet, select
from chainrule.ops.op import Op, as_tensor_arg, binary, broadcast_error

__all__ = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "pow",
    "floor_divide", "remainder", "fmod", "neg", "negative", "abs", "absolute", "exp", "expm1",
    "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "square", "reciprocal", "sin", "cos",
    "tan", "tanh", "sigmoid", "relu", "erf", "sign", "floor", "ceil", "round", "trunc",
    "frac", "clamp", "clip", "minimum", "maximum", "where", "lerp", "clone",
]  # fmt: skip


class Add(Op):
    linear = True
    elementwise, save_inputs = True, False

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g if self.needs(0) else None, g if self.needs(1) else None


class Sub(Op):
    linear = True
    elementwise, save_inputs = True, False

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g if self.needs(0) else None, -g if self.needs(1) else None


class Rsub(Sub):
    """``number - tensor``: torch names it RsubBackward1."""

    torch_name = "RsubBackward1"


class Mul(Op):
    multilinear = True
    elementwise = True

    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.inputs
        return g * b if self.needs(0) else None, g * a if self.needs(1) else None


class Div(Op):
    diagonal = True
    elementwise = True

    @quiet
    def forward(self, a, b):
        return a / b

    @quiet
    def backward(self, g):
        a, b = self.inputs
        ga = g / b if self.needs(0) else None
        gb = -g * a / (b * b) if self.needs(1) else None
        return ga, gb


class Pow(Op):
    """``a ** b``: PowBackward0 for a number exponent, 1 for a tensor, 2 for a number base."""

    diagonal = True
    elementwise, save_output = True, True

    @quiet
    def forward(self, a, b):
        if type(b) is int or type(b) is float:
            if b == 2:  # the common squares and cubes: multiplications, not pow()
                return a * a
            if b == 3:
                return a * a * a
        if type(b) is np.ndarray and b.dtype.kind in "ib" and np.asarray(a).dtype.kind in "iub":
            if b.dtype.kind == "b":  # a bool tensor to a Python bool: a ** True = a
                if a.dtype == np.bool_:
                    return a | ~b
            elif np.any(negative := b < 0):
                return _integer_pow_negative(a, b, negative)
        return np.power(a, b)

    def name(self):
        if self.inputs is not None:  # after backward the inputs are freed: use the cache
            a, b = self.inputs
            self.kind = 2 if not isinstance(a, Tensor) else 0 if not isinstance(b, Tensor) else 1
        return f"PowBackward{self.kind}"

    @quiet
    def backward(self, g):
        self.name()  # remember the name before the inputs are freed
        a, b = self.inputs
        ga = gb = None
        if self.needs(0):  # b a^(b-1), and 0 where b == 0 (torch's convention)
            if isinstance(b, Tensor):
                ga = where(b == 0, 0.0, g * b * a ** (b - 1))
            else:
                ga = g * 0 if b == 0 else g * b * a ** (b - 1)
        if self.needs(1):  # a^b log a, and 0 where a == 0 and b >= 0 (torch's convention)
            if not isinstance(a, Tensor):
                a = _make(np.asarray(a, dtype=b._data.dtype))
            gb = where((a == 0) & (b >= 0), 0.0, g * self.output * log(a))
        return ga, gb


def _integer_pow_negative(a: np.ndarray, b: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Integer ``a ** b`` where some ``b < 0``, as torch: 1 ** -n = 1, (-1) ** -n = ±1, else 0."""
    pos = np.power(a, np.where(negative, 0, b))
    neg = np.where(a == 1, 1, np.where(a == -1, 1 - 2 * (b & 1), 0))
    return np.where(negative, neg, pos).astype(pos.dtype, copy=False)


def _integer_division(kernel: str, a: Any, b: Any) -> None:
    """torch's refusals for integer division: bool inputs, and any zero divisor."""
    if a.dtype == np.bool_:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    if not np.all(b) and a.size:  # an empty result divides nothing
        raise RuntimeError("ZeroDivisionError")


class FloorDivide(Op):
    """Not differentiable in torch: backward raises, as torch's does."""

    diagonal = True
    elementwise, save_inputs = True, False
    torch_name = "NotImplemented"

    @quiet
    def forward(self, a, b):
        if type(a) is np.ndarray and a.dtype.kind in "iub":
            _integer_division("div_floor_cpu", a, b)
        return np.floor_divide(a, b)

    def backward(self, g):
        raise RuntimeError("derivative for aten::floor_divide is not implemented")


class DivFloor(FloorDivide):
    """``div(a, b, rounding_mode='floor')``: piecewise constant, zero gradients (torch)."""

    torch_name = "DivBackward2"

    def backward(self, g):
        zero = _make(np.zeros_like(g._data))
        return zero if self.needs(0) else None, zero if self.needs(1) else None


class DivTrunc(DivFloor):
    """``div(a, b, rounding_mode='trunc')``: the quotient rounded toward zero, same dtype."""

    @quiet
    def forward(self, a, b):
        if type(a) is np.ndarray and a.dtype.kind in "iub":
            _integer_division("div_trunc_cpu", a, b)
            q = np.floor_divide(a, b)
            return q + ((q < 0) & (q * b != a))  # floor -> toward zero where inexact
        return np.trunc(a / b)


class Remainder(Op):
    """Python's ``%`` (result has the divisor's sign): d/da = 1, d/db = -floor(a/b)."""

    diagonal = True
    elementwise = True

    @quiet
    def forward(self, a, b):
        if type(a) is np.ndarray and a.dtype.kind in "iub":
            _integer_division("remainder_cpu", a, b)
        return np.mod(a, b)

    @quiet
    def backward(self, g):
        a, b = self.inputs
        return g if self.needs(0) else None, -g * floor(a / b) if self.needs(1) else None


class Fmod(Remainder):
    """C's ``fmod`` (result has the dividend's sign): d/db = -trunc(a/b)."""

    @quiet
    def forward(self, a, b):
        if type(a) is np.ndarray and a.dtype.kind in "iub":
            _integer_division("fmod_cpu", a, b)
        return np.fmod(a, b)

    @quiet
    def backward(self, g):
        a, b = self.inputs
        return g if self.needs(0) else None, -g * trunc(a / b) if self.needs(1) else None


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    if alpha == 1:
        return binary(Add, input, other)
    return _scaled(Add, input, other, alpha)


def _scaled(cls: type[Op], input: Any, other: Any, alpha: Any) -> Tensor:
    """``input + alpha * other`` in the dtype of ``input + other`` (alpha never promotes)."""
    dt = dtypes.result_type(as_tensor_arg(input, "input"), as_tensor_arg(other))
    if dt.kind in "iub" and isinstance(alpha, float):
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )
    out = binary(cls, input, other * alpha)
    return out if out._data.dtype == dt else out.to(dtypes.FROM_NP[dt])


_BOOL_SUB = (
    "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
    "invert a mask, use the `~` or `logical_not()` operator instead."
)


def _is_bool(x: Any) -> bool:
    return type(x) is bool or (isinstance(x, Tensor) and x._data.dtype == np.bool_)


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    if _is_bool(input) or _is_bool(other):
        if _is_bool(input) and _is_bool(other):
            raise RuntimeError(
                "Subtraction, the `-` operator, with two bool tensors is not supported. Use "
                "the `^` or `logical_xor()` operator instead."
            )
        raise RuntimeError(_BOOL_SUB)
    cls = Sub if isinstance(input, Tensor) else Rsub  # Rsub: number - tensor
    if alpha == 1:
        return binary(cls, input, other)
    return _scaled(cls, input, other, alpha)


def mul(input: Any, other: Any) -> Tensor:
    return binary(Mul, input, other)


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode is None:
        return binary(Div, input, other, float_result=True)
    if rounding_mode == "floor":
        return binary(DivFloor, input, other)
    if rounding_mode == "trunc":
        return binary(DivTrunc, input, other)
    raise RuntimeError(
        "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
        f"'{rounding_mode}'"
    )


def pow(input: Any, exponent: Any) -> Tensor:
    if isinstance(exponent, Tensor):
        if _is_bool(input) and exponent._data.dtype == np.bool_:
            raise NotImplementedError("\"pow\" not implemented for 'Bool'")
    elif (
        isinstance(exponent, int | np.integer)
        and not isinstance(exponent, bool | np.bool_)
        and exponent < 0
        and isinstance(input, Tensor)
    ):
        if input._data.dtype.kind in "iub":  # only a number exponent; a tensor's gives 0/±1
            raise RuntimeError("Integers to negative integer powers are not allowed.")
    return binary(Pow, input, exponent)


def floor_divide(input: Any, other: Any) -> Tensor:
    return binary(FloorDivide, input, other)


def remainder(input: Any, other: Any) -> Tensor:
    return binary(Remainder, input, other)


def fmod(input: Any, other: Any) -> Tensor:
    return binary(Fmod, input, other)


subtract, multiply, divide, true_divide = sub, mul, div, div


# --------------------------------------------------------------------------- unary


class Neg(Op):
    diagonal = True
    save_inputs = False

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Abs(Op):
    diagonal = True

    def forward(self, x):
        return np.abs(x)

    def backward(self, g):
        return g * sign(self.inputs[0])


class Exp(Op):
    diagonal = True
    save_inputs, save_output = False, True

    @quiet
    def forward(self, x):
        return np.exp(x)

    def backward(self, g):
        return g * self.output


class Expm1(Op):
    diagonal = True
    save_inputs, save_output = False, True

    @quiet
    def forward(self, x):
        return np.expm1(x)

    def backward(self, g):
        return g * (self.output + 1)


class Log(Op):
    diagonal = True

    @quiet
    def forward(self, x):
        return np.log(x)

    def backward(self, g):
        return g / self.inputs[0]


class Log2(Op):
    diagonal = True

    @quiet
    def forward(self, x):
        return np.log2(x)

    def backward(self, g):
        return g / (self.inputs[0] * math.log(2.0))


class Log10(Op):
    diagonal = True

    @quiet
    def forward(self, x):
        return np.log10(x)

    def backward(self, g):
        return g / (self.inputs[0] * math.log(10.0))


class Log1p(Op):
    diagonal = True

    @quiet
    def forward(self, x):
        return np.log1p(x)

    def backward(self, g):
        return g / (self.inputs[0] + 1)


class Sqrt(Op):
    diagonal = True
    save_inputs, save_output = False, True

    @quiet
    def forward(self, x):
        return np.sqrt(x)

    def backward(self, g):
        return g / (2 * self.output)


class Rsqrt(Op):
    diagonal = True
    save_inputs, save_output = False, True

    @quiet
    def forward(self, x):
        return 1 / np.sqrt(x)

    @quiet
    def backward(self, g):
        return -0.5 * g * self.output**3


class Reciprocal(Op):
    diagonal = True
    save_inputs, save_output = False, True

    @quiet
    def forward(self, x):
        return 1 / x

    @quiet
    def backward(self, g):
        return -g * self.output * self.output


class Sin(Op):
    diagonal = True

    @quiet
    def forward(self, x):
        return np.sin(x)

    def backward(self, g):
        return g * cos(self.inputs[0])


class Cos(Op):
    diagonal = True

    @quiet
    def forward(self, x):
        return np.cos(x)

    def backward(self, g):
        return -g * sin(self.inputs[0])


class Tan(Op):
    diagonal = True
    save_inputs, save_output = False, True

    @quiet
    def forward(self, x):
        return np.tan(x)

    def backward(self, g):
        y = self.output
        return g * (1 + y * y)


class Tanh(Op):
    diagonal = True
    save_inputs, save_output = False, True

    def forward(self, x):
        return np.tanh(x)

    def backward(self, g):
        y = self.output
        return g * (1 - y * y)


class Sigmoid(Op):
    diagonal = True
    save_inputs, save_output = False, True

    def forward(self, x):
        return _sigmoid(x)

    def backward(self, g):
        return SigmoidBackward.apply(g, self.output)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function on an array; exp of -|x| only, so nothing overflows."""
    e = np.exp(-np.abs(x))
    d = 1 + e
    return select(x >= 0, 1 / d, e / d).astype(x.dtype, copy=False)


class SigmoidBackward(Op):
    """``g * y * (1 - y)`` in one node (y the sigmoid's output); itself differentiable."""

    diagonal = True

    def forward(self, g, y):
        return g * y * (1 - y)

    def backward(self, gg):
        g, y = self.inputs
        gg_g = gg * y * (1 - y) if self.needs(0) else None
        gg_y = gg * g * (1 - 2 * y) if self.needs(1) else None
        return gg_g, gg_y


class Relu(Op):
    """relu'(0) = 0, as in torch."""

    diagonal = True
    save_inputs, save_output = False, True

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g):
        return MaskedScale.apply(g, mask=self.out_data > 0)


class MaskedScale(Op):
    """``g * mask`` for a constant boolean mask (relu's gradient) in one node: linear in
    ``g``, so its own backward is itself."""

    linear = True
    save_inputs = False
    torch_name = "MulBackward0"

    def forward(self, g, mask):
        self.mask = mask
        return g * mask

    def backward(self, gg):
        return MaskedScale.apply(gg, mask=self.mask)


class Erf(Op):
    diagonal = True

    def forward(self, x):
        return _erf(x)

    def backward(self, g):
        x = self.inputs[0]
        return g * (2 / math.sqrt(math.pi)) * exp(-x * x)


# Cephes' rational approximations of erf (|x| < 1) and erfc (1 <= |x| < 6): within 5e-16
# of math.erf (tested), vectorised, without SciPy.
_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)  # fmt: skip
_ERF_U = (3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)  # fmt: skip
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3,
           5.57535335369399327526e2)  # fmt: skip
_ERFC_Q = (1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)  # fmt: skip


def _poly(x: np.ndarray, coefficients: tuple, monic: bool = False) -> np.ndarray:
    """Horner's rule, in place on one new array."""
    if monic:
        y = x + coefficients[0]
        rest = coefficients[1:]
    else:
        y = np.multiply(x, coefficients[0])
        y += coefficients[1]
        rest = coefficients[2:]
    for c in rest:
        y *= x
        y += c
    return y


def _erf(x: np.ndarray) -> np.ndarray:
    """erf in float64 (then the input's float dtype): nan stays nan, ±inf gives ±1.

    Each branch is evaluated on its own elements only (gathered with ``take``, written
    back with ``put``: no boolean-mask indexing, which is slow on irregular masks); for
    ``|x| >= 6`` the erfc branch at 6 already rounds to ±1."""
    shape = np.shape(x)
    x64 = np.asarray(x, dtype=np.float64).reshape(-1)
    a = np.abs(x64)
    small = a < 1
    out = np.empty_like(x64)
    i = np.flatnonzero(small)
    if i.size:
        xs = x64.take(i)
        z = xs * xs
        y = _poly(z, _ERF_T)
        y *= xs
        y /= _poly(z, _ERF_U, monic=True)
        out.put(i, y)
    j = np.flatnonzero(~small) if i.size else np.arange(x64.size)
    if j.size:
        am = a.take(j)
        np.minimum(am, 6.0, out=am)  # nan stays nan
        e = am * am
        np.negative(e, out=e)
        np.exp(e, out=e)
        e *= _poly(am, _ERFC_P)
        e /= _poly(am, _ERFC_Q, monic=True)
        np.subtract(1.0, e, out=e)
        np.copysign(e, x64.take(j), out=e)
        out.put(j, e)
    return out.reshape(shape).astype(np.result_type(x.dtype, np.float32), copy=False)


class _ZeroGrad(Op):
    """Piecewise-constant functions: the gradient is zero wherever it exists (torch)."""

    diagonal = True
    save_inputs = False

    def backward(self, g):
        return _make(np.zeros_like(g._data))  # exact zeros, even where g is inf or nan


class Sign(_ZeroGrad):
    """sign(nan) is 0 in torch (NumPy: nan), so abs' and the 1/inf norms' gradients are too."""

    def forward(self, x):
        if x.dtype.kind != "f":
            return np.sign(x) if x.dtype != np.bool_ else x.copy()
        out = np.asarray(np.sign(x))  # 0-d: NumPy gives a scalar
        out[np.isnan(out)] = 0
        return out


class Floor(_ZeroGrad):
    def forward(self, x):
        return np.floor(x)


class Ceil(_ZeroGrad):
    def forward(self, x):
        return np.ceil(x)


class Round(_ZeroGrad):
    def forward(self, x, decimals=0):
        return np.round(x, decimals)


class Trunc(_ZeroGrad):
    def forward(self, x):
        return np.trunc(x)


class Frac(Op):
    diagonal = True
    save_inputs = False

    def forward(self, x):
        return x - np.trunc(x)

    def backward(self, g):
        return g


def _not_implemented(kernel: str) -> Any:
    names = {"bool": "Bool", "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
             "uint8": "Byte"}  # fmt: skip
    return lambda x: NotImplementedError(
        f"\"{kernel}\" not implemented for '{names.get(x.dtype.name, x.dtype.name)}'"
    )


# dtypes torch refuses for a unary op (kinds) and the error it raises
_REFUSED = {
    Neg: ("b", lambda x: RuntimeError(
        "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
        "invert a mask, use the `~` or `logical_not()` operator instead.")),
    Relu: ("b", lambda x: RuntimeError("Boolean inputs not supported for relu")),
    Abs: ("b", _not_implemented("abs_cpu")),
    Floor: ("b", _not_implemented("floor_vml_cpu")),
    Ceil: ("b", _not_implemented("ceil_vml_cpu")),
    Trunc: ("b", _not_implemented("trunc_vml_cpu")),
    Round: ("b", _not_implemented("round_vml_cpu")),
    Frac: ("biu", _not_implemented("frac_cpu")),
}  # fmt: skip


def _unary(cls: type[Op]):
    if cls in _REFUSED:
        kinds, error = _REFUSED[cls]

        def fn(input: Tensor) -> Tensor:
            if input._data.dtype.kind in kinds:
                raise error(input._data)
            return cls.apply(input)
    else:

        def fn(input: Tensor) -> Tensor:
            return cls.apply(input)

    fn.__name__ = cls.__name__.lower()
    fn.__doc__ = f"Elementwise {fn.__name__} (differentiable)."
    return fn


neg = negative = _unary(Neg)
abs = absolute = _unary(Abs)
exp, expm1, log, log2, log10, log1p = map(_unary, (Exp, Expm1, Log, Log2, Log10, Log1p))
sqrt, rsqrt, reciprocal = map(_unary, (Sqrt, Rsqrt, Reciprocal))
sin, cos, tan, tanh, sigmoid, relu, erf = map(_unary, (Sin, Cos, Tan, Tanh, Sigmoid, Relu, Erf))
sign, floor, ceil, trunc, frac = map(_unary, (Sign, Floor, Ceil, Trunc, Frac))


def _float_unary(fn):
    """Integer inputs to a transcendental function give the default float, as in torch."""

    def wrapper(input: Tensor) -> Tensor:
        if input._data.dtype.kind not in "fc":
            input = input.to(dtypes.get_default_dtype())
        return fn(input)

    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper


exp, expm1, log, log2, log10, log1p, sqrt, rsqrt, reciprocal = map(
    _float_unary, (exp, expm1, log, log2, log10, log1p, sqrt, rsqrt, reciprocal)
)
sin, cos, tan, tanh, sigmoid, erf = map(_float_unary, (sin, cos, tan, tanh, sigmoid, erf))


def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    if input._data.dtype == np.bool_:
        raise _REFUSED[Round][1](input._data)
    return Round.apply(input, decimals=decimals)


def square(input: Tensor) -> Tensor:
    return binary(Pow, input, 2)


# --------------------------------------------------------------------------- clamp & co


class Clamp(Op):
    """ClampBackward1 with number bounds; ClampBackward0 when a bound is a tensor."""

    diagonal = True
    elementwise = True

    def forward(self, x, lo, hi):
        return np.clip(x, lo, hi)

    def name(self):
        if self.inputs is not None:  # after backward the inputs are freed: use the cache
            self.kind = 0 if any(isinstance(b, Tensor) for b in self.inputs[1:]) else 1
        return f"ClampBackward{self.kind}"

    def backward(self, g):
        self.name()  # remember the name before the inputs are freed
        x, lo, hi = self.inputs
        inside = True
        if lo is not None:
            inside = x >= lo
        if hi is not None:
            inside = inside & (x <= hi) if lo is not None else x <= hi
        gx = g * inside if self.needs(0) else None
        # below min the result is min, unless min > max: then it is max (whatever x is, nan
        # too); torch gives neither bound a gradient when min == max
        glo = ghi = None
        if self.needs(1):
            glo = g * ((x < lo) & (lo < hi) if hi is not None else x < lo)
        if self.needs(2):
            ghi = g * ((x > hi) | (hi < lo) if lo is not None else x > hi)
        return gx, glo, ghi


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        dt = dtypes.result_type(*(v for v in (input, min, max) if v is not None))
        input, min, max = (v if v is None else _cast(v, dt) for v in (input, min, max))
    elif input._data.dtype.kind in "iub" and any(isinstance(v, float) for v in (min, max)):
        input = input.to(dtypes.get_default_dtype())
    return Clamp.apply(input, min, max)


clip = clamp


class Maximum(Op):
    """Ties send half the gradient each way (torch's rule)."""

    diagonal = True
    elementwise = True

    def forward(self, a, b):
        return np.maximum(a, b)

    def backward(self, g):
        a, b = self.inputs
        share = where(a == b, 0.5, (a > b).to(g.dtype))
        return g * share if self.needs(0) else None, g * (1 - share) if self.needs(1) else None


class Minimum(Op):
    diagonal = True
    elementwise = True

    def forward(self, a, b):
        return np.minimum(a, b)

    def backward(self, g):
        a, b = self.inputs
        share = where(a == b, 0.5, (a < b).to(g.dtype))
        return g * share if self.needs(0) else None, g * (1 - share) if self.needs(1) else None


def maximum(input: Tensor, other: Tensor) -> Tensor:
    return binary(Maximum, input, as_tensor_arg(other))


def minimum(input: Tensor, other: Tensor) -> Tensor:
    return binary(Minimum, input, as_tensor_arg(other))


class Where(Op):
    diagonal = True
    elementwise = True

    def forward(self, cond, x, y):
        self.cond = cond
        return select(cond, x, y)

    def backward(self, g):
        zero = g * 0
        gx = where(self.cond, g, zero) if self.needs(1) else None
        gy = where(self.cond, zero, g) if self.needs(2) else None
        return None, gx, gy


def where(condition: Tensor, input: Any = None, other: Any = None) -> Tensor | tuple:
    """``condition ? input : other`` elementwise, broadcasting all three."""
    if input is None and other is None:
        from chainrule.ops.index import nonzero

        return nonzero(condition, as_tuple=True)
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise RuntimeError(
            f"where expected condition to be a boolean tensor, but got a tensor "
            f"with dtype {dtypes.from_np(cond.dtype).name.capitalize()}"
        )
    input, other = as_tensor_arg(input, "input"), as_tensor_arg(other)
    dt = dtypes.result_type(input, other)
    error = broadcast_error(cond, input, other)
    if error is not None:
        raise error
    return Where.apply(cond, _cast(input, dt), _cast(other, dt))


def _cast(v: Any, dt: np.dtype) -> Any:
    """A tensor in dtype ``dt`` (a recorded cast), or a number as a ``dt`` array."""
    if isinstance(v, Tensor):
        return v if v._data.dtype == dt else v.to(dtypes.FROM_NP[dt])
    return np.asarray(v, dtype=dt)


class Lerp(Op):
    """``start + weight * (end - start)``."""

    diagonal = True
    elementwise = True

    def forward(self, start, end, weight):
        return start + weight * (end - start)

    def backward(self, g):
        start, end, weight = self.inputs
        gs = g * (1 - weight) if self.needs(0) else None
        ge = g * weight if self.needs(1) else None
        gw = g * (end - start) if self.needs(2) else None
        return gs, ge, gw


def lerp(input: Tensor, end: Tensor, weight: Any) -> Tensor:
    return Lerp.apply(input, end, as_tensor_arg(weight, "weight"))


# --------------------------------------------------------------------------- copies & casts


class Clone(Op):
    linear = True
    save_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g


class ToCopy(Op):
    """A cast to another dtype; the gradient is cast back."""

    linear = True
    save_inputs = False

    def forward(self, x, dtype):
        self.in_dtype = dtypes.FROM_NP[x.dtype]
        return x.astype(dtype)

    def backward(self, g):
        return g.to(self.in_dtype)


def clone(input: Tensor, *, memory_format: Any = None) -> Tensor:
    return Clone.apply(input)


def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """``tensor.to(dtype)``, ``.to(other)``, ``.to('cpu')``; ``copy=True`` forces a copy."""
    dt = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("device", None)
    kwargs.pop("non_blocking", None)
    for a in args:
        if isinstance(a, dtypes.dtype):
            dt = a
        elif isinstance(a, Tensor):
            dt = a.dtype
        elif a not in ("cpu", None) and str(a) != "cpu":
            raise RuntimeError(f"chainrule runs on the CPU only; cannot move a tensor to {a!r}")
    if dt is None or dt.np == self._data.dtype:
        return Clone.apply(self) if copy else self
    if self._requires_grad and dt.np.kind not in "fc":
        # torch allows the cast; the result simply stops requiring grad
        return ToCopy.apply(self.detach(), dtype=dt.np)
    return ToCopy.apply(self, dtype=dt.np)


TENSOR_METHODS = {
    name: globals()[name]
    for name in """add sub subtract mul multiply div divide true_divide pow floor_divide
    remainder fmod neg negative abs absolute exp expm1 log log2 log10 log1p sqrt rsqrt square
    reciprocal sin cos tan tanh sigmoid relu erf sign floor ceil round trunc frac clamp clip
    minimum maximum lerp clone""".split()
}
