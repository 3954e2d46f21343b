"""``chainrule.accelerator``: torch's device-agnostic questions, answered as torch's CPU build.

Programs start with ``device = torch.accelerator.current_accelerator() if
torch.accelerator.is_available() else "cpu"``; chainrule has no accelerator, so they take
the CPU branch. Asking for the current accelerator device raises torch's error.
"""

from __future__ import annotations

from typing import Any

from chainrule._device import device

__all__ = [
    "current_accelerator",
    "current_device_index",
    "current_stream",
    "device_count",
    "is_available",
    "set_device_index",
    "synchronize",
]

_NONE = "Cannot access accelerator device when none is available."


def is_available() -> bool:
    """False: chainrule has no accelerator, as torch's CPU build."""
    return False


def device_count() -> int:
    """0: there are no accelerator devices."""
    return 0


def current_accelerator(check_available: bool = False) -> device | None:
    """The accelerator's device type, or ``None``: there is none."""
    return None


def current_device_index() -> int:
    """Raises torch's RuntimeError: there is no accelerator device."""
    raise RuntimeError(_NONE)


def current_stream(device: Any = None) -> Any:
    """Raises torch's RuntimeError: there is no accelerator stream."""
    raise RuntimeError(_NONE)


def synchronize(device: Any = None) -> None:
    """Raises torch's RuntimeError: there is no accelerator to wait for."""
    raise RuntimeError(_NONE)


def set_device_index(device: Any) -> None:
    """Raises torch's RuntimeError: there is no accelerator device to select."""
    raise RuntimeError(_NONE)
