"""torch's legacy tensor types: ``LongTensor([1, 2])``, ``FloatTensor(2, 3)``, ``Variable``.

Old programs still build tensors through these. Each type makes a plain ``Tensor`` of its
dtype (from data, or uninitialised from sizes) and answers ``isinstance`` by dtype, as torch;
``Variable(t)`` is ``t.detach()`` with the requested ``requires_grad``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import _engine, dtypes
from chainrule._tensor import Size, Tensor

__all__ = [
    "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor",
    "BFloat16Tensor",
    "IntTensor", "LongTensor", "ShortTensor", "Variable",
]  # fmt: skip


class _LegacyType(type):
    """The metaclass: calling the type builds a Tensor; isinstance checks the dtype."""

    dtype: dtypes.dtype

    def __call__(cls, *args: Any, device: Any = None) -> Tensor:  # type: ignore[override]
        from chainrule.creation import empty, tensor

        if not args:
            return empty(0, dtype=cls.dtype)
        if len(args) == 1 and isinstance(args[0], Tensor):
            src = args[0]
            if src.dtype != cls.dtype:
                raise TypeError(
                    f"expected {cls.__name__} of dtype {cls.dtype}, got a tensor of {src.dtype}"
                )
            return src.detach()
        if len(args) == 1 and not isinstance(args[0], int | np.integer | Size):
            return tensor(args[0], dtype=cls.dtype)
        return empty(*args, dtype=cls.dtype)

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __repr__(cls) -> str:
        return f"<class 'chainrule.{cls.__name__}'>"


def _legacy(d: dtypes.dtype) -> Any:
    doc = (
        f"torch's legacy constructor of {d} tensors: ``{dtypes.tensor_type_name(d)}(data)`` "
        f"is ``tensor(data, dtype={d})``, ``{dtypes.tensor_type_name(d)}(2, 3)`` an "
        "uninitialized 2x3 tensor; ``isinstance(x, ...)`` checks the dtype."
    )
    return _LegacyType(
        dtypes.tensor_type_name(d), (), {"dtype": d, "__module__": __name__, "__doc__": doc}
    )


FloatTensor = _legacy(dtypes.float32)
DoubleTensor = _legacy(dtypes.float64)
HalfTensor = _legacy(dtypes.float16)
BFloat16Tensor = _legacy(dtypes.bfloat16)
LongTensor = _legacy(dtypes.int64)
IntTensor = _legacy(dtypes.int32)
ShortTensor = _legacy(dtypes.int16)
CharTensor = _legacy(dtypes.int8)
ByteTensor = _legacy(dtypes.uint8)
BoolTensor = _legacy(dtypes.bool)

BY_NAME = {t.__name__: t for t in [
    FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor, LongTensor, IntTensor, ShortTensor,
    CharTensor, ByteTensor, BoolTensor,
]}  # fmt: skip


class _VariableType(type):
    def __call__(cls, data: Tensor, requires_grad: bool = False, volatile: bool = False) -> Any:
        return data.detach().requires_grad_(requires_grad)

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, Tensor)


class _ExecutionEngine:
    """torch's ``Variable._execution_engine`` (its ``_ImperativeEngine``): what code outside
    the core reaches the engine through; here ``queue_callback``."""

    queue_callback = staticmethod(_engine.queue_callback)


class Variable(metaclass=_VariableType):
    """``autograd.Variable(t, requires_grad=False)``: since torch 0.4 just a Tensor."""

    _execution_engine = _ExecutionEngine()
