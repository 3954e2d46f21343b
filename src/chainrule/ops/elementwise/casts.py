"""Copies and casts: clone, and ``Tensor.to`` (a recorded dtype cast)."""

from __future__ import annotations

from typing import Any

from chainrule import dtypes
from chainrule._tensor import Tensor
from chainrule.ops.op import Op

__all__ = ["clone"]


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
