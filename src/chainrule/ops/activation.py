"""Activations: softmax, log_softmax and the torch.nn.functional pointwise nonlinearities.

softmax and log_softmax are primitives rather than compositions (ARCHITECTURE principle 4):
stability needs the max subtracted inside one forward. The pointwise ones are primitives
too, for cost (one node instead of four or five) and torch's grad_fn names; every rule is
written in tensor ops, so double backward works. relu, sigmoid and tanh live in
elementwise.py.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule._tensor import Tensor
from chainrule.ops.elementwise import _erf, _sigmoid, erf, exp, sigmoid, tanh, where
from chainrule.ops.kernels import quiet, select
from chainrule.ops.op import Op, wrap_dim
from chainrule.ops.reduce.sums import sum, torch_type_name

__all__ = [
    "softmax", "log_softmax", "leaky_relu", "elu", "gelu", "silu", "softplus", "hardtanh",
    "relu6", "logsigmoid", "mish",
]  # fmt: skip


def _float_only(input: Tensor, kernel: str) -> None:
    if input._data.dtype.kind not in "fc":
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{torch_type_name(input)}'")


# --------------------------------------------------------------------------- softmax


@quiet
def _shifted(x: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``x - max(x)`` along ``dim`` and ``log(sum(exp(that)))``: nothing overflows. A 0-d
    ``x`` is its own max (so inf and nan give nan, as in torch); an empty one stays empty."""
    if not x.ndim or not x.size:
        s = x - x
        return s, s
    s = x - np.max(x, axis=dim, keepdims=True)
    return s, np.log(np.sum(np.exp(s), axis=dim, keepdims=True))


class Softmax(Op):
    """``exp(x - max) / sum``; the vjp is ``y * (g - sum(g * y))``."""

    save_inputs, save_output = False, True

    def forward(self, x, dim):
        self.dim = dim
        s, lse = _shifted(x, dim)
        return np.exp(s - lse)

    def backward(self, g):
        return SoftmaxBackward.apply(g, self.output, dim=self.dim)


class SoftmaxBackward(Op):
    """``y * (g - sum(g * y))`` in one node (y the softmax), itself differentiable: linear
    and self-adjoint in ``g``; d/dy gives ``gg * (g - sum(g y)) - g * sum(gg y)``."""

    def forward(self, g, y, dim):
        self.dim = dim
        gy = g * y
        return gy - y * np.sum(gy, axis=dim if y.ndim else None, keepdims=True)

    def backward(self, gg):
        g, y = self.inputs
        gg_g = SoftmaxBackward.apply(gg, y, dim=self.dim) if self.needs(0) else None
        gg_y = None
        if self.needs(1):
            gg_y = gg * (g - sum(g * y, self.dim, keepdim=True)) - g * sum(
                gg * y, self.dim, keepdim=True
            )
        return gg_g, gg_y


class LogSoftmax(Op):
    """``x - max - log(sum(exp(x - max)))``; the vjp is ``g - exp(y) * sum(g)``."""

    save_inputs, save_output = False, True

    def forward(self, x, dim):
        self.dim = dim
        s, lse = _shifted(x, dim)
        return s - lse

    def backward(self, g):
        return LogSoftmaxBackward.apply(g, self.output, dim=self.dim)


class LogSoftmaxBackward(Op):
    """``g - exp(y) * sum(g)`` in one node (y the log_softmax), itself differentiable."""

    def forward(self, g, y, dim):
        self.dim = dim
        return g - np.exp(y) * np.sum(g, axis=dim if y.ndim else None, keepdims=True)

    def backward(self, gg):
        g, y = self.inputs
        p = exp(y)
        gg_g = gg - sum(gg * p, self.dim, keepdim=True) if self.needs(0) else None
        gg_y = -gg * p * sum(g, self.dim, keepdim=True) if self.needs(1) else None
        return gg_g, gg_y


def _softmax_args(name: str, input: Tensor, dim: Any, dtype: Any) -> tuple[Tensor, int]:
    if dtype is not None and not isinstance(dtype, int):
        input = input.to(dtype)
    if dim is None:  # torch.nn.functional's implicit choice
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. Change the call to "
            "include dim=X as an argument.",
            UserWarning,
            stacklevel=3,
        )
        dim = 0 if input._data.ndim in (0, 1, 3) else 1
    last = "lastdim_" if dim in (-1, input._data.ndim - 1) or not input._data.ndim else ""
    _float_only(input, f"{name}_{last}kernel_impl")
    return input, wrap_dim(dim, input._data.ndim)


def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``, stable for large inputs; ``dtype`` casts first."""
    input, dim = _softmax_args("softmax", input, dim, dtype)
    return Softmax.apply(input, dim=dim)


def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, computed without overflow or log(0)."""
    input, dim = _softmax_args("log_softmax", input, dim, dtype)
    return LogSoftmax.apply(input, dim=dim)


# --------------------------------------------------------------------------- pointwise


class LeakyRelu(Op):
    """slope for x <= 0 (at 0 too, as torch)."""

    save_inputs = False

    def forward(self, x, slope):
        self.pos, self.slope = x > 0, slope
        return select(self.pos, x, x * slope).astype(x.dtype, copy=False)

    def backward(self, g):
        return LeakyReluBackward.apply(g, pos=self.pos, slope=self.slope)


class LeakyReluBackward(Op):
    """``where(x > 0, g, g * slope)`` in one node: linear in ``g``, its own backward."""

    linear = True
    save_inputs = False

    def forward(self, g, pos, slope):
        self.pos, self.slope = pos, slope
        return select(pos, g, g * slope)

    def backward(self, gg):
        return LeakyReluBackward.apply(gg, pos=self.pos, slope=self.slope)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` for x > 0, else ``negative_slope * x``. (``inplace`` is accepted and ignored.)"""
    _float_only(input, "leaky_relu_cpu")
    return LeakyRelu.apply(input, slope=negative_slope)


class Elu(Op):
    """d/dx = alpha * exp(x) for x <= 0 (alpha at 0, as torch), 1 above."""

    def forward(self, x, alpha):
        self.pos, self.neg, self.alpha = x > 0, x < 0, alpha
        out = select(self.pos, x, alpha * np.expm1(np.minimum(x, 0)))
        return out.astype(x.dtype, copy=False)

    def backward(self, g):
        return EluBackward.apply(g, self.inputs[0], pos=self.pos, neg=self.neg, alpha=self.alpha)


class EluBackward(Op):
    """``g * (1 if x > 0 else alpha * exp(x))`` in one node, itself differentiable. exp only
    where x < 0: at 0 the value is alpha and (torch) the second derivative 0."""

    diagonal = True

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


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for x > 0, else ``alpha * (exp(x) - 1)``. (``inplace`` is accepted and ignored.)"""
    _float_only(input, "elu_cpu")
    return Elu.apply(input, alpha=alpha)


_SQRT1_2 = 1 / math.sqrt(2)
_PHI = 1 / math.sqrt(2 * math.pi)
_BETA = math.sqrt(2 / math.pi)  # tanh approximation: tanh(beta * (x + kappa x^3))
_KAPPA = 0.044715


class Gelu(Op):
    """Exact: ``x * Phi(x)``; 'tanh': ``0.5 x (1 + tanh(beta (x + kappa x^3)))``."""

    def forward(self, x, approximate):
        self.approximate = approximate
        if approximate == "tanh":
            self.t = np.tanh(_BETA * (x + _KAPPA * x * x * x))
            return (0.5 * x * (1 + self.t)).astype(x.dtype, copy=False)
        self.cdf = 0.5 * (1 + _erf(x * _SQRT1_2))  # kept: backward needs it again
        return (x * self.cdf).astype(x.dtype, copy=False)

    def backward(self, g):
        inner = self.t if self.approximate == "tanh" else self.cdf
        return GeluBackward.apply(g, self.inputs[0], inner=inner, approximate=self.approximate)


class GeluBackward(Op):
    """``g * gelu'(x)`` in one node (``inner``: the cdf, or the tanh of the tanh form, saved
    by forward), itself differentiable: d/dx is ``g * gelu''(x)``."""

    diagonal = True

    def forward(self, g, x, inner, approximate):
        self.approximate = approximate
        if approximate == "tanh":
            t = inner
            left = 0.5 * (1 + t)
            right = 0.5 * x * (1 - t * t) * _BETA * (1 + 3 * _KAPPA * x * x)
            return g * (left + right)
        return g * (inner + x * _PHI * np.exp(-0.5 * x * x))

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


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit; ``approximate='tanh'`` uses the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _float_only(input, "GeluKernelImpl")
    return Gelu.apply(input, approximate=approximate)


class Silu(Op):
    """d/dx = s (1 + x (1 - s)) with s = sigmoid(x)."""

    def forward(self, x):
        self.s = _sigmoid(x)  # kept: backward needs it again
        return (x * self.s).astype(x.dtype, copy=False)

    def backward(self, g):
        return SiluBackward.apply(g, self.inputs[0], s=self.s)


class SiluBackward(Op):
    """``g * s * (1 + x (1 - s))`` in one node (s = sigmoid(x), saved by forward), itself
    differentiable: silu''(x) = s (1 - s) (2 + x (1 - 2 s))."""

    diagonal = True

    def forward(self, g, x, s):
        return g * s * (1 + x * (1 - s))

    def backward(self, gg):
        g, x = self.inputs
        s = sigmoid(x)
        gg_g = gg * s * (1 + x * (1 - s)) if self.needs(0) else None
        gg_x = gg * g * s * (1 - s) * (2 + x * (1 - 2 * s)) if self.needs(1) else None
        return gg_g, gg_x


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)``. (``inplace`` is accepted and ignored.)"""
    _float_only(input, "silu_cpu")
    return Silu.apply(input)


class Softplus(Op):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold`` (torch)."""

    def forward(self, x, beta, threshold):
        self.beta, self.threshold = beta, threshold
        self.linear, self.below = x * beta > threshold, x * beta < threshold
        bx = select(self.linear, 0, x * beta)
        return select(self.linear, x, np.log1p(np.exp(bx)) / beta).astype(x.dtype, copy=False)

    def backward(self, g):
        return SoftplusBackward.apply(
            g, self.inputs[0], linear=self.linear, below=self.below, beta=self.beta,
            threshold=self.threshold,
        )  # fmt: skip


class SoftplusBackward(Op):
    """``g`` where beta x > threshold, else ``g * sigmoid(beta x)``, in one node; itself
    differentiable, with sigmoid(beta x) constant where beta x >= threshold (torch's second
    derivative)."""

    diagonal = True

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


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """A smooth relu: ``log(1 + exp(beta * x)) / beta``; ``x`` above ``threshold / beta``."""
    _float_only(input, "softplus_cpu")
    return Softplus.apply(input, beta=beta, threshold=threshold)


class Hardtanh(Op):
    """The gradient is 0 at and beyond the bounds (torch)."""

    save_inputs = False

    def forward(self, x, lo, hi):
        self.inside = (x > lo) & (x < hi)
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, g):
        return where(self.inside, g, 0.0)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:  # fmt: skip
    """``clamp(x, min_val, max_val)``. (``inplace`` is accepted and ignored.)"""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return Hardtanh.apply(input, lo=min_val, hi=max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(0, x), 6)``: hardtanh on [0, 6], as torch (HardtanhBackward0)."""
    return Hardtanh.apply(input, lo=0.0, hi=6.0)


class LogSigmoid(Op):
    """``-softplus(-x)``, computed as ``min(x, 0) - log1p(exp(-|x|))``; d/dx = sigmoid(-x)."""

    def forward(self, x):
        return (np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)

    def backward(self, g):
        return g * sigmoid(-self.inputs[0])


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))`` without overflow."""
    _float_only(input, "log_sigmoid_cpu")
    return LogSigmoid.apply(input)


class Mish(Op):
    """``x * tanh(softplus(x))``; d/dx = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x))."""

    def forward(self, x):
        return (x * np.tanh(np.logaddexp(0, x))).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        t = tanh(Softplus.apply(x, beta=1.0, threshold=20.0))
        return g * (t + x * sigmoid(x) * (1 - t * t))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``. (``inplace`` is accepted and ignored.)"""
    _float_only(input, "mish_cpu")
    return Mish.apply(input)


TENSOR_METHODS = {"softmax": softmax, "log_softmax": log_softmax}
