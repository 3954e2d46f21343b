"""NumPy's floating-point warnings, switched off where torch is silent (1/0, log(0),
sqrt(-1), inf - inf, inf * 0, overflow): ``Op.apply`` runs every forward with them off,
the engine a whole backward walk, and ``quiet`` wraps the odd function outside an op.
Part of the tensor core (``_engine`` uses it), so it imports nothing of chainrule."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

__all__ = [
    "quiet", "ignore_fp_errors", "restore_fp_errors", "fp_errors_ignored", "fp_state", "fp_set",
    "FP_IGNORE",
]  # fmt: skip

try:  # NumPy 2: set the ufuncs' error state directly (np.errstate rebuilds it each entry)
    from numpy._core._ufunc_config import _extobj_contextvar as _state
    from numpy._core.umath import _make_extobj

    _IGNORE = _make_extobj(all="ignore")
except ImportError:  # pragma: no cover - other NumPy versions
    _state = None


if _state is not None:
    # Op.apply runs every forward between these two: NumPy's floating-point warnings off
    ignore_fp_errors = functools.partial(_state.set, _IGNORE)
    restore_fp_errors = _state.reset

    # the hot path reads and sets the state itself (``fp_state() is FP_IGNORE``,
    # ``fp_set(FP_IGNORE)``: no Python frame, no partial)
    fp_state, fp_set, FP_IGNORE = _state.get, _state.set, _IGNORE

    def fp_errors_ignored() -> bool:
        """Are NumPy's floating-point warnings already off here (a cached context read)?"""
        return _state.get() is _IGNORE

else:  # pragma: no cover
    fp_state, FP_IGNORE = (lambda: None), object()

    def fp_set(_: Any) -> Any:
        return np.seterr(all="ignore")

    def fp_errors_ignored() -> bool:
        return False

    def ignore_fp_errors() -> Any:
        return np.seterr(all="ignore")

    def restore_fp_errors(token: Any) -> None:
        np.seterr(**token)


def quiet(fn: Any) -> Any:
    """``fn`` with NumPy's floating-point warnings off (torch is silent on 1/0, log(0),
    sqrt(-1), inf - inf, overflow). For the forwards and rules that can meet those; ~0.2 us
    a call (np.errstate costs ~0.8 us), so the hot arithmetic ops are not wrapped."""
    if _state is None:  # pragma: no cover
        return np.errstate(all="ignore")(fn)
    set_, reset = _state.set, _state.reset

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        token = set_(_IGNORE)
        try:
            return fn(*args, **kwargs)
        finally:
            reset(token)

    return run
