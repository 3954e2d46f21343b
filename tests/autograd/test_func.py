"""chainrule.func (grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, vmap) against
torch.func: values, shapes, nesting (third order), composition with autograd, errors."""

import numpy as np
import pytest
import torch
import torch.func as TF
from autograd_twins import compare, same_error

import chainrule as cr
import chainrule.func as F

A = np.array([0.5, -1.0, 2.0])
B = np.array([[0.3, -0.2, 0.9], [1.1, 0.4, -0.6]])
C = np.array([[0.7, 0.1, -0.5], [-0.3, 0.8, 0.2]])


def run(make, *arrays, grad=False):
    """``make(lib, T)`` builds a function; run it on the same float64 data in both."""
    ours = make(cr, F)(*[cr.tensor(a, dtype=cr.float64, requires_grad=grad) for a in arrays])
    theirs = make(torch, TF)(
        *[torch.tensor(a, dtype=torch.float64, requires_grad=grad) for a in arrays]
    )
    return ours, theirs


def check(make, *arrays, grad=False):
    compare(*run(make, *arrays, grad=grad), rtol=1e-10, atol=1e-12)


SCALAR = {
    "sin_exp": lambda lib: lambda x: (x.sin() * x.exp()).sum(),
    "tanh_sq": lambda lib: lambda x: (x.tanh() ** 2).sum(),
    "logsumexp": lambda lib: lambda x: x.logsumexp(-1).sum(),
    "sigmoid_prod": lambda lib: lambda x: x.sigmoid().prod(),
    "softmax": lambda lib: lambda x: (x.softmax(-1) * x).sum(),
}


@pytest.mark.parametrize("name", list(SCALAR))
def test_grad_and_higher_orders(name):
    f = SCALAR[name]
    check(lambda lib, T: T.grad(f(lib)), A)
    check(lambda lib, T: T.grad_and_value(f(lib)), B)
    # second and third derivatives by nesting grad
    check(lambda lib, T: T.grad(lambda x: T.grad(f(lib))(x).sum()), A)
    check(lambda lib, T: T.grad(lambda x: T.grad(lambda y: T.grad(f(lib))(y).sum())(x).sum()), A)
    # full Hessians, four ways, and a third-order tensor
    check(lambda lib, T: T.hessian(f(lib)), A)
    check(lambda lib, T: T.jacrev(T.jacrev(f(lib))), A)
    check(lambda lib, T: T.jacfwd(T.jacfwd(f(lib))), A)
    check(lambda lib, T: T.jacrev(T.jacfwd(f(lib))), A)
    check(lambda lib, T: T.jacfwd(T.hessian(f(lib))), A)


@pytest.mark.parametrize("name", list(SCALAR))
def test_hessian_vector_products(name):
    f = SCALAR[name]
    v = np.array([0.2, -0.7, 1.3])
    # forward-over-reverse, reverse-over-reverse, reverse-over-forward
    check(lambda lib, T: lambda x, v: T.jvp(T.grad(f(lib)), (x,), (v,))[1], A, v)
    check(lambda lib, T: lambda x, v: T.vjp(T.grad(f(lib)), x)[1](v)[0], A, v)
    check(lambda lib, T: lambda x, v: T.grad(lambda y: T.jvp(f(lib), (y,), (v,))[1])(x), A, v)
    ours, _ = run(lambda lib, T: lambda x, v: T.jvp(T.grad(f(lib)), (x,), (v,))[1], A, v)
    hessian = F.hessian(f(cr))(cr.tensor(A, dtype=cr.float64))
    np.testing.assert_allclose(ours.numpy(), hessian.numpy() @ v, rtol=1e-10)


def test_argnums_and_pytrees():
    f = lambda lib: lambda x, y: ((x * y.cos()).sum(), {"x2": x * 2, "n": [y.norm()]})  # noqa: E731
    check(lambda lib, T: T.grad(f(lib), argnums=(0, 1), has_aux=True), B, C)
    check(lambda lib, T: T.grad(lambda x, y: f(lib)(x, y)[0], argnums=1), B, C)
    check(lambda lib, T: T.grad(lambda x, y: f(lib)(x, y)[0], argnums=-2), B, C)
    check(lambda lib, T: T.grad_and_value(f(lib), argnums=(1,), has_aux=True), B, C)
    check(
        lambda lib, T: lambda x, y: T.grad(lambda p: (p[0] * p[1]["y"]).sum())((x, {"y": y})), B, C
    )
    g = lambda lib: lambda x, y: (x @ y.T, (x * y).sum())  # noqa: E731
    check(lambda lib, T: T.jacrev(g(lib), argnums=(0, 1)), B, C)
    check(lambda lib, T: T.jacfwd(g(lib), argnums=(0, 1)), B, C)
    check(lambda lib, T: T.jacrev(g(lib), argnums=1), B, C)
    check(lambda lib, T: T.hessian(lambda x, y: (x * y.exp()).sum(), argnums=(0, 1)), B, C)
    check(lambda lib, T: T.jacrev(lambda x: (x.sin(), x.sum()), has_aux=False), A)
    check(lambda lib, T: T.jacrev(lambda x: (x.sin(), {"s": x.sum()}), has_aux=True), A)
    check(lambda lib, T: T.jacfwd(lambda x: (x.sin(), {"s": x.sum()}), has_aux=True), A)


def test_vjp_and_jvp():
    check(lambda lib, T: lambda x: T.vjp(lambda x: x.sin() * x, x)[1](x.cos()), B)
    check(lambda lib, T: lambda x: T.vjp(lambda x: x.sin() * x, x)[0], B)
    check(
        lambda lib, T: (
            lambda x, y: T.vjp(lambda x, y: (x * y, x.sum()), x, y)[1]((x.cos(), x.sum() * 0 + 2))
        ),
        B,
        C,
    )
    check(lambda lib, T: lambda x: T.vjp(lambda x: (x.exp(), x * 2), x, has_aux=True)[2], A)
    check(lambda lib, T: lambda x, t: T.jvp(lambda x: x.sin() * x, (x,), (t,)), B, C)
    check(lambda lib, T: lambda x, t: T.jvp(lambda x, y: x @ y.T, (x, t), (t, x)), B, C)
    check(
        lambda lib, T: lambda x, t: T.jvp(lambda x: (x.exp(), x.sum()), (x,), (t,), has_aux=True),
        A,
        A,
    )
    # a vjp_fn can be called again
    x = cr.tensor(A, dtype=cr.float64)
    _, fn = F.vjp(lambda x: x.exp(), x)
    np.testing.assert_allclose(fn(x)[0].numpy(), fn(x)[0].numpy())


def test_outputs_that_do_not_depend_on_the_input():
    check(lambda lib, T: T.grad(lambda x: (x * 0).sum() + 1), A)
    check(lambda lib, T: T.grad(lambda x, y: (y * 2).sum(), argnums=0), A, A)
    check(lambda lib, T: T.jacrev(lambda x, y: y * 2, argnums=0), A, A)
    check(lambda lib, T: T.jacfwd(lambda x, y: y * 2, argnums=0), A, A)
    check(lambda lib, T: lambda x, t: T.jvp(lambda x: x.detach() * 2, (x,), (t,)), A, A)


def test_composes_with_autograd():
    """Inputs and captured tensors that require grad stay connected (torch.func does this)."""
    check(lambda lib, T: T.grad(lambda x: (x.sin() * x).sum()), A, grad=True)
    w, tw = cr.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    g = F.grad(lambda x: (x * w).sin().sum())(cr.tensor(B[0]))
    tg = TF.grad(lambda x: (x * tw).sin().sum())(torch.tensor(B[0]))
    compare(g, tg)
    g.sum().backward()
    tg.sum().backward()
    compare(w.grad, tw.grad)
    x, tx = cr.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    F.hessian(lambda x: (x**3).sum())(x).sum().backward()
    TF.hessian(lambda x: (x**3).sum())(tx).sum().backward()
    compare(x.grad, tx.grad)
    with cr.no_grad(), torch.no_grad():
        compare(F.grad(lambda x: (x * w).sum())(x), TF.grad(lambda x: (x * tw).sum())(tx))


def test_perturbation_confusion():
    """d/dx [x · d/dy (x + y)] = 1: the inner derivative must not see the outer x."""
    check(lambda lib, T: T.grad(lambda x: (x * T.grad(lambda y: (x + y).sum())(x)).sum()), A)
    check(lambda lib, T: T.grad(lambda x: T.grad(lambda y: (x * y**2).sum())(x).sum()), A)


def test_vmap():
    check(lambda lib, T: T.vmap(lambda x: x.sin() * x.sum()), B)
    check(lambda lib, T: T.vmap(lambda x, y: x @ y, in_dims=(0, None)), B, A)
    check(lambda lib, T: T.vmap(lambda x: x * 2, in_dims=1, out_dims=1), B)
    check(lambda lib, T: T.vmap(lambda x: (x.sum(), x * 2), out_dims=(0, 1)), B)
    check(lambda lib, T: T.vmap(T.vmap(lambda a: a.exp())), B)
    check(lambda lib, T: lambda x, y: T.vmap(lambda p: p["a"] * p["b"])({"a": x, "b": y}), B, C)
    check(lambda lib, T: T.vmap(lambda x, y: {"s": x * y}), B, C)
    # composed with the differentiation transforms: per-sample gradients and Jacobians
    f = SCALAR["sin_exp"]
    check(lambda lib, T: T.vmap(T.grad(f(lib))), B)
    check(lambda lib, T: T.vmap(T.jacrev(lambda x: x.sin() * x.sum())), B)
    check(lambda lib, T: T.vmap(T.hessian(f(lib))), B)
    check(lambda lib, T: T.grad(lambda x: T.vmap(lambda r: (r * r).sum())(x).sin().sum()), B)
    check(lambda lib, T: T.vmap(lambda x, y: x * y, in_dims=(0, 1)), B, C.T.copy())


def errors_of(lib, T):
    x = lib.tensor(A, dtype=lib.float64)
    return [
        lambda: T.grad(lambda x: x)(x),
        lambda: T.grad(lambda x: (x, x))(x),
        lambda: T.grad(lambda x: x.sum(), has_aux=True)(x),
        lambda: T.grad(lambda x: (x.sum(), 1, 2), has_aux=True)(x),
        lambda: T.grad(lambda x: x.sum(), argnums=2)(x),
        lambda: T.grad(lambda x: x.sum(), argnums=-2)(x),
        lambda: T.grad(lambda x: x.sum(), argnums=1.5)(x),
        lambda: T.grad(lambda x: x.sum(), argnums=(0, 0))(x),
        lambda: T.grad(lambda x: x.sum(), argnums=())(x),
        lambda: T.grad(lambda x: x.sum())(),
        lambda: T.grad(lambda x: x.sum())(3.0),
        lambda: T.grad(lambda x: x.sum())(lib.arange(3)),
        lambda: T.grad(lambda x: x[0].sum())([x, 1]),
        lambda: T.vjp(lambda x: x, x)[1](lib.ones(4, dtype=lib.float64)),
        lambda: T.vjp(lambda x: (x, x), x)[1](lib.ones(3, dtype=lib.float64)),
        lambda: T.vjp(lambda x: 3, x),
        lambda: T.vjp(lambda x: x, x, has_aux=True),
        lambda: T.jvp(lambda x: x, x, x),
        lambda: T.jvp(lambda x: x, (x,), (lib.ones(4, dtype=lib.float64),)),
        lambda: T.jvp(lambda x: x, (x,), x),
        lambda: T.jvp(lambda x: 3, (x,), (x,)),
        lambda: T.jacrev(lambda x: 3)(x),
        lambda: T.jacfwd(lambda x: 3)(x),
        lambda: T.vmap(lambda x: x)(lib.ones(())),
        lambda: T.vmap(lambda x, y: x + y)(lib.ones(3), lib.ones(4)),
        lambda: T.vmap(lambda x: x, in_dims=1)(lib.ones(3)),
        lambda: T.vmap(lambda x: 3)(lib.ones(3)),
        lambda: T.vmap(lambda x: x)(3.0),
    ]


@pytest.mark.parametrize("k", range(len(errors_of(torch, TF))))
def test_errors(k):
    same_error(errors_of(cr, F)[k], errors_of(torch, TF)[k])
