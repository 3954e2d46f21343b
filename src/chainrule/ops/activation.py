"""Activations: the torch.nn.functional pointwise nonlinearities (softmax and log_softmax
live in softmax.py).

The pointwise ones are primitives, for cost (one node instead of four or five) and torch's
grad_fn names; every rule is written in tensor ops, so double backward works. relu, sigmoid
and tanh live in elementwise/.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule._trace import state as trace
from chainrule.backend import K
from chainrule.backend.select import select
from chainrule.backend.special import _sigmoid
from chainrule.dtypes import REDUCED, kind_of, scalar_type_name
from chainrule.graph import grad_mode
from chainrule.ops.elementwise.select import where
from chainrule.ops.elementwise.unary import MaskedGrad, erf, exp, sigmoid, tanh
from chainrule.ops.inplace import write
from chainrule.ops.op import Op, forward_ad
from chainrule.ops.softmax import _float_only, softmax

# --------------------------------------------------------------------------- pointwise


class LeakyRelu(Op):
    """slope for x <= 0 (at 0 too, as torch). Saves x (torch's self): the mask is
    recomputed from it at backward, as torch does; the first gradient's edge to it makes
    double backward's graph (``MaskedGrad``)."""

    layout = "elementwise"

    def forward(self, x, slope):
        self.slope = slope
        return select(x > 0, x, x * slope).astype(x.dtype, copy=False)

    def backward(self, g):  # the in-place form saved its result instead (torch's)
        s = self.output if self.inputs is None else self.inputs[0]
        return MaskedGrad.apply(
            g, s, mask=("positive",), slope=self.slope, name="LeakyReluBackwardBackward0"
        )


def _written(input: Tensor, out: Tensor, inplace: bool, torch_name: str | None = None) -> Tensor:
    """torch's ``inplace=True``: ``out`` is written into ``input`` (its version moves; a leaf
    that requires grad is refused) and ``input`` returned. torch names some of these nodes
    differently (``LeakyReluBackward1``: the in-place form differentiates from the result)."""
    if not inplace:
        return out
    if torch_name is not None and out.grad_fn is not None:
        out.grad_fn.torch_name = torch_name
    return write(input, out)


@op(namespace="nn.functional", method=False, inplace_function=True)
def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` for x > 0, else ``negative_slope * x``."""
    _float_only(input, "leaky_relu_cpu", complex=False)
    out = LeakyRelu.apply(input, slope=negative_slope)
    node = out.grad_fn
    if inplace and node is not None:  # torch's leaky_relu_ saves its result, not self
        node.inputs, node._versions, node.out_data = None, None, out._data
    return _written(input, out, inplace, "LeakyReluBackward1")


class Elu(Op):
    """``scale * x`` for x > 0, else ``scale * alpha * (exp(input_scale * x) - 1)`` (torch's
    elu with its selu and celu coefficients); d/dx = scale * alpha * input_scale *
    exp(input_scale * x) for x <= 0 (at 0 too, as torch), scale above."""

    layout = "elementwise"

    def forward(self, x, alpha, scale=1.0, input_scale=1.0):
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale
        neg = alpha * np.expm1(np.minimum(x, 0) * input_scale)
        out = select(x > 0, x, neg) if scale == 1 else select(x > 0, x * scale, neg * scale)
        return out.astype(x.dtype, copy=False)

    def backward(self, g):
        if self.inputs is None:  # the in-place form saved its result (torch's EluBackward1)
            return EluResultBackward.apply(
                g, self.output, alpha=self.alpha, scale=self.scale, input_scale=self.input_scale
            )
        x = self.inputs[0]  # the masks from its values now (torch recomputes from self)
        return EluBackward.apply(
            g, x, pos=x._data > 0, neg=x._data < 0, alpha=self.alpha, scale=self.scale,
            input_scale=self.input_scale,
        )  # fmt: skip


class EluBackward(Op):
    """``g * (scale if x > 0 else scale * alpha * input_scale * exp(input_scale * x))`` in
    one node, itself differentiable. exp only where x < 0: at 0 the value is
    ``scale * alpha * input_scale`` and (torch) the second derivative 0."""

    jvp_rule = "diagonal"

    def forward(self, g, x, pos, neg, alpha, scale=1.0, input_scale=1.0):
        self.pos, self.neg, self.alpha = pos, neg, alpha
        self.scale, self.input_scale = scale, input_scale
        xn = select(neg, x, 0.0)
        c = alpha * scale * input_scale
        return g * select(pos, scale, (c * np.exp(xn * input_scale)).astype(x.dtype, copy=False))

    def backward(self, gg):
        g, x = self.inputs
        si = self.input_scale
        ax = (self.alpha * self.scale * si) * exp(where(self.neg, x, 0.0) * si)
        gg_g = gg * where(self.pos, self.scale, ax) if self.needs(0) else None
        gg_x = gg * g * where(self.neg, ax * si, 0.0) if self.needs(1) else None
        return gg_g, gg_x


class EluResultBackward(Op):
    """torch's elu_backward from the result r (the in-place forms): ``g * scale`` for r > 0,
    else ``g * input_scale * (r + alpha * scale)``; differentiable in g and in r (its
    second derivative ``g * input_scale`` where r < 0, strictly, as torch)."""

    jvp_rule = "diagonal"
    torch_name = "EluBackwardBackward0"

    def forward(self, g, r, alpha, scale, input_scale):
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale
        self.neg = ~(r > 0)
        inner = (input_scale * (r + alpha * scale)).astype(r.dtype, copy=False)
        return g * select(self.neg, inner, scale)

    def backward(self, gg):
        g, r = self.inputs
        si = self.input_scale
        gg_g = gg * where(self.neg, si * (r + self.alpha * self.scale), self.scale)
        gg_r = where(r < 0, gg * g * si, 0.0)  # strictly below 0 (torch's double backward)
        return (gg_g if self.needs(0) else None), (gg_r if self.needs(1) else None)


def _saves_result(out: Tensor, inplace: bool) -> Tensor:
    """torch's in-place elu, selu, celu and rrelu save their result, not self: its version
    is what a later write is checked against."""
    node = out.grad_fn
    if inplace and node is not None:
        node.inputs, node._versions, node.out_data = None, None, out._data
    return out


@op(namespace="nn.functional", method=False, inplace_function=True)
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for x > 0, else ``alpha * (exp(x) - 1)``."""
    _float_only(input, "elu_cpu", complex=False)
    out = _saves_result(Elu.apply(input, alpha=alpha), inplace)
    return _written(input, out, inplace, "EluBackward1")


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@op(namespace="nn.functional", method=False, inplace_function=True)
def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with torch's self-normalizing constants (EluBackward0)."""
    _float_only(input, "elu_cpu", complex=False)
    out = _saves_result(Elu.apply(input, alpha=_SELU_ALPHA, scale=_SELU_SCALE), inplace)
    return _written(input, out, inplace, "EluBackward1")


@op(namespace="nn.functional", method=False, inplace_function=True)
def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`` (torch's CeluBackward0)."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    _float_only(input, "elu_cpu", complex=False)
    out = _saves_result(Elu.apply(input, alpha=alpha, input_scale=1.0 / alpha), inplace)
    if out.grad_fn is not None:
        out.grad_fn.torch_name = "CeluBackward0"
    return _written(input, out, inplace, "CeluBackward1")


_SQRT1_2 = 1 / math.sqrt(2)
_PHI = 1 / math.sqrt(2 * math.pi)
_BETA = math.sqrt(2 / math.pi)  # tanh approximation: tanh(beta * (x + kappa x^3))
_KAPPA = 0.044715


class Gelu(Op):
    """Exact: ``x * Phi(x)``; 'tanh': ``0.5 x (1 + tanh(beta (x + kappa x^3)))`` (the
    kernels ``K.gelu`` / ``K.gelu_backward``)."""

    layout = "elementwise"

    def forward(self, x, approximate):
        self.approximate = approximate
        return K.gelu(x, approximate)

    def backward(self, g):  # recomputed from the saved input's values now, as torch does
        return GeluBackward.apply(g, self.inputs[0], approximate=self.approximate)


class GeluBackward(Op):
    """``g * gelu'(x)`` in one node, itself differentiable: d/dx is ``g * gelu''(x)``."""

    jvp_rule = "diagonal"

    def forward(self, g, x, approximate):
        self.approximate = approximate
        return K.gelu_backward(g, x, approximate)

    def backward(self, gg):
        g, x = self.inputs
        if self.approximate == "tanh":
            t = tanh(_BETA * (x + _KAPPA * x * x * x))
            u1 = _BETA * (1 + 3 * _KAPPA * x * x)  # u'(x), u the tanh's argument
            s = 1 - t * t
            d1 = 0.5 * (1 + t) + 0.5 * x * s * u1
            d2 = s * (u1 - x * t * u1 * u1 + 3 * _BETA * _KAPPA * x * x)
        else:
            pdf = _PHI * exp(-0.5 * x * x)
            d1 = 0.5 * (1 + erf(x * _SQRT1_2)) + x * pdf
            d2 = pdf * (2 - x * x)
        gg_g = gg * d1 if self.needs(0) else None
        gg_x = gg * g * d2 if self.needs(1) else None
        return gg_g, gg_x


@op(namespace="nn.functional", method=False)
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit; ``approximate='tanh'`` uses the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _float_only(input, "GeluKernelImpl", complex=False)
    return Gelu.apply(input, approximate=approximate)


class Silu(Op):
    """d/dx = s (1 + x (1 - s)) with s = sigmoid(x)."""

    layout = "elementwise"

    def forward(self, x):
        return K.silu(x)

    def backward(self, g):  # sigmoid recomputed from the saved input, as torch does
        return SiluBackward.apply(g, self.inputs[0])


class SiluBackward(Op):
    """``g * s * (1 + x (1 - s))`` in one node (s = sigmoid(x)), itself differentiable:
    silu''(x) = s (1 - s) (2 + x (1 - 2 s))."""

    jvp_rule = "diagonal"

    def forward(self, g, x):
        return K.silu_backward(g, x)

    def backward(self, gg):
        g, x = self.inputs
        s = sigmoid(x)
        gg_g = gg * s * (1 + x * (1 - s)) if self.needs(0) else None
        gg_x = gg * g * s * (1 - s) * (2 + x * (1 - 2 * s)) if self.needs(1) else None
        return gg_g, gg_x


@op(namespace="nn.functional", method=False)
def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)``."""
    _float_only(input, "silu_cpu")
    return _written(input, Silu.apply(input), inplace)


_F = (np.dtype(np.float32), np.dtype(np.float64))  # the dtypes a plain backward's kernel takes


class Softplus(Op):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold`` (torch)."""

    layout = "elementwise"

    def forward(self, x, beta, threshold):
        self.beta, self.threshold = beta, threshold
        return K.softplus(x, beta, threshold)

    def backward(self, g):  # the masks from the saved input, as torch recomputes
        x = self.inputs[0]
        if not (grad_mode.enabled or forward_ad.level or trace.tracer) and x._data.dtype in _F:
            return _make(K.softplus_backward(g._data, x._data, self.beta, self.threshold))
        bx = x._data * self.beta
        linear, below = bx > self.threshold, ~(bx >= self.threshold)  # nan: below (torch: nan)
        return SoftplusBackward.apply(
            g, x, linear=linear, below=below, beta=self.beta, threshold=self.threshold
        )


class SoftplusBackward(Op):
    """``g`` where beta x > threshold, else ``g * sigmoid(beta x)``, in one node; itself
    differentiable, with sigmoid(beta x) constant where beta x >= threshold (torch's second
    derivative)."""

    jvp_rule = "diagonal"

    def forward(self, g, x, linear, below, beta, threshold):
        self.linear, self.below, self.beta, self.threshold = linear, below, beta, threshold
        bx = select(below, x * beta, np.asarray(threshold, x.dtype))
        return select(linear, g, g * _sigmoid(bx))

    def backward(self, gg):
        g, x = self.inputs
        s = sigmoid(where(self.below, x * self.beta, float(self.threshold)))
        gg_g = where(self.linear, gg, gg * s) if self.needs(0) else None
        gg_x = where(self.below, gg * g * s * (1 - s) * self.beta, 0.0) if self.needs(1) else None
        return gg_g, gg_x


@op(namespace="nn.functional", method=False)
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """A smooth relu: ``log(1 + exp(beta * x)) / beta``; ``x`` above ``threshold / beta``."""
    _float_only(input, "softplus_cpu", complex=False)
    return Softplus.apply(input, beta=beta, threshold=threshold)


class Hardtanh(Op):
    """The gradient is 0 at and beyond the bounds, a select (torch's hardtanh_backward:
    ``where(x <= lo or x >= hi, 0, g)``, so a nan input passes the gradient). Saves x."""

    layout = "elementwise"

    def forward(self, x, lo, hi):
        self.lo, self.hi = lo, hi
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        inside = ("inside", self.lo, self.hi)  # ~((x <= lo) | (x >= hi)), made by the kernel
        return MaskedGrad.apply(g, x, mask=inside, name="HardtanhBackwardBackward0")


def _no_complex_clamp(input: Tensor) -> None:
    if kind_of(input._data.dtype) == "c":
        raise NotImplementedError("clamp is not supported for complex types")


@op(namespace="nn.functional", method=False, inplace_function=True)
def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:  # fmt: skip
    """``clamp(x, min_val, max_val)``."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    _no_complex_clamp(input)
    return _written(input, Hardtanh.apply(input, lo=min_val, hi=max_val), inplace)


@op(namespace="nn.functional", method=False)
def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(0, x), 6)``: hardtanh on [0, 6], as torch (HardtanhBackward0)."""
    _no_complex_clamp(input)
    return _written(input, Hardtanh.apply(input, lo=0.0, hi=6.0), inplace)


class LogSigmoid(Op):
    """``-softplus(-x)``, computed as ``min(x, 0) - log1p(exp(-|x|))``; d/dx = sigmoid(-x).
    Saves x and, as torch, the buffer ``z = exp(-|x|)``: its kernel's derivative is
    ``[x < 0] - sign * z / (1 + z)`` (sign +1 where x < 0, else -1), the sign from x's
    values at backward and z from forward's."""

    layout = "elementwise"

    def forward(self, x):
        self.buffer = z = np.exp(-np.abs(x))
        return (np.minimum(x, 0) - np.log1p(z)).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        if grad_mode.enabled:  # building a graph of the gradient: the differentiable form
            return g * sigmoid(-x)
        neg, z = x._data < 0, self.buffer
        r = z / (1 + z)
        return g * _make(np.where(neg, 1 - r, r).astype(x._data.dtype, copy=False))


@op(namespace="nn.functional", method=False)
def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))`` without overflow."""
    _float_only(input, "log_sigmoid_cpu", complex=False)
    return LogSigmoid.apply(input)


class Mish(Op):
    """``x * tanh(softplus(x))``; d/dx = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x))."""

    layout = "elementwise"

    def forward(self, x):
        return (x * np.tanh(np.logaddexp(0, x))).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        if x._data.dtype in REDUCED:  # torch's mish_backward: one float32 kernel
            return self._rule(g.float(), x.float()).to(x.dtype)
        return self._rule(g, x)

    @staticmethod
    def _rule(g, x):
        t = tanh(Softplus.apply(x, beta=1.0, threshold=20.0))
        return g * (t + x * sigmoid(x) * (1 - t * t))


@op(namespace="nn.functional", method=False)
def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``."""
    _float_only(input, "mish_cpu", complex=False)
    return _written(input, Mish.apply(input), inplace)


# --------------------------------------------------------------------------- hard and shrink


class Hardswish(Op):
    """``x * relu6(x + 3) / 6``; d/dx = 0 for x <= -3, ``x / 3 + 1/2`` below 3, 1 from 3 on
    (a nan passes the gradient, as torch's hardswish_backward)."""

    layout = "elementwise"

    def forward(self, x):
        return (x * np.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)

    def backward(self, g):
        return HardswishBackward.apply(g, self.inputs[0])


class HardswishBackward(Op):
    """torch's hardswish_backward, differentiable: in g itself again, in x ``g / 3`` strictly
    inside (-3, 3) (HardswishBackwardBackward0)."""

    jvp_rule = "diagonal"
    torch_name = "HardswishBackwardBackward0"

    def forward(self, g, x):
        with np.errstate(invalid="ignore"):
            mid = select(x < 3, g * (x / 3 + 0.5), g)
            return select(x <= -3, 0.0, mid).astype(g.dtype, copy=False)

    def backward(self, gg):
        g, x = self.inputs
        inside = (x._data > -3) & (x._data < 3)
        gg_g = HardswishBackward.apply(gg, x) if self.needs(0) else None
        gg_x = where(_make(inside), gg * g / 3, 0.0) if self.needs(1) else None
        return gg_g, gg_x


@op(namespace="nn.functional", method=False)
def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``."""
    _float_only(input, "hardswish_cpu", complex=False)
    return _written(input, Hardswish.apply(input), inplace, "HardswishBackward0")


class Hardsigmoid(Op):
    """``relu6(x + 3) / 6``; d/dx = 1/6 (a float32 sixth, as torch's kernel) strictly inside
    (-3, 3), else 0 (nan too)."""

    layout = "elementwise"

    def forward(self, x):
        return (np.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        inside = (x._data > -3) & (x._data < 3)
        masked = MaskedGrad.apply(g, x, mask=inside, name="HardsigmoidBackwardBackward0")
        return masked * _SIXTH  # torch's kernel multiplies by the float 1/6, in double too


_SIXTH = float(np.float32(1 / 6))


@op(namespace="nn.functional", method=False)
def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``."""
    _float_only(input, "hardsigmoid_cpu", complex=False)
    return _written(input, Hardsigmoid.apply(input), inplace, "HardsigmoidBackward0")


class Hardshrink(Op):
    """``0`` for ``-lambd <= x <= lambd``, else x (nan passes); the gradient is the same
    select of g (HardshrinkBackwardBackward0 in g, zero in x)."""

    layout = "elementwise"

    def forward(self, x, lambd):
        self.lambd = lambd
        return select((x >= -lambd) & (x <= lambd), 0.0, x).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        out = ~((x._data >= -self.lambd) & (x._data <= self.lambd))
        return MaskedGrad.apply(g, x, mask=out, name="HardshrinkBackwardBackward0")


@op(namespace=("", "nn.functional"))
def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x`` where ``|x| > lambd``, else 0."""
    _float_only(input, "hardshrink_cpu", complex=False)
    return Hardshrink.apply(input, lambd=lambd)


class Softshrink(Op):
    """``x - lambd`` above lambd, ``x + lambd`` below -lambd, ``x * 0`` between (torch's
    signed zeros; nan passes); the gradient is Hardshrink's select of g."""

    layout = "elementwise"

    def forward(self, x, lambd):
        self.lambd = lambd
        inner = select(x < -lambd, x + lambd, x * 0)
        return select(x > lambd, x - lambd, inner).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        out = ~((x._data >= -self.lambd) & (x._data <= self.lambd))
        return MaskedGrad.apply(g, x, mask=out, name="SoftshrinkBackwardBackward0")


@op(namespace="nn.functional", method=False)
def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Shrinks x towards 0 by ``lambd`` (0 inside [-lambd, lambd])."""
    _float_only(input, "softshrink_check", complex=False)
    big = float(np.finfo(input._data.dtype).max)
    if not 0 <= lambd <= big:
        raise RuntimeError(
            f"lambda must be in range [0, {big:g}] for input dtype "
            f"{scalar_type_name(input)}, but found {lambd:g}"
        )
    return Softshrink.apply(input, lambd=lambd)


class Threshold(Op):
    """``value`` where ``x <= threshold``, else x (nan passes, as the gradient: torch's
    threshold_backward, ThresholdBackwardBackward0)."""

    layout = "elementwise"

    def forward(self, x, threshold, value):
        self.threshold = threshold
        return select(x <= threshold, value, x).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        return MaskedGrad.apply(g, x, mask=~(x._data <= self.threshold))


@op(namespace="nn.functional", method=False, inplace_function=True)
def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``value`` where ``x <= threshold``, else ``x``."""
    if input._data.dtype.kind == "c":
        raise NotImplementedError("\"threshold_cpu\" not implemented for " + repr(
            scalar_type_name(input)))  # fmt: skip
    out = Threshold.apply(input, threshold=threshold, value=value)
    return _written(input, out, inplace, "ThresholdBackward1")


_threshold = threshold  # for torch.threshold, whose parameter shadows the name


@op(namespace="nn.functional", method=False)
def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)`` (torch's composition: DivBackward0)."""
    return input / (input.abs() + 1)


@op(namespace="nn.functional", method=False)
def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)`` (torch's composition: SubBackward0)."""
    return input - input.tanh()


# --------------------------------------------------------------------------- rrelu


class RreluWithNoise(Op):
    """``x`` for x > 0, else ``x * noise`` (noise: uniform on [lower, upper] per element while
    training, their mean otherwise); the gradient is leaky_relu's select with that slope
    (RreluWithNoiseBackwardBackward0)."""

    layout = "elementwise"

    def forward(self, x, noise):
        self.noise = noise
        return select(x > 0, x, x * noise).astype(x.dtype, copy=False)

    def backward(self, g):  # the in-place form saved its result (the same signs)
        x = self.output if self.inputs is None else self.inputs[0]
        return MaskedGrad.apply(
            g, x, mask=x._data > 0, slope=self.noise, name="RreluWithNoiseBackwardBackward0"
        )


@op(namespace="nn.functional", method=False, inplace_function=True)
def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False) -> Tensor:  # fmt: skip
    """Randomized leaky relu: slopes drawn uniformly from [lower, upper] for x <= 0 while
    ``training`` (from chainrule's generator), ``(lower + upper) / 2`` otherwise."""
    return _rrelu(input, lower, upper, training, inplace)


def _rrelu(input: Tensor, lower: float, upper: float, training: bool, inplace: bool,
           generator: Any = None) -> Tensor:  # fmt: skip
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    _float_only(input, "leaky_relu_cpu", complex=False)
    x = input._data
    if training:
        from chainrule import creation

        r = creation._rng(generator).uniform(lower, upper, x.shape)
        noise = np.where(x <= 0, r, 1).astype(x.dtype)
    else:
        noise = np.asarray((lower + upper) / 2, x.dtype)
    out = _saves_result(RreluWithNoise.apply(input, noise=noise), inplace)
    return _written(input, out, inplace, "RreluWithNoiseBackward1")


# --------------------------------------------------------------------------- glu and softmin


class Glu(Op):
    """``a * sigmoid(b)`` for the halves a, b of x along ``dim``; the gradient halves
    ``g sigmoid(b)`` and ``g a sigmoid(b) (1 - sigmoid(b))``, joined (GluBackward0)."""

    def forward(self, x, dim):
        self.dim = dim
        a, b = np.split(x, 2, axis=dim)
        return (a * _sigmoid(b)).astype(x.dtype, copy=False)

    def backward(self, g):
        from chainrule.ops.shape.join import cat

        a, b = self.inputs[0].chunk(2, self.dim)
        s = sigmoid(b)
        return cat([g * s, g * a * s * (1 - s)], self.dim)


@op(namespace="nn.functional", method=False)
def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)``, a and b the two halves of ``input`` along
    ``dim``."""
    x = input._data
    if not x.ndim:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = wrap_dim(dim, x.ndim)
    if x.shape[d] % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {d} is size {x.shape[d]}"
        )
    _float_only(input, "glu_cpu", complex=False)
    return Glu.apply(input, dim=d)


@op(namespace="nn.functional", method=False)
def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:  # fmt: skip
    """``softmax(-x)`` along ``dim`` (torch's implicit choice, with its warning, when None)."""
    if dim is None:
        warnings.warn(
            "Implicit dimension choice for softmin has been deprecated. Change the call to "
            "include dim=X as an argument.",
            UserWarning,
            stacklevel=2,
        )
        dim = 0 if input._data.ndim in (0, 1, 3) else 1
    return softmax(-input, dim, dtype)


# --------------------------------------------------------------------------- torch.X forms
# torch's own selu, celu, rrelu and threshold (and their X_) take no ``inplace`` (and rrelu a
# ``generator``): the nn.functional ones above with torch's signatures.


@op(name="selu", method=False)
def _torch_selu(input: Tensor) -> Tensor:
    """``torch.selu``: nn.functional's selu."""
    return selu(input)


@op(name="selu_", method=False)
def _torch_selu_(input: Tensor) -> Tensor:
    """``torch.selu_``: selu written into ``input``."""
    return selu(input, inplace=True)


@op(name="celu", method=False)
def _torch_celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``torch.celu``: nn.functional's celu."""
    return celu(input, alpha)


@op(name="celu_", method=False)
def _torch_celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``torch.celu_``: celu written into ``input``."""
    return celu(input, alpha, inplace=True)


@op(name="threshold", method=False)
def _torch_threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    """``torch.threshold``: nn.functional's threshold."""
    return _threshold(input, threshold, value)


@op(name="threshold_", method=False)
def _torch_threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """``torch.threshold_``: threshold written into ``input``."""
    return _threshold(input, threshold, value, inplace=True)


@op(name="rrelu", method=False)
def _torch_rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                 training: bool = False, generator: Any = None) -> Tensor:  # fmt: skip
    """``torch.rrelu``: nn.functional's rrelu (``generator`` as torch's random functions)."""
    return _rrelu(input, lower, upper, training, False, generator)


@op(name="rrelu_", method=False)
def _torch_rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                  training: bool = False, generator: Any = None) -> Tensor:  # fmt: skip
    """``torch.rrelu_``: rrelu written into ``input``."""
    return _rrelu(input, lower, upper, training, True, generator)
