"""Distances and the cross product: cdist, dist, cross and linalg.cross.

``cdist`` is torch's two paths: the direct p-norm of every pair of rows (CdistBackward0),
or, for p = 2 with many rows (or ``compute_mode="use_mm_for_euclid_dist"``), the matrix-
product form ``sqrt(|a|^2 + |b|^2 - 2 a.b)`` (EuclideanDistBackward0 under a view), whose
values differ from the direct ones by rounding, as torch's do.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import dtypes
from chainrule._fp import quiet
from chainrule._registry import op
from chainrule._tensor import Tensor, wrap_dim
from chainrule.amp.autocast_mode import autocast_policy
from chainrule.dtypes import kind_of, scalar_type_name
from chainrule.ops import elementwise as ew
from chainrule.ops.op import Op
from chainrule.ops.reduce.stats import norm_grad
from chainrule.ops.shape.grids import _broadcast_pair

_MODES = {
    "use_mm_for_euclid_dist_if_necessary": 0,
    "use_mm_for_euclid_dist": 1,
    "donot_use_mm_for_euclid_dist": 2,
}
_CHUNK = 1 << 22  # elements of the pairwise differences formed at once


def _pnorm_rows(d: np.ndarray, p: float) -> np.ndarray:
    """The p-norm over the last axis of absolute differences ``d``."""
    if p == 0:
        return np.sum(d != 0, axis=-1).astype(d.dtype)
    if p == 1:
        return np.sum(d, axis=-1)
    if p == 2:
        return np.sqrt(np.sum(d * d, axis=-1))
    if math.isinf(p):
        return np.max(d, axis=-1, initial=0)
    return np.sum(d**p, axis=-1) ** (1 / p)


class Cdist(Op):
    """The p-norm distance of every row of x1 to every row of x2 (batch dims broadcast)."""

    formula = "d cdist(a, b)_ij = g_ij * d|a_i - b_j|_p, summed over the other rows"
    elementwise = True  # gradients summed back over broadcast batch dims
    saved_for = ((0, 1, "result"), (0, 1, "result"))

    @quiet
    def forward(self, x1, x2, p):
        self.p = p
        batch = np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
        r1, r2, m = x1.shape[-2], x2.shape[-2], x1.shape[-1]
        a = np.broadcast_to(x1, batch + x1.shape[-2:])
        b = np.broadcast_to(x2, batch + x2.shape[-2:])
        out = np.zeros(batch + (r1, r2), dtype=x1.dtype)
        if not out.size or not m:
            return out
        step = max(1, _CHUNK // max(1, r2 * m * int(np.prod(batch, dtype=np.int64))))
        for i in range(0, r1, step):
            d = np.abs(a[..., i : i + step, None, :] - b[..., None, :, :])
            out[..., i : i + step, :] = _pnorm_rows(d, p)
        return out

    def backward(self, g):
        x1, x2 = self.inputs[0], self.inputs[1]
        res, p = self.output, self.p
        diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (..., r1, r2, m)
        dist, gg = res.unsqueeze(-1), g.unsqueeze(-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:
                term = diff * 0
            elif p == 1:
                term = gg * ew.sign(diff)
            elif p < 2:
                term = ew.sign(diff) * ew.abs(diff) ** (p - 1) * gg / dist ** (p - 1)
                term = ew.where(dist == 0, 0.0, term)
                if p < 1:
                    term = ew.where(diff == 0, 0.0, term)
            elif p == 2:
                term = ew.where(dist == 0, 0.0, gg * diff / dist)
            elif math.isinf(p):
                term = gg * ew.sign(diff) * (ew.abs(diff) == dist).to(diff.dtype)
            else:
                term = diff * ew.abs(diff) ** (p - 2) * gg / dist ** (p - 1)
                term = ew.where(dist == 0, 0.0, term)
        return (term.sum(-2) if self.needs(0) else None, -term.sum(-3) if self.needs(1) else None)


class EuclideanDist(Op):
    """torch's ``_euclidean_dist``: ``sqrt(max(|a|^2 + |b|^2 - 2 a.b, 0))`` by one product."""

    formula = "d |a_i - b_j| = g_ij (a_i - b_j) / |a_i - b_j| (0 where the distance is 0)"
    saved_for = ((0, 1, "result"), (0, 1, "result"))

    @quiet
    def forward(self, x1, x2):
        n1 = np.sum(x1 * x1, axis=-1, keepdims=True)
        n2 = np.sum(x2 * x2, axis=-1, keepdims=True)
        a = np.concatenate([x1 * -2, n1, np.ones_like(n1)], axis=-1)
        b = np.concatenate([x2, np.ones_like(n2), n2], axis=-1)
        return np.sqrt(np.maximum(a @ np.swapaxes(b, -1, -2), 0))

    def backward(self, g):
        x1, x2 = self.inputs[0], self.inputs[1]
        res = self.output
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = ew.where(res == 0, 0.0, g / res)
        g1 = g2 = None
        if self.needs(0):
            g1 = x1 * ratio.sum(-1, keepdim=True) - ratio @ x2
        if self.needs(1):
            g2 = x2 * ratio.sum(-2).unsqueeze(-1) - ratio.mT @ x1
        return g1, g2


@op(method=False)
@autocast_policy("fp32")
def cdist(
    x1: Tensor,
    x2: Tensor,
    p: float = 2.0,
    compute_mode: str = "use_mm_for_euclid_dist_if_necessary",
) -> Tensor:
    """The p-norm distance between each row of ``x1`` (..., P, M) and each of ``x2``
    (..., R, M): shape (..., P, R), batch dims broadcast.

    For p = 2, ``compute_mode`` picks torch's matrix-product form (faster, rounding
    differences near 0): ``"use_mm_for_euclid_dist_if_necessary"`` (when P or R > 25),
    ``"use_mm_for_euclid_dist"`` (always) or ``"donot_use_mm_for_euclid_dist"``."""
    if compute_mode not in _MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    mode = _MODES[compute_mode]
    for name, x in (("X1", x1), ("X2", x2)):
        if x._data.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: "
                               f"{x._data.ndim}D")  # fmt: skip
    c1, c2 = x1._data.shape[-1], x2._data.shape[-1]
    if c1 != c2:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {c1} X2: {c2}")
    for name, x in (("X1", x1), ("X2", x2)):
        if kind_of(x._data.dtype) != "f":
            raise RuntimeError(
                f"cdist only supports floating-point dtypes, {name} got: {scalar_type_name(x)}"
            )
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    batch = _broadcast_pair(x1._data.shape[:-2], x2._data.shape[:-2])
    if x1._data.dtype != x2._data.dtype:
        raise RuntimeError(
            f"expected scalar type {scalar_type_name(x1)} but found {scalar_type_name(x2)}"
        )
    if x1._data.dtype.itemsize < 4:
        raise NotImplementedError(f"\"cdist\" not implemented for '{scalar_type_name(x1)}'")
    r1, r2 = x1._data.shape[-2], x2._data.shape[-2]
    p = float(p)
    empty = not x1._data.size or not x2._data.size
    if empty or p != 2 or not (mode == 1 or (mode == 0 and (r1 > 25 or r2 > 25))):
        return Cdist.apply(x1, x2, p=p)
    n = int(np.prod(batch, dtype=np.int64))
    out_shape = batch + (r1, r2)
    if n == 1:
        return EuclideanDist.apply(x1, x2).view(out_shape)
    a = x1.expand(batch + x1._data.shape[-2:]).contiguous().view(n, r1, c1)
    b = x2.expand(batch + x2._data.shape[-2:]).contiguous().view(n, r2, c2)
    return EuclideanDist.apply(a, b).view(out_shape)


class Dist(Op):
    """``norm(a - b, p)``: one node, as torch's (the rule is norm's, with -1 for ``b``)."""

    formula = "d |a - b|_p = g * d|x|_p at x = a - b, and its negative for b"
    elementwise = True
    saved_for = ((0, 1, "result"), (0, 1, "result"))

    @quiet
    def forward(self, a, b, p):
        self.p = p
        d = np.abs(a - b).reshape(-1)
        if p == -math.inf:
            return np.asarray(np.min(d, initial=np.inf), dtype=d.dtype)
        return np.asarray(_pnorm_rows(d, p), dtype=d.dtype)

    def backward(self, g):
        a, b = self.inputs[0], self.inputs[1]
        x = a - b
        nd = x._data.ndim
        keep = (1,) * nd
        grad = norm_grad(x, g.reshape(keep), self.output.reshape(keep), self.p, None)
        return grad if self.needs(0) else None, -grad if self.needs(1) else None


@op
def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The p-norm of ``input - other`` (broadcast): a 0-d tensor."""
    dt = dtypes.result_type(input, other)
    if kind_of(dt) not in "fc":
        raise RuntimeError(
            "norm(): input dtype should be either floating point or complex. "
            f"Got {dtypes.scalar_type_name(dtypes.FROM_NP[dt])} instead."
        )
    _broadcast_pair(input._data.shape, other._data.shape)
    if input._data.dtype != dt:
        input = input.to(dtypes.FROM_NP[dt])
    if other._data.dtype != dt:
        other = other.to(dtypes.FROM_NP[dt])
    return Dist.apply(input, other, p=float(p))


# --------------------------------------------------------------------------- cross


class LinalgCross(Op):
    formula = "d(a x b) = b x g, g x a"
    elementwise = True
    saved_for = ((1,), (0,))

    def forward(self, a, b, dim):
        self.dim = dim
        return np.cross(a, b, axisa=dim, axisb=dim, axisc=dim)

    def backward(self, g):
        a, b = self.inputs
        ga = LinalgCross.apply(b, g, dim=self.dim) if self.needs(0) else None
        gb = LinalgCross.apply(g, a, dim=self.dim) if self.needs(1) else None
        return ga, gb


def _linalg_cross(input: Tensor, other: Tensor, dim: int) -> Tensor:
    nd = input._data.ndim
    if nd != other._data.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if nd == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = wrap_dim(dim, nd)
    n1, n2 = input._data.shape[d], other._data.shape[d]
    if n1 != 3 or n2 != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got {n1} and {n2}"
        )
    _broadcast_pair(input._data.shape, other._data.shape)
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(
            f"expected scalar type {scalar_type_name(input)} but found {scalar_type_name(other)}"
        )
    return LinalgCross.apply(input, other, dim=d)


@op(namespace="linalg", name="cross", method=False)
def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (the other dims broadcast)."""
    return _linalg_cross(input, other, dim)


_cross_warned = [False]


@op
def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The cross product of 3-vectors along ``dim``; without ``dim``, the first dim of size
    3 of ``input``, with torch's (once per process) deprecation warning."""
    if dim is None:
        if not _cross_warned[0]:
            _cross_warned[0] = True
            import warnings

            warnings.warn(
                "Using torch.cross without specifying the dim arg is deprecated.\n"
                "Please either pass the dim explicitly or simply use torch.linalg.cross.\n"
                "The default value of dim will change to agree with that of linalg.cross in a "
                "future release.",
                UserWarning,
                stacklevel=2,
            )
        sizes = input._data.shape
        if 3 not in sizes:
            raise RuntimeError("no dimension of size 3 in input")
        dim = sizes.index(3)
    return _linalg_cross(input, other, dim)
