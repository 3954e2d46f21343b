"""Module against torch: registration and names, repr, state dicts, attribute rules, modes,
hooks, dtype casts, lookups; Parameter."""

import copy
from collections import OrderedDict

import numpy as np
import pytest
import torch
from nn_twins import Linear, Tanh, adapt, close, copy_weights, make_net, same_error

import chainrule as cr
from chainrule import nn
from chainrule.nn.module_state import _IncompatibleKeys


@pytest.fixture
def twins():
    torch.manual_seed(0)
    cr.manual_seed(0)
    return make_net(cr), make_net(torch)


# --------------------------------------------------------------------------- names


def names(it):
    return [n for n, _ in it]


def test_named_members_match_torch(twins):
    c, t = twins
    assert names(c.named_parameters()) == names(t.named_parameters())
    assert names(c.named_parameters(remove_duplicate=False)) == names(
        t.named_parameters(remove_duplicate=False)
    )
    assert names(c.named_parameters(prefix="net", recurse=False)) == names(
        t.named_parameters(prefix="net", recurse=False)
    )
    assert names(c.named_buffers()) == names(t.named_buffers())
    assert names(c.named_modules()) == names(t.named_modules())
    assert names(c.named_modules(remove_duplicate=False)) == names(
        t.named_modules(remove_duplicate=False)
    )
    assert names(c.named_modules(prefix="root")) == names(t.named_modules(prefix="root"))
    assert names(c.named_children()) == names(t.named_children())
    assert list(c.state_dict()) == list(t.state_dict())
    assert len(list(c.parameters())) == len(list(t.parameters()))
    assert len(list(c.children())) == len(list(t.children()))
    assert len(list(c.modules())) == len(list(t.modules()))
    assert len(list(c.buffers())) == len(list(t.buffers()))
    assert "0.weight" in names(c.blocks.named_parameters())


def test_repr_matches_torch(twins):
    c, t = twins
    assert repr(c) == adapt(repr(t))
    assert repr(nn.Module()) == repr(torch.nn.Module()) == "Module()"
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())


def test_dir_lists_registered_names(twins):
    c, t = twins
    d = dir(c)
    for name in ("fc1", "scale", "running", "forward", "training", "heads"):
        assert name in d
    assert d == sorted(d)
    assert set(dir(c)) - set(dir(t)) <= set(dir(c)) - {"fc1", "scale", "running", "heads"}


# --------------------------------------------------------------------------- state dict


def test_state_dict_is_detached_ordered_and_shares_memory(twins):
    c, _ = twins
    sd = c.state_dict()
    assert isinstance(sd, OrderedDict)
    assert all(not v.requires_grad and not isinstance(v, nn.Parameter) for v in sd.values())
    assert "tmp" not in sd and "absent" not in sd
    sd["fc1.weight"].numpy()[0, 0] = 42.0  # detached views share the parameter's memory
    assert c.fc1.weight[0, 0].item() == 42.0
    kept = c.state_dict(keep_vars=True)
    assert kept["fc1.weight"] is c.fc1.weight
    assert list(c.state_dict(prefix="m.")) == ["m." + k for k in sd]


def test_load_state_dict_copies_in_place_and_forward_matches(twins):
    c, t = twins
    params = list(c.parameters())
    result = copy_weights(c, t)
    assert isinstance(result, _IncompatibleKeys)
    assert repr(result) == "<All keys matched successfully>"
    assert all(a is b for a, b in zip(params, c.parameters()))  # same objects, new values
    for (name, a), b in zip(c.state_dict().items(), t.state_dict().values()):
        close(a, b, rtol=0, atol=0, err_msg=name)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ca, cb), (ta, tb) = c(xc), t(xt)
    close(ca, ta, rtol=1e-5, atol=1e-6)
    close(cb, tb, rtol=1e-5, atol=1e-6)
    (ca.sum() + (cb * cb).sum()).backward()
    (ta.sum() + (tb * tb).sum()).backward()
    close(xc.grad, xt.grad, rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(c.named_parameters(), t.parameters()):
        if q.grad is None:  # plist, pdict: not used in forward
            assert p.grad is None, name
        else:
            close(p.grad, q.grad, rtol=1e-4, atol=1e-6, err_msg=name)


def test_load_state_dict_casts_to_the_parameter_dtype():
    m = Linear(2, 2)
    m.load_state_dict({"weight": cr.ones(2, 2, dtype=cr.float64), "bias": cr.zeros(2)})
    assert m.weight.dtype == cr.float32 and m.weight.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_load_state_dict_non_strict_reports_like_torch(twins):
    c, t = twins
    sd_t = t.state_dict()
    del sd_t["fc1.bias"]
    sd_t["fc1.extra"] = torch.zeros(1)
    sd_t["nothere.weight"] = torch.zeros(1)
    sd_c = {k: cr.tensor(v.numpy()) for k, v in sd_t.items()}
    rt = t.load_state_dict(sd_t, strict=False)
    rc = c.load_state_dict(sd_c, strict=False)
    assert rc.missing_keys == rt.missing_keys and rc.unexpected_keys == rt.unexpected_keys
    assert repr(rc) == repr(rt)
    same_error(lambda: t.load_state_dict(sd_t), lambda: c.load_state_dict(sd_c))


@pytest.mark.parametrize(
    "case", ["missing", "unexpected", "size", "not_tensor", "all", "not_mapping"]
)
def test_load_state_dict_errors_match_torch(case):
    torch.manual_seed(0)
    tl, cl = torch.nn.Linear(3, 2), Linear(3, 2)
    sd = {"weight": np.zeros((2, 3), np.float32), "bias": np.zeros(2, np.float32)}
    if case == "missing":
        del sd["bias"]
    elif case == "unexpected":
        sd["extra"] = np.zeros(1, np.float32)
    elif case == "size":
        sd["weight"] = np.zeros((3, 3), np.float32)
    elif case == "all":
        del sd["bias"]
        sd["extra"] = np.zeros(1, np.float32)
        sd["weight"] = np.zeros((1, 3), np.float32)
    if case == "not_mapping":
        same_error(lambda: tl.load_state_dict([1]), lambda: cl.load_state_dict([1]))
        return
    sd_t = {k: torch.tensor(v) for k, v in sd.items()}
    sd_c = {k: cr.tensor(v) for k, v in sd.items()}
    if case == "not_tensor":
        sd_t["bias"] = sd_c["bias"] = [0.0, 0.0]
        with pytest.raises(RuntimeError) as te:
            tl.load_state_dict(sd_t)
        with pytest.raises(RuntimeError) as ce:
            cl.load_state_dict(sd_c)
        assert str(ce.value) == adapt(str(te.value))
        return
    same_error(lambda: tl.load_state_dict(sd_t), lambda: cl.load_state_dict(sd_c))
    if case == "missing":
        assert str(pytest.raises(RuntimeError, cl.load_state_dict, sd_c).value) == (
            'Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "bias". '
        )


def test_load_state_dict_assign_and_zero_dim_from_one_element():
    m = Linear(2, 1)
    w = cr.ones(1, 2)
    m.load_state_dict({"weight": w, "bias": cr.zeros(1)}, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    assert m.weight._data is w._data
    s = nn.Module()
    s.p = nn.Parameter(cr.tensor(1.0))
    s.load_state_dict({"p": cr.tensor([5.0])})  # torch's 1-element -> 0-d allowance
    assert s.p.item() == 5.0 and s.p.shape == ()


# --------------------------------------------------------------------------- attributes


def test_assignment_registers_and_reassignment_moves_between_kinds():
    m = nn.Module()
    m.w = nn.Parameter(cr.ones(2))
    m.child = Linear(1, 1)
    m.register_buffer("buf", cr.zeros(1))
    m.plain = cr.zeros(1)  # a plain tensor attribute is not registered
    assert list(m._parameters) == ["w"] and list(m._modules) == ["child"]
    assert list(m._buffers) == ["buf"] and "plain" in m.__dict__
    m.w = None  # a parameter slot may be emptied
    assert m._parameters["w"] is None and m.w is None
    assert names(m.named_parameters()) == ["child.weight", "child.bias"]
    m.buf = cr.ones(3)  # reassigning a buffer keeps it a buffer
    assert m._buffers["buf"].tolist() == [1.0, 1.0, 1.0]
    m.child = nn.Parameter(cr.ones(1))  # a parameter replaces the module
    assert "child" not in m._modules and "child" in m._parameters
    with pytest.raises(TypeError, match="cannot assign 'nn_twins.Linear' as parameter 'child'"):
        m.child = Linear(1, 1)  # as in torch: a parameter slot takes a Parameter or None
    del m.child
    m.child = Linear(1, 1)
    m.register_buffer("nb", cr.zeros(1), persistent=False)
    m.nb = cr.ones(1)
    assert "nb" not in m.state_dict()
    del m.w, m.buf, m.child, m.plain, m.nb
    assert not m._parameters and not m._buffers and not m._modules
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'w'"):
        getattr(m, "w")  # noqa: B009


def torch_and_cr_modules():
    return torch.nn.Module(), nn.Module()


@pytest.mark.parametrize(
    "action",
    [
        "tensor_as_param", "int_as_param", "nonmodule_as_child",
        "register_nonparam", "param_dot", "param_empty", "param_existing", "param_name_type",
        "buffer_dot", "buffer_empty", "buffer_existing", "buffer_nontensor", "buffer_name_type",
        "module_dot", "module_empty", "module_existing", "module_nonmodule", "module_name_type",
        "getattr_missing", "delattr_missing", "forward_missing", "train_nonbool",
    ],
)  # fmt: skip
def test_attribute_errors_match_torch(action):
    def run(lib):
        m = torch.nn.Module() if lib is torch else nn.Module()
        P = torch.nn.Parameter if lib is torch else nn.Parameter
        M = torch.nn.Module if lib is torch else nn.Module
        ones = lib.ones
        m.weight = P(ones(2))
        m.child = M()
        m.register_buffer("buf", ones(1))
        m.attr = 1
        return {
            "tensor_as_param": lambda: setattr(m, "weight", ones(2)),
            "int_as_param": lambda: setattr(m, "weight", 3),
            "nonmodule_as_child": lambda: setattr(m, "child", ones(1)),
            "register_nonparam": lambda: m.register_parameter("p", ones(1)),
            "param_dot": lambda: m.register_parameter("a.b", None),
            "param_empty": lambda: m.register_parameter("", None),
            "param_existing": lambda: m.register_parameter("attr", None),
            "param_name_type": lambda: m.register_parameter(3, None),
            "buffer_dot": lambda: m.register_buffer("a.b", None),
            "buffer_empty": lambda: m.register_buffer("", None),
            "buffer_existing": lambda: m.register_buffer("attr", None),
            "buffer_nontensor": lambda: m.register_buffer("b2", 3.0),
            "buffer_name_type": lambda: m.register_buffer(3, None),
            "module_dot": lambda: m.add_module("a.b", None),
            "module_empty": lambda: m.register_module("", None),
            "module_existing": lambda: m.add_module("attr", None),
            "module_nonmodule": lambda: m.add_module("x", 3),
            "module_name_type": lambda: m.add_module(3, None),
            "getattr_missing": lambda: m.nothing,
            "delattr_missing": lambda: delattr(m, "nothing"),
            "forward_missing": lambda: m(1),
            "train_nonbool": lambda: m.train(1),
        }[action]

    same_error(run(torch), run(cr))


def test_non_tensor_buffer_assignment():
    # torch's text also names torch.nn.Buffer, which chainrule does not have
    m = nn.Module()
    m.register_buffer("buf", cr.ones(1))
    with pytest.raises(
        TypeError,
        match=r"^cannot assign 'list' as buffer 'buf' \(chainrule.Tensor or None expected\)$",
    ):
        m.buf = [1.0]


def test_assignment_before_init_errors_match_torch():
    class Early(nn.Module):
        def __init__(self, what):
            if what == "param":
                self.p = nn.Parameter(cr.ones(1))
            elif what == "module":
                self.m = nn.Module()
            elif what == "buffer":
                self.register_buffer("b", None)
            else:
                self.register_parameter("p", None)
            super().__init__()

    class TEarly(torch.nn.Module):
        def __init__(self, what):
            if what == "param":
                self.p = torch.nn.Parameter(torch.ones(1))
            elif what == "module":
                self.m = torch.nn.Module()
            elif what == "buffer":
                self.register_buffer("b", None)
            else:
                self.register_parameter("p", None)
            super().__init__()

    for what in ("param", "module", "buffer", "register"):
        same_error(lambda w=what: TEarly(w), lambda w=what: Early(w))
    same_error(lambda: torch.nn.Module(1), lambda: nn.Module(1))
    same_error(lambda: torch.nn.Module(x=1), lambda: nn.Module(x=1))


def test_lookup_by_dotted_name_and_errors_match_torch(twins):
    c, t = twins
    assert c.get_submodule("heads.b.0") is c.heads["b"][0]
    assert c.get_submodule("") is c
    assert c.get_parameter("heads.b.0.weight") is c.heads["b"][0].weight
    assert c.get_buffer("running") is c.running
    for target in ("heads.zz", "scale.x", "heads.b.0.zz"):
        same_error(lambda x=target: t.get_submodule(x), lambda x=target: c.get_submodule(x))
    for target in ("heads.b.0.zz", "fc1", "heads.b.9.weight"):
        same_error(lambda x=target: t.get_parameter(x), lambda x=target: c.get_parameter(x))
    for target in ("fc1.weight", "nope", "zz.running"):
        same_error(lambda x=target: t.get_buffer(x), lambda x=target: c.get_buffer(x))


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
    c2.fc1.weight.detach().numpy()[0, 0] = 123.0
    assert c.fc1.weight[0, 0].item() != 123.0
    x = cr.ones(2, requires_grad=True)
    x.grad = cr.ones(2)
    assert copy.deepcopy(x).grad.tolist() == [1.0, 1.0]  # a plain leaf keeps its grad
    same_error(
        lambda: copy.deepcopy(torch.ones(1, requires_grad=True) * 2),
        lambda: copy.deepcopy(cr.ones(1, requires_grad=True) * 2),
    )
