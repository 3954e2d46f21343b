"""``autocast``: torch's CPU mixed precision. Inside ``with autocast("cpu",
dtype=bfloat16)`` the functions on torch's CPU "lower_precision_fp" list (matmul, linear,
conv ...) cast their floating-point tensor arguments to the autocast dtype, and those on its
"fp32" list (the losses, linalg decompositions, prod, trace, cdist ...) cast them to float32;
every other function runs on its arguments' own dtypes. Each listed function is declared
with ``@autocast_policy(...)`` where it is defined, and runs with autocast off inside (as
torch's kernels do), so the functions it calls cast nothing more. Casts are recorded ``to``
ops, so gradients come back to each tensor in its own dtype; the cast of a float32 leaf that
requires grad is cached while autocast is on (torch's weight cache)."""

from __future__ import annotations

import functools
import warnings
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from chainrule import dtypes
from chainrule._tensor import Tensor
from chainrule.dtypes import autocast_state, precision

__all__ = [
    "autocast", "autocast_policy", "cast_for", "is_autocast_available", "is_autocast_enabled",
    "get_autocast_dtype", "POLICIES",
]  # fmt: skip

F = TypeVar("F", bound=Callable[..., Any])

POLICIES = {
    "lower_precision_fp": "floating-point tensors (not float64) cast to the autocast dtype",
    "fp32": "floating-point tensors (not float64) cast to float32",
    "promote": "floating-point tensors cast to the widest among them (cat, stack)",
    "off": "nothing cast; the functions it calls run without autocast (one torch kernel)",
}

_DEVICES = (
    "cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga",
    "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone",
)  # fmt: skip
_F32 = np.dtype(np.float32)


def _eligible(t: Any) -> bool:
    """torch's is_eligible: a floating-point tensor other than float64."""
    return (
        isinstance(t, Tensor)
        and dtypes.kind_of(t._data.dtype) == "f"
        and t._data.dtype != np.float64
    )


def _cast(t: Any, to: np.dtype) -> Any:
    if not _eligible(t) or t._data.dtype == to:
        return t
    cache = autocast_state.cache
    leaf = cache is not None and t.grad_fn is None and t._requires_grad and t._data.dtype == _F32
    if leaf:
        hit = cache.get((id(t), to))
        if hit is not None and hit[0]() is t:
            return hit[1]
    out = t.to(dtypes.FROM_NP[to])
    if leaf:
        cache[(id(t), to)] = (weakref.ref(t), out)
    return out


def _cast_all(args: tuple, kwargs: dict, to: np.dtype) -> tuple[tuple, dict]:
    def one(a: Any) -> Any:
        if type(a) in (list, tuple):
            return type(a)(_cast(x, to) for x in a)
        return _cast(a, to)

    return tuple(one(a) for a in args), {k: one(v) for k, v in kwargs.items()}


def _widest(args: tuple, kwargs: dict) -> np.dtype:
    """torch's autocast ``prioritize``: float32 if any floating-point tensor is, else the
    autocast dtype; another floating dtype (float16 under bfloat16 autocast) raises."""
    widest = autocast_state.dtype
    for a in (*args, *kwargs.values()):
        for t in a if type(a) in (list, tuple) else (a,):
            if _eligible(t):
                if t._data.dtype == _F32:
                    widest = _F32
                elif t._data.dtype != autocast_state.dtype:
                    raise RuntimeError("Unexpected floating ScalarType in at::autocast::prioritize")
    return widest


def cast_for(policy: str, t: Any) -> Any:
    """``t`` as a function with ``policy`` would receive it (for a function whose policy
    depends on its arguments: ``pad``'s reflect and replicate modes are "fp32")."""
    if not (precision.active and autocast_state.enabled) or policy == "off":
        return t
    return _cast(t, autocast_state.dtype if policy == "lower_precision_fp" else _F32)


def autocast_policy(policy: str) -> Callable[[F], F]:
    """Declare what autocast does to a function's arguments (one of ``POLICIES``): the
    function's entry on torch's CPU autocast lists."""
    if policy not in POLICIES:
        raise ValueError(f"autocast policy must be one of {sorted(POLICIES)}, not {policy!r}")

    def declare(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            if not (precision.active and autocast_state.enabled):
                return fn(*args, **kwargs)
            if policy == "promote":
                args, kwargs = _cast_all(args, kwargs, _widest(args, kwargs))
            elif policy != "off":
                to = autocast_state.dtype if policy == "lower_precision_fp" else _F32
                args, kwargs = _cast_all(args, kwargs, to)
            autocast_state.enabled = False  # torch's kernels run below autocast
            try:
                return fn(*args, **kwargs)
            finally:
                autocast_state.enabled = True

        run.autocast_policy = policy  # type: ignore[attr-defined]
        return run  # type: ignore[return-value]

    return declare


def _check_device(device_type: Any) -> None:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type.split(":")[0] not in _DEVICES:
        raise RuntimeError(
            f"Expected one of {', '.join(_DEVICES)} device type at start of device string: "
            f"{device_type}"
        )


def is_autocast_available(device_type: str) -> bool:
    """Is autocast available on ``device_type``? (The CPU only: chainrule has no other.)"""
    _check_device(device_type)
    return device_type == "cpu"


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Is autocast on for ``device_type`` in this thread? Without one, torch asks about
    CUDA, which chainrule never has."""
    if device_type is None:
        return False
    _check_device(device_type)
    return device_type == "cpu" and autocast_state.enabled


def get_autocast_dtype(device_type: str) -> dtypes.dtype:
    """The dtype autocast casts to on ``device_type`` (bfloat16 on the CPU by default)."""
    _check_device(device_type)
    if device_type != "cpu":
        return dtypes.float16
    return dtypes.FROM_NP[autocast_state.dtype]


class autocast:
    """``with autocast("cpu", dtype=bfloat16):`` (also a decorator): the functions on torch's
    CPU autocast lists run in lower precision or float32 (see the module docstring).

    As torch: another device type warns and disables autocast (chainrule is CPU-only); a
    dtype other than bfloat16 or float16 on the CPU warns and disables it."""

    def __init__(
        self,
        device_type: str,
        dtype: dtypes.dtype | None = None,
        enabled: bool = True,
        cache_enabled: bool | None = None,
    ) -> None:
        _check_device(device_type)
        self.device = device_type
        self.fast_dtype = dtypes.FROM_NP[autocast_state.dtype] if dtype is None else dtype
        self._enabled = bool(enabled)
        self._cache_enabled = True if cache_enabled is None else bool(cache_enabled)
        if device_type == "cuda":
            if enabled:
                warnings.warn(
                    "CUDA is not available or torch_xla is imported. Disabling autocast.",
                    stacklevel=2,
                )
            self._enabled = False
        elif device_type != "cpu":
            raise RuntimeError(
                f"User specified an unsupported autocast device_type '{device_type}'"
            )
        elif self.fast_dtype not in (dtypes.bfloat16, dtypes.float16):
            if enabled:
                warnings.warn(
                    "In CPU autocast, but the target dtype is not supported. Disabling "
                    "autocast.\nCPU Autocast only supports dtypes of chainrule.bfloat16, "
                    "chainrule.float16 currently.",
                    stacklevel=2,
                )
            self._enabled = False

    def __enter__(self) -> None:
        s = autocast_state
        self._prev = (s.enabled, s.dtype, s.cache)
        if self.device != "cpu":
            return
        precision.active = True
        s.enabled = self._enabled
        s.dtype = self.fast_dtype.np
        if self._enabled and self._cache_enabled and s.cache is None:
            s.cache = {}
        elif not self._cache_enabled:
            s.cache = None

    def __exit__(self, *exc: Any) -> None:
        s = autocast_state
        s.enabled, s.dtype, s.cache = self._prev

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]
