"""Counting into bins: bincount and histc (no derivative; bincount's weighted counts carry
torch's node whose backward raises)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule.dtypes import kernel_missing, kind_of
from chainrule.ops.op import Op


class Bincount(Op):
    """Weighted counts: recorded as torch records them (``torch::autograd::NotImplemented``),
    whose backward raises."""

    save_inputs = False
    torch_name = "torch::autograd::NotImplemented"

    def forward(self, w, counts):
        return counts

    def backward(self, g):
        raise RuntimeError("derivative for aten::bincount is not implemented")


@op
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """How often each value ``0 .. max(input)`` occurs in the 1-D non-negative integer
    ``input`` (at least ``minlength`` bins): int64 counts, or the sums of ``weights`` (float32
    for float32 weights, float64 for any other), added in order as torch's kernel adds."""
    x = input._data
    if kind_of(x.dtype) != "i" and kind_of(x.dtype) != "u":
        raise kernel_missing("bincount_cpu", x)
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if x.ndim != 1 or (x.size and x.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None and (weights._data.ndim != 1 or weights._data.shape[0] != x.size):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    if x.size == 0:
        return _make(np.zeros(minlength, np.int64))
    n = max(int(x.max()) + 1, minlength)
    if weights is None:
        return _make(np.bincount(x.astype(np.int64), minlength=n).astype(np.int64))
    w = weights._data
    dt = np.float32 if w.dtype == np.float32 else np.float64
    out = np.zeros(n, dt)
    np.add.at(out, x.astype(np.int64), (w.real if w.dtype.kind == "c" else w).astype(dt))
    return Bincount.apply(weights, counts=out)


def _edge_text(v: float, from_data: bool) -> str:
    """A bin edge as torch's message prints it (C++ streams: ``%g``; a nan the data gave,
    from its min/max reduction, prints as ``-nan``)."""
    if math.isnan(v):
        return "-nan" if from_data or math.copysign(1.0, v) < 0 else "nan"
    return f"{v:g}"


@op
def histc(input: Tensor, bins: int = 100, min: Any = 0, max: Any = 0) -> Tensor:
    """A histogram of ``input``'s elements in ``bins`` equal bins over ``[min, max]`` (the
    data's own range when ``min == max``; widened by 1 on each side when that is a single
    value); elements outside, and nans, are not counted; the last bin includes ``max``.
    Same dtype as ``input`` (floating only)."""
    x = input._data
    if kind_of(x.dtype) != "f":
        raise kernel_missing("histogram_cpu", x)
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi, from_data = float(min), float(max), False
    if lo == hi and x.size:
        with np.errstate(invalid="ignore"):
            lo, hi = float(np.min(x)), float(np.max(x))
        from_data = True
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(
            f"torch.histc: range of [{_edge_text(lo, from_data)}, {_edge_text(hi, from_data)}]"
            " is not finite"
        )
    if not lo < hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    # torch's histc kernel (linear interpolation, no search among the edges), in the
    # input's dtype: the bin is trunc((x - min) * bins / (max - min)), max in the last
    t = x.dtype.type
    left, right = t(lo), t(hi)
    flat = x.reshape(-1)
    with np.errstate(invalid="ignore"):
        v = flat[(flat >= left) & (flat <= right)]
    pos = ((v - left) * t(bins) / (right - left)).astype(np.int64)
    pos = np.where(pos == bins, bins - 1, pos)
    hist = np.bincount(pos, minlength=bins).astype(x.dtype)
    return _make(hist)
