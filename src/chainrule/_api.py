"""Everything ``import chainrule as cr`` offers, gathered once (loaded on first use)."""

from __future__ import annotations

from chainrule import _device, creation, dtypes, graph, ops, serialization
from chainrule._tensor import Size, Tensor

__all__ = ["Tensor", "Size"]

for _mod in [dtypes, _device, graph, creation, *ops.families(), serialization]:
    for _name in _mod.__all__:
        globals()[_name] = getattr(_mod, _name)
        __all__.append(_name)
