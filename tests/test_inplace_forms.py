"""The in-place forms of comparisons, logical and bitwise ops, scans, tril/triu and the view
ops (``squeeze_``, ``t_`` ...), side by side with torch: the result is self, keeps self's
dtype, bumps the version; torch's errors; gradients through what follows."""

import numpy as np
import pytest
import torch

import chainrule as cr


def outcome(fn, *args):
    """``fn(*args)``'s value, or the error it raised (type and first line)."""
    try:
        return fn(*args)
    except (RuntimeError, IndexError, NotImplementedError, TypeError) as e:
        return type(e).__name__, str(e).split("\n")[0]


def both(fn):
    """``fn`` run with torch and with chainrule (as the module ``m``)."""
    return outcome(fn, torch), outcome(fn, cr)


def dtype_name(x):
    return str(x.dtype).rsplit(".", 1)[-1]


# --------------------------------------------------------------------------- values, dtypes


def f32(m):
    return m.tensor([1.0, 2.0, 3.0, 0.0])


def i64(m):
    return m.tensor([1, 2, 3, 0])


def i32(m):
    return m.tensor([1, 6, 3, 0], dtype=m.int32)


def b(m):
    return m.tensor([True, False, True, False])


def mat(m):
    return m.arange(24.0).reshape(2, 3, 4) - 10


# label -> (self, the in-place call on it)
CASES = {
    "eq_ tensor": (f32, lambda m, x: x.eq_(m.tensor([1.0, 0.0, 3.0, 1.0]))),
    "eq_ number": (f32, lambda m, x: x.eq_(2.0)),
    "ne_": (f32, lambda m, x: x.ne_(m.tensor([1.0, 0.0, 3.0, 1.0]))),
    "not_equal_": (f32, lambda m, x: x.not_equal_(3.0)),
    "lt_ broadcast other": (f32, lambda m, x: x.lt_(m.tensor([2.0]))),
    "less_": (f32, lambda m, x: x.less_(2)),
    "le_": (i64, lambda m, x: x.le_(m.tensor([1, 1, 3, 3]))),
    "less_equal_": (f32, lambda m, x: x.less_equal_(2.0)),
    "gt_ int self, float other": (i64, lambda m, x: x.gt_(m.tensor([0.5, 2.5, 2.5, 0.0]))),
    "greater_": (f32, lambda m, x: x.greater_(1.5)),
    "ge_": (f32, lambda m, x: x.ge_(m.tensor(2.0))),
    "greater_equal_ bool self": (b, lambda m, x: x.greater_equal_(m.tensor([1.0, 1, 0, 0]))),
    "eq_ int self, float number": (i64, lambda m, x: x.eq_(2.5)),
    "eq_ bool self": (b, lambda m, x: x.eq_(m.tensor([1.0, 0.0, 0.0, 0.0]))),
    "lt_ would broadcast self": (f32, lambda m, x: x.lt_(m.ones(2, 4))),
    "logical_and_": (f32, lambda m, x: x.logical_and_(m.tensor([1.0, 0.0, 2.0, 1.0]))),
    "logical_and_ int self, float other": (
        i64,
        lambda m, x: x.logical_and_(m.tensor([1.0, 0.0, 3.0, 1.0])),
    ),
    "logical_or_": (b, lambda m, x: x.logical_or_(m.tensor([0, 1, 0, 0]))),
    "logical_xor_": (i32, lambda m, x: x.logical_xor_(m.tensor([True, True, False, False]))),
    "logical_not_ float": (f32, lambda m, x: x.logical_not_()),
    "logical_not_ int": (i64, lambda m, x: x.logical_not_()),
    "logical_not_ bool": (b, lambda m, x: x.logical_not_()),
    "logical_or_ would broadcast self": (b, lambda m, x: x.logical_or_(m.ones(3, 4))),
    "bitwise_and_": (i64, lambda m, x: x.bitwise_and_(m.tensor([3, 3, 1, 7]))),
    "bitwise_and_ int32 and int64": (i32, lambda m, x: x.bitwise_and_(m.tensor([3, 3, 1, 7]))),
    "bitwise_or_ number": (i32, lambda m, x: x.bitwise_or_(4)),
    "bitwise_xor_ bool": (b, lambda m, x: x.bitwise_xor_(m.tensor([True, True, False, True]))),
    "bitwise_and_ bool and long": (b, lambda m, x: x.bitwise_and_(m.tensor([1, 0, 1, 0]))),
    "bitwise_and_ long and float": (i64, lambda m, x: x.bitwise_and_(m.tensor([1.0, 0, 1, 0]))),
    "bitwise_or_ float": (f32, lambda m, x: x.bitwise_or_(1)),
    "bitwise_not_": (i64, lambda m, x: x.bitwise_not_()),
    "bitwise_not_ bool": (b, lambda m, x: x.bitwise_not_()),
    "bitwise_not_ float": (f32, lambda m, x: x.bitwise_not_()),
    "x &= y": (i64, lambda m, x: x.__iand__(m.tensor([3, 3, 1, 7]))),
    "x |= n": (i32, lambda m, x: x.__ior__(8)),
    "x ^= y": (b, lambda m, x: x.__ixor__(m.tensor([True, True, False, False]))),
    "x &= y float": (f32, lambda m, x: x.__iand__(1)),
    "cumsum_": (mat, lambda m, x: x.cumsum_(1)),
    "cumsum_ dim=-1": (mat, lambda m, x: x.cumsum_(dim=-1)),
    "cumsum_ int32 stays int32": (i32, lambda m, x: x.cumsum_(0)),
    "cumsum_ 0-d": (lambda m: m.tensor(3.0), lambda m, x: x.cumsum_(0)),
    "cumsum_ same dtype=": (f32, lambda m, x: x.cumsum_(0, dtype=m.float32)),
    "cumsum_ other dtype=": (f32, lambda m, x: x.cumsum_(0, dtype=m.float64)),
    "cumsum_ int, dtype=float": (i32, lambda m, x: x.cumsum_(0, dtype=m.float32)),
    "cumsum_ bool": (b, lambda m, x: x.cumsum_(0)),
    "cumsum_ bad dim": (mat, lambda m, x: x.cumsum_(3)),
    "cumprod_": (mat, lambda m, x: x.cumprod_(2)),
    "cumprod_ int": (i64, lambda m, x: x.cumprod_(0)),
    "cumprod_ bool": (b, lambda m, x: x.cumprod_(0)),
    "cumprod_ dtype=bool": (f32, lambda m, x: x.cumprod_(0, dtype=m.bool)),
    "tril_": (mat, lambda m, x: x.tril_()),
    "tril_ diagonal=1": (mat, lambda m, x: x.tril_(diagonal=1)),
    "triu_": (mat, lambda m, x: x.triu_()),
    "triu_ -1 int": (lambda m: m.arange(12).reshape(3, 4), lambda m, x: x.triu_(-1)),
    "tril_ 1-d": (f32, lambda m, x: x.tril_()),
}


@pytest.mark.parametrize("label", list(CASES))
def test_in_place_form_as_torch(label):
    make, call = CASES[label]

    def run(m):
        x = make(m)
        before = x._version
        r = call(m, x)
        return r is x, dtype_name(x), x._version - before, x.tolist()

    theirs, ours = both(run)
    assert ours == theirs


# --------------------------------------------------------------------------- gradients


def grads(m, scenario):
    """A scenario on a leaf ``a``: the result's grad_fn name, values and a's gradient."""
    a = m.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, 2.0]], requires_grad=True)
    out = scenario(m, a)
    w = m.arange(float(out.numel())).reshape(out.shape) + 1
    (out * w).sum().backward()
    return out.grad_fn.name(), out.tolist(), a.grad.tolist()


SCENARIOS = {
    "eq_ number": lambda m, a: (a * 2).eq_(4.0),
    "eq_ tensor": lambda m, a: (a * 2).eq_(m.tensor([2.0, 1.0, 6.0])),
    "ne_": lambda m, a: (a + 1).ne_(1.0),
    "lt_": lambda m, a: (a * a).lt_(m.tensor(1.0)),
    "greater_equal_": lambda m, a: (a - 1).greater_equal_(0.0),
    "cumsum_": lambda m, a: (a * a).cumsum_(1),
    "cumsum_ dim 0": lambda m, a: (a * 3).cumsum_(0),
    "cumprod_": lambda m, a: (a + 1).cumprod_(1),
    "cumprod_ with a zero": lambda m, a: (a * 1).cumprod_(1),
    "tril_": lambda m, a: (a * a).tril_(),
    "triu_ then square": lambda m, a: (a * 2).triu_(1) ** 2,
    "tril_ of a view": lambda m, a: _through_view(m, a, lambda v: v.tril_()),
    "cumsum_ of a view": lambda m, a: _through_view(m, a, lambda v: v.cumsum_(0)),
    "eq_ of a view": lambda m, a: _through_view(m, a, lambda v: v.eq_(4.0)),
    "mul then eq_ then mul": lambda m, a: (a * 2).eq_(4.0) * a,
}


def _through_view(m, a, write):
    y = a * 2
    write(y[:, 1:])
    return y * a


@pytest.mark.parametrize("label", list(SCENARIOS))
def test_gradients_as_torch(label):
    scenario = SCENARIOS[label]
    theirs, ours = both(lambda m: grads(m, scenario))
    if ours[0] == "CopySlicesBackward0":  # torch spells it "torch::autograd::CopySlices"
        ours = ("torch::autograd::CopySlices", *ours[1:])
    assert ours[0] == theirs[0]
    np.testing.assert_allclose(ours[1], theirs[1])
    np.testing.assert_allclose(ours[2], theirs[2])


LEAF_ERRORS = {
    "eq_ leaf": lambda m, a: a.eq_(1.0),
    "cumsum_ leaf": lambda m, a: a.cumsum_(0),
    "tril_ leaf": lambda m, a: a.tril_(),
    "lt_ view of leaf": lambda m, a: a[0].lt_(1.0),
    "cumprod_ view of leaf": lambda m, a: a[:, :2].cumprod_(1),
    "t_ leaf": lambda m, a: a.t_(),
    "squeeze_ leaf": lambda m, a: a.squeeze_(),
    "unsqueeze_ view of leaf": lambda m, a: a[0].unsqueeze_(0),
    "transpose_ view of leaf": lambda m, a: a[:, :2].transpose_(0, 1),
}


@pytest.mark.parametrize("label", list(LEAF_ERRORS))
def test_leaf_that_requires_grad_refused_as_torch(label):
    def run(m):
        return LEAF_ERRORS[label](m, m.ones(2, 3, requires_grad=True))

    theirs, ours = both(run)
    assert theirs[0] == "RuntimeError"
    assert ours == theirs


@pytest.mark.parametrize("label", list(LEAF_ERRORS))
def test_leaf_under_no_grad_as_torch(label):
    def run(m):
        a = m.ones(2, 3, requires_grad=True)
        with m.no_grad():
            LEAF_ERRORS[label](m, a)
        return tuple(a.shape), a.is_leaf, a.requires_grad, a._version, a.tolist()

    theirs, ours = both(run)
    assert ours == theirs


def test_saved_tensor_written_by_an_in_place_form_refuses_backward():
    def run(m):
        y = m.ones(2, 3, requires_grad=True) * 2
        z = y * y
        y.cumsum_(0)
        z.sum().backward()

    theirs, ours = both(run)
    assert theirs[0] == ours[0] == "RuntimeError"
    assert ours[1].split("[")[0] == theirs[1].split("[")[0]  # "... modified by an inplace"


def test_logical_forms_have_no_gradient():
    """torch's logical ops in place are invisible to autograd: the tensor keeps its old
    node, so ``(a * 1).logical_not_()`` passes on the gradient of ``a * 1``, and a leaf
    that requires grad may be overwritten. chainrule treats them as the comparisons: a node
    of zero gradient, so the gradient is right (0), and a leaf is refused."""
    a = cr.tensor([1.0, 0.0, 2.0], requires_grad=True)
    y = (a * 3).logical_not_()
    assert y.grad_fn.name() == "LogicalNotBackward0"
    (y * cr.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        a.logical_and_(cr.tensor([1.0, 0.0, 1.0]))
    ta = torch.tensor([1.0, 0.0, 2.0], requires_grad=True)
    ty = (ta * 3).logical_not_()
    assert ty.grad_fn.name() == "MulBackward0"  # torch's: the gradient of a * 3


def test_forward_mode_tangent_of_a_comparison_in_place_is_none():
    fwAD = cr.autograd.forward_ad
    with fwAD.dual_level():
        x = fwAD.make_dual(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 1.0]))
        y = x * 1
        y.eq_(2.0)
        assert fwAD.unpack_dual(y).tangent is None
        assert y.tolist() == [0.0, 1.0]


# --------------------------------------------------------------------------- view ops in place

VIEW_OPS = [
    ("t_", ()),
    ("squeeze_", ()),
    ("squeeze_", (0,)),
    ("squeeze_", (1,)),
    ("squeeze_", ((0, 3),)),
    ("unsqueeze_", (1,)),
    ("unsqueeze_", (-1,)),
    ("transpose_", (1, 2)),
    ("transpose_", (-1, 0)),
    ("swapdims_", (1, 2)),
    ("swapaxes_", (1, -2)),
]


def _is_view(m, t):
    return t._is_view() if m is torch else getattr(t, "_base", None) is not None


@pytest.mark.parametrize("through_view", [False, True], ids=["tensor", "view"])
@pytest.mark.parametrize("name,args", VIEW_OPS, ids=lambda x: str(x))
def test_view_op_in_place_as_torch(name, args, through_view):
    def run(m):
        x = (m.arange(6.0).reshape(1, 2, 3, 1) - 2).requires_grad_()
        y = x * 2
        if through_view or name == "t_":
            y = y[0, :, :, 0] if name == "t_" else y[:, :, 1:]
        before = y._version
        r = getattr(y, name)(*args)
        shape = tuple(r.shape)
        out = ((r * (m.arange(float(r.numel())).reshape(shape) + 1)) ** 2).sum()
        out.backward()
        nexts = [f.name() if f is not None else None for f, _ in r.grad_fn.next_functions]
        return (
            r is y,
            shape,
            r.grad_fn.name(),
            nexts,
            r._version - before,
            _is_view(m, r),
            r.requires_grad,
            r.is_leaf,
            r.tolist(),
            np.round(x.grad.numpy(), 6).tolist(),
        )

    theirs, ours = both(run)
    assert ours == theirs


@pytest.mark.parametrize("name,args", VIEW_OPS, ids=lambda x: str(x))
def test_view_op_in_place_without_grad_as_torch(name, args):
    def run(m):
        y = m.arange(6.0).reshape(1, 2, 3, 1)
        if name == "t_":
            y = y[0, :, :, 0]
        r = getattr(y, name)(*args)
        r.mul_(2)  # the values written land where torch's do
        return r is y, tuple(r.shape), r._version, r.grad_fn, r.requires_grad, r.tolist()

    theirs, ours = both(run)
    assert ours == theirs


VIEW_ERRORS = {
    "t_ 3-d": lambda m: m.ones(1, 3, 1).t_(),
    "transpose_ dim": lambda m: m.ones(1, 3, 1).transpose_(0, 3),
    "swapaxes_ dim": lambda m: m.ones(1, 3, 1).swapaxes_(-4, 0),
    "squeeze_ dim": lambda m: m.ones(1, 3, 1).squeeze_(5),
    "squeeze_ repeated dims": lambda m: m.ones(1, 3, 1).squeeze_((0, 0)),
    "unsqueeze_ dim": lambda m: m.ones(1, 3, 1).unsqueeze_(5),
}


@pytest.mark.parametrize("label", list(VIEW_ERRORS))
def test_view_op_in_place_errors_as_torch(label):
    theirs, ours = both(VIEW_ERRORS[label])
    assert isinstance(theirs, tuple)
    assert ours == theirs


HISTORIES = {
    # a view changed in place, then written through: the base's history is rebuilt
    "view unsqueeze_, then mul_": lambda m, x: _view_then_write(m, x),
    # the base transposed in place while a view of it lives, then written
    "base t_, view lives, base mul_": lambda m, x: _base_then_write(m, x),
    # a view transposed in place, then its base written
    "view t_, base mul_": lambda m, x: _view_t_then_base_write(m, x),
    # a tensor transposed in place, then written through a view of it
    "t_ then write through a slice": lambda m, x: _t_then_slice_write(m, x),
    "t_ then setitem": lambda m, x: _t_then_setitem(m, x),
    "transpose_ twice then cumsum_": lambda m, x: (x * 2).transpose_(0, 1).t_().cumsum_(1),
    "squeeze_ of unsqueeze_": lambda m, x: (x + 1).unsqueeze_(0).unsqueeze_(-1).squeeze_() ** 2,
}


def _view_then_write(m, x):
    y = x * 2
    v = y[0]
    v.unsqueeze_(0)
    v.mul_(m.tensor([[1.0, 2.0, 3.0]]))
    return y * x


def _base_then_write(m, x):
    y = x * 2
    w = y[1]
    y.t_()
    y.mul_(m.arange(6.0).reshape(3, 2))
    return w * m.tensor([1.0, 2.0, 3.0])


def _view_t_then_base_write(m, x):
    y = x * 2
    v = y[:, :2]
    v.t_()
    y.mul_(3)
    return v * m.arange(4.0).reshape(2, 2)


def _t_then_slice_write(m, x):
    y = x * 2
    y.t_()
    y[1:].mul_(x[:, 0])
    return y * y


def _t_then_setitem(m, x):
    y = x.exp()
    y.t_()
    y[0] = x[1] * 3
    return y


@pytest.mark.parametrize("label", list(HISTORIES))
def test_history_after_view_op_in_place_as_torch(label):
    def run(m):
        x = m.tensor([[1.0, -2.0, 3.0], [0.5, 0.25, 2.0]], requires_grad=True)
        out = HISTORIES[label](m, x)
        (out * (m.arange(float(out.numel())).reshape(out.shape) + 1)).sum().backward()
        return tuple(out.shape), np.round(out.detach().numpy(), 6).tolist(), x.grad.tolist()

    theirs, ours = both(run)
    assert ours == theirs


def test_view_op_in_place_bumps_the_version_a_saved_tensor_checks():
    def run(m):
        y = m.ones(2, 3, requires_grad=True) * 2
        z = y * y
        y.t_()
        z.sum().backward()

    theirs, ours = both(run)
    assert theirs[0] == ours[0] == "RuntimeError"
    assert ours[1].split("[")[0] == theirs[1].split("[")[0]


def test_view_op_in_place_on_a_detached_alias():
    def run(m):
        x = m.ones(2, 3, requires_grad=True)
        d = x.detach()
        d.t_()
        return tuple(d.shape), tuple(x.shape), x._version, d._version

    theirs, ours = both(run)
    assert ours == theirs


def test_view_op_in_place_of_an_expanded_tensor():
    def run(m):
        e = m.arange(3.0).expand(2, 2, 3)
        e.transpose_(0, 2)
        return tuple(e.shape), e.tolist()

    theirs, ours = both(run)
    assert ours == theirs


def test_view_op_in_place_under_no_grad_keeps_the_history_right():
    """torch keeps a non-leaf's old node when ``t_`` runs under no_grad, and a later backward
    fails on the shapes ("returned an invalid gradient"); chainrule records the view there,
    so the gradient is that of the transposed tensor."""
    x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    y = x * 2
    with cr.no_grad():
        y.t_()
    assert tuple(y.shape) == (3, 2)
    (y * cr.arange(6.0).reshape(3, 2)).sum().backward()
    tx = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    ((tx * 2).t() * torch.arange(6.0).reshape(3, 2)).sum().backward()
    assert x.grad.tolist() == tx.grad.tolist()


def test_view_op_in_place_forward_mode():
    def run(m):
        fwAD = m.autograd.forward_ad
        with fwAD.dual_level():
            x = fwAD.make_dual(m.arange(6.0).reshape(2, 3), m.ones(2, 3) * m.arange(3.0))
            y = x * 2
            y.t_()
            y.unsqueeze_(0)
            return tuple(y.shape), fwAD.unpack_dual(y).tangent.tolist()

    theirs, ours = both(run)
    assert ours == theirs


def test_comparison_in_place_with_an_operand_that_requires_grad():
    def run(m):
        y = m.tensor([[1.0], [2.0]], dtype=m.float64, requires_grad=True)
        x = m.tensor([[1.0, 3.0], [2.0, 2.0]])
        x.lt_(y)
        nexts = [f is None for f, _ in x.grad_fn.next_functions]
        (x * 2).sum().backward()
        return x.requires_grad, x.grad_fn.name(), nexts, x.tolist(), y.grad.tolist()

    theirs, ours = both(run)
    assert ours == theirs


def _written_then_create_graph(m, how):
    a = m.tensor([1.0, 2.0], requires_grad=True)
    y = a * 1.0
    {"zero_": lambda: y.zero_(), "fill_": lambda: y.fill_(2.0),
     "fill_tensor": lambda: y.fill_(m.tensor(2.0)), "copy_": lambda: y.copy_(m.tensor([3.0, 4.0])),
     "index_zero_": lambda: y[m.tensor([1])].zero_()}[how]()  # fmt: skip
    (y * y).sum().backward(create_graph=True)
    return a.grad.tolist(), a.grad.requires_grad


@pytest.mark.parametrize("how", ["zero_", "fill_", "fill_tensor", "copy_", "index_zero_"])
def test_overwritten_value_gradient_is_a_constant_zero_as_torch(how):
    """torch's fill_/zero_/copy_ give the old value ``zeros_like(grad)``: under
    ``create_graph`` that gradient has no history, so what reaches only through the write
    does not require grad."""
    assert _written_then_create_graph(cr, how) == _written_then_create_graph(torch, how)
