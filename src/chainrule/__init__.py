"""chainrule: tensors with PyTorch's autograd semantics on NumPy, and a scalar engine.

``import chainrule as cr`` gives the torch-like namespace (``cr.tensor``, ``cr.no_grad``,
``cr.float32``, ``cr.exp`` ...). It is loaded on first use, so ``import chainrule.scalar``
(standard library only) never loads NumPy.
"""

from __future__ import annotations

import importlib
import pathlib
from typing import Any

__version__ = "0.1.0"

_HERE = pathlib.Path(__file__).parent
_SUBMODULES = {p.stem for p in _HERE.glob("*.py")} | {
    p.parent.name for p in _HERE.glob("*/__init__.py")
}

_loaded = False  # the torch-like namespace has been copied in from chainrule._api


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:  # a submodule not imported yet: never load the whole namespace
        return importlib.import_module(f"chainrule.{name}")
    global _loaded
    g = globals()
    if not _loaded:  # first use: copy the namespace in, once (a user's patch then stays)
        api = importlib.import_module("chainrule._api")
        for key in api.__all__:
            g.setdefault(key, getattr(api, key))
        _loaded = True
        if name in g:
            return g[name]
    from chainrule._coverage import hint

    raise AttributeError(f"module 'chainrule' has no attribute {name!r}{hint('torch', name)}")


def __dir__() -> list[str]:
    api = importlib.import_module("chainrule._api")
    return sorted(set(globals()) | set(api.__all__) | _SUBMODULES)
