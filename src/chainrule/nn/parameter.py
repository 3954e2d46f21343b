"""``Parameter``: a tensor that a Module registers as one of its learnable weights."""

from __future__ import annotations

from typing import Any

from chainrule._tensor import Tensor

__all__ = ["Parameter"]

_new = object.__new__


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
        t = _new(cls)
        t._data = data._data
        t.grad_fn = None
        t._requires_grad = False
        if requires_grad:
            if data._data.dtype.kind not in "fc":
                raise RuntimeError(
                    "Only Tensors of floating point and complex dtype can require gradients"
                )
            t._requires_grad = True
        return t

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        out = Parameter(self.detach(), self._requires_grad)
        out._data = self._data.copy()
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("chainrule tensors are not pickled; use chainrule.save (safetensors)")
