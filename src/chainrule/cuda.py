"""``chainrule.cuda``: there is no GPU backend; this answers the usual questions honestly."""

from __future__ import annotations

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all"]


def is_available() -> bool:
    """False: chainrule has no GPU backend (torch scripts take their CPU branch)."""
    return False


def device_count() -> int:
    """0: there are no CUDA devices."""
    return 0


def manual_seed(seed: int) -> None:
    """Nothing to seed (kept so torch scripts run unchanged)."""


manual_seed_all = manual_seed
