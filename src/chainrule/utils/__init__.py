"""Utilities outside the tensor core: data loading (``utils.data``) and hook handles."""

from __future__ import annotations

__all__: list[str] = []
