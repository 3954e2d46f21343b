"""How a leaf's ``.grad`` accumulates, as torch's AccumulateGrad (issue 10, #11), each
program run under torch and chainrule: later gradients are added in place (an alias
``g = w.grad`` sees them, even when ``.grad`` has a history from ``create_graph``) unless a
graph of the gradient is being built, which replaces ``.grad`` by ``old + new``; the first
gradient under ``create_graph`` is a recorded copy (torch's CopyBackwards)."""

import pytest
from twin_programs import check


def cube(w):
    return (w * w * w).sum()


def double(w):
    return (w * 2).sum()


def _twice(m, first_graph, second_graph, loss=cube):
    w = m.tensor([3.0, 4.0], requires_grad=True)
    loss(w).backward(create_graph=first_graph)
    g = w.grad
    version = g._version
    loss(w).backward(create_graph=second_graph)
    # versions: a recorded copy_ is one write, an in-place add another; after a plain
    # backward torch's first version depends on how its engine summed the gradient
    versions = (version, g._version) if first_graph else g._version - version
    return g, w.grad, w.grad is g, versions, w.grad.requires_grad


def _names(m):
    w = m.tensor([3.0, 4.0], requires_grad=True)
    cube(w).backward(create_graph=True)
    g = w.grad
    first = (g.grad_fn.name(), [n.name() if n else None for n, _ in g.grad_fn.next_functions])
    cube(w).backward()
    return first, w.grad.grad_fn.name(), repr(w.grad)


def _then_double(m):
    w = m.tensor([3.0, 4.0], requires_grad=True)
    cube(w).backward(create_graph=True)
    cube(w).backward()
    w.grad.sum().backward()  # through the first graph: .grad kept its history
    return w.grad


def _given_grad(m, requires_grad, create_graph):
    w = m.tensor([3.0, 4.0], requires_grad=True)
    w.grad = m.tensor([1.0, 1.0], requires_grad=requires_grad)
    g = w.grad
    cube(w).backward(create_graph=create_graph)
    return g, w.grad, w.grad is g


def _copy_name(m):
    x = m.zeros(2)
    x.copy_(m.ones(2, requires_grad=True))
    return x.grad_fn.name(), repr(x), repr(x.grad_fn).split(" object")[0]


PROGRAMS = {
    "create_graph, then create_graph": lambda m: _twice(m, True, True),
    "create_graph, then plain": lambda m: _twice(m, True, False),
    "plain, then create_graph": lambda m: _twice(m, False, True),
    "plain, then plain": lambda m: _twice(m, False, False),
    "constant gradient under create_graph": lambda m: _twice(m, True, True, double),
    "constant, then plain": lambda m: _twice(m, True, False, double),
    "node names": _names,
    "double backward after": _then_double,
    "a given .grad that requires grad, plain": lambda m: _given_grad(m, True, False),
    "a given .grad, create_graph": lambda m: _given_grad(m, False, True),
    "copy_'s node": _copy_name,
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_accumulation_as_torch(name):
    check(PROGRAMS[name])
