"""torch.func's options beyond the basics, each against torch: vmap(randomness=,
chunk_size=), jacfwd(randomness=), jacrev(chunk_size=, _preallocate_and_copy=),
jvp(strict=), and vjp's vjp_fn(retain_graph, create_graph). None is accepted and ignored:
each changes the result or the error as torch's does, or provably cannot."""

import numpy as np
import pytest
import torch
import torch.func as TF
from autograd_twins import compare, same_error
from test_func import A, B, C, check

import chainrule as cr
import chainrule.func as F

# --------------------------------------------------------------------------- vmap


def test_chunk_size_gives_torchs_result():
    """A loop computes one slice at a time: every chunk size is the same computation."""
    for chunk in [1, 2, 3]:
        check(lambda lib, T, k=chunk: T.vmap(lambda x: x.sin() * x.sum(), chunk_size=k), B)
        check(lambda lib, T, k=chunk: T.vmap(lambda x: x * 2, 1, 1, chunk_size=k), B)
        check(lambda lib, T, k=chunk: T.vmap(lambda x, y: x @ y, (0, None), chunk_size=k), B, A)
        check(lambda lib, T, k=chunk: T.vmap(T.grad(lambda x: x.exp().sum()), chunk_size=k), B)


def option_errors(lib, T):
    x = lib.tensor(A, dtype=lib.float64)
    return [
        lambda: T.vmap(lambda x: x, randomness="foo"),
        lambda: T.vmap(lambda x: x, randomness=None),
        lambda: T.vmap(lambda x: x, chunk_size=0),
        lambda: T.vmap(lambda x: x, chunk_size=-1),
        lambda: T.jacfwd(lambda x: x, randomness="foo")(x),
        lambda: T.jacrev(lambda x: x, chunk_size=0),
        lambda: T.jacrev(lambda x: x, chunk_size=-2),
        lambda: T.jacrev(lambda x: x, foo=1),
        lambda: T.jacfwd(lambda x: x, chunk_size=2),
        lambda: T.jacfwd(lambda x: x, 0, False, "same"),
        lambda: T.jvp(lambda x: lib.ones(3), (x,), (x,), strict=True),
        lambda: T.jvp(lambda x: x.detach() * 2, (x,), (x,), strict=True),
        lambda: T.jvp(lambda x: (x * 2, lib.ones(2)), (x,), (x,), strict=True),
        # inside another forward level (chainrule: the double-vjp path)
        lambda: T.jacfwd(lambda x: T.jvp(lambda y: x * 2, (x,), (x,), strict=True)[1])(x),
        lambda: T.jacfwd(lambda x: T.jvp(lambda y: (y, x), (x,), (x,), strict=True)[1][0])(x),
    ]


@pytest.mark.parametrize("k", range(len(option_errors(torch, TF))))
def test_option_errors(k):
    same_error(option_errors(cr, F)[k], option_errors(torch, TF)[k])


RANDOM = {
    "rand": lambda lib: lambda x: x + lib.rand(()),
    "randn": lambda lib: lambda x: x + lib.randn(2).sum(),
    "randint": lambda lib: lambda x: x + lib.randint(3, ()),
    "randperm": lambda lib: lambda x: x + lib.randperm(3)[0],
    "rand_like": lambda lib: lambda x: lib.rand_like(x),
    "randn_like": lambda lib: lambda x: lib.randn_like(x),
    "normal_": lambda lib: lambda x: x.clone().normal_(),
    "uniform_": lambda lib: lambda x: x.clone().uniform_(),
    "bernoulli_": lambda lib: lambda x: x.clone().bernoulli_(0.5),
    "dropout": lambda lib: lambda x: lib.nn.functional.dropout(x, 0.5),
    "Dropout": lambda lib: lib.nn.Dropout(0.3),
    "generator": lambda lib: lambda x: x + lib.rand((), generator=lib.Generator().manual_seed(0)),
}


def random_errors(lib, T, name):
    f = RANDOM[name](lib)
    x = lib.ones(3, 4)
    return [
        lambda: T.vmap(f)(x),
        lambda: T.vmap(f, randomness="error", chunk_size=2)(x),
        lambda: T.vmap(T.vmap(f, randomness="same"))(x),  # any enclosing "error" level
        lambda: T.vmap(T.vmap(f), randomness="different")(x),
        lambda: T.jacfwd(lambda x: f(x) * x)(x[0]),  # jacfwd's default is "error"
        lambda: T.hessian(lambda x: (f(x) * x).sum())(x[0]),
        lambda: T.vmap(T.grad(lambda x: (f(x) * x).sum()))(x),
    ]


@pytest.mark.parametrize("name", list(RANDOM))
@pytest.mark.parametrize("k", range(7))
def test_random_draws_in_error_mode(name, k):
    same_error(random_errors(cr, F, name)[k], random_errors(torch, TF, name)[k])


def test_no_draw_no_error():
    """dropout that draws nothing (eval, p=0) and jacrev (no vmap over f) are allowed."""
    x = np.arange(12.0).reshape(3, 4)
    check(lambda lib, T: T.vmap(lambda x: lib.nn.functional.dropout(x, 0.0)), x)
    check(lambda lib, T: T.vmap(lambda x: lib.nn.functional.dropout(x, 0.5, False)), x)
    ours = F.jacrev(lambda x: x * cr.rand(3))(cr.ones(3))
    theirs = TF.jacrev(lambda x: x * torch.rand(3))(torch.ones(3))
    assert ours.shape == theirs.shape and (ours.numpy() == np.diag(np.diag(ours.numpy()))).all()


def draws(lib, T, randomness, chunk=None):
    """(draws outside vmap, the vmapped draws, the next draw after it) from one seed."""
    lib.manual_seed(5)
    first = [lib.rand(()).item() for _ in range(5)]
    lib.manual_seed(5)
    out = T.vmap(lambda x: x + lib.rand(()), randomness=randomness, chunk_size=chunk)(lib.zeros(4))
    return first, out.tolist(), lib.rand(()).item()


@pytest.mark.parametrize("chunk", [None, 1, 3])
@pytest.mark.parametrize("lib,T", [(cr, F), (torch, TF)], ids=["chainrule", "torch"])
def test_same_and_different_randomness(lib, T, chunk):
    """Each library against its own generator, the same properties: "same" gives every
    element the first draw and leaves the generator one draw on; "different" gives the
    elements successive draws (torch: one draw of the batch's shape)."""
    first, out, after = draws(lib, T, "same", chunk)
    assert out == [first[0]] * 4 and after == first[1]
    first, out, after = draws(lib, T, "different", chunk)
    if chunk is None:  # torch's chunks are separate draws of their own shape: same stream
        assert np.allclose(out, first[:4]) and np.isclose(after, first[4])
    assert len(set(out)) == 4


@pytest.mark.parametrize("lib,T", [(cr, F), (torch, TF)], ids=["chainrule", "torch"])
def test_nested_randomness(lib, T):
    def f(inner, outer):
        g = T.vmap(lambda x: x + lib.rand(()), randomness=inner)
        return T.vmap(g, randomness=outer)(lib.zeros(2, 3)).numpy()

    same_rows = f("different", "same")
    assert (same_rows[0] == same_rows[1]).all() and len(set(same_rows[0])) == 3
    same_columns = f("same", "different")
    assert (same_columns == same_columns[:, :1]).all() and same_columns[0, 0] != same_columns[1, 0]


@pytest.mark.parametrize("lib,T", [(cr, F), (torch, TF)], ids=["chainrule", "torch"])
def test_jacfwd_randomness(lib, T):
    """jacfwd is a vmap of jvp over the basis: "same" draws one r for all columns
    (J = diag(r)); "different" draws anew per column (J[k, k] = row k of a (3, 3) draw)."""
    x = lib.ones(3)
    lib.manual_seed(2)
    r = lib.rand(3, 3).numpy()
    lib.manual_seed(2)
    jac = T.jacfwd(lambda x: x * lib.rand(3), randomness="same")(x).numpy()
    np.testing.assert_allclose(jac, np.diag(r[0]), rtol=1e-6)
    lib.manual_seed(2)
    jac = T.jacfwd(lambda x: x * lib.rand(3), randomness="different")(x).numpy()
    np.testing.assert_allclose(jac, np.diag(np.diag(r)), rtol=1e-6)


# --------------------------------------------------------------------------- jacrev, jvp


def test_jacrev_chunk_size_gives_torchs_result():
    g = lambda lib: lambda x, y: (x @ y.T, (x * y).sum())  # noqa: E731
    for chunk in [1, 2, 5]:
        check(lambda lib, T, k=chunk: T.jacrev(g(lib), argnums=(0, 1), chunk_size=k), B, C)
        check(
            lambda lib, T, k=chunk: T.jacrev(g(lib), chunk_size=k, _preallocate_and_copy=True),
            B,
            C,
        )
    check(lambda lib, T: T.hessian(lambda x: (x.sin() * x).sum()), A)
    check(lambda lib, T: T.jacfwd(T.jacrev(lambda x: x.exp() * x.sum(), chunk_size=1)), A)


def test_jvp_strict_with_dependent_outputs():
    check(lambda lib, T: lambda x, t: T.jvp(lambda x: x.sin() * x, (x,), (t,), strict=True), B, C)
    check(
        lambda lib, T: (
            lambda x, t: T.jvp(lambda x: (x.exp(), x.sum()), (x,), (t,), strict=True, has_aux=True)
        ),
        A,
        A,
    )
    # aux is not an output: it may ignore the inputs
    check(
        lambda lib, T: (
            lambda x, t: T.jvp(
                lambda x: (x.exp(), lib.ones(2)), (x,), (t,), strict=True, has_aux=True
            )
        ),
        A,
        A,
    )
    # nested: the inner jvp runs inside jacfwd's forward level
    check(
        lambda lib, T: (
            lambda x: T.jacfwd(lambda y: T.jvp(lambda z: z.sin() * z, (y,), (y,), strict=True)[1])(
                x
            )
        ),
        A,
    )
    check(
        lambda lib, T: (
            lambda x: T.jacfwd(
                T.jacfwd(lambda y: T.jvp(lambda z: z.sin() * z, (y,), (y * y,), strict=True)[1])
            )(x)
        ),
        A,
    )


# --------------------------------------------------------------------------- vjp_fn


def test_vjp_fn_retain_graph():
    def second_call(lib, T, *options, **kw):
        x = lib.tensor(A, dtype=lib.float64)
        _, fn = T.vjp(lambda x: x.exp(), x)
        fn(x, *options, **kw)
        return fn(x)

    same_error(
        lambda: second_call(cr, F, retain_graph=False),
        lambda: second_call(torch, TF, retain_graph=False),
    )
    same_error(lambda: second_call(cr, F, False), lambda: second_call(torch, TF, False))
    compare(second_call(cr, F, True), second_call(torch, TF, True))
    compare(second_call(cr, F, True, True), second_call(torch, TF, True, True))


@pytest.mark.parametrize("create_graph", [None, True, False])
@pytest.mark.parametrize("case", ["plain", "captured", "input", "cotangent", "no_grad"])
def test_vjp_fn_create_graph(case, create_graph):
    """Which results carry a graph (requires_grad), values too, as torch."""

    def run(lib, T):
        x = lib.tensor(A, dtype=lib.float64, requires_grad=case == "input")
        w = lib.tensor(A[::-1].copy(), dtype=lib.float64, requires_grad=case == "captured")
        ct = lib.tensor(B[0], dtype=lib.float64, requires_grad=case == "cotangent")
        _, fn = T.vjp(lambda x: (x * w).exp(), x)
        if case == "no_grad":
            with lib.no_grad():
                return fn(ct, create_graph=create_graph)
        return fn(ct, True, create_graph)

    compare(run(cr, F), run(torch, TF))
