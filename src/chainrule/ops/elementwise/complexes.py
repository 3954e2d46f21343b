"""Complex numbers' parts: view_as_real, view_as_complex, real, imag (views, as torch's:
writing one writes the complex tensor), angle, sgn, complex and polar.

``real``/``imag`` are torch's composite: ``view_as_real(z).select(-1, 0 or 1)`` (their
nodes SelectBackward0 over ViewAsRealBackward0). The ops whose result is complex from real
inputs (view_as_complex, complex, polar) write torch's formulas for a complex gradient
directly (``_complex_rule``), not the conjugated rule of an analytic function.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from chainrule import dtypes
from chainrule._fp import quiet
from chainrule._registry import op, tensor_method
from chainrule._tensor import Tensor
from chainrule.dtypes import kind_of, scalar_type_name
from chainrule.ops.broadcast import binary
from chainrule.ops.elementwise.select import where
from chainrule.ops.elementwise.unary import abs as abs_
from chainrule.ops.elementwise.unary import complex_sgn, conj, cos, sin
from chainrule.ops.op import Op

_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64),
               np.dtype(np.float64): np.dtype(np.complex128)}  # fmt: skip


class ViewAsReal(Op):
    """A complex tensor's memory as real pairs (a last dim of size 2): a view."""

    layout = None  # a view
    save_inputs = False
    jvp_rule = "linear"
    formula = "d view_as_real(z) = view_as_complex(g)"

    def forward(self, z):
        r = z.real  # a view with z's strides
        return as_strided(r, z.shape + (2,), r.strides + (r.itemsize,), writeable=True)

    def backward(self, g):
        return ViewAsComplex.apply(g.contiguous())


class ViewAsComplex(Op):
    """Real pairs (a last dim of size 2, stride 1) as complex numbers: a view."""

    layout = None
    save_inputs = False
    jvp_rule = "linear"
    formula = "d view_as_complex(x) = view_as_real(g)"

    def forward(self, x):
        return x.view(_COMPLEX_OF[x.dtype])[..., 0]

    def backward(self, g):
        return ViewAsReal.apply(g.contiguous())

    def _complex_rule(self, grad):  # torch's formula, for the complex gradient itself
        return self.backward(grad)


@op(method=False)
def view_as_real(input: Tensor) -> Tensor:
    """A complex tensor's memory seen as real numbers: shape ``(..., 2)`` (real, imaginary);
    writing it writes ``input``."""
    if kind_of(input._data.dtype) != "c":
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


def _storage_offset(a: np.ndarray) -> int:
    """Elements between the start of the memory ``a`` views and its first element."""
    owner = a
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    start = a.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
    return start // a.itemsize


@op(method=False)
def view_as_complex(input: Tensor) -> Tensor:
    """A float32/float64 tensor of shape ``(..., 2)`` seen as complex numbers (a view: its
    last dim contiguous, its other strides even)."""
    data = input._data
    if data.dtype not in _COMPLEX_OF:
        raise RuntimeError(
            "view_as_complex is only supported for float and double tensors, but got a tensor "
            f"of scalar type: {scalar_type_name(input)}"
        )
    if not data.ndim or data.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    size = data.itemsize
    if data.strides[-1] != size:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if _storage_offset(data) % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    if any(s % (2 * size) for s, n in zip(data.strides[:-1], data.shape[:-1]) if n > 1):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    return ViewAsComplex.apply(input)


@op(method=False)
def real(input: Tensor) -> Tensor:
    """The real part (a view of a complex tensor; a real tensor itself)."""
    if kind_of(input._data.dtype) != "c":
        return input
    return ViewAsReal.apply(input).select(-1, 0)


@op(method=False)
def imag(input: Tensor) -> Tensor:
    """The imaginary part of a complex tensor (a view: writing it writes ``input``)."""
    if kind_of(input._data.dtype) != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return ViewAsReal.apply(input).select(-1, 1)


@tensor_method(name="real", property=True)
def _real(self: Tensor) -> Tensor:
    """The real part: a view of a complex tensor (writing it writes the tensor); a real
    tensor itself."""
    return real(self)


@tensor_method(name="imag", property=True)
def _imag(self: Tensor) -> Tensor:
    """The imaginary part of a complex tensor: a view (writing it writes the tensor)."""
    return imag(self)


class Angle(Op):
    formula = "d angle(z) = g * i z / |z|^2 (0 at 0; 0 for a real z)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        if kind_of(x.dtype) == "c":
            return np.angle(x)
        out = np.where(x < 0, np.asarray(math.pi, x.dtype), np.zeros((), x.dtype))
        return np.where(np.isnan(x), x, out).astype(x.dtype, copy=False)

    def backward(self, g):
        z = self.inputs[0]
        if kind_of(z._data.dtype) != "c":
            return g * 0
        with np.errstate(divide="ignore", invalid="ignore"):
            d = g * z / abs_(z) ** 2 * 1j
        return where(z == 0, 0.0, d)


@op
def angle(input: Tensor) -> Tensor:
    """The argument of each element (radians in (-π, π]; π for a negative real, 0 for
    other reals); integers give the default float."""
    if kind_of(input._data.dtype) in "iub":
        input = input.to(dtypes.get_default_dtype())
    return Angle.apply(input)


class Sgn(Op):
    formula = "d sgn(z) = (g - sgn(z)^2 conj(g)) / (2|z|) (0 at 0; 0 for a real z)"
    jvp_rule = "diagonal"
    saved_for = ((0, "result"),)

    @quiet
    def forward(self, x):
        if kind_of(x.dtype) != "c":
            out = np.sign(x) if x.dtype != np.bool_ else x.copy()
            return np.where(np.isnan(x), 0, out).astype(x.dtype) if x.dtype.kind == "f" else out
        a = np.abs(x)
        return np.where(a == 0, 0, x / np.where(a == 0, 1, a)).astype(x.dtype, copy=False)

    def backward(self, h):
        """For a complex gradient, run on conj(g) (Op._complex_rule): conj of torch's
        ``(g - s^2 conj(g)) / (2|z|)`` is ``(h - conj(s)^2 conj(h)) / (2|z|)``."""
        z = self.inputs[0]
        if kind_of(z._data.dtype) != "c":
            return h * 0
        s, a = self.output, abs_(z)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = (h - conj(s * s) * conj(h)) / (a * 2)
        return where(a == 0, 0.0, d)

    def jvp(self, tangents):
        """ds = (dz - s Re(conj(s) dz)) / |z| (0 at 0); 0 for a real z."""
        (t,) = tangents
        z = self.inputs[0]
        if kind_of(z._data.dtype) != "c":
            return t * 0
        s, a = self.output, abs_(z)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = (t - s * real(conj(s) * t)) / a
        return where(a == 0, 0.0, d)


complex_sgn.append(Sgn)  # abs' and the norms' factor for complex inputs (sign_or_phase)


@op(inplace=True)
def sgn(input: Tensor) -> Tensor:
    """``z / |z|`` for complex elements (0 at 0); the sign for real ones."""
    return Sgn.apply(input)


def _two_floats(name: str, a: Tensor, b: Tensor) -> None:
    da, db = a._data.dtype, b._data.dtype
    ok = (np.float16, np.float32, np.float64)
    if da.type not in ok or db.type not in ok:
        raise RuntimeError(
            "Expected both inputs to be Half, Float or Double tensors but got "
            f"{scalar_type_name(a)} and {scalar_type_name(b)}"
        )
    if da != db:
        raise RuntimeError(
            f"Expected object of scalar type {scalar_type_name(a)} but got scalar type "
            f"{scalar_type_name(b)} for second argument"
        )


class Complex(Op):
    formula = "d complex(a, b) = real(g), imag(g)"
    jvp_rule = "linear"
    elementwise = True
    saved_for = ((0,), (1,))  # torch's node saves each input for its own gradient

    def forward(self, a, b):
        out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=_COMPLEX_OF[a.dtype])
        out.real, out.imag = a, b
        return out

    def backward(self, g):
        return (real(g) if self.needs(0) else None), (imag(g) if self.needs(1) else None)

    def _complex_rule(self, grad):
        return self.backward(grad)


@op(method=False)
def complex(real: Tensor, imag: Tensor) -> Tensor:
    """The complex tensor ``real + i imag`` (float32 -> complex64, float64 -> complex128;
    the two broadcast)."""
    _two_floats("complex", real, imag)
    return binary(Complex, real, imag)


class Polar(Op):
    formula = "d polar(r, t) = real(conj(g) sgn(out)), real(conj(g) i out)"
    elementwise = True
    saved_for = (("result",), ("result",))

    @quiet
    def forward(self, r, t):
        out = np.empty(np.broadcast_shapes(r.shape, t.shape), dtype=_COMPLEX_OF[r.dtype])
        out.real, out.imag = r * np.cos(t), r * np.sin(t)
        return out

    def backward(self, g):
        out, gc = self.output, conj(g)
        gr = real(gc * sgn(out)) if self.needs(0) else None
        gt = real(gc * (out * 1j)) if self.needs(1) else None
        return gr, gt

    def _complex_rule(self, grad):
        return self.backward(grad)

    def jvp(self, tangents):
        """d(r e^{it}) = dr e^{it} + i out dt."""
        (_, t), (tr, tt) = self.inputs, tangents
        total = None
        if tr is not None:
            total = tr * complex(cos(t), sin(t))
        if tt is not None:
            part = self.output * tt * 1j
            total = part if total is None else total + part
        return total


@op(method=False)
def polar(abs: Tensor, angle: Tensor) -> Tensor:
    """The complex tensor ``abs * (cos(angle) + i sin(angle))`` (the two broadcast)."""
    _two_floats("polar", abs, angle)
    return binary(Polar, abs, angle)
