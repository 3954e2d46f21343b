"""Elementwise arithmetic: add, sub, mul, div (and rounding modes), pow, square,
floor_divide, remainder, fmod; a float's bits (nextafter, ldexp, frexp).

Each rule is a line of the derivative table: ``d(a*b) = g*b, g*a``. Broadcasting and type
promotion are handled by ``broadcast.binary`` and the ``elementwise`` flag, never here.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

# (_product reads these as globals: NumPy's module has a __getattr__, so Python 3.11 does
# not specialize reading np.multiply or np.ndarray, ~0.2k instructions each)
from numpy import multiply, ndarray

from chainrule import dtypes
from chainrule._fp import quiet
from chainrule._registry import op, tensor_method
from chainrule._tensor import Tensor, _make
from chainrule.backend import K
from chainrule.backend.threads import PAR_ELEMENTS, PARALLEL
from chainrule.dtypes import REDUCED, kind_of
from chainrule.ops.broadcast import as_tensor_arg, binary, has_complex, reraise_broadcast
from chainrule.ops.elementwise.casts import real_part
from chainrule.ops.elementwise.select import where
from chainrule.ops.elementwise.unary import _not_implemented, exp, floor, log, reciprocal, trunc
from chainrule.ops.op import Op, needs_both, plain_rule, tensor_overload


class Add(Op):
    reduced_scalars = "round"  # torch casts a number to float16/bfloat16 first
    layout = "elementwise"
    formula = "d(a + b) = g, g  (summed back over broadcast dims)"
    jvp_rule = "linear"
    elementwise, save_inputs = True, False

    # the ufunc itself rather than a method calling it: no Python frame per op (~0.4k
    # instructions; a ufunc is no descriptor, so node.forward(a, b) is np.add(a, b))
    forward = np.add

    def backward(self, g):
        wa, wb = needs_both(self)
        return g if wa else None, g if wb else None


class AddScaled(Op):
    """``a + alpha * b`` in one node: torch's AddBackward0 keeps ``alpha`` as a number, so
    it saves no tensor and runs again on a second backward."""

    torch_name = "AddBackward0"
    reduced_scalars = "round"
    layout = "elementwise"
    formula = "d(a + alpha*b) = g, alpha*g  (summed back over broadcast dims)"
    jvp_rule = "linear"
    elementwise, save_inputs = True, False
    sign = 1

    def forward(self, a, b, alpha):
        self.alpha = alpha
        s = alpha if self.sign > 0 else -alpha
        if type(s) in (int, float) and np.result_type(a, b) == np.float32:
            # torch: one fused multiply-add, alpha cast to float32 first; float64 holds the
            # product exactly, so one rounding (bar a rare double rounding of the sum)
            a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
            return (a64 + b64 * float(np.float32(s))).astype(np.float32)
        return a + b * alpha if self.sign > 0 else a - b * alpha

    def backward(self, g):
        gb = g * (self.sign * self.alpha) if self.needs(1) else None
        return g if self.needs(0) else None, gb


class SubScaled(AddScaled):
    """``a - alpha * b`` in one node (torch's SubBackward0)."""

    torch_name = "SubBackward0"
    formula = "d(a - alpha*b) = g, -alpha*g  (summed back over broadcast dims)"
    sign = -1


class Sub(Op):
    reduced_scalars = "round"  # torch casts a number to float16/bfloat16 first
    layout = "elementwise"
    formula = "d(a - b) = g, -g  (summed back over broadcast dims)"
    jvp_rule = "linear"
    elementwise, save_inputs = True, False

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g if self.needs(0) else None, -g if self.needs(1) else None


class Rsub(Sub):
    """``number - tensor``: torch names it RsubBackward1."""

    layout = "elementwise"

    torch_name = "RsubBackward1"


class Mul(Op):
    layout = "elementwise"
    formula = "d(a * b) = g * b, g * a  (summed back over broadcast dims)"
    jvp_rule = "multilinear"
    elementwise = True
    saved_for = ((1,), (0,))  # torch's: other for self's gradient, self for other's

    def constants(self) -> str | None:
        return _number_operand(self, "*")

    def rule(self) -> str | None:
        k = _number(self)
        return f"d(a * {k}) = g * {k}" if k is not None else type(self).formula

    forward = np.multiply  # (the ufunc itself, as Add's)

    def backward(self, g):
        a, b = self.inputs
        wa, wb = needs_both(self)
        if plain_rule():  # the products on arrays where they are what Mul would compute
            gd = g._data
            return _product(g, gd, b) if wa else None, _product(g, gd, a) if wb else None
        return g * b if wa else None, g * a if wb else None


def _product(g: Tensor, gd: np.ndarray, x: Any) -> Tensor:
    """``g * x`` in a plain backward (``plain_rule``): ``Mul``'s forward on the arrays,
    without the op's dispatch, when that is all the op would do: ``x`` a number or a
    tensor of ``g``'s dtype and shape, both C-contiguous (so the result is, as torch's
    layout wants) and ``g`` floating. Otherwise the op."""
    if isinstance(x, Tensor):
        xd = x._data
        if (
            xd.dtype == gd.dtype
            and xd.shape == gd.shape
            and xd.flags.c_contiguous
            and gd.flags.c_contiguous
        ):
            if PARALLEL[0] and gd.size >= PAR_ELEMENTS:  # on the kernels' threads (Op.apply's test)
                out = K.arith(multiply, gd, xd)
            else:
                out = multiply(gd, xd)
            return _make(out if type(out) is ndarray else np.asarray(out))
    elif (type(x) is float or type(x) is int) and gd.dtype.kind in "fc" and gd.flags.c_contiguous:
        if PARALLEL[0] and gd.size >= PAR_ELEMENTS:
            out = K.arith(multiply, gd, x)
        else:
            out = multiply(gd, x)
        return _make(out if type(out) is ndarray else np.asarray(out))
    return g * x


class Div(Op):
    formula = "d(a / b) = g / b, -g * ((a / b) / b)"
    jvp_rule = "diagonal"
    elementwise = True
    saved_for = ((1,), (0, 1))

    def constants(self) -> str | None:
        return _number_operand(self, "/")

    def rule(self) -> str | None:
        k = _number(self)
        return f"d(a / {k}) = g / {k}" if k is not None else type(self).formula

    @quiet
    def forward(self, a, b):
        return a / b

    @quiet
    def backward(self, g):
        a, b = self.inputs
        ga = g / b if self.needs(0) else None
        # torch's order (div_tensor_other_backward): the graph of the gradient saves ``a``
        gb = -g * ((a / b) / b) if self.needs(1) else None
        return ga, gb


class MulScalar(Mul):
    """``tensor * number`` where torch's composites call its ``mul.Scalar`` (trapezoid ...):
    MulBackward1 (Python's ``*`` is ``mul.Tensor``, MulBackward0)."""

    torch_name = "MulBackward1"


class DivScalar(Div):
    """``tensor / number`` where torch's composites call its ``div.Scalar``: DivBackward1."""

    torch_name = "DivBackward1"


class Pow(Op):
    """``a ** b``: PowBackward0 for a number exponent, 1 for a tensor, 2 for a number base."""

    reduced_scalars = "round"  # torch casts a number to float16/bfloat16 first

    formula = "d(a ** b) = g * b * a**(b-1), g * a**b * log(a)"
    jvp_rule = "diagonal"
    elementwise = True
    saved_for = ((0, 1, "result"), (0, 1, "result"))  # the result: with a tensor exponent

    overload = 1  # torch's: 0 a number exponent, 1 both tensors, 2 a number base
    number: Any = None  # the number exponent (overload 0) or base (2), kept for pictures

    @classmethod
    def apply(cls, a, b):
        out = super().apply(a, b)
        node = out.grad_fn
        if node is not None and (not isinstance(a, Tensor) or not isinstance(b, Tensor)):
            node.overload = 2 if not isinstance(a, Tensor) else 0  # fixed when recorded
            node.number = a if node.overload == 2 else b  # torch's _saved_exponent/_saved_self
            if node.overload == 0:  # torch's PowBackward0 saves self and the number only
                node.out_data = None
        return out

    def constants(self) -> str | None:
        if self.overload == 0:
            return f"** {_show(self.number)}"
        if self.overload == 2:
            return f"{_show(self.number)} **"
        return None

    def rule(self) -> str | None:
        k = _show(self.number)
        if self.overload == 0:  # d(a**k) = k a**(k-1), with this node's k
            if not isinstance(self.number, int | float):
                return f"d(a ** k) = g * k * a**(k-1), k = {k}"
            return f"d(a ** {k}) = g * {k} * a**({k}-1) = g * {k} * a**{_show(self.number - 1)}"
        if self.overload == 2:
            return f"d({k} ** b) = g * {k}**b * log({k})"
        return type(self).formula

    @quiet
    def forward(self, a, b):
        if type(b) is int or type(b) is float:
            if b == 2:  # the common squares and cubes: multiplications, not pow()
                return a * a
            bf16 = self.__dict__.get("_reduced") == dtypes.BF16
            if b == 3:  # torch's bfloat16 kernel rounds the square first
                return (a * a).astype(dtypes.BF16).astype(a.dtype) * a if bf16 else a * a * a
            if b == -2 and bf16:  # ... and 1 / square
                return 1 / (a * a).astype(dtypes.BF16).astype(a.dtype)
        if (
            type(b) is np.ndarray
            and kind_of(b.dtype) in "ib"
            and kind_of(np.asarray(a).dtype) in "iub"
        ):
            if kind_of(b.dtype) == "b":  # a bool tensor to a Python bool: a ** True = a
                if a.dtype == np.bool_:
                    return a | ~b
            elif np.any(negative := b < 0):
                return _integer_pow_negative(a, b, negative)
        return np.power(a, b)

    @quiet
    def backward(self, g):
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
            real_b = b if b._data.dtype.kind != "c" else real_part(b)  # (torch's, for complex)
            gb = where((a == 0) & (real_b >= 0), 0.0, g * self.output * log(a))
        return ga, gb


def _show(k: Any) -> str:
    """A number as the pictures and explain_backward write it (2, 0.5, 1e-08, True)."""
    if isinstance(k, float) and k.is_integer() and abs(k) < 1e15:
        return f"{k:.1f}"
    return f"{k:.4g}" if isinstance(k, float) else str(k)


def _number(node: Op) -> str | None:
    """The number operand of a binary op's node while its saved values last, else None."""
    saved = node.inputs
    if saved is None:
        return None
    for x in saved:
        if x is not None and not isinstance(x, Tensor):
            return _show(x.item() if isinstance(x, np.generic) else x)
    return None


def _number_operand(node: Op, symbol: str) -> str | None:
    """``"* 3"`` (or ``"3 *"`` for a number on the left) for a binary op with a number."""
    saved = node.inputs
    if saved is None:
        return None
    for i, x in enumerate(saved):
        if x is not None and not isinstance(x, Tensor):
            k = _show(x.item() if isinstance(x, np.generic) else x)
            return f"{symbol} {k}" if i == 1 else f"{k} {symbol}"
    return None


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

    jvp_rule = "diagonal"
    elementwise, save_inputs = True, False
    torch_name = "NotImplemented"

    @quiet
    def forward(self, a, b):
        if type(a) is np.ndarray and kind_of(a.dtype) in "iub":
            _integer_division("div_floor_cpu", a, b)
        return np.floor_divide(a, b)

    def backward(self, g):
        raise RuntimeError("derivative for aten::floor_divide is not implemented")


class DivFloor(FloorDivide):
    """``div(a, b, rounding_mode='floor')``: piecewise constant, zero gradients (torch, whose
    formula names both inputs, so it saves them as ``div`` does)."""

    saved_for = ((1,), (0, 1))

    torch_name = "DivBackward2"

    def backward(self, g):
        zero = _make(np.zeros_like(g._data))
        return zero if self.needs(0) else None, zero if self.needs(1) else None


class DivTrunc(DivFloor):
    """``div(a, b, rounding_mode='trunc')``: the quotient rounded toward zero, same dtype."""

    @quiet
    def forward(self, a, b):
        if type(a) is np.ndarray and kind_of(a.dtype) in "iub":
            _integer_division("div_trunc_cpu", a, b)
            q = np.floor_divide(a, b)
            return q + ((q < 0) & (q * b != a))  # floor -> toward zero where inexact
        return np.trunc(a / b)


class Remainder(Op):
    """Python's ``%`` (result has the divisor's sign): d/da = 1, d/db = -floor(a/b)."""

    reduced_scalars = "round"  # torch casts a number to float16/bfloat16 first

    jvp_rule = "diagonal"
    elementwise = True
    saved_for = ((), (0, 1))  # self's gradient is g: nothing

    @quiet
    def forward(self, a, b):
        if type(a) is np.ndarray and kind_of(a.dtype) in "iub":
            _integer_division("remainder_cpu", a, b)
            return np.mod(a, b)
        out = np.mod(a, b)
        if type(out) is np.ndarray and out.dtype.kind == "f":  # torch: fmod, then + b where
            zero = out == 0  # the signs differ, so an exact zero keeps a's sign
            if zero.any():
                out = np.where(zero, np.copysign(np.zeros_like(out), a), out)
        return out

    @quiet
    def backward(self, g):
        a, b = self.inputs
        return g if self.needs(0) else None, -g * floor(a / b) if self.needs(1) else None


class Fmod(Remainder):
    """C's ``fmod`` (result has the dividend's sign): d/db = -trunc(a/b)."""

    @quiet
    def forward(self, a, b):
        if type(a) is np.ndarray and kind_of(a.dtype) in "iub":
            _integer_division("fmod_cpu", a, b)
        return np.fmod(a, b)

    @quiet
    def backward(self, g):
        a, b = self.inputs
        return g if self.needs(0) else None, -g * trunc(a / b) if self.needs(1) else None


@op(inplace=True, dunders=("__add__", "__radd__", "__iadd__"))
def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input + alpha * other``, broadcast (the ``+`` operator).

    The gradient reaching each input is summed over the dimensions broadcasting added,
    so it has that input's shape.
    """
    if alpha == 1:
        if (  # binary's first case written in: one frame less per `+` (~0.4k instructions)
            isinstance(input, Tensor)
            and isinstance(other, Tensor)
            and input._data.dtype == other._data.dtype
        ):
            try:
                return Add.apply(input, other)
            except ValueError:
                reraise_broadcast(input, other)
        return binary(Add, input, other)
    return _scaled(Add, input, other, alpha)


def _scaled(cls: type[Op], input: Any, other: Any, alpha: Any) -> Tensor:
    """``input + alpha * other`` in the dtype of ``input + other`` (alpha never promotes)."""
    dt = dtypes.result_type(as_tensor_arg(input, "input"), as_tensor_arg(other))
    if kind_of(dt) in "iub" and isinstance(alpha, float):
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )
    if dt in REDUCED and isinstance(alpha, int | float):
        # torch: input + alpha * other in one fused multiply-add in float32 (its opmath),
        # alpha cast to float32; float64 holds the product exactly, so one rounding
        a = float(np.asarray(alpha, dtype=dt))
        out = binary(cls, as_tensor_arg(input, "input").double(), as_tensor_arg(other).double() * a)
        return out.to(dtypes.FROM_NP[dt])
    if cls is Rsub:  # number - alpha * tensor
        out = binary(cls, input, other * alpha)
    else:
        out = binary(AddScaled if cls is Add else SubScaled, input, other, alpha=alpha)
    return out if out._data.dtype == dt else out.to(dtypes.FROM_NP[dt])


_BOOL_SUB = (
    "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
    "invert a mask, use the `~` or `logical_not()` operator instead."
)


def _is_bool(x: Any) -> bool:
    return type(x) is bool or (isinstance(x, Tensor) and x._data.dtype == np.bool_)


@op(aliases=("subtract",), inplace=True, dunders=("__sub__", "__rsub__", "__isub__"))
def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input - alpha * other``, broadcast (the ``-`` operator); alias ``subtract``."""
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


@op(aliases=("multiply",), inplace=True, dunders=("__mul__", "__rmul__", "__imul__"))
def mul(input: Any, other: Any) -> Tensor:
    """``input * other`` element by element, broadcast (the ``*`` operator); alias ``multiply``."""
    if (  # binary's first case written in: one frame less per `*` (~0.4k instructions)
        isinstance(input, Tensor)
        and isinstance(other, Tensor)
        and input._data.dtype == other._data.dtype
    ):
        try:
            return Mul.apply(input, other)
        except ValueError:
            reraise_broadcast(input, other)
    return binary(Mul, input, other)


@op(
    aliases=("divide",),
    inplace=True,
    dunders=("__truediv__", "__rtruediv__", "__itruediv__"),
)
def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``input / other``, broadcast (the ``/`` operator); alias ``divide``.

    ``rounding_mode``: ``None`` for true division (integers give a float),
    ``"trunc"`` rounds toward zero, ``"floor"`` rounds down.
    """
    if rounding_mode is None:
        if isinstance(other, Tensor) and not isinstance(input, Tensor | np.ndarray):
            return mul(reciprocal(other), input)  # number / tensor: torch's reciprocal * number
        return binary(Div, input, other, float_result=True)
    if rounding_mode == "floor":
        return binary(DivFloor, input, other)
    if rounding_mode == "trunc":
        return binary(DivTrunc, input, other)
    raise RuntimeError(
        "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
        f"'{rounding_mode}'"
    )


@op(inplace=True)
def true_divide(input: Any, other: Any) -> Tensor:
    """``div`` without a rounding mode (torch's older name)."""
    return binary(Div, input, other, float_result=True)


@op(inplace=True, dunders=("__pow__", "__rpow__", "__ipow__"))
def pow(input: Any, exponent: Any) -> Tensor:
    """``input ** exponent`` element by element; either may be a number or a tensor."""
    if isinstance(exponent, Tensor):
        if _is_bool(input) and exponent._data.dtype == np.bool_:
            raise NotImplementedError("\"pow\" not implemented for 'Bool'")
    elif (
        isinstance(exponent, int | np.integer)
        and not isinstance(exponent, bool | np.bool_)
        and exponent < 0
        and isinstance(input, Tensor)
    ):
        if kind_of(input._data.dtype) in "iub":  # only a number exponent; a tensor's gives 0/±1
            raise RuntimeError("Integers to negative integer powers are not allowed.")
    return binary(Pow, input, exponent)


def _float_power_dtype(input: Any, exponent: Any) -> Any:
    complex_ = any(
        (isinstance(a, Tensor) and kind_of(a._data.dtype) == "c") or isinstance(a, complex)
        for a in (input, exponent)
    )
    return dtypes.complex128 if complex_ else dtypes.float64


@op
def float_power(input: Any, exponent: Any) -> Tensor:
    """``input ** exponent`` in double precision: both are first converted to float64
    (complex128 if either is complex), so the result is always that dtype."""
    dt = _float_power_dtype(input, exponent)
    np_dt = dtypes.to_np(dt)

    def cast(a: Any) -> Any:
        if isinstance(a, Tensor):
            return a if a._data.dtype == np_dt else a.to(dt)
        return complex(a) if dt is dtypes.complex128 else float(a)

    return pow(cast(input), cast(exponent))


@tensor_method(name="float_power_")
def _float_power_(self: Tensor, exponent: Any) -> Tensor:
    """``self.pow_(exponent)`` in double precision: ``self`` must already have the result's
    dtype (float64, or complex128 for a complex exponent)."""
    dt = _float_power_dtype(self, exponent)
    if self._data.dtype != dtypes.to_np(dt):
        raise RuntimeError(
            f"the base given to float_power_ has dtype {dtypes.scalar_type_name(self)} but the "
            f"operation's result requires dtype {dtypes.scalar_type_name(dt)}"
        )
    if isinstance(exponent, Tensor):
        exponent = exponent if exponent._data.dtype == self._data.dtype else exponent.to(dt)
    else:
        exponent = complex(exponent) if dt is dtypes.complex128 else float(exponent)
    return self.pow_(exponent)


@op(inplace=True, dunders=("__floordiv__", "__rfloordiv__", "__ifloordiv__"))
def floor_divide(input: Any, other: Any) -> Tensor:
    """``input // other``: the quotient rounded down (Python's ``//``)."""
    _real_only("div_floor_cpu", input, other)
    return binary(FloorDivide, input, other)


@op(inplace=True, dunders=("__mod__", "__rmod__", "__imod__"))
def remainder(input: Any, other: Any) -> Tensor:
    """``input % other`` with the sign of ``other`` (Python's ``%``)."""
    _real_only("remainder_cpu", input, other)
    return tensor_overload(binary(Remainder, input, other), other)


@op(inplace=True)
def fmod(input: Any, other: Any) -> Tensor:
    """The remainder of ``input / other`` with the sign of ``input`` (C's ``fmod``)."""
    _real_only("fmod_cpu", input, other)
    return tensor_overload(binary(Fmod, input, other), other)


def _real_only(kernel: str, input: Any, other: Any) -> None:
    """Rounding divisions have no complex kernel (torch's error)."""
    if has_complex(input, other):
        raise dtypes.kernel_missing(kernel, dtypes.result_type(input, other))


@op(inplace=True, inplace_function=True)
def square(input: Tensor) -> Tensor:
    """``input ** 2`` element by element."""
    return binary(Pow, input, 2)


class Logaddexp(Op):
    """``log(exp(a) + exp(b))``, computed without overflow."""

    formula = "d logaddexp(a, b) = g / (1 + exp(b - a)), g / (1 + exp(a - b))"
    jvp_rule = "diagonal"
    elementwise = True  # saves a and b, not the result (torch's)

    @quiet
    def forward(self, a, b):
        if np.iscomplexobj(a) or np.iscomplexobj(b):
            return _complex_logaddexp(a, b)
        return np.logaddexp(a, b)

    @quiet
    def backward(self, g):
        a, b = self.inputs
        ga = g / (1 + exp(b - a)) if self.needs(0) else None
        gb = g / (1 + exp(a - b)) if self.needs(1) else None
        return ga, gb


def _complex_logaddexp(a: Any, b: Any) -> np.ndarray:
    """``log(exp(a) + exp(b))`` of complex numbers (NumPy has no complex logaddexp), as
    torch's kernel: the larger real part ``m`` factored out, ``m + log1p(exp(n - m))``;
    equal infinite real parts give ``n`` itself (-inf: the phase is undetermined) or the
    sum of the exponentials (+inf); a nan anywhere gives nan in both parts."""
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    dt = np.result_type(a, b)
    first = a.real >= b.real  # (a tie keeps b as n, as torch's)
    m, n = np.where(first, a, b), np.where(first, b, a)
    with np.errstate(all="ignore"):
        out = m + np.log1p(np.exp(n - m))
        tie = np.isinf(n.real) & (n.real == m.real)
        if tie.any():
            out = np.where(tie, np.where(n.real < 0, n, np.log(np.exp(m) + np.exp(n))), out)
        nan = np.isnan(m.real) | np.isnan(m.imag) | np.isnan(n.real) | np.isnan(n.imag)
        if nan.any():
            out = np.where(nan, complex(np.nan, np.nan), out)
    return out.astype(dt, copy=False)


class Logaddexp2(Op):
    """``log2(2**a + 2**b)``, computed without overflow."""

    formula = "d logaddexp2(a, b) = g / (1 + 2**(b - a)), g / (1 + 2**(a - b))"
    jvp_rule = "diagonal"
    elementwise = True

    @quiet
    def forward(self, a, b):
        return np.logaddexp2(a, b)

    @quiet
    def backward(self, g):
        a, b = self.inputs
        ga = g / (1 + 2 ** (b - a)) if self.needs(0) else None
        gb = g / (1 + 2 ** (a - b)) if self.needs(1) else None
        return ga, gb


class Hypot(Op):
    """``sqrt(a² + b²)`` without overflow."""

    formula = "d hypot(a, b) = g a / hypot, g b / hypot"
    jvp_rule = "diagonal"
    elementwise = True
    saved_for = ((0, "result"), (1, "result"))  # torch's: each input's own, and the result

    @quiet
    def forward(self, a, b):
        return np.hypot(a, b)

    @quiet
    def backward(self, g):
        a, b = self.inputs
        scale = g / self.output
        return (scale * a if self.needs(0) else None), (scale * b if self.needs(1) else None)


def _two_floats(name: str, input: Any, other: Any) -> None:
    """torch's argument check (``other`` a Tensor) and its float-only kernel."""
    if not isinstance(other, Tensor):
        raise TypeError(
            f"{name}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}"
        )
    if kind_of(dtypes.result_type(input, other)) not in "fc":
        raise _not_implemented(f"{name}_cpu")(dtypes.result_type(input, other))


@op(inplace=True, inplace_function=False)
def hypot(input: Tensor, other: Tensor) -> Tensor:
    """``sqrt(input² + other²)`` elementwise, without overflow (float dtypes only)."""
    _two_floats("hypot", input, other)
    return binary(Hypot, input, other)


@op
def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    """``log2(2**input + 2**other)`` elementwise, without overflow (float dtypes only)."""
    _two_floats("logaddexp2", input, other)
    return binary(Logaddexp2, input, other)


@op
def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """``log(exp(input) + exp(other))`` elementwise, without overflow (float dtypes only)."""
    if kind_of(dtypes.result_type(input, other)) not in "fc":
        raise _not_implemented("logaddexp_cpu")(input._data)
    return binary(Logaddexp, input, other)


# --------------------------------------------------------------------------- float bits


class Nextafter(Op):
    """The next float after ``a`` towards ``b``: torch's gradient is ``g`` for ``a`` and
    zero for ``b``."""

    formula = "d nextafter(a, b) = g, 0"
    elementwise = True
    saved_for = ((0, 1), ())  # torch's: both for a's gradient (its formula uses neither)

    def forward(self, a, b):
        return np.nextafter(a, b)

    def backward(self, g):
        return g if self.needs(0) else None, g * 0 if self.needs(1) else None


@op(inplace=True)
def nextafter(input: Tensor, other: Tensor) -> Tensor:
    """The next representable float after ``input`` towards ``other``, elementwise."""
    _two_floats("nextafter", input, other)
    return binary(Nextafter, input, other)


class Ldexp(Op):
    """``a * 2**b``: vjp ``g 2**b``, ``g result ln 2`` (torch's: it saves b and the result).
    An integer ``b`` stays integer, as in torch, whose ``g * pow(2, b)`` is then an integer
    power: 0 where ``b < 0``."""

    formula = "d(a * 2**b) = g * 2**b, g * a * 2**b * ln 2"
    elementwise = True
    saved_for = ((1, "result"), ("result",))

    @quiet
    def forward(self, a, b):
        return a * np.exp2(b.astype(a.dtype) if kind_of(b.dtype) != "f" else b)

    @quiet
    def backward(self, g):
        _, b = self.inputs
        ga = gb = None
        if self.needs(0):
            if kind_of(b._data.dtype) != "f":  # torch's integer power of 2: 0 for b < 0
                bd = b._data
                scale = np.where(bd < 0, 0, np.exp2(np.maximum(bd, 0))).astype(g._data.dtype)
                ga = g * _make(scale)
            else:
                ga = g * 2.0**b
        if self.needs(1):
            gb = g * self.output * float(np.log(2.0))
        return ga, gb


@op(inplace=True, inplace_function=True)
def ldexp(input: Tensor, other: Tensor) -> Tensor:
    """``input * 2**other``, elementwise (broadcast; integers give the default float)."""
    if not isinstance(other, Tensor):
        raise TypeError(
            f"ldexp(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}"
        )
    if kind_of(other._data.dtype) in "iub" and kind_of(input._data.dtype) in "fc":
        try:  # the exponent stays integer (see Ldexp)
            return Ldexp.apply(input, other)
        except ValueError:
            reraise_broadcast(input, other)
    if kind_of(other._data.dtype) in "iub" and kind_of(input._data.dtype) in "iub":
        return ldexp(input.to(dtypes.get_default_dtype()), other)
    return binary(Ldexp, input, other, float_result=True)


class Frexp(Op):
    """The mantissa of ``frexp`` (the exponent is an integer tensor beside it): vjp
    ``g / 2**exponent``."""

    formula = "d mantissa(x) = g / 2**exponent(x)"
    save_inputs = False

    def forward(self, x):
        mantissa, self.exponent = np.frexp(x)
        return mantissa

    def backward(self, g):
        return g / _make(np.exp2(self.exponent).astype(g._data.dtype))


def _frexp_type() -> type:
    cls = collections.namedtuple("frexp", ["mantissa", "exponent"])
    cls.__module__ = "chainrule.return_types"
    cls.__qualname__ = "frexp"
    cls.__repr__ = lambda self: (
        f"chainrule.return_types.frexp(\nmantissa={self.mantissa!r},\nexponent={self.exponent!r})"
    )
    return cls


frexp_type = _frexp_type()


@op
def frexp(input: Tensor) -> Any:
    """``(mantissa, exponent)`` with ``input = mantissa * 2**exponent``, ``|mantissa|`` in
    [0.5, 1) (0, inf and nan keep their value, exponent 0); the exponent is int32."""
    if kind_of(input._data.dtype) != "f":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    exponent = np.frexp(input._data)[1].astype(np.int32)
    return frexp_type(Frexp.apply(input), _make(np.asarray(exponent)))
