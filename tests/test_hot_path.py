"""The written-out hot path (docs/design.md "Speed") computes exactly what the general one
does: Mul's rule on arrays in a plain backward against the same rule through ops (taken
under create_graph) and torch; the plain walk against the general walk (taken with an
observer) in the order leaves are reached; a node class with a constructor of its own."""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autograd import graph
from chainrule.ops.op import Op


def _grads(a_np, b_np, create_graph):
    a = cr.tensor(a_np, requires_grad=True)
    b = cr.tensor(b_np, requires_grad=True) if isinstance(b_np, np.ndarray) else b_np
    out = a * b
    seed = cr.tensor(np.linspace(-1, 2, out.numel()).reshape(out.shape).astype(out.dtype.np))
    wanted = [a, b] if isinstance(b, cr.Tensor) else [a]
    gs = cr.autograd.grad(out, wanted, seed, create_graph=create_graph)
    return [g.detach().numpy() for g in gs], [g.stride() for g in gs]


rng = np.random.default_rng(0)
CASES = {
    "same shape": (
        rng.standard_normal(16, dtype=np.float32),
        rng.standard_normal(16, dtype=np.float32),
    ),
    "2-d": (
        rng.standard_normal((3, 4), dtype=np.float32),
        rng.standard_normal((3, 4), dtype=np.float32),
    ),
    "transposed": (
        rng.standard_normal((4, 3), dtype=np.float32).T,
        rng.standard_normal((3, 4), dtype=np.float32),
    ),
    "broadcast": (rng.standard_normal((3, 4)), rng.standard_normal(4)),
    "0-d": (np.array(1.5, np.float32), np.array(-2.0, np.float32)),
    "python float": (rng.standard_normal(5, dtype=np.float32), 0.3),
    "python int": (rng.standard_normal(5), 3),
    "float64": (rng.standard_normal((2, 3)), rng.standard_normal((2, 3))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_mul_rule_on_arrays_is_the_rule_through_ops(case):
    a_np, b_np = CASES[case]
    fast, fast_strides = _grads(a_np, b_np, create_graph=False)
    slow, slow_strides = _grads(a_np, b_np, create_graph=True)
    for f, s in zip(fast, slow):
        assert f.dtype == s.dtype and f.shape == s.shape
        assert f.tobytes() == s.tobytes()
    assert fast_strides == slow_strides
    ta = torch.tensor(a_np, requires_grad=True)
    tb = torch.tensor(b_np, requires_grad=True) if isinstance(b_np, np.ndarray) else b_np
    tout = ta * tb
    seed = torch.tensor(np.linspace(-1, 2, tout.numel()).reshape(tout.shape)).to(tout.dtype)
    wanted = [ta, tb] if isinstance(tb, torch.Tensor) else [ta]
    for f, t in zip(fast, torch.autograd.grad(tout, wanted, seed)):
        np.testing.assert_array_equal(f, t.numpy())


def test_tanh_rule_on_arrays_is_the_rule_through_ops():
    x_np = rng.standard_normal(16, dtype=np.float32)
    out = []
    for create_graph in (False, True):
        x = cr.tensor(x_np, requires_grad=True)
        (g,) = cr.autograd.grad(cr.tanh(x).sum(), [x], create_graph=create_graph)
        out.append(g.detach().numpy())
    assert out[0].tobytes() == out[1].tobytes()
    tx = torch.tensor(x_np, requires_grad=True)
    torch.tanh(tx).sum().backward()
    np.testing.assert_allclose(out[0], tx.grad.numpy(), rtol=1e-6, atol=1e-7)


def _leaf_order(observed):
    """The order .grad is filled in a graph with shared, repeated and nested leaves."""
    ws = [cr.tensor([float(i + 1)], requires_grad=True) for i in range(6)]
    order = []
    for i, w in enumerate(ws):
        w.register_post_accumulate_grad_hook(lambda t, i=i: order.append(i))
    h = (ws[0] * ws[1]).tanh() + ws[2]
    # (a leaf and a node ready at once: the leaf runs first, as torch's ready queue)
    y = (h * ws[0] + (ws[3] * h).tanh() * ws[2]).sum() + (ws[4] * (ws[5] * 2.0)).sum()
    if observed:
        with graph.observe(graph.BackwardObserver()):
            y.backward()
    else:
        y.backward()
    return order, [w.grad.numpy().tobytes() for w in ws]


def test_plain_walk_reaches_leaves_in_the_general_walks_order():
    assert _leaf_order(observed=False) == _leaf_order(observed=True)


class _Constructed(Op):
    """A node class with a constructor of its own: Op.apply does not call it."""

    save_inputs = False

    def __init__(self):  # pragma: no cover - never called
        raise AssertionError("Op.apply called the node class's constructor")

    def forward(self, x):
        return x * 2

    def backward(self, g):
        return g * 2


def test_node_class_with_its_own_constructor():
    assert not _Constructed._bare
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    _Constructed.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def _op_classes(cls=Op):
    for sub in cls.__subclasses__():
        yield sub
        yield from _op_classes(sub)


def test_apply_flags_are_the_class_flags():
    """Op.apply reads a class's flags from the tuple __init_subclass__ made: no class may
    change a flag after it is made (the tuple would go stale)."""
    import chainrule.nn  # noqa: F401  (every op family loaded)

    classes = list(_op_classes())
    assert len(classes) > 100
    for cls in classes:
        ufunc = cls.forward if isinstance(cls.forward, np.ufunc) else None
        live = (cls._bare, cls.layout, cls.saved_for, cls.save_inputs, cls.save_output,
                cls.elementwise, ufunc, getattr(cls, "_plans", None), cls.fp_quiet)  # fmt: skip
        assert cls._apply_flags == live, cls.__name__


SHAPE_CASES = {  # (a, b): one shape (nothing summed back), broadcast, a number, 0-d
    "one shape": ((16,), (16,)),
    "one shape 2-d": ((3, 4), (3, 4)),
    "broadcast": ((3, 4), (4,)),
    "size-1 dims": ((3, 1), (1, 4)),
    "0-d and 1-d": ((), (5,)),
    "number": ((5,), None),
}


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
@pytest.mark.parametrize("case", sorted(SHAPE_CASES))
def test_binary_gradients_have_each_inputs_shape(name, case):
    """A binary elementwise node of two operands of one shape keeps no input shapes
    (``_shapes`` None: nothing to sum back); any other pair sums each gradient back."""
    sa, sb = SHAPE_CASES[case]
    a_np = rng.standard_normal(sa) + 3.0
    b_np = rng.standard_normal(sb) + 3.0 if sb is not None else 0.5
    a = cr.tensor(a_np, requires_grad=True)
    b = cr.tensor(b_np, requires_grad=True) if sb is not None else b_np
    out = getattr(cr, name)(a, b)
    assert (out.grad_fn._shapes is None) == (sa == sb)
    seed = np.linspace(-1, 2, out.numel()).reshape(out.shape)
    wanted = [a, b] if sb is not None else [a]
    gs = cr.autograd.grad(out, wanted, cr.tensor(seed))
    ta = torch.tensor(a_np, requires_grad=True)
    tb = torch.tensor(b_np, requires_grad=True) if sb is not None else b_np
    tout = getattr(torch, name)(ta, tb)
    twanted = [ta, tb] if sb is not None else [ta]
    for g, t in zip(gs, torch.autograd.grad(tout, twanted, torch.tensor(seed))):
        assert g.shape == t.shape
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-12)


def _hooked(kind, lib):
    """A chain whose middle node has one of the things the plain walk leaves to the general
    step (a tensor hook, a retained gradient, a node pre-hook or hook, an output group);
    returns what the hooks saw and the leaf's gradient."""
    seen = []
    x = lib.tensor([0.5, -1.0, 2.0, 0.25], requires_grad=True)
    y = x * lib.tensor([3.0, 1.0, -2.0, 0.5])
    if kind == "tensor hook":
        y.register_hook(lambda g: (seen.append(g.tolist()), g * 2)[1])
    elif kind == "retain_grad":
        y.retain_grad()
    elif kind == "prehook":
        y.grad_fn.register_prehook(lambda gs: (seen.append(gs[0].tolist()), (gs[0] * 2,))[1])
    elif kind == "node hook":
        y.grad_fn.register_hook(lambda gi, go: (seen.append(go[0].tolist()), (gi[0] * 2, gi[1]))[1])
    if kind == "output group":
        a, b = y.split(2)
        b.register_hook(lambda g: seen.append(g))  # never reached: called with None
        a.tanh().sum().backward()
    else:
        y.tanh().sum().backward()
    retained = y.grad.tolist() if kind == "retain_grad" else None
    return seen, retained, x.grad.tolist()


@pytest.mark.parametrize("kind", ["tensor hook", "retain_grad", "prehook", "node hook",
                                  "output group"])  # fmt: skip
def test_plain_walk_leaves_hooked_nodes_to_the_general_step(kind):
    ours, theirs = _hooked(kind, cr), _hooked(kind, torch)
    assert len(ours[0]) == len(theirs[0]) == (kind != "retain_grad")  # the hook ran (on an output
    for a, b in zip(ours[0], theirs[0]):  # no gradient reached: with None, as torch)
        if a is None or b is None:
            assert a is b
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert (ours[1] is None) == (theirs[1] is None)
    if ours[1] is not None:
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["add", "mul"])
def test_add_and_mul_first_case_is_binarys(name):
    """``+`` and ``*`` apply their op straight away for two tensors of one dtype (binary's
    first case written in): other dtypes still promote as torch, each gradient in its own
    dtype, and shapes that do not broadcast still raise torch's error."""
    dunder = {"add": "__add__", "mul": "__mul__"}[name]
    for da, db in [("float32", "float32"), ("float32", "float64"), ("int64", "float32"),
                   ("float16", "float32"), ("int32", "int64")]:  # fmt: skip
        a_np = (rng.standard_normal((2, 3)) * 3).astype(da)
        b_np = (rng.standard_normal(3) * 3).astype(db)
        grad = da[0] == "f" and db[0] == "f"
        a, b = cr.tensor(a_np, requires_grad=grad), cr.tensor(b_np, requires_grad=grad)
        ta, tb = torch.tensor(a_np, requires_grad=grad), torch.tensor(b_np, requires_grad=grad)
        for out, tout in [(getattr(cr, name)(a, b), getattr(torch, name)(ta, tb)),
                          (getattr(a, dunder)(b), getattr(ta, dunder)(tb))]:  # fmt: skip
            assert str(out.dtype)[10:] == str(tout.dtype)[6:]
            np.testing.assert_array_equal(out.numpy() if not grad else out.detach().numpy(),
                                          tout.detach().numpy())  # fmt: skip
        if grad:
            out.sum().backward()
            tout.sum().backward()
            for x, tx in [(a, ta), (b, tb)]:
                assert str(x.grad.dtype)[10:] == str(tx.grad.dtype)[6:]
                np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    for sa, sb, at in [((2,), (3,), 0), ((2, 3), (2,), 1)]:
        with pytest.raises(RuntimeError) as ours:
            getattr(cr.ones(sa), dunder)(cr.ones(sb))
        with pytest.raises(RuntimeError) as theirs:
            getattr(torch.ones(sa), dunder)(torch.ones(sb))
        assert str(ours.value) == str(theirs.value)
        assert f"non-singleton dimension {at}" in str(ours.value)


class _StridedResult(Op):
    """An elementwise-layout op whose forward returns a strided 1-d view of new memory."""

    layout = "elementwise"
    save_inputs = False

    def forward(self, x):
        return np.repeat(x, 2)[::-2]

    def backward(self, g):  # pragma: no cover - not run
        raise AssertionError


@pytest.mark.parametrize("make", ["strided view", "strided input"])
def test_one_dim_elementwise_results_are_contiguous(make):
    """Op.apply reads a 1-d result's flags only when it is a view (NumPy makes its own
    1-d results contiguous): a strided 1-d view still comes out contiguous, as torch's."""
    x_np = np.arange(6.0, dtype=np.float32)
    if make == "strided view":
        out = _StridedResult.apply(cr.tensor(x_np))
        np.testing.assert_array_equal(out.numpy(), np.repeat(x_np, 2)[::-2])
    else:
        out = cr.tensor(x_np)[::2] * cr.tensor(x_np[:3])
    assert out._data.flags.c_contiguous and out.stride() == (1,)
    assert out.is_contiguous()
