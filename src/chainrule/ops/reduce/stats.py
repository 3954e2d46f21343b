"""Statistics and norms: var, std, var_mean, std_mean, logsumexp, norm, renorm."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._fp import quiet
from chainrule._registry import op
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule.dtypes import kind_of
from chainrule.ops import elementwise as ew
from chainrule.ops.elementwise.unary import sign_or_phase
from chainrule.ops.op import Op, expand
from chainrule.ops.reduce.sums import axes_of, keep_all, mean, mean_array

Pair = tuple[Tensor, Tensor]


def _reduced_shape(shape: tuple, axes: tuple[int, ...] | None) -> tuple:
    return () if axes is None else tuple(s for i, s in enumerate(shape) if i not in axes)


class Var(Op):
    """Variance with ``correction`` (Bessel's is 1): d/dx = 2 (x - mean) / (N - correction)."""

    jvp_rule = "reduction"

    @quiet
    def forward(self, x, axes, keepdim, dof):
        self.axes, self.keepdim, self.dof = axes, keepdim, dof
        d = x - mean_array(x, axes, True)
        if d.dtype.kind == "c":  # |d|², real (torch: a complex tensor's variance is real)
            s = np.sum(d.real * d.real + d.imag * d.imag, axis=axes, keepdims=keepdim)
        else:
            s = np.sum(d * d, axis=axes, keepdims=keepdim)
        if dof > 0:
            return s / dof
        with np.errstate(divide="ignore", invalid="ignore"):
            return s / np.zeros((), dtype=s.dtype)

    def backward(self, g):
        return self._var_rule(g)

    def _var_rule(self, g):
        x = self.inputs[0]
        g = keep_all(g, self.axes, self.keepdim, x._data.ndim)
        scale = 2.0 / self.dof if self.dof else math.inf
        return scale * g * (x - mean(x, self.axes, keepdim=True))


class Std(Var):
    """Standard deviation; the gradient is 0 where the result is 0 (torch)."""

    save_output = True

    def forward(self, x, axes, keepdim, dof):
        return np.sqrt(super().forward(x, axes, keepdim, dof))

    def backward(self, g):
        y = self.output
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._var_rule(ew.where(y == 0, 0.0, g / (2 * y)))


def _var_args(name: str, input: Tensor, dim: Any, unbiased: Any, correction: Any) -> tuple:
    if isinstance(dim, bool):  # var(input, unbiased)
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(
            f"{name}() received an invalid combination of arguments - got (Tensor, "
            f"{type(dim).__name__}, correction={type(correction).__name__}, unbiased=bool), "
            "but expected one of:\n"
            " * (Tensor input, tuple of ints dim, bool unbiased = True, bool keepdim = False, "
            "*, Tensor out = None)\n"
            " * (Tensor input, tuple of ints dim = None, *, Number correction = None, "
            "bool keepdim = False, Tensor out = None)\n"
            " * (Tensor input, bool unbiased = True)\n"
        )
    if correction is None:
        correction = 0 if unbiased is False else 1
    if kind_of(input._data.dtype) not in "fc":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    axes = axes_of(dim, input._data.ndim)
    x = input._data
    n = x.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
    dof = n - correction
    if dof <= 0:
        warnings.warn(
            f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the "
            "reduction factor (input numel divided by output numel).",
            UserWarning,
            stacklevel=3,
        )
        dof = 0
    return axes, dof


@op
def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        *, correction: Any = None) -> Tensor:  # fmt: skip
    """Variance over ``dim`` with ``correction`` (1 by default; ``unbiased=False`` is 0);
    also ``var(input, unbiased)``."""
    axes, dof = _var_args("var", input, dim, unbiased, correction)
    return Var.apply(input, axes=axes, keepdim=keepdim, dof=dof)


@op
def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        *, correction: Any = None) -> Tensor:  # fmt: skip
    """Standard deviation, the square root of ``var`` (same arguments)."""
    axes, dof = _var_args("std", input, dim, unbiased, correction)
    return Std.apply(input, axes=axes, keepdim=keepdim, dof=dof)


@op(method=False)
def var_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None,
             keepdim: bool = False, *, correction: Any = None) -> Pair:  # fmt: skip
    """``(var, mean)`` over ``dim`` (a composition: two nodes rather than torch's one)."""
    axes, dof = _var_args("var_mean", input, dim, unbiased, correction)
    v = Var.apply(input, axes=axes, keepdim=keepdim, dof=dof)
    return v, mean(input, axes, keepdim)


@op(method=False)
def std_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None,
             keepdim: bool = False, *, correction: Any = None) -> Pair:  # fmt: skip
    """``(std, mean)`` over ``dim`` (a composition: two nodes rather than torch's one)."""
    axes, dof = _var_args("std_mean", input, dim, unbiased, correction)
    s = Std.apply(input, axes=axes, keepdim=keepdim, dof=dof)
    return s, mean(input, axes, keepdim)


# --------------------------------------------------------------------------- logsumexp


class Logsumexp(Op):
    """``log(sum(exp(x)))`` shifted by the max, so 1000.0 stays finite: d/dx = exp(x - y)."""

    jvp_rule = "reduction"

    save_output = True

    @quiet
    def forward(self, x, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim
        if x.size:
            m = np.max(x, axis=axes, keepdims=True)
            m = np.where(np.isinf(m), 0, m)
        else:
            m = np.zeros((), dtype=x.dtype)
        out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        return out if keepdim else out.reshape(_reduced_shape(x.shape, axes))

    def backward(self, g):
        x = self.inputs[0]
        nd = x._data.ndim
        y = keep_all(self.output, self.axes, self.keepdim, nd)
        return keep_all(g, self.axes, self.keepdim, nd) * ew.exp(x - y)


@op
def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input), dim))``, computed stably; integers give the default float."""
    if kind_of(input._data.dtype) not in "fc":
        input = input.to(dtypes.get_default_dtype())
    return Logsumexp.apply(input, axes=axes_of(dim, input._data.ndim), keepdim=keepdim)


# --------------------------------------------------------------------------- norm


class Norm(Op):
    """The vector p-norm over ``dim``; torch's subgradients (0 at 0, ties share at inf)."""

    jvp_rule = "reduction"

    save_output = True
    torch_name = "LinalgVectorNormBackward0"

    @quiet
    def forward(self, x, axes, keepdim, p):
        self.axes, self.keepdim, self.p = axes, keepdim, p
        a = np.abs(x)
        kw = {"axis": axes, "keepdims": keepdim}
        if p == 2:
            return np.sqrt(np.sum(a * a, **kw))
        if p == 1:
            return np.sum(a, **kw)
        if p == math.inf:
            return np.max(a, **kw)
        if p == -math.inf:
            return np.min(a, **kw)
        if p == 0:
            return np.sum(a != 0, dtype=x.dtype, **kw)
        return np.sum(a**p, **kw) ** (1 / p)

    def backward(self, g):
        x = self.inputs[0]
        nd = x._data.ndim
        g = keep_all(g, self.axes, self.keepdim, nd)
        n = keep_all(self.output, self.axes, self.keepdim, nd)
        return norm_grad(x, g, n, self.p, self.axes)


def norm_grad(x: Tensor, g: Tensor, n: Tensor, p: float, axes: tuple | None) -> Tensor:
    """torch's norm_backward: the gradient of the p-norm ``n`` of ``x`` over ``axes`` (g and
    n with those axes kept); subgradients 0 at 0, ties sharing the gradient at inf."""
    if p == 0:
        return expand(g * 0, x._data.shape)
    if p == 1:
        return sign_or_phase(x) * g
    if math.isinf(p):
        a = np.abs(x._data)
        mask = (a == n._data) | np.isnan(a)
        w = (mask / mask.sum(axis=axes, keepdims=True)).astype(a.dtype, copy=False)
        return sign_or_phase(x) * g * _make(w)
    # torch's formulas as they are (its double backward is nan where the norm is 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        zero = n == 0
        if p == 2:
            return g * ew.where(zero, 0.0, x / n)
        if p < 1:
            scaled = sign_or_phase(x) * ew.where(x == 0, 0.0, ew.abs(x) ** (p - 1))
            return scaled * g * n ** (1 - p)
        scale = ew.where(zero, 0.0, g / n ** (p - 1))
        if p < 2:
            return sign_or_phase(x) * ew.abs(x) ** (p - 1) * scale
        return x * ew.abs(x) ** (p - 2) * scale


def norm_axes(x: Tensor, p: float, dim: Any) -> tuple[int, ...] | None:
    """The axes of a vector norm; torch's error for a norm without identity (inf, p < 0)
    over an empty tensor or an empty dimension."""
    axes = axes_of(dim, x._data.ndim)
    if not x._data.size and (p < 0 or p == math.inf):
        if axes is None:
            raise RuntimeError(
                f"linalg.vector_norm cannot compute the {p:g} norm on an empty tensor because "
                "the operation does not have an identity"
            )
        for d in (dim,) if isinstance(dim, int | np.integer) else dim:
            if x._data.shape[d] == 0:  # torch's message, missing space included
                raise RuntimeError(
                    f"linalg.vector_norm cannot compute the {p:g} norm on the dimension {d}"
                    "because this dimension is empty and the operation does not have an identity"
                )
    return axes


def check_matrix_norm_args(A: Tensor, dim: Any) -> None:
    """linalg.matrix_norm's checks of its input and dims (torch.norm reaches them too)."""
    if A._data.ndim < 2:
        raise RuntimeError(
            "linalg.matrix_norm: The input tensor A must have at least 2 dimensions."
        )
    if len(dim) != 2:
        raise RuntimeError(
            f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))}"
        )


@op
def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False,
         out: Any = None, dtype: Any = None) -> Tensor:  # fmt: skip
    """The p-norm of ``input`` over ``dim`` (all if None): ``'fro'`` (the default) is the
    2-norm; also 1, inf, -inf, 0 and any other number. ``'nuc'`` is not supported."""
    if out is not None:
        raise NotImplementedError("chainrule: norm(out=...) is not supported")
    if dtype is not None:
        input = input.to(dtype)
    if isinstance(p, str):
        if p == "nuc":
            raise NotImplementedError(
                "chainrule: norm(p='nuc') (the nuclear norm) is not supported"
            )
        if p != "fro":
            raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
        if dim is not None and not isinstance(dim, int | np.integer) and len(dim) > 2:
            check_matrix_norm_args(input, dim)  # torch calls matrix_norm, which refuses
        p = 2
    if kind_of(input._data.dtype) not in "fc":
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. "
            f"Got {dtypes.scalar_type_name(input)}"
        )
    p = float(p)
    return Norm.apply(input, axes=norm_axes(input, p, dim), keepdim=keepdim, p=p)


# --------------------------------------------------------------------------- renorm


def _vector_norm(x: np.ndarray, p: float, axes: tuple[int, ...]) -> np.ndarray:
    a = np.abs(x)
    if math.isinf(p):
        return a.max(axis=axes, keepdims=True)
    if p == 1:
        return a.sum(axis=axes, keepdims=True)
    if p == 2:
        return np.sqrt((a * a).sum(axis=axes, keepdims=True))
    return ((a**p).sum(axis=axes, keepdims=True)) ** (1.0 / p)


class Renorm(Op):
    """Each slice along ``dim`` scaled to p-norm ``maxnorm`` where its norm exceeds it:
    ``x * where(norm > maxnorm, maxnorm / (norm + 1e-7), 1)``; torch's renorm_backward
    (the norm's gradient through the scale, none where the slice was kept)."""

    formula = "d renorm(x) = f g - f / (norm + 1e-7) * d norm(<x, g>), f = maxnorm / (norm + 1e-7)"

    @quiet
    def forward(self, x, p, dim, maxnorm):
        self.p, self.maxnorm = p, maxnorm
        self.axes = tuple(i for i in range(x.ndim) if i != dim)
        norm = _vector_norm(x, p, self.axes)
        eps = np.asarray(1e-7, dtype=norm.dtype)
        factor = np.where(norm > maxnorm, maxnorm / (norm + eps), np.ones((), norm.dtype))
        return x * factor.astype(norm.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        axes, maxnorm = self.axes, self.maxnorm
        norm = x.norm(self.p, axes, keepdim=True)
        grad_output = (x.conj() * g).sum(axes, keepdim=True)
        if grad_output.is_complex():
            grad_output = grad_output.real
        nb = norm_grad(x, grad_output, norm, self.p, axes)
        invnorm = (norm + 1e-7).reciprocal()
        factor = invnorm * maxnorm
        return ew.where(norm > maxnorm, factor * g - (factor * invnorm) * nb, g)


@op(inplace=True)
def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """``input`` with each sub-tensor along ``dim`` whose ``p``-norm exceeds ``maxnorm``
    scaled down to norm ``maxnorm`` (the others unchanged)."""
    if isinstance(p, complex):
        raise RuntimeError("renorm: p must be real-valued")
    if not p > 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if isinstance(maxnorm, complex):
        raise RuntimeError("renorm: maxnorm must be real-valued")
    if not maxnorm >= 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {float(maxnorm):g}")
    ndim = input._data.ndim
    if ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {ndim} dimensions")
    dim = wrap_dim(dim, ndim)
    if kind_of(input._data.dtype) not in "fc":
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
            f"{dtypes.scalar_type_name(input._data.dtype)}"
        )
    return Renorm.apply(input, p=float(p), dim=dim, maxnorm=float(maxnorm))
