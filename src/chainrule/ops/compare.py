"""Comparisons, predicates and logic: boolean results, never differentiable."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._tensor import Tensor, _make
from chainrule.ops.op import as_tensor_arg

__all__ = [
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
    "not_equal", "isnan", "isinf", "isfinite", "isposinf", "isneginf", "logical_and",
    "logical_or", "logical_not", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "equal", "isclose", "allclose",
]  # fmt: skip


def _values(x: Any) -> Any:
    x = as_tensor_arg(x)
    return x._data if isinstance(x, Tensor) else x


def _compare(ufunc: np.ufunc):
    def fn(input: Any, other: Any) -> Tensor:
        return _make(np.asarray(ufunc(_values(input), _values(other))))

    fn.__name__ = ufunc.__name__
    fn.__doc__ = f"Elementwise ``{ufunc.__name__}`` with broadcasting (bool result)."
    return fn


eq = _compare(np.equal)
ne = not_equal = _compare(np.not_equal)
lt = less = _compare(np.less)
le = less_equal = _compare(np.less_equal)
gt = greater = _compare(np.greater)
ge = greater_equal = _compare(np.greater_equal)
logical_and = _compare(np.logical_and)
logical_or = _compare(np.logical_or)
logical_xor = _compare(np.logical_xor)


_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double"}


def _bitwise(ufunc: np.ufunc):
    def fn(input: Any, other: Any) -> Tensor:
        input, other = as_tensor_arg(input, "input"), as_tensor_arg(other)
        a = input._data if isinstance(input, Tensor) else np.asarray(input)
        b = other._data if isinstance(other, Tensor) else np.asarray(other)
        if a.dtype != b.dtype or not isinstance(input, Tensor) or not isinstance(other, Tensor):
            # torch's promotion (a 0-d int64 with an int32 tensor gives int32); a Python
            # int out of the result's range wraps around, as in torch
            dt = dtypes.result_type(input, other)
            if dt.kind not in "fc":
                a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
        else:
            dt = a.dtype
        if dt.kind in "fc":
            raise NotImplementedError(
                f"\"{ufunc.__name__}_cpu\" not implemented for '{_NAMES.get(dt.name, dt.name)}'"
            )
        return _make(np.asarray(ufunc(a, b)))

    fn.__name__ = ufunc.__name__
    return fn


bitwise_and = _bitwise(np.bitwise_and)
bitwise_or = _bitwise(np.bitwise_or)
bitwise_xor = _bitwise(np.bitwise_xor)


def bitwise_not(input: Tensor) -> Tensor:
    dt = input._data.dtype
    if dt.kind in "fc":
        raise NotImplementedError(
            f"\"bitwise_not_cpu\" not implemented for '{_NAMES.get(dt.name, dt.name)}'"
        )
    return _make(np.invert(input._data))


def _invert(input: Tensor) -> Tensor:
    """The ``~`` operator (not a public function): a TypeError on floats, as torch."""
    if input._data.dtype.kind in "fc":
        raise TypeError(
            "~ (operator.invert) is only implemented on integer and Boolean-type tensors"
        )
    return _make(np.invert(input._data))


def logical_not(input: Tensor) -> Tensor:
    return _make(np.logical_not(input._data))


def isnan(input: Tensor) -> Tensor:
    return _make(np.isnan(input._data))


def isinf(input: Tensor) -> Tensor:
    return _make(np.isinf(input._data))


def isposinf(input: Tensor) -> Tensor:
    return _make(np.isposinf(input._data))


def isneginf(input: Tensor) -> Tensor:
    return _make(np.isneginf(input._data))


def isfinite(input: Tensor) -> Tensor:
    return _make(np.isfinite(input._data))


def equal(input: Tensor, other: Tensor) -> bool:
    """True if both tensors have the same shape and elements."""
    return input._data.shape == other._data.shape and bool(np.all(input._data == other._data))


def isclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    return _make(np.isclose(input._data, _values(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    return bool(np.allclose(input._data, _values(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


TENSOR_METHODS = {
    name: globals()[name]
    for name in """eq ne lt le gt ge greater greater_equal less less_equal not_equal isnan isinf
    isfinite isposinf isneginf logical_and logical_or logical_not logical_xor bitwise_and
    bitwise_or bitwise_xor bitwise_not equal isclose allclose""".split()
}
