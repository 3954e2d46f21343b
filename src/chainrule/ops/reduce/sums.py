"""Sums and products: sum, mean, nansum, nanmean, prod, cumsum, cumprod (products exact
with zeros); the trapezoidal rule (trapezoid, cumulative_trapezoid)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._fp import quiet
from chainrule._registry import op, tensor_method
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule.amp.autocast_mode import autocast_policy
from chainrule.backend import K
from chainrule.dtypes import kind_of
from chainrule.ops.broadcast import binary, dims
from chainrule.ops.elementwise.arithmetic import DivScalar, MulScalar
from chainrule.ops.elementwise.select import where
from chainrule.ops.inplace import write
from chainrule.ops.op import Op, expand


def axes_of(dim: Any, ndim: int) -> tuple[int, ...] | None:
    """Axes to reduce, or None for all: ``dim`` None or empty means every dimension."""
    if dim is None or (not isinstance(dim, int | np.integer) and len(dim) == 0):
        return None
    axes = dims(dim, ndim)
    return axes if ndim else None  # a 0-d tensor accepts dim 0 or -1: all of it


def keep(grad: Tensor, axes: tuple[int, ...], keepdim: bool) -> Tensor:
    """Put the reduced axes back (size 1) so ``grad`` broadcasts against the input."""
    if keepdim or not axes:
        return grad
    shape = list(grad._data.shape)
    for a in axes:
        shape.insert(a, 1)
    return grad.reshape(shape)


def keep_all(grad: Tensor, axes: tuple[int, ...] | None, keepdim: bool, ndim: int) -> Tensor:
    """Like ``keep`` but a full reduction (axes None) comes back with ``ndim`` size-1 axes."""
    return keep(grad, tuple(range(ndim)) if axes is None else axes, keepdim)


class Unreduce(Op):
    """The adjoint of a sum: put the reduced axes back and broadcast to ``shape`` (times
    ``scale``, for mean) in one node; its own backward is the scaled sum."""

    layout = None  # sum's: a broadcast (stride-0) view, as torch's expand; mean's contiguous
    jvp_rule = "linear"

    save_inputs = False
    torch_name = "ExpandBackward0"

    def forward(self, g, axes, keepdim, shape, scale):
        self.axes, self.keepdim, self.scale = axes, keepdim, scale
        if not keepdim:
            g = g.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))
        out = np.broadcast_to(g, shape)  # torch: sum's is an expand, mean's divides it
        return out if scale is None else np.multiply(out, scale, order="C")

    def backward(self, g):
        out = Sum.apply(g, axes=self.axes, keepdim=self.keepdim, dtype=None, dim_given=True)
        return out if self.scale is None else out * self.scale


def unreduce(g: Tensor, axes: tuple[int, ...] | None, keepdim: bool, shape: tuple,
             scale: float | None = None) -> Tensor:  # fmt: skip
    """``g`` (reduced over ``axes``, all when None) broadcast back to ``shape``."""
    axes = tuple(range(len(shape))) if axes is None else axes
    return Unreduce.apply(g, axes=axes, keepdim=keepdim, shape=shape, scale=scale)


class Sum(Op):
    formula = "d sum(a) = g copied (broadcast) to a's shape"
    jvp_rule = "linear"
    save_inputs = False

    def forward(self, x, axes, keepdim, dtype, dim_given):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        self.in_dtype, self.dim_given = (x.dtype if dtype is not None else None), dim_given
        lead = axes is not None and x.ndim > 1 and axes == tuple(range(x.ndim - 1))
        if lead and dtype is None and not keepdim:  # Linear's bias gradient: NumPy's bits
            return K.sum_rows(x)
        return np.sum(x, axis=axes, keepdims=keepdim, dtype=dtype)

    def name(self):
        return f"SumBackward{1 if self.dim_given else 0}"

    def backward(self, g):
        g = unreduce(g, self.axes, self.keepdim, self.in_shape)
        return g if self.in_dtype is None else g.to(dtypes.FROM_NP[self.in_dtype])


@op
def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Sum of elements over ``dim`` (all if None). Integers and bools sum to int64."""
    np_dtype = dtypes.to_np(dtype)
    if np_dtype is None and kind_of(input._data.dtype) in "iub":
        np_dtype = np.dtype(np.int64)
    axes = axes_of(dim, input._data.ndim)
    return Sum.apply(input, axes=axes, keepdim=keepdim, dtype=np_dtype, dim_given=dim is not None)


@quiet
def mean_array(x: np.ndarray, axes: tuple | None, keepdims: bool) -> np.ndarray:
    """``np.mean`` without NumPy's warnings: torch gives nan for an empty mean silently."""
    if x.size:
        return np.mean(x, axis=axes, keepdims=keepdims)
    shape = np.sum(x, axis=axes, keepdims=keepdims).shape
    return np.full(shape, np.nan, x.dtype)


class Mean(Op):
    formula = "d mean(a) = g / n copied to a's shape"
    jvp_rule = "linear"
    save_inputs = False

    def forward(self, x, axes, keepdim, dim_given):
        self.in_shape, self.axes, self.keepdim, self.dim_given = x.shape, axes, keepdim, dim_given
        self.count = int(np.prod([x.shape[a] for a in axes])) if axes is not None else x.size
        return mean_array(x, axes, keepdim)

    def name(self):
        return f"MeanBackward{1 if self.dim_given else 0}"

    def backward(self, g):
        scale = 1 / self.count if self.count else float("nan")  # empty input: empty grad
        return unreduce(g, self.axes, self.keepdim, self.in_shape, scale)


@op
def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Arithmetic mean over ``dim`` (all if None); floating or complex inputs only."""
    if dtype is not None:
        input = input.to(dtype)
    if kind_of(input._data.dtype) not in "fc":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {dtypes.scalar_type_name(input)}"
        )
    axes = axes_of(dim, input._data.ndim)
    return Mean.apply(input, axes=axes, keepdim=keepdim, dim_given=dim is not None)


class Nansum(Op):
    """The sum of the elements that are not nan; the gradient is ``g`` where the input is
    not nan (times the mask read from the saved input at backward, as torch's)."""

    jvp_rule = "reduction"

    def reduced_axes(self):
        return self.axes, self.keepdim

    def forward(self, x, axes, keepdim, dtype):
        self.axes, self.keepdim = axes, keepdim
        return np.asarray(np.nansum(x, axis=axes, keepdims=keepdim, dtype=dtype))

    def backward(self, g):
        x = self.inputs[0]
        g = unreduce(g, self.axes, self.keepdim, x._data.shape)
        return g * _make(~np.isnan(x._data))


@op
def nansum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Sum over ``dim`` (all if None) counting nans as zero. Integers and bools give int64."""
    if kind_of(input._data.dtype) == "c":
        raise RuntimeError("nansum on CPU does not support complex inputs")
    np_dtype = dtypes.to_np(dtype)
    if np_dtype is None and kind_of(input._data.dtype) in "iub":
        np_dtype = np.dtype(np.int64)
    if np_dtype is not None and np_dtype != input._data.dtype:
        input = input.to(dtypes.FROM_NP[np_dtype])
    return Nansum.apply(input, axes=axes_of(dim, input._data.ndim), keepdim=keepdim, dtype=None)


@op
def nanmean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Mean over ``dim`` (all if None) of the elements that are not nan (nan where all are):
    ``nansum`` divided by their count, as torch computes it."""
    if kind_of(input._data.dtype) not in "fc":
        raise RuntimeError(
            "nanmean(): expected input to have floating point or complex dtype but got "
            f"{dtypes.scalar_type_name(input)}"
        )
    axes = axes_of(dim, input._data.ndim)
    count = np.sum(~np.isnan(input._data), axis=axes, keepdims=keepdim, dtype=np.int64)
    return nansum(input, dim, keepdim, dtype=dtype) / _make(np.asarray(count))


# --------------------------------------------------------------------------- products


def first_true(z: np.ndarray, axis: int | None) -> np.ndarray:
    """One-hot of the first True along ``axis`` (of all, when None) in slices that have one."""
    if axis is None:
        out = np.zeros(z.shape, dtype=bool)
        if z.any():
            out.flat[int(np.argmax(z))] = True
        return out
    idx = np.argmax(z, axis=axis, keepdims=True)
    shape = [1] * z.ndim
    shape[axis] = z.shape[axis]
    return (np.arange(z.shape[axis]).reshape(shape) == idx) & z


class Prod(Op):
    """The gradient is the product of the other elements, exact with one or several zeros
    (the first zero of a slice is factored out and the rule recurses on the rest)."""

    jvp_rule = "reduction"

    def reduced_axes(self):
        return None if self.axis is None else (self.axis,), self.keepdim

    save_output = True

    def forward(self, x, axis, keepdim, dtype, dim_given=True):
        self.axis, self.keepdim, self.dim_given = axis, keepdim, dim_given
        return np.prod(x, axis=axis, keepdims=keepdim, dtype=dtype)

    def name(self):
        return f"ProdBackward{1 if self.dim_given else 0}"

    def backward(self, g):
        x = self.inputs[0]
        ax = None if self.axis is None else (self.axis,)
        nd = x._data.ndim
        if nd == 0:  # torch's prod_backward of a 0-d input: the gradient itself (neither
            return g  # x nor the result is read: a .data write to either changes nothing)
        return _prod_vjp(x, keep_all(self.output, ax, self.keepdim, nd),
                         keep_all(g, ax, self.keepdim, nd), self.axis)  # fmt: skip


def _prod_vjp(x: Tensor, p: Tensor, g: Tensor, axis: int | None) -> Tensor:
    """``g * prod(others)``, given ``p = prod(x)`` and ``g`` with the reduced axes kept."""
    z = x._data == 0
    if not z.any():
        return g * p / x
    if (x._data.size if axis is None else x._data.shape[axis]) == 1:  # one factor: torch's
        return expand(g, x._data.shape)  # gradient is g itself, read from neither x nor p
    first = first_true(z, axis)
    xf = sum(where(first, x, 0.0), axis, keepdim=True)  # the zero itself (value 0)
    xf = where(first.any(axis=axis, keepdims=True), xf, 1.0)  # 1 in slices without zeros
    x1 = where(first, 1.0, x)
    p1 = Prod.apply(x1, axis=axis, keepdim=True, dtype=None)
    return where(first, expand(g * p1, x._data.shape), xf * _prod_vjp(x1, p1, g, axis))


@op
@autocast_policy("fp32")
def prod(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Product of all elements, or along one ``dim``. Integers and bools give int64."""
    if dim is not None and not isinstance(dim, int | np.integer):
        raise TypeError(
            "prod() received an invalid combination of arguments - got (Tensor, dim="
            f"{type(dim).__name__}), but expected one of:\n"
            " * (Tensor input, *, torch.dtype dtype = None)\n"
            " * (Tensor input, int dim, bool keepdim = False, *, torch.dtype dtype = None, "
            "Tensor out = None)\n"
        )
    np_dtype = dtypes.to_np(dtype)
    if np_dtype is None and kind_of(input._data.dtype) in "iub":
        np_dtype = np.dtype(np.int64)
    if np_dtype is not None and np_dtype != input._data.dtype:
        input = input.to(dtypes.FROM_NP[np_dtype])
    axis = None if dim is None else wrap_dim(int(dim), input._data.ndim)
    if input._data.ndim == 0:
        axis = None
    return Prod.apply(input, axis=axis, keepdim=keepdim and dim is not None, dtype=None,
                      dim_given=dim is not None)  # fmt: skip


# --------------------------------------------------------------------------- scans


def _scan_dtype(input: Tensor, dtype: Any) -> Tensor:
    np_dtype = dtypes.to_np(dtype)
    if np_dtype is None and kind_of(input._data.dtype) in "iub":
        np_dtype = np.dtype(np.int64)
    if np_dtype is not None and np_dtype != input._data.dtype:
        input = input.to(dtypes.FROM_NP[np_dtype])
    return input


class Cumsum(Op):
    """Running sum; ``reverse`` (used by rules) sums from the end. Each is the other's vjp."""

    jvp_rule = "linear"

    save_inputs = False

    def forward(self, x, dim, reverse=False):
        self.dim, self.reverse = dim, reverse
        if x.ndim == 0:
            return x.copy()
        if reverse:
            return np.flip(np.cumsum(np.flip(x, dim), axis=dim), dim)
        return np.cumsum(x, axis=dim)

    def backward(self, g):
        if g._data.ndim == 0 or g._data.shape[self.dim] == 1:
            return g  # a sum of one: torch passes the gradient itself on (a view stays one)
        return Cumsum.apply(g, dim=self.dim, reverse=not self.reverse)


@op
def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running sum along ``dim``. Integers and bools give int64."""
    dim = wrap_dim(dim, input._data.ndim)
    return Cumsum.apply(_scan_dtype(input, dtype), dim=dim)


@tensor_method
def cumsum_(self: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """In place: the result keeps self's dtype (an int32 sum stays int32)."""
    _check_scan_inplace("cumsum", self, dtype)
    return write(self, cumsum(self, dim))


def _check_scan_inplace(name: str, input: Tensor, dtype: Any) -> None:
    """torch's refusals of ``cumsum_``/``cumprod_``: another dtype, or a bool tensor."""
    have, want = input._data.dtype, dtypes.to_np(dtype)
    if want is not None and want != have:
        a, b = dtypes.c_type_name(have), dtypes.c_type_name(want)
        raise RuntimeError(
            f"Bad in-place call: input tensor dtype {a} and output tensor dtype {b} should match"
        )
    if have.kind == "b":
        raise NotImplementedError(f"\"{name}_out_cpu\" not implemented for 'Bool'")


class Cumprod(Op):
    """Running product; the gradient is exact with zeros (first zero factored out)."""

    save_output = True

    def forward(self, x, dim):
        self.dim = dim
        return x.copy() if x.ndim == 0 else np.cumprod(x, axis=dim)

    def backward(self, g):
        x = self.inputs[0]
        if x._data.ndim == 0 or x._data.shape[self.dim] == 1:  # torch's: g itself
            return g
        return _cumprod_vjp(x, self.output, g, self.dim)


def _cumprod_vjp(x: Tensor, y: Tensor, g: Tensor, dim: int) -> Tensor:
    z = x._data == 0
    if not z.any():
        return Cumsum.apply(g * y, dim=dim, reverse=True) / x
    # y = y1 * s: y1 the running product with each slice's first zero set to 1, s = that
    # zero from its position on (1 before it)
    first = first_true(z, dim)
    after = np.cumsum(first, axis=dim) > 0
    xf = sum(where(first, x, 0.0), dim, keepdim=True)
    x1 = where(first, 1.0, x)
    y1 = Cumprod.apply(x1, dim=dim)
    gf = sum(where(after, g * y1, 0.0), dim, keepdim=True)
    return where(
        first, expand(gf, x._data.shape), _cumprod_vjp(x1, y1, g * where(after, xf, 1.0), dim)
    )


@op
def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running product along ``dim``. Integers and bools give int64."""
    dim = wrap_dim(dim, input._data.ndim)
    return Cumprod.apply(_scan_dtype(input, dtype), dim=dim)


@tensor_method
def cumprod_(self: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """In place: the result keeps self's dtype."""
    _check_scan_inplace("cumprod", self, dtype)
    return write(self, cumprod(self, dim))


# --------------------------------------------------------------------------- trapezoid

_TRAPZ_SIGNATURES = {
    "trapezoid": " * (Tensor y, Tensor x, *, int dim = -1)\n"
    " * (Tensor y, *, Number dx = 1, int dim = -1)\n",
    "trapz": " * (Tensor y, *, float dx = 1, int dim = -1)\n"
    " * (Tensor y, Tensor x, *, int dim = -1)\n",
}


def _type_word(v: Any) -> str:
    return "Tensor" if isinstance(v, Tensor) else type(v).__name__


def _integration_args(name: str, y: Tensor, x: Any, dx: Any) -> Any:
    """torch's binding of ``(y, x)`` or ``(y, *, dx)``: the spacing, a tensor, a number or
    None (1); a TypeError with torch's words for any other combination."""
    bad = x is not None and (dx is not None or not isinstance(x, Tensor))
    if dx is not None and not bad:
        if isinstance(dx, Tensor) and dx._data.ndim == 0:
            dx = dx.item()
        bad = not isinstance(dx, int | float | complex)
        if name == "trapz" and isinstance(dx, complex):
            bad = True
    if bad:
        got = ", ".join(
            [_type_word(y)]
            + ([_type_word(x)] if x is not None else [])
            + ([f"dx={_type_word(dx)}"] if dx is not None else [])
        )
        raise TypeError(
            f"{name}() received an invalid combination of arguments - got ({got}), but "
            f"expected one of:\n{_TRAPZ_SIGNATURES.get(name, _TRAPZ_SIGNATURES['trapezoid'])}"
        )
    return x if x is not None else (1 if dx is None else dx)


def _slice(t: Tensor, dim: int, start: int | None, stop: int | None) -> Tensor:
    return t[(slice(None),) * dim + (slice(start, stop),)]


def _spacing(name: str, y: Tensor, x: Tensor, dim: int) -> Tensor:
    """``x``'s differences along ``dim``, laid out to broadcast against ``y``'s."""
    if y._data.dtype == np.bool_ or x._data.dtype == np.bool_:
        raise RuntimeError(
            f"{name}: received a bool input for `x` or `y`, but bool is not supported"
        )
    if x._data.ndim == 1:
        if x._data.shape[0] != y._data.shape[dim]:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        sizes = [1] * y._data.ndim
        sizes[dim] = x._data.shape[0]
        x = x.view(sizes)
    elif x._data.ndim < y._data.ndim:
        x = x.view((1,) * (y._data.ndim - x._data.ndim) + x._data.shape)
    return _slice(x, dim, 1, None) - _slice(x, dim, 0, -1)


def _check_dx(name: str, y: Tensor, dx: Any) -> None:
    if y._data.dtype == np.bool_:
        raise RuntimeError(f"{name}: received a bool input for `y`, but bool is not supported")
    if isinstance(dx, complex | bool):
        raise RuntimeError(f"{name}: Currently, we only support dx as a real number.")


def _wrap_dim(y: Tensor, dim: int) -> int:
    if y._data.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return wrap_dim(dim, y._data.ndim)


def _trapezoid(name: str, y: Tensor, x: Any, dx: Any, dim: int) -> Tensor:
    spacing = _integration_args(name, y, x, dx)
    if isinstance(spacing, Tensor) and y._data.ndim == 0:  # torch wraps dim to 0 here
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    dim = _wrap_dim(y, dim)
    if y._data.shape[dim] == 0:  # no samples: zeros (NumPy's answer), without a graph
        shape = y._data.shape[:dim] + y._data.shape[dim + 1 :]
        return _make(np.zeros(shape, dtype=y._data.dtype))
    if isinstance(spacing, Tensor):
        d = _spacing("trapezoid", y, spacing, dim)
        s = (_slice(y, dim, 1, None) + _slice(y, dim, 0, -1)) * d
        return binary(DivScalar, s.sum(dim), 2.0, float_result=True)
    _check_dx("trapezoid", y, spacing)
    ends = binary(MulScalar, y.select(dim, 0) + y.select(dim, -1), 0.5)
    return binary(MulScalar, y.sum(dim) - ends, float(spacing))


@op(method=False)
def trapezoid(y: Tensor, x: Tensor | None = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """The trapezoidal rule's integral of ``y`` along ``dim``: sample points ``x`` (1-D, or
    broadcasting with ``y``), or a constant spacing ``dx`` (1 by default)."""
    return _trapezoid("trapezoid", y, x, dx, dim)


@op(method=False)
def trapz(y: Tensor, x: Tensor | None = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """``trapezoid`` by its older name."""
    return _trapezoid("trapz", y, x, dx, dim)


@op(method=False)
def cumulative_trapezoid(y: Tensor, x: Tensor | None = None, *, dx: Any = None,
                         dim: int = -1) -> Tensor:  # fmt: skip
    """The running trapezoidal integral of ``y`` along ``dim`` (one value fewer than the
    samples): sample points ``x`` or a constant spacing ``dx``, as ``trapezoid``."""
    name = "cumulative_trapezoid"
    spacing = _integration_args(name, y, x, dx)
    if isinstance(spacing, Tensor):
        if y._data.ndim == 0:  # torch wraps dim to 0, then reads x's length or slices y
            if spacing._data.ndim == 1:
                raise IndexError("Dimension specified as 0 but tensor has no dimensions")
            raise IndexError("slice() cannot be applied to a 0-dim tensor.")
        dim = wrap_dim(dim, y._data.ndim)
        d = _spacing(name, y, spacing, dim)
        s = cumsum((_slice(y, dim, 1, None) + _slice(y, dim, 0, -1)) * d, dim)
        return binary(DivScalar, s, 2.0, float_result=True)
    _check_dx(name, y, spacing)
    if y._data.ndim == 0:
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    dim = wrap_dim(dim, y._data.ndim)
    pairs = _slice(y, dim, 1, None) + _slice(y, dim, 0, -1)
    return cumsum(binary(MulScalar, pairs, float(spacing) / 2.0), dim)
