"""Everything ``import chainrule as cr`` offers, gathered once (loaded on first use): the
modules' public names, and every op declared in the registry's top-level namespace."""

from __future__ import annotations

from chainrule import (
    _device,
    _layout,
    _registry,
    creation,
    dtypes,
    graph,
    legacy,
    ops,
    serialization,
)
from chainrule._tensor import Size, Tensor
from chainrule.amp import autocast_mode
from chainrule.backend import threads
from chainrule.compiler import compile

__all__ = ["Tensor", "Size", "compile", "autocast", "is_autocast_enabled", "get_autocast_dtype"]
autocast, is_autocast_enabled, get_autocast_dtype = (
    autocast_mode.autocast,
    autocast_mode.is_autocast_enabled,
    autocast_mode.get_autocast_dtype,
)

for _mod in [dtypes, _device, _layout, graph, creation, serialization, legacy, threads]:
    for _name in _mod.__all__:
        globals()[_name] = getattr(_mod, _name)
        __all__.append(_name)

__all__ += _registry.export(globals(), "")
_ = ops  # imported for its side effect: every family declares its ops, Tensor gets methods
