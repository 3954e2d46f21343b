"""Neural networks: Module, Parameter, containers, layers, losses, functional, init and utils
(``torch.nn``).

Each submodule lists its public names in ``__all__``; add a layer file to ``_SUBMODULES``
and its names appear here.
"""

from __future__ import annotations

import importlib

from chainrule.nn import functional, init, utils
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter

__all__ = ["Module", "Parameter", "functional", "init", "utils"]

# submodules whose __all__ is re-exported here, in order; one not written yet is skipped
_SUBMODULES = [
    "container", "parameter_container", "linear", "conv", "pooling", "normalization", "sparse",
    "dropout", "activation", "attention", "flatten", "loss",
]  # fmt: skip

for _name in _SUBMODULES:
    try:
        _mod = importlib.import_module(f"chainrule.nn.{_name}")
    except ModuleNotFoundError as _e:
        if _e.name != f"chainrule.nn.{_name}":
            raise
        continue
    for _key in _mod.__all__:
        globals()[_key] = getattr(_mod, _key)
        __all__.append(_key)
