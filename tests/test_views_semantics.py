"""Views and copies at torch's semantics (issue 10, #5 and #6): an op returns ``self``, a
new view of its input, or a copy exactly where torch does, with torch's grad_fn; programs
that write through one alias and read another give torch's values and gradients."""

import numpy as np
import pytest
import torch

import chainrule as cr


def _kind(m, x, y):
    """How ``y`` relates to ``x``: the same tensor, a view of it, or new memory."""
    if y is x:
        return "self"
    if getattr(y, "_base", None) is x:
        return "view"
    if m is cr:
        assert not np.may_share_memory(y._data, x._data), "an untracked alias"
    return "copy"


def _name(m, y):
    g = y.grad_fn
    if g is None:
        return None
    return type(g).__name__ if m is torch else g.name()


# Every op here was checked against torch: self, a view, or a copy (and no-op forms).
OPS = {
    "flip(0)": lambda x: x.flip(0),
    "flip(0,1)": lambda x: x.flip(0, 1),
    "flip(-1)": lambda x: x.flip(-1),
    "flip(())": lambda x: x.flip(()),
    "m.flip": lambda x: cr.flip(x, (1,)) if isinstance(x, cr.Tensor) else torch.flip(x, (1,)),
    "roll(1,0)": lambda x: x.roll(1, 0),
    "roll(0,0)": lambda x: x.roll(0, 0),
    "squeeze()": lambda x: x.squeeze(),
    "squeeze(0)": lambda x: x.squeeze(0),
    "squeeze((0,1))": lambda x: x.squeeze((0, 1)),
    "unsqueeze(0)": lambda x: x.unsqueeze(0),
    "expand(2,3)": lambda x: x.expand(2, 3),
    "expand(-1,-1)": lambda x: x.expand(-1, -1),
    "expand(4,2,3)": lambda x: x.expand(4, 2, 3),
    "expand_as(x)": lambda x: x.expand_as(x),
    "unfold(1,2,1)": lambda x: x.unfold(1, 2, 1),
    "unfold(0,1,1)": lambda x: x.unfold(0, 1, 1),
    "broadcast_to": lambda x: x.broadcast_to((2, 3)),
    "reshape(2,3)": lambda x: x.reshape(2, 3),
    "reshape(-1)": lambda x: x.reshape(-1),
    "reshape_as(x)": lambda x: x.reshape_as(x),
    "t().reshape(-1)": lambda x: x.t().reshape(-1),
    "view(2,3)": lambda x: x.view(2, 3),
    "view(-1)": lambda x: x.view(-1),
    "view_as(x)": lambda x: x.view_as(x),
    "flatten()": lambda x: x.flatten(),
    "flatten(1,1)": lambda x: x.flatten(1, 1),
    "flatten(0,0)": lambda x: x.flatten(0, 0),
    "unflatten": lambda x: x.unflatten(1, (3, 1)),
    "transpose(0,0)": lambda x: x.transpose(0, 0),
    "transpose(0,1)": lambda x: x.transpose(0, 1),
    "swapaxes(0,1)": lambda x: x.swapaxes(0, 1),
    "permute(0,1)": lambda x: x.permute(0, 1),
    "permute(1,0)": lambda x: x.permute(1, 0),
    "movedim(0,0)": lambda x: x.movedim(0, 0),
    "movedim(0,1)": lambda x: x.movedim(0, 1),
    "t()": lambda x: x.t(),
    "T": lambda x: x.T,
    "mT": lambda x: x.mT,
    "narrow(0,0,2)": lambda x: x.narrow(0, 0, 2),
    "narrow(1,1,1)": lambda x: x.narrow(1, 1, 1),
    "select(0,1)": lambda x: x.select(0, 1),
    "x[...]": lambda x: x[...],
    "x[:]": lambda x: x[:],
    "x[None]": lambda x: x[None],
    "x[0]": lambda x: x[0],
    "x[:, 1:]": lambda x: x[:, 1:],
    "x[:, 1]": lambda x: x[:, 1],
    "x[[0]]": lambda x: x[[0]],
    "x[x>2]": lambda x: x[x > 2],
    "split(1)[0]": lambda x: x.split(1)[0],
    "split(2)[0]": lambda x: x.split(2)[0],
    "chunk(1)[0]": lambda x: x.chunk(1)[0],
    "unbind()[1]": lambda x: x.unbind()[1],
    "diagonal()": lambda x: x.diagonal(),
    "diagonal(6)": lambda x: x.diagonal(6),
    "contiguous()": lambda x: x.contiguous(),
    "t().contiguous()": lambda x: x.t().contiguous(),
    "clone()": lambda x: x.clone(),
    "to(dtype)": lambda x: x.to(x.dtype),
    "float()": lambda x: x.float(),
    "double()": lambda x: x.double(),
    "tile((1,1))": lambda x: x.tile((1, 1)),
    "repeat(1,1)": lambda x: x.repeat(1, 1),
    "tril()": lambda x: x.tril(),
    "abs()": lambda x: x.abs(),
    "positive()": lambda x: x.positive(),
    "sum_to_size(2,3)": lambda x: x.sum_to_size(2, 3),
    "einsum ij->ji": lambda x: (cr if isinstance(x, cr.Tensor) else torch).einsum("ij->ji", x),
    "einsum ij->i": lambda x: (cr if isinstance(x, cr.Tensor) else torch).einsum("ij->i", x),
}

# grad_fn names chainrule gives differently (the view/copy kind still matches torch)
OTHER_NAME = {"einsum ij->ji", "einsum ij->i"}


def _run(m, fn, grad):
    w = m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=grad)
    x = w * 1 if grad else w  # a non-leaf: it may be written in place
    y = fn(x)
    kind, name = _kind(m, x, y), _name(m, y)
    x.mul_(10)  # a view sees the write, a copy does not
    return kind, name, y.detach().numpy().copy()


@pytest.mark.parametrize("grad", [False, True], ids=["plain", "graph"])
@pytest.mark.parametrize("op", list(OPS))
def test_view_or_copy_as_torch(op, grad):
    kt, nt, vt = _run(torch, OPS[op], grad)
    kc, nc, vc = _run(cr, OPS[op], grad)
    assert kc == kt
    if op not in OTHER_NAME:
        assert nc == nt
    np.testing.assert_array_equal(vc, vt)


def _both(program):
    t, c = program(torch), program(cr)
    assert len(t) == len(c)
    for a, b in zip(t, c, strict=True):
        if isinstance(a, torch.Tensor):
            np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy())
        else:
            assert b == a
    return c


# ------------------------------------------------------------------- #6: flip copies


def test_flip_does_not_see_later_writes():
    def program(m):
        x = m.tensor([1.0, 2.0, 3.0])
        y = x.flip(0)
        x.mul_(10)
        return [y, x]

    _both(program)


def test_flip_under_no_grad_does_not_write_into_the_leaf():
    def program(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with m.no_grad():
            y = x.flip(0)
            y.mul_(10)
        return [x, y, y.requires_grad, x._version]

    _both(program)


def test_flip_gradient_after_writing_its_input():
    def program(m):
        w = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = w * 1
        z = y.flip(0)
        y.mul_(2)
        (z * z).sum().backward()
        return [z, w.grad]

    _both(program)


# ------------------------------------------------------- #5: no-op views are new views


def test_noop_squeeze_is_a_tracked_view():
    def program(m):
        w = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        l = w * 3  # noqa: E741
        s = l.squeeze()
        l.view(-1).mul_(0)
        s.sum().backward()
        return [s, w.grad, s is l, type(s.grad_fn).__name__ if m is torch else s.grad_fn.name()]

    _both(program)


def test_noop_squeeze_of_a_dim_sees_writes():
    def program(m):
        x = m.tensor([[1.0, 2.0, 3.0]])
        s = x.squeeze(1)
        x.add_(1)
        s.mul_(2)
        return [s, x, s._version, x._version]

    _both(program)


def test_noop_expand_is_a_new_view():
    def program(m):
        w = m.tensor([1.0, 2.0], requires_grad=True)
        b = w * 1
        e = b.expand(2)
        b.mul_(3)
        e.sum().backward()
        return [e, w.grad, e is b, e._base is b]

    _both(program)


def test_noop_expand_written_in_place():
    def program(m):
        w = m.tensor([1.0, 2.0], requires_grad=True)
        b = w * 1
        e = b.expand(-1)
        e.mul_(2)
        (b * b).sum().backward()
        return [b, e, w.grad, b._version]

    _both(program)


def test_noop_expand_of_a_leaf_is_a_view_of_it():
    """Writing into it is writing into a view of a leaf: torch's error names the view."""
    messages = []
    for m in (torch, cr):
        w = m.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError) as err:
            w.expand(2).mul_(2)
        messages.append(str(err.value).split("\nException raised from")[0])
    assert messages[1] == messages[0]


@pytest.mark.parametrize("shape", [(4,), (2, 4), (2, 2, 4), (2, 1, 2, 4), (1, 2, 0)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_output_is_a_view_where_torch_s_is(shape, bias):
    """torch runs addmm on the rows and views the result back when a bias is given and the
    input is not 2-d, so that output is a view (``detach_`` refuses it); found by the fuzzer."""
    got = {}
    for m in (torch, cr):
        x = m.ones(*shape, requires_grad=True)
        w = m.full((3, shape[-1]), 0.5, requires_grad=True)
        b = m.ones(3, requires_grad=True) if bias else None
        y = m.nn.functional.linear(x, w, b)
        is_view = y._is_view() if m is torch else getattr(y, "_base", None) is not None
        (y * y).sum().backward()
        try:
            y.detach_()
            detached = "ok"
        except RuntimeError as e:
            detached = str(e)[:40]
        got[m] = (is_view, _name(m, y), detached, x.grad.tolist(), w.grad.tolist())
    assert got[cr] == got[torch]


def _no_grad_view_flags(m):
    """A view made under no_grad requires grad while its base does: its own flag cannot
    turn that off, and the base's ``requires_grad_(False)`` or ``detach_()`` does."""
    seen = []
    a = m.ones(2, 2, requires_grad=True)
    with m.no_grad():
        v = a.view(-1)
        e = a[:1].expand(3, 2)
    seen.append((v.requires_grad, v.is_leaf, e.requires_grad))
    v.requires_grad_(False)
    seen.append(v.requires_grad)
    a.requires_grad_(False)
    seen.append((v.requires_grad, e.requires_grad))
    a.requires_grad_(True)
    seen.append((v.requires_grad, e.requires_grad))
    a.detach_()
    seen.append((v.requires_grad, e.requires_grad))
    try:
        v.retain_grad()
        seen.append("retained")
    except RuntimeError as err:
        seen.append(str(err))
    c = m.ones(2)
    with m.no_grad():
        u = c.view(-1)
    u.requires_grad_(True)
    seen.append((u.requires_grad, c.requires_grad))
    return seen


def test_no_grad_view_requires_grad_follows_its_base():
    assert _no_grad_view_flags(cr) == _no_grad_view_flags(torch)


def _use_no_grad_view_after_write(m, base_kind, mode, alias, use):
    """A view made under no_grad whose memory was written since (through its base, a
    sibling, itself or ``detach()``; not ``.data``) refuses to give its history in grad
    mode, as torch's view replay does; under no_grad it reads the new values."""
    a = m.tensor([1.0, 2.0], requires_grad=True)
    b = a if base_kind == "leaf" else a * 1
    with m.no_grad():
        x = b[..., :1]
    if use.startswith("view of it"):
        x = x.view(1)
    try:
        with m.no_grad() if mode == "no_grad" else m.enable_grad():
            if alias == "detach":
                b.detach().mul_(-1.6)
            elif alias == "data":
                b.data.mul_(-1.6)
            elif alias == "base":
                b.mul_(2)
            elif alias == "self":
                x.mul_(3)
            else:
                with m.no_grad():
                    y = b[1:]
                y.mul_(3)
    except RuntimeError as e:
        return "write raised", str(e)
    try:
        if use.endswith("backward"):
            (x * x).sum().backward()
            return None if a.grad is None else a.grad.tolist(), x.requires_grad
        if use == "hook":
            x.register_hook(lambda g: g)
            return "hooked"
        with m.no_grad():
            return (x * 2).tolist()
    except RuntimeError as e:
        return "raised", str(e)


@pytest.mark.parametrize("use", ["backward", "hook", "no_grad read", "view of it, backward"])
@pytest.mark.parametrize("alias", ["detach", "data", "base", "self", "sibling"])
@pytest.mark.parametrize("mode", ["grad", "no_grad"])
@pytest.mark.parametrize("base_kind", ["leaf", "non-leaf"])
def test_no_grad_view_after_its_memory_is_written(base_kind, mode, alias, use):
    args = (base_kind, mode, alias, use)
    assert _use_no_grad_view_after_write(cr, *args) == _use_no_grad_view_after_write(torch, *args)


_INDEXES = {
    "[None]": lambda x: x[None],
    "[None][None]": lambda x: x[None][None],
    "[...]": lambda x: x[...],
    "[:]": lambda x: x[:],
    "[None, ..., None]": lambda x: x[None, ..., None],
    "[0:4]": lambda x: x[0:4],
    "[1:]": lambda x: x[1:],
    "[0]": lambda x: x[0],
    "[:, None]": lambda x: x[:, None],
    "[0:9,]": lambda x: x[0:9,],
}


@pytest.mark.parametrize("index", list(_INDEXES))
@pytest.mark.parametrize("through", ["leaf", "expand"])
def test_gradient_through_a_whole_index_is_a_view_of_the_incoming_one(index, through):
    """torch's backward of ``x[None]``, ``x[...]``, ``x[:]`` is a view of the gradient
    (squeeze, alias), so a broadcast (stride-0) gradient reaches the input as one and an
    in-place write to it is refused; a select or a partial slice scatters into new zeros."""

    def program(m):
        a = m.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        x = a.expand(4) if through == "expand" else a
        (g,) = m.autograd.grad(_INDEXES[index](x).sum(), [a])
        try:
            g.mul_(1.7)
        except RuntimeError as e:
            return [g.stride(), str(e)[:60], g]
        return [g.stride(), None, g]

    _both(program)


_UNIFORM_WRITES = {
    "fill_": lambda m, x: x.fill_(1.5),
    "fill_-0d-tensor": lambda m, x: x.fill_(m.tensor(2.5)),
    "zero_": lambda m, x: x.zero_(),
    "row fill_": lambda m, x: x[1].fill_(7.0),
    "masked_fill_": lambda m, x: x.masked_fill_(m.tensor([False, True, False]), -1.5),
    "masked_fill_-2d": lambda m, x: x.masked_fill_(m.eye(3, dtype=m.bool), -1.5),
    "index_fill_-dim1": lambda m, x: x.index_fill_(1, m.tensor([0, 2]), 7.0),
    "index_fill_-dim0": lambda m, x: x.index_fill_(0, m.tensor([1]), 7.0),
    "index_fill_-dim-1": lambda m, x: x.index_fill_(-1, m.tensor([1]), 7.0),
    "copy_": lambda m, x: x.copy_(m.ones(3, 3)),
    "copy_-itself": lambda m, x: x.copy_(x),
    "mul_": lambda m, x: x.mul_(2),
    "setitem ...": lambda m, x: x.__setitem__(Ellipsis, 2.0),
}


@pytest.mark.parametrize("graph", [False, True], ids=["plain", "graph"])
@pytest.mark.parametrize("how", list(_UNIFORM_WRITES))
def test_uniform_write_into_an_expanded_tensor(how, graph):
    """torch writes numbers into an expanded tensor (fill_, zero_, and, with a deprecation
    warning, masked_fill_ and index_fill_: only the selected elements, so a place gets the
    value if any of its aliases was selected); other writes are refused, and so is a
    backward through the written tensor in a graph (it and its base: CopySlices)."""

    def program(m):
        a = m.tensor([[1.0, 2.0, 3.0]], requires_grad=graph)
        c = a * 2 if graph else a
        x = c.expand(3, 3)
        try:
            _UNIFORM_WRITES[how](m, x)
        except RuntimeError as e:
            return [str(e)[:70], c]
        out = [x._version, c, x]
        if graph:
            for y in (c, x):
                try:
                    (g,) = m.autograd.grad((y * y).sum(), [a], retain_graph=True)
                    out.append(g)
                except RuntimeError as e:
                    out.append(str(e)[:70])
        return out

    _both(program)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("written", ["view", "base", "sibling", "none"])
@pytest.mark.parametrize("make", ["reshape", "slice", "t", "transpose"])
def test_view_written_before_its_base_requires_grad_gets_a_history(make, written, when):
    """torch re-derives a view with no history from its base once the base requires grad,
    if the memory was written since the view was made (its version moved; "after": through
    a detached alias, once the base requires grad): the view is then no leaf
    (AsStridedBackward0), and a gradient through it reaches the base."""

    def program(m):
        c = m.ones(4, 3, 2)
        views = {
            "reshape": lambda: c.reshape(2, -1),
            "slice": lambda: c[1:],
            "t": lambda: c[0].t(),
            "transpose": lambda: c.transpose(0, 1),
        }
        x = views[make]()
        if when == "after":
            c.requires_grad = True
        if written == "view":
            (x.detach() if when == "after" else x).mul_(2.0)
        elif written == "base":
            (c.detach() if when == "after" else c).mul_(2.0)
        elif written == "sibling":
            (c.detach() if when == "after" else c)[0].add_(1.0)
        if when == "before":
            c.requires_grad = True
        leaf = x.is_leaf  # (chainrule re-derives here or on use; torch when grad_fn is read)
        fn = x.grad_fn
        name = None if fn is None else fn.name() if m is cr else type(fn).__name__
        (x * m.arange(float(x.numel())).reshape(x.shape)).sum().backward()
        return [leaf, x.requires_grad, name, c.grad is None or c.grad]

    _both(program)


def _no_grad_view(m, c):
    with m.no_grad():
        return c[..., :2]


_STALE_VIEWS = {
    "no_grad view, base written": (_no_grad_view, lambda m, c, x: c.detach().mul_(0.2)),
    "no_grad view, itself written": (_no_grad_view, lambda m, c, x: x.mul_(2)),
    "split output, base written": (lambda m, c: c.split(2)[0], lambda m, c, x: c.mul_(2)),
    "chunk output, sibling written": (
        lambda m, c: c.chunk(2)[0],
        lambda m, c, x: c[2:].mul_(2),
    ),
}


@pytest.mark.parametrize("who", ["view", "base"])
@pytest.mark.parametrize("case", list(_STALE_VIEWS))
def test_stale_view_made_to_require_grad(case, who):
    """A view torch cannot replay (made under no_grad, an output of split/chunk) whose
    memory was written: made to require grad on its own it is a plain leaf; through its
    base (which then requires grad) reading it raises."""

    def program(m):
        make, write = _STALE_VIEWS[case]
        c = m.tensor([1.0, 2.0, 3.0, 4.0])
        x = make(m, c)
        write(m, c, x)
        (x if who == "view" else c).requires_grad = True
        try:
            (x * 2).sum().backward()
        except RuntimeError as e:
            return [str(e)[:80]]
        return [x.requires_grad, x.grad, c.grad is None]

    _both(program)


def test_view_that_requires_grad_on_its_own_keeps_its_grad_when_the_base_follows():
    """A view made to require grad by itself is a leaf with its own ``.grad``; its base
    requiring grad later does not turn it into a view that only follows the base."""

    def program(m):
        k = m.tensor([[[1.0, 1.0]], [[1.0, 1.0]], [[1.0, 1.0]]])
        v = k.view((2, 1, 3))
        v.requires_grad_(True)
        w = v.view((3, 1, 2))
        k.requires_grad_(True)
        m.autograd.backward([w], [m.tensor([[[3.0, 0.5]], [[0.25, -1.0]], [[1.0, 1.0]]])])
        return [v.grad, k.grad is None, v.is_leaf, v.requires_grad]

    _both(program)


@pytest.mark.parametrize("how", ["masked_fill_", "index_fill_-dim1"])
def test_selective_fill_into_an_expanded_tensor_warns_as_torch(how):
    messages = []
    for m in (torch, cr):
        x = m.tensor([[1.0, 2.0, 3.0]]).expand(3, 3)
        with pytest.warns(UserWarning, match="on expanded tensors is deprecated") as rec:
            _UNIFORM_WRITES[how](m, x)
        messages.append(str(rec[0].message).split(" (Triggered")[0])
    assert messages[0] == messages[1]


@pytest.mark.parametrize("shape", [(1,), (2, 1), ()])
def test_cumsum_over_one_element_passes_the_gradient_itself_on(shape):
    """torch's cumsum backward returns the incoming gradient when the dim has one element
    (or the input is 0-d): the expanded gradient of a sum stays a view, so ``detach_`` of
    what ``autograd.grad`` returns is refused, as torch's is."""

    def program(m):
        x = m.ones(shape, requires_grad=True)
        y = x * 1
        z = y.cumsum(-1 if shape else 0)
        (g,) = m.autograd.grad(z.sum(), [y])
        try:
            g.detach_()
        except RuntimeError as e:
            return [str(e)[:50], g]
        return [None, g]

    _both(program)


# ----------------------------------------------- documented departures (torch inconsistent)


@pytest.mark.parametrize("op", ["t_", "squeeze_", "unsqueeze_"])
def test_inplace_view_under_no_grad_is_recorded(op):
    """A documented departure. ``x.t_()`` (squeeze_, unsqueeze_) under no_grad on a tensor
    with history: torch keeps the old node, so its backward either fails ("returned an
    invalid gradient", when the shapes differ) or silently gives the gradient of the tensor
    before the change (a square t_, an unsqueeze_ that broadcasts back). chainrule records
    the view op as it would outside no_grad, so the gradient is that of the values the
    tensor holds, whatever the shapes: the same as running the view op with grad on."""

    def program(m, quiet):
        a = m.tensor([[1.0, 2.0, 3.0]] * (1 if op == "squeeze_" else 3), requires_grad=True)
        x = a * 2
        args = () if op == "t_" else (0,)
        if quiet:
            with m.no_grad():
                getattr(x, op)(*args)
        else:
            getattr(x, op)(*args)
        w = m.arange(float(x.numel())).reshape(x.shape)
        (x * x * w).sum().backward()
        return a.grad

    expected = program(torch, quiet=False)  # the op recorded: torch with grad on
    np.testing.assert_allclose(program(cr, quiet=True).numpy(), expected.numpy())
    if op == "squeeze_":  # torch under no_grad: an error ...
        with pytest.raises(RuntimeError, match="returned an invalid gradient"):
            program(torch, quiet=True)
    else:  # ... or the old node's gradient: another one (t_), the same (unsqueeze_)
        got = program(torch, quiet=True)
        assert torch.equal(got, expected) == (op == "unsqueeze_")


@pytest.mark.parametrize("through", ["setitem", "in-place op", "view of the alias"])
def test_hook_on_a_view_written_through_a_detached_alias_is_dropped_as_torch(through):
    """A hook registered on a view whose memory is then written through a ``detach()``-ed
    alias: the version moves, so torch re-derives the view's node from its base when the
    view is next used, and the hook, kept on the old node, never runs. So does chainrule
    (it was a documented departure, the hook kept, until fuzz seed 360000)."""

    def program(m):
        a = m.ones(4, 3, requires_grad=True)
        x = a.expand(-1, 3)
        seen = []
        x.register_hook(lambda g: seen.append(1) or g + 1)
        if through == "setitem":
            x.detach()[::2] = -1.5
        elif through == "in-place op":
            x.detach().mul_(2)
        else:
            x.detach()[1:].zero_()
        (g,) = m.autograd.grad(x.sum(), [a])
        return g, seen

    (gt, seen_t), (gc, seen_c) = program(torch), program(cr)
    assert seen_t == [] and torch.equal(gt, torch.ones(4, 3))  # torch dropped the hook
    assert seen_c == [] and np.array_equal(gc.numpy(), gt.numpy())


_EXPANDED_SETITEM = {
    "0-d element": lambda m, x: x.__setitem__(2, m.tensor(1.0) * -0.25),
    "row": lambda m, x: x.__setitem__(1, m.tensor([5.0, 6.0, 7.0])),
    "column (aliases)": lambda m, x: x.__setitem__((slice(None), 0), 5.0),
}


@pytest.mark.parametrize("graph", [False, True], ids=["plain", "graph"])
@pytest.mark.parametrize("how", list(_EXPANDED_SETITEM))
def test_setitem_into_an_expanded_tensor_writes_through_its_view(how, graph):
    """``e[i] = v`` on an expanded tensor writes through the view ``e[i]`` (torch's
    setitem): allowed when that view's elements are distinct, in a graph too (the base
    gets the history), refused when they alias."""

    def program(m):
        a = m.tensor([[1.0, 2.0, 3.0]], requires_grad=graph)
        c = a * 2 if graph else a
        x = c.expand(3, 3) if how != "0-d element" else c[0, 0].expand(3)
        try:
            _EXPANDED_SETITEM[how](m, x)
        except RuntimeError as e:
            return [str(e)[:60]]
        out = [c, x]
        if graph:
            (c * c).sum().backward()
            out.append(a.grad)
        return out

    _both(program)


@pytest.mark.parametrize("how", ["mul_ diagonal", "copy_ select", "add_ transposed row"])
def test_in_place_op_reading_a_view_of_its_target_uses_the_values_before_the_write(how):
    """A documented departure. An in-place op whose argument is a view of the tensor it
    writes (a diagonal, a column): torch's overlap check gives up on such non-dense views
    and its kernel reads elements it has already written, so the result depends on its
    traversal order. chainrule computes the op on the values as they were before the
    write (what the out-of-place op gives), and says so here against torch."""
    data = [[1.5, -1.75, 0.5], [-1.25, 0.75, 2.0], [0.25, 1.0, -0.5]]
    ops = {
        "mul_ diagonal": (lambda c: c.mul_(c.diagonal()), lambda c: c * c.diagonal()),
        "copy_ select": (lambda c: c.copy_(c.select(1, 1)), lambda c: c.select(1, 1).expand(3, 3)),
        "add_ transposed row": (lambda c: c.add_(c[:, 0]), lambda c: c + c[:, 0]),
    }
    inplace, outofplace = ops[how]
    c = cr.tensor(data)
    want = outofplace(cr.tensor(data)).numpy()
    np.testing.assert_array_equal(inplace(c).numpy(), want)
    t = torch.tensor(data)
    assert not np.array_equal(inplace(t).numpy(), want)  # torch's traversal order shows


@pytest.mark.parametrize("how", ["topk", "sort", "msort"])
def test_sort_and_topk_of_a_0d_tensor_return_no_view(how):
    """torch's sort/topk values of a 0-d tensor are a new tensor (SortBackward0 /
    TopkBackward0), so ``detach_()`` on them is allowed; first and second derivatives."""

    def program(m):
        x0 = m.tensor(2.0, requires_grad=True)
        x = x0 * 3
        ops = {"topk": lambda: x.topk(1, 0)[0], "sort": lambda: x.sort(0)[0], "msort": x.msort}
        v = ops[how]()
        (g,) = m.autograd.grad((v * v).sum(), [x0], create_graph=True)
        (h,) = m.autograd.grad(g, [x0])
        v.detach_()
        return [v, g, h]

    _both(program)


def _mm_gradient_program(m, weight_shape, transposed):
    w = m.tensor(np.arange(1.0, 1.0 + np.prod(weight_shape)).reshape(weight_shape),
                 requires_grad=True)  # fmt: skip
    k = weight_shape[1] if transposed else weight_shape[0]
    x = m.tensor(np.linspace(0.5, 2.0, 2 * k).reshape(2, k), requires_grad=True)
    y = x @ (w.t() if transposed else w)
    gw, gx = m.autograd.grad((y * y).sum(), [w, x])
    out = [gw.stride(), gx.stride(), gw.detach().numpy().copy()]
    try:
        gw.mul_(x.sum())  # in place with grad mode on, an operand requiring grad
        out.append("ok")
    except RuntimeError as e:
        out.append(str(e).split(".")[0])
    return out


@pytest.mark.parametrize("weight_shape, transposed", [((1, 1), False), ((3, 2), False),
                                                      ((2, 3), True), ((1, 3), True)])  # fmt: skip
def test_mm_gradient_layout_follows_the_operand_as_torch(weight_shape, transposed):
    """torch's mm backward makes a column-major operand's gradient column-major, as the
    transpose of a product made in backward (a view created with grad mode off): its
    strides, and an in-place write to it with grad mode on raises as torch's."""
    got = _mm_gradient_program(cr, weight_shape, transposed)
    want = _mm_gradient_program(torch, weight_shape, transposed)
    assert got[:2] == want[:2]
    np.testing.assert_allclose(got[2], want[2], rtol=1e-6)
    assert got[3] == want[3]


def _linear_gradient_program(m, x_shape):
    w = m.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], requires_grad=True)
    x = m.tensor(np.linspace(0.5, 2.0, int(np.prod(x_shape))).reshape(x_shape).astype("f4"),
                 requires_grad=True)  # fmt: skip
    gw, gx = m.autograd.grad(m.nn.functional.linear(x, w).pow(2).sum(), [w, x])
    out = [gw.stride(), gw.detach().numpy().copy()]
    for g in (gw, gx):
        try:
            g.mul_(x.sum())
            out.append("ok")
        except RuntimeError as e:
            out.append(str(e).split(".")[0])
    return out


@pytest.mark.parametrize("x_shape", [(3,), (4, 3), (2, 2, 3)])
def test_linear_weight_gradient_is_a_view_made_without_grad_mode_as_torch(x_shape):
    """torch's linear weight gradient is a transpose of mm's gradient of ``Wᵀ``: a view
    made in backward, so writing it in place with grad mode on raises; the input's does
    not."""
    got, want = _linear_gradient_program(cr, x_shape), _linear_gradient_program(torch, x_shape)
    assert got[0] == want[0]
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    assert got[2:] == want[2:]


def _inputs_is_the_product(m, a_shape, b_shape):
    a = m.tensor(np.ones(a_shape, "f4"), requires_grad=True)
    b = m.tensor(np.full(b_shape, 0.5, "f4"))
    x = a @ b
    b.add_(1.0)
    out = []
    for kw in ({"inputs": [x], "retain_graph": True}, {}):
        try:
            x.sum().backward(**kw)
            out.append(x.grad.tolist() if kw else a.grad.tolist())
        except RuntimeError as e:
            out.append(str(e).split(":")[0])
    return out


@pytest.mark.parametrize("a_shape, b_shape", [((2, 3, 1), (1, 2)), ((1,), (1, 2)), ((3, 1), (1, 2)),
                                              ((3, 2), (2,)), ((2, 1, 2), (2, 2, 1))])  # fmt: skip
def test_backward_inputs_runs_only_the_top_node_of_matmul_s_composite(a_shape, b_shape):
    """``backward(inputs=[x])`` with ``x = a @ b`` runs only x's node: torch's mm and mv
    nodes check their saved operand (written in place: an error); a folded or batched
    matmul ends with a view node that saved nothing, so only the full backward raises."""
    assert _inputs_is_the_product(cr, a_shape, b_shape) == _inputs_is_the_product(
        torch, a_shape, b_shape
    )


def _inputs_is_the_linear_output(m, x_shape):
    x = m.ones(*x_shape, requires_grad=True)
    w = m.ones(2, 3, requires_grad=True)
    y = m.nn.functional.linear(x, w)
    with m.no_grad():
        w.add_(1)
    out = []
    for kw in ({"inputs": [y], "retain_graph": True}, {}):
        try:
            y.sum().backward(**kw)
            out.append("ok")
        except RuntimeError as e:
            out.append(str(e).split(":")[0])
    return out


@pytest.mark.parametrize("x_shape", [(3,), (2, 3), (2, 2, 3)])
def test_backward_inputs_runs_only_the_top_node_of_linear(x_shape):
    """As matmul: linear of a 2-d input is torch's addmm/mm node (its saved weight checked);
    of another rank, a view node around it, which saved nothing."""
    assert _inputs_is_the_linear_output(cr, x_shape) == _inputs_is_the_linear_output(torch, x_shape)


VIEW_KINDS = {
    "slice": lambda y: y[0:1],
    "select": lambda y: y[0],
    "view": lambda y: y.view(4),
    "t": lambda y: y.t(),
    "unsqueeze": lambda y: y.unsqueeze(0),
}


def _hooked_view_written(m, kind, used_before, write):
    w = m.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = w * 1.0
    v = VIEW_KINDS[kind](y)
    calls = []
    v.register_hook(lambda g: (calls.append(1), g * 2)[1])
    z = v * 3.0 if used_before else None
    if write == "mul_":
        v.mul_(1.5)
    elif write == "masked_fill_":
        v.masked_fill_(m.tensor(False), 0.5)
    else:
        v.copy_(v * 0.5)
    loss = (v * v).sum() + (z.sum() if used_before else 0)
    loss.backward()
    return w.grad.tolist(), len(calls)


@pytest.mark.parametrize("write", ["mul_", "masked_fill_", "copy_"])
@pytest.mark.parametrize("used_before", [False, True], ids=["", "used-before"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_hook_on_a_view_written_in_place_as_torch(kind, used_before, write):
    """A tensor hook registered on a view stays on the view's old node; the view written
    in place gets a new history through its base (torch's CopySlices puts the op's
    gradient straight into the base's slice), so the hook no longer sees the view's own
    gradient: it runs only for what was computed from the view before the write."""
    got = _hooked_view_written(cr, kind, used_before, write)
    assert got == _hooked_view_written(torch, kind, used_before, write)


# ------------------------------------------------------------------- unfold's windows


def test_writes_through_unfold_windows_and_into_their_base_as_torch():
    """unfold is a view: a write through windows that do not overlap reaches the base, a
    single element of overlapping ones too, and windows read after their base was written
    see the write, with torch's gradients."""

    def program(m):
        b = m.arange(6.0)
        b.unfold(0, 2, 2).mul_(10)
        c = m.arange(6.0)
        c.unfold(0, 3, 1)[0, 0] = 100
        a = m.arange(6.0, requires_grad=True)
        d = a * 1
        u = d.unfold(0, 3, 1)
        d[2] = 7.0
        (g1,) = m.autograd.grad((u * m.arange(12.0).reshape(4, 3)).sum(), a)
        e = a * 1
        e.unfold(0, 2, 2).mul_(m.tensor([2.0, 3.0]))
        (g2,) = m.autograd.grad((e * m.arange(6.0)).sum(), a)
        return b, c, u, g1, e, g2

    _both(program)


def test_an_in_place_op_over_overlapping_unfold_windows_is_refused():
    """torch runs ``add_`` once per window element (an element in 3 windows gets 3), in its
    loop's order; chainrule refuses rather than give NumPy's overlap-safe result (design.md
    "Views whose elements share memory")."""
    x = torch.arange(6.0)
    x.unfold(0, 3, 1).add_(1)
    assert x.tolist() == [1.0, 3.0, 5.0, 6.0, 6.0, 6.0]  # torch's, for the record
    y = cr.arange(6.0)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        y.unfold(0, 3, 1).add_(1)
    assert y.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # nothing written


def test_base_and_is_view_as_torch():
    """torch's ``_base`` (None on a tensor that is no view) and ``_is_view()``."""

    def program(m):
        x = m.ones(3)
        v = x[1:]
        w = v.view(2)
        c = x * 2
        return [x._base is None, x._is_view(), v._base is x, v._is_view(), w._base is x,
                c._base is None, c.t()._base is c, x.detach()._is_view()]  # fmt: skip

    assert program(cr) == program(torch)
