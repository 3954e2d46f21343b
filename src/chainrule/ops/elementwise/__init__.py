"""Elementwise math, in four files: arithmetic.py (add, sub, mul, div, pow, square,
floor_divide, remainder, fmod), unary.py (neg, abs, exp/log, sqrt, trig, sigmoid, relu, erf,
rounding), select.py (clamp, maximum, minimum, where, lerp) and casts.py (clone, to);
special.py holds the NumPy kernels of erf and the logistic function."""

from __future__ import annotations

from chainrule.ops.elementwise.arithmetic import (
    add,
    div,
    divide,
    floor_divide,
    fmod,
    mul,
    multiply,
    pow,
    remainder,
    square,
    sub,
    subtract,
    true_divide,
)  # fmt: skip
from chainrule.ops.elementwise.casts import clone, to
from chainrule.ops.elementwise.select import clamp, clip, lerp, maximum, minimum, where
from chainrule.ops.elementwise.special import _erf, _sigmoid
from chainrule.ops.elementwise.unary import (
    abs,
    absolute,
    ceil,
    cos,
    erf,
    exp,
    expm1,
    floor,
    frac,
    log,
    log1p,
    log2,
    log10,
    neg,
    negative,
    reciprocal,
    relu,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    tan,
    tanh,
    trunc,
)  # fmt: skip

__all__ = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "pow",
    "floor_divide", "remainder", "fmod", "neg", "negative", "abs", "absolute", "exp", "expm1",
    "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "square", "reciprocal", "sin", "cos",
    "tan", "tanh", "sigmoid", "relu", "erf", "sign", "floor", "ceil", "round", "trunc",
    "frac", "clamp", "clip", "minimum", "maximum", "where", "lerp", "clone",
]  # fmt: skip

TENSOR_METHODS = {
    name: globals()[name]
    for name in """add sub subtract mul multiply div divide true_divide pow floor_divide
    remainder fmod neg negative abs absolute exp expm1 log log2 log10 log1p sqrt rsqrt square
    reciprocal sin cos tan tanh sigmoid relu erf sign floor ceil round trunc frac clamp clip
    minimum maximum lerp clone""".split()
}

_ = (_erf, _sigmoid, to)  # re-exported: activation.py uses the kernels, ops/__init__ binds to
