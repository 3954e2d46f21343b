"""Where ``cr.compile``'s tracer plugs into the core (standard library only, imports nothing).

While a compiled function is being traced, ``state.tracer`` is the tracer
(``chainrule.compiler._tracer.Tracer``) and the core reports to it: ``Op.apply`` every kernel
it ran, ``run_backward`` its seeds, ``_accumulate`` each leaf gradient, ``mutate`` each write,
the optimizers' ``step``/``zero_grad`` and ``Module.__call__`` themselves. Otherwise it is
``None`` and the hot path pays one attribute test per op.
"""

from __future__ import annotations

from typing import Any

__all__ = ["state"]


class _State:
    # a slot set in __init__, not a class default: Python 3.11 specializes reading a slot
    # (the hot path reads ``tracer`` once per op) but not reading a class attribute through
    # an instance
    __slots__ = ("tracer",)

    def __init__(self) -> None:
        self.tracer: Any = None


state = _State()
