"""cr.compile against eager on seeded random programs: chains of elementwise ops (the
fusable + - * / neg tanh relu masked_fill and the unfused exp and sigmoid), broadcasts,
views, a matmul and reductions, on float64, with backward called outside the compiled
function (its graph left for the caller: the live-graph path) or inside it (a step that
also accumulates ``.grad``). Each program is traced, then replayed twice; the value and
the gradients of every replay must be eager's (within float64 rounding, as the fused
tanh is the C library's). The old fuser dropped intermediates a live backward reads:
23 of the first 100 programs failed on it."""

from __future__ import annotations

import random

import numpy as np
import pytest

import chainrule as cr

UNARY = [
    lambda a: a + 1.0,
    lambda a: a * 0.5,
    lambda a: -a,
    lambda a: cr.tanh(a),
    lambda a: cr.relu(a),
    lambda a: 0.75 - a,
    lambda a: a / 3.0,
    lambda a: cr.sigmoid(a),
    lambda a: a.exp() * 0.1,
    lambda a: a * a,
    lambda a: a.t().contiguous().t(),  # a copy through a transposed view
    lambda a: a.reshape(-1).reshape(3, 4),
]
BINARY = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (b * b + 1.0),
    lambda a, b: a.masked_fill(b > 0.3, 0.0),
    lambda a, b: a * b.mean(dim=0),  # a row broadcast along the leading dim
    lambda a, b: (a @ b.t()) @ b * 0.25,
]


def _program(seed: int):
    """A random function of (x, y), both (3, 4): 2-8 ops, each reading earlier values;
    the result a weighted sum of one or two of them."""
    r = random.Random(seed)
    ops = []
    count = 2
    for _ in range(r.randint(2, 8)):
        if r.random() < 0.5:
            ops.append((UNARY[r.randrange(len(UNARY))], (r.randrange(count),)))
        else:
            ops.append((BINARY[r.randrange(len(BINARY))], (r.randrange(count), r.randrange(count))))
        count += 1
    outs = r.sample(range(2, count), k=min(2, count - 2))

    def f(x, y):
        values = [x, y]
        for fn, args in ops:
            values.append(fn(*[values[i] for i in args]))
        total = (values[outs[0]]).sum()
        for k, o in enumerate(outs[1:], 2):
            total = total + (values[o] * k).sum()
        return total

    return f


def _close(ours, want) -> None:
    np.testing.assert_allclose(ours, want, rtol=1e-9, atol=1e-12, equal_nan=True)


def _grads(*tensors) -> list:
    """Each tensor's .grad as an array (a copy), None where it has none (the result does
    not depend on it)."""
    return [None if t.grad is None else t.grad.numpy().copy() for t in tensors]


@pytest.mark.parametrize("backward", ["outside", "inside"])
@pytest.mark.parametrize("block", range(4))
def test_compiled_random_programs_match_eager(backward, block):
    for seed in range(block * 15, block * 15 + 15):
        f = _program(seed)
        rng = np.random.default_rng(seed)
        xv, yv = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
        x, y = cr.tensor(xv, requires_grad=True), cr.tensor(yv, requires_grad=True)
        want = f(x, y)
        want.backward()
        wanted = _grads(x, y)

        def step(x, y, f=f):
            out = f(x, y)
            out.backward()
            return out.detach()

        compiled = cr.compile(f if backward == "outside" else step)
        for call in range(3):  # the trace, then two replays
            x.grad = y.grad = None
            out = compiled(x, y)
            if backward == "outside":
                out.backward()
            where = f"seed {seed}, call {call}"
            _close(out.item(), want.item())
            for got, g in zip(_grads(x, y), wanted, strict=True):
                assert (got is None) == (g is None), where
                if g is not None:
                    _close(got, g)
