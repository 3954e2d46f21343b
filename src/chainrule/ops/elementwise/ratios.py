"""Two functions of a ratio: logit ``log(p / (1 - p))`` (with torch's ``eps`` clamp) and
sinc ``sin(πx) / (πx)`` (1 at 0). Integer inputs give the default float, as torch's."""

from __future__ import annotations

import math

import numpy as np

from chainrule import dtypes
from chainrule._fp import quiet
from chainrule._registry import op
from chainrule._tensor import Tensor
from chainrule.dtypes import kind_of
from chainrule.ops.elementwise.select import where
from chainrule.ops.elementwise.unary import cos, sin
from chainrule.ops.op import Op


def _to_float(input: Tensor) -> Tensor:
    return input if kind_of(input._data.dtype) in "fc" else input.to(dtypes.get_default_dtype())


class Logit(Op):
    formula = "d logit(p) = g / (p (1 - p)) (0 outside [eps, 1 - eps])"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x, eps):
        self.eps = eps
        if eps is not None:
            x = np.clip(x, eps, 1 - eps).astype(x.dtype, copy=False)
        return np.log(x / (1 - x))

    def backward(self, g):
        """torch's logit_backward, a composite (its double backward is where's and div's):
        ``g / (p (1 - p))`` inside [eps, 1 - eps] (or [0, 1]), else 0 (or nan)."""
        x, eps = self.inputs[0], self.eps
        lo, hi = (0.0, 1.0) if eps is None else (eps, 1.0 - eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            return where(
                (x >= lo) & (x <= hi), g / (x * (1.0 - x)), math.nan if eps is None else 0.0
            )


@op(inplace=True, inplace_function=True)
def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``log(p / (1 - p))``, the inverse of sigmoid; with ``eps``, ``p`` is first clamped
    to ``[eps, 1 - eps]`` (its gradient 0 outside)."""
    return Logit.apply(_to_float(input), eps=None if eps is None or eps < 0 else float(eps))


class Sinc(Op):
    formula = "d sinc(x) = g * (πx cos(πx) - sin(πx)) / (πx²) (0 at x = 0)"
    jvp_rule = "diagonal"

    @quiet
    def forward(self, x):
        px = x * np.asarray(math.pi, dtype=x.dtype)
        out = np.sin(px) / px
        return np.where(x == 0, np.ones((), x.dtype), out).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        px = x * math.pi
        with np.errstate(divide="ignore", invalid="ignore"):
            d = (px * cos(px) - sin(px)) / (px * x)
        return where(x == 0, 0.0, d) * g


@op(inplace=True, inplace_function=True)
def sinc(input: Tensor) -> Tensor:
    """The normalized sinc, ``sin(πx) / (πx)``, 1 at 0."""
    return Sinc.apply(_to_float(input))
