"""``retain_grad`` as torch (issue 10, #8 and #10), each program run under torch and
chainrule: the retained gradient follows the tensor through in-place writes (torch moves
the hook to the new grad_fn) and through writes to its base or via a view; it is filled by
``autograd.grad`` too (where the node's gradient is computed), after the tensor's other
hooks; retained gradients are replaced (``grad + new``), never accumulated in place;
``backward(inputs=)`` makes each input retain its gradient and runs a non-leaf input's node."""

import pytest
import torch
from twin_programs import check, outcome, same

import chainrule as cr


def leaf(m, values=(3.0, 4.0, 6.0)):
    return m.tensor(list(values), requires_grad=True)


def _setitem(m):
    a = leaf(m)
    x = a * 1
    x.retain_grad()
    x[0] = 5.0
    (x * x).sum().backward()
    return x.grad, a.grad, x.retains_grad


def _mul_(m):
    a = leaf(m)
    x = a * 1
    x.retain_grad()
    x.mul_(2)
    (x * x).sum().backward()
    return x.grad, a.grad


def _view_base_written(m, loss_on_view=True):
    a = leaf(m)
    b = a * 1
    x = b[1:]
    x.retain_grad()
    b.mul_(2)
    ((x * x).sum() if loss_on_view else (b * b).sum()).backward()
    return x.grad, a.grad


def _base_retained_write_via_view(m):
    a = leaf(m)
    b = a * 1
    b.retain_grad()
    b[1:].mul_(2)
    (b * b).sum().backward()
    return b.grad, a.grad


def _view_retained_written(m, loss_on_view=True):
    a = leaf(m)
    b = a * 1
    x = b[1:]
    x.retain_grad()
    x.mul_(2)
    ((x * x).sum() if loss_on_view else (b * b).sum()).backward()
    return x.grad, a.grad


def _view_op_inplace(m, op):
    # the in-place view ops leave the retained gradient on the old node (torch)
    a = m.tensor([[1.0, 2.0]], requires_grad=True)
    x = a * 1
    x.retain_grad()
    getattr(x, op)()
    (x * m.tensor([3.0, 4.0])).sum().backward()
    return x.grad, a.grad


def _retained_again(m):
    a = leaf(m)
    x = a * 1
    x.retain_grad()
    x[0] = 5.0
    x.retain_grad()
    (x * x).sum().backward()
    return x.grad


def _hook_stays(m):
    # a tensor hook stays on the old node; the retained gradient moves to the new one
    seen = []
    a = leaf(m)
    x = a * 1
    x.retain_grad()
    x.register_hook(lambda g: seen.append(g.tolist()))
    x[0] = 5.0
    (x * x).sum().backward()
    return x.grad, seen


def _leaf(m):
    a = leaf(m)
    a.retain_grad()
    (a * a).sum().backward()
    return a.grad, a.retains_grad, a.is_leaf


def _no_grad_leaf(m):
    m.tensor([1.0]).retain_grad()


def _becomes_non_leaf(m):
    w = m.tensor([2.0], requires_grad=True)
    x = m.zeros(3)
    x[0] = w[0] * 2
    x.retain_grad()
    (x * x).sum().backward()
    return x.grad, w.grad


def _detach_(m):
    x = leaf(m) * 1
    x.retain_grad()
    x.detach_()
    return x.retains_grad, x.grad, x.is_leaf


IN_PLACE = {
    "setitem": _setitem,
    "mul_": _mul_,
    "view, base written, loss on the view": _view_base_written,
    "view, base written, loss on the base": lambda m: _view_base_written(m, False),
    "base retained, written via a view": _base_retained_write_via_view,
    "view retained and written, loss on the view": _view_retained_written,
    "view retained and written, loss on the base": lambda m: _view_retained_written(m, False),
    "t_": lambda m: _view_op_inplace(m, "t_"),
    "squeeze_": lambda m: _view_op_inplace(m, "squeeze_"),
    "retain_grad again after the write": _retained_again,
    "tensor hook stays on the old node": _hook_stays,
    "leaf": _leaf,
    "leaf without grad": _no_grad_leaf,
    "a leaf made non-leaf by a write": _becomes_non_leaf,
    "detach_ after retain_grad": _detach_,
}


@pytest.mark.parametrize("name", list(IN_PLACE))
def test_retained_grad_follows_in_place_writes(name):
    check(IN_PLACE[name])


# --------------------------------------------------------------------------- autograd.grad


def _grad_of_retained(m):
    a = leaf(m, (3.0, 4.0))
    x = a * 2
    x.retain_grad()
    y = (x * x).sum()
    g = m.autograd.grad(y, [x])
    return g, x.grad, a.grad


def _retained_on_path(m):
    a = leaf(m, (3.0, 4.0))
    x = a * 2
    x.retain_grad()
    z = x * 3
    z.retain_grad()
    y = (z * z).sum()
    return m.autograd.grad(y, [a]), x.grad, z.grad, a.grad


def _retained_off_path(m):
    a = leaf(m, (3.0, 4.0))
    x = a * 2
    z = x * 3
    z.retain_grad()
    y = (z * z).sum()
    return m.autograd.grad(y, [x]), z.grad, x.grad


def _twice(m):
    a = leaf(m, (3.0, 4.0))
    x = a * 2
    x.retain_grad()
    y = (x * x).sum()
    m.autograd.grad(y, [x], retain_graph=True)
    m.autograd.grad(y, [x])
    return x.grad


def _hooks(m, retain_first):
    a = leaf(m, (3.0, 4.0))
    x = a * 2
    if retain_first:
        x.retain_grad()
    x.register_hook(lambda g: g * 10)
    if not retain_first:
        x.retain_grad()
    y = (x * x).sum()
    return m.autograd.grad(y, [x]), x.grad


def _leaf_hook(m):
    a = leaf(m, (3.0, 4.0))
    a.register_hook(lambda g: g * 10)
    return m.autograd.grad((a * a).sum(), [a]), a.grad


def _replaced_not_accumulated(m):
    a = leaf(m, (3.0, 4.0))
    x = a * 2
    x.retain_grad()
    y = (x * x * x).sum()
    y.backward(retain_graph=True)
    first = x.grad
    y.backward()
    return first, x.grad, x.grad is first


def _create_graph(m):
    a = leaf(m, (3.0, 4.0))
    x = a * 2
    x.retain_grad()
    y = (x * x * x).sum()
    y.backward(create_graph=True)
    first = x.grad
    name = first.grad_fn.name()
    y.backward(create_graph=True)
    return name, x.grad.grad_fn.name(), x.grad is first, x.grad


def _unused(m):
    a, b = leaf(m, (3.0, 4.0)), leaf(m, (1.0, 2.0))
    m.autograd.grad((a * 2).sum(), [a, b])


AUTOGRAD_GRAD = {
    "an unused input": _unused,
    "retained input": _grad_of_retained,
    "retained on the path": _retained_on_path,
    "retained past the input": _retained_off_path,
    "twice": _twice,
    "retain_grad then hook": lambda m: _hooks(m, True),
    "hook then retain_grad": lambda m: _hooks(m, False),
    "leaf hook": _leaf_hook,
    "backward twice: replaced": _replaced_not_accumulated,
    "create_graph": _create_graph,
}


@pytest.mark.parametrize("name", list(AUTOGRAD_GRAD))
def test_retained_grad_under_autograd_grad(name):
    check(AUTOGRAD_GRAD[name])


# --------------------------------------------------------------------------- backward(inputs=)


def _inputs_retain(m):
    a = leaf(m, (3.0, 4.0))
    x = a * 2
    (x * x).sum().backward(inputs=[x], retain_graph=True)
    return x.retains_grad, x.grad, a.grad


def _inputs_run_node(m):
    # x's node runs (and frees what it saved): a second backward through it fails
    a = leaf(m, (3.0, 4.0))
    x = a * 2
    (x * x).sum().backward(inputs=[x])
    (x * x * x).sum().backward()
    return x.grad, a.grad


def _inputs_node_checks(m):
    a = leaf(m, (3.0, 4.0))
    b = m.tensor([1.0, 1.0])
    x = a * b
    y = (x * x).sum()
    b.add_(1)
    y.backward(inputs=[x])
    return x.grad


def _inputs_node_hooks(m):
    seen = []
    a = leaf(m, (3.0, 4.0))
    x = a * 2
    x.grad_fn.register_prehook(lambda go: seen.append(("pre", go[0].tolist())))
    x.grad_fn.register_hook(lambda gi, go: seen.append(("post", gi, go[0].tolist())))
    (x * x).sum().backward(inputs=[x])
    return x.grad, a.grad, seen


def _inputs_without_grad(m):
    a = leaf(m, (3.0, 4.0))
    b = m.tensor([1.0, 1.0])
    (a * b).sum().backward(inputs=[b])


def _inputs_leaf_retained_on_path(m):
    a = leaf(m, (3.0, 4.0))
    x = a * 2
    x.retain_grad()
    (x * x).sum().backward(inputs=[a])
    return x.grad, a.grad


BACKWARD_INPUTS = {
    "a non-leaf input retains its grad": _inputs_retain,
    "a non-leaf input's node runs": _inputs_run_node,
    "its saved tensors are checked": _inputs_node_checks,
    "its node hooks run": _inputs_node_hooks,
    "an input that does not require grad": _inputs_without_grad,
    "a retained tensor on the path to a leaf input": _inputs_leaf_retained_on_path,
}


@pytest.mark.parametrize("name", list(BACKWARD_INPUTS))
def test_backward_inputs(name):
    check(BACKWARD_INPUTS[name])


def _view_op_then_write(m, late):
    a = m.tensor([[3.0, 4.0]], requires_grad=True)
    x = a * 1
    if not late:
        x.retain_grad()
    x.squeeze_()
    x.mul_(2)
    if late:
        x.retain_grad()
    (x * x).sum().backward()
    return x.grad, a.grad


def test_retained_through_a_view_op_then_a_write():
    """torch fails an internal assert here (``out != nullptr``, variable.cpp: the retained
    gradient stayed on the node before ``squeeze_`` and cannot be moved). chainrule moves it
    from that node to the newest one: ``x.grad`` is the gradient of ``x`` as it is at
    backward, as torch gives when ``retain_grad()`` is called after the last write."""
    torch_run = outcome(lambda m: _view_op_then_write(m, False), torch)
    assert torch_run[0] == "raised" and "INTERNAL ASSERT" in torch_run[2]
    ours = outcome(lambda m: _view_op_then_write(m, False), cr)
    same(ours, outcome(lambda m: _view_op_then_write(m, True), torch))
