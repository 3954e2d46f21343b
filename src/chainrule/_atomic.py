"""Atomic file writes for checkpoints: a save either leaves the complete new file or leaves
the old one untouched, whatever interrupts it (Ctrl-C, SIGKILL, a full disk, a crash).

The data goes to a temporary file in the destination's directory (the same file system,
so the final rename is atomic), which is flushed and fsync'ed, then renamed onto the
destination with ``os.replace``; the directory is fsync'ed so the rename itself survives
a power loss. On any error the temporary file is removed and the error names the
destination and the cause. A process killed outright (SIGKILL) cannot clean up: it leaves
a hidden ``.<name>.<random>.tmp`` next to the destination, never a damaged destination.
A reader that mapped the old file (``load(..., mmap=True)``) keeps reading the old file's
data: the rename gives the path a new file instead of rewriting the old one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from typing import Any


def _named(e: OSError, path: str, who: str) -> OSError:
    """``e`` (same class: PermissionError, OSError ENOSPC ...) naming the destination."""
    if e.errno is None:
        return type(e)(f"{who} could not write {path!r}: {e}")
    return OSError(e.errno, f"{e.strerror}; {who} left {path!r} as it was (no partial file)", path)


def atomic_write(path: Any, write: Callable[[Any], None], who: str = "chainrule.save") -> None:
    """Write a file at ``path`` with ``write(fh)`` (a binary file object), atomically."""
    path = os.fspath(path)
    # a symbolic link is followed, as open(path, "wb") would: the link stays a link
    target = os.path.realpath(path) if os.path.islink(path) else path
    directory = os.path.dirname(os.path.abspath(target))
    tmp = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(6)}.tmp")
    try:
        # 0o666 less the umask, the mode open() gives a new file
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as e:
        raise _named(e, path, who) from e
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileNotFoundError):  # overwriting keeps the file's mode
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _named(e, path, who) from e
        raise
    _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; its rename is durable on its own
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory
        pass
    finally:
        os.close(fd)
