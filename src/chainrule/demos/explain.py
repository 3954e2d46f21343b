"""``python -m chainrule explain``: the backward pass of a worked example, narrated."""

from __future__ import annotations

import argparse

import chainrule as cr
from chainrule.scalar import Value

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    if getattr(args, "tensor", False):
        x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = cr.tensor([[2.0, 3.0], [4.0, 5.0]], requires_grad=True)
        z = x * y + y**2
        loss = z.sum()
        cr.autograd.explain_backward(loss, show_code=getattr(args, "code", False))
        return 0
    a, b = Value(2.0), Value(3.0)
    c = a + b
    d = c * a
    e = c * d
    cr.autograd.explain_backward(e)
    print(
        "\nThe hand derivation of the lecture notes takes de/dc = d = 10, as if d were a "
        "constant; but d = c·a also depends on c, so de/dc = d + a·c = 10 + 10 = 20 (step 3 "
        "above adds the two paths). With only one path it finds de/db = 10 and "
        "de/da = 25 + 10 = 35; the engine finds 20 and 45, which match e = a(a+b)²: "
        "de/da = (a+b)² + 2a(a+b) = 45, de/db = 2a(a+b) = 20."
    )
    return 0
