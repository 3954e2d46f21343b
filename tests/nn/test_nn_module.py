"""Module against torch: registration and names, repr, state dicts and loading errors,
attribute rules and their errors, lookups by dotted name (behaviour: test_nn_module_behaviour)."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from nn_twins import Linear, adapt, close, copy_weights, make_net, same_error

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
