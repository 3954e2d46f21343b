"""softmax and log_softmax (each a forward op and a differentiable backward op), and the
float-only dtype check the activations share. Re-exported by activation.py (the family).

They are primitives rather than compositions (ARCHITECTURE principle 4): stability needs
the max subtracted inside one forward.
"""

from __future__ import annotations

import warnings
from typing import Any

from chainrule._registry import op
from chainrule._tensor import Tensor, wrap_dim
from chainrule.backend import K
from chainrule.dtypes import kind_of, scalar_type_name
from chainrule.ops.elementwise.unary import exp
from chainrule.ops.op import Op, result_of
from chainrule.ops.reduce.sums import sum


def _float_only(input: Tensor, kernel: str, complex: bool = True) -> None:
    if kind_of(input._data.dtype) not in ("fc" if complex else "f"):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{scalar_type_name(input)}'")


# --------------------------------------------------------------------------- softmax


class Softmax(Op):
    """``exp(x - max) / sum``; the vjp is ``y * (g - sum(g * y))``."""

    save_inputs, save_output = False, True

    def forward(self, x, dim):
        self.dim = dim
        return K.softmax(x, dim)

    def backward(self, g):
        return SoftmaxBackward.apply(g, self.output, dim=self.dim)


class SoftmaxBackward(Op):
    """``y * (g - sum(g * y))`` in one node (y the softmax), itself differentiable: linear
    and self-adjoint in ``g``; d/dy gives ``gg * (g - sum(g y)) - g * sum(gg y)``."""

    def forward(self, g, y, dim):
        self.dim = dim
        return K.softmax_backward(g, y, dim)

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

    formula = "d log_softmax(x) = g - softmax(x) * sum(g)"
    save_inputs, save_output = False, True

    def forward(self, x, dim):
        self.dim = dim
        return K.log_softmax(x, dim)

    def backward(self, g):
        return LogSoftmaxBackward.apply(g, self.output, dim=self.dim)


def log_softmax_result(node: Op, y, dim: int) -> Tensor:
    """A log_softmax result ``y`` along ``dim`` computed by the fused ``node``
    (cross_entropy's kernel), as a tensor whose history is a LogSoftmax node on ``node``'s
    input: the graph of a gradient built from it is log_softmax's (double backward)."""
    return result_of(LogSoftmax, node, y, dim=dim)


class LogSoftmaxBackward(Op):
    """``g - exp(y) * sum(g)`` in one node (y the log_softmax), itself differentiable."""

    def forward(self, g, y, dim):
        self.dim = dim
        return K.log_softmax_backward(g, y, dim)

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
    _float_only(input, f"{name}_{last}kernel_impl", complex=False)  # torch: no complex
    return input, wrap_dim(dim, input._data.ndim)


@op
def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``, stable for large inputs; ``dtype`` casts first."""
    input, dim = _softmax_args("softmax", input, dim, dtype)
    return Softmax.apply(input, dim=dim)


@op
def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, computed without overflow or log(0)."""
    input, dim = _softmax_args("log_softmax", input, dim, dtype)
    return LogSoftmax.apply(input, dim=dim)
