"""Covariance and correlation matrices: cov, corrcoef (torch's compositions of sums, one
mm and divisions, so their nodes and gradients are torch's)."""

from __future__ import annotations

import warnings

from chainrule import dtypes
from chainrule._registry import op
from chainrule._tensor import Tensor
from chainrule.creation import scalar_tensor
from chainrule.dtypes import kind_of, scalar_type_name
from chainrule.ops import elementwise as ew
from chainrule.ops.linalg.products import mm


def _check_weights(name: str, w: Tensor, n: int, integral: bool) -> None:
    if w._data.ndim > 1:
        raise RuntimeError(
            f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
            f"{w._data.ndim} dimensions"
        )
    kind = kind_of(w._data.dtype)
    if (kind not in "iu") if integral else (kind != "f"):
        raise RuntimeError(
            f"cov(): expected {name} to have "
            f"{'integral' if integral else 'floating point'} dtype but got {name} with "
            f"{scalar_type_name(w._data.dtype)} dtype"
        )
    if w._data.size != n:
        raise RuntimeError(
            f"cov(): expected {name} to have the same numel as there are observations in the "
            f"input but got {w._data.size} != {n}"
        )
    if n and not (w._data.min() >= 0):
        raise RuntimeError(f"cov(): {name} cannot be negative")


@op
def cov(
    input: Tensor,
    *,
    correction: int = 1,
    fweights: Tensor | None = None,
    aweights: Tensor | None = None,
) -> Tensor:
    """The covariance matrix of the variables in ``input``'s rows (observations in its
    columns; a 1-D input is one variable), with ``correction`` (1: Bessel's), integer
    frequency weights ``fweights`` and floating observation weights ``aweights``; a single
    variable gives a 0-d result."""
    if isinstance(correction, bool) or not isinstance(correction, int):
        raise TypeError(
            f"cov(): argument 'correction' must be int, not {type(correction).__name__}"
        )
    ndim = input._data.ndim
    if ndim > 2:
        raise RuntimeError(
            "cov(): expected input to have two or fewer dimensions but got an input with "
            f"{ndim} dimensions"
        )
    if input._data.dtype == bool:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    x = input.view(1, -1) if ndim < 2 else input
    n = x._data.shape[1]
    w = None
    if fweights is not None:
        _check_weights("fweights", fweights, n, integral=True)
        w = fweights
    if aweights is not None:
        _check_weights("aweights", aweights, n, integral=False)
        w = aweights if w is None else w * aweights
    w_sum = scalar_tensor(n, dtype=dtypes.int64) if w is None else w.sum()
    if w is not None and not w_sum._data != 0:
        raise RuntimeError("cov(): weights sum to zero, can't be normalized")
    avg = (x if w is None else x * w).sum(1) / w_sum
    if w is not None and aweights is not None and correction != 0:
        norm_factor = w_sum - correction * (w * aweights).sum() / w_sum
    else:
        norm_factor = w_sum - correction
    if norm_factor._data <= 0:
        warnings.warn(
            "cov(): degrees of freedom is <= 0. Correction should be strictly less than the "
            "number of observations.",
            UserWarning,
            stacklevel=2,
        )
        norm_factor.zero_()
    x = x - avg.unsqueeze(1)
    c = mm(x, (x if w is None else x * w).t().conj())
    return ew.true_divide(c, norm_factor).squeeze()


@op
def corrcoef(input: Tensor) -> Tensor:
    """Pearson's correlation coefficients of the variables in ``input``'s rows: ``cov``
    normalized by the standard deviations, clipped to [-1, 1]."""
    ndim = input._data.ndim
    if ndim > 2:
        raise RuntimeError(
            "corrcoef(): expected input to have two or fewer dimensions but got an input "
            f"with {ndim} dimensions"
        )
    c = cov(input)
    if c._data.ndim == 0:  # one variable: nan where c is nan, inf or 0, else 1
        return c / c
    d = c.diagonal()
    stddev = ew.sqrt(d.real if d.is_complex() else d)
    c = c / stddev.view(-1, 1)
    c = c / stddev.view(1, -1)
    if c.is_complex():
        return ew.complex(c.real.clip(-1, 1), c.imag.clip(-1, 1))
    return c.clip(-1, 1)
