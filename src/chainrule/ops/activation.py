"""Activations: the torch.nn.functional pointwise nonlinearities (softmax and log_softmax
live in softmax.py).

The pointwise ones are primitives, for cost (one node instead of four or five) and torch's
grad_fn names; every rule is written in tensor ops, so double backward works. relu, sigmoid
and tanh live in elementwise/.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule.backend import K
from chainrule.backend.select import select
from chainrule.backend.special import _sigmoid
from chainrule.dtypes import REDUCED, kind_of
from chainrule.graph import grad_mode
from chainrule.ops.elementwise.select import where
from chainrule.ops.elementwise.unary import MaskedGrad, erf, exp, sigmoid, tanh
from chainrule.ops.inplace import write
from chainrule.ops.op import Op
from chainrule.ops.softmax import _float_only

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
    """d/dx = alpha * exp(x) for x <= 0 (alpha at 0, as torch), 1 above."""

    layout = "elementwise"

    def forward(self, x, alpha):
        self.alpha = alpha
        out = select(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
        return out.astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]  # the masks from its values now (torch recomputes from self)
        return EluBackward.apply(g, x, pos=x._data > 0, neg=x._data < 0, alpha=self.alpha)


class EluBackward(Op):
    """``g * (1 if x > 0 else alpha * exp(x))`` in one node, itself differentiable. exp only
    where x < 0: at 0 the value is alpha and (torch) the second derivative 0."""

    jvp_rule = "diagonal"

    def forward(self, g, x, pos, neg, alpha):
        self.pos, self.neg, self.alpha = pos, neg, alpha
        xn = select(neg, x, 0.0)
        return g * select(pos, 1.0, (alpha * np.exp(xn)).astype(x.dtype, copy=False))

    def backward(self, gg):
        g, x = self.inputs
        ax = self.alpha * exp(where(self.neg, x, 0.0))
        gg_g = gg * where(self.pos, 1.0, ax) if self.needs(0) else None
        gg_x = gg * g * where(self.neg, ax, 0.0) if self.needs(1) else None
        return gg_g, gg_x


@op(namespace="nn.functional", method=False, inplace_function=True)
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for x > 0, else ``alpha * (exp(x) - 1)``."""
    _float_only(input, "elu_cpu", complex=False)
    return _written(input, Elu.apply(input, alpha=alpha), inplace, "EluBackward1")


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


class Softplus(Op):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold`` (torch)."""

    layout = "elementwise"

    def forward(self, x, beta, threshold):
        self.beta, self.threshold = beta, threshold
        bx = x * beta
        linear = bx > threshold
        bx = select(linear, 0, bx)
        return select(linear, x, np.log1p(np.exp(bx)) / beta).astype(x.dtype, copy=False)

    def backward(self, g):  # the masks from the saved input, as torch recomputes
        x = self.inputs[0]
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
