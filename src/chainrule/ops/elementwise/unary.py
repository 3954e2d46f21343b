"""Elementwise unary math: neg, abs, exp/log family, sqrt, rsqrt, reciprocal, trig, tanh,
sigmoid, relu, erf, sign and the rounding functions; torch's dtype refusals for each."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._fp import quiet
from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule._trace import state as trace
from chainrule.backend import K
from chainrule.backend.select import select
from chainrule.backend.special import _erf, _sigmoid
from chainrule.dtypes import kind_of
from chainrule.graph import grad_mode
from chainrule.ops.op import Op, complex_conj, forward_ad


class Neg(Op):
    fp_quiet = True  # (see Op.fp_quiet)
    formula = "d(-a) = -g"
    jvp_rule = "diagonal"
    save_inputs = False

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Conj(Op):
    """The complex conjugate (a copy: chainrule keeps no conjugate bit); its gradient is the
    conjugate of the incoming one."""

    formula = "d conj(a) = conj(g)"
    jvp_rule = "linear"
    save_inputs = False
    torch_name = "ConjBackward0"

    def forward(self, x):
        return np.conj(x)

    def backward(self, g):
        return conj(g)


class Abs(Op):
    formula = "d |a| = g * sign(a)"
    jvp_rule = "diagonal"

    def forward(self, x):
        return np.abs(x)

    def backward(self, g):
        return g * sign_or_phase(self.inputs[0])


class Deg2Rad(Op):
    """``a * pi / 180`` (``Rad2Deg``: ``a * 180 / pi``), torch's nodes of their own."""

    formula = "d (a * pi / 180) = g * pi / 180"
    jvp_rule = "diagonal"
    save_inputs = False
    factor = math.pi / 180

    def forward(self, x):
        return x * np.asarray(self.factor, x.dtype)

    def backward(self, g):
        return g * self.factor


class Rad2Deg(Deg2Rad):
    formula = "d (a * 180 / pi) = g * 180 / pi"
    factor = 180 / math.pi


class Exp2(Op):
    formula = "d 2**a = g * 2**a * ln 2"
    jvp_rule = "diagonal"
    save_inputs, save_output = False, True

    @quiet
    def forward(self, x):
        return np.exp2(x)

    def backward(self, g):
        return g * self.output * math.log(2.0)


class Exp(Op):
    formula = "d exp(a) = g * exp(a)"
    jvp_rule = "diagonal"
    save_inputs, save_output = False, True

    @quiet
    def forward(self, x):
        return np.exp(x)

    def backward(self, g):
        return g * self.output


class Expm1(Op):
    formula = "d expm1(a) = g * exp(a)"
    jvp_rule = "diagonal"
    save_inputs, save_output = False, True

    @quiet
    def forward(self, x):
        return np.expm1(x)

    def backward(self, g):
        return g * (self.output + 1)


class Log(Op):
    formula = "d log(a) = g / a"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.log(x)

    def backward(self, g):
        return g / self.inputs[0]


class Log2(Op):
    formula = "d log2(a) = g / (a ln 2)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.log2(x)

    def backward(self, g):
        return g / (self.inputs[0] * math.log(2.0))


class Log10(Op):
    formula = "d log10(a) = g / (a ln 10)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.log10(x)

    def backward(self, g):
        return g / (self.inputs[0] * math.log(10.0))


class Log1p(Op):
    formula = "d log1p(a) = g / (1 + a)"
    torch_name = "Log1PBackward0"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.log1p(x)

    def backward(self, g):
        return g / (self.inputs[0] + 1)


class Sqrt(Op):
    formula = "d sqrt(a) = g / (2 sqrt(a))"
    jvp_rule = "diagonal"
    save_inputs, save_output = False, True

    @quiet
    def forward(self, x):
        return np.sqrt(x)

    def backward(self, g):
        return g / (2 * self.output)


class Rsqrt(Op):
    formula = "d (1 / sqrt(a)) = -g / (2 a^(3/2))"
    jvp_rule = "diagonal"
    save_inputs, save_output = False, True

    @quiet
    def forward(self, x):
        return 1 / np.sqrt(x)

    @quiet
    def backward(self, g):
        return -0.5 * g * self.output**3


class Reciprocal(Op):
    formula = "d (1 / a) = -g / a²"
    jvp_rule = "diagonal"
    save_inputs, save_output = False, True

    @quiet
    def forward(self, x):
        return 1 / x

    @quiet
    def backward(self, g):
        return -g * self.output * self.output


class Sin(Op):
    formula = "d sin(a) = g * cos(a)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.sin(x)

    def backward(self, g):
        return g * cos(self.inputs[0])


class Cos(Op):
    formula = "d cos(a) = -g * sin(a)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        return np.cos(x)

    def backward(self, g):
        return -g * sin(self.inputs[0])


class Tan(Op):
    formula = "d tan(a) = g * (1 + tan(a)²)"
    jvp_rule = "diagonal"
    save_inputs, save_output = False, True

    @quiet
    def forward(self, x):
        return np.tan(x)

    def backward(self, g):
        y = self.output
        return g * (1 + y * y)


class Tanh(Op):
    fp_quiet = "real"  # (see Op.fp_quiet)
    formula = "d tanh(a) = g * (1 - tanh(a)²)"
    jvp_rule = "diagonal"
    save_inputs, save_output = False, True

    forward = np.tanh  # (the ufunc itself, as Add's: no Python frame per op)

    def backward(self, g):
        y = self.out_data  # (the array self.output holds, without making the tensor)
        if grad_mode.enabled or forward_ad.level or trace.tracer or y.dtype.kind != "f":  # recorded
            y = self.output
            return g * (1 - y * y)
        return _make(K.tanh_backward(g._data, y))


class Sigmoid(Op):
    formula = "d σ(a) = g * σ(a) (1 - σ(a))"
    jvp_rule = "diagonal"
    save_inputs, save_output = False, True

    def forward(self, x):
        return K.sigmoid(x) if x.dtype.kind == "f" else _sigmoid(x)  # complex: NumPy's

    def backward(self, g):
        return SigmoidBackward.apply(g, self.output)


class SigmoidBackward(Op):
    """``g * y * (1 - y)`` in one node (y the sigmoid's output); itself differentiable."""

    jvp_rule = "diagonal"

    def forward(self, g, y):
        return K.sigmoid_backward(g, y) if y.dtype.kind == "f" else g * y * (1 - y)

    def backward(self, gg):
        g, y = self.inputs
        gg_g = gg * y * (1 - y) if self.needs(0) else None
        gg_y = gg * g * (1 - 2 * y) if self.needs(1) else None
        return gg_g, gg_y


class Relu(Op):
    """relu'(0) = 0, as in torch; torch's threshold_backward selects ``where(out <= 0, 0, g)``,
    so a nan input passes the gradient and a masked inf or nan gradient is +0."""

    fp_quiet = True  # (see Op.fp_quiet)

    formula = "d relu(a) = g where not relu(a) <= 0, else 0"
    jvp_rule = "diagonal"
    save_inputs, save_output = False, True

    def forward(self, x):
        return K.relu(x)  # maximum(x, 0)

    def backward(self, g):  # (the output: >= 0 or nan, unless written through .data)
        gd, y = g._data, self.output._data
        if (
            not (grad_mode.enabled or forward_ad.level or trace.tracer)
            and type(gd) is np.ndarray
            and gd.dtype == y.dtype
            and gd.flags.c_contiguous
            and y.flags.c_contiguous
        ):  # the plain backward: MaskedGrad's kernel, without recording
            return _make(K.relu_backward(gd, y))
        return MaskedGrad.apply(g, self.output, mask=("not_nonpositive",))


class MaskedScale(Op):
    """``where(mask, g, 0)`` for a constant boolean mask (relu's gradient) in one node: linear
    in ``g``, so its own backward is itself. A select, not ``g * mask``: torch's masked inf
    and nan gradients are +0, not nan."""

    layout = "elementwise"

    jvp_rule = "linear"
    save_inputs = False
    torch_name = "MulBackward0"

    def forward(self, g, mask):
        self.mask = mask
        return select(mask, g, 0.0)

    def backward(self, gg):
        return MaskedScale.apply(gg, mask=self.mask)


# masks MaskedGrad can make from its saved tensor s itself, so the whole gradient is one
# kernel of known inputs (what cr.compile's tracer replays): relu's, leaky_relu's, hardtanh's
_MASKS = {
    "not_nonpositive": lambda s: ~(s <= 0),  # (a nan passes)
    "positive": lambda s: s > 0,
    "inside": lambda s, lo, hi: ~((s <= lo) | (s >= hi)),
}


class MaskedGrad(Op):
    """torch's threshold_backward, hardtanh_backward and leaky_relu_backward in one node:
    ``where(mask, g, g * slope)`` (``slope`` 0 but for leaky_relu), the mask taken from the
    activation's saved tensor ``s`` (relu's result, hardtanh's and leaky_relu's input). As in
    torch it is differentiable in ``g`` (itself again) and in ``s`` with a zero gradient, so
    under ``create_graph`` the first gradient is part of the graph (it requires grad, and
    the second derivative is exact zeros). A select, not ``g * mask``: masked inf and nan
    gradients are +0."""

    layout = "elementwise"

    jvp_rule = "linear"  # linear in g; s is only an edge (its tangent never reaches the mask)
    torch_name = "ThresholdBackwardBackward0"

    def forward(self, g, s, mask, slope=0.0, name=None):
        relu = type(mask) is tuple and mask == ("not_nonpositive",)
        if relu and type(slope) is float and not slope:
            # relu's gradient in one kernel (its own backward makes the mask from s again)
            self.mask, self.slope = mask, slope
            if name is not None:
                self.torch_name = name
            return K.relu_backward(g, s)
        if type(mask) is tuple:  # the rule that makes the mask from s, run here (a kernel)
            mask = _MASKS[mask[0]](s, *mask[1:])
        self.mask, self.slope = mask, slope
        if name is not None:
            self.torch_name = name
        nonzero = isinstance(slope, np.ndarray) or slope  # rrelu's slopes: an array
        return select(mask, g, g * slope if nonzero else 0.0)

    def backward(self, gg):
        s = self.inputs[1]
        ggg = (
            MaskedGrad.apply(gg, s, mask=self.mask, slope=self.slope, name=self.torch_name)
            if self.needs(0)
            else None
        )
        return ggg, _make(np.zeros_like(s._data)) if self.needs(1) else None


class Erf(Op):
    formula = "d erf(a) = g * 2/sqrt(π) * exp(-a²)"
    jvp_rule = "diagonal"

    def forward(self, x):
        return _erf(x)

    def backward(self, g):
        x = self.inputs[0]
        return g * (2 / math.sqrt(math.pi)) * exp(-x * x)


class _ZeroGrad(Op):
    """Piecewise-constant functions: the gradient is zero wherever it exists (torch)."""

    jvp_rule = "diagonal"
    save_inputs = False

    def backward(self, g):
        return _make(np.zeros_like(g._data))  # exact zeros, even where g is inf or nan


class Sign(_ZeroGrad):
    """sign(nan) is 0 in torch (NumPy: nan), so abs' and the 1/inf norms' gradients are too."""

    def forward(self, x):
        if kind_of(x.dtype) != "f":
            return np.sign(x) if x.dtype != np.bool_ else x.copy()
        out = np.asarray(np.sign(x))  # 0-d: NumPy gives a scalar
        out[np.isnan(out)] = 0
        return out


def sign_or_phase(input: Tensor) -> Tensor:
    """sign, and ``z / |z|`` for a complex ``z`` (torch's sgn, SgnBackward0, whose own
    derivative is not zero; the public sign refuses complex): the factor of abs' and the
    norms' gradients."""
    if input._data.dtype.kind == "c":
        return complex_sgn[0].apply(input)
    return Sign.apply(input)


complex_sgn: list = []  # complexes.py's Sgn (it imports this module: a hook, not an import)


class Floor(_ZeroGrad):
    def forward(self, x):
        return np.floor(x)


class Ceil(_ZeroGrad):
    def forward(self, x):
        return np.ceil(x)


class Round(_ZeroGrad):
    def forward(self, x, decimals=0):
        if decimals:  # torch's round.decimals overload
            self.torch_name = "RoundBackward1"
        return np.round(x, decimals)


class Trunc(_ZeroGrad):
    def forward(self, x):
        return np.trunc(x)


class Frac(Op):
    formula = "d frac(a) = g  (a minus its integer part)"
    jvp_rule = "diagonal"
    save_inputs = False

    def forward(self, x):
        return x - np.trunc(x)

    def backward(self, g):
        return g


def _not_implemented(kernel: str) -> Any:
    return lambda x: dtypes.kernel_missing(kernel, x)


def _no_complex(name: str) -> Any:
    return lambda x: NotImplementedError(f"{name} is not supported for complex inputs")


def _no_complex_sign(x: np.ndarray) -> Exception:
    return NotImplementedError(
        "Unlike NumPy, torch.sign is not intended to support complex numbers. Please use "
        "torch.sgn instead."
    )


def _bool_neg(x: np.ndarray) -> Exception:
    return RuntimeError(
        "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
        "invert a mask, use the `~` or `logical_not()` operator instead."
    )


def _bool_relu(x: np.ndarray) -> Exception:
    if kind_of(x.dtype) == "c":
        return NotImplementedError("clamp is not supported for complex types")
    return RuntimeError("Boolean inputs not supported for relu")


def _unary(
    cls: type[Op], name: str, *, to_float: bool = False, refuse: tuple = ()
) -> Callable[[Tensor], Tensor]:
    """The public function of a unary op: ``to_float`` casts integer inputs to the default
    float dtype (torch does so for transcendental functions); ``refuse`` is pairs (dtype
    kinds, the error torch raises for them)."""

    def fn(input: Tensor) -> Tensor:
        kind = input._data.dtype.kind
        if kind == "V":  # bfloat16 is a float (kind_of)
            kind = kind_of(input._data.dtype)
        for kinds, error in refuse:  # (the pairs as given: no dict view made per call)
            if kind in kinds:
                raise error(input._data)
        if to_float and kind not in "fc":
            input = input.to(dtypes.get_default_dtype())
        return cls.apply(input)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name} (differentiable)."
    return fn


# One declaration per op: the function, its method, aliases and in-place form, dtype refusals.
neg = op(
    _unary(Neg, "neg", refuse=(("b", _bool_neg),)),
    aliases=("negative",),
    inplace=True,
    inplace_function=True,
    dunders=("__neg__",),
)
abs = op(
    _unary(Abs, "abs", refuse=(("b", _not_implemented("abs_cpu")),)),
    aliases=("absolute",),
    inplace=True,
    inplace_function=("abs_",),  # torch has no torch.absolute_
    dunders=("__abs__",),
)


@op
def conj(input: Tensor) -> Tensor:
    """The complex conjugate; a tensor that is not complex is returned as it is (torch)."""
    return Conj.apply(input) if input._data.dtype.kind == "c" else input


complex_conj.append(conj)  # for Op._complex_rule

exp = op(_unary(Exp, "exp", to_float=True), inplace=True, inplace_function=True)
expm1 = op(_unary(Expm1, "expm1", to_float=True), inplace=True, inplace_function=True)
exp2 = op(_unary(Exp2, "exp2", to_float=True), inplace=True, inplace_function=True)
deg2rad = op(_unary(Deg2Rad, "deg2rad", to_float=True), inplace=True, inplace_function=True)
rad2deg = op(_unary(Rad2Deg, "rad2deg", to_float=True), inplace=True, inplace_function=True)
log = op(_unary(Log, "log", to_float=True), inplace=True, inplace_function=True)
log2 = op(_unary(Log2, "log2", to_float=True), inplace=True, inplace_function=True)
log10 = op(_unary(Log10, "log10", to_float=True), inplace=True, inplace_function=True)
log1p = op(_unary(Log1p, "log1p", to_float=True), inplace=True, inplace_function=True)
sqrt = op(_unary(Sqrt, "sqrt", to_float=True), inplace=True, inplace_function=True)
rsqrt = op(_unary(Rsqrt, "rsqrt", to_float=True), inplace=True, inplace_function=True)
reciprocal = op(
    _unary(Reciprocal, "reciprocal", to_float=True), inplace=True, inplace_function=True
)
sin = op(_unary(Sin, "sin", to_float=True), inplace=True, inplace_function=True)
cos = op(_unary(Cos, "cos", to_float=True), inplace=True, inplace_function=True)
tan = op(_unary(Tan, "tan", to_float=True), inplace=True, inplace_function=True)
tanh = op(
    _unary(Tanh, "tanh", to_float=True),
    namespace=("", "nn.functional"),
    inplace=True,
    inplace_function=("tanh_",),  # torch has no nn.functional.tanh_
)
sigmoid = op(
    _unary(Sigmoid, "sigmoid", to_float=True),
    namespace=("", "nn.functional"),
    inplace=True,
    inplace_function=("sigmoid_",),  # torch has no nn.functional.sigmoid_
)
erf = op(
    _unary(Erf, "erf", to_float=True, refuse=(("c", _not_implemented("erf_vml_cpu")),)),
    inplace=True,
    inplace_function=True,
)
relu = op(_unary(Relu, "relu", refuse=(("bc", _bool_relu),)), inplace=True, inplace_function=True)
sign = op(_unary(Sign, "sign", refuse=(("c", _no_complex_sign),)), inplace=True)
floor = op(
    _unary(
        Floor,
        "floor",
        refuse=(("b", _not_implemented("floor_vml_cpu")), ("c", _no_complex("floor"))),
    ),  # fmt: skip
    inplace=True,
    inplace_function=True,
)
ceil = op(
    _unary(
        Ceil, "ceil", refuse=(("b", _not_implemented("ceil_vml_cpu")), ("c", _no_complex("ceil")))
    ),  # fmt: skip
    inplace=True,
    inplace_function=True,
)
trunc = op(
    _unary(
        Trunc,
        "trunc",
        refuse=(("b", _not_implemented("trunc_vml_cpu")), ("c", _no_complex("trunc"))),
    ),  # fmt: skip
    inplace=True,
    inplace_function=True,
)
frac = op(
    _unary(Frac, "frac", refuse=(("biuc", _not_implemented("frac_cpu")),)),
    inplace=True,
    inplace_function=True,
)


@op(inplace=True, inplace_function=True)
def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Round to the nearest integer, halves to even, or to ``decimals`` decimal places."""
    kind = input._data.dtype.kind
    if kind in "bc" or (decimals and kind in "iu"):  # torch: no such kernel
        kernel = "round_cpu" if decimals and kind != "b" else "round_vml_cpu"
        raise dtypes.kernel_missing(kernel, input)
    return Round.apply(input, decimals=decimals)


@op(dunders=("__pos__",))
def positive(input: Tensor) -> Tensor:
    """``+input``: the tensor itself (torch refuses bool tensors)."""
    if input._data.dtype == np.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input
