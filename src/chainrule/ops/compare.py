"""Comparisons, predicates and logic: boolean results, never differentiable; the integer
functions beside the bitwise ones (gcd, lcm)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._fp import quiet
from chainrule._registry import op, tensor_method
from chainrule._tensor import Tensor, _make
from chainrule._trace import state as trace
from chainrule.dtypes import kind_of
from chainrule.ops.broadcast import as_tensor_arg, broadcast_error, number_as


def _values(x: Any) -> Any:
    x = as_tensor_arg(x)
    return x._data if isinstance(x, Tensor) else x


class Comparison:
    """A comparison as ``cr.compile``'s tracer records it: a kernel (``forward`` on the
    arrays, as an ``Op``'s) with no node and no gradient, so a mask computed inside a
    compiled function (``mask == 0``) is part of its program."""

    layout = None  # the result is the ufunc's, as eagerly
    ufunc: np.ufunc

    def forward(self, a: Any, b: Any) -> np.ndarray:
        return np.asarray(self.ufunc(a, b))


def _promotes(a: Any, b: Any) -> bool:
    """Would NumPy compare ``a`` and ``b`` in another dtype than torch? Arrays of two dtypes
    (a 0-d float64 against a float32 tensor: torch compares in float32), or an integer
    or bool array against a Python float (torch: the default float dtype)."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.dtype != b.dtype
    arr, num = (a, b) if isinstance(a, np.ndarray) else (b, a)
    return (
        isinstance(arr, np.ndarray) and isinstance(num, float | complex) and arr.dtype.kind in "iub"
    )


def _compare(ufunc: np.ufunc, name: str, ordered: bool = False) -> Callable[[Any, Any], Tensor]:
    kernel = type(f"Compare_{name}", (Comparison,), {"ufunc": ufunc})

    def fn(input: Any, other: Any) -> Tensor:
        a, b = _values(input), _values(other)
        if ordered and (np.iscomplexobj(a) or np.iscomplexobj(b)):  # complex has no order
            raise dtypes.kernel_missing(f"{name}_cpu", dtypes.result_type(input, other))
        if _promotes(a, b):  # compared in torch's common dtype, not NumPy's
            dt = dtypes.result_type(as_tensor_arg(input), as_tensor_arg(other))
            with np.errstate(over="ignore"):  # (to float16: inf, as torch's cast)
                a = a.astype(dt, copy=False) if isinstance(a, np.ndarray) else a
                b = b.astype(dt, copy=False) if isinstance(b, np.ndarray) else b
        elif type(b) is int and isinstance(a, np.ndarray) and a.dtype.kind in "iu":
            b = number_as(b, a.dtype)  # past the dtype's range: wrapped, as torch's cast
        elif type(a) is int and isinstance(b, np.ndarray) and b.dtype.kind in "iu":
            a = number_as(a, b.dtype)
        if getattr(a, "dtype", None) == np.float16 or getattr(b, "dtype", None) == np.float16:
            with np.errstate(over="ignore"):  # a number past float16's range: inf (torch)
                out = np.asarray(ufunc(a, b))
        else:
            out = np.asarray(ufunc(a, b))
        t = _make(out)
        if trace.tracer is not None:
            trace.tracer.kernel(kernel, kernel(), (a, b), [a, b], {}, out, t)
        return t

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{ufunc.__name__}`` with broadcasting (bool result)."
    return fn


eq = op(_compare(np.equal, "eq"), inplace=True, dunders=("__eq__",))
ne = op(_compare(np.not_equal, "ne"), aliases=("not_equal",), inplace=True, dunders=("__ne__",))
lt = op(_compare(np.less, "lt", True), aliases=("less",), inplace=True, dunders=("__lt__",))
le = op(
    _compare(np.less_equal, "le", True),
    aliases=("less_equal",),
    inplace=True,
    dunders=("__le__",),
)
gt = op(_compare(np.greater, "gt", True), aliases=("greater",), inplace=True, dunders=("__gt__",))
ge = op(
    _compare(np.greater_equal, "ge", True),
    aliases=("greater_equal",),
    inplace=True,
    dunders=("__ge__",),
)
logical_and = op(_compare(np.logical_and, "logical_and"), inplace=True)
logical_or = op(_compare(np.logical_or, "logical_or"), inplace=True)
logical_xor = op(_compare(np.logical_xor, "logical_xor"), inplace=True)


def _bitwise(ufunc: np.ufunc) -> Callable[[Any, Any], Tensor]:
    def fn(input: Any, other: Any) -> Tensor:
        input, other = as_tensor_arg(input, "input"), as_tensor_arg(other)
        a = input._data if isinstance(input, Tensor) else np.asarray(input)
        b = other._data if isinstance(other, Tensor) else np.asarray(other)
        if a.dtype != b.dtype or not isinstance(input, Tensor) or not isinstance(other, Tensor):
            # torch's promotion (a 0-d int64 with an int32 tensor gives int32); a Python
            # int out of the result's range wraps around, as in torch
            dt = dtypes.result_type(input, other)
            if kind_of(dt) not in "fc":
                a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
        else:
            dt = a.dtype
        if kind_of(dt) in "fc":
            raise NotImplementedError(
                f"\"{ufunc.__name__}_cpu\" not implemented for '{dtypes.scalar_type_name(dt)}'"
            )
        return _make(np.asarray(ufunc(a, b)))

    fn.__name__ = fn.__qualname__ = ufunc.__name__
    word = {"bitwise_and": "AND", "bitwise_or": "OR", "bitwise_xor": "XOR"}[ufunc.__name__]
    fn.__doc__ = f"Bitwise {word} of two integer or bool tensors (broadcast); ``&``, ``|``, ``^``."
    return fn


bitwise_and = op(
    _bitwise(np.bitwise_and), inplace=True, dunders=("__and__", "__rand__", "__iand__")
)
bitwise_or = op(_bitwise(np.bitwise_or), inplace=True, dunders=("__or__", "__ror__", "__ior__"))
bitwise_xor = op(
    _bitwise(np.bitwise_xor), inplace=True, dunders=("__xor__", "__rxor__", "__ixor__")
)


def _shift(left: bool) -> Callable[[Any, Any], Tensor]:
    kernel = "lshift_cpu" if left else "rshift_cpu"

    def fn(input: Any, other: Any) -> Tensor:
        input, other = as_tensor_arg(input, "input"), as_tensor_arg(other)
        a = input._data if isinstance(input, Tensor) else np.asarray(input)
        b = other._data if isinstance(other, Tensor) else np.asarray(other)
        dt = dtypes.result_type(input, other)  # (bool with a Python int: int64)
        if kind_of(dt) in "fcb":
            raise dtypes.kernel_missing(kernel, dt)
        a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
        # torch: a shift by a negative count or by the width or more gives 0 (-1 for a
        # negative number shifted right), where C (and NumPy) leave it undefined
        out_of_range = (b < 0) | (b >= dt.itemsize * 8)
        counts = np.where(out_of_range, 0, b).astype(dt, copy=False)
        if left:
            out = np.where(out_of_range, 0, np.left_shift(a, counts))
        else:
            fill = np.where(a < 0, -1, 0) if kind_of(dt) == "i" else 0
            out = np.where(out_of_range, fill, np.right_shift(a, counts))
        return _make(np.asarray(out, dtype=dt))

    fn.__name__ = fn.__qualname__ = "bitwise_left_shift" if left else "bitwise_right_shift"
    way = "left" if left else "right (arithmetic for signed types)"
    fn.__doc__ = f"``input`` shifted {way} by ``other`` bits (integers); ``<<``/``>>``."
    return fn


bitwise_left_shift = op(
    _shift(True), inplace=True, dunders=("__lshift__", "__rlshift__", "__ilshift__")
)
bitwise_right_shift = op(
    _shift(False), inplace=True, dunders=("__rshift__", "__rrshift__", "__irshift__")
)


@op(inplace=True)
def bitwise_not(input: Tensor) -> Tensor:
    """Bitwise NOT of an integer tensor (logical NOT of a bool tensor); ``~x``."""
    dt = input._data.dtype
    if kind_of(dt) in "fc":
        raise NotImplementedError(
            f"\"bitwise_not_cpu\" not implemented for '{dtypes.scalar_type_name(dt)}'"
        )
    return _make(np.invert(input._data))


@tensor_method(name="__invert__")
def _invert(input: Tensor) -> Tensor:
    """The ``~`` operator (not a public function): a TypeError on floats, as torch."""
    if kind_of(input._data.dtype) in "fc":
        raise TypeError(
            "~ (operator.invert) is only implemented on integer and Boolean-type tensors"
        )
    return _make(np.invert(input._data))


@op(inplace=True)
def logical_not(input: Tensor) -> Tensor:
    """``True`` where ``input`` is zero (a bool tensor)."""
    return _make(np.logical_not(input._data))


@op
def isnan(input: Tensor) -> Tensor:
    """``True`` where an element is nan."""
    return _make(np.isnan(input._data))


@op
def isinf(input: Tensor) -> Tensor:
    """``True`` where an element is +inf or -inf."""
    return _make(np.isinf(input._data))


@op
def isposinf(input: Tensor) -> Tensor:
    """``True`` where an element is +inf."""
    return _make(np.isposinf(input._data))


@op
def isneginf(input: Tensor) -> Tensor:
    """``True`` where an element is -inf."""
    return _make(np.isneginf(input._data))


@op
def isfinite(input: Tensor) -> Tensor:
    """``True`` where an element is neither inf nor nan."""
    return _make(np.isfinite(input._data))


@op
def equal(input: Tensor, other: Tensor) -> bool:
    """True if both tensors have the same shape and elements."""
    return input._data.shape == other._data.shape and bool(np.all(input._data == other._data))


@op
@quiet  # inf - inf: torch is silent
def isclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` element by element (a bool tensor);
    ``equal_nan`` counts two nans as close.
    """
    return _make(np.isclose(input._data, _values(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


@op
@quiet
def allclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """Whether ``isclose(input, other, rtol, atol, equal_nan)`` holds everywhere (a Python bool)."""
    return bool(np.allclose(input._data, _values(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


# --------------------------------------------------------------------------- gcd, lcm


def _integer_pair(name: str, input: Tensor, other: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both operands as arrays of their promoted integer dtype (torch's checks first)."""
    if not isinstance(other, Tensor):
        raise TypeError(
            f"{name}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}"
        )
    dt = dtypes.result_type(input, other)
    if kind_of(dt) in "fcb":
        raise dtypes.kernel_missing(f"{name}_cpu", dt)
    a, b = input._data.astype(dt, copy=False), other._data.astype(dt, copy=False)
    error = broadcast_error(input, other)
    if error is not None:
        raise error
    return a, b


@op(inplace=True, inplace_function=True)
def gcd(input: Tensor, other: Tensor) -> Tensor:
    """The greatest common divisor of integer tensors, elementwise (broadcast); non-negative,
    ``gcd(0, 0) = 0``."""
    a, b = _integer_pair("gcd", input, other)
    return _make(np.asarray(np.gcd(a, b)))


@op(inplace=True, inplace_function=True)
def lcm(input: Tensor, other: Tensor) -> Tensor:
    """The least common multiple of integer tensors, elementwise (broadcast): ``|a / gcd *
    b|``, 0 where either is 0 (wrapping around on overflow, as torch's)."""
    a, b = _integer_pair("lcm", input, other)
    g = np.gcd(a, b)
    with np.errstate(all="ignore"):
        out = np.abs((a // np.where(g == 0, 1, g)) * b)
    return _make(np.asarray(np.where(g == 0, 0, out).astype(g.dtype, copy=False)))
