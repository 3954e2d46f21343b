"""Reductions over dimensions (dim: None, int, negative or tuple; keepdim), in three files:
sums.py (sum, mean, prod, cumsum, cumprod), extrema.py (amax, amin, max, min, argmax,
argmin, all, any) and stats.py (var, std, var_mean, std_mean, logsumexp, norm)."""

from __future__ import annotations

from chainrule.ops.reduce import extrema, stats, sums
from chainrule.ops.reduce.extrema import all, amax, amin, any, argmax, argmin, max, min
from chainrule.ops.reduce.stats import logsumexp, norm, std, std_mean, var, var_mean
from chainrule.ops.reduce.sums import cumprod, cumsum, mean, prod, sum

__all__ = [*sums.__all__, *extrema.__all__, *stats.__all__]

TENSOR_METHODS = {name: globals()[name] for name in __all__}

_ = (all, amax, amin, any, argmax, argmin, max, min, logsumexp, norm, std, std_mean, var,
     var_mean, cumprod, cumsum, mean, prod, sum)  # fmt: skip
