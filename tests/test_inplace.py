"""In-place operations, views and version counters, side by side with torch."""

import numpy as np
import pytest
import torch

import chainrule as cr


def run(lib, scenario):
    """Run a scenario in one library: returns the leaf grads, or the error raised."""
    a = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    b = lib.tensor([0.5, -1.0, 2.0, 3.0], requires_grad=True)
    try:
        out = scenario(lib, a, b)
        out.sum().backward()
    except RuntimeError as e:
        return type(e), str(e).split(":")[0]
    return [
        None if t.grad is None else t.grad.numpy().copy() for t in (a, b)
    ], out.detach().numpy().copy()


def s_add_(m, a, b):
    x = a * 2
    x.add_(b, alpha=2)
    return x * x


def s_iops(m, a, b):
    x = a * 1
    x += b
    x *= b
    x -= 1
    x /= 2
    x **= 2
    return x


def s_mul_self(m, a, b):
    x = a + 0
    x.mul_(b)
    return x.exp_()


def s_unary_chain(m, a, b):
    x = a * b
    x.sigmoid_().tanh_()
    x.clamp_(0.1, 0.5)
    return x.sqrt_()


def s_setitem(m, a, b):
    x = a * 1
    x[1] = b[0] * 3
    x[m.tensor([0, 3])] = b[2:] ** 2
    x[x > 5] = 0.0
    return x * a


def s_setitem_into_constant(m, a, b):
    x = m.zeros(4)
    x[1:3] = a[:2] * b[2:]
    return x


def s_view_write(m, a, b):
    x = a * 1
    v = x[1:3]
    v.mul_(b[:2])
    w = x.view(2, 2)[:, 0]
    w.add_(10)
    return x * x


def s_view_then_use_view(m, a, b):
    x = a.exp()
    v = x[:2]
    x.add_(b)  # the view sees the change, and its history is rebuilt from the base
    return v * 3


def s_fill_zero_copy(m, a, b):
    x = a * b
    x[:2].zero_()
    x[2:].fill_(2.0)
    y = a * 1
    y.copy_(b * 5)
    return x + y


def s_transpose_view(m, a, b):
    x = (a * 1).reshape(2, 2)
    x.t().mul_(b.reshape(2, 2))
    return x.reshape(4)


def s_saved_input_modified(m, a, b):
    x = a * 1
    y = x.sin()  # saves x
    x.add_(1)
    return y


def s_saved_output_modified(m, a, b):
    y = a.exp()  # saves its output
    z = y * 2
    y.mul_(2)
    return z + y


def s_leaf_inplace(m, a, b):
    a.add_(1)
    return a


def s_view_of_leaf_inplace(m, a, b):
    a[:2].mul_(2)
    return a


def s_int_to_float_inplace(m, a, b):
    x = m.tensor([1, 2, 3, 4])
    x += 0.5
    return a * x


SCENARIOS = [s_add_, s_iops, s_mul_self, s_unary_chain, s_setitem, s_setitem_into_constant,
             s_view_write, s_view_then_use_view, s_fill_zero_copy, s_transpose_view,
             s_saved_input_modified, s_saved_output_modified, s_leaf_inplace,
             s_view_of_leaf_inplace, s_int_to_float_inplace]  # fmt: skip


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_inplace_matches_torch(scenario):
    ours, theirs = run(cr, scenario), run(torch, scenario)
    if isinstance(theirs, tuple) and isinstance(theirs[0], type):
        assert ours == theirs, f"torch raised {theirs}, we gave {ours}"
        return
    assert not (isinstance(ours, tuple) and isinstance(ours[0], type)), ours
    (grads_c, out_c), (grads_t, out_t) = ours, theirs
    np.testing.assert_allclose(out_c, out_t, rtol=1e-6)
    for gc, gt in zip(grads_c, grads_t):
        assert (gc is None) == (gt is None)
        if gt is not None:
            np.testing.assert_allclose(gc, gt, rtol=1e-5, atol=1e-6)


def test_versions_and_views_share_memory():
    x = cr.zeros(4)
    v = x[1:3]
    assert x._version == v._version == 0
    v.add_(1)
    assert x._version == v._version == 1
    np.testing.assert_array_equal(x.numpy(), [0, 1, 1, 0])
    d = x.detach()
    d.zero_()
    assert x._version == 2 and x.numpy().sum() == 0


def test_inplace_under_no_grad_updates_leaf_like_an_optimizer():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with cr.no_grad():
        w.sub_(0.1 * w.grad)
    assert w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])


def test_errors_match_torch_text():
    x = cr.ones(3)
    with pytest.raises(RuntimeError, match="output with shape \\[3\\] doesn't match the broadcast"):
        x.add_(cr.ones(2, 3))
    with pytest.raises(
        RuntimeError, match="result type Float can't be cast to the desired output type Long"
    ):
        cr.tensor([1, 2]).mul_(1.5)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        cr.ones(3).expand(2, 3).add_(1)


def test_hooks_replace_and_observe_gradients():
    for m in (cr, torch):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        seen = []
        h = a.register_hook(lambda g: g * 10)
        b = a * a
        b.register_hook(lambda g, seen=seen: seen.append(g.clone()))
        a.register_post_accumulate_grad_hook(lambda t, seen=seen: seen.append(t.grad.clone()))
        b.sum().backward()
        h.remove()
        (a * 1).sum().backward()
        m.result = (a.grad.numpy().copy(), [s.numpy().copy() for s in seen])
    np.testing.assert_allclose(cr.result[0], torch.result[0])
    for x, y in zip(cr.result[1], torch.result[1]):
        np.testing.assert_allclose(x, y)


def _b(m, *v):
    return m.tensor(v, dtype=m.bool)


def _l(m, *v):
    return m.tensor(v, dtype=m.int64)


# (shape, index) pairs for x[index] = 1.0; torch raises on some, writes nothing on others
SETITEM_INDICES = [
    ((2, 3), lambda m: 5),
    ((2, 3), lambda m: -3),
    ((2, 3), lambda m: (0, 5)),
    ((2, 3), lambda m: _l(m, 5)),
    ((2, 3), lambda m: [0, 5]),
    ((2, 3), lambda m: (_l(m, 0), _l(m, 7))),
    ((2, 3), lambda m: (Ellipsis, _l(m, 9))),
    ((2, 3), lambda m: _b(m, True, False, True)),
    ((2, 3), lambda m: (slice(None), _b(m, True, False))),
    ((2, 3), lambda m: (_l(m, 0, 1), _l(m, 0, 1, 2))),
    ((2, 3), lambda m: (0, 0, 0)),
    ((2, 3), lambda m: 1.5),
    ((), lambda m: 0),
    ((1, 1), lambda m: _b(m)),
    ((2, 0), lambda m: (_l(m, 0), _l(m, 0))),
    ((0, 3), lambda m: _l(m, 0)),
    ((2, 0), lambda m: _l(m, 5)),  # empty result: torch checks no bounds, writes nothing
    ((2, 3), lambda m: (slice(0, 0), _l(m, 7))),
    ((2, 3), lambda m: (_l(m, 7), _b(m, False, False, False))),
    ((2, 3), lambda m: (_l(m, 1), _l(m, 2))),
    ((2, 3), lambda m: (_b(m, False, True), slice(1, None))),
]


@pytest.mark.parametrize("grad", [False, True], ids=["plain", "recording"])
@pytest.mark.parametrize("case", range(len(SETITEM_INDICES)))
def test_setitem_errors_and_empty_writes_match_torch(case, grad):
    shape, index = SETITEM_INDICES[case]
    results = []
    for m in (torch, cr):
        x = m.arange(float(np.prod(shape))).reshape(shape)
        if grad:
            x = x.requires_grad_() * 1
        try:
            x[index(m)] = 1.0
        except (IndexError, RuntimeError, TypeError) as e:
            results.append((type(e), str(e)))
        else:
            results.append(x.detach().numpy().copy())
    want, got = results
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and got == want
    else:
        np.testing.assert_array_equal(got, want)


def test_setitem_errors_raise_torch_messages():
    x = cr.zeros(2, 3)
    with pytest.raises(IndexError, match="^index 5 is out of bounds for dimension 0 with size 2$"):
        x[cr.tensor([5])] = 1.0
    with pytest.raises(IndexError, match="The shape of the mask \\[3\\] at index 0 does not"):
        x[cr.tensor([True, False, True])] = 1.0
    with pytest.raises(IndexError, match="^index is out of bounds for dimension with size 0$"):
        cr.zeros(0, 3)[cr.tensor([0])] = 1.0


def test_getitem_empty_results_skip_bounds_checks_like_torch():
    for shape, index in [((1, 1), lambda m: (_l(m, 5), slice(0, 0))),
                         ((0, 3), lambda m: (slice(None), _l(m, 7))),
                         ((2, 0), lambda m: _l(m, 5))]:  # fmt: skip
        a, b = torch.zeros(shape)[index(torch)], cr.zeros(shape)[index(cr)]
        assert tuple(b.shape) == tuple(a.shape)
    for shape, index in [((0, 0), lambda m: (Ellipsis, _l(m, 0))),
                         ((2, 0), lambda m: (_l(m, 5), _l(m, 0)))]:  # fmt: skip
        with pytest.raises(IndexError, match="^index is out of bounds for dimension with size 0$"):
            cr.zeros(shape)[index(cr)]
        with pytest.raises(IndexError, match="^index is out of bounds for dimension with size 0$"):
            torch.zeros(shape)[index(torch)]


@pytest.mark.parametrize("record", [False, True])
@pytest.mark.parametrize(
    "index, value_shape",
    [([0], (4,)), ((slice(0, 1),), (4,)), ((0,), (4,)), ((0,), (2, 3)), ((slice(None), 1), (2,))],
)
def test_setitem_value_shape_errors_match_torch(index, value_shape, record):
    messages = []
    for lib in (cr, torch):
        x = lib.zeros(3, 3, requires_grad=record) * 1 if record else lib.zeros(3, 3)
        with pytest.raises(RuntimeError) as info:
            x[index] = lib.ones(value_shape)
        messages.append(str(info.value).replace("torch.", "chainrule."))
    assert messages[0] == messages[1]


def _write_expanded(m):
    """torch writes an expanded tensor's memory: ``e[0] = v`` through a view with no two
    elements in one place; ``e[idx] = v`` (index_put_) with a deprecation warning;
    ``e[:, 0] = v`` is refused (its elements are one place). Found by the fuzzer."""
    import warnings

    out = []
    a0 = m.ones(2, 2, requires_grad=True)
    x0 = a0 * 2
    (g1,) = m.autograd.grad(x0.sum(), [x0])  # an expanded gradient
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        g1[m.tensor([1])] = 1.7
    out.append((g1.tolist(), [str(x.message)[:40] for x in w]))
    writes = [
        lambda e: e.__setitem__((m.tensor([0]),), 5.0),
        lambda e: e.__setitem__(0, 5.0),
        lambda e: e.__setitem__((slice(None), 0), 5.0),
        lambda e: e.__setitem__((0, 1), 7.0),
        lambda e: e.__setitem__((0, m.tensor([1, 2])), 7.0),
    ]
    for write in writes:
        base = m.zeros(4)[1:]
        e = base.expand(2, 3)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                write(e)
            out.append((e.tolist(), base.tolist(), e._version))
        except RuntimeError as err:
            out.append(str(err))
    return out


def test_writing_an_expanded_tensor_as_torch():
    assert _write_expanded(cr) == _write_expanded(torch)
