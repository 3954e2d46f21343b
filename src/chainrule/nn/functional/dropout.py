"""dropout: a composition (one product with a scaled Bernoulli mask from chainrule's generator)."""

from __future__ import annotations

import numpy as np

from chainrule import creation
from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule.dtypes import kind_of


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
    else:
        keep = creation.default_generator.rng.random(x.shape) >= p
        scale = np.multiply(
            keep, 1.0 / (1.0 - p), dtype=x.dtype if kind_of(x.dtype) == "f" else None
        )
    return input.mul_(_make(scale)) if inplace else input * _make(scale)
