"""Running extremes and log-sum-exp: cummax, cummin (values and indices), logcumsumexp.

(cumsum and cumprod, the running sum and product, are in sums.py.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule.creation import zeros_like
from chainrule.dtypes import kernel_missing, kind_of, np_finfo
from chainrule.ops import elementwise as ew
from chainrule.ops.index.gather import scatter_add
from chainrule.ops.op import Op, save_index
from chainrule.ops.reduce.extrema import _return_type

cummax_type, cummin_type = _return_type("cummax"), _return_type("cummin")


class CumExtreme(Op):
    """The running extreme: the value at the index of the latest extreme (ties and nans
    take the later element, as torch's ``>=``); the gradient is scattered back to those
    indices (torch's cummaxmin_backward, which saves the input too)."""

    def forward(self, x, idx, dim):
        self.idx, self.dim = idx, dim
        return x.copy() if x.ndim == 0 else np.take_along_axis(x, idx, axis=dim)

    def backward(self, g):
        x = self.inputs[0]
        if x._data.ndim == 0:  # torch scatters into zeros: a new tensor, not g itself
            return g.clone()
        if x._data.size == 0:
            return x
        return scatter_add(zeros_like(g), self.dim, _make(self.idx), g)


class CummaxValues(CumExtreme):
    torch_name = "CummaxBackward0"


class CumminValues(CumExtreme):
    torch_name = "CumminBackward0"


def _cum_extreme(name: str, input: Tensor, dim: int) -> Any:
    x = input._data
    if kind_of(x.dtype) == "c":
        raise kernel_missing(f"{name}_cpu", x)
    d = wrap_dim(dim, x.ndim)
    largest = name == "cummax"
    if x.ndim == 0:
        idx = np.zeros((), np.int64)
    else:
        run = (np.maximum if largest else np.minimum).accumulate(x, axis=d)  # nan stays
        took = x == run
        if kind_of(x.dtype) == "f":
            took |= np.isnan(x)  # each nan takes over (torch's kernel)
        shape = [1] * x.ndim
        shape[d] = x.shape[d]
        pos = np.where(took, np.arange(x.shape[d]).reshape(shape), 0)
        idx = np.maximum.accumulate(pos, axis=d).astype(np.int64) if x.size else pos
    cls, rt = (CummaxValues, cummax_type) if largest else (CumminValues, cummin_type)
    indices = _make(idx)
    return rt(save_index(cls.apply(input, idx=idx, dim=d), indices), indices)


@op
def cummax(input: Tensor, dim: int) -> Any:
    """The named tuple ``(values, indices)`` of the running maximum along ``dim`` (the index
    of its latest occurrence; a nan is the maximum from where it appears)."""
    return _cum_extreme("cummax", input, dim)


@op
def cummin(input: Tensor, dim: int) -> Any:
    """Like ``cummax``, for the running minimum."""
    return _cum_extreme("cummin", input, dim)


class Logcumsumexp(Op):
    """``log(cumsum(exp(x)))`` without overflow (running logaddexp); ``reverse`` runs from
    the end (its gradient's). The gradient is torch's: the positive and negative parts of
    ``g`` in log space, each through the reverse scan, so it stays finite."""

    save_output = True

    def forward(self, x, dim, reverse=False):
        self.dim, self.reverse = dim, reverse
        if x.ndim == 0 or x.size == 0:
            return x.copy()
        scan = _complex_scan if x.dtype.kind == "c" else np.logaddexp.accumulate
        if reverse:
            return np.flip(scan(np.flip(x, dim), axis=dim), dim)
        return scan(x, axis=dim)

    def backward(self, g):
        x, y = self.inputs[0], self.output
        if x._data.ndim == 0:
            return g
        if g._data.dtype.kind == "c":  # sum_{i>=j} g_i exp(x_j - y_i), in complex logs
            back = not self.reverse
            return (Logcumsumexp.apply(g.log() - y, dim=self.dim, reverse=back) + x).exp()
        lowest = float(np_finfo(g._data.dtype).min)
        log_abs = g.abs().log()
        pos = ew.where(g > 0, log_abs, lowest)
        neg = ew.where(g < 0, log_abs, lowest)
        back = not self.reverse
        out_pos = (Logcumsumexp.apply(pos - y, dim=self.dim, reverse=back) + x).exp()
        out_neg = (Logcumsumexp.apply(neg - y, dim=self.dim, reverse=back) + x).exp()
        return out_pos - out_neg

    def jvp(self, tangents: list) -> Tensor | None:
        """``dy_i = sum_{j<=i} exp(x_j - y_i) t_j``, the positive and negative parts of ``t``
        each through the scan in log space (exact where torch's max-shifted ratio loses the
        elements far below the maximum)."""
        t, x, y = tangents[0], self.inputs[0], self.output
        if t is None or x._data.ndim == 0 or x._data.size == 0:
            return t
        lowest = float(np_finfo(t._data.dtype).min)
        log_abs = t.abs().log()
        parts = [ew.where(keep, log_abs, lowest) + x for keep in (t > 0, t < 0)]
        pos, neg = (Logcumsumexp.apply(p, dim=self.dim, reverse=self.reverse) for p in parts)
        return (pos - y).exp() - (neg - y).exp()


def _complex_scan(x: np.ndarray, axis: int) -> np.ndarray:
    """torch's complex running log-add-exp (``_log_add_exp_helper``, from -inf): ordered by
    the real parts, ``log1p(exp(lo - hi)) + hi`` (the imaginary part is not wrapped to the
    principal branch); a nan makes nan + nanj from there on; equal infinite real parts:
    the -inf one, or ``log(exp(lo) + exp(hi))``."""
    x = np.moveaxis(x, axis, 0)
    out = np.empty_like(x)
    acc = np.full(x.shape[1:], complex(-np.inf, 0.0), x.dtype)
    with np.errstate(all="ignore"):
        for i in range(x.shape[0]):
            a, b = x[i], acc  # torch's helper(element, running): a tie takes the running
            swap = a.real < b.real
            lo, hi = np.where(swap, a, b), np.where(swap, b, a)
            nan = np.isnan(a.real) | np.isnan(a.imag) | np.isnan(b.real) | np.isnan(b.imag)
            infinite = ~np.isfinite(lo.real) & (lo.real == hi.real)
            both = np.where(lo.real < 0, lo, np.log(np.exp(lo) + np.exp(hi)))
            acc = np.where(infinite, both, np.log1p(np.exp(lo - hi)) + hi)
            acc = np.where(nan, complex("nan+nanj"), acc).astype(x.dtype)
            out[i] = acc
    return np.moveaxis(out, 0, axis)


@op
def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """``log(cumsum(exp(input), dim))``, computed stably (a running logaddexp; complex
    numbers as torch's, the imaginary part not wrapped)."""
    x = input._data
    if kind_of(x.dtype) in "iub":
        raise kernel_missing("logcumsumexp_out_cpu", x)
    return Logcumsumexp.apply(input, dim=wrap_dim(dim, x.ndim))
