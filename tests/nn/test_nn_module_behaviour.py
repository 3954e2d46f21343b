"""Module behaviour against torch: train/eval, zero_grad, apply, dtype casts, hooks,
Parameter, in-place versions and deepcopy."""

import copy

import numpy as np
import pytest
import torch
from nn_twins import Linear, Tanh, adapt, copy_weights, make_net, same_error

import chainrule as cr
from chainrule import nn


@pytest.fixture
def twins():
    torch.manual_seed(0)
    cr.manual_seed(0)
    return make_net(cr), make_net(torch)


def names(it):
    return [n for n, _ in it]


# --------------------------------------------------------------------------- modes and grads


def test_train_eval_propagate_like_torch(twins):
    c, t = twins
    assert c.eval() is c
    t.eval()
    assert [m.training for m in c.modules()] == [m.training for m in t.modules()]
    assert not any(m.training for m in c.modules())
    c.heads.train()
    t.heads.train()
    assert [m.training for m in c.modules()] == [m.training for m in t.modules()]
    c.train()
    assert all(m.training for m in c.modules())


def test_zero_grad_and_requires_grad_():
    m = Linear(3, 2)
    m(cr.ones(4, 3)).sum().backward()
    g = m.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is g and not g.any().item() and not g.requires_grad
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None
    assert m.requires_grad_(False) is m
    assert not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    assert all(p.requires_grad for p in m.parameters())


def test_apply_visits_children_first_like_torch(twins):
    c, t = twins
    cn = {id(m): n for n, m in c.named_modules()}
    tn = {id(m): n for n, m in t.named_modules()}
    seen_c, seen_t = [], []
    assert c.apply(lambda m: seen_c.append(cn[id(m)])) is c
    t.apply(lambda m: seen_t.append(tn[id(m)]))
    assert seen_c == seen_t


def test_casts_keep_parameter_objects_and_grads():
    m = nn.Module()
    m.lin = Linear(2, 2)
    m.register_buffer("count", cr.zeros(1, dtype=cr.int64))
    m.register_buffer("stat", cr.zeros(2))
    m.lin(cr.ones(1, 2)).sum().backward()
    w = m.lin.weight
    assert m.double() is m
    assert m.lin.weight is w and w.dtype == cr.float64 and w.grad.dtype == cr.float64
    assert w.requires_grad and isinstance(w, nn.Parameter)
    assert m.count.dtype == cr.int64 and m.stat.dtype == cr.float64
    m.float()
    assert w.dtype == cr.float32 and w.grad.dtype == cr.float32
    m.to(cr.float64)
    assert w.dtype == cr.float64
    m.to(cr.ones(1, dtype=cr.float32))
    assert w.dtype == cr.float32
    assert m.to("cpu") is m and m.to(dtype=cr.float16).lin.weight.dtype == cr.float16
    assert m.half() is m and m.cpu() is m
    out = m.float().lin(cr.ones(1, 2))
    assert out.dtype == cr.float32
    same_error(lambda: torch.nn.Module().to(torch.int64), lambda: nn.Module().to(cr.int64))


# --------------------------------------------------------------------------- hooks


def test_hooks_run_in_torch_order_and_can_replace_values():
    def trace(lib):
        Lin = torch.nn.Linear if lib is torch else Linear
        m, log = Lin(2, 2), []
        h1 = m.register_forward_pre_hook(lambda mod, args: log.append("pre1"))
        m.register_forward_pre_hook(lambda mod, args: log.append("pre0"), prepend=True)
        m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))  # zero the input
        m.register_forward_hook(lambda mod, args, out: log.append(("post", tuple(args[0].shape))))
        h2 = m.register_forward_hook(lambda mod, args, out: out + 1)
        m.register_forward_hook(
            lambda mod, args, kwargs, out: log.append(("kw", sorted(kwargs))), with_kwargs=True
        )
        out1 = m(lib.ones(3, 2))
        h1.remove()
        h2.remove()
        h2.remove()  # removing twice is harmless
        out2 = m(lib.ones(3, 2))
        b = m.bias.detach().numpy()
        return log, out1.detach().numpy() - b, out2.detach().numpy() - b

    (lc, c1, c2), (lt, t1, t2) = trace(cr), trace(torch)
    assert lc == lt
    np.testing.assert_allclose(c1, 1.0, rtol=0, atol=1e-6)
    np.testing.assert_allclose(t1, 1.0, rtol=0, atol=1e-6)
    np.testing.assert_allclose(c2, 0.0, atol=1e-6)
    np.testing.assert_allclose(t2, 0.0, atol=1e-6)


def test_pre_hook_single_value_and_kwargs_hooks():
    m = Tanh()
    m.register_forward_pre_hook(lambda mod, args: args[0] * 0)  # not a tuple: wrapped
    assert m(cr.ones(2)).tolist() == [0.0, 0.0]

    class Scale(nn.Module):
        def forward(self, x, k=1.0):
            return x * k

    s = Scale()
    s.register_forward_pre_hook(lambda mod, a, kw: (a, {"k": 3.0}), with_kwargs=True)
    assert s(cr.ones(1)).tolist() == [3.0]
    bad = Scale()
    bad.register_forward_pre_hook(lambda mod, a, kw: 5, with_kwargs=True)
    tb = torch.nn.Module()
    tb.forward = lambda x: x
    tb.register_forward_pre_hook(lambda mod, a, kw: 5, with_kwargs=True)
    same_error(lambda: tb(torch.ones(1)), lambda: bad(cr.ones(1)))


def test_always_call_hook_runs_when_forward_raises_and_handle_as_context():
    m, log = Tanh(), []
    m.register_forward_hook(lambda mod, a, out: log.append("always"), always_call=True)
    m.register_forward_hook(lambda mod, a, out: log.append("normal"))
    with pytest.raises(AttributeError):
        m("not a tensor")
    assert log == ["always"]
    with m.register_forward_hook(lambda mod, a, out: log.append("ctx")):
        m(cr.ones(1))
    m(cr.ones(1))
    assert log == ["always", "always", "normal", "ctx", "always", "normal"]


# --------------------------------------------------------------------------- Parameter


def test_parameter_like_torch():
    data = cr.tensor([1.0, 2.0])
    p = nn.Parameter(data)
    assert isinstance(p, cr.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    q = nn.Parameter(data, requires_grad=False)
    assert repr(q) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0]), requires_grad=False))
    assert repr(nn.Parameter()) == repr(torch.nn.Parameter())
    assert p._data is data._data  # shares memory, like torch
    assert type(p * 2) is cr.Tensor and type(p.detach()) is cr.Tensor
    assert type(p + p) is cr.Tensor and (p * 2).grad_fn is not None
    assert not hasattr(p, "__dict__") and nn.Parameter.__slots__ == ()
    same_error(
        lambda: torch.nn.Parameter(torch.tensor([1, 2])),
        lambda: nn.Parameter(cr.tensor([1, 2])),
    )
    assert not nn.Parameter(cr.tensor([1, 2]), requires_grad=False).requires_grad
    d = copy.deepcopy(p)
    assert isinstance(d, nn.Parameter) and d is not p and d._data is not p._data
    assert d.tolist() == p.tolist() and d.requires_grad
    with pytest.raises(TypeError, match="chainrule.save"):
        import pickle

        pickle.dumps(p)


def test_typename_in_messages():
    m = nn.Module()
    m.w = nn.Parameter(cr.ones(1))
    for dt, name in [
        (cr.float64, "DoubleTensor"),
        (cr.int64, "LongTensor"),
        (cr.bool, "BoolTensor"),
    ]:
        with pytest.raises(TypeError, match=f"cannot assign 'chainrule.{name}' as parameter 'w'"):
            m.w = cr.ones(1, dtype=dt)
    assert (
        adapt("torch.nn.Parameter torch.FloatTensor")
        == "chainrule.nn.Parameter chainrule.FloatTensor"
    )


def test_in_place_changes_bump_versions_like_torch():
    def versions(lib):
        m = torch.nn.Linear(2, 2) if lib is torch else Linear(2, 2)
        P = torch.nn.Parameter if lib is torch else nn.Parameter
        out = []
        x = lib.zeros(2)
        p = P(x)
        x_view = p.detach()
        out.append(p._version)
        w = m.weight
        v = w._version
        m.load_state_dict(m.state_dict())
        out.append(w._version - v)
        m(lib.ones(1, 2)).sum().backward()
        g = m.weight.grad
        v = g._version
        m.zero_grad(set_to_none=False)
        out.append(g._version - v)
        del x_view
        return out

    assert versions(cr) == versions(torch)
    w = nn.Parameter(cr.ones(2))
    y = (w * w).sum()
    m = nn.Module()
    m.w = w
    m.load_state_dict({"w": cr.zeros(2)})  # changes w in place: y's graph is stale
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_deepcopy_of_a_module_like_torch(twins):
    c, t = twins
    copy_weights(c, t)
    c(cr.ones(2, 3))[0].sum().backward()
    t(torch.ones(2, 3))[0].sum().backward()
    c2, t2 = copy.deepcopy(c), copy.deepcopy(t)
    assert names(c2.named_parameters()) == names(t2.named_parameters())
    assert c2.shared is c2.fc1  # shared submodules stay shared
    for (n, a), b in zip(c2.named_parameters(), c.parameters()):
        assert a is not b and isinstance(a, nn.Parameter) and a.requires_grad, n
        assert a._data is not b._data and a.tolist() == b.tolist()
        assert a.grad is None  # Parameter deepcopy drops the grad, as torch's
    assert [p.grad is None for p in t2.parameters()] == [p.grad is None for p in c2.parameters()]
    assert c2.running is not c.running and c2.running.tolist() == c.running.tolist()
    c2(cr.ones(2, 3))[0].sum().backward()  # the copies record and backpropagate as torch's
    t2(torch.ones(2, 3))[0].sum().backward()
    for a, b in zip(c2.parameters(), t2.parameters()):
        assert (a.grad is None) == (b.grad is None)
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-7)
    c2.fc1.weight.detach().numpy()[0, 0] = 123.0
    assert c.fc1.weight[0, 0].item() != 123.0
    x = cr.ones(2, requires_grad=True)
    x.grad = cr.ones(2)
    assert copy.deepcopy(x).grad.tolist() == [1.0, 1.0]  # a plain leaf keeps its grad
    y = copy.deepcopy(x)
    (y * 3).sum().backward()
    assert y.grad.tolist() == [4.0, 4.0] and x.grad.tolist() == [1.0, 1.0]
    same_error(
        lambda: copy.deepcopy(torch.ones(1, requires_grad=True) * 2),
        lambda: copy.deepcopy(cr.ones(1, requires_grad=True) * 2),
    )
