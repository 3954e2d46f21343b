"""The op catalog. Each family module declares its ops where it defines them
(``chainrule._registry.op``); importing this package imports every family and then binds the
declared methods, in-place forms and operators onto ``Tensor``, once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule import _coverage, _registry, creation
from chainrule._tensor import Tensor
from chainrule.ops import (  # noqa: F401  (importing a family declares its ops)
    activation,
    broadcast,
    compare,
    conv,
    elementwise,
    histogram,
    index,
    inplace,
    linalg,
    reduce,
    search,
    shape,
    softmax,
    sorting,
)

__all__: list[str] = []
_ = creation  # declares the x.new_* methods


def _reflected(fn: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: Tensor, other: Any) -> Any:
        return fn(other, self)

    method.__name__ = method.__qualname__ = f"r{fn.__name__}"
    return method


_MAKE = {
    "method": lambda fn: fn,
    "property": property,
    "inplace": inplace.inplace_method,
    "inplace_view": inplace.inplace_view_method,
    "reflected": _reflected,
}


def _bind(name: str, m: _registry.Method) -> None:
    setattr(Tensor, name, _MAKE[m.kind](m.fn))


def bind_methods() -> None:
    """Set every declared method on Tensor (the registry says how each one is made), and
    have methods declared from now on bound as they are declared."""
    for name, m in _registry.METHODS.items():
        _bind(name, m)
    _registry.late_binder = _bind
    _coverage.mark_missing_methods(Tensor)  # torch's other names: an AttributeError with a hint


bind_methods()
