"""chainrule.autograd.functional (vjp, jvp, jacobian, hessian, vhp, hvp) against torch."""

import numpy as np
import pytest
import torch
import torch.autograd.functional as TF
from autograd_twins import arrays, compare, pair, same_error

import chainrule as cr
import chainrule.autograd.functional as F

# Each function is written once against a library (chainrule or torch).
FUNCS = {
    "scalar": (lambda lib: lambda x: (x.exp() * x).sum(), [(3,)]),
    "scalar0d": (lambda lib: lambda x: x**3 * x.sin(), [()]),
    "vector": (lambda lib: lambda x: x.sin() * 2 + x**2, [(4,)]),
    "matrix2": (lambda lib: lambda x, y: (x @ y).tanh(), [(2, 3), (3, 2)]),
    "tuple_out": (lambda lib: lambda x, y: (x * y, x.exp().sum()), [(3,), (3,)]),
    "scalar2": (lambda lib: lambda x, y: (x * y.cos()).sum() + (x**2).sum(), [(2, 2), (2, 2)]),
    "unused": (lambda lib: lambda x, y: x.exp(), [(2,), (3,)]),
    "linear": (lambda lib: lambda x: (2 * x).sum(), [(3,)]),
    "tuple1_out": (lambda lib: lambda x: (x.sigmoid(),), [(2, 2)]),
    "flat": (lambda lib: flat(lib).apply, [(3,)]),  # zero gradient, not a graph
}


def flat(lib):
    """A custom function whose gradient is a fresh zeros tensor (no graph behind it)."""

    class Flat(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, g):
            return lib.zeros_like(g)

    return Flat


SCALAR = ["scalar", "scalar0d", "scalar2", "linear"]


def make(name, seed=0, grad=False):
    build, shapes = FUNCS[name]
    xs = [pair(a, grad) for a in arrays(*shapes, seed=seed)]
    ours, theirs = tuple(p[0] for p in xs), tuple(p[1] for p in xs)
    if len(shapes) == 1:
        ours, theirs = ours[0], theirs[0]
    return build(cr), build(torch), ours, theirs


def outputs_like(fn, inputs, seed=1):
    """A random v shaped like fn's outputs (tuple when fn returns a tuple)."""
    out = fn(*inputs) if isinstance(inputs, tuple) else fn(inputs)
    if isinstance(out, tuple):
        vs = [pair(a) for a in arrays(*[tuple(o.shape) for o in out], seed=seed)]
        return tuple(v[0] for v in vs), tuple(v[1] for v in vs)
    (a,) = arrays(tuple(out.shape), seed=seed)
    return pair(a)


def inputs_like(inputs, seed=2):
    if isinstance(inputs, tuple):
        vs = [pair(a) for a in arrays(*[tuple(x.shape) for x in inputs], seed=seed)]
        return tuple(v[0] for v in vs), tuple(v[1] for v in vs)
    (a,) = arrays(tuple(inputs.shape), seed=seed)
    return pair(a)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", list(FUNCS))
def test_vjp(name, create_graph):
    f, tf, x, tx = make(name, grad=create_graph)
    v, tv = outputs_like(tf, tx)
    compare(
        F.vjp(f, x, v, create_graph=create_graph), TF.vjp(tf, tx, tv, create_graph=create_graph)
    )


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", list(FUNCS))
def test_jvp(name, create_graph):
    f, tf, x, tx = make(name, grad=create_graph)
    v, tv = inputs_like(tx)
    v = v if isinstance(x, tuple) else v
    compare(
        F.jvp(f, x, v, create_graph=create_graph), TF.jvp(tf, tx, tv, create_graph=create_graph)
    )


@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", list(FUNCS))
def test_jacobian(name, create_graph, vectorize):
    f, tf, x, tx = make(name, grad=create_graph)
    kw = dict(create_graph=create_graph, vectorize=vectorize)
    compare(F.jacobian(f, x, **kw), TF.jacobian(tf, tx, **kw))


@pytest.mark.parametrize("name", list(FUNCS))
def test_jacobian_forward_mode(name):
    f, tf, x, tx = make(name)
    kw = dict(vectorize=True, strategy="forward-mode")
    if name == "flat":  # a custom Function without a jvp: torch's NotImplementedError
        same_error(lambda: F.jacobian(f, x, **kw), lambda: TF.jacobian(tf, tx, **kw))
        return
    compare(F.jacobian(f, x, **kw), TF.jacobian(tf, tx, **kw))


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", SCALAR)
def test_hessian(name, create_graph, strategy):
    if strategy == "forward-mode" and create_graph:
        return  # torch refuses this combination (tested in test_errors)
    f, tf, x, tx = make(name, grad=create_graph)
    kw = dict(create_graph=create_graph, vectorize=strategy == "forward-mode")
    kw["outer_jacobian_strategy"] = strategy
    # torch's forward-over-reverse Hessian comes back attached to a graph through the
    # tangents it recorded (requires_grad=True without create_graph): not compared
    compare(F.hessian(f, x, **kw), TF.hessian(tf, tx, **kw), grad=strategy == "reverse-mode")


@pytest.mark.parametrize("fn", ["hvp", "vhp"])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", SCALAR)
def test_hvp_vhp(name, create_graph, fn):
    f, tf, x, tx = make(name, grad=create_graph)
    v, tv = inputs_like(tx)
    ours = getattr(F, fn)(f, x, v, create_graph=create_graph)
    compare(ours, getattr(TF, fn)(tf, tx, tv, create_graph=create_graph))


def test_hvp_matches_hessian_times_v():
    f, _, x, _ = make("scalar")
    v = cr.tensor([0.5, -1.0, 2.0], dtype=cr.float64)
    _, hv = F.hvp(f, x, v)
    h = F.hessian(f, x)
    np.testing.assert_allclose(hv.numpy(), (h @ v).numpy(), rtol=1e-12)


def test_create_graph_results_differentiable():
    """With create_graph=True the vjp is a function of the inputs: differentiate it again."""
    f, tf, x, tx = make("scalar", grad=True)
    (_, g), (_, tg) = F.vjp(f, x, create_graph=True), TF.vjp(tf, tx, create_graph=True)
    g.sum().backward()
    tg.sum().backward()
    compare(x.grad, tx.grad, grad=False)


def test_default_v_for_single_element():
    f, tf, x, tx = make("scalar0d")
    for fn in ["vjp", "jvp", "hvp", "vhp"]:
        compare(getattr(F, fn)(f, x), getattr(TF, fn)(tf, tx))


def test_no_grad_mode_does_not_leak():
    f, tf, x, tx = make("vector")
    with cr.no_grad(), torch.no_grad():
        compare(F.vjp(f, x, x), TF.vjp(tf, tx, tx))
        compare(F.jacobian(f, x), TF.jacobian(tf, tx))


ERRORS = [
    ("vjp", "vector", {"inputs": [1.0]}),
    ("vjp", "matrix2", {"inputs": "tuple_bad"}),
    ("vjp", "vector", {}),  # v=None with a non-scalar output
    ("vjp", "vector", {"v": "wrong_size"}),
    ("vjp", "tuple_out", {"v": "wrong_len"}),
    ("vjp", "tuple_out", {"v": "wrong_entry"}),
    ("vjp", "unused", {"strict": True, "v": "ok"}),
    ("jvp", "vector", {}),
    ("jvp", "unused", {"strict": True, "v": "ok"}),
    ("jvp", "flat", {"strict": True, "v": "ok"}),
    ("vjp", "flat", {"strict": True, "create_graph": True, "v": "ok"}),
    ("jacobian", "unused", {"strict": True}),
    ("jacobian", "linear", {"strict": True, "create_graph": True}),
    ("jacobian", "vector", {"strict": True, "vectorize": True}),
    ("jacobian", "vector", {"strategy": "sideways"}),
    ("jacobian", "vector", {"strategy": "forward-mode", "vectorize": True, "strict": True}),
    ("jacobian", "vector", {"strategy": "forward-mode"}),
    ("jacobian", "vector", {"strategy": "forward-mode", "vectorize": True, "create_graph": True}),
    ("hessian", "vector", {}),
    ("hessian", "tuple_out", {}),
    ("hessian", "linear", {"strict": True}),
    ("hessian", "scalar", {"outer_jacobian_strategy": "sideways"}),
    ("hvp", "vector", {"v": "ok"}),
    ("hvp", "tuple1_out", {"v": "ok"}),
    ("hvp", "linear", {"strict": True, "v": "ok"}),
    ("vhp", "linear", {"strict": True, "v": "ok"}),
    ("vhp", "scalar", {"v": "wrong_size"}),
    ("vhp", "scalar2", {"v": "wrong_len"}),
]


@pytest.mark.parametrize(
    "fn,name,kw", ERRORS, ids=[f"{e[0]}-{e[1]}-{i}" for i, e in enumerate(ERRORS)]
)
def test_errors(fn, name, kw):
    f, tf, x, tx = make(name)
    kw = dict(kw)
    if kw.get("inputs") == "tuple_bad":
        x, tx = (x[0], 3), (tx[0], 3)
    elif "inputs" in kw:
        x = tx = kw["inputs"]
    kw.pop("inputs", None)
    v = kw.pop("v", None)
    args, targs = (f, x), (tf, tx)
    if v is not None:
        if fn in ("jvp", "hvp", "vhp"):
            vv, tv = inputs_like(tx)
        else:
            vv, tv = outputs_like(tf, tx)
        if v == "wrong_size":
            vv, tv = pair(np.ones(7))
        elif v == "wrong_len":
            vv, tv = (vv[0],), (tv[0],)
        elif v == "wrong_entry":
            vv, tv = (vv[0], pair(np.ones(5))[0]), (tv[0], pair(np.ones(5))[1])
        args, targs = (*args, vv), (*targs, tv)
    same_error(lambda: getattr(F, fn)(*args, **kw), lambda: getattr(TF, fn)(*targs, **kw))


def test_strict_output_does_not_require_grad():
    same_error(
        lambda: F.vjp(lambda x: cr.ones(2), cr.ones(2), cr.ones(2), strict=True),
        lambda: TF.vjp(lambda x: torch.ones(2), torch.ones(2), torch.ones(2), strict=True),
    )
    same_error(
        lambda: F.vjp(lambda x: [x], cr.ones(2), cr.ones(2)),
        lambda: TF.vjp(lambda x: [x], torch.ones(2), torch.ones(2)),
    )
