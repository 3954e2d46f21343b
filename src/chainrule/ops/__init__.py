"""The op catalog, and the one place where Tensor gets its operators and methods.

Each family file lists its public functions in ``__all__`` and the Tensor methods it
provides in ``TENSOR_METHODS`` (name -> function taking the tensor first); the operators
(``+``, ``@``, ``==`` ...) are bound here, in one block.
"""

from __future__ import annotations

import importlib

from chainrule._tensor import Tensor

__all__ = ["FAMILIES", "families"]

# family modules, in dependency order; one not written yet is skipped
FAMILIES = [
    "elementwise", "compare", "activation", "reduce", "shape", "index", "linalg", "conv",
    "inplace", "sorting",
]  # fmt: skip


def families() -> list:
    mods = []
    for name in FAMILIES:
        try:
            mods.append(importlib.import_module(f"chainrule.ops.{name}"))
        except ModuleNotFoundError as e:
            if e.name != f"chainrule.ops.{name}":
                raise
    return mods


def _attach() -> None:
    from chainrule.ops import compare as c
    from chainrule.ops import elementwise as e

    def reflected(fn):
        return lambda self, other: fn(other, self)

    T = Tensor
    T.__add__, T.__radd__ = e.add, reflected(e.add)
    T.__sub__, T.__rsub__ = e.sub, reflected(e.sub)
    T.__mul__, T.__rmul__ = e.mul, reflected(e.mul)
    T.__truediv__, T.__rtruediv__ = e.div, reflected(e.div)
    T.__floordiv__, T.__rfloordiv__ = e.floor_divide, reflected(e.floor_divide)
    T.__mod__, T.__rmod__ = e.remainder, reflected(e.remainder)
    T.__pow__, T.__rpow__ = e.pow, reflected(e.pow)
    T.__neg__, T.__abs__, T.__pos__ = e.neg, e.abs, lambda self: self
    T.__eq__, T.__ne__ = c.eq, c.ne
    T.__lt__, T.__le__, T.__gt__, T.__ge__ = c.lt, c.le, c.gt, c.ge
    T.__and__, T.__rand__ = c.bitwise_and, reflected(c.bitwise_and)
    T.__or__, T.__ror__ = c.bitwise_or, reflected(c.bitwise_or)
    T.__xor__, T.__rxor__ = c.bitwise_xor, reflected(c.bitwise_xor)
    T.__invert__ = c._invert
    T.to = e.to

    def cast(dt):
        return lambda self: e.to(self, dt)

    from chainrule import dtypes as d

    T.float, T.double, T.half = cast(d.float32), cast(d.float64), cast(d.float16)
    T.int, T.long, T.bool, T.short = cast(d.int32), cast(d.int64), cast(d.bool), cast(d.int16)

    def type_(self, dtype=None):
        return f"chainrule.{type(self).__name__}" if dtype is None else e.to(self, dtype)

    T.type = type_
    T.type_as = lambda self, other: e.to(self, other.dtype)

    from chainrule import creation

    def new(fill):
        def method(self, size, *, dtype=None, requires_grad=False, **_):
            dt = self.dtype if dtype is None else dtype
            return creation.full(size, fill, dtype=dt, requires_grad=requires_grad)

        return method

    T.new_zeros, T.new_ones = new(0), new(1)
    T.new_empty = new(0)
    T.new_full = lambda self, size, fill_value, *, dtype=None, requires_grad=False, **_: (
        creation.full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)
    )
    T.new_tensor = lambda self, data, *, dtype=None, requires_grad=False, **_: creation.tensor(
        data, dtype=dtype or self.dtype, requires_grad=requires_grad
    )
    T.select = lambda self, dim, index: self[(slice(None),) * (dim % max(self.ndim, 1)) + (index,)]

    for mod in families():
        for name, fn in getattr(mod, "TENSOR_METHODS", {}).items():
            setattr(T, name, fn)


_attach()
