"""``Parameter``: a tensor that a Module registers as one of its learnable weights."""

from __future__ import annotations

from typing import Any

from chainrule._tensor import Tensor, _make, version_counter

__all__ = ["Parameter"]


def mark_modified(t: Tensor, times: int = 1) -> None:
    """Record an in-place change of ``t``'s values (made on its array directly, under
    no_grad): its version moves, so backward through a graph that saved it fails as torch's."""
    from chainrule.ops.op import inplace_log

    inplace_log.count += 1
    version_counter(t)[0] += times


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
        t._vc = version_counter(data)  # shares data's memory and version, like torch
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
        out = type(self)(_make(self._data.copy()), self._requires_grad)  # no grad, as torch
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("chainrule tensors are not pickled; use chainrule.save (safetensors)")
