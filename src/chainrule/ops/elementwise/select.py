"""Elementwise selection: clamp/clip, maximum, minimum, where, lerp."""

from __future__ import annotations

import warnings
from typing import Any, overload

import numpy as np

from chainrule import dtypes
from chainrule._registry import op, tensor_method
from chainrule._tensor import Tensor, _make
from chainrule.backend.select import select
from chainrule.dtypes import kind_of
from chainrule.ops.broadcast import as_tensor_arg, binary, broadcast_error, has_complex
from chainrule.ops.elementwise.unary import MaskedScale
from chainrule.ops.index.mask import nonzero
from chainrule.ops.op import Op, save_index, tensor_overload


class Clamp(Op):
    """ClampBackward1 with number bounds; ClampBackward0 when a bound is a tensor; from
    clamp_min/clamp_max (``stem``), ClampMinBackward0 with a number, 1 with a tensor."""

    jvp_rule = "diagonal"
    elementwise = True

    def forward(self, x, lo, hi, stem="Clamp"):
        self.stem = stem
        return np.clip(x, lo, hi)

    def name(self):
        if self.inputs is not None:  # after backward the inputs are freed: use the cache
            tensor = any(isinstance(b, Tensor) for b in self.inputs[1:])
            self.kind = int(tensor) if self.stem != "Clamp" else int(not tensor)
        return f"{self.stem}Backward{self.kind}"

    def backward(self, g):
        self.name()  # remember the name before the inputs are freed
        x, lo, hi = (v._data if isinstance(v, Tensor) else v for v in self.inputs)
        inside = True
        if lo is not None:
            inside = x >= lo
        if hi is not None:
            inside = inside & (x <= hi) if lo is not None else x <= hi
        # selects, as torch's clamp_backward: a masked inf or nan gradient is +0, not nan
        gx = MaskedScale.apply(g, mask=inside) if self.needs(0) else None
        # below min the result is min, unless min > max: then it is max (whatever x is, nan
        # too); torch gives neither bound a gradient when min == max
        glo = ghi = None
        if self.needs(1):
            glo = MaskedScale.apply(g, mask=(x < lo) & (lo < hi) if hi is not None else x < lo)
        if self.needs(2):
            ghi = MaskedScale.apply(g, mask=(x > hi) | (hi < lo) if lo is not None else x > hi)
        return gx, glo, ghi


@op(aliases=("clip",), inplace=True, inplace_function=True)
def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Each element limited to ``[min, max]`` (either bound may be omitted, or a
    tensor); alias ``clip``. The gradient is zero where the bound applied.
    """
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    return _clamp(input, min, max, "Clamp")


def _clamp(input: Tensor, min: Any, max: Any, stem: str) -> Tensor:
    if kind_of(input._data.dtype) == "c":
        raise NotImplementedError("clamp is not supported for complex types")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        dt = dtypes.result_type(*(v for v in (input, min, max) if v is not None))
        input, min, max = (v if v is None else _cast(v, dt) for v in (input, min, max))
    elif kind_of(input._data.dtype) in "iub" and any(isinstance(v, float) for v in (min, max)):
        input = input.to(dtypes.get_default_dtype())
    return Clamp.apply(input, min, max, stem=stem)


@op(inplace=True, inplace_function=True)
def clamp_min(input: Tensor, min: Any) -> Tensor:
    """``clamp(input, min=min)`` (torch's ClampMinBackward node)."""
    return _clamp(input, min, None, "ClampMin")


@op(inplace=True, inplace_function=True)
def clamp_max(input: Tensor, max: Any) -> Tensor:
    """``clamp(input, max=max)`` (torch's ClampMaxBackward node)."""
    return _clamp(input, None, max, "ClampMax")


def _extremum_backward(op: Op, g: Tensor, loses_a: Any, loses_b: Any) -> tuple:
    """torch's rule for maximum/minimum: ``where(a == b, g / 2, g)``, zero where the side
    loses; selects, so a nan operand passes ``g`` to both sides and a masked inf is +0."""
    a, b = op.inputs[0]._data, op.inputs[1]._data
    tie = a == b
    half = g * _make(select(tie, np.asarray(0.5, g._data.dtype), 1.0)) if tie.any() else g
    gx = MaskedScale.apply(half, mask=~loses_a(a, b)) if op.needs(0) else None
    gy = MaskedScale.apply(half, mask=~loses_b(a, b)) if op.needs(1) else None
    return gx, gy


class Maximum(Op):
    """Ties send half the gradient each way (torch's rule)."""

    jvp_rule = "diagonal"
    elementwise = True

    def forward(self, a, b):
        return np.maximum(a, b)

    def backward(self, g):
        return _extremum_backward(self, g, lambda a, b: a < b, lambda a, b: a > b)


class Minimum(Op):
    jvp_rule = "diagonal"
    elementwise = True

    def forward(self, a, b):
        return np.minimum(a, b)

    def backward(self, g):
        return _extremum_backward(self, g, lambda a, b: a > b, lambda a, b: a < b)


@op
def maximum(input: Tensor, other: Tensor) -> Tensor:
    """The larger of ``input`` and ``other`` element by element (nan if either is nan)."""
    _ordered("maximum", input, other)
    return binary(Maximum, input, as_tensor_arg(other))


@op
def minimum(input: Tensor, other: Tensor) -> Tensor:
    """The smaller of ``input`` and ``other`` element by element (nan if either is nan)."""
    _ordered("minimum", input, other)
    return binary(Minimum, input, as_tensor_arg(other))


class Fmax(Op):
    """The larger of a and b, the other one where one is nan (nan only where both are)."""

    formula = "d fmax(a, b) = g where a >= b or b is nan, else to b"
    jvp_rule = "diagonal"
    elementwise = True
    larger = True

    def forward(self, a, b):
        return np.fmax(a, b) if self.larger else np.fmin(a, b)

    def backward(self, g):
        a, b = self.inputs
        a_wins = ((a >= b) if self.larger else (a <= b)) | b.isnan()  # ties go to a (torch)
        ga = g.masked_fill(~a_wins, 0.0) if self.needs(0) else None
        gb = g.masked_fill(a_wins, 0.0) if self.needs(1) else None
        return ga, gb


class Fmin(Fmax):
    formula = "d fmin(a, b) = g where a <= b or b is nan, else to b"
    larger = False


@op
def fmax(input: Tensor, other: Tensor) -> Tensor:
    """The larger of ``input`` and ``other`` element by element, ignoring a nan (nan only
    where both are)."""
    _ordered("fmax", input, other)
    return binary(Fmax, input, as_tensor_arg(other))


@op
def fmin(input: Tensor, other: Tensor) -> Tensor:
    """The smaller of ``input`` and ``other`` element by element, ignoring a nan."""
    _ordered("fmin", input, other)
    return binary(Fmin, input, as_tensor_arg(other))


def _ordered(name: str, *operands: Any) -> None:
    if has_complex(*operands):
        raise RuntimeError(f"{name} not implemented for complex tensors.")


class NanToNum(Op):
    formula = "d nan_to_num(a) = g where a is finite, else 0"
    jvp_rule = "diagonal"
    reduced_math = False  # float16's own largest value, not float32's rounded to inf

    def forward(self, x, nan, posinf, neginf):
        if x.dtype.kind not in "fcV":  # integers and bools: a copy
            return x.copy()
        info = dtypes.np_finfo(x.real.dtype)
        big = info.max if posinf is None else posinf
        low = info.min if neginf is None else neginf
        if x.dtype.kind != "V":
            return np.nan_to_num(x, nan=nan, posinf=big, neginf=low)
        out = x.copy()  # bfloat16 (np.nan_to_num leaves types it does not know)
        out[np.isnan(x)], out[x == np.inf], out[x == -np.inf] = nan, big, low
        return out

    def backward(self, g):
        return g * self.inputs[0].isfinite()


@op(inplace=True, inplace_function=True)
def nan_to_num(
    input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Tensor:
    """nan, inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default 0 and
    the largest and lowest finite values of the dtype); other dtypes are copied."""
    return NanToNum.apply(input, nan=nan, posinf=posinf, neginf=neginf)


class Where(Op):
    formula = "d where(c, a, b) = (none), g where c else 0, g where not c else 0"
    jvp_rule = "diagonal"
    elementwise = True
    saved_for = ((), (), ())  # the condition only (save_index in where)

    def forward(self, cond, x, y):
        self.cond = cond
        return select(cond, x, y)

    def backward(self, g):  # torch's where(c, g, 0): a masked inf or nan gradient is +0
        gx = MaskedScale.apply(g, mask=self.cond) if self.needs(1) else None
        gy = MaskedScale.apply(g, mask=~self.cond) if self.needs(2) else None
        return None, gx, gy


@overload  # the overloads are for type checkers (chainrule._stubs copies them)
def where(condition: Tensor) -> tuple[Tensor, ...]: ...
@overload
def where(condition: Tensor, input: Any, other: Any) -> Tensor: ...
@op(method=False)
def where(condition: Tensor, input: Any = None, other: Any = None) -> Tensor | tuple:
    """``condition ? input : other`` elementwise, broadcasting all three."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype == np.uint8:  # torch still accepts a byte mask, with a warning
        warnings.warn(
            "where received a uint8 condition tensor. This behavior is deprecated and will be "
            "removed in a future version of PyTorch. Use a boolean condition instead.",
            UserWarning,
            stacklevel=2,
        )
        cond = cond.astype(np.bool_)
    if cond.dtype != np.bool_:
        raise RuntimeError(
            f"where expected condition to be a boolean tensor, but got a tensor "
            f"with dtype {dtypes.scalar_type_name(cond)}"
        )
    input, other = as_tensor_arg(input, "input"), as_tensor_arg(other)
    dt = dtypes.result_type(input, other)
    error = broadcast_error(cond, input, other)
    if error is not None:
        raise error
    out = Where.apply(cond, _cast(input, dt), _cast(other, dt))
    return save_index(out, condition) if cond is getattr(condition, "_data", None) else out


@tensor_method(name="where")
def where_method(self: Tensor, condition: Tensor, other: Any) -> Tensor:
    """``x.where(condition, y)`` is ``where(condition, x, y)``."""
    return where(condition, self, other)


def _cast(v: Any, dt: np.dtype) -> Any:
    """A tensor in dtype ``dt`` (a recorded cast), or a number as a ``dt`` array."""
    if isinstance(v, Tensor):
        return v if v._data.dtype == dt else v.to(dtypes.FROM_NP[dt])
    return np.asarray(v, dtype=dt)


class Lerp(Op):
    """``start + weight * (end - start)``."""

    jvp_rule = "diagonal"
    elementwise = True
    saved_for = ((2,), (2,), (0, 1, 2))  # the weight for start and end, all for the weight
    saves_numbers = False  # lerp.Scalar keeps a number weight as a Scalar, not a saved tensor

    def forward(self, start, end, weight):  # torch's two-sided formula (exact at w = 1, and
        diff = end - start  # inf at an infinite end where the one-sided one gives nan)
        return np.where(np.abs(weight) < 0.5, start + weight * diff, end - diff * (1 - weight))

    def backward(self, g):
        start, end, weight = self.inputs
        gs = g * (1 - weight) if self.needs(0) else None
        ge = g * weight if self.needs(1) else None
        gw = g * (end - start) if self.needs(2) else None
        return gs, ge, gw


@op(inplace=True)
def lerp(input: Tensor, end: Tensor, weight: Any) -> Tensor:
    """Linear interpolation ``input + weight * (end - input)`` (``weight`` a number or tensor)."""
    if not isinstance(end, Tensor):  # torch's argument parser (the function's wording)
        raise TypeError(
            "lerp() received an invalid combination of arguments - got (Tensor, "
            f"{type(end).__name__}, {type(weight).__name__}), but expected one of:\n"
            " * (Tensor input, Tensor end, Tensor weight, *, Tensor out = None)\n"
            " * (Tensor input, Tensor end, Number weight, *, Tensor out = None)\n"
        )
    weight = as_tensor_arg(weight, "weight")
    _check_lerp(input, end, weight)
    if isinstance(weight, Tensor) and not weight._data.ndim:  # a 0-d weight: input's dtype
        weight = _cast(weight, input._data.dtype)
    return tensor_overload(Lerp.apply(input, end, weight), weight)


def _check_lerp(input: Tensor, end: Tensor, weight: Any) -> None:
    """torch's checks, in its order: end of input's dtype, a weight tensor too (unless 0-d),
    broadcastable shapes, a floating or complex dtype, a number weight the dtype can hold."""
    dt = input._data.dtype
    if end._data.dtype != dt:
        raise RuntimeError(
            f"expected dtype {dtypes.c_type_name(input)} for `end` but got dtype "
            f"{dtypes.c_type_name(end)}"
        )
    tensor_weight = isinstance(weight, Tensor)
    if tensor_weight and weight._data.ndim and weight._data.dtype != dt:
        raise RuntimeError(
            f"expected dtype {dtypes.c_type_name(input)} for `weight` but got dtype "
            f"{dtypes.c_type_name(weight)}"
        )
    error = broadcast_error(input, end, weight)
    if error is not None:
        raise error
    if kind_of(dt) not in "fc":
        kernel = "lerp_kernel_tensor" if tensor_weight else "lerp_kernel_scalar"
        raise NotImplementedError(
            f"\"{kernel}\" not implemented for '{dtypes.scalar_type_name(input)}'"
        )
    if isinstance(weight, complex) and kind_of(dt) != "c":
        raise RuntimeError(
            f"value cannot be converted to type {dtypes.c_type_name(input)} without overflow"
        )
