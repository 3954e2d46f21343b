"""``Parameter``: a tensor that a Module registers as one of its learnable weights."""

from __future__ import annotations

from typing import Any

from chainrule._tensor import Tensor, _make

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf tensor (``requires_grad=True`` by default) that shares memory with ``data``.

    Assigning one to a Module attribute registers it. Operations on a Parameter return
    plain tensors, as in torch.
    """

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            from chainrule.creation import empty

            data = empty(0)
        return Tensor._make_subclass(cls, data, requires_grad)  # shares data's memory, version

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        out = type(self)(_make(self._data.copy()), self._requires_grad)  # no grad, as torch
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("chainrule tensors are not pickled; use chainrule.save (safetensors)")
