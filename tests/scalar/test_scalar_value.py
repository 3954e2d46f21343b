"""Tests for chainrule.scalar.value: every op against torch (float64) and finite differences."""

from __future__ import annotations

import gc
import math
import random

import pytest
import torch

from chainrule.graph import toposort
from chainrule.scalar import Value, weighted_sum

H = 1e-6  # central-difference step (float64)


def central_diff(f, xs, i, h=H):
    up = list(xs)
    dn = list(xs)
    up[i] += h
    dn[i] -= h
    return (f(*up) - f(*dn)) / (2 * h)


def same(a: float, b: float, rel: float = 1e-12, abs_: float = 1e-12) -> bool:
    """Equal as floats, with nan == nan and inf == inf of the same sign."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def torch_value_and_grads(fn, xs):
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = fn(*ts)
    out.backward()
    return out.item(), [t.grad.item() if t.grad is not None else 0.0 for t in ts]


def value_and_grads(fn, xs):
    vs = [Value(x) for x in xs]
    out = fn(*vs)
    out.backward()
    return out.data, [v.grad for v in vs]


# --------------------------------------------------------------------- worked examples


def test_worked_example_a_b_c_d_e():
    a, b = Value(2.0, "a"), Value(3.0, "b")
    c = a + b
    d = c * a
    e = c * d
    e.backward()
    assert e.data == 50.0
    assert a.grad == 45.0  # (a+b)^2 + 2a(a+b): the path a -> c -> d counts too (not 35)
    assert b.grad == 20.0  # 2a(a+b), not 10
    assert c.grad == 20.0 and d.grad == 5.0 and e.grad == 1.0


def test_worked_example_tanh_against_central_difference_and_torch():
    def f(x, y):
        return (x**2 + y**2).tanh()

    val, grads = value_and_grads(f, [0.5, -1.0])
    assert val == pytest.approx(math.tanh(1.25), abs=1e-15)
    ref = [central_diff(lambda x, y: math.tanh(x**2 + y**2), [0.5, -1.0], i) for i in (0, 1)]
    assert grads == pytest.approx(ref, rel=1e-8)
    tval, tgrads = torch_value_and_grads(f, [0.5, -1.0])
    assert val == pytest.approx(tval, abs=1e-15)
    assert grads == pytest.approx(tgrads, abs=1e-15)


# --------------------------------------------------------------------- the op table

# (name, function of Values / tensors, math version for finite differences, points).
# Every case is multiplied by a random upstream gradient g, so backward is not seeded with 1.
UNARY = [
    ("neg", lambda x: -x, lambda x: -x, [-1.5, 0.3, 2.0]),
    ("exp", lambda x: x.exp(), math.exp, [-2.0, 0.0, 1.7]),
    ("log", lambda x: x.log(), math.log, [0.2, 1.0, 3.5]),
    ("sqrt", lambda x: x.sqrt(), math.sqrt, [0.1, 1.0, 4.2]),
    ("tanh", lambda x: x.tanh(), math.tanh, [-2.0, 0.0, 0.7]),
    ("relu", lambda x: x.relu(), lambda x: max(x, 0.0), [-1.0, 0.4, 2.5]),
    ("sigmoid", lambda x: x.sigmoid(), lambda x: 1 / (1 + math.exp(-x)), [-3.0, 0.0, 1.2]),
    ("sin", lambda x: x.sin(), math.sin, [-2.0, 0.0, 1.3]),
    ("cos", lambda x: x.cos(), math.cos, [-2.0, 0.5, 1.3]),
    ("abs", abs, abs, [-1.2, 0.7]),
    ("abs_method", lambda x: x.abs(), abs, [-1.2, 0.7]),
    ("pow2", lambda x: x**2, lambda x: x**2, [-1.5, 0.0, 2.0]),
    ("pow3", lambda x: x**3, lambda x: x**3, [-1.5, 0.5]),
    ("pow_half", lambda x: x**0.5, lambda x: x**0.5, [0.3, 2.0]),
    ("pow_minus1", lambda x: x**-1, lambda x: x**-1, [-2.0, 0.5]),
    ("pow_minus2.5", lambda x: x**-2.5, lambda x: x**-2.5, [0.4, 3.0]),
    ("radd", lambda x: 2.5 + x, lambda x: 2.5 + x, [-1.0, 3.0]),
    ("add_number", lambda x: x + 2.5, lambda x: x + 2.5, [-1.0, 3.0]),
    ("rsub", lambda x: 2.5 - x, lambda x: 2.5 - x, [-1.0, 3.0]),
    ("sub_number", lambda x: x - 2.5, lambda x: x - 2.5, [-1.0, 3.0]),
    ("rmul", lambda x: 2.5 * x, lambda x: 2.5 * x, [-1.0, 3.0]),
    ("mul_number", lambda x: x * 2.5, lambda x: x * 2.5, [-1.0, 3.0]),
    ("rtruediv", lambda x: 2.5 / x, lambda x: 2.5 / x, [-1.0, 0.3]),
    ("truediv_number", lambda x: x / 2.5, lambda x: x / 2.5, [-1.0, 3.0]),
    ("rpow", lambda x: 2.5**x, lambda x: 2.5**x, [-1.0, 0.0, 1.5]),
]

BINARY = [
    ("add", lambda x, y: x + y, lambda x, y: x + y, [(1.5, -0.5)]),
    ("sub", lambda x, y: x - y, lambda x, y: x - y, [(1.5, -0.5)]),
    ("mul", lambda x, y: x * y, lambda x, y: x * y, [(1.5, -0.5), (0.0, 2.0)]),
    ("truediv", lambda x, y: x / y, lambda x, y: x / y, [(1.5, -0.5), (-2.0, 3.0)]),
    ("pow", lambda x, y: x**y, lambda x, y: x**y, [(1.5, -0.5), (0.7, 2.3), (2.0, 3.0)]),
    ("self_mul", lambda x, y: x * x + y, lambda x, y: x * x + y, [(1.5, -0.5)]),
]

CASES = [(name, fn, ref, (p,)) for name, fn, ref, pts in UNARY for p in pts] + [
    (name, fn, ref, p) for name, fn, ref, pts in BINARY for p in pts
]


@pytest.mark.parametrize("name, fn, ref, point", CASES, ids=[f"{c[0]}{c[3]}" for c in CASES])
def test_op_against_torch_and_finite_differences(name, fn, ref, point):
    g = random.Random(name).uniform(0.5, 2.0) * random.Random(str(point)).choice([-1, 1])
    val, grads = value_and_grads(lambda *v: fn(*v) * g, point)
    tval, tgrads = torch_value_and_grads(lambda *t: fn(*t) * g, point)
    assert same(val, tval, rel=1e-14), (val, tval)
    for got, want in zip(grads, tgrads):
        assert same(got, want, rel=1e-13), (grads, tgrads)
    for i, got in enumerate(grads):
        fd = central_diff(lambda *xs: ref(*xs) * g, point, i)
        assert got == pytest.approx(fd, rel=1e-7, abs=1e-8), (i, grads, fd)


def test_shared_subexpressions_against_torch_every_node():
    """A graph with reuse (diamonds): all leaf and intermediate gradients equal torch's."""

    def build(a, b, c):
        d = a * b + c.exp()
        e = (d * a - b / c).tanh()
        f = e * d + (a**2 + 1).log() - (d + e).sigmoid() * c
        return [d, e, f]

    xs = [0.7, -1.3, 0.4]
    vs = [Value(x) for x in xs]
    vnodes = build(*vs)
    vnodes[-1].backward()
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    tnodes = build(*ts)
    for t in tnodes:
        t.retain_grad()
    tnodes[-1].backward()
    for v, t in zip(vs + vnodes, ts + tnodes):
        assert v.data == pytest.approx(t.item(), rel=1e-14)
        assert v.grad == pytest.approx(t.grad.item(), rel=1e-12)


# --------------------------------------------------------------------- IEEE edge cases

EDGE = [
    ("exp(1000)", lambda x: x.exp(), 1000.0),
    ("exp(-1000)", lambda x: x.exp(), -1000.0),
    ("sigmoid(1000)", lambda x: x.sigmoid(), 1000.0),
    ("sigmoid(-1000)", lambda x: x.sigmoid(), -1000.0),
    ("tanh(1000)", lambda x: x.tanh(), 1000.0),
    ("tanh(-1000)", lambda x: x.tanh(), -1000.0),
    ("log(0)", lambda x: x.log(), 0.0),
    ("log(-1)", lambda x: x.log(), -1.0),
    ("sqrt(0)", lambda x: x.sqrt(), 0.0),
    ("sqrt(-1)", lambda x: x.sqrt(), -1.0),
    ("relu(0)", lambda x: x.relu(), 0.0),
    ("relu(nan)", lambda x: x.relu(), math.nan),
    ("abs(0)", abs, 0.0),
    ("1/x at 0", lambda x: 1.0 / x, 0.0),
    ("-1/x at 0", lambda x: -1.0 / x, 0.0),
    ("x/0 at 0", lambda x: x / 0.0, 0.0),
    ("x/0 at 2", lambda x: x / 0.0, 2.0),
    ("x**-1 at 0", lambda x: x**-1, 0.0),
    ("x**0.5 at 0", lambda x: x**0.5, 0.0),
    ("x**0 at 0", lambda x: x**0, 0.0),
    ("x**(1/3) at -8", lambda x: x ** (1 / 3), -8.0),
    ("x**2 at -3", lambda x: x**2, -3.0),
    ("2**x at 2000", lambda x: 2.0**x, 2000.0),
    ("0**x at 2", lambda x: 0.0**x, 2.0),
    ("(-2)**x at 2", lambda x: (-2.0) ** x, 2.0),
    ("sin(inf)", lambda x: x.sin(), math.inf),
    ("cos(-inf)", lambda x: x.cos(), -math.inf),
]


@pytest.mark.parametrize("name, fn, x", EDGE, ids=[e[0] for e in EDGE])
def test_edge_values_follow_torch(name, fn, x):
    val, (grad,) = value_and_grads(fn, [x])  # no OverflowError, ZeroDivisionError, ValueError
    tval, (tgrad,) = torch_value_and_grads(fn, [x])
    assert same(val, tval, rel=1e-15), (val, tval)
    assert same(grad, tgrad, rel=1e-15), (grad, tgrad)


@pytest.mark.parametrize("a, b", [(0.0, 0.0), (0.0, 2.0), (0.0, -1.0), (-2.0, 0.5), (-2.0, 2.0)])
def test_value_pow_value_edges_follow_torch(a, b):
    val, grads = value_and_grads(lambda x, y: x**y, [a, b])
    tval, tgrads = torch_value_and_grads(lambda x, y: x**y, [a, b])
    assert same(val, tval)
    assert all(same(g, t) for g, t in zip(grads, tgrads)), (grads, tgrads)


def test_overflow_safe_results_are_finite_and_correct():
    assert Value(1000).sigmoid().data == 1.0
    assert Value(-1000).sigmoid().data == 0.0
    assert Value(1000).tanh().data == 1.0
    assert Value(-1000).exp().data == 0.0
    assert Value(-745.0).sigmoid().data == pytest.approx(math.exp(-745.0))


# --------------------------------------------------------------------- backward behaviour


def all_nodes(root):
    return toposort([root], lambda v: v._prev)


def test_backward_twice_gives_the_same_grad_on_every_node():
    a, b = Value(1.3), Value(-0.4)
    c = a * b + a.exp()
    d = (c * a).tanh() + c**2 - b / a
    d.backward()
    first = [(v, v.grad) for v in all_nodes(d)]
    d.backward()
    assert [(v, v.grad) for v in all_nodes(d)] == first
    assert d.grad == 1.0


def test_backward_resets_stale_grads_from_an_earlier_graph():
    """Reset-then-accumulate: a leaf's old .grad does not leak into a new backward."""
    w = Value(3.0)
    (w * w).backward()
    assert w.grad == 6.0
    (w * 5.0).backward()  # no zero_grad in between
    assert w.grad == 5.0


def test_deep_chain_of_a_million_nodes():
    n = 1_000_000
    x, c = Value(0.5), Value(1.0000001)
    y = x
    for _ in range(n):
        y = y * c  # 1,000,000 nodes deep, c shared by all of them
    y.backward()  # no RecursionError
    assert y.data == pytest.approx(0.5 * 1.0000001**n, rel=1e-9)
    assert x.grad == pytest.approx(1.0000001**n, rel=1e-9)
    assert c.grad == pytest.approx(n * 0.5 * 1.0000001 ** (n - 1), rel=1e-9)
    del y  # freeing a million-deep chain must not overflow the C stack either


def test_a_graph_has_no_reference_cycles():
    """No closures per node: a dropped graph is freed by refcounting, not by the cyclic GC."""
    gc.collect()
    gc.disable()
    try:
        a = Value(0.3)
        out = a
        for i in range(200):
            out = (out * a + i).tanh() - out.relu() / 3
        out.backward()
        del out, a
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_toposort_puts_every_node_after_its_consumers_in_both_modes():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c + b.exp()
    for hashable in (False, True):
        order = toposort([e], lambda v: (v._a, v._b), hashable=hashable)
        pos = {id(v): i for i, v in enumerate(order)}
        assert len(pos) == len(order) == 7  # a, b, c, d, e, exp(b), d*c
        for v in order:
            for p in v._prev:
                assert pos[id(p)] > pos[id(v)]


def test_toposort_generic_vertices_several_roots_and_missing_parents():
    """The shared walk on vertices that are unhashable (elementwise ``==``, like tensors)."""

    class V:
        __hash__ = None  # type: ignore[assignment]

        def __init__(self, *parents):
            self.parents = parents

        def __eq__(self, other):
            raise AssertionError("toposort must tell vertices apart by identity")

    a = V()
    b = V(a, None)
    c = V(a, b)
    d = V(c, a)
    e = V(b)
    order = toposort([d, e, d], lambda v: v.parents)
    assert len(order) == 5 and len({id(v) for v in order}) == 5
    pos = {id(v): i for i, v in enumerate(order)}
    for v in order:
        assert all(pos[id(p)] > pos[id(v)] for p in v.parents if p is not None)


# --------------------------------------------------------------------- the rest of the API


def test_graph_is_kept_for_drawing():
    a, b = Value(2.0, "a"), Value(3.0, "b")
    c = a + b
    assert c._prev == (a, b) and c._op == "+"
    assert (a * b)._op == "*" and (a / b)._op == "/" and (a**b)._op == "**"
    sq = a**2
    assert sq._prev == (a,) and sq._op == "**2"
    assert a.relu()._op == "ReLU" and a.tanh()._op == "tanh" and (-a)._op == "neg"
    assert a._prev == () and a._op == "" and a.label == "a"
    k = 3 * a  # a plain number becomes a leaf, as in micrograd
    assert [p.data for p in k._prev] == [3.0, 2.0]


def test_comparisons_use_data():
    a, b = Value(1.0), Value(2.0)
    assert a < b and a <= b and b > a and b >= a and not a > b
    assert a < 1.5 and a <= 1.0 and a > 0 and a >= 1
    assert 1.5 > a and 0.5 < a  # reflected through the other comparison
    assert max(a, b) is b and sorted([b, a]) == [a, b]
    assert max(Value(-0.2), 0.0) == 0.0  # a max-margin loss written with max()


def test_values_are_hashable_by_identity():
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a
    assert len({a, b, a}) == 2


def test_data_is_float_and_repr():
    v = Value(3, label="x")
    assert isinstance(v.data, float) and v.grad == 0.0
    assert repr(v) == "Value(data=3.0, grad=0.0, label='x')"
    assert repr(Value(1.5)) == "Value(data=1.5, grad=0.0)"
    assert float(Value(2.5)) == 2.5


@pytest.mark.parametrize("bad", ["1", None, [1.0], 1j])
def test_bad_inputs_are_type_errors(bad):
    with pytest.raises(TypeError, match="real number"):
        Value(bad)
    with pytest.raises(TypeError):
        Value(1.0) + bad
    with pytest.raises(TypeError):
        Value(1.0) ** bad


def test_weighted_sum_builds_the_same_nodes_as_the_plain_sum():
    ws = [Value(w) for w in (0.5, -1.2, 2.0)]
    xs = [Value(1.5), 0.25, Value(-3.0)]
    b = Value(0.1)
    fast = weighted_sum(ws, xs, b)
    slow = sum((w * x for w, x in zip(ws, xs)), b)
    assert fast.data == slow.data
    assert [(v._op, v.data) for v in all_nodes(fast)] == [(v._op, v.data) for v in all_nodes(slow)]
    fast.backward()
    got = [v.grad for v in ws + [b]]
    slow.backward()
    assert got == [v.grad for v in ws + [b]]
