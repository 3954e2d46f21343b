"""Utilities outside the tensor core: data loading (``utils.data``) and hook handles
(``utils.hooks``), loaded on first use (``chainrule.utils.data.DataLoader`` just works)."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["data", "hooks"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"chainrule.utils.{name}")
    raise AttributeError(f"module 'chainrule.utils' has no attribute {name!r}")
