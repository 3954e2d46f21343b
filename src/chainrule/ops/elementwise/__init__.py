"""Elementwise math, in four files: arithmetic.py (add, sub, mul, div, pow, square,
floor_divide, remainder, fmod), unary.py (neg, abs, exp/log, sqrt, trig, sigmoid, relu, erf,
rounding), select.py (clamp, maximum, minimum, where, lerp) and casts.py (clone, to);
special.py holds the NumPy kernels of erf and the logistic function."""

from __future__ import annotations

from chainrule._registry import export_package
from chainrule.ops.elementwise import arithmetic, casts, select, unary  # noqa: F401  (each declares its ops)

__all__ = export_package(globals(), __name__)
