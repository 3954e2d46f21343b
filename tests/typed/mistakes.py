"""Mistakes a type checker must flag through chainrule's API: each line marked
``# error: <mypy code>`` must be reported, and no other. Never run."""

from __future__ import annotations

import chainrule as cr
from chainrule import nn

x = cr.ones(2, 3)
x.no_such_method()  # error: attr-defined
cr.no_such_function(x)  # error: attr-defined
x.sum(dimension=0)  # error: call-arg
nn.Linear(3, 2)(x, x)  # error: call-arg
nn.Linear(3, 2)("x")  # error: arg-type
y: int = x.relu()  # error: assignment
