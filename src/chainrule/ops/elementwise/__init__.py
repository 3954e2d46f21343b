"""Elementwise math, in ten files: arithmetic.py (add, sub, mul, div, pow, square,
floor_divide, remainder, fmod), unary.py (neg, abs, exp/log, sqrt, trig, sigmoid, relu, erf,
rounding), select.py (clamp, maximum, minimum, where, lerp), casts.py (clone, to) and
gamma.py (lgamma, digamma, polygamma, mvlgamma, erfinv, xlogy), trig.py (asin ... atanh,
atan2), addc.py (addcmul, addcdiv), ratios.py (logit, sinc), signs.py (copysign, heaviside,
signbit), complexes.py (real, imag, view_as_real/complex, angle, sgn, complex, polar);
the NumPy kernels of erf and the logistic function are in chainrule/backend/special.py."""

from __future__ import annotations

from chainrule._registry import export_package
from chainrule.ops.elementwise import (  # noqa: F401  (each declares its ops)
    addc,
    arithmetic,
    casts,
    complexes,
    gamma,
    ratios,
    select,
    signs,
    trig,
    unary,
)

__all__ = export_package(globals(), __name__)
