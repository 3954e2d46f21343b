"""The op registry against torch: every declared op exists in torch under the same name and
namespace, as function and method wherever torch has both, with torch's parameter names.

The oracle for parameter names is torch itself: the ATen schemas behind each builtin
(``self`` is ``input`` in a function), the Python signature where torch's function is
written in Python, and the signature line of torch's docstring. A name is torch's if any of
the three has it (torch's binding accepts all of them; its docs alone are not always right,
e.g. ``one_hot(tensor, ...)`` in the docs is ``input`` in the binding).
"""

from __future__ import annotations

import functools
import inspect
import re

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.linalg  # noqa: F401  (declares torch.linalg's names)
import chainrule.nn.functional  # noqa: F401  (declares torch.nn.functional's names)
from chainrule import _registry

TORCH_SPACES = {"": torch, "nn.functional": torch.nn.functional, "linalg": torch.linalg}
# never part of chainrule's signatures (no devices, layouts or out= buffers)
NOT_OURS = {"out", "layout", "device", "pin_memory", "memory_format", "generator", "names"}

FUNCTIONS = [
    (space, name, fn) for space, table in _registry.FUNCTIONS.items() for name, fn in table.items()
]
METHODS = [
    (name, m.fn)
    for name, m in _registry.METHODS.items()
    if m.kind == "method" and not name.startswith("__")
]


def _doc_names(obj, name: str) -> set[str]:
    """Parameter names in the signature lines of torch's docstring for ``name``."""
    names: set[str] = set()
    for line in (obj.__doc__ or "").split("\n"):
        m = re.match(rf"\s*(?:[\w.]+\.)?{name}\((.*)\)\s*->", line)
        if m:
            for part in m.group(1).split(","):
                p = part.strip().lstrip("*").split("=")[0].strip()
                if p.isidentifier():
                    names.add(p)
    return names


def _schema_names(aten: str, method: bool) -> set[str]:
    names: set[str] = set()
    for s in torch._C._jit_get_schemas_for_operator(f"aten::{aten}"):
        args = s.arguments
        if not args or str(args[0].type) not in ("Tensor", "Tensor[]", "List[Tensor]"):
            continue  # TorchScript's scalar overloads are not in the Python binding
        for a in args:
            if a.name == "self":
                if not method:
                    names.add("input")
            else:
                names.add(a.name)
    return names


class _Any(set):
    """Every name: torch's function takes ``**kwargs`` and dispatches on them."""

    def __contains__(self, item: object) -> bool:
        return True

    def __ge__(self, other: object) -> bool:
        return True


_ANY = _Any()


def torch_names(obj, name: str, aten: str, method: bool) -> set[str]:
    names = _doc_names(obj, name) | _schema_names(aten, method)
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):  # a builtin: no Python signature
        return names
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):  # a dispatcher (max_pool2d)
        return _ANY
    return names | set(params) - {"self"}


def keyword_params(fn, method: bool) -> list[str]:
    params = list(inspect.signature(fn).parameters.values())[1 if method else 0 :]
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _aten(space: str, name: str) -> str:
    return f"linalg_{name}" if space == "linalg" else name


@pytest.mark.parametrize("space,name,fn", FUNCTIONS, ids=lambda x: x if isinstance(x, str) else "")
def test_function_exists_in_torch_with_its_parameter_names(space, name, fn):
    tfn = getattr(TORCH_SPACES[space], name, None)
    assert tfn is not None, f"torch has no {space or 'torch'}.{name}"
    theirs = torch_names(tfn, name, _aten(space, name), method=False)
    ours = keyword_params(fn, method=False)
    assert all(p in theirs for p in ours), f"{name}{inspect.signature(fn)}: torch's are {theirs}"


@pytest.mark.parametrize("name,fn", METHODS, ids=lambda x: x if isinstance(x, str) else "")
def test_method_exists_in_torch_with_its_parameter_names(name, fn):
    tm = getattr(torch.Tensor, name, None)
    assert tm is not None, f"torch.Tensor has no {name}"
    theirs = torch_names(tm, name, name, method=True)
    tfn = getattr(torch, name, None)
    if callable(tfn):  # one binding serves both: the function's names, less ``input``
        theirs |= torch_names(tfn, name, name, method=False) - {"input"}
    ours = keyword_params(fn, method=True)
    assert all(p in theirs for p in ours), (
        f"Tensor.{name}{inspect.signature(fn)}: torch's: {theirs}"
    )


def _required_names(space: str, name: str, tfn) -> set[str]:
    """The names torch's binding accepts and documents: the ATen arguments (not outputs)
    that the docstring's signature also lists."""
    doc = _doc_names(tfn, name)
    try:
        sig = set(inspect.signature(tfn).parameters)
    except (TypeError, ValueError):
        sig = set()
    return doc & (_schema_names(_aten(space, name), method=False) | sig)


@pytest.mark.parametrize("space,name,fn", FUNCTIONS, ids=lambda x: x if isinstance(x, str) else "")
def test_torch_keywords_are_accepted(space, name, fn):
    """Every parameter torch documents and binds can be passed to ours by its name."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return
    ours = {p.name for p in params}
    missing = _required_names(space, name, getattr(TORCH_SPACES[space], name)) - ours - NOT_OURS
    assert not missing, f"{name}{inspect.signature(fn)} lacks torch's {sorted(missing)}"


def test_function_and_method_wherever_torch_has_both():
    missing = []
    for name in _registry.FUNCTIONS[""]:
        if hasattr(torch.Tensor, name) and name not in _registry.METHODS:
            missing.append(f"Tensor.{name}")
    for name, _fn in METHODS:
        if callable(getattr(torch, name, None)) and name not in _registry.FUNCTIONS[""]:
            missing.append(f"chainrule.{name}")
    assert not missing, missing


# torch's calls that the registry's names and parameter names make possible (defects of
# issue 9 among them: flip(dims=), Tensor.where), run in both libraries
CALLS = {
    "flip(dims=)": lambda m, x: m.flip(x, dims=(0, 2)),
    "x.flip(dims=)": lambda m, x: x.flip(dims=[0]),
    "x.flip(*dims)": lambda m, x: x.flip(0, 1),
    "permute(dims=)": lambda m, x: m.permute(x, dims=(2, 0, 1)),
    "x.permute(dims=)": lambda m, x: x.permute(dims=(1, 0, 2)),
    "x.reshape(shape=)": lambda m, x: x.reshape(shape=(12, 4)),
    "x.view(size=)": lambda m, x: x.view(size=(4, 12)),
    "x.expand(size=)": lambda m, x: x[:1].expand(size=(3, 4, 4)),
    "x.repeat(repeats=)": lambda m, x: x.repeat(repeats=(1, 2, 1)),
    "tile(dims=)": lambda m, x: m.tile(x, dims=(2, 1, 1)),
    "x.where(cond, y)": lambda m, x: x.where(x > 0, -x),
    "x.where(condition=, other=)": lambda m, x: x.where(condition=x > 0, other=0.5),
    "swapaxes(axis0=, axis1=)": lambda m, x: m.swapaxes(x, axis0=0, axis1=2),
    "swapdims(dim0=, dim1=)": lambda m, x: m.swapdims(x, dim0=0, dim1=1),
    "true_divide": lambda m, x: m.true_divide(x, 2.0),
    "x.divide_": lambda m, x: x.clone().divide_(4.0),
    "det(input=)": lambda m, x: m.det(input=x[:, :3, :3]),
    "linalg.det(A=)": lambda m, x: m.linalg.det(A=x[:, :3, :3]),
    "linalg.norm(input=)": lambda m, x: m.linalg.norm(input=x, dim=(1, 2)),
    "linalg.vector_norm(input=)": lambda m, x: m.linalg.vector_norm(input=x, ord=3),
    "linalg.matrix_power(input=)": lambda m, x: m.linalg.matrix_power(input=x[0, :3, :3], n=2),
    "x.split(split_size=)": lambda m, x: x.split(split_size=2, dim=2),
    "split(tensor=, split_size_or_sections=)": lambda m, x: m.split(
        tensor=x, split_size_or_sections=[1, 3], dim=2
    ),
    "positive": lambda m, x: +x,
    "clamp_min_": lambda m, x: x.clone().clamp_min_(0.1),
    "select": lambda m, x: m.select(x, 1, -1),
    "new_zeros(*size)": lambda m, x: x.new_zeros(2, 3),
    "fill_": lambda m, x: m.fill_(x.clone(), 2.0),
    "max_pool2d": lambda m, x: m.max_pool2d(x[None], 2),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_torch_calls_run_the_same(name):
    x = np.random.default_rng(0).standard_normal((3, 4, 4))
    outs = []
    for m in (torch, cr):
        out = CALLS[name](m, m.tensor(x))
        outs.append([np.asarray(o) for o in (out if isinstance(out, tuple) else (out,))])
    for theirs, ours in zip(*outs, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_namespace_is_loaded_once_so_a_patch_stays(monkeypatch):
    """A missing attribute (``hasattr(cr, "compile")``) must not re-copy the namespace over a
    user's patch (it used to, on every miss)."""

    def patched(*args, **kwargs):
        return "patched"

    monkeypatch.setattr(cr, "load", patched)
    assert not hasattr(cr, "no_such_name_anywhere")
    assert cr.load is patched
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name_anywhere'"):
        cr.no_such_name_anywhere  # noqa: B018


def test_in_place_forms_where_torch_has_them():
    """Every chainrule op that torch has an in-place ``name_`` method of declares it too,
    and every in-place method chainrule declares is one of torch's, so the two lists
    cannot drift apart."""
    missing = [
        f"Tensor.{name}_"
        for name in _registry.FUNCTIONS[""]
        if hasattr(torch.Tensor, f"{name}_") and f"{name}_" not in _registry.METHODS
    ]
    assert not missing, missing
    ours = [
        name
        for name, m in _registry.METHODS.items()
        if m.kind.startswith("inplace") or name.endswith("_") and not name.startswith("_")
    ]
    assert ours
    not_torch = [name for name in ours if not hasattr(torch.Tensor, name)]
    assert not not_torch, not_torch


@pytest.mark.parametrize(
    "name,m",
    [
        (n, m)
        for n, m in _registry.METHODS.items()
        if m.kind.startswith("inplace") and not n.startswith("__")  # operators: positional
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_in_place_method_takes_torch_parameter_names(name, m):
    """``x.name_(...)`` takes the out-of-place op's parameters: torch's names for them."""
    theirs = torch_names(getattr(torch.Tensor, name), name, name, method=True)
    ours = keyword_params(m.fn, method=True)
    assert all(p in theirs for p in ours), f"Tensor.{name}{inspect.signature(m.fn)}: {theirs}"


# --------------------------------------------------------------------------- in-place functions

INPLACE_FUNCTIONS = [
    (space, name, fn)
    for space, table in _registry.FUNCTIONS.items()
    for name, fn in table.items()
    if getattr(fn, "inplace_of", None) is not None
]


def test_in_place_functions_where_torch_has_them():
    """``torch.exp_``, ``F.elu_`` ...: every in-place function chainrule makes is torch's, in
    the same namespace; and wherever chainrule declares ``name`` in a namespace where torch
    has the function ``name_`` (every op with an in-place method, every nn.functional op),
    chainrule has ``name_`` there too. Neither list can drift from torch's."""
    assert INPLACE_FUNCTIONS
    not_torch = [
        f"{space or 'torch'}.{name}"
        for space, name, _fn in INPLACE_FUNCTIONS
        if not callable(getattr(TORCH_SPACES[space], name, None))
    ]
    assert not not_torch, not_torch
    missing = [
        f"{space or 'chainrule'}.{name}_"
        for space, table in _registry.FUNCTIONS.items()
        for name in table
        if callable(getattr(TORCH_SPACES[space], f"{name}_", None)) and f"{name}_" not in table
    ]
    assert not missing, missing
    # the same from the methods' side: Tensor.name_ and torch.name_ mean chainrule.name_
    for name in _registry.METHODS:
        if name.endswith("_") and not name.startswith("_"):
            for space, table in _registry.FUNCTIONS.items():
                if name[:-1] in table and callable(getattr(TORCH_SPACES[space], name, None)):
                    assert name in table, f"{space or 'chainrule'}.{name}"


# arguments (by keyword: torch's names) and inputs each in-place function is tried with
INPLACE_ARGS = {
    "clamp_": {"min": -0.5, "max": 0.75},
    "clip_": {"min": -0.5, "max": 0.75},
    "clamp_min_": {"min": 0.1},
    "clamp_max_": {"max": 0.1},
    "round_": {"decimals": 1},
    "elu_": {"alpha": 0.5},
    "leaky_relu_": {"negative_slope": 0.2},
    "hardtanh_": {"min_val": -0.5, "max_val": 0.75},
    "xlogy_": {"other": 2.5},
    "celu_": {"alpha": 0.5},
    "threshold_": {"threshold": 0.3, "value": -2.0},
    "rrelu_": {"lower": 0.2, "upper": 0.4},
    "index_put_": {"accumulate": True},
}
# in-place functions of products: the input's shape, and the tensor operands (made per library)
_M, _V = (
    np.random.default_rng(1).uniform(-2, 2, (2, 3, 5)),
    np.random.default_rng(2).uniform(-2, 2, 5),
)
OPERANDS = {
    "addmv_": ((3,), lambda lib: {"mat": lib.tensor(_M[0]), "vec": lib.tensor(_V)}),
    "index_put_": (
        (3, 4),
        lambda lib: {"indices": (lib.tensor([0, 2, 0]),), "values": lib.tensor(_V[:4])},
    ),
}
OPERANDS["ldexp_"] = ((3, 4), lambda lib: {"other": lib.tensor([-2, 0, 1, 3])})
# integer-only ops (no gradient): their in-place functions are tried on integers, with an
# integer operand, for the values, ``x`` itself returned and its version
INTEGER = {"gcd_": lambda lib: {"other": lib.tensor([6, -4, 0, 9])}}
INTEGER["lcm_"] = INTEGER["gcd_"]
POSITIVE = {"log_", "log2_", "log10_", "log1p_", "sqrt_", "rsqrt_", "acosh_", "arccosh_"}
NO_INPLACE_DERIVATIVE = {"asinh_", "arcsinh_", "acosh_", "arccosh_", "atanh_", "arctanh_"}


def _namespace(lib, space: str):
    return lib.nn.functional if space == "nn.functional" else lib


@pytest.mark.parametrize(
    "space,name", [(s, n) for s, n, _ in INPLACE_FUNCTIONS], ids=lambda x: x or "torch"
)
@pytest.mark.parametrize("with_args", [False, True], ids=["defaults", "keywords"])
def test_in_place_function_is_the_in_place_op(space, name, with_args):
    """``torch.exp_(x)`` is ``x.exp_()``: the values, ``x`` itself returned, its version
    moved by one, torch's history (grad_fn name, gradient) and torch's error for a leaf that
    requires grad."""
    rng = np.random.default_rng(0)
    shape, operands = OPERANDS.get(name, ((3, 4), None))
    data = rng.uniform(-2, 2, shape)
    if name in POSITIVE:
        data = np.abs(data) + 0.1
    kwargs = INPLACE_ARGS.get(name, {}) if with_args else {}
    if name.startswith(("clamp", "clip", "xlogy", "threshold")):  # a bound (an operand) is needed
        kwargs = INPLACE_ARGS[name]
    if name == "addmv_" and with_args:
        kwargs = {"beta": 0.5, "alpha": -2.0}
    if name in INTEGER:
        data, operands = rng.integers(-20, 20, shape), INTEGER[name]
    results, node_names = [], []
    for lib in (torch, cr):
        fn = getattr(_namespace(lib, space), name)
        if operands is not None:
            fn = functools.partial(fn, **operands(lib))
        x = lib.tensor(data)
        out = fn(x, **kwargs)
        assert out is x
        assert x._version == 1
        if name in INTEGER:
            results.append(x.numpy())
            continue
        leaf = lib.tensor(data, requires_grad=True)
        y = leaf * 1.0
        assert fn(y, **kwargs) is y
        if name in NO_INPLACE_DERIVATIVE:  # torch's node for it has no rule
            node_names.append(y.grad_fn.name() if lib is cr else type(y.grad_fn).__name__)
            with pytest.raises(NotImplementedError, match="derivative for 'inplace version"):
                (y * lib.tensor(data)).sum().backward()
            y = leaf * lib.tensor(data)  # (the comparison below, on another graph)
        (y * lib.tensor(data)).sum().backward()
        with pytest.raises(RuntimeError) as leaf_error:
            fn(lib.tensor(data, requires_grad=True), **kwargs)
        results.append((x.detach().numpy(), y.grad_fn.name(), leaf.grad, str(leaf_error.value)))
    theirs, ours = results
    if name in INTEGER:
        np.testing.assert_array_equal(ours, theirs)
        return
    assert node_names[1:] == node_names[:1]  # (AsinhBackward1: torch's in-place node)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12)
    assert ours[1] == theirs[1]
    np.testing.assert_allclose(np.asarray(ours[2]), theirs[2].numpy(), rtol=1e-12, atol=1e-12)
    assert ours[3] == theirs[3]


def test_in_place_function_errors_are_torch_s():
    messages = []
    for lib in (torch, cr):
        with pytest.raises(TypeError) as e:
            lib.exp_(3.0)
        with pytest.raises(RuntimeError) as no_bound:
            lib.clamp_(lib.ones(2))
        with pytest.raises(RuntimeError) as cast:  # a float result into an integer tensor
            lib.exp_(lib.ones(2, dtype=lib.int64))
        messages.append([str(e.value), str(no_bound.value), str(cast.value)])
    assert messages[1] == messages[0]
    assert messages[0][0] == "exp_(): argument 'input' (position 1) must be Tensor, not float"


def test_in_place_function_declarations_are_checked():
    """``inplace_function=`` names only the op's own names; an op with neither an in-place
    method nor an ``inplace`` parameter cannot have one; nothing is registered then."""

    def fake(input):
        return input

    with pytest.raises(ValueError, match="not one of its names"):
        _registry.op(fake, inplace=True, inplace_function=("nn.functional.fake_",))
    with pytest.raises(ValueError, match="not one of its names"):
        _registry.op(fake, inplace=True, inplace_function="fake")
    with pytest.raises(ValueError, match="needs the in-place method"):
        _registry.op(fake, inplace_function=True)
    assert "fake" not in _registry.FUNCTIONS[""] and "fake_" not in _registry.METHODS
