"""Linear algebra: the table (matmul in every shape case, einsum, inv/det/solve/norms),
torch parity, finite differences, second order; grad_fn names; errors with torch's text."""

import math

import numpy as np
import pytest
import torch
from harness import Case, case_id, check_case, check_finite_differences

import chainrule as cr


def _well(r, *shape):
    """Well-conditioned square matrices: random plus a multiple of the identity."""
    n = shape[-1]
    return r.uniform(-1, 1, shape) + 3 * np.eye(n)


def _spd(r, *shape):
    b = r.uniform(-1, 1, shape)
    return b @ np.swapaxes(b, -1, -2) + np.eye(shape[-1])


MM = lambda m, a, b: a @ b  # noqa: E731

CASES = [
    Case("matmul", lambda m, a, b: m.matmul(a, b), [(3,), (3,)], note="dot"),
    Case("matmul", MM, [(2, 3), (3,)], note="mv"),
    Case("matmul", MM, [(3,), (3, 4)], note="vm"),
    Case("matmul", MM, [(2, 3), (3, 4)], note="mm"),
    Case("matmul", MM, [(2, 2, 3), (3,)], note="batch-vec"),
    Case("matmul", MM, [(3,), (2, 3, 4)], note="vec-batch"),
    Case("matmul", MM, [(2, 2, 3), (3, 4)], note="batch-mat"),
    Case("matmul", MM, [(2, 3), (2, 3, 4)], note="mat-batch"),
    Case("matmul", MM, [(2, 2, 3), (2, 3, 4)], note="bmm"),
    Case("matmul", MM, [(2, 1, 2, 3), (3, 3, 4)], note="broadcast-batch"),
    Case("matmul", MM, [(1, 2, 3), (2, 2, 3, 4)], note="broadcast-lead"),
    Case("matmul", MM, [(4, 2, 3), (1, 3, 1)], note="size-1"),
    Case("matmul", lambda m, a: a @ a, [(3, 3)], note="same-input"),
    Case("matmul", lambda m, a, b: b.__rmatmul__(a), [(2, 3), (3, 2)], note="rmatmul"),
    Case("matmul", MM, [(0, 3), (3, 2)], note="empty"),
    Case("matmul", MM, [(2, 0), (0, 2)], note="empty-inner"),
    Case(
        "matmul",
        lambda m, a, b: a @ b,
        make=lambda r: [r.integers(-3, 3, (2, 3)), r.integers(-3, 3, (3,))],
        note="int",
    ),
    Case("mm", lambda m, a, b: m.mm(a, b), [(2, 3), (3, 4)]),
    Case("mm", lambda m, a, b: a.mm(b.t()), [(2, 3), (4, 3)], note="transposed"),
    Case("bmm", lambda m, a, b: m.bmm(a, b), [(2, 2, 3), (2, 3, 4)]),
    Case("bmm", lambda m, a, b: a.bmm(b.mT), [(1, 2, 3), (1, 4, 3)], note="transposed"),
    Case("mv", lambda m, a, b: m.mv(a, b), [(2, 3), (3,)]),
    Case("dot", lambda m, a, b: m.dot(a, b), [(4,), (4,)]),
    Case("dot", lambda m, a: a.dot(a), [(4,)], note="same"),
    Case("outer", lambda m, a, b: m.outer(a, b), [(3,), (4,)]),
    Case(
        "outer",
        lambda m, a, b: m.outer(a, b),
        make=lambda r: [r.integers(0, 3, (3,)), r.uniform(-1, 1, (2,))],
        note="int-float",
    ),
    Case("einsum", lambda m, a, b: m.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
    Case(
        "einsum", lambda m, a, b: m.einsum("bij,bkj", a, b), [(2, 2, 3), (2, 4, 3)], note="implicit"
    ),
    Case("einsum", lambda m, a: m.einsum("ii->i", a), [(3, 3)], note="diag"),
    Case("einsum", lambda m, a: m.einsum("ii", a), [(3, 3)], note="trace"),
    Case("einsum", lambda m, a: m.einsum("iji->j", a), [(3, 2, 3)], note="diag-mixed"),
    Case("einsum", lambda m, a: m.einsum("ij->", a), [(2, 3)], note="sum"),
    Case("einsum", lambda m, a: m.einsum("ij->ji", a), [(2, 3)], note="transpose"),
    Case("einsum", lambda m, a, b: m.einsum("i,j->ij", a, b), [(2,), (3,)], note="outer"),
    Case("einsum", lambda m, a, b: m.einsum("ij,k->i", a, b), [(2, 3), (4,)], note="summed-out"),
    Case(
        "einsum",
        lambda m, a, b, c: m.einsum("ij,jk,kl->il", a, b, c),
        [(2, 3), (3, 4), (4, 2)],
        note="three",
    ),
    Case(
        "einsum",
        lambda m, a, b: m.einsum("...ij,...jk", a, b),
        [(5, 2, 3), (3, 4)],
        note="ellipsis",
    ),
    Case(
        "einsum",
        lambda m, a, b: m.einsum("...ij,...jk->...ik", a, b),
        [(2, 1, 2, 3), (3, 3, 4)],
        note="ellipsis-broadcast",
    ),
    Case("einsum", lambda m, a, b: m.einsum("ij,ij->ij", a, b), [(1, 3), (2, 3)], note="size-1"),
    Case(
        "einsum",
        lambda m, a, b: m.einsum("i j , j k -> i k", [a, b]),
        [(2, 3), (3, 4)],
        note="list",
    ),
    Case("einsum", lambda m, a: m.einsum("i->i", a), [(3,)], note="identity"),
    Case("einsum", lambda m, a, b: m.einsum(",ij->ij", a, b), [(), (2, 3)], note="0d"),
    Case("trace", lambda m, a: m.trace(a), [(3, 3)]),
    Case("trace", lambda m, a: a.trace(), [(2, 4)], note="rect"),
    Case("trace", lambda m, a: a.trace(), make=lambda r: [r.integers(0, 5, (3, 3))], note="int"),
    Case("diagonal", lambda m, a: m.diagonal(a), [(3, 3)]),
    Case("diagonal", lambda m, a: a.diagonal(1), [(3, 4)], note="offset"),
    Case("diagonal", lambda m, a: a.diagonal(-1, 0, 2), [(3, 2, 4)], note="neg-offset-dims"),
    Case("diagonal", lambda m, a: a.diagonal(0, -1, 0), [(3, 2, 4)], note="neg-dims"),
    Case("diagonal", lambda m, a: a.diagonal(5), [(3, 3)], note="empty"),
    Case("inverse", lambda m, a: m.inverse(a), make=lambda r: [_well(r, 3, 3)]),
    Case("inverse", lambda m, a: a.inverse(), make=lambda r: [_well(r, 2, 3, 3)], note="batched"),
    Case("det", lambda m, a: m.det(a), make=lambda r: [_well(r, 3, 3)]),
    Case("det", lambda m, a: a.det(), make=lambda r: [r.uniform(-1, 1, (2, 3, 3))], note="batched"),
    Case("det", lambda m, a: a.det(), make=lambda r: [r.uniform(-1, 1, (1, 1))], note="1x1"),
    Case(
        "det",
        lambda m, a: a.det(),
        make=lambda r: [np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, -1.0, 2.0]])],
        note="singular",
    ),
    Case(
        "det",
        lambda m, a: a.det(),
        make=lambda r: [np.stack([np.array([[1.0, 2.0], [2.0, 4.0]]), _well(r, 2, 2)])],
        note="singular-batch",
    ),
    Case("slogdet", lambda m, a: m.slogdet(a), make=lambda r: [_well(r, 3, 3)]),
    Case(
        "slogdet",
        lambda m, a: a.slogdet(),
        make=lambda r: [r.uniform(-1, 1, (2, 3, 3))],
        note="batched",
    ),
    Case("logdet", lambda m, a: m.logdet(a), make=lambda r: [_spd(r, 2, 3, 3)]),
    # fd=False: cholesky reads only the lower triangle, while torch's (and this) gradient is
    # the symmetric one, for perturbations that keep A symmetric; torch parity checks it
    Case(
        "linalg.cholesky",
        lambda m, a: m.linalg.cholesky(a),
        make=lambda r: [_spd(r, 4, 4)],
        fd=False,
    ),
    Case(
        "linalg.cholesky",
        lambda m, a: m.linalg.cholesky(a, upper=True),
        make=lambda r: [_spd(r, 2, 3, 3)],
        fd=False,
        note="batched-upper",
    ),
    Case(
        "linalg.solve_triangular",
        lambda m, a, b: m.linalg.solve_triangular(a, b, upper=False),
        make=lambda r: [_well(r, 3, 3), r.uniform(-1, 1, (3, 2))],
    ),
    Case(
        "linalg.solve_triangular",
        lambda m, a, b: m.linalg.solve_triangular(a, b, upper=True, left=False),
        make=lambda r: [_well(r, 2, 3, 3), r.uniform(-1, 1, (2, 4, 3))],
        note="upper-right",
    ),
    Case(
        "linalg.solve_triangular",
        lambda m, a, b: m.linalg.solve_triangular(a, b, upper=False, unitriangular=True),
        make=lambda r: [_well(r, 3, 3), r.uniform(-1, 1, (1, 3, 2))],
        note="unit-broadcast",
    ),
    Case("linalg.inv", lambda m, a: m.linalg.inv(a), make=lambda r: [_well(r, 4, 4)]),
    Case(
        "linalg.inv",
        lambda m, a: m.linalg.inv(a),
        make=lambda r: [_well(r, 2, 1, 2, 2)],
        note="batched",
    ),
    Case("linalg.det", lambda m, a: m.linalg.det(a), make=lambda r: [_well(r, 2, 3, 3)]),
    Case("linalg.slogdet", lambda m, a: m.linalg.slogdet(a), make=lambda r: [_well(r, 3, 3)]),
    Case(
        "linalg.solve",
        lambda m, a, b: m.linalg.solve(a, b),
        make=lambda r: [_well(r, 3, 3), r.uniform(-1, 1, (3,))],
    ),
    Case(
        "linalg.solve",
        lambda m, a, b: m.linalg.solve(a, b),
        make=lambda r: [_well(r, 3, 3), r.uniform(-1, 1, (3, 2))],
        note="matrix",
    ),
    Case(
        "linalg.solve",
        lambda m, a, b: m.linalg.solve(a, b),
        make=lambda r: [_well(r, 2, 3, 3), r.uniform(-1, 1, (2, 3))],
        note="batched-vector",
    ),
    Case(
        "linalg.solve",
        lambda m, a, b: m.linalg.solve(a, b),
        make=lambda r: [_well(r, 2, 3, 3), r.uniform(-1, 1, (3,))],
        note="broadcast-vector",
    ),
    Case(
        "linalg.solve",
        lambda m, a, b: m.linalg.solve(a, b),
        make=lambda r: [_well(r, 2, 3, 3), r.uniform(-1, 1, (4, 1, 3, 2))],
        note="broadcast-batch",
    ),
    Case(
        "linalg.solve",
        lambda m, a, b: m.linalg.solve(a, b, left=False),
        make=lambda r: [_well(r, 3, 3), r.uniform(-1, 1, (2, 3))],
        note="right",
    ),
    Case("linalg.norm", lambda m, a: m.linalg.norm(a), [(2, 3, 4)]),
    Case(
        "linalg.norm", lambda m, a: m.linalg.norm(a, dim=1, keepdim=True), [(2, 3, 4)], note="dim"
    ),
    Case("linalg.norm", lambda m, a: m.linalg.norm(a, 3), [(4,)], note="ord3"),
    Case("linalg.norm", lambda m, a: m.linalg.norm(a, math.inf), [(4,)], note="vec-inf"),
    Case("linalg.norm", lambda m, a: m.linalg.norm(a, "fro"), [(3, 4)], note="fro"),
    Case("linalg.norm", lambda m, a: m.linalg.norm(a, 1), [(3, 4)], note="mat-1"),
    Case("linalg.norm", lambda m, a: m.linalg.norm(a, -1), [(3, 4)], note="mat-neg1"),
    Case("linalg.norm", lambda m, a: m.linalg.norm(a, math.inf), [(3, 4)], note="mat-inf"),
    Case(
        "linalg.norm",
        lambda m, a: m.linalg.norm(a, -math.inf, (0, 2)),
        [(3, 2, 4)],
        note="mat-dims",
    ),
    Case(
        "linalg.norm",
        lambda m, a: m.linalg.norm(a, 1, (2, 0), keepdim=True),
        [(3, 2, 4)],
        note="keepdim",
    ),
    Case("linalg.norm", lambda m, a: m.linalg.norm(a, dim=(0, 1)), [(3, 4)], note="ord-none-2d"),
    Case("linalg.vector_norm", lambda m, a: m.linalg.vector_norm(a), [(3, 4)]),
    Case("linalg.vector_norm", lambda m, a: m.linalg.vector_norm(a, 1, -1), [(3, 4)], note="l1"),
    Case(
        "linalg.vector_norm",
        lambda m, a: m.linalg.vector_norm(a, 0.5, (0, 1)),
        [(3, 4)],
        note="half",
    ),
    Case(
        "linalg.vector_norm",
        lambda m, a: m.linalg.vector_norm(a, dtype=m.float64),
        [(3,)],
        note="dtype",
    ),
    Case("linalg.matrix_norm", lambda m, a: m.linalg.matrix_norm(a), [(2, 3, 4)]),
    Case(
        "linalg.matrix_norm",
        lambda m, a: m.linalg.matrix_norm(a, 1, keepdim=True),
        [(2, 3, 4)],
        note="1",
    ),
    Case("linalg.norm", lambda m, a: m.linalg.norm(a, 2), [(3, 4)], note="mat-2"),
    Case("linalg.norm", lambda m, a: m.linalg.norm(a, -2), [(4, 3)], note="mat-neg2"),
    Case("linalg.norm", lambda m, a: m.linalg.norm(a, "nuc"), [(3, 3)], note="nuc"),
    Case(
        "linalg.matrix_norm",
        lambda m, a: m.linalg.matrix_norm(a, 2, (0, 2), True),
        [(3, 2, 4)],
        note="2-dims",
    ),
    Case(
        "linalg.matrix_norm",
        lambda m, a: m.linalg.matrix_norm(a, "nuc"),
        [(2, 4, 3)],
        note="nuc-batched",
    ),
    Case("linalg.svdvals", lambda m, a: m.linalg.svdvals(a), [(3, 4)]),
    Case("linalg.svdvals", lambda m, a: m.linalg.svdvals(a), [(2, 4, 3)], note="batched-tall"),
    Case("linalg.svdvals", lambda m, a: m.linalg.svdvals(a), [(3, 3)], note="square"),
    Case("tensordot", lambda m, a, b: m.tensordot(a, b), [(2, 3, 4), (3, 4, 5)]),
    Case(
        "tensordot",
        lambda m, a, b: m.tensordot(a, b, ([1, 2], [1, 0])),
        [(2, 3, 4), (4, 3, 5)],
        note="lists",
    ),
    Case("tensordot", lambda m, a, b: m.tensordot(a, b, 0), [(2, 3), (4,)], note="outer"),
    Case("tensordot", lambda m, a, b: m.tensordot(a, b, ([0], [-1])), [(3, 2), (4, 3)], note="neg"),
    Case("inner", lambda m, a, b: m.inner(a, b), [(2, 3, 4), (5, 4)]),
    Case("inner", lambda m, a, b: a.inner(b), [(4,), (4,)], note="1d"),
    Case("inner", lambda m, a, b: m.inner(a, b), [(2, 3), ()], note="0d"),
    Case("kron", lambda m, a, b: m.kron(a, b), [(2, 3), (3, 2)]),
    Case("kron", lambda m, a, b: a.kron(b), [(2,), (2, 3)], note="mixed-ndim"),
    Case("matrix_power", lambda m, a: m.matrix_power(a, 3), [(2, 3, 3)], domain=(-1, 1)),
    Case("matrix_power", lambda m, a: a.matrix_power(0), [(3, 3)], note="zero"),
    Case("matrix_power", lambda m, a: a.matrix_power(1) * 2, [(3, 3)], note="one"),
    Case(
        "linalg.matrix_power",
        lambda m, a: m.linalg.matrix_power(a, -2),
        make=lambda r: [_well(r, 2, 3, 3)],
    ),
    Case(
        "linalg.matrix_power",
        lambda m, a: m.linalg.matrix_power(a, 6),
        [(3, 3)],
        domain=(-1, 1),
        note="six",
    ),
    Case("linalg.vecdot", lambda m, a, b: m.linalg.vecdot(a, b), [(2, 3, 4), (3, 4)]),
    Case(
        "linalg.vecdot", lambda m, a, b: m.linalg.vecdot(a, b, dim=0), [(3, 4), (3, 1)], note="dim"
    ),
    Case(
        "linalg.multi_dot", lambda m, a, b, c: m.linalg.multi_dot([a, b, c]), [(3,), (3, 4), (4,)]
    ),
    Case(
        "linalg.multi_dot",
        lambda m, a, b, c, d: m.linalg.multi_dot([a, b, c, d]),
        [(2, 3), (3, 4), (4, 2), (2, 5)],
        note="four",
    ),
    Case("linalg.matmul", lambda m, a, b: m.linalg.matmul(a, b), [(2, 3), (3,)]),
    Case("linalg.diagonal", lambda m, a: m.linalg.diagonal(a, offset=1), [(2, 3, 4)]),
]

FD_CASES = [c for c in CASES if c.grad and c.fd]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_torch_parity(case, dtype):
    check_case(case, dtype)


@pytest.mark.parametrize("case", FD_CASES, ids=case_id)
def test_finite_differences(case):
    check_finite_differences(case)


# --------------------------------------------------------------------------- grad_fn names

NAMES = [
    (
        lambda m, x: (
            x[0, 0] @ x[0, 0]
            if m is torch
            else x.unbind()[0].unbind()[0] @ x.unbind()[0].unbind()[0]
        )
    ),
    (lambda m, x: x.unbind()[0] @ x.unbind()[0].unbind()[0]),
    (lambda m, x: x.unbind()[0].unbind()[0] @ x.unbind()[0].mT),
    (lambda m, x: x.unbind()[0] @ x.unbind()[0].mT),
    (lambda m, x: x @ x.unbind()[0].unbind()[0]),
    (lambda m, x: x @ x.unbind()[0].mT),
    (lambda m, x: x.unbind()[0].mT @ x),
    (lambda m, x: x @ x.mT),
    (lambda m, x: m.bmm(x, x.mT)),
    (lambda m, x: m.mm(x.unbind()[0], x.unbind()[0].mT)),
    (lambda m, x: m.dot(x.unbind()[0].unbind()[0], x.unbind()[0].unbind()[0])),
    (lambda m, x: m.outer(x.unbind()[0].unbind()[0], x.unbind()[0].unbind()[0])),
    (lambda m, x: m.trace(x.unbind()[0])),
    (lambda m, x: x.diagonal()),
    (lambda m, x: m.linalg.inv(x.narrow(2, 0, 3) + 3 * m.eye(3))),
    (lambda m, x: m.linalg.det(x.narrow(2, 0, 3))),
    (lambda m, x: m.linalg.slogdet(x.narrow(2, 0, 3))[1]),
    (lambda m, x: m.linalg.slogdet(x.narrow(2, 0, 3))[0]),
    (lambda m, x: m.linalg.solve(x.narrow(2, 0, 3) + 3 * m.eye(3), x.narrow(2, 0, 1).squeeze(-1))),
    (lambda m, x: m.linalg.norm(x)),
    (lambda m, x: m.linalg.norm(x.unbind()[0], 1)),
    (lambda m, x: m.linalg.norm(x.unbind()[0], -math.inf)),
    (lambda m, x: m.linalg.norm(x.unbind()[0], 2)),
    (lambda m, x: m.linalg.norm(x.unbind()[0], "nuc")),
    (lambda m, x: m.linalg.svdvals(x)),
    (lambda m, x: m.tensordot(x, x.permute(1, 2, 0), 2)),
    (lambda m, x: m.inner(x, x)),
    (lambda m, x: m.linalg.vecdot(x, x)),
]


@pytest.mark.parametrize("i", range(len(NAMES)))
def test_grad_fn_names(i):
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    t = NAMES[i](torch, torch.tensor(a, requires_grad=True))
    c = NAMES[i](cr, cr.tensor(a, requires_grad=True))
    assert c.grad_fn.name() == type(t.grad_fn).__name__


def test_slogdet_named_tuple():
    a = np.random.default_rng(0).standard_normal((3, 3))
    c, t = cr.linalg.slogdet(cr.tensor(a)), torch.linalg.slogdet(torch.tensor(a))
    assert type(c).__name__ == type(t).__name__ == "linalg_slogdet"
    assert np.allclose(c.sign.numpy(), t.sign.numpy()) and np.allclose(
        c.logabsdet.numpy(), t.logabsdet.numpy()
    )
    assert type(cr.slogdet(cr.tensor(a))).__name__ == type(torch.slogdet(torch.tensor(a))).__name__


def test_matmul_forward_is_one_matmul_and_views_are_not_copied():
    x = cr.randn(4, 3, requires_grad=True)
    w = cr.randn(5, 3, requires_grad=True)
    y = x @ w.t()
    assert np.shares_memory(w.t().numpy(force=True), w.numpy(force=True))
    y.sum().backward()
    assert x.grad.shape == (4, 3) and w.grad.shape == (5, 3)


# --------------------------------------------------------------------------- errors


def _both(fn, shapes, dtypes=None, grads=None):
    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal(s) for s in shapes]
    dtypes = dtypes or ["float32"] * len(shapes)
    grads = grads or [False] * len(shapes)

    def make(m, a, d, g):
        if d.startswith("int"):
            return m.tensor(a.astype(d))
        return m.tensor(a.astype(d), requires_grad=g)

    with pytest.raises(Exception) as t_err:
        fn(torch, *[make(torch, a, d, g) for a, d, g in zip(arrs, dtypes, grads)])
    with pytest.raises(
        RuntimeError if isinstance(t_err.value, RuntimeError) else t_err.type
    ) as c_err:
        fn(cr, *[make(cr, a, d, g) for a, d, g in zip(arrs, dtypes, grads)])
    assert str(c_err.value) == str(t_err.value).split("\nException raised from")[0]


ERRORS = [
    (MM, [(3,), (4,)]),
    (MM, [(2, 3), (4,)]),
    (MM, [(3,), (4, 5)]),
    (MM, [(2, 3), (4, 5)]),
    (MM, [(2, 2, 3), (4,)]),
    (MM, [(3,), (2, 4, 5)]),
    (MM, [(3,), (2, 4, 5)], None, [True, False]),
    (MM, [(2, 2, 3), (4, 5)]),
    (MM, [(2, 3), (2, 4, 5)]),
    (MM, [(2, 3), (2, 4, 5)], None, [True, False]),
    (MM, [(2, 2, 3), (2, 4, 5)]),
    (MM, [(2, 2, 3), (3, 4, 5)]),
    (MM, [(2, 3), (5, 2, 4, 5)]),
    (MM, [(2, 3, 4), (3, 5, 4, 2)]),
    (MM, [(), (3,)]),
    (MM, [(3,), ()]),
    (MM, [(2, 3), (3, 2)], ["float32", "float64"]),
    (MM, [(3,), (3,)], ["float32", "float64"]),
    (MM, [(2, 3), (3,)], ["float32", "float64"]),
    (MM, [(2, 3), (3, 2)], ["int64", "float32"]),
    (lambda m, a, b: m.mm(a, b), [(2, 3), (3,)]),
    (lambda m, a, b: m.mm(a, b), [(2, 3, 1), (3, 2)]),
    (lambda m, a, b: m.mm(a, b), [(2, 3), (2, 3)]),
    (lambda m, a, b: m.bmm(a, b), [(2, 3), (3, 2)]),
    (lambda m, a, b: m.bmm(a, b), [(2, 2, 3), (2, 2)]),
    (lambda m, a, b: m.bmm(a, b), [(2, 2, 3), (3, 3, 2)]),
    (lambda m, a, b: m.bmm(a, b), [(2, 2, 3), (2, 2, 2)]),
    (lambda m, a, b: m.mv(a, b), [(3,), (3,)]),
    (lambda m, a, b: m.mv(a, b), [(3, 2), (3,)]),
    (lambda m, a, b: m.dot(a, b), [(2, 3), (3,)]),
    (lambda m, a, b: m.dot(a, b), [(3,), (4,)]),
    (lambda m, a, b: m.dot(a, b), [(3,), (3,)], ["float32", "float64"]),
    (lambda m, a, b: m.outer(a, b), [(3, 1), (3,)]),
    (lambda m, a, b: m.outer(a, b), [(3,), (3, 1)]),
    (lambda m, a: m.trace(a), [(2, 3, 3)]),
    (lambda m, a: m.trace(a), [(3,)]),
    (lambda m, a: m.diagonal(a), [(3,)]),
    (lambda m, a: m.diagonal(a, 0, 1, 1), [(3, 3)]),
    (lambda m, a: m.diagonal(a, 0, 0, 2), [(3, 3)]),
    (lambda m, a, b: m.einsum("ij,jk->ik", a, b), [(2, 3), (4, 5)]),
    (lambda m, a: m.einsum("ij,jk->ik", a), [(2, 3)]),
    (lambda m, a, b: m.einsum("ij->ij", a, b), [(2, 3), (2, 3)]),
    (lambda m, a: m.einsum("ijk->i", a), [(2, 3)]),
    (lambda m, a: m.einsum("ij->ik", a), [(2, 3)]),
    (lambda m, a: m.einsum("ij->ii", a), [(2, 3)]),
    (lambda m, a, b: m.einsum("ii,i->i", a, b), [(2, 3), (2,)]),
    (lambda m, a, b: m.einsum("ij,jk", a, b), [(2, 3), (3, 4)], ["float32", "float64"]),
    (lambda m, a: m.einsum("...ijk->i", a), [(2, 3)]),
    (lambda m, a: m.linalg.cholesky(a), [(2, 3)]),
    (lambda m, a: m.linalg.cholesky(a - 5 * m.eye(3)), [(3, 3)]),
    (lambda m, a: m.linalg.cholesky(m.stack([m.eye(3), a - 5 * m.eye(3)])), [(3, 3)]),
    (lambda m, a, b: m.linalg.solve_triangular(a, b, upper=True), [(2, 2), (3, 2)]),
    (lambda m, a: m.linalg.inv(a), [(2, 3)]),
    (lambda m, a: m.linalg.inv(a), [(3,)]),
    (lambda m, a: m.linalg.inv(a), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.inv(a * 0 + 1), [(3, 3)]),
    (lambda m, a: m.linalg.inv(m.stack([m.eye(3), a * 0 + 1])), [(3, 3)]),
    (lambda m, a: m.inverse(a[0] * 0) if m is torch else m.inverse(a.unbind()[0] * 0), [(1, 2, 2)]),
    (lambda m, a: m.linalg.det(a), [(2, 3)]),
    (lambda m, a: m.linalg.det(a), [(3,)]),
    (lambda m, a: m.det(a), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.slogdet(a), [(2, 3)]),
    (lambda m, a, b: m.linalg.solve(a, b), [(2, 3), (2,)]),
    (lambda m, a, b: m.linalg.solve(a * 0 + 1, b), [(3, 3), (3,)]),
    (lambda m, a, b: m.linalg.solve(a, b), [(3, 3), (4,)]),
    (lambda m, a, b: m.linalg.solve(a, b), [(3, 3), (4, 2)]),
    (lambda m, a, b: m.linalg.solve(a, b), [(3, 3), (2, 3)]),
    (lambda m, a, b: m.linalg.solve(a, b), [(3, 3), (3,)], ["float32", "float64"]),
    (lambda m, a, b: m.linalg.solve(a, b), [(2, 3, 3), (3, 3, 2)]),
    (lambda m, a: m.linalg.norm(a, 2), [(2, 3, 4)]),
    (lambda m, a: m.linalg.norm(a, 3), [(3, 4)]),
    (lambda m, a: m.linalg.norm(a, "fro"), [(4,)]),
    (lambda m, a: m.linalg.norm(a, dim=(0, 1, 2)), [(2, 3, 4)]),
    (lambda m, a: m.linalg.norm(a), [(3,)], ["int64"]),
    (lambda m, a: m.linalg.vector_norm(a), [(3,)], ["int64"]),
    (lambda m, a: m.linalg.matrix_norm(a), [(3,)]),
    (lambda m, a: m.linalg.matrix_norm(a, 3), [(3, 3)]),
    (lambda m, a: m.linalg.matrix_norm(a, dim=(0, 0)), [(3, 3)]),
    (lambda m, a: m.linalg.matrix_norm(a, dim=(0,)), [(3, 3)]),
    (lambda m, a: m.linalg.vector_norm(a, float("inf"), (1, 0)), [(0, 0)]),
    (lambda m, a: m.linalg.norm(a, "nuc"), [(3,)]),
    (lambda m, a: m.linalg.svdvals(a), [(3,)]),
    (lambda m, a, b: m.tensordot(a, b, ([2], [0])), [(2, 3, 4), (5, 4)]),
    (lambda m, a, b: m.tensordot(a, b, -1), [(2, 3, 4), (5, 4)]),
    (lambda m, a, b: m.tensordot(a, b, ([2, 1], [0])), [(2, 3, 4), (4, 5)]),
    (lambda m, a, b: m.inner(a, b), [(2, 3, 4), (5, 3)]),
    (lambda m, a: m.linalg.multi_dot([a]), [(3,)]),
    (lambda m: m.linalg.multi_dot([]), []),
    (lambda m, a, b: m.linalg.multi_dot([a, b]), [(3, 4, 5), (5, 2)]),
    (lambda m, a, b: m.linalg.multi_dot([a, b]), [(3, 4), (4, 5, 2)]),
    (lambda m, a, b, c: m.linalg.multi_dot([a, b, c]), [(3, 4), (4,), (4, 2)]),
    (lambda m, a: m.linalg.matrix_power(a, 2), [(2, 3, 4)]),
    (lambda m, a: m.linalg.matrix_power(a, 2), [(3,)]),
    (lambda m, a: m.linalg.svdvals(a), [(3, 3)], ["int64"]),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors(i):
    _both(*ERRORS[i])


def test_matmul_type_errors():
    a = np.ones((2, 2), np.float32)
    for fn in [
        lambda m: m.tensor(a) @ 2,
        lambda m: 2 @ m.tensor(a),
        lambda m: a @ m.tensor(a),
        lambda m: m.matmul(m.tensor(a), [1.0, 2.0]),
        lambda m: m.matmul([1.0, 2.0], m.tensor(a)),
    ]:
        with pytest.raises(TypeError) as t_err:
            fn(torch)
        with pytest.raises(TypeError) as c_err:
            fn(cr)
        assert str(c_err.value) == str(t_err.value)


def test_singular_is_linalg_error():
    with pytest.raises(cr.linalg.LinAlgError, match="input matrix is singular"):
        cr.linalg.inv(cr.ones(3, 3))
    assert issubclass(cr.linalg.LinAlgError, RuntimeError)
