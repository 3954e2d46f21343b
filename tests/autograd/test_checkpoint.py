"""utils.checkpoint: same values and gradients as without it (and as torch), dropout
replayed, autograd.grad and double backward through it, and a lower memory peak."""

import tracemalloc

import numpy as np
import pytest
import torch
from autograd_twins import compare

import chainrule as cr
from chainrule.utils.checkpoint import checkpoint, checkpoint_sequential


def mlp(depth=12, width=64, p=0.0, seed=0):
    cr.manual_seed(seed)
    layers = []
    for _ in range(depth):
        layers += [cr.nn.Linear(width, width), cr.nn.Tanh()]
        if p:
            layers.append(cr.nn.Dropout(p))
    return cr.nn.Sequential(*layers)


def grads_of(model, x, run):
    model.zero_grad()
    x = x.detach().requires_grad_()
    out = run(model, x)
    (out**2).sum().backward()
    return out.detach(), x.grad, [p.grad.numpy().copy() for p in model.parameters()]


def assert_same(a, b):
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
    for g, h in zip(a[2], b[2]):
        np.testing.assert_array_equal(g, h)


@pytest.mark.parametrize("reentrant", [False, True])
@pytest.mark.parametrize("p", [0.0, 0.3])
def test_gradients_identical_to_the_plain_run(p, reentrant):
    """Parameters are reached through the closure; dropout masks are replayed."""
    model = mlp(depth=6, width=16, p=p)
    x = cr.randn(8, 16)
    cr.manual_seed(1)
    plain = grads_of(model, x, lambda m, x: m(x))
    cr.manual_seed(1)
    ckpt = grads_of(model, x, lambda m, x: checkpoint(m, x, use_reentrant=reentrant))
    assert_same(plain, ckpt)
    for segments in [1, 2, 3, 6]:
        cr.manual_seed(1)
        seq = grads_of(model, x, lambda m, x, s=segments: checkpoint_sequential(m, s, x, reentrant))
        assert_same(plain, seq)


def test_without_preserved_rng_dropout_differs():
    model = mlp(depth=2, width=16, p=0.5)
    x = cr.randn(8, 16)
    cr.manual_seed(1)
    plain = grads_of(model, x, lambda m, x: m(x))
    cr.manual_seed(1)
    other = grads_of(
        model,
        x,
        lambda m, x: checkpoint(m, x, use_reentrant=False, preserve_rng_state=False),
    )
    np.testing.assert_array_equal(plain[0].numpy(), other[0].numpy())  # forward is the same
    assert not np.array_equal(plain[1].numpy(), other[1].numpy())  # backward used new masks


def make(lib, ckpt):
    def f(x, w, scale=1.0):
        h = (x @ w).tanh() * scale
        return h.exp(), h.sum()

    def run(x, w):
        return ckpt(f, x, w, scale=0.5)

    return run


def test_against_torch_with_two_outputs_and_kwargs():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    x, w = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    tx, tw = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    tck = lambda *args, **kw: torch.utils.checkpoint.checkpoint(*args, use_reentrant=False, **kw)  # noqa: E731
    ck = lambda *args, **kw: checkpoint(*args, use_reentrant=False, **kw)  # noqa: E731
    out, tout = make(cr, ck)(x, w), make(torch, tck)(tx, tw)
    compare(out, tout, grad=False)
    assert out[0].grad_fn is not None and out[0].requires_grad
    g = cr.tensor(rng.normal(size=(3, 2)))
    (out[0] * g).sum().backward()
    (tout[0] * torch.tensor(g.numpy())).sum().backward()
    compare(x.grad, tx.grad, grad=False)
    compare(w.grad, tw.grad, grad=False)


def test_autograd_grad_and_double_backward():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))

    def second(lib, ckpt):
        x, w = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        y = ckpt(lambda x: (x @ w).sin(), x)
        gx, gw = lib.autograd.grad(y.sum(), (x, w), create_graph=True)
        return lib.autograd.grad((gx**2).sum() + (gw**3).sum(), (x, w))

    tck = lambda f, *a: torch.utils.checkpoint.checkpoint(f, *a, use_reentrant=False)  # noqa: E731
    ck = lambda f, *a: checkpoint(f, *a, use_reentrant=False)  # noqa: E731
    compare(second(cr, ck), second(torch, tck), grad=False)


@pytest.mark.parametrize("reentrant", [False, True])
def test_no_grad_and_nothing_to_differentiate(reentrant):
    x = cr.randn(3)
    with cr.no_grad():
        y = checkpoint(lambda x: x * 2, x, use_reentrant=reentrant)
    assert y.grad_fn is None
    y = checkpoint(lambda x: x * 2, x, use_reentrant=reentrant)
    assert not y.requires_grad


def test_unexpected_keyword():
    with pytest.raises(ValueError, match="^Unexpected keyword arguments: foo$"):
        checkpoint_sequential([lambda x: x], 1, cr.ones(2), use_reentrant=False, foo=1)
    with pytest.raises(ValueError, match="^Unexpected keyword arguments: foo$"):
        torch.utils.checkpoint.checkpoint_sequential(
            [lambda x: x], 1, torch.ones(2), use_reentrant=False, foo=1
        )


def peak_bytes(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_drops_on_a_deep_mlp():
    model = mlp(depth=32, width=64)
    x = cr.randn(2048, 64)

    def step(run):
        def go():
            model.zero_grad(set_to_none=True)
            run(model, x).pow(2).mean().backward()

        return go

    plain = peak_bytes(step(lambda m, x: m(x)))
    ckpt = peak_bytes(step(lambda m, x: checkpoint_sequential(m, 8, x, use_reentrant=False)))
    # 64 modules: activations of 8 segments of 8 instead of all 64 at once
    print(f"peak: {plain / 1e6:.1f} MB plain, {ckpt / 1e6:.1f} MB checkpointed")
    assert ckpt < 0.5 * plain, (plain, ckpt)
    cr.manual_seed(3)
    assert_same(grads_of(model, x, lambda m, x: m(x)),
                grads_of(model, x, lambda m, x: checkpoint_sequential(m, 8, x, False)))  # fmt: skip


def _penalty_program(m, checkpointed):
    """A parameter used both inside a checkpointed segment and in front of it (through the
    segment's input), first and second derivatives (a gradient penalty)."""
    w = m.tensor([0.5, -0.3], requires_grad=True)
    v = m.tensor([0.2, 0.7], requires_grad=True)
    x = m.tensor([1.0, 2.0])

    def f(a):
        return (a * w).tanh() * v

    a = (x * w).sin()
    h = m.utils.checkpoint.checkpoint(f, a, use_reentrant=False) if checkpointed else f(a)
    gw, gv = m.autograd.grad(h.sum(), [w, v], create_graph=True)
    hw, hv = m.autograd.grad((gw**2).sum() + (gv * gw).sum(), [w, v])
    return [gw, gv, hw, hv]


def test_create_graph_through_a_segment_that_captures_its_input_s_parameter():
    """Under create_graph the segment's gradient stops at its inputs (the checkpoint node
    passes it on, once) yet stays a function of them: first and second derivatives equal
    the plain graph's, and torch's."""
    plain = _penalty_program(cr, False)
    for got, want, ref in zip(_penalty_program(cr, True), plain, _penalty_program(torch, True)):
        np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
        np.testing.assert_allclose(got.detach().numpy(), ref.detach().numpy(), rtol=1e-6)


def test_a_checkpoint_s_saved_input_detached_in_place_is_refused():
    """The segment's non-leaf input is saved (torch's saved variable): ``detach_()`` on it
    before backward makes the backward raise, as torch's."""
    msgs = []
    for m in (torch, cr):
        lin = m.nn.Linear(2, 3)
        w = m.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        h = w * 1
        y = m.utils.checkpoint.checkpoint(lin, h, use_reentrant=False)
        h.detach_()
        with pytest.raises(RuntimeError) as e:
            y.sum().backward()
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def _hook_program(m, on, when):
    lin = m.nn.Linear(2, 3)
    with m.no_grad():
        lin.weight.copy_(m.tensor([[0.25, 0.375], [0.5, 0.125], [0.5, 0.375]]))
        lin.bias.zero_()
    s = m.tensor([1.5], requires_grad=True)
    scale = s * 2  # captured non-leaf
    target = lin.weight if on == "parameter" else scale
    calls = []

    def hook(g):
        calls.append(1)
        return g * 0.5

    if when == "before":
        target.register_hook(hook)
    x = m.tensor([[1.0, 2.0], [3.0, 4.0]]) * 1
    y = m.utils.checkpoint.checkpoint(lambda x: lin(x) * scale, x, use_reentrant=False)
    if when == "after":
        target.register_hook(hook)
    y.sum().backward()
    return len(calls), lin.weight.grad.tolist(), s.grad.tolist()


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("on", ["parameter", "captured non-leaf"])
def test_hook_on_a_captured_tensor_runs_once(on, when):
    """A tensor the segment captures (a parameter, or a non-leaf made outside it) gets its
    gradient from the checkpoint node once: its hooks run once (torch's recomputation
    feeds its original graph), not again inside the recomputation's own pass."""
    assert _hook_program(cr, on, when) == _hook_program(torch, on, when)


def test_requires_grad_changed_between_forward_and_recomputation_is_caught():
    """A parameter's requires_grad turned off after the checkpointed forward: the
    recomputation saves fewer tensors (Linear keeps x only for W's gradient), which torch's
    determinism check reports."""
    msgs = []
    for m in (torch, cr):
        lin = m.nn.Linear(3, 3)
        h = m.tensor([[1.0, 2.0, 3.0]], requires_grad=True).sigmoid()
        y = m.utils.checkpoint.checkpoint(lin, h, use_reentrant=False)
        lin.weight.requires_grad_(False)
        with pytest.raises(RuntimeError) as e:
            y.sum().backward()
        msgs.append(str(e.value).split("\n")[0])
    assert msgs[0] == msgs[1]


def _stepped_program(m, target):
    lin = m.nn.Linear(2, 2)
    with m.no_grad():
        lin.weight.copy_(m.tensor([[0.5, -1.0], [0.25, 0.75]]))
        lin.bias.copy_(m.tensor([0.1, 0.2]))
    x = m.tensor([[0.5, 1.0], [0.25, -1.0]], requires_grad=True)
    h = x * 1.0
    y = m.utils.checkpoint.checkpoint(lin, h, use_reentrant=False)
    loss = (m.nn.functional.log_softmax(y, 1)[:, 0] * m.tensor([1.0, 2.0])).sum()
    with m.no_grad():
        {"weight": lin.weight, "bias": lin.bias, "input": h}[target].mul_(3)
    try:
        loss.backward()
    except RuntimeError as e:
        return str(e).split(":")[0]
    return [t.grad.tolist() for t in (x, lin.weight, lin.bias)]


@pytest.mark.parametrize("target", ["weight", "bias", "input"])
def test_captured_parameters_are_read_as_they_are_at_recomputation(target):
    """torch's non-reentrant checkpoint saves its tensor arguments (a write to one before
    backward raises) but not the tensors the segment captures: a parameter stepped in
    between is read as it is then (the recomputation uses the new weight), no error."""
    got, want = _stepped_program(cr, target), _stepped_program(torch, target)
    if isinstance(want, str):
        assert got == want
    else:
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
        np.testing.assert_allclose(got[2], want[2], rtol=1e-6)
