"""einsum: torch's string form (implicit or explicit output, ``...``, repeated subscripts).

The gradient of each operand is one more einsum of the output's gradient with the other
operands; subscripts only that operand has (summed out) are brought back with a ones
vector, and repeated subscripts (diagonals) with an identity matrix, so every rule is again
an einsum and differentiable to any order.
"""

from __future__ import annotations

import functools
import math
import string
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule.amp.autocast_mode import autocast_policy
from chainrule.dtypes import scalar_type_name
from chainrule.ops.op import Op

_LETTERS = string.ascii_uppercase + string.ascii_lowercase


class Einsum(Op):
    elementwise = True  # size-1 subscripts broadcast: their gradients are summed back

    @staticmethod
    def saved_for(i: int, n: int) -> list[int]:  # an operand's gradient reads the others
        return [j for j in range(n) if j != i]

    def forward(self, *xs, subs, out, eq=None, optimize=None):
        self.subs, self.out, self.in_shapes = subs, out, tuple(x.shape for x in xs)
        if eq is None:
            eq, optimize = _plan(subs, out, tuple(x.shape for x in xs))
        return np.einsum(eq, *xs, optimize=optimize)

    def backward(self, g):
        xs, subs = self.inputs, self.subs
        grads = []
        for i, s in enumerate(subs):
            if not self.needs(i):
                grads.append(None)
                continue
            others = [(subs[j], xs[j]) for j in range(len(subs)) if j != i]
            have = set(self.out).union(*[set(t) for t, _ in others])
            used = set(self.out).union(*map(set, subs))
            fresh = (c for c in _LETTERS if c not in used)
            shape = self.in_shapes[i]
            dt = g._data.dtype
            terms = [(self.out, g), *others]
            target, seen = [], set()
            for c, n in zip(s, shape):
                if c in seen:  # a repeated subscript: an identity embeds the diagonal
                    f = next(fresh)
                    terms.append((c + f, _make(np.eye(n, dtype=dt))))
                    target.append(f)
                    continue
                seen.add(c)
                target.append(c)
                if c not in have:  # summed out in the forward: broadcast back with ones
                    terms.append((c, _make(np.ones(n, dtype=dt))))
            grads.append(
                Einsum.apply(
                    *[t for _, t in terms], subs=tuple(u for u, _ in terms), out="".join(target)
                )
            )
        return tuple(grads)


@functools.lru_cache(maxsize=256)
def _plan(subs: tuple, out: str, shapes: tuple) -> tuple[str, bool]:
    """NumPy's equation, and whether to let NumPy find a BLAS path: only when the plain
    loop over every subscript would be long (path finding costs tens of microseconds)."""
    sizes: dict = {}
    for t, shape in zip(subs, shapes):
        for c, n in zip(t, shape):
            sizes[c] = max(sizes.get(c, 1), n)
    return ",".join(subs) + "->" + out, len(subs) > 1 and math.prod(sizes.values()) > 1 << 17


@functools.lru_cache(maxsize=256)
def _parse(equation: str, shapes: tuple) -> tuple[tuple, str]:
    """Subscripts of each operand and of the output, with ``...`` spelled out as letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    for t in terms + [rhs]:
        for c in t.replace("...", ""):
            if c not in _LETTERS:
                raise RuntimeError(
                    f"einsum(): invalid subscript given at index {eq.index(c)} in the equation "
                    f"string, subscripts must be in [a-zA-Z]"
                )
    used = set(eq) & set(_LETTERS)
    spare = [c for c in _LETTERS if c not in used]
    n_ell = []
    for i, (t, shape) in enumerate(zip(terms, shapes)):
        nd, labels = len(shape), len(t.replace("...", ""))
        if "..." in t:
            if labels > nd:
                raise RuntimeError(
                    f"einsum(): the number of subscripts in the equation ({labels}) is more than "
                    f"the number of dimensions ({nd}) for operand {i}"
                )
            n_ell.append(nd - labels)
        else:
            if labels != nd:
                raise RuntimeError(
                    f"einsum(): the number of subscripts in the equation ({labels}) does not "
                    f"match the number of dimensions ({nd}) for operand {i} and no ellipsis "
                    "was given"
                )
            n_ell.append(0)
    ell = "".join(spare[: max(n_ell, default=0)])
    subs = [t.replace("...", ell[len(ell) - k :]) for t, k in zip(terms, n_ell)]
    if arrow:
        out = rhs.replace("...", ell)
        for c in out:
            if out.count(c) > 1:
                raise RuntimeError(
                    f"einsum(): output subscript {c} appears more than once in the output"
                )
            if not any(c in s for s in subs):
                raise RuntimeError(
                    f"einsum(): output subscript {c} does not appear in the equation for any "
                    "input operand"
                )
    else:
        counts = "".join(t.replace("...", "") for t in terms)
        out = ell + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    sizes: dict = {}
    for i, (s, shape) in enumerate(zip(subs, shapes)):
        own: dict = {}
        for c, n in zip(s, shape):
            if c in own and own[c] != n:
                raise RuntimeError(
                    f"einsum(): subscript {c} is repeated for operand {i} but the sizes don't "
                    f"match, {n} != {own[c]}"
                )
            own[c] = n
            m = sizes.get(c, 1)
            if n != 1 and m != 1 and n != m:
                raise RuntimeError(
                    f"einsum(): subscript {c} has size {n} for operand {i} which does not "
                    f"broadcast with previously seen size {m}"
                )
            sizes[c] = max(m, n) if n != 1 else m
    return tuple(subs), out


@op(method=False)
@autocast_policy("lower_precision_fp")
def einsum(equation: str, *operands: Any) -> Tensor:
    """Sum of products over the subscripts of ``equation`` (torch.einsum's string form)."""
    ops = (
        list(operands[0])
        if len(operands) == 1 and isinstance(operands[0], list | tuple)
        else list(operands)
    )
    subs, out = _parse(equation, tuple(x._data.shape for x in ops))
    dt = ops[0]._data.dtype if ops else None
    for x in ops[1:]:
        if x._data.dtype != dt:
            raise RuntimeError(
                f"expected scalar type {scalar_type_name(dt)} but found {scalar_type_name(x._data)}"
            )
    eq, optimize = _plan(subs, out, tuple(x._data.shape for x in ops))
    return Einsum.apply(*ops, subs=subs, out=out, eq=eq, optimize=optimize)
