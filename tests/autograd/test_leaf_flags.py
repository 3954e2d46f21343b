"""``requires_grad`` and ``detach_`` after a graph was built, and the errors of changing
them where torch refuses (issue 10, #9 and the missing errors), each program run under
torch and chainrule. A leaf's AccumulateGrad checks the leaf's ``requires_grad`` when it
runs: a leaf that stopped requiring grad (``requires_grad_(False)``, ``detach_()``) keeps
its ``.grad`` (its hooks still run); a node that saved a non-leaf later detached in place
refuses to run; ``detach_()`` on a view and ``requires_grad = ...`` on a non-leaf raise."""

import pytest
from twin_programs import check


def leaf(m):
    return m.tensor([3.0, 4.0], requires_grad=True)


def _stop(m, how):
    a = leaf(m)
    y = (a * a).sum()
    if how == "requires_grad_":
        a.requires_grad_(False)
    elif how == "setter":
        a.requires_grad = False
    else:
        a.detach_()
    y.backward()
    return a.grad, a.requires_grad, a.is_leaf


def _hooks_still_run(m):
    seen = []
    a = leaf(m)
    a.register_hook(lambda g: seen.append(("hook", g.tolist())))
    a.register_post_accumulate_grad_hook(lambda p: seen.append(("post", p.grad)))
    y = (a * a).sum()
    a.requires_grad_(False)
    y.backward()
    return a.grad, seen


def _again(m):
    a = leaf(m)
    y = (a * a).sum()
    a.requires_grad_(False)
    a.requires_grad_(True)
    y.backward()
    return a.grad


def _kept(m):
    a = leaf(m)
    a.grad = m.tensor([1.0, 1.0])
    y = (a * a).sum()
    a.requires_grad_(False)
    y.backward(create_graph=True)
    return a.grad


def _other_leaf(m):
    a, b = leaf(m), m.tensor([1.0, 2.0], requires_grad=True)
    y = (a * b).sum()
    a.requires_grad_(False)
    y.backward()
    return a.grad, b.grad


def _autograd_grad(m):
    a = leaf(m)
    y = (a * a).sum()
    a.requires_grad_(False)
    return m.autograd.grad(y, [a])


def _backward_inputs(m):
    a, b = leaf(m), m.tensor([1.0, 2.0], requires_grad=True)
    y = (a * b).sum()
    a.requires_grad_(False)
    y.backward(inputs=[a])


def _detached_saved(m, op):
    a = leaf(m)
    b = a * 2
    y = op(b, a).sum()
    b.detach_()
    y.backward()
    return a.grad


def _detached_then_requires_grad(m):
    a = leaf(m)
    b = a * 2
    y = (b * b).sum()
    b.detach_()
    b.requires_grad_()
    y.backward()


def _detached_autograd_grad(m):
    a = leaf(m)
    b = a * 2
    y = (b * a).sum()
    b.detach_()
    return m.autograd.grad(y, [a])


AFTER_THE_GRAPH = {
    "requires_grad_(False)": lambda m: _stop(m, "requires_grad_"),
    "requires_grad = False": lambda m: _stop(m, "setter"),
    "detach_()": lambda m: _stop(m, "detach_"),
    "hooks still run": _hooks_still_run,
    "requires_grad_(True) again": _again,
    "an existing .grad is kept": _kept,
    "the other leaf accumulates": _other_leaf,
    "autograd.grad": _autograd_grad,
    "backward(inputs=)": _backward_inputs,
    "a non-leaf detached in place, saved": lambda m: _detached_saved(m, lambda b, a: b * a),
    "... saved by sin": lambda m: _detached_saved(m, lambda b, a: b.sin()),
    "... not saved (a sum of it)": lambda m: _detached_saved(m, lambda b, a: b + a),
    "... saved as an output": lambda m: _detached_saved(m, lambda b, a: b.exp() * 0 + a),
    "... then requires_grad_()": _detached_then_requires_grad,
    "... under autograd.grad": _detached_autograd_grad,
}


@pytest.mark.parametrize("name", list(AFTER_THE_GRAPH))
def test_flags_changed_after_the_graph(name):
    check(AFTER_THE_GRAPH[name])


def _set_flag(m, value, method):
    b = leaf(m) * 2
    if method:
        b.requires_grad_(value)
    else:
        b.requires_grad = value
    return b.requires_grad, b.is_leaf


def _detach_view(m, make):
    v = make(m)
    v.detach_()
    return v.requires_grad


def _under_no_grad(m):
    a = m.ones(4, requires_grad=True)
    with m.no_grad():
        v = a[1:]
    v.detach_()


ERRORS = {
    "requires_grad = True on a non-leaf": lambda m: _set_flag(m, True, False),
    "requires_grad = False on a non-leaf": lambda m: _set_flag(m, False, False),
    "requires_grad_(True) on a non-leaf": lambda m: _set_flag(m, True, True),
    "requires_grad_(False) on a non-leaf": lambda m: _set_flag(m, False, True),
    "requires_grad = True on a view of a non-leaf": lambda m: setattr(
        (leaf(m) * 2)[1:], "requires_grad", True
    ),
    "requires_grad = True on an integer leaf": lambda m: setattr(
        m.ones(2, dtype=m.long), "requires_grad", True
    ),
    "detach_ on a view in a graph": lambda m: _detach_view(m, lambda m: (leaf(m) * 2)[1:]),
    "detach_ on a view of a plain tensor": lambda m: _detach_view(m, lambda m: m.ones(4)[1:]),
    "detach_ on view()": lambda m: _detach_view(m, lambda m: leaf(m).view(2)),
    "detach_ on a view of detach()": lambda m: _detach_view(m, lambda m: leaf(m).detach()[1:]),
    "detach_ on detach() (not a view)": lambda m: _detach_view(m, lambda m: leaf(m).detach()),
    "detach_ on a view made under no_grad": _under_no_grad,
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_flag_errors(name):
    check(ERRORS[name])
