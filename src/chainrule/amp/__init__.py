"""torch.amp: autocast (mixed precision) on the CPU."""

from __future__ import annotations

from chainrule.amp.autocast_mode import (
    autocast,
    get_autocast_dtype,
    is_autocast_available,
    is_autocast_enabled,
)

__all__ = ["autocast", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype"]
