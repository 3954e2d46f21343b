"""The compiler's log: ``CHAINRULE_LOGS=compile`` (a comma-separated list, as torch's
TORCH_LOGS) sends it to stderr, on the ``chainrule.compile`` logger."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

__all__ = ["log", "say"]

log = logging.getLogger("chainrule.compile")
_handler: logging.Handler | None = None


def _logging_on() -> bool:
    global _handler
    names = {n.strip().lstrip("+") for n in os.environ.get("CHAINRULE_LOGS", "").split(",")}
    on = "compile" in names
    if on and _handler is None:
        _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(logging.Formatter("[chainrule.compile] %(message)s"))
        log.addHandler(_handler)
        log.setLevel(logging.INFO)
    return on


def say(msg: str, *args: Any) -> None:
    """Log ``msg % args`` when ``CHAINRULE_LOGS`` asks for the compiler's log."""
    if _logging_on():
        log.info(msg, *args)
