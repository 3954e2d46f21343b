"""Anomaly detection (``torch.autograd.detect_anomaly``): nan in backward names the op and
shows the forward traceback of where it was created."""

from __future__ import annotations

from typing import Any

from chainrule.ops.op import anomaly

__all__ = [
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "is_anomaly_check_nan_enabled",
]


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection (``detect_anomaly``) is on."""
    return anomaly.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection also checks each gradient for nan."""
    return anomaly.check_nan


class set_detect_anomaly:
    """Turn anomaly mode on or off; works as a call and as a context manager."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = (anomaly.enabled, anomaly.check_nan)
        anomaly.enabled, anomaly.check_nan = bool(mode), bool(check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        anomaly.enabled, anomaly.check_nan = self.prev


class detect_anomaly:
    """Context manager (and decorator) enabling anomaly mode, as torch's."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self.prev = (anomaly.enabled, anomaly.check_nan)
        anomaly.enabled, anomaly.check_nan = True, self.check_nan

    def __exit__(self, *exc: Any) -> None:
        anomaly.enabled, anomaly.check_nan = self.prev

    def __call__(self, fn: Any) -> Any:
        import functools

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapper
