# ruff: noqa: F821  (reveal_type is the type checker's)
"""What a type checker infers through chainrule's API: each ``reveal_type`` line ends with
the type mypy must reveal (pyright's spelling is the last dotted part). Never run."""

from __future__ import annotations

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


class Pair(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x: cr.Tensor, scale: float = 1.0) -> tuple[cr.Tensor, cr.Tensor]:
        y = self.fc(x)
        return y, y * scale


x = cr.ones(2, 3)
reveal_type(cr.ones(2))  # chainrule._tensor.Tensor
reveal_type(cr.tensor([1.0, 2.0]))  # chainrule._tensor.Tensor
reveal_type(cr.randn(2, 3, requires_grad=True))  # chainrule._tensor.Tensor
reveal_type(x.relu())  # chainrule._tensor.Tensor
reveal_type(x.sum(dim=0))  # chainrule._tensor.Tensor
reveal_type(x + 1)  # chainrule._tensor.Tensor
reveal_type(2.0 * x)  # chainrule._tensor.Tensor
reveal_type(x @ x.T)  # chainrule._tensor.Tensor
reveal_type(x[0])  # chainrule._tensor.Tensor
reveal_type(x.exp_())  # chainrule._tensor.Tensor
reveal_type(x.unsqueeze_(0))  # chainrule._tensor.Tensor
reveal_type(cr.exp_(x))  # chainrule._tensor.Tensor
reveal_type(x == 0)  # chainrule._tensor.Tensor
reveal_type(-x)  # chainrule._tensor.Tensor
reveal_type({x: 1})  # dict[chainrule._tensor.Tensor, int]
reveal_type(x.max())  # chainrule._tensor.Tensor
reveal_type(x.max(dim=0))  # Any
reveal_type(cr.min(x, x))  # chainrule._tensor.Tensor
reveal_type(cr.where(x > 0, x, 0.0))  # chainrule._tensor.Tensor
reveal_type(cr.where(x > 0))  # tuple[chainrule._tensor.Tensor, ...]
reveal_type(x.nonzero())  # chainrule._tensor.Tensor
reveal_type(cr.nonzero(x, as_tuple=True))  # tuple[chainrule._tensor.Tensor, ...]
reveal_type(x.grad)  # chainrule._tensor.Tensor | None
reveal_type(x.shape)  # chainrule._tensor.Size
reveal_type(x.item())  # Any
reveal_type(nn.Linear(3, 2)(x))  # chainrule._tensor.Tensor
reveal_type(cr.nn.Linear(3, 2))  # chainrule.nn.linear.Linear
reveal_type(Pair()(x, scale=2.0))  # tuple[chainrule._tensor.Tensor, chainrule._tensor.Tensor]
reveal_type(F.relu(x))  # chainrule._tensor.Tensor
reveal_type(F.elu_(x, alpha=0.5))  # chainrule._tensor.Tensor
reveal_type(F.cross_entropy(x, cr.zeros(2).long()))  # chainrule._tensor.Tensor
reveal_type(cr.linalg.norm(x))  # chainrule._tensor.Tensor
reveal_type(cr.float32)  # chainrule.dtypes.dtype
