"""dropout: one product with a scaled Bernoulli mask from chainrule's generator; for a float32
or float64 input, one node (``Dropout``: mask and product in one kernel, ``K.dropout``)."""

from __future__ import annotations

import numpy as np

from chainrule import creation
from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule._trace import state as trace
from chainrule.backend import K
from chainrule.dtypes import kind_of
from chainrule.graph import grad_mode
from chainrule.ops.op import Op, forward_ad

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@op(namespace="nn.functional", method=False)
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)`` while
    ``training``; the identity otherwise. With ``inplace`` the result is written into
    ``input`` (as torch's ``dropout_``)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = input._data
    if not training or p == 0 or x.size == 0:
        return input
    if p == 1:
        scale = np.zeros((), dtype=x.dtype)
    elif not inplace and x.dtype in _FLOATS and not trace.tracer and not forward_ad.level:
        return Dropout.apply(input, p=p)  # the same draws as below
    else:  # an op on the raw array: no node, but a kernel (a compiled replay draws anew)
        return (
            input.mul_(DropoutScale.apply(x, p=p))
            if inplace
            else input * DropoutScale.apply(x, p=p)
        )
    return input.mul_(_make(scale)) if inplace else input * _make(scale)


class DropoutScale(Op):
    """Dropout's mask, scaled: 1 / (1 - p) with probability 1 - p, else 0, drawn from
    chainrule's generator (not differentiable: it is applied to the raw array)."""

    save_inputs = False

    def forward(self, x: np.ndarray, p: float) -> np.ndarray:
        keep = creation.default_generator.rng.random(x.shape) >= p
        dt = x.dtype if kind_of(x.dtype) == "f" else None
        return np.multiply(keep, 1.0 / (1.0 - p), dtype=dt)

    def backward(self, grad: Tensor) -> None:  # pragma: no cover - never recorded
        return None


class Dropout(Op):
    """``x * mask`` in one node, the mask drawn as ``DropoutScale`` draws it (the same
    numbers from the same stream: ``K.dropout``) and kept as booleans; the gradient is
    ``g * mask`` (``K.dropout_backward``; building a graph of the gradient, a product with
    the mask as a constant). Named as torch's node (its dropout is ``input * noise``)."""

    save_inputs = False
    torch_name = "MulBackward0"
    layout = "elementwise"

    def forward(self, x: np.ndarray, p: float) -> np.ndarray:
        y, self.keep = K.dropout(x, p, creation.default_generator.rng)
        self.p = p
        return y

    def backward(self, grad: Tensor) -> Tensor:
        if not grad_mode.enabled:
            return _make(K.dropout_backward(grad._data, self.keep, self.p))
        mask = np.multiply(self.keep, 1.0 / (1.0 - self.p), dtype=grad._data.dtype)
        return grad * _make(mask)
