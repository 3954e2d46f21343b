"""The kernel layer: one dispatch table per backend, and ``K``, the active one.

Ops call kernels as ``K.gelu(x, approximate)``: plain array functions (arrays in, a new
array out), never recording anything. A backend is a dict ``name -> function`` with the
same names and signatures:

- ``"numpy"`` (numpy_kernels.py): the readable reference, always present;
- ``"native"`` (native.py): C loops compiled at install time (native.c through cffi), each
  falling back to the reference for a case it does not cover. Present when the extension
  was built; the default unless the environment sets ``CHAINRULE_NATIVE=0``.

A new backend (a GPU one) is one more table. ``use(name)`` switches the active table in
place, so modules that imported ``K`` see the switch (tests run the kernels on both paths
this way); ``TABLES[name]`` is one backend's table, for calling a backend directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import SimpleNamespace

from chainrule.backend import numpy_kernels
from chainrule.backend.memory import keep_freed_blocks

__all__ = ["K", "TABLES", "active", "native_available", "threaded", "use"]

TABLES: dict[str, dict[str, Callable]] = {"numpy": numpy_kernels.KERNELS}
try:
    from chainrule.backend import native
except ImportError:  # the extension was not built (no compiler at install): NumPy only
    native = None  # type: ignore[assignment]
else:
    TABLES["native"] = native.KERNELS

K = SimpleNamespace()
_active = ["numpy"]


def use(name: str) -> None:
    """Make ``name``'s table the active one (``K``'s functions)."""
    if name not in TABLES:
        raise ValueError(f"no kernel backend {name!r}; available: {sorted(TABLES)}")
    K.__dict__.update(TABLES[name])
    _active[0] = name


def active() -> str:
    """The name of the active backend."""
    return _active[0]


_THREADED: dict[Callable, Callable] = {}


def threaded(ufunc: Callable) -> Callable:
    """``ufunc``'s call through the active table's ``arith`` (the native one runs add,
    subtract, multiply and divide of a large array on the kernels' threads): what Op.apply
    calls for an op whose forward is a ufunc when ``threads.PARALLEL`` and the first array
    is large. One function per ufunc, made once."""
    f = _THREADED.get(ufunc)
    if f is None:

        def f(*arrays):
            return K.arith(ufunc, *arrays)

        _THREADED[ufunc] = f
    return f


def native_available() -> bool:
    """Whether the native kernels were built (and so can be used)."""
    return "native" in TABLES


use("native" if native_available() and os.environ.get("CHAINRULE_NATIVE", "1") != "0" else "numpy")
keep_freed_blocks()  # large temporaries reused, not mapped afresh each step (memory.py)
