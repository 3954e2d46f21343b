"""Reductions over dimensions (dim: None, int, negative or tuple; keepdim), in five files:
sums.py (sum, mean, nansum, nanmean, prod, cumsum, cumprod), extrema.py (amax, amin,
aminmax, max, min, argmax, argmin, all, any), stats.py (var, std, var_mean, std_mean,
logsumexp, norm), order.py (median, nanmedian, kthvalue, mode, quantile, nanquantile) and
scans.py (cummax, cummin, logcumsumexp)."""

from __future__ import annotations

from chainrule._registry import export_package
from chainrule.ops.reduce import extrema, order, scans, stats, sums  # noqa: F401  (each declares its ops)

__all__ = export_package(globals(), __name__)
