"""The tensor engine's semantics against torch: leaves, grad storage, backward rules, errors."""

import gc
import threading
import warnings
import weakref

import numpy as np
import pytest
import torch

import chainrule as cr


def both(data, **kw):
    return cr.tensor(data, **kw), torch.tensor(data, **kw)


def test_only_floating_tensors_can_require_grad():
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require"):
        cr.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        cr.zeros(2, dtype=cr.int64, requires_grad=True)


def test_requires_grad_propagates_and_no_grad_stops_it():
    a = cr.ones(2, requires_grad=True)
    b = cr.ones(2)
    assert (a + b).requires_grad and not (b * 2).requires_grad
    with cr.no_grad():
        c = a * 2
    assert not c.requires_grad and c.grad_fn is None and c.is_leaf


def test_only_leaves_get_grad_unless_retained():
    A, B = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor([3.0, 4.0], requires_grad=True)
    C = A + B
    L = C.sum()
    L.backward()
    np.testing.assert_array_equal(A.grad.numpy(), [1, 1])
    np.testing.assert_array_equal(B.grad.numpy(), [1, 1])
    with pytest.warns(UserWarning, match="is not a leaf Tensor is being accessed"):
        assert C.grad is None
    C2 = A * B
    C2.retain_grad()
    (C2 * C2).sum().backward()
    np.testing.assert_allclose(C2.grad.numpy(), 2 * (A * B).detach().numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert C2.grad is not None  # retained: no warning
    assert C2.retains_grad and not C.retains_grad


def test_implicit_gradient_only_for_scalars_and_vjp_with_gradient():
    x, xt = both([1.0, 2.0, 3.0], requires_grad=True)
    y, yt = x * x, xt * xt
    with pytest.raises(
        RuntimeError, match="grad can be implicitly created only for scalar outputs"
    ):
        y.backward()
    v = [0.5, -1.0, 2.0]
    y.backward(cr.tensor(v))
    yt.backward(torch.tensor(v))
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


def test_gradient_shape_mismatch_message():
    x = cr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of"):
        (x * 2).backward(cr.ones(2))


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        cr.ones(2).sum().backward()


def test_gradients_accumulate_across_calls():
    x, xt = both([1.0, -2.0], requires_grad=True)
    for lib_x in (x, xt):
        y = (lib_x**3).sum()
        y.backward(retain_graph=True)
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * np.array([1.0, 4.0]))


def test_second_backward_needs_retain_graph_like_torch():
    for lib in (cr, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp().sum()  # exp saves its result
        y.backward()
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second"):
            y.backward()
        # a graph that saved nothing (add, sum) can be run again, in torch as here
        z = (x + 1).sum()
        z.backward()
        z.backward()


def test_first_grad_is_not_aliased_between_leaves():
    a, b = cr.ones(3, requires_grad=True), cr.ones(3, requires_grad=True)
    (a + b).sum().backward()  # add hands the same gradient to both inputs
    a.grad.numpy()[0] = 100.0
    assert b.grad.numpy()[0] == 1.0


def test_deep_chain_backward_and_free_without_recursion():
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = y + 0.0
    y.backward()
    assert x.grad.item() == 1.0
    del y  # freeing a million-node graph must not recurse either
    gc.collect()


def test_intermediate_arrays_are_released_after_backward():
    x = cr.randn(1000, requires_grad=True)
    loss = x.exp().sin().sum()
    sin_node = loss.grad_fn.next_functions[0][0]
    exp_value = sin_node.inputs[0]
    ref_tensor, ref_array = weakref.ref(exp_value), weakref.ref(exp_value._data)
    del exp_value, sin_node
    assert ref_tensor() is not None
    loss.backward()
    gc.collect()
    assert ref_tensor() is None and ref_array() is None


def test_grad_mode_context_decorator_function_and_thread_local():
    assert cr.is_grad_enabled()
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        with cr.enable_grad():
            assert cr.is_grad_enabled()
        seen = []
        t = threading.Thread(target=lambda: seen.append(cr.is_grad_enabled()))
        t.start()
        t.join()
        assert seen == [True]  # another thread starts with grad on
    assert cr.is_grad_enabled()

    @cr.no_grad()
    def f(x):
        return x * 2

    assert not f(cr.ones(1, requires_grad=True)).requires_grad
    cr.set_grad_enabled(False)
    assert not cr.is_grad_enabled()
    cr.set_grad_enabled(True)
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()


def test_grad_mode_hint_follows_every_thread():
    """Op.apply reads ``graph.all_on`` (no thread has grad mode off) before the thread-local
    mode: another thread's no_grad must not stop this one recording, nor this thread's
    no_grad be missed, nor the hint stay off once every thread is back on."""
    from chainrule import graph

    x = cr.ones(2, requires_grad=True)
    entered, leave, seen = threading.Event(), threading.Event(), {}

    def worker():
        with cr.no_grad():
            seen["worker off"] = (x * 2).requires_grad, cr.is_grad_enabled()
            entered.set()
            leave.wait()
        seen["worker on"] = (x * 2).requires_grad, cr.is_grad_enabled()

    assert graph.all_on.value
    t = threading.Thread(target=worker, daemon=True)
    t.start()
    try:
        assert entered.wait(60)
        assert not graph.all_on.value  # the worker is in no_grad
        assert (x * 2).requires_grad and (x + x).requires_grad and cr.is_grad_enabled()
        with cr.no_grad():  # both threads off
            assert not (x * 2).requires_grad and not cr.tanh(x).requires_grad
            assert not cr.is_grad_enabled()
        assert (x * 2).requires_grad
        with cr.no_grad():  # this thread off, the worker turns back on meanwhile
            leave.set()
            t.join(60)
            assert not (x * 2).requires_grad
    finally:
        leave.set()
    assert seen == {"worker off": (False, False), "worker on": (True, True)}
    assert graph.all_on.value and graph.all_on.off == 0
    cr.set_grad_enabled(False)
    cr.set_grad_enabled(False)  # (a repeated write counts once)
    assert not graph.all_on.value and not (x * 2).requires_grad
    cr.set_grad_enabled(True)
    assert graph.all_on.value and (x * 2).requires_grad
    y = (x * x).tanh().sum()
    y.backward()  # the walk turns grad mode off and back on
    assert graph.all_on.value


def test_grad_fn_next_functions_like_torch():
    a, at = both([1.0, 2.0], requires_grad=True)
    b, bt = both([3.0, 4.0])
    c, ct = a * b, at * bt
    assert c.grad_fn.name() == ct.grad_fn.name() == "MulBackward0"
    (acc, i0), (none, i1) = c.grad_fn.next_functions
    (acct, _), (nonet, _) = ct.grad_fn.next_functions
    assert type(acc).__name__ == type(acct).__name__ == "AccumulateGrad"
    assert acc.variable is a and (i0, i1) == (0, 0) and none is None and nonet is None
    d = (c + 1).sum()
    assert d.grad_fn.name() == "SumBackward0"
    assert d.grad_fn.next_functions[0][0].name() == "AddBackward0"
    assert d.grad_fn.next_functions[0][0].next_functions[0][0] is c.grad_fn
    assert c.grad_fn.next_functions[0][0] is acc  # the same node while it is alive


def test_requires_grad_flag_rules_and_detach():
    a = cr.ones(2, requires_grad=True)
    b = a * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf"):
        b.requires_grad = False
    d = b.detach()
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.numpy(), b._data)
    assert b.data.grad_fn is None
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        a.numpy()


def test_backward_inputs_argument_accumulates_only_there():
    for lib in (cr, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        (a * b).sum().backward(inputs=[a])
        assert a.grad is not None and b.grad is None
        np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])


def test_autograd_grad_unused_and_does_not_touch_grad():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0], requires_grad=True)
    y = (a * a).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        cr.autograd.grad(y, [a, b], retain_graph=True)
    ga, gb = cr.autograd.grad(y, [a, b], allow_unused=True)
    np.testing.assert_allclose(ga.numpy(), [2.0, 4.0])
    assert gb is None and a.grad is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.autograd.grad((a * 2).sum(), [cr.ones(1)])


def test_grad_of_non_leaf_input():
    x, xt = both([1.0, 2.0], requires_grad=True)
    hs = [x.exp(), xt.exp()]
    ys = [(hs[0] ** 2).sum(), (hs[1] ** 2).sum()]
    (g,) = cr.autograd.grad(ys[0], hs[0])
    (gt,) = torch.autograd.grad(ys[1], hs[1])
    np.testing.assert_allclose(g.numpy(), gt.numpy(), rtol=1e-6)


def test_create_graph_gives_higher_derivatives():
    x, xt = both([0.3, -1.2], requires_grad=True)
    y = (cr.sin(x) * x**2).sum()
    (g,) = cr.autograd.grad(y, x, create_graph=True)
    (h,) = cr.autograd.grad(g.sum(), x, create_graph=True)
    (t3,) = cr.autograd.grad(h.sum(), x)
    yt = (torch.sin(xt) * xt**2).sum()
    (gt,) = torch.autograd.grad(yt, xt, create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), xt, create_graph=True)
    (tt,) = torch.autograd.grad(ht.sum(), xt)
    np.testing.assert_allclose(t3.numpy(), tt.numpy(), rtol=1e-5)


def test_leaf_backward_and_grad_setter_checks():
    x = cr.tensor(2.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0
    x.grad = None
    assert x.grad is None


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.ones(4),
        lambda m: m.ones(1, 3),
        lambda m: m.ones(3, dtype=m.float64),
        lambda m: m.ones(3, dtype=m.int64),
    ],  # fmt: skip
)
def test_grad_setter_refuses_another_size_or_dtype_with_torchs_text(make):
    x, xt = cr.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError) as theirs:
        xt.grad = make(torch)
    with pytest.raises(RuntimeError) as ours:
        x.grad = make(cr)
    assert str(ours.value) == str(theirs.value)
    assert x.grad is None


def test_item_len_bool_errors():
    t = cr.tensor([1.0, 2.0])
    with pytest.raises(
        RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"
    ):
        t.item()
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(cr.tensor(1.0))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value"):
        bool(t)
    assert float(cr.tensor([2.5])) == 2.5 and int(cr.tensor(3)) == 3


def test_reading_grad_of_integer_count_and_float64_leaf():
    # a float64 scalar leaf used with a float32 tensor keeps a float64 gradient
    w = cr.tensor(2.0, dtype=cr.float64, requires_grad=True)
    x = cr.ones(3, requires_grad=True)
    y = (x * w).sum()
    assert y.dtype == cr.float32
    y.backward()
    assert w.grad.dtype == cr.float64 and x.grad.dtype == cr.float32
    assert w.grad.item() == 3.0


def test_broadcast_errors_match_torch():
    for sa, sb in [((2, 3), (4,)), ((2, 3), (5, 3)), ((2, 1, 3), (4, 2))]:
        msgs = []
        for lib in (cr, torch):
            with pytest.raises(RuntimeError) as info:
                lib.ones(sa) * lib.ones(sb)
            msgs.append(str(info.value))
        assert msgs[0] == msgs[1]
    with pytest.raises(RuntimeError, match="The size of tensor a \\(3\\) must match"):
        cr.where(cr.ones(2, 3) > 0, cr.ones(4), 0.0)


def test_grad_fn_names_survive_backward():
    for lib in (cr, torch):
        x = lib.tensor(2.0, requires_grad=True)
        y, z = x**2, x.clamp(0, 1)
        (y + z).backward()
        assert y.grad_fn.name() == "PowBackward0" and z.grad_fn.name() == "ClampBackward1"


def test_leaves_accumulate_as_soon_as_ready_so_a_failing_backward_leaves_torch_s_grads():
    """torch's ready queue runs a leaf's AccumulateGrad before any other node, so when a
    later node raises (a saved tensor modified in place), the leaves already complete hold
    their gradients and the others none, as here. (Among other nodes torch goes by creation
    order, newest first; chainrule's walk is last-ready-first, which can differ.)"""
    import torch

    def program(m):
        a0 = m.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        a1 = m.tensor([[1.0, 0.5, 1.0, 2.0], [1.0, 1.0, 0.0, 1.0]], requires_grad=True)
        x0 = a1.exp()
        x1 = x0 / (x0 * x0 + 0.5)
        x2 = (x1 * x1 + 0.5).log()
        x3 = m.maximum(a0, x2)
        x1.mul_(x3)  # x1 was saved by x1 * x1
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            x1.sum().backward()
        return a0.grad, a1.grad

    (t0, t1), (c0, c1) = program(torch), program(cr)
    assert t1 is None and c1 is None
    np.testing.assert_allclose(c0.numpy(), t0.numpy(), rtol=1e-6)


_SPLITS = {
    "chunk": lambda a: a.chunk(2, 1),
    "unbind": lambda a: a.unbind(0),
    "split": lambda a: a.split([1, 1], 0),
}
_HOOK_RESULTS = {
    "none": lambda m, g: None,
    "times2": lambda m, g: g * 2,  # a TypeError on None, raised through backward
    "ones": lambda m, g: m.ones(1),  # torch: "can't replace a None gradient ..."
}


@pytest.mark.parametrize("ret", list(_HOOK_RESULTS))
@pytest.mark.parametrize("how", list(_SPLITS))
def test_hook_of_an_unreached_split_output_is_called_with_none(how, ret):
    """torch's split/chunk/unbind are one node: when it runs, the tensor hooks of an output
    no gradient reached are called with None (and may not return a gradient), before its
    rule: a hook that raises leaves ``.grad`` as it was."""

    def program(m):
        a = m.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        xs = _SPLITS[how](a)
        seen = []

        def hook(g):
            seen.append(None if g is None else g.tolist())
            return _HOOK_RESULTS[ret](m, g)

        xs[1].register_hook(hook)
        try:
            (xs[0] * 3).sum().backward()
        except (TypeError, RuntimeError) as e:  # raised before the node's rule: no .grad
            return [type(e).__name__, str(e)[:60], seen, a.grad is None]
        (xs[1] * 2).sum().backward()
        return [a.grad.tolist(), seen]

    assert program(cr) == program(torch)


def test_accumulating_into_a_grad_of_another_shape_raises_as_torch():
    """A leaf reshaped in place under no_grad after a first backward: the next gradient
    does not fit its ``.grad``; torch's in-place add raises RuntimeError, naming shapes."""
    msgs = []
    for m in (torch, cr):
        a = m.tensor([1.0, 1.0, 1.0, 1.0], requires_grad=True)
        a.sum().backward(retain_graph=True)
        with m.no_grad():
            a.unsqueeze_(0)
        with pytest.raises(RuntimeError) as e:
            a.sum().backward()
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]
