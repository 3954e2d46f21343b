"""Fusion (placeholder while the replay is tested)."""

from __future__ import annotations

from typing import Any


def fuse(program: Any) -> None:
    return None
