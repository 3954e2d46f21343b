"""The op catalog. Each family module declares its ops where it defines them
(``chainrule._registry.op``); importing this package imports every family and then binds the
declared methods, in-place forms and operators onto ``Tensor``, once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule import _registry
from chainrule._tensor import Tensor
from chainrule.ops import (  # noqa: F401  (importing a family declares its ops)
    activation,
    broadcast,
    compare,
    conv,
    elementwise,
    index,
    inplace,
    linalg,
    reduce,
    shape,
    softmax,
    sorting,
)

__all__: list[str] = []


def _reflected(fn: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: Tensor, other: Any) -> Any:
        return fn(other, self)

    method.__name__ = method.__qualname__ = f"r{fn.__name__}"
    return method


def bind_methods(cls: type = Tensor) -> None:
    """Set every declared method on ``cls`` (the registry says how each one is made)."""
    make = {
        "method": lambda fn: fn,
        "property": property,
        "inplace": inplace.inplace_method,
        "reflected": _reflected,
    }
    for name, m in _registry.METHODS.items():
        setattr(cls, name, make[m.kind](m.fn))


bind_methods()
