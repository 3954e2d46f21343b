"""Index and mask arguments are saved for backward as torch saves them (SavedVariables):
writing one in place before backward raises torch's "modified by an inplace operation"
error (issue 10, #2), and index_add's alpha, range checks and empty inputs are torch's
(issue 10, #16). Every program runs under torch and chainrule."""

import pytest
import torch

import chainrule as cr


def _nn(m):
    return m.nn.functional


def gather(m):
    x, i = m.ones(2, 2, requires_grad=True), m.tensor([[0, 1], [1, 0]])
    return x, x.gather(1, i), i


def gather_0d(m):
    x, i = m.ones((), requires_grad=True), m.tensor(0)
    return x, x.gather(0, i), i


def index_select(m):
    x, i = m.arange(6.0).reshape(2, 3).requires_grad_(), m.tensor([0, 2])
    return x, x.index_select(1, i), i


def take(m):
    x, i = m.arange(6.0).reshape(2, 3).requires_grad_(), m.tensor([0, 5])
    return x, x.take(i), i


def getitem(m):
    x, i = m.arange(3.0, requires_grad=True), m.tensor([0, 1])
    return x, x[i], i


def getitem_mixed(m):
    x, i = m.arange(9.0).reshape(3, 3).requires_grad_(), m.tensor([0, 1])
    return x, x[i, 1:], i


def getitem_mask(m):
    x, i = m.arange(3.0, requires_grad=True), m.tensor([True, False, True])
    return x, x[i], i


def embedding(m):
    w, i = m.arange(6.0).reshape(3, 2).requires_grad_(), m.tensor([0, 1])
    return w, _nn(m).embedding(i, w), i


def scatter_add(m):
    x, s, i = m.zeros(3, requires_grad=True), m.ones(2, requires_grad=True), m.tensor([0, 1])
    return s, x.scatter_add(0, i, s), i


def scatter(m):
    x, s, i = m.zeros(3, requires_grad=True), m.ones(2, requires_grad=True), m.tensor([0, 1])
    return x, x.scatter(0, i, s), i


def index_add(m):
    x, s, i = m.zeros(3, requires_grad=True), m.ones(2, requires_grad=True), m.tensor([0, 1])
    return s, x.index_add(0, i, s), i


def index_add_2d(m):
    x, s, i = m.zeros(3, 2, requires_grad=True), m.ones(2, 2, requires_grad=True), m.tensor([0, 2])
    return s, x.index_add(0, i, s, alpha=2), i


def where(m):
    x, c = m.arange(3.0, requires_grad=True), m.tensor([True, False, True])
    return x, m.where(c, x, 0.0), c


def masked_fill(m):
    x, c = m.arange(3.0, requires_grad=True), m.tensor([True, False, True])
    return x, x.masked_fill(c, 0.0), c


def masked_fill_tensor_value(m):
    x, c, v = m.arange(3.0, requires_grad=True), m.tensor([True, False, True]), m.tensor(2.0)
    return x, x.masked_fill(c, v), c


def masked_select(m):
    x, c = m.arange(3.0, requires_grad=True), m.tensor([True, False, True])
    return x, x.masked_select(c), c


def min_dim(m):
    x = m.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], requires_grad=True)
    v, i = x.min(1)
    return x, v, i


def max_dim_keepdim(m):
    x = m.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], requires_grad=True)
    v, i = x.max(0, keepdim=True)
    return x, v, i


def min_dim_0d(m):  # a 0-d input: the index is saved all the same (fuzz finding)
    x = m.tensor(3.0, requires_grad=True)
    v, i = x.min(0)
    return x, v, i


PROGRAMS = [gather, gather_0d, index_select, take, getitem, getitem_mixed, getitem_mask,
            embedding, scatter_add, scatter, index_add, index_add_2d, where, masked_fill,
            masked_fill_tensor_value, masked_select, min_dim, max_dim_keepdim,
            min_dim_0d]  # fmt: skip


def _write(i):
    i.fill_(True) if i.dtype in (torch.bool, cr.bool) else i.fill_(1)


def _error(m, program, write):
    leaf, y, i = program(m)
    if write == "index":
        _write(i)
    elif write == "alias":  # through a view sharing the version counter
        _write(i.view(-1)) if i.dim() else _write(i.view(1))
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    return str(info.value).replace("torch", "chainrule")


@pytest.mark.parametrize("write", ["index", "alias"])
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_index_written_before_backward_raises(program, write):
    ours = _error(cr, program, write)
    assert ours == _error(torch, program, write)
    assert "modified by an inplace operation" in ours


def _grad(m, program):
    leaf, y, i = program(m)
    y.sum().backward()
    return leaf.grad.tolist()


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_untouched_index_gives_torch_gradient(program):
    assert _grad(cr, program) == _grad(torch, program)


def _after_earlier_write(m):  # the index was written (version 1) before the op saved it
    x, i = m.ones(2, 2, requires_grad=True), m.tensor([[0, 0], [1, 1]])
    i.add_(0)
    y = x.gather(1, i)
    y.sum().backward()
    return x.grad.tolist()


def test_index_written_before_the_op_is_fine():
    assert _after_earlier_write(cr) == _after_earlier_write(torch)


def _written_twice(m):
    x, i = m.ones(2, 2, requires_grad=True), m.tensor([[0, 0], [1, 1]])
    i.add_(0)
    y = x.gather(1, i)
    i.add_(0)
    i.add_(0)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    return str(info.value).replace("torch", "chainrule")


def test_index_versions_are_the_real_ones():
    assert "is at version 3; expected version 1" in _written_twice(cr)
    assert _written_twice(cr) == _written_twice(torch)


def _not_saved(m, which):
    """torch saves the index of scatter_add/index_add only for the source's gradient."""
    x, s, i = m.zeros(3, requires_grad=True), m.ones(2), m.tensor([0, 1])
    y = x.scatter_add(0, i, s) if which == "scatter_add" else x.index_add(0, i, s)
    i.fill_(2)
    y.sum().backward()
    return x.grad.tolist()


@pytest.mark.parametrize("which", ["scatter_add", "index_add"])
def test_index_not_saved_when_only_self_needs_a_gradient(which):
    assert _not_saved(cr, which) == _not_saved(torch, which)


def _second_backward(m):
    x, i = m.ones(3, requires_grad=True), m.tensor([0, 1])
    y = x[i].sum()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    return str(info.value).replace("torch", "chainrule")


def test_saved_index_is_freed_after_backward():
    assert _second_backward(cr) == _second_backward(torch)


# --------------------------------------------------------------------------- index_add (#16)

ALPHAS = [-0.5, -1.5, 2.7, True, -1, 300, 1j, 2 + 0j]
DTYPES = ["int64", "int32", "int16", "int8", "uint8", "bool", "float16", "float32", "float64",
          "complex64"]  # fmt: skip


def _index_add(m, dt, alpha, shape):
    x, s = m.tensor([3, -4, 1]).to(getattr(m, dt)), m.tensor([5]).to(getattr(m, dt))
    if len(shape) == 2:
        x, s = m.stack([x, x], 1), m.stack([s, s], 1)
    try:
        return x.index_add(0, m.tensor([1]), s, alpha=alpha).tolist()
    except RuntimeError as e:
        return str(e)


@pytest.mark.parametrize("shape", [(3,), (3, 2)])
@pytest.mark.parametrize("alpha", ALPHAS, ids=str)
@pytest.mark.parametrize("dt", DTYPES)
def test_index_add_alpha_as_torch(dt, alpha, shape):
    assert _index_add(cr, dt, alpha, shape) == _index_add(torch, dt, alpha, shape)


def test_integer_index_add_truncates_alpha():
    assert _index_add(cr, "int64", -0.5, (3,)) == [3, -4, 1]
    assert _index_add(cr, "int64", -1.5, (3,)) == [3, -9, 1]


def _outcome(f):
    try:
        return "ok", f()
    except Exception as e:  # noqa: BLE001 - the type and message are what is compared
        return type(e).__name__, str(e).replace("torch", "chainrule")


CASES = [((3,), 0), ((3, 2), 0), ((3, 2), 1), ((2, 3, 2), 0), ((2, 3, 2), 1), ((2, 3, 2), -1),
         ((0,), 0), ((3, 0), 0), ((3, 0), 1), ((0, 2), 0), ((0, 2), 1), ((), 0)]  # fmt: skip


def _range_program(m, shape, dim, n, value, dt, inplace, grad):
    def run():
        x = m.zeros(*shape, requires_grad=grad) if shape else m.zeros((), requires_grad=grad)
        if inplace and grad:
            x = x * 1
        src = list(shape)
        if src:
            src[dim % len(src)] = n
        s = m.ones(*src, requires_grad=grad) if src else m.ones((), requires_grad=grad)
        i = m.full((n,), value, dtype=getattr(m, dt))
        y = x.index_add_(dim, i, s) if inplace else x.index_add(dim, i, s)
        if grad:
            y.sum().backward()
            return list(y.shape), s.grad.tolist()
        return y.tolist()

    return _outcome(run)


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("dt", ["int64", "int32"])
@pytest.mark.parametrize("value", [0, 2, 5, -1])
@pytest.mark.parametrize("n", [0, 1, 2])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_index_add_range_and_empty_as_torch(case, n, value, dt, inplace, grad):
    shape, dim = case
    args = (shape, dim, n, value, dt, inplace, grad)
    assert _range_program(cr, *args) == _range_program(torch, *args)


def test_setitem_with_an_index_tensor_saves_it():
    """``x[i] = v`` is torch's index_put_, which saves ``i``: writing it before backward
    raises; a basic index saves nothing. Found by the program fuzzer."""
    got = []
    for m in (torch, cr):
        out = []
        for write in (True, False):
            a = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
            x = a * a
            i = m.tensor([1, 2])
            x[i] = -0.9
            if write:
                i[...] = 0
            try:
                x.sum().backward()
                out.append(a.grad.tolist())
            except RuntimeError as e:
                out.append(str(e).split(":")[0])
        got.append(out)
    assert got[0] == got[1]
