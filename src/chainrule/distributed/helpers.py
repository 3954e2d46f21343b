"""Rank-0 helpers (chainrule's own; torch leaves these to each script): print and log on
one rank, save a checkpoint once, run a function on rank 0 only. Each works with no
process group too (then this process is rank 0 of one)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from chainrule.distributed import process_group as _group

__all__ = ["is_main_process", "print0", "rank_zero_only", "save_on_main", "get_logger"]

_F = TypeVar("_F", bound=Callable[..., Any])


def is_main_process() -> bool:
    """True on rank 0, and in a process with no process group."""
    return _group.get_rank() in (0, -1)


def rank_zero_only(fn: _F) -> _F:
    """Decorate a function to run on rank 0 only (elsewhere it returns None)."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs) if is_main_process() else None

    return wrapped  # type: ignore[return-value]


def print0(*args: Any, **kwargs: Any) -> None:
    """``print`` on rank 0 only."""
    if is_main_process():
        kwargs.setdefault("flush", True)
        print(*args, **kwargs)


class _RankZeroFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return is_main_process()


def get_logger(name: str = "chainrule") -> logging.Logger:
    """A ``logging`` logger whose records are emitted on rank 0 only."""
    log = logging.getLogger(name)
    if not any(isinstance(f, _RankZeroFilter) for f in log.filters):
        log.addFilter(_RankZeroFilter())
    return log


def save_on_main(obj: Any, f: Any, **kwargs: Any) -> None:
    """``chainrule.save(obj, f)`` on rank 0 only, then a barrier, so every rank may load
    the file as soon as this returns (on a shared file system)."""
    import chainrule  # the public namespace (serialization pickles modules: it imports nn)

    if is_main_process():
        chainrule.save(obj, f, **kwargs)
    if _group.is_initialized():
        from chainrule.distributed.collectives import barrier

        barrier()
