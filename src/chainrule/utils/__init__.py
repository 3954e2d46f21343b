"""Utilities outside the tensor core: data loading (``utils.data``), hook handles
(``utils.hooks``) and activation checkpointing (``utils.checkpoint``), loaded on first use
(``chainrule.utils.data.DataLoader`` just works)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ loads, as type checkers see it
    from chainrule.utils import checkpoint, data, hooks

__all__ = ["data", "hooks", "checkpoint"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"chainrule.utils.{name}")
    raise AttributeError(f"module 'chainrule.utils' has no attribute {name!r}")
