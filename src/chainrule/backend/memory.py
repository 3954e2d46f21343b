"""glibc's malloc, tuned for a training loop's large temporaries.

Every op returns a new array, and a training step frees and makes again the same large
arrays (im2col columns, activations, their gradients) each step. With glibc's defaults a
block above the mmap threshold is mapped fresh and unmapped when freed, and the heap's free
top is trimmed back to the system, so the next step touches new pages: thousands of page
faults per step (measured on issue 12's W5 CNN step: ~6,500 faults, a third of its time;
torch's own step: none). Raising the two thresholds to the values glibc's own dynamic
heuristic moves towards (the mmap threshold's ceiling, 32 MiB, and twice that for trimming)
keeps such blocks in the heap for reuse. It costs at most that much freed memory held by
the process. ``CHAINRULE_MALLOC=default`` leaves malloc alone; other C libraries are left
alone too."""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD = 32 << 20  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit glibc
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD

tuned = [False]


def keep_freed_blocks() -> bool:
    """Set glibc's mmap and trim thresholds (see the module's doc); True if set."""
    if os.environ.get("CHAINRULE_MALLOC", "") == "default" or tuned[0]:
        return tuned[0]
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    tuned[0] = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return tuned[0]
