"""The scalar nn's forward passes defer Python's cyclic collector (``defer_collection``):
no collection runs while a graph is built, none is lost, and the program's own collector
settings (disabled, frozen objects) are left as they were."""

from __future__ import annotations

import gc
import weakref

import pytest

from chainrule.scalar import nn
from chainrule.scalar.moons import make_moons
from chainrule.scalar.value import Value


class _Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collections():
    """Generations of the collections that run while the test body runs."""
    seen: list[int] = []

    def cb(phase: str, info: dict) -> None:
        if phase == "start":
            seen.append(info["generation"])

    was = gc.isenabled()
    gc.enable()
    gc.collect()
    gc.callbacks.append(cb)
    try:
        yield seen
    finally:
        gc.callbacks.remove(cb)
        if not was:
            gc.disable()


def _forward(model: nn.MLP, n: int = 20) -> list:
    X, _ = make_moons(n, 0.1, 3)
    return [model([Value(a), Value(b)]) for a, b in X]


def test_no_collection_while_building(collections):
    model = nn.MLP(2, [16, 16, 1], seed=0)
    thresh = gc.get_threshold()[0]
    outs = _forward(model)  # 20 points * ~620 nodes: many times the young threshold
    assert sum(len(o._prev) for o in outs) > 0
    assert collections == [], collections
    assert gc.isenabled()
    assert gc.get_count()[0] < thresh  # the young generation was emptied (promoted)


def test_collections_are_deferred_not_lost():
    gc.collect()
    made = _Cycle()
    r = weakref.ref(made)
    del made  # a cycle: only the collector frees it
    _forward(nn.MLP(2, [16, 16, 1], seed=0), 5)  # ~3000 nodes: promotes it, unscanned
    assert r() is not None
    gc.collect()  # a full collection finds it there
    assert r() is None


def test_disabled_collector_stays_disabled():
    gc.disable()
    try:
        _forward(nn.MLP(2, [4, 1], seed=0), 3)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_program_frozen_objects_stay_frozen():
    gc.collect()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        _forward(nn.MLP(2, [4, 1], seed=0), 3)
        assert gc.get_freeze_count() == frozen
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_exception_in_forward_reenables():
    model = nn.MLP(2, [4, 1], seed=0)
    with pytest.raises(ValueError, match="expects 2 inputs"):
        model([1.0, 2.0, 3.0])
    assert gc.isenabled()


def test_gradients_unchanged():
    """Deferring the collector changes nothing computed (same graph, same gradients)."""
    a = nn.MLP(2, [8, 1], seed=5)
    b = nn.MLP(2, [8, 1], seed=5)
    X, _ = make_moons(10, 0.1, 1)
    la = sum((a(x) for x in X), Value(0.0))
    gc.disable()
    try:
        lb = sum((b(x) for x in X), Value(0.0))
    finally:
        gc.enable()
    la.backward()
    lb.backward()
    assert la.data == lb.data
    assert [p.grad for p in a.parameters()] == [p.grad for p in b.parameters()]


def test_backward_order_is_the_shared_toposort():
    """Value.backward's own walk (``_order``) visits nodes in graph.toposort's order."""
    from chainrule.graph import toposort
    from chainrule.scalar.value import _children_of, _order

    model = nn.MLP(2, [6, 6, 1], seed=2)
    X, _ = make_moons(8, 0.1, 4)
    loss = sum((model(x) for x in X), Value(0.0))
    loss = loss * loss + loss.tanh()  # shared subexpressions
    want = toposort((loss,), _children_of, hashable=True)
    for v in want:
        v.grad = 5.0
    got = _order(loss)
    assert got == want
    assert all(v.grad == 0.0 for v in got)


def test_each_walk_marks_with_its_own_token():
    """``_order`` marks reached nodes with a token of its own (the ``_walk`` slot): nodes a
    previous walk reached, of this graph or of another sharing them, are walked again."""
    from chainrule.graph import toposort
    from chainrule.scalar.value import _children_of, _order

    model = nn.MLP(2, [5, 1], seed=7)
    X, _ = make_moons(6, 0.1, 2)
    outs = [model(x) for x in X]
    part = outs[0] * outs[1]
    whole = part + sum(outs[2:], Value(0.0)) * part.exp()
    assert _order(part) == toposort((part,), _children_of, hashable=True)
    assert _order(whole) == toposort((whole,), _children_of, hashable=True)
    assert _order(part) == toposort((part,), _children_of, hashable=True)
    whole.backward()
    want = [p.grad for p in model.parameters()]
    part.backward()
    whole.backward()
    assert [p.grad for p in model.parameters()] == want
