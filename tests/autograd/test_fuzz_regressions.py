"""Minimized fuzz findings (issue 10): each program runs in torch and chainrule side by side;
the same values, or the same exception type and message."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule


def _outcome(program, lib):
    try:
        out = program(lib)
    except Exception as e:  # noqa: BLE001 - the exception is the result compared
        return ("raised", type(e).__name__, str(e).replace(lib.__name__, "LIB"))
    return ("ok", out)


def _same(program):
    want, got = _outcome(program, torch), _outcome(program, chainrule)
    assert got[0] == want[0], (want, got)
    if want[0] == "raised":
        assert got[1:] == want[1:]
        return
    for w, g in zip(want[1], got[1], strict=True):
        if w is None or g is None:
            assert w is None and g is None, (w, g)
            continue
        assert str(g.dtype).split(".")[-1] == str(w.dtype).split(".")[-1]
        np.testing.assert_allclose(
            np.array(g.tolist()), np.array(w.tolist()), rtol=1e-6, strict=True
        )  # (strict: shapes too; a (0,) array broadcast against any (1,) one)


# ----------------------------------------------- 1. multi-output views after a write


def _chunk_then_backward(t):
    a0 = t.tensor([[1.0]], requires_grad=True)
    x0 = a0.index_select(-1, t.tensor([0]))
    (x1,) = x0.chunk(1, -2)
    x0 *= 1.4
    x1.sum().backward()
    return (a0.grad,)


def _unbind_then_hook(t):
    a0 = t.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x0 = a0**2
    x1, _ = x0.unbind(1)
    x0[t.tensor([1, 1])] = -0.9
    x1.register_hook(lambda g: g + 1)
    return ()


def _split_sibling_written_then_op(t):
    a0 = t.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x0 = a0**2
    x1, _ = x0.split(1, 1)
    x0[0].mul_(2)
    return (x1 * 2,)


def _split_base_written_under_no_grad(t):
    a0 = t.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x0 = a0**2
    x1, _ = x0.split(1, 1)
    with t.no_grad():
        x0.add_(1)
    (x1 * 2).sum().backward()
    return (a0.grad,)


def _split_of_no_grad_base_written_in_graph(t):
    a0 = t.tensor([[1.0, 2.0], [3.0, 4.0]])
    x1, _ = a0.split(1, 1)
    a0.add_(t.tensor(1.0, requires_grad=True))
    return (x1 * 2,)


def _split_backward_from_view(t):
    a0 = t.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x0 = a0 * 1
    x1, _ = x0.split(1, 1)
    x0.add_(1)
    x1.backward(t.ones(2, 1))
    return (a0.grad,)


def _split_untouched_still_works(t):
    a0 = t.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x0 = a0**2
    x1, x2 = x0.split(1, 1)
    with t.no_grad():
        x1.sum()
    (x1 * 2 + x2).sum().backward()
    return (a0.grad,)


def _split_no_grad_anywhere(t):
    a0 = t.tensor([[1.0, 2.0], [3.0, 4.0]])
    x1, _ = a0.split(1, 1)
    a0.add_(1)
    return (x1 * 2,)


@pytest.mark.parametrize(
    "program",
    [
        _chunk_then_backward,
        _unbind_then_hook,
        _split_sibling_written_then_op,
        _split_base_written_under_no_grad,
        _split_of_no_grad_base_written_in_graph,
        _split_backward_from_view,
        _split_untouched_still_works,
        _split_no_grad_anywhere,
    ],
)
def test_multi_output_view_used_after_its_base_was_written(program):
    _same(program)


def _stale_split_written(write):
    def program(t):
        a0 = t.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        x0 = a0 * 1
        x1, _ = x0.split(1, 1)
        x0.add_(1)
        write(t, x1)
        return ()

    return program


@pytest.mark.parametrize(
    "write",
    [
        lambda t, v: v.mul_(2),
        lambda t, v: v.copy_(t.ones(2, 1)),
        lambda t, v: v.fill_(2.0),
        lambda t, v: v.zero_(),
        lambda t, v: v.__setitem__(0, 3.0),
    ],
)
def test_writing_a_multi_output_view_after_its_base_was_written(write):
    _same(_stale_split_written(write))


# ----------------------------------------------- 4. a root's gradient takes the root's dtype


def _backward_inputs_self(t):
    a0 = t.ones(2, 2, 3, dtype=t.float32, requires_grad=True)
    x0 = a0.softmax(-3)
    x0.backward(t.ones(2, 2, 3, dtype=t.float64) * 1.5, inputs=[x0])
    return (x0.grad,)


def _backward_retained_root(t):
    a0 = t.ones(2, dtype=t.float32, requires_grad=True)
    x0 = a0 * 2
    x0.retain_grad()
    x0.backward(t.tensor([1.5, 2.0], dtype=t.float64))
    return (x0.grad, a0.grad)


def _grad_of_root_itself(t):
    a0 = t.ones(2, dtype=t.float32, requires_grad=True)
    x0 = a0 * 2
    return t.autograd.grad(x0, [x0, a0], t.tensor([1.5, 2.0], dtype=t.float64))


@pytest.mark.parametrize(
    "program", [_backward_inputs_self, _backward_retained_root, _grad_of_root_itself]
)
def test_root_gradient_is_cast_to_the_root_dtype(program):
    _same(program)


# ----------------------------------------------- 2. a tensor saved by the graph of a gradient


def _data_saved_by_div_gradient_then_written(t):
    a0 = t.tensor(1.0, requires_grad=True)
    x1 = a0.mean().data
    a1 = t.tensor(1.0, requires_grad=True)
    x2 = x1 / (a1 * a1 + 0.5)
    (g0,) = t.autograd.grad(x2.sum(), [a1], create_graph=True)
    x1.pow_(2)
    g0.sum().backward(create_graph=True)
    return (a1.grad,)


def _div_double_backward_untouched(t):
    x1 = t.tensor([1.5, -2.0])
    a1 = t.tensor([1.0, 3.0], requires_grad=True)
    x2 = x1 / (a1 * a1 + 0.5)
    (g0,) = t.autograd.grad(x2.sum(), [a1], create_graph=True)
    g0.sum().backward()
    return (g0, a1.grad)


@pytest.mark.parametrize(
    "program", [_data_saved_by_div_gradient_then_written, _div_double_backward_untouched]
)
def test_the_graph_of_a_div_gradient_saves_the_numerator(program):
    _same(program)


# ----------------------------------------------- 6. views re-derived after a no_grad write


def _linear_view_reshape_written_under_no_grad(t):
    a0 = t.tensor([1.0, 1.0, 1.0, 1.0], requires_grad=True)
    mod0 = t.nn.Linear(4, 2)
    with t.no_grad():
        mod0.weight.copy_(t.tensor([[-0.84, -0.46, 0.6, -0.83], [-0.05, -0.63, -0.4, -0.68]]))
        mod0.bias.copy_(t.tensor([-0.01, -0.08]))
    x0 = mod0(a0)
    x1 = x0[..., 1]
    x2 = x1.reshape(-1)
    with t.no_grad():
        x2[0] = 1.4
    return t.autograd.grad((x2 * x2).sum(), [x1, a0], allow_unused=True)


def _view_of_view_base_written_elsewhere(t):
    a0 = t.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    x0 = a0 * 2
    x1 = x0[1:3]
    x2 = x1[0:1]
    with t.no_grad():
        x0[3] = 1.4
    return t.autograd.grad((x2 * x2).sum(), [x1, a0], allow_unused=True)


def _view_of_view_of_leaf_written(t):
    a0 = t.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    x1 = a0[1:3]
    x2 = x1[0:1]
    with t.no_grad():
        a0.mul_(2)
    return t.autograd.grad((x2 * x2).sum(), [x1, a0], allow_unused=True)


def _view_written_under_no_grad_then_backward(t):
    a0 = t.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    x0 = a0 * 2
    x2 = x0[1:3].view(2)
    with t.no_grad():
        x2.mul_(2)
    (x2 * x2).sum().backward()
    return (a0.grad,)


def _view_of_no_grad_leaf_written_then_leaf_requires_grad(written):
    def program(t):
        x1 = t.ones(2, 2, 2).exp()
        x2 = x1.view(-1)  # made before x1 required grad: no history of its own
        if written == "view":
            x2.detach().mul_(1.6)
        elif written == "base":
            x1.detach().mul_(1.6)
        x1.requires_grad = True  # written since made: re-derived from x1 (torch's replay)
        x2.backward(t.arange(8.0))  # unwritten: no history, so backward raises as torch's
        return (x1.grad,)

    return program


@pytest.mark.parametrize("written", ["view", "base", "neither"])
def test_a_rederived_view_starts_a_backward(written):
    """Fuzz seed 310000's finding: the replayed view kept its 'grad from base' mark, so
    backward from it raised where torch's re-derived view runs."""
    _same(_view_of_no_grad_leaf_written_then_leaf_requires_grad(written))


@pytest.mark.parametrize(
    "program",
    [
        _linear_view_reshape_written_under_no_grad,
        _view_of_view_base_written_elsewhere,
        _view_of_view_of_leaf_written,
        _view_written_under_no_grad_then_backward,
    ],
)
def test_views_are_rederived_from_the_base_after_a_no_grad_write(program):
    _same(program)


def _written_through_detach(through, wanted):
    """Fuzz seed 351850: a write through ``detach()`` of a graph tensor or of one of its
    views moves the shared version, so torch re-derives every view of that memory from its
    base (AsStridedBackward0): a gradient no longer passes through the views it was taken
    from (``autograd.grad`` of one gives None). chainrule kept the views' old histories."""

    def program(t):
        a0 = t.ones(4, 2, 3, requires_grad=True)
        b = a0 * 2 if through != "leaf view" else a0
        x0 = b.squeeze() if through == "leaf view" else b[1:]
        x1 = x0.select(-1, 0)
        src = {"base": b, "view": x0, "view of view": x1, "leaf view": x1}[through]
        src.detach().zero_()
        names = tuple(type(v.grad_fn).__name__.startswith(("AsStrided", "StridedView"))
                      for v in (x0, x1))  # fmt: skip
        inputs = {"x0": [x0], "x1, a0": [x1, a0], "a0": [a0]}[wanted]
        grads = t.autograd.grad((x1 * x1 + x1).sum(), inputs, allow_unused=True)
        return (*grads, t.tensor(names))

    return program


@pytest.mark.parametrize("wanted", ["x0", "x1, a0", "a0"])
@pytest.mark.parametrize("through", ["base", "view", "view of view", "leaf view"])
def test_views_are_rederived_after_a_write_through_detach(through, wanted):
    _same(_written_through_detach(through, wanted))


def test_a_write_through_a_view_of_a_detached_view_rederives():
    """Fuzz seed 360000: the write went through a view of the detached tensor; the hook on
    the view's old node no longer runs (torch's re-derived node has none)."""

    def program(t):
        a0 = t.tensor([[[1.0]]], requires_grad=True)
        x0 = a0.transpose(1, 2)
        x1 = x0.detach()
        x0.register_hook(lambda g: g * 2)
        x1.unsqueeze(-4).tanh_()
        x0.sum().backward(inputs=[a0])
        return (a0.grad,)

    _same(program)


def test_a_write_through_data_keeps_the_views_histories():
    """``.data`` shares no version counter (torch): nothing is re-derived."""

    def program(t):
        a0 = t.ones(3, 2, requires_grad=True)
        b = a0 * 2
        x0 = b[1:]
        b.data.zero_()
        return t.autograd.grad((x0 * 3).sum(), [x0, a0])

    _same(program)


# ----------------------------------------------- autograd.grad of a hooked non-leaf input


def _grad_of_hooked(inputs, through):
    def program(t):
        c0 = t.tensor(1.0)
        a0 = t.tensor(1.0, requires_grad=True)
        x0 = c0 + a0 if through == "add" else a0 * 1
        x0.register_hook(lambda g: g + 1)
        wanted = {"x": [x0], "a, x": [a0, x0], "x, a": [x0, a0]}[inputs]
        return t.autograd.grad(x0.sum(), wanted)

    return program


@pytest.mark.parametrize("through", ["add", "mul"])
@pytest.mark.parametrize("inputs", ["x", "a, x", "x, a"])
def test_autograd_grad_captures_a_hooked_input_as_torch(inputs, through):
    """torch captures a non-leaf input before its tensor hooks when its node runs on to
    another input, after them when it does not (the engine's "hooks ordering" note)."""
    _same(_grad_of_hooked(inputs, through))


def _root_not_on_a_path_to_inputs(t):
    log = []
    a, b = t.ones(3, requires_grad=True), t.ones(3, requires_grad=True)
    x0 = a * 2
    x0.retain_grad()
    x0.register_hook(lambda g: log.append(g + 0))
    x0.grad_fn.register_prehook(lambda g: log.append(g[0] + 10))
    x0.grad_fn.register_hook(lambda gi, go: log.append(go[0] + 20))
    x0.backward(t.full((3,), 2.0), inputs=[b])  # b is not reached from x0
    y = a * 2
    y.retain_grad()
    y.register_hook(lambda g: log.append(g + 30))  # not a root of autograd.grad: not run
    t.autograd.grad(y.sum(), [b], allow_unused=True)
    return (*log, x0.grad, a.grad, b.grad, y.grad)


def test_backward_with_inputs_runs_the_root_s_tensor_hooks():
    """backward(inputs=) with a root no input lies beyond: torch runs the root's tensor
    hooks and retain_grad (not its node's hooks) and nothing else."""
    _same(_root_not_on_a_path_to_inputs)


def _copy_onto_itself(t):
    c0 = t.tensor([1.0, 2.0])
    a0 = t.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    x0 = c0 @ a0
    x0.copy_(x0)  # copy_ saves nothing: no value it kept goes stale
    x0.gather(0, t.tensor([1, 1, 0, 0])).backward(t.tensor([1.5, 1.0, 0.25, 1.0]))
    b = a0 * 1
    b.mul_(b)  # mul_ saves the other argument: stale after the write
    b.sum().backward()  # raises
    return (a0.grad,)


def test_inplace_op_with_itself_as_source():
    _same(_copy_onto_itself)
    _same(_grad_after_copy)


def _grad_after_copy(t):
    c0 = t.tensor([1.0, 2.0])
    a0 = t.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    x0 = c0 @ a0
    x0.copy_(x0)
    x0.gather(0, t.tensor([1, 1, 0, 0])).backward(t.tensor([1.5, 1.0, 0.25, 1.0]))
    return (a0.grad,)


def _is_leaf_of_a_stale_view(t):
    a0 = t.tensor([[1.0, 1.0], [1.0, 1.0]], requires_grad=True)
    x0, x1 = a0.unbind(1)
    with t.no_grad():
        x0.div_(0.2)
    return (t.tensor(float(x1.is_leaf)),)  # reading the history raises, as torch's


def _optimizer_of_a_stale_view(t):
    a0 = t.tensor([[1.0, 1.0], [1.0, 1.0]], requires_grad=True)
    x0, _ = a0.unbind(1)
    with t.no_grad():
        x0.div_(0.2)
    t.optim.Adam([x0], lr=0.1)  # its is_leaf check raises torch's RuntimeError
    return ()


@pytest.mark.parametrize("program", [_is_leaf_of_a_stale_view, _optimizer_of_a_stale_view])
def test_is_leaf_reads_the_history_of_a_view(program):
    _same(program)


def _write_slice_with_itself(t):
    a0 = t.tensor([1.0], requires_grad=True)
    with t.no_grad():
        a0[::2] = a0  # strides (2,) and (1,): torch's overlap check calls it partial
    return (a0,)


def _grad_wrt_a_stale_no_grad_view(t):
    a0 = t.ones(2, 3, 1, requires_grad=True)
    with t.no_grad():
        x0 = a0.view(-1)
    with t.no_grad():
        x0.square_()
    (g0,) = t.autograd.grad(a0.diagonal(-1).sum(), [x0], allow_unused=True)  # reads x0's history
    return (g0,)


@pytest.mark.parametrize("program", [_write_slice_with_itself, _grad_wrt_a_stale_no_grad_view])
def test_fuzz_missing_errors_of_the_last_run(program):
    _same(program)


def _squeeze_nothing_then_grad_of_grad(t):
    a0 = t.tensor(1.0, requires_grad=True)
    x0 = a0.squeeze()  # no dim removed: torch's rule passes the gradient on as it is
    g0, g1 = t.autograd.grad((x0 * x0).sum(), [x0, a0], create_graph=True)
    (g1 * g1).sum().backward(inputs=[g1])
    return (g0.grad,)  # the same tensor as g1 in torch


def _setitem_node_is_freed(t):
    c0 = t.ones(4, 3)
    a0 = t.tensor(1.0, requires_grad=True)
    c0[:, 1] = a0  # CopySlices: freed by a backward without retain_graph
    t.autograd.grad((c0 * c0).sum(), [a0, c0])
    c0.backward(t.ones(4, 3))
    return (a0.grad,)


def _retain_grad_of_a_stale_chunk(t):
    a0 = t.ones(2, 1, 2, requires_grad=True)
    x1, x2 = a0.index_select(2, t.tensor([1, 0, 0, 1])).chunk(2, 0)
    with t.no_grad():
        x2.tanh_()
    x2.retain_grad()  # reads the history of a stale multi-output view
    return (x1,)


@pytest.mark.parametrize(
    "program",
    [_squeeze_nothing_then_grad_of_grad, _setitem_node_is_freed, _retain_grad_of_a_stale_chunk],
)
def test_fuzz_findings_of_seeds_40000(program):
    _same(program)


# ----------------------------------------------- index_put_ into an expanded tensor in a graph


@pytest.mark.parametrize("kind", ["zero-d", "row", "col"])
def test_index_put_into_an_expanded_view_in_a_graph(kind):
    """Fuzz seed 340000: torch writes the selected elements' memory (with its deprecation
    warning) and refuses only at backward; chainrule refused the write itself."""

    def program(t):
        a0 = t.tensor([1.0, 2.0], requires_grad=True)
        x0 = a0 * 3
        if kind == "zero-d":
            x0 = x0[0] * 1
        views = {
            "zero-d": lambda: x0.expand(3),
            "row": lambda: x0[0].expand(3),
            "col": lambda: x0[:, None].expand(2, 3),
        }
        x1 = views[kind]()
        idx = t.tensor([0, 1, 0]) if kind != "col" else (t.tensor([0]), t.tensor([0, 1, 0]))
        with pytest.warns(UserWarning, match="index_put_ on expanded tensors is deprecated"):
            x1[idx] = -1.3
        written = x0.detach().clone()
        try:
            (x0 * 1).sum().backward()
        except RuntimeError as e:
            return (written, str(e))
        return (written, a0.grad)

    out = [program(torch), program(chainrule)]
    np.testing.assert_array_equal(np.array(out[1][0].tolist()), np.array(out[0][0].tolist()))
    assert out[1][1] == out[0][1]


@pytest.mark.parametrize("shape, dim", [((1, 1), None), ((3, 1), 1), ((1, 4), 0), ((2, 3), 1)])
def test_prod_gradient_of_a_one_factor_slice_with_a_zero_is_g_itself(shape, dim):
    """Fuzz seed 370000 (flags): torch's prod backward of a zero in a one-element slice is
    the incoming gradient itself, so under create_graph it requires grad only if that does."""

    def program(t):
        a0 = t.zeros(shape, requires_grad=True)
        if shape == (2, 3):
            a0 = t.tensor([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0]], requires_grad=True)
        g0 = a0 * 1
        x0 = g0.prod() if dim is None else g0.prod(dim)
        (g1,) = t.autograd.grad(x0.sum(), [g0], create_graph=True)
        return g1, t.tensor(g1.requires_grad)

    _same(program)


def test_batch_norm_refusing_a_rebased_split_output_leaves_the_running_stats():
    """Fuzz seed 370000 (state after error): both raise for a split output whose base was
    written; torch raises before its kernel updates the running statistics."""

    def program(t):
        a0 = t.ones(2, 3, 4, requires_grad=True)
        mod = t.nn.BatchNorm1d(3)
        y0 = a0 * 2
        (x2,) = y0.split(4, 2)
        y0.zero_()
        try:
            mod(x2)
        except RuntimeError:
            pass
        return mod.running_mean, mod.running_var

    _same(program)


@pytest.mark.parametrize("raises", [False, True])
def test_capturing_one_output_of_unbind_runs_the_others_hooks_with_none(raises):
    """Fuzz seed 370000: autograd.grad of one output of a multi-output node captures it at
    that node, whose pre-hooks run first: another output's tensor hook gets None (a hook
    that reads it raises, as torch's)."""

    def program(t):
        x0 = t.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True) * 1
        x1, x2 = x0.unbind(1)
        seen = []
        if raises:
            x1.register_hook(lambda g: g.clone().zero_())
        else:
            x1.register_hook(lambda g: seen.append(g is None))
        (g0,) = t.autograd.grad((x2 * x2).sum(), [x2])
        return g0, t.tensor([len(seen), sum(seen)])

    _same(program)


def test_grad_of_an_unreached_unbind_output_runs_the_group_s_hooks():
    """Fuzz seed 390000: autograd.grad of x0 from a loss on x1 (two outputs of one unbind):
    torch's one node is where x0 would be captured, so the path to it runs and every
    output's tensor hook is called (x2's with None: a hook adding to it raises)."""

    def program(t):
        a0 = t.tensor([[1.0], [2.0], [3.0]], requires_grad=True)
        x0, x1, x2 = a0.unbind(0)
        seen = []
        x0.register_hook(lambda g: seen.append(g is None))
        x1.register_hook(lambda g: seen.append(g is None))
        (g0,) = t.autograd.grad((x1 * 2).sum(), [x0], allow_unused=True)
        x2.register_hook(lambda g: g + 1)
        try:
            t.autograd.grad((x1 * 2).sum(), [x0], allow_unused=True)
            raised = 0
        except TypeError:
            raised = 1
        return t.tensor(sorted(seen)), t.tensor(raised), t.tensor(g0 is None)

    _same(program)


def test_group_hooks_at_a_capture_point_run_in_walk_order_not_registration_order():
    """A documented difference (design.md, "One output per node"): torch's one unbind node
    runs its outputs' tensor hooks in registration order; chainrule's walk runs the reached
    output's first, then the others' with None. The same hooks run with the same values."""

    def order(t):
        a0 = t.tensor([[1.0], [2.0], [3.0]], requires_grad=True)
        x0, x1, x2 = a0.unbind(0)
        seen = []
        x2.register_hook(lambda g: seen.append(("x2", g is None)))
        x0.register_hook(lambda g: seen.append(("x0", g is None)))
        x1.register_hook(lambda g: seen.append(("x1", g is None)))
        t.autograd.grad((x1 * 2).sum(), [x0], allow_unused=True)
        return seen

    theirs, ours = order(torch), order(chainrule)
    assert theirs == [("x2", True), ("x0", True), ("x1", False)]
    assert ours == [("x1", False), ("x0", True), ("x2", True)]
    assert sorted(ours) == sorted(theirs)


def test_grad_left_by_a_backward_that_raises_on_a_freed_node_differs_from_torch():
    """A documented difference (design.md, "One output per node"; fuzz seed 370000): both
    raise on the freed node; torch's ready queue had already accumulated the other leaf's
    gradient, chainrule's walk had not."""

    def left(t):
        a0 = t.ones(2, 3, 1, dtype=t.float64, requires_grad=True)
        x0 = a0[t.tensor([0, 0, 0])]
        x0.backward(t.ones(3, 3, 1, dtype=t.float64))
        a1 = t.ones(3, 3, 1, requires_grad=True)
        x1 = a1 - x0
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            (x1 * x1).sum().backward()
        return a1.grad

    assert left(torch) is not None and left(chainrule) is None


# ----------------------------------------------- gradients that are new tensors, not views

_GRAD_MAKERS = {
    "take": lambda t, x: x.take(t.tensor([1, -1, 3, 1])),
    "take_0d": lambda t, x: x[0, 0].take(t.tensor([0, -1, 0])),
    "repeat": lambda t, x: x.repeat(2, 1),
    "repeat_ones": lambda t, x: x.repeat(1, 1),
    "repeat_new_dims": lambda t, x: x.repeat(3, 1, 2),
    "repeat_zero": lambda t, x: x.repeat(0, 1),
    "tile": lambda t, x: x.tile(2),
    "index_select": lambda t, x: x.index_select(1, t.tensor([2, 0])),
    "gather": lambda t, x: x.gather(1, t.tensor([[0, 1], [2, 2]])),
    "getitem_adv": lambda t, x: x[t.tensor([1, 0])],
    "expand": lambda t, x: x[:, :1].expand(2, 5),
}


@pytest.mark.parametrize("name", sorted(_GRAD_MAKERS))
def test_a_gradient_torch_makes_anew_takes_in_place_writes_needing_a_gradient(name):
    """Fuzz seed 400000: take's gradient was a view of a flat tensor made in backward, so
    ``g.add_(x)`` with ``x`` requiring a gradient raised "A view was created in no_grad
    mode"; torch's is a new tensor (put_ into zeros; repeat's a sum), and so is ours."""

    def program(t):
        x = t.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
        y = _GRAD_MAKERS[name](t, x)
        w = t.arange(y.numel(), dtype=y.dtype).reshape(y.shape) + 1
        (g,) = t.autograd.grad((y * w).sum(), x)
        z = t.ones(2, 3, requires_grad=True)
        g.add_(z)
        g.sum().backward()
        return g.detach(), z.grad

    _same(program)


# ----------------------------------------------- a view written in place with itself as value


@pytest.mark.parametrize("write", ["setitem", "copy_", "add_"])
def test_a_view_written_with_itself_keeps_its_old_node_on_the_value_path(write):
    """Fuzz seed 431651: ``x1[0:] = x1`` on a view with a tensor hook. torch's CopySlices
    takes the base's slice in place of the op's *self* edge only; the value (the same
    tensor) keeps its edge to the view's old node, so the hook runs on that path. chainrule
    re-pointed every edge to the old node, and the hook was lost."""

    def program(t):
        a0 = t.ones(2, 3, 4, requires_grad=True)
        x0 = a0 * 1.8
        x1 = x0[..., 0]
        x1.register_hook(lambda g: g + 1)
        if write == "setitem":
            x1[0:] = x1
        elif write == "copy_":
            x1.copy_(x1)
        else:
            x1.add_(x1)
        x1.sum().backward()
        return (a0.grad,)

    _same(program)


# ----------------------------------------------- gradients that alias, or not, as torch's

_ALIAS_OPS = {
    "min_dim": lambda t, a: a.min(0)[0],
    "max_dim": lambda t, a: a.max(0)[0],
    "kthvalue": lambda t, a: a.kthvalue(1, 0)[0],
    "median_dim": lambda t, a: a.median(0)[0],
    "mode": lambda t, a: a.mode(0)[0],
    "cummax": lambda t, a: a.cummax(0)[0],
    "cummin": lambda t, a: a.cummin(0)[0],
    "cumprod": lambda t, a: a.cumprod(0),
    "cumsum": lambda t, a: a.cumsum(0),
    "logcumsumexp": lambda t, a: a.logcumsumexp(0),
    "expand": lambda t, a: a.expand(a.shape),
    "repeat_ones": lambda t, a: a.repeat(*([1] * a.dim())) if a.dim() else a.repeat(()),
    "tile_one": lambda t, a: a.tile((1,)),
    "add0": lambda t, a: a + 0,
    "t": lambda t, a: a.t(),
}


@pytest.mark.parametrize("shape", [(), (1,), (1, 3), (3,)], ids=str)
@pytest.mark.parametrize("name", sorted(_ALIAS_OPS))
def test_a_captured_gradient_shares_memory_with_another_exactly_as_torch_s(name, shape):
    """Fuzz seed 452165: ``autograd.grad`` of ``y = a.min(0)[0]`` (a 0-d) for both y and a:
    chainrule's gradient of a was y's own tensor, so writing one changed the other; torch
    scatters into zeros. Where torch's rule returns the gradient itself (cumprod along a
    dim of size 1, repeat by ones, add) the two do share memory, in both libraries."""

    def program(t):
        a = t.ones(shape, requires_grad=True)
        y = _ALIAS_OPS[name](t, a)
        gy, ga = t.autograd.grad((y * y).sum(), [y, a])
        ga.add_(7.0)
        return (gy,)

    _same(program)


# ----------------------------------------------- views requiring grad only through their base


@pytest.mark.parametrize("made", ["no_grad", "before_requires_grad"])
@pytest.mark.parametrize("use", ["second_backward", "grad_unused", "grad_of_base", "hook"])
def test_a_view_requiring_grad_through_its_base_gets_no_gradient_edge(made, use):
    """Fuzz seed 460000: a view made under no_grad (or before its base required grad)
    requires grad through its base only; torch gives it no gradient accumulator, so an op
    on it has no edge there, and a node with no edge wanting a gradient reads no saved
    value: a second backward through it does not raise. chainrule's edge to the view made
    the node run and free its saved values."""

    def program(t):
        if made == "no_grad":
            a0 = t.tensor([1.0, 2.0, 3.0], requires_grad=True)
            with t.no_grad():
                x0 = a0[..., :1]
        else:
            a0 = t.tensor([1.0, 2.0, 3.0])
            x0 = a0[..., :1]
            a0.requires_grad_()
        x1 = x0 * x0 + a0
        if use == "second_backward":
            x1.sum().backward()
            x1.sum().backward(t.tensor(-1.5))
            return a0.grad, x0.grad, t.tensor(float(x1.requires_grad))
        if use == "grad_unused":
            return t.autograd.grad(x1.sum(), [x0, a0], allow_unused=True)
        if use == "grad_of_base":
            return t.autograd.grad(x1.sum(), [x0])
        calls = []
        x0.register_hook(lambda g: calls.append(1))
        x1.sum().backward()
        return a0.grad, t.tensor(float(len(calls)))

    _same(program)


@pytest.mark.parametrize("made", ["split", "split_no_grad", "index_no_grad"])
def test_retain_grad_on_a_view_made_without_history_is_a_no_op(made):
    """Fuzz seed 460000: views of a tensor that did not require grad (split outputs), or
    made under no_grad, whose base is then written with a gradient: torch's retain_grad
    reads the raw history (none) and does nothing; using the view then raises in both."""

    def program(t):
        x0 = 1 / (t.ones(1, 4, 1) * 2 + 0.5)
        if made == "split":
            x1, _ = x0.split(2, -2)
        elif made == "split_no_grad":
            with t.no_grad():
                x1, _ = x0.split(2, -2)
        else:
            with t.no_grad():
                x1 = x0[:, 1:]
        x0.copy_(t.ones(4, 1, requires_grad=True))
        x1.retain_grad()
        return (x1.detach(), t.tensor(float(x1.requires_grad)))

    _same(program)


# ----------------------------------------------- hooks registered after a write


@pytest.mark.parametrize(
    "case", ["self_written", "base_written", "view_written", "unbind_base_written"]
)
def test_a_hook_registered_after_a_write_goes_where_torch_s_does(case):
    """Fuzz seed 490000: torch keeps a tensor's hook list on the node its first hook was
    registered on until the tensor's own history is replaced: a tensor written in place
    (or a view written through itself) starts a new list on its new node, while a view
    whose base was written keeps adding to the old list (its history is re-derived lazily),
    with no view-replay check. chainrule refused the second hook on an unbind output."""

    def program(t):
        seen = []

        def hook(name):
            return lambda g: seen.append(t.tensor([float(name)] + g.flatten().tolist()))

        a = t.ones(3, requires_grad=True)
        if case == "self_written":
            y = a * 2
            y.register_hook(hook(1))
            y.mul_(3)
            y.register_hook(hook(2))
            out = y
        elif case == "view_written":
            y = (a * 1)[:2]
            y.register_hook(hook(1))
            y.mul_(3)
            y.register_hook(hook(2))
            out = y * 1
        elif case == "base_written":
            x0 = a * 1
            y = x0[0:2]
            y.register_hook(hook(1))
            x0.mul_(3)
            y.register_hook(hook(2))
            out = y * 1
        else:
            x0 = (t.ones(3, 2, 1) * a.reshape(3, 1, 1))[:, :, 0]
            y, _ = x0.unbind(1)
            y.register_hook(hook(1))
            x0 += x0
            y.register_hook(hook(2))
            out = x0
        out.sum().backward()
        return (a.grad, *seen)

    _same(program)


@pytest.mark.parametrize("key", ["ellipsis", "full_slice", "part", "copy_view"])
def test_writing_a_tensor_s_own_elements_into_themselves_writes_nothing(key):
    """Fuzz seed 490000: ``g[...] = g`` on an expanded gradient (elements sharing memory)
    raised the overlap error; torch's copy_ of the same elements writes nothing, checks no
    overlap and moves the version. With a history, the copy is recorded as torch's."""

    def program(t):
        a1 = t.ones(4, requires_grad=True)
        (g,) = t.autograd.grad(a1.sum(), [a1])  # an expanded gradient
        v0 = g._version
        if key == "ellipsis":
            g[...] = g
        elif key == "full_slice":
            g[:] = g
        elif key == "part":
            g[1:3] = g[1:3]
        else:
            g[...].copy_(g)
        a = t.ones(3, requires_grad=True)
        x = a * 2
        x[...] = x
        x[1:] = x[1:]
        (x * 3).sum().backward()
        return g, t.tensor(float(g._version - v0)), a.grad, x.detach()

    _same(program)


@pytest.mark.parametrize("key", ["ellipsis", "full_slice", "as_written_from_0", "int"])
def test_a_setitem_torch_does_as_copy_records_a_re_runnable_copy(key):
    """Fuzz seed 500000: ``c[...] = a`` is torch's ``c.copy_(a)`` (no view: CopyBackwards,
    which saves nothing, so a second backward through it runs); chainrule recorded a
    CopySlices-named node that freed itself. ``c[0] = a`` writes through a view (CopySlices).
    A value of another shape takes the general path (see the test after this one)."""

    def program(t):  # (a value of c's shape: one torch expands first takes another path)
        a = t.ones(2, 3, requires_grad=True)
        c = t.zeros(2, 3)
        if key == "ellipsis":
            c[...] = a
        elif key == "full_slice":
            c[:] = a * 2
        elif key == "as_written_from_0":
            c[0:] = a * 3
        else:
            c[0] = a[1]
        (c * c).sum().backward()
        try:
            (g,) = t.autograd.grad(c.sum(), [a])
        except RuntimeError as e:
            g = t.tensor([float(len(str(e)))])
        return a.grad, g, c.detach()

    _same(program)


@pytest.mark.parametrize("key", ["ellipsis", "from_0", "int"])
def test_setitem_of_a_broadcast_value_sharing_memory_is_written(key):
    """Fuzz seed 510000: ``x0[0:] = c0`` with ``x0 = c0[None]``: torch expands the value
    before its copy_, which then checks no overlap (``x0.copy_(c0)`` itself raises)."""

    def program(t):
        c0 = t.tensor(2.0)
        x0 = c0[None]
        if key == "ellipsis":
            x0[...] = c0
        elif key == "from_0":
            x0[0:] = c0
        else:
            x0[0] = c0
        return (x0, c0)

    _same(program)


# ------------------------------------- an optimizer's write re-derives a parameter's views


def _view_then_step(t, optimizer):
    a0 = t.tensor([[1.0, 2.0]], requires_grad=True)
    x0 = a0[0]  # a view with a history (SelectBackward0)
    y = (x0 * x0).sum()
    a0.grad = t.ones(1, 2)
    opt = optimizer(t)([a0], lr=0.5)
    opt.step()  # p.add_ under no_grad in torch: x0 is re-derived from a0 when next used
    (g,) = t.autograd.grad(y, [x0], allow_unused=True)
    z = (x0 * 3).sum()  # through the new history: the gradient reaches a0
    z.backward()
    return (g, a0.grad, x0.grad_fn is not None)


_OPTIMIZERS = {
    "sgd": lambda t: t.optim.SGD,
    "adam": lambda t: t.optim.Adam,
    "rmsprop": lambda t: t.optim.RMSprop,
}


@pytest.mark.parametrize("name", sorted(_OPTIMIZERS))
def test_an_optimizer_step_re_derives_the_views_of_a_parameter(name):
    """Fuzz seed 530525: an optimizer's step writes its parameters as torch's in-place ops
    under no_grad do, so a view taken of a parameter before the step gets a new history
    from it (AsStridedBackward0): autograd.grad of the old graph with respect to the view
    is None (allow_unused), as torch's; chainrule's step moved the version only."""
    want = _view_then_step(torch, _OPTIMIZERS[name])
    got = _view_then_step(chainrule, _OPTIMIZERS[name])
    assert want[0] is None and got[0] is None
    np.testing.assert_allclose(got[1].numpy(), want[1].numpy(), rtol=1e-6)
    assert got[2] == want[2]
