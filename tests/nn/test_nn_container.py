"""Containers against torch: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from nn_twins import Linear, Tanh, adapt, same_error

import chainrule as cr
from chainrule import nn


def lib_parts(lib):
    if lib is torch:
        return torch.nn, torch.nn.Linear, torch.nn.Tanh, torch
    return nn, Linear, Tanh, cr


def keys(m):
    return list(m._modules)


def names(m):
    return [n for n, _ in m.named_parameters()]


# --------------------------------------------------------------------------- Sequential


def test_sequential_indexing_slicing_and_editing_like_torch():
    def build(lib):
        m, L, T, _ = lib_parts(lib)
        s = m.Sequential(L(2, 3), T(), L(3, 3), T())
        out = {"len": len(s), "neg": type(s[-1]).__name__, "names": names(s)}
        sl = s[1:3]
        out["slice"] = (type(sl).__name__, keys(sl), names(sl))
        out["slice_shares"] = sl[0] is s[1]
        s.append(L(3, 1))
        s.insert(1, T())
        s.insert(-1, T())
        s.extend([T()])
        out["after_edit"] = (keys(s), [type(x).__name__ for x in s])
        del s[0]
        del s[1:3]
        out["after_del"] = (keys(s), [type(x).__name__ for x in s])
        popped = s.pop(0)
        out["pop"] = (type(popped).__name__, keys(s))
        s[0] = L(3, 3)
        out["set"] = names(s)
        out["add"] = keys(s + m.Sequential(T()))
        s += m.Sequential(T(), T())
        out["iadd"] = keys(s)
        out["mul"] = keys(m.Sequential(T(), T()) * 2)
        out["rmul"] = keys(2 * m.Sequential(T()))
        od = m.Sequential(OrderedDict(first=L(1, 2), act=T()))
        out["od"] = (keys(od), names(od), keys(od[1:]))
        out["repr"] = repr(od)
        out["dir_digits"] = any(k.isdigit() for k in dir(s))
        return out

    assert build(cr) == build(torch)


def test_sequential_forward_runs_in_order():
    s = nn.Sequential(Linear(2, 3), Tanh(), Linear(3, 1))
    x = cr.ones(4, 2)
    expect = s[2](s[1](s[0](x)))
    np.testing.assert_array_equal(s(x).numpy(force=True), expect.numpy(force=True))
    assert nn.Sequential()(x) is x


def test_sequential_errors_match_torch():
    def s(lib):
        m, L, T, _ = lib_parts(lib)
        return m.Sequential(T(), T())

    same_error(lambda: s(torch)[2], lambda: s(cr)[2])
    same_error(lambda: s(torch)[-3], lambda: s(cr)[-3])
    same_error(lambda: s(torch).insert(5, torch.nn.Tanh()), lambda: s(cr).insert(5, Tanh()))
    same_error(lambda: s(torch) + [1], lambda: s(cr) + [1])
    same_error(lambda: s(torch) * 0, lambda: s(cr) * 0)
    with pytest.raises(TypeError, match="unsupported operand type"):
        s(cr) * 1.5
    with pytest.raises(AssertionError, match="module should be of type"):
        s(cr).insert(0, 3)
    same_error(lambda: torch.nn.Sequential(3), lambda: nn.Sequential(3))


# --------------------------------------------------------------------------- ModuleList


def test_module_list_like_torch():
    def build(lib):
        m, L, T, _ = lib_parts(lib)
        ml = m.ModuleList([L(2, 2), T()])
        out = {"len": len(ml), "names": names(ml)}
        ml.append(L(2, 2))
        ml.extend([T(), T()])
        ml.insert(1, L(2, 1))
        out["edit"] = (keys(ml), [type(x).__name__ for x in ml])
        out["neg"] = type(ml[-1]).__name__
        sl = ml[1:4]
        out["slice"] = (type(sl).__name__, keys(sl), sl[0] is ml[1])
        del ml[0]
        del ml[::2]
        out["del"] = (keys(ml), [type(x).__name__ for x in ml])
        ml[0] = L(1, 1)
        out["set"] = names(ml)
        out["pop"] = (type(ml.pop(-1)).__name__, len(ml))
        out["add"] = keys(ml + m.ModuleList([T()]))
        ml += [T()]
        out["iadd"] = keys(ml)
        ml.append(T())
        ml.append(T())
        ml.append(L(3, 3))
        out["repr"] = repr(ml)
        out["empty_repr"] = repr(m.ModuleList())
        out["nested_repr"] = repr(m.ModuleList([m.ModuleList([T(), T()]), T()]))
        return out

    assert build(cr) == build(torch)


def test_module_list_errors_match_torch():
    same_error(lambda: torch.nn.ModuleList()[0], lambda: nn.ModuleList()[0])
    same_error(lambda: torch.nn.ModuleList(3), lambda: nn.ModuleList(3))
    same_error(lambda: torch.nn.ModuleList([3]), lambda: nn.ModuleList([3]))
    same_error(lambda: torch.nn.ModuleList()(1), lambda: nn.ModuleList()(1))


# --------------------------------------------------------------------------- ModuleDict


def test_module_dict_like_torch():
    def build(lib):
        m, L, T, _ = lib_parts(lib)
        md = m.ModuleDict({"b": L(1, 1), "a": T()})
        out = {"keys": list(md.keys()), "names": names(md), "len": len(md)}
        md.update([("c", L(2, 2)), ["d", T()]])
        md["e"] = L(1, 2)
        out["after"] = (list(md), names(md), "c" in md, "z" in md)
        out["pop"] = (type(md.pop("a")).__name__, list(md))
        del md["b"]
        out["values"] = [type(v).__name__ for v in md.values()]
        out["items"] = [k for k, _ in md.items()]
        out["repr"] = repr(md)
        md.update(m.ModuleDict(OrderedDict(z=T())))
        out["from_moduledict"] = list(md)
        md.clear()
        out["clear"] = len(md)
        return out

    assert build(cr) == build(torch)


def test_module_dict_errors_match_torch():
    same_error(lambda: torch.nn.ModuleDict(3), lambda: nn.ModuleDict(3))
    same_error(lambda: torch.nn.ModuleDict([3]), lambda: nn.ModuleDict([3]))
    same_error(
        lambda: torch.nn.ModuleDict([("a", torch.nn.Tanh(), 1)]),
        lambda: nn.ModuleDict([("a", Tanh(), 1)]),
    )
    same_error(lambda: torch.nn.ModuleDict({"a.b": None}), lambda: nn.ModuleDict({"a.b": None}))
    same_error(lambda: torch.nn.ModuleDict()["x"], lambda: nn.ModuleDict()["x"])


# --------------------------------------------------------------------------- parameters


def test_parameter_list_like_torch():
    def build(lib):
        m, _, _, t = lib_parts(lib)
        pl = m.ParameterList([t.ones(2), m.Parameter(t.zeros(3)), "note"])
        out = {"len": len(pl), "names": [n for n, _ in pl.named_parameters()]}
        out["wrapped"] = [type(p).__name__ for p in pl]
        pl.append(t.ones(1, 2))
        pl.extend([t.ones(3, 3)])
        pl[0] = t.zeros(5)
        out["after"] = ([n for n, _ in pl.named_parameters()], pl[0].shape[0], pl[-1].shape[0])
        out["slice"] = [tuple(p.shape) for p in pl[1:4] if hasattr(p, "shape")]
        out["grad"] = all(p.requires_grad for p in pl.parameters())
        out["repr"] = adapt(repr(pl))
        out["dir"] = any(k.isdigit() for k in dir(pl))
        return out

    c, t = build(cr), build(torch)
    c["repr"], t["repr"] = c["repr"], adapt(t["repr"])
    assert c == t


def test_parameter_list_errors_match_torch():
    same_error(lambda: torch.nn.ParameterList()[0], lambda: nn.ParameterList()[0])
    same_error(
        lambda: torch.nn.ParameterList().extend(torch.ones(2)),
        lambda: nn.ParameterList().extend(cr.ones(2)),
    )
    same_error(lambda: torch.nn.ParameterList().extend(3), lambda: nn.ParameterList().extend(3))
    same_error(lambda: torch.nn.ParameterList()(1), lambda: nn.ParameterList()(1))


def test_parameter_dict_like_torch():
    def build(lib):
        m, _, _, t = lib_parts(lib)
        pd = m.ParameterDict({"b": t.ones(2), "a": m.Parameter(t.zeros(3))})  # dict: sorted
        out = {"keys": list(pd), "names": [n for n, _ in pd.named_parameters()]}
        pd.update([("z", t.ones(1)), ("c", "text")])
        pd["y"] = t.ones(2, 2)
        out["after"] = (list(pd.keys()), [n for n, _ in pd.named_parameters()], "y" in pd)
        out["types"] = [type(v).__name__ for v in pd.values()]
        out["get"] = (pd.get("nope", 7), type(pd.get("a")).__name__)
        out["setdefault"] = type(pd.setdefault("w", t.ones(1))).__name__
        out["pop"] = (type(pd.pop("b")).__name__, list(pd))
        out["popitem"] = (pd.popitem()[0], list(pd))
        out["copy"] = list(pd.copy())
        out["reversed"] = list(reversed(pd))
        out["or"] = list(pd | m.ParameterDict(OrderedDict(q=t.ones(1))))
        out["fromkeys"] = list(pd.fromkeys(["k1", "k2"], t.ones(1)))
        out["repr"] = adapt(repr(pd))
        del pd["a"]
        pd.clear()
        out["clear"] = (len(pd), list(pd.named_parameters()))
        return out

    c, t = build(cr), build(torch)
    assert c == t


def test_parameter_dict_errors_match_torch():
    same_error(lambda: torch.nn.ParameterDict()[3], lambda: nn.ParameterDict()[3])
    same_error(lambda: torch.nn.ParameterDict(3), lambda: nn.ParameterDict(3))
    same_error(lambda: torch.nn.ParameterDict([3]), lambda: nn.ParameterDict([3]))
    same_error(lambda: torch.nn.ParameterDict([(1, 2, 3)]), lambda: nn.ParameterDict([(1, 2, 3)]))
    same_error(lambda: torch.nn.ParameterDict()(1), lambda: nn.ParameterDict()(1))
    same_error(lambda: torch.nn.ParameterDict()["x"], lambda: nn.ParameterDict()["x"])


def test_state_dict_of_nested_containers_like_torch():
    def build(lib):
        m, L, T, t = lib_parts(lib)
        net = m.Sequential(
            m.ModuleList([L(1, 1), m.ModuleDict({"x": L(1, 1, bias=False)})]),
            m.ParameterList([t.ones(1)]),
            m.ParameterDict({"p": t.ones(1)}),
        )
        return list(net.state_dict()), [n for n, _ in net.named_modules()]

    assert build(cr) == build(torch)
