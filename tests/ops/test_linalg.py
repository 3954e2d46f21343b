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


def _chol(r, *shape):
    """Cholesky factors of well-conditioned matrices."""
    return np.linalg.cholesky(_spd(r, *shape) + np.eye(shape[-1]))


def _sym(r, *shape):
    """Symmetric matrices with well-separated eigenvalues."""
    b = r.uniform(-1, 1, shape)
    n = shape[-1]
    return b + np.swapaxes(b, -1, -2) + np.diag(np.arange(n) * 1.5)


def _low_rank(r, *shape):
    """Rank-2 matrices (a pseudo-inverse cuts their other singular values)."""
    return r.uniform(-1, 1, (*shape[:-1], 2)) @ r.uniform(-1, 1, (*shape[:-2], 2, shape[-1]))


def _usv(U, S, Vh):
    """Singular vectors are defined up to a sign per pair (LAPACKs differ): fix it by U's
    first row, so values and gradients can be compared (the sign is piecewise constant)."""
    s = U.narrow(-2, 0, 1).sign()
    return U * s, S, Vh * s.mT


def _usV(U, S, V):  # torch.svd's V: the columns
    s = U.narrow(-2, 0, 1).sign()
    return U * s, S, V * s


def _lv(L, V):
    s = V.narrow(-2, 0, 1).sign()
    return L, V * s


def _qr(Q, R):
    d = R.diagonal(0, -2, -1).sign()
    return Q * d.unsqueeze(-2), R * d.unsqueeze(-1)


def _full(U, S, V, rows=True):
    """Full U and Vh (or V): the first min(m, n) singular vectors, signs aside, and the
    projectors on the span of the others (those are any basis of it, LAPACKs differ; torch's
    gradient ignores them)."""
    k = S.shape[-1]
    Ue, Ve = U.narrow(-1, k, U.shape[-1] - k), V.narrow(-2 if rows else -1, k, V.shape[-1] - k)
    Vk = V.narrow(-2, 0, k) if rows else V.narrow(-1, 0, k)
    PV = Ve.mT @ Ve if rows else Ve @ Ve.mT
    return U.narrow(-1, 0, k).abs(), S, Vk.abs(), Ue @ Ue.mT, PV


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
    Case("ger", lambda m, a, b: m.ger(a, b), [(3,), (4,)]),
    Case("ger", lambda m, a, b: a.ger(b), [(2,), (3,)], note="method"),
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
    Case("diag_embed", lambda m, a: m.diag_embed(a), [(2, 3)]),
    Case("diag_embed", lambda m, a: a.diag_embed(1), [(3,)], note="offset"),
    Case("diag_embed", lambda m, a: a.diag_embed(-2, 0, 2), [(2, 3)], note="neg-offset-dims"),
    Case("diag_embed", lambda m, a: a.diag_embed(0, -1, 1), [(2, 2, 3)], note="neg-dims"),
    Case("diag", lambda m, a: m.diag(a), [(3,)]),
    Case("diag", lambda m, a: a.diag(-1), [(3,)], note="vector-offset"),
    Case("diag", lambda m, a: a.diag(), [(3, 4)], note="matrix"),
    Case("diag", lambda m, a: a.diag(2), [(3, 4)], note="matrix-offset"),
    Case("diag", lambda m, a: a.diag(-5), [(3, 4)], note="matrix-empty"),
    Case("diag", lambda m, a: a.diag(), make=lambda r: [r.integers(0, 5, (3,))], note="int"),
    Case("diagflat", lambda m, a: m.diagflat(a), [(2, 2)]),
    Case("diagflat", lambda m, a: a.diagflat(1), [(3,)], note="offset"),
    Case("diagflat", lambda m, a: a.mT.diagflat(-1), [(2, 3)], note="non-contiguous"),
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
        "linalg.cholesky_ex",
        lambda m, a: m.linalg.cholesky_ex(a),
        make=lambda r: [_spd(r, 4, 4)],
        fd=False,
    ),
    Case(
        "linalg.cholesky_ex",
        lambda m, a: m.linalg.cholesky_ex(a, upper=True),
        make=lambda r: [_spd(r, 2, 3, 3)],
        fd=False,
        note="batched-upper",
    ),
    Case("cholesky", lambda m, a: m.cholesky(a), make=lambda r: [_spd(r, 3, 3)], fd=False),
    Case(
        "cholesky",
        lambda m, a: a.cholesky(upper=True),
        make=lambda r: [_spd(r, 2, 3, 3)],
        fd=False,
        note="method-batched-upper",
    ),
    # fd=False: cholesky_solve and cholesky_inverse read only the factor's triangle, while
    # torch's (and this) gradient for it is a full matrix; torch parity checks it
    Case(
        "cholesky_solve",
        lambda m, b, l: m.cholesky_solve(b, l),
        make=lambda r: [r.uniform(-1, 1, (3, 2)), _chol(r, 3, 3)],
        fd=False,
    ),
    Case(
        "cholesky_solve",
        lambda m, b, l: b.cholesky_solve(l, upper=True),
        make=lambda r: [r.uniform(-1, 1, (4, 1, 3, 2)), _chol(r, 2, 3, 3).swapaxes(-1, -2)],
        fd=False,
        note="method-upper-broadcast",
    ),
    Case(
        "cholesky_solve",
        lambda m, b, l: m.cholesky_solve(b, l),
        make=lambda r: [r.uniform(-1, 1, (2, 3, 1)), r.uniform(-1, 1, (3, 3)) + 2 * np.eye(3)],
        fd=False,
        note="full-factor",
    ),
    Case(
        "cholesky_inverse",
        lambda m, l: m.cholesky_inverse(l),
        make=lambda r: [_chol(r, 3, 3)],
        fd=False,
    ),
    Case(
        "cholesky_inverse",
        lambda m, l: l.cholesky_inverse(True),
        make=lambda r: [r.uniform(-1, 1, (2, 3, 3)) + 2 * np.eye(3)],
        fd=False,
        note="method-upper-full",
    ),
    Case(
        "triangular_solve",
        lambda m, b, a: m.triangular_solve(b, a),
        make=lambda r: [r.uniform(-1, 1, (3, 2)), _well(r, 3, 3)],
    ),
    Case(
        "triangular_solve",
        lambda m, b, a: b.triangular_solve(a, False, True),
        make=lambda r: [r.uniform(-1, 1, (4, 1, 3, 2)), _well(r, 2, 3, 3)],
        note="method-lower-transpose-broadcast",
    ),
    Case(
        "triangular_solve",
        lambda m, b, a: m.triangular_solve(b, a, transpose=True, unitriangular=True).solution,
        make=lambda r: [r.uniform(-1, 1, (2, 3, 1)), _well(r, 3, 3)],
        note="unit-transpose",
    ),
    Case(
        "triangular_solve",
        lambda m, b, a: m.triangular_solve(b, a, upper=False, unitriangular=True),
        make=lambda r: [r.uniform(-1, 1, (3, 3)), _well(r, 2, 3, 3)],
        note="lower-unit-batched",
    ),
    Case("linalg.inv_ex", lambda m, a: m.linalg.inv_ex(a), make=lambda r: [_well(r, 3, 3)]),
    Case(
        "linalg.inv_ex",
        lambda m, a: m.linalg.inv_ex(a, check_errors=True),
        make=lambda r: [_well(r, 2, 2, 2)],
        note="batched-check",
    ),
    Case(
        "linalg.solve_ex",
        lambda m, a, b: m.linalg.solve_ex(a, b),
        make=lambda r: [_well(r, 3, 3), r.uniform(-1, 1, (3,))],
    ),
    Case(
        "linalg.solve_ex",
        lambda m, a, b: m.linalg.solve_ex(a, b, check_errors=True),
        make=lambda r: [_well(r, 2, 3, 3), r.uniform(-1, 1, (4, 1, 3, 2))],
        note="broadcast-batch-check",
    ),
    Case(
        "linalg.solve_ex",
        lambda m, a, b: m.linalg.solve_ex(a, b, left=False),
        make=lambda r: [_well(r, 2, 3, 3), r.uniform(-1, 1, (2, 4, 3))],
        note="right",
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
    Case("linalg.svd", lambda m, a: _usv(*m.linalg.svd(a, full_matrices=False)), [(4, 3)]),
    Case(
        "linalg.svd", lambda m, a: _usv(*m.linalg.svd(a, False)), [(2, 3, 4)], note="batched-wide"
    ),
    Case("linalg.svd", lambda m, a: _usv(*m.linalg.svd(a)), [(3, 3)], note="full-square"),
    # fd=False: U's columns (Vh's rows) past min(m, n) are any basis of the rest, moved
    # arbitrarily by a perturbation; torch's gradient ignores them (as this)
    Case("linalg.svd", lambda m, a: _full(*m.linalg.svd(a)), [(4, 3)], fd=False, note="full-tall"),
    Case(
        "linalg.svd", lambda m, a: _full(*m.linalg.svd(a)), [(2, 2, 5)], fd=False, note="full-wide"
    ),
    Case("linalg.svd", lambda m, a: m.linalg.svd(a).S, [(3, 2)], note="S-only"),
    Case("svd", lambda m, a: _usV(*m.svd(a)), [(4, 3)]),
    Case("svd", lambda m, a: _usV(*a.svd()), [(2, 3, 4)], note="method-wide"),
    Case(
        "svd", lambda m, a: _full(*a.svd(some=False), rows=False), [(3, 5)], fd=False, note="full"
    ),
    # (U and V are then zeros: test_svd_without_uv)
    Case("svd", lambda m, a: m.svd(a, compute_uv=False).S, [(4, 3)], note="no-uv"),
    Case("linalg.eigh", lambda m, a: _lv(*m.linalg.eigh(a + a.mT)), make=lambda r: [_sym(r, 4, 4)]),
    Case(
        "linalg.eigh",
        lambda m, a: _lv(*m.linalg.eigh(a + a.mT, UPLO="U")),
        [(2, 3, 3)],
        note="batched-upper",
    ),
    # fd=False: eigh reads one triangle, while torch's (and this) gradient is the symmetric
    # one, for perturbations that keep A symmetric (as cholesky); torch parity checks it
    Case(
        "linalg.eigh",
        lambda m, a: _lv(*m.linalg.eigh(a)),
        make=lambda r: [_sym(r, 3, 3) + np.triu(r.uniform(-1, 1, (3, 3)), 1)],
        fd=False,
        note="asymmetric",
    ),
    Case(
        "linalg.eigvalsh",
        lambda m, a: m.linalg.eigvalsh(a + a.mT),
        make=lambda r: [_sym(r, 2, 4, 4)],
    ),
    Case(
        "linalg.eigvalsh",
        lambda m, a: m.linalg.eigvalsh(a, UPLO="u"),
        [(3, 3)],
        fd=False,
        note="upper",
    ),
    Case("linalg.qr", lambda m, a: _qr(*m.linalg.qr(a)), [(4, 3)]),
    Case("linalg.qr", lambda m, a: _qr(*m.linalg.qr(a)), [(2, 3, 5)], note="wide"),
    Case("linalg.qr", lambda m, a: _qr(*m.linalg.qr(a, "complete")), [(2, 3, 3)], note="complete"),
    Case(
        "linalg.qr",
        lambda m, a: _qr(*m.linalg.qr(a, mode="complete")),
        [(2, 4)],
        note="complete-wide",
    ),
    Case("linalg.qr", lambda m, a: m.linalg.qr(a).R, [(4, 2)], note="R-only"),
    Case("linalg.qr", lambda m, a: m.linalg.qr(a).Q, [(3, 4)], note="Q-only-wide"),
    Case("linalg.qr", lambda m, a: m.linalg.qr(a, "r"), [(4, 3)], grad=False, note="r"),
    Case(
        "linalg.qr",
        lambda m, a: m.linalg.qr(a, "complete"),
        [(4, 3)],
        grad=False,
        note="complete-tall",
    ),
    Case("qr", lambda m, a: _qr(*m.qr(a)), [(4, 3)]),
    Case("qr", lambda m, a: _qr(*a.qr(some=False)), [(2, 3, 4)], note="method-complete"),
    Case("linalg.pinv", lambda m, a: m.linalg.pinv(a), [(4, 3)]),
    Case("linalg.pinv", lambda m, a: m.linalg.pinv(a), [(2, 3, 5)], note="wide"),
    Case(
        "linalg.pinv",
        lambda m, a: m.linalg.pinv(a + a.mT, hermitian=True),
        make=lambda r: [_sym(r, 3, 3)],
        note="hermitian",
    ),
    Case("linalg.pinv", lambda m, a: m.linalg.pinv(a, atol=1e-3), [(3, 3)], note="atol"),
    Case(
        "linalg.pinv",
        lambda m, a: m.linalg.pinv(a + a.mT, 0.2, True),
        make=lambda r: [np.diag([3.0, 2.0, 0.1]) + 0.01 * r.uniform(-1, 1, (3, 3))],
        fd=False,
        note="rcond-hermitian",
    ),
    # rank-deficient: the cut singular values make pinv discontinuous (no finite
    # differences); torch's rule (and this) is the formula on A and its pseudo-inverse
    Case(
        "linalg.pinv",
        lambda m, a: m.linalg.pinv(a),
        make=lambda r: [_low_rank(r, 4, 3)],
        fd=False,
        note="low-rank",
    ),
    Case(
        "linalg.pinv",
        lambda m, a: m.linalg.pinv(a, rtol=0.5),
        make=lambda r: [np.diag([3.0, 2.0, 1.0]) + 0.1 * r.uniform(-1, 1, (3, 3))],
        fd=False,
        note="rtol-cut",
    ),
    Case("pinverse", lambda m, a: m.pinverse(a), [(3, 4)]),
    Case("pinverse", lambda m, a: a.pinverse(rcond=1e-3), [(2, 4, 3)], note="method"),
    Case("linalg.matrix_rank", lambda m, a: m.linalg.matrix_rank(a), [(4, 3)], grad=False),
    Case(
        "linalg.matrix_rank",
        lambda m, a: m.linalg.matrix_rank(a),
        make=lambda r: [np.stack([_low_rank(r, 4, 4), r.uniform(-1, 1, (4, 4))])],
        grad=False,
        note="low-rank",
    ),
    Case(
        "linalg.matrix_rank",
        lambda m, a: m.linalg.matrix_rank(a, hermitian=True),
        make=lambda r: [_low_rank(r, 4, 4) + _low_rank(r, 4, 4).T],
        grad=False,
        note="hermitian",
    ),
    Case(
        "linalg.matrix_rank",
        lambda m, a: m.linalg.matrix_rank(a, atol=1.0, rtol=0.1),
        make=lambda r: [np.diag([5.0, 2.0, 0.6, 0.2])],
        grad=False,
        note="tolerances",
    ),
    Case(
        "linalg.matrix_rank",
        lambda m, a: m.linalg.matrix_rank(a, 0.5),
        make=lambda r: [np.diag([5.0, 2.0, 0.6, 0.2])],
        grad=False,
        note="tol",
    ),
    Case("linalg.cond", lambda m, a: m.linalg.cond(a), make=lambda r: [_well(r, 3, 3)]),
    Case("linalg.cond", lambda m, a: m.linalg.cond(a, -2), [(2, 4, 3)], note="-2-tall"),
    Case(
        "linalg.cond",
        lambda m, a: m.linalg.cond(a, "nuc"),
        make=lambda r: [_well(r, 3, 3)],
        note="nuc",
    ),
    # torch fills the inverse in place (singular matrices: inf), so its gradient raises
    # (test_cond_gradient_raises_as_torch): values only
    Case("linalg.cond", lambda m, a: m.linalg.cond(a, "fro"), [(2, 3, 3)], grad=False, note="fro"),
    Case("linalg.cond", lambda m, a: m.linalg.cond(a, 1), [(3, 3)], grad=False, note="1"),
    Case(
        "linalg.cond",
        lambda m, a: m.linalg.cond(a, -math.inf),
        [(3, 3)],
        grad=False,
        note="-inf",
    ),
    Case(
        "linalg.cond",
        lambda m, a: m.linalg.cond(a, math.inf),
        make=lambda r: [np.stack([np.array([[1.0, 2.0], [2.0, 4.0]]), np.eye(2)])],
        grad=False,
        note="singular",
    ),
    Case("linalg.matrix_exp", lambda m, a: m.linalg.matrix_exp(a), [(3, 3)], domain=(-0.5, 0.5)),
    Case("linalg.matrix_exp", lambda m, a: m.linalg.matrix_exp(a), [(2, 4, 4)], note="scaled"),
    Case("linalg.matrix_exp", lambda m, a: m.linalg.matrix_exp(a), [(1, 1)], note="1x1"),
    Case("matrix_exp", lambda m, a: m.matrix_exp(a), [(3, 3)]),
    Case("matrix_exp", lambda m, a: a.matrix_exp(), [(2, 2, 2)], note="method"),
    Case("linalg.lstsq", lambda m, a, b: m.linalg.lstsq(a, b).solution, [(4, 3), (4, 2)]),
    Case("linalg.lstsq", lambda m, a, b: m.linalg.lstsq(a, b)[0], [(3, 5), (3, 2)], note="wide"),
    Case(
        "linalg.lstsq",
        lambda m, a, b: m.linalg.lstsq(a, b, driver="gelsd")[:2],
        [(2, 5, 3), (1, 5, 2)],
        note="gelsd-batched",
    ),
    Case(
        "linalg.lstsq",
        lambda m, a, b: m.linalg.lstsq(a, b, driver="gels").solution,
        [(4, 3), (4,)],
        note="gels-vector",
    ),
    Case(
        "linalg.lstsq",
        lambda m, a, b: m.linalg.lstsq(a, b, driver="gelsd")[:2],
        [(4, 3), (4,)],
        note="residuals-vector",
    ),
    Case(
        "linalg.lstsq",
        lambda m, a, b: m.linalg.lstsq(a, b, 1e-3, driver="gelss"),
        [(4, 3), (4, 2)],
        grad=False,
        note="gelss-all",
    ),
    Case(
        "linalg.lstsq",
        lambda m, a, b: m.linalg.lstsq(a, b),
        make=lambda r: [_low_rank(r, 2, 4, 3), r.uniform(-1, 1, (2, 4, 2))],
        grad=False,
        note="rank-deficient",
    ),
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
    # cdist's direct path (CdistBackward0): torch has no double backward for it
    Case("cdist", lambda m, a, b: m.cdist(a, b), [(3, 4), (5, 4)], order2=False),
    Case("cdist", lambda m, a, b: m.cdist(a, b, p=1), [(3, 4), (5, 4)], order2=False, note="p1"),
    Case("cdist", lambda m, a, b: m.cdist(a, b, 0), [(3, 4), (5, 4)], order2=False, note="p0"),
    Case("cdist", lambda m, a, b: m.cdist(a, b, 0.5), [(3, 2), (2, 2)], order2=False, note="p.5"),
    Case("cdist", lambda m, a, b: m.cdist(a, b, 1.5), [(3, 2), (2, 2)], order2=False, note="p1.5"),
    Case("cdist", lambda m, a, b: m.cdist(a, b, 3), [(3, 4), (5, 4)], order2=False, note="p3"),
    Case(
        "cdist",
        lambda m, a, b: m.cdist(a, b, float("inf")),
        [(3, 4), (5, 4)],
        order2=False,
        note="inf",
    ),
    Case(
        "cdist",
        lambda m, a, b: m.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist"),
        [(2, 1, 26, 3), (3, 4, 3)],
        order2=False,
        note="batch-broadcast",
    ),
    Case(
        "cdist",
        lambda m, a, b: m.cdist(a, b),
        make=lambda r: [r.uniform(-2, 2, (3, 4)), np.array([[0.5, 1.0, -1.0, 0.25]] * 2)],
        order2=False,
        note="ties",
    ),
    Case("cdist", lambda m, a, b: m.cdist(a, b), [(0, 4), (5, 4)], order2=False, note="empty"),
    Case("cdist", lambda m, a, b: m.cdist(a, b), [(3, 0), (5, 0)], order2=False, note="no-cols"),
    # the matrix-product path (EuclideanDistBackward0 under a view): second order as torch's
    Case("cdist", lambda m, a, b: m.cdist(a, b), [(26, 3), (4, 3)], note="mm"),
    Case(
        "cdist",
        lambda m, a, b: m.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
        [(3, 3), (4, 3)],
        note="mm-forced",
    ),
    Case(
        "cdist",
        lambda m, a, b: m.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
        [(2, 3, 3), (4, 3)],
        note="mm-batch",
    ),
    Case("dist", lambda m, a, b: m.dist(a, b), [(3, 4), (4,)]),
    Case("dist", lambda m, a, b: a.dist(b, 1), [(3, 4), (3, 4)], note="p1"),
    Case("dist", lambda m, a, b: a.dist(b, 0), [(3, 4), (3, 4)], note="p0", grad=False),
    Case("dist", lambda m, a, b: a.dist(b, 3.5), [(3, 4), (3, 4)], note="p3.5"),
    Case("dist", lambda m, a, b: a.dist(b, 0.5), [(5,), (5,)], note="p.5"),
    Case("dist", lambda m, a, b: a.dist(b, -1), [(5,), (5,)], note="p-1", order2=False),
    Case("dist", lambda m, a, b: a.dist(b, float("inf")), [(3, 4), ()], note="inf"),
    Case("dist", lambda m, a, b: a.dist(b, -float("inf")), [(3, 4), ()], note="-inf"),
    Case("dist", lambda m, a, b: a.dist(b.double()), [(3,), (3,)], note="promote"),
    Case("cross", lambda m, a, b: m.cross(a, b, dim=1), [(4, 3), (4, 3)]),
    Case("cross", lambda m, a, b: a.cross(b), [(3, 4), (3, 1)], note="default-dim"),
    Case("cross", lambda m, a, b: m.cross(a, b, -1), [(2, 1, 3), (1, 4, 3)], note="broadcast"),
    Case("linalg.cross", lambda m, a, b: m.linalg.cross(a, b), [(4, 3), (1, 3)]),
    Case("linalg.cross", lambda m, a, b: m.linalg.cross(a, b, dim=0), [(3, 2), (3, 2)], note="dim"),
    Case("baddbmm", lambda m, c, a, b: m.baddbmm(c, a, b), [(2, 3, 5), (2, 3, 4), (2, 4, 5)]),
    Case(
        "baddbmm",
        lambda m, c, a, b: c.baddbmm(a, b, beta=0.5, alpha=-2),
        [(3, 1), (2, 3, 4), (2, 4, 5)],
        note="scaled-broadcast",
    ),
    Case(
        "baddbmm",
        lambda m, c, a, b: m.baddbmm(c, a, b, beta=0),
        make=lambda r: [
            np.full((5,), np.nan),
            r.uniform(-2, 2, (2, 3, 4)),
            r.uniform(-2, 2, (2, 4, 5)),
        ],
        note="beta0-nan",
    ),
    Case("addbmm", lambda m, c, a, b: m.addbmm(c, a, b), [(3, 5), (2, 3, 4), (2, 4, 5)]),
    Case(
        "addbmm",
        lambda m, c, a, b: c.addbmm(a, b, beta=2, alpha=0.25),
        [(5,), (2, 3, 4), (2, 4, 5)],
        note="scaled-broadcast",
    ),
    Case("addmv", lambda m, c, a, b: m.addmv(c, a, b), [(3,), (3, 4), (4,)]),
    Case(
        "addmv",
        lambda m, c, a, b: c.addmv(a, b, beta=-1, alpha=3),
        [(1,), (3, 4), (4,)],
        note="scaled-broadcast",
    ),
    Case("addmv", lambda m, c, a, b: m.addmv(c, a, b, alpha=2), [(), (3, 4), (4,)], note="0d"),
    Case(
        "addmv",
        lambda m, c, a, b: m.addmv(c, a, b, beta=0.0),
        make=lambda r: [np.full((3,), np.inf), r.uniform(-2, 2, (3, 4)), r.uniform(-2, 2, (4,))],
        note="beta0-inf",
    ),
    Case("addr", lambda m, c, a, b: m.addr(c, a, b), [(3, 4), (3,), (4,)]),
    Case(
        "addr",
        lambda m, c, a, b: c.addr(a, b, beta=0.5, alpha=2),
        [(4,), (3,), (4,)],
        note="scaled-broadcast",
    ),
    # torch's AddrBackward0 refuses mixed dtypes (its addmv): values only
    Case(
        "addr",
        lambda m, c, a, b: m.addr(c, a, b.double()),
        [(3, 4), (3,), (4,)],
        note="promote",
        grad=False,
    ),
    Case(
        "addr",
        lambda m, c, a, b: m.addr(c, a, b),
        make=lambda r: [r.uniform(-2, 2, (3, 4)), np.arange(3), r.uniform(-2, 2, (4,))],
        note="int-vec",
        grad=False,
    ),
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
    (lambda m, x: m.linalg.inv_ex(x.narrow(2, 0, 3) + 3 * m.eye(3)).inverse),
    (lambda m, x: m.linalg.cholesky_ex(x.narrow(2, 0, 3) @ x.narrow(2, 0, 3).mT + m.eye(3)).L),
    (lambda m, x: m.linalg.cholesky_ex(x.narrow(2, 0, 3).mT @ x.narrow(2, 0, 3), upper=True).L),
    (lambda m, x: m.linalg.cholesky(x.narrow(2, 0, 3).mT @ x.narrow(2, 0, 3), upper=True)),
    (lambda m, x: m.linalg.solve_ex(x.narrow(2, 0, 3) + 3 * m.eye(3), x).result),
    (lambda m, x: m.cholesky(x.narrow(2, 0, 3).mT @ x.narrow(2, 0, 3) + m.eye(3))),
    (lambda m, x: m.triangular_solve(x, x.narrow(2, 0, 3) + 3 * m.eye(3)).solution),
    (lambda m, x: m.triangular_solve(x, x.narrow(2, 0, 3), False, True).cloned_coefficient),
    (lambda m, x: m.cholesky_solve(x, x.narrow(2, 0, 3) + 3 * m.eye(3))),
    (lambda m, x: x.narrow(2, 0, 3).cholesky_inverse(upper=True)),
    (lambda m, x: m.linalg.slogdet(x.narrow(2, 0, 3))[1]),
    (lambda m, x: m.linalg.slogdet(x.narrow(2, 0, 3))[0]),
    (lambda m, x: m.linalg.solve(x.narrow(2, 0, 3) + 3 * m.eye(3), x.narrow(2, 0, 1).squeeze(-1))),
    (lambda m, x: m.linalg.norm(x)),
    (lambda m, x: m.linalg.norm(x.unbind()[0], 1)),
    (lambda m, x: m.linalg.norm(x.unbind()[0], -math.inf)),
    (lambda m, x: m.linalg.norm(x.unbind()[0], 2)),
    (lambda m, x: m.linalg.norm(x.unbind()[0], "nuc")),
    (lambda m, x: m.linalg.svdvals(x)),
    (lambda m, x: m.linalg.svd(x).U),
    (lambda m, x: m.linalg.svd(x, full_matrices=False).Vh),
    (lambda m, x: m.svd(x).V),
    (lambda m, x: m.svd(x, compute_uv=False).S),
    (lambda m, x: x.svd()[0]),
    (lambda m, x: m.linalg.eigh(x.narrow(2, 0, 3)).eigenvalues),
    (lambda m, x: m.linalg.eigh(x.narrow(2, 0, 3)).eigenvectors),
    (lambda m, x: m.linalg.eigvalsh(x.narrow(2, 0, 3))),
    (lambda m, x: m.linalg.qr(x).Q),
    (lambda m, x: m.linalg.qr(x, "r").R),
    (lambda m, x: x.qr(some=False)[1]),
    (lambda m, x: m.linalg.pinv(x)),
    (lambda m, x: m.pinverse(x)),
    (lambda m, x: m.linalg.cond(x)),
    (lambda m, x: m.linalg.lstsq(x, x).solution),
    (lambda m, x: m.linalg.lstsq(x, x, driver="gelsd").residuals),
    (lambda m, x: m.linalg.matrix_exp(x.narrow(2, 0, 3))),
    (lambda m, x: x.narrow(2, 0, 3).matrix_exp()),
    (lambda m, x: m.linalg.cond(x.narrow(2, 0, 3), "nuc")),
    (lambda m, x: m.linalg.cond(x.narrow(2, 0, 3), "fro")),
    (lambda m, x: m.linalg.cond(x.narrow(2, 0, 3), -1)),
    (lambda m, x: m.tensordot(x, x.permute(1, 2, 0), 2)),
    (lambda m, x: m.inner(x, x)),
    (lambda m, x: m.linalg.vecdot(x, x)),
    (lambda m, x: m.cdist(x, x)),
    (lambda m, x: m.cdist(x, x, p=1.5)),
    (lambda m, x: m.cdist(x, x, compute_mode="use_mm_for_euclid_dist")),
    (lambda m, x: m.cdist(x.unbind()[0], x.unbind()[1], compute_mode="use_mm_for_euclid_dist")),
    (
        lambda m, x: m.cdist(
            x.unbind()[0], x, compute_mode="use_mm_for_euclid_dist"
        ).grad_fn.next_functions[0][0]
    ),  # fmt: skip
    (lambda m, x: m.dist(x, x.unbind()[0])),
    (lambda m, x: m.cross(x.narrow(2, 0, 3), x.narrow(2, 1, 3), 2)),
    (lambda m, x: m.linalg.cross(x.narrow(2, 0, 3), x.narrow(2, 1, 3))),
    (lambda m, x: m.baddbmm(x, x.narrow(2, 0, 3), x.narrow(1, 0, 3), beta=2)),
    (lambda m, x: m.addbmm(x.unbind()[0], x.narrow(2, 0, 3), x.narrow(1, 0, 3))),
    (lambda m, x: m.addmv(x.unbind()[0].sum(1), x.unbind()[0], x.unbind()[1].unbind()[0])),
    (lambda m, x: m.addr(x.unbind()[0], x.unbind()[0].sum(1), x.unbind()[1].unbind()[0])),
]


@pytest.mark.parametrize("i", range(len(NAMES)))
def test_grad_fn_names(i):
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    t = NAMES[i](torch, torch.tensor(a, requires_grad=True))
    c = NAMES[i](cr, cr.tensor(a, requires_grad=True))
    if not isinstance(t, torch.Tensor):  # a node: its own name
        assert c.name() == type(t).__name__
        return
    assert c.grad_fn.name() == type(t.grad_fn).__name__


def test_slogdet_named_tuple():
    a = np.random.default_rng(0).standard_normal((3, 3))
    c, t = cr.linalg.slogdet(cr.tensor(a)), torch.linalg.slogdet(torch.tensor(a))
    assert type(c).__name__ == type(t).__name__ == "linalg_slogdet"
    assert np.allclose(c.sign.numpy(), t.sign.numpy()) and np.allclose(
        c.logabsdet.numpy(), t.logabsdet.numpy()
    )
    assert type(cr.slogdet(cr.tensor(a))).__name__ == type(torch.slogdet(torch.tensor(a))).__name__


_NOT_PD = [
    np.diag([1.0, 1.0, -1.0]),
    np.array([[4.0, 2, 1, 0], [2, 1, 3, 0], [1, 3, 2, 1], [0, 0, 1, 5]]),
    np.array([[4.0, 2, 1, 0], [2, 5, 3, 0], [1, 3, 0.5, 1], [0, 0, 1, 5]]),
    np.array([[4.0, 2, 1, 0], [2, 5, 3, 0], [1, 3, 2, 1], [0, 0, 1, -5]]),
]


@pytest.mark.parametrize("i", range(len(_NOT_PD)))
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_ex_not_positive_definite(i, upper):
    """No error: info is the order of the failing leading minor, per matrix, and L is
    LAPACK's partial factor (the columns before it factored, its pivot's reduced value)."""
    a = np.stack([_NOT_PD[i], np.eye(4)[: len(_NOT_PD[i]), : len(_NOT_PD[i])]])
    c, t = _pair(lambda m, x: m.linalg.cholesky_ex(x, upper=upper), a)
    assert type(c).__name__ == type(t).__name__ == "linalg_cholesky_ex"
    assert list(c._fields) == ["L", "info"]
    assert c.info.dtype == cr.int32 and c.info.tolist() == t.info.tolist()
    assert t.info.tolist()[0] > 0 and t.info.tolist()[1] == 0
    np.testing.assert_allclose(c.L.numpy(), t.L.numpy(), rtol=1e-12, atol=1e-12)
    one = _pair(lambda m, x: m.linalg.cholesky_ex(x[0] if m is torch else x.unbind()[0]), a)
    assert one[0].info.shape == () and one[0].info.item() == one[1].info.item()


@pytest.mark.parametrize("left", [True, False])
def test_singular_ex_info(left):
    """inv_ex and solve_ex: no error for a singular matrix; info (int32, per matrix of A) is
    the first zero pivot of its LU factorization; the other matrices' results are torch's."""
    a = np.stack(
        [
            np.eye(3) * 2,
            np.ones((3, 3)),
            np.array([[1.0, 2, 3], [2, 4, 6], [1, 0, 1]]),
            np.array([[0.0, 0, 0], [1, 1, 0], [0, 0, 1]]),  # Aᵀ's first pivot is the zero
        ]
    )
    b = np.arange(9.0).reshape(3, 3)
    for fn in (
        lambda m, x: m.linalg.inv_ex(x),
        lambda m, x: m.linalg.solve_ex(x, m.tensor(b, dtype=x.dtype), left=left),
    ):
        c, t = _pair(fn, a)
        assert type(c).__name__ == type(t).__name__
        assert list(c._fields) == [next(iter(c._asdict())), "info"]
        assert hasattr(t, c._fields[0])
        assert c.info.dtype == cr.int32 and c.info.tolist() == t.info.tolist() == [0, 2, 3, 2]
        np.testing.assert_allclose(c[0].numpy()[0], t[0].numpy()[0], rtol=1e-12)
        assert np.isnan(c[0].numpy()[1:]).all()


def _pair(fn, a):
    """fn's result in chainrule and torch, on the same float64 array."""
    return fn(cr, cr.tensor(a)), fn(torch, torch.tensor(a))


@pytest.mark.parametrize(
    "fn, fields",
    [
        (lambda m, a: m.linalg.svd(a), ["U", "S", "Vh"]),
        (lambda m, a: m.svd(a), ["U", "S", "V"]),
        (lambda m, a: a.svd(some=False), ["U", "S", "V"]),
        (lambda m, a: m.linalg.eigh(a), ["eigenvalues", "eigenvectors"]),
        (lambda m, a: m.linalg.qr(a), ["Q", "R"]),
        (lambda m, a: m.qr(a), ["Q", "R"]),
        (lambda m, a: a.qr(), ["Q", "R"]),
    ],
)
def test_decomposition_named_tuples(fn, fields):
    a = np.random.default_rng(0).standard_normal((3, 3))
    c, t = _pair(fn, a)
    assert type(c).__name__ == type(t).__name__
    assert list(c._fields) == fields
    for f in fields:
        assert getattr(c, f).shape == tuple(getattr(t, f).shape)
    assert repr(c).startswith(f"chainrule.return_types.{type(t).__name__}(\n{fields[0]}=")


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 4), (0, 3), (3, 0)])
@pytest.mark.parametrize("full", [True, False])
def test_svd_factors(shape, full):
    """The factors reconstruct A, are orthonormal and have torch's shapes."""
    a = np.random.default_rng(0).standard_normal(shape)
    (U, S, Vh), (tU, tS, tVh) = _pair(lambda m, x: m.linalg.svd(x, full_matrices=full), a)
    assert (U.shape, S.shape, Vh.shape) == (tU.shape, tS.shape, tVh.shape)
    k = S.shape[-1]
    u, s, vh = U.numpy()[..., :k], S.numpy(), Vh.numpy()[..., :k, :]
    np.testing.assert_allclose((u * s[..., None, :]) @ vh, a, atol=1e-12)
    np.testing.assert_allclose(s, tS.numpy(), rtol=1e-12)
    for Q in (U.numpy(), np.swapaxes(Vh.numpy(), -1, -2)):
        eye = np.broadcast_to(np.eye(Q.shape[-1]), Q.shape[:-2] + (Q.shape[-1],) * 2)
        np.testing.assert_allclose(np.swapaxes(Q, -1, -2) @ Q, eye, atol=1e-12)


def test_svd_without_uv():
    a = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    c, t = _pair(lambda m, x: m.svd(x, compute_uv=False), a)
    for f in ("U", "V"):
        assert getattr(c, f).shape == getattr(t, f).shape and not getattr(c, f).numpy().any()
        assert getattr(c, f).dtype == cr.float32 and getattr(c, f).grad_fn is None
    np.testing.assert_allclose(c.S.numpy(), t.S.numpy(), rtol=1e-5)


@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3), (0, 3)])
def test_qr_factors(shape, mode):
    a = np.random.default_rng(0).standard_normal(shape)
    (Q, R), (tQ, tR) = _pair(lambda m, x: m.linalg.qr(x, mode), a)
    assert (Q.shape, R.shape) == (tQ.shape, tR.shape)
    np.testing.assert_allclose(np.abs(R.numpy()), np.abs(tR.numpy()), atol=1e-12)
    if mode != "r":
        np.testing.assert_allclose(Q.numpy() @ R.numpy(), a, atol=1e-12)


@pytest.mark.parametrize("UPLO", ["L", "U"])
def test_eigh_reads_one_triangle(UPLO):
    a = np.random.default_rng(0).standard_normal((2, 4, 4))
    (L, V), (tL, _) = _pair(lambda m, x: m.linalg.eigh(x, UPLO), a)
    np.testing.assert_allclose(L.numpy(), tL.numpy(), rtol=1e-12)
    tri = np.tril(a) if UPLO == "L" else np.triu(a)
    sym = tri + np.swapaxes(tri, -1, -2) - tri * np.eye(4)
    v, lam = V.numpy(), L.numpy()
    np.testing.assert_allclose(sym @ v, v * lam[..., None, :], atol=1e-12)


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, a: m.linalg.pinv(a, atol=m.tensor([0.0, 1.0, 10.0]).double()),
        lambda m, a: m.linalg.pinv(a, rtol=m.tensor([[0.0], [0.5]]).double()),
        lambda m, a: m.linalg.pinv(a, atol=0.5, rtol=0.1),
        lambda m, a: m.linalg.pinv(a, atol=-1.0),
        lambda m, a: m.linalg.matrix_rank(a, atol=m.tensor([0.0, 1.0, 10.0]).double()),
        lambda m, a: m.linalg.matrix_rank(a, rtol=m.tensor([[0.0], [0.5]]).double()),
        lambda m, a: m.linalg.pinv(a.narrow(-1, 0, 0)),
        lambda m, a: m.linalg.matrix_rank(a.narrow(-2, 0, 0)),
        lambda m, a: m.linalg.cond(a.narrow(-1, 0, 0)),
        lambda m, a: m.linalg.cond(a.narrow(-1, 0, 0).narrow(-2, 0, 0), 1),
        lambda m, a: m.linalg.eigvalsh(a.narrow(-1, 0, 0).narrow(-2, 0, 0)),
    ],
)
def test_tolerances_and_empty_matrices(fn):
    """atol/rtol tensors broadcast against the batch, an atol > 0 drops the default rtol."""
    a = np.diag([4.0, 2.0, 0.5])[None] * np.array([1.0, 3.0, 0.1])[:, None, None]
    c, t = _pair(fn, a)
    assert c.shape == tuple(t.shape) and str(c.dtype)[-5:] == str(t.dtype)[-5:]
    np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-12)


@pytest.mark.parametrize("p", ["fro", 1, -1, math.inf, -math.inf])
def test_cond_gradient_raises_as_torch(p):
    """torch's cond fills the inverse in place (inf where singular): backward through it
    raises, for the inverse's saved output was written; chainrule does the same."""
    a = np.random.default_rng(0).standard_normal((3, 3))
    errors = []
    for m in (torch, cr):
        x = m.tensor(a, requires_grad=True)
        with pytest.raises(RuntimeError) as err:
            m.linalg.cond(x, p).backward()
        errors.append(str(err.value).replace("chainrule", "torch"))
    assert errors[1] == errors[0].split("\nException raised from")[0]


def test_svd_full_matrices_gradient_ignores_the_extra_columns():
    a = np.random.default_rng(0).standard_normal((5, 3))
    grads = []
    for m in (torch, cr):
        x = m.tensor(a, requires_grad=True)
        U, S, Vh = m.linalg.svd(x)
        (U.narrow(-1, 3, 2).sum() + S.sum()).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-12)


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
    (lambda m, a: m.linalg.cholesky_ex(a), [(2, 3)]),
    (lambda m, a: m.linalg.cholesky_ex(a), [(3,)]),
    (lambda m, a: m.linalg.cholesky_ex(a), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.cholesky_ex(a.half()), [(3, 3)]),
    (lambda m, a: m.linalg.cholesky_ex(a - 5 * m.eye(3), check_errors=True), [(3, 3)]),
    (
        lambda m, a: m.linalg.cholesky_ex(m.stack([m.eye(3), a - 5 * m.eye(3)]), check_errors=True),
        [(3, 3)],
    ),
    (lambda m, b, a: m.triangular_solve(b, a), [(3,), (3, 3)]),
    (lambda m, b, a: m.triangular_solve(b, a), [(3, 2), (3,)]),
    (lambda m, b, a: m.triangular_solve(b, a), [(3, 2), (2, 3)]),
    (lambda m, b, a: m.triangular_solve(b, a), [(4, 2), (3, 3)]),
    (lambda m, b, a: m.triangular_solve(b, a), [(3, 2), (3, 3)], ["float32", "float64"]),
    (lambda m, b, a: m.triangular_solve(b, a), [(2, 3, 2), (4, 3, 3)]),
    (lambda m, b, a: m.triangular_solve(b, a), [(3, 2), (3, 3)], ["int64", "int64"]),
    (lambda m, b, a: m.triangular_solve(b.half(), a.half()), [(3, 2), (3, 3)]),
    (lambda m, a: m.cholesky(a), [(2, 3)]),
    (lambda m, a: m.cholesky(a), [(3,)]),
    (lambda m, a: m.cholesky(a - 5 * m.eye(3)), [(3, 3)]),
    (lambda m, a: m.cholesky(m.stack([m.eye(3), a - 5 * m.eye(3)]), upper=True), [(3, 3)]),
    (lambda m, a: m.cholesky(a), [(3, 3)], ["int64"]),
    (lambda m, a: m.cholesky(a.half()), [(3, 3)]),
    (lambda m, b, l: m.cholesky_solve(b, l), [(3,), (3, 3)]),
    (lambda m, b, l: m.cholesky_solve(b, l), [(3, 2), (3,)]),
    (lambda m, b, l: m.cholesky_solve(b, l), [(3, 2), (3, 3)], ["float32", "float64"]),
    (lambda m, b, l: m.cholesky_solve(b, l), [(4, 2), (3, 3)]),
    (lambda m, b, l: m.cholesky_solve(b, l), [(3, 2), (2, 3)]),
    (lambda m, b, l: m.cholesky_solve(b, l), [(2, 3, 2), (4, 3, 3)]),
    (lambda m, b, l: m.cholesky_solve(b, l), [(3, 2), (3, 3)], ["int64", "int64"]),
    (lambda m, b, l: m.cholesky_solve(b.half(), l.half()), [(3, 2), (3, 3)]),
    (lambda m, a: m.cholesky_inverse(a), [(3,)]),
    (lambda m, a: m.cholesky_inverse(a), [(2, 3)]),
    (lambda m, a: m.cholesky_inverse(a), [(3, 3)], ["int64"]),
    (lambda m, a: m.cholesky_inverse(a.half()), [(3, 3)]),
    (lambda m, a: m.cholesky_inverse(a.tril(-1)), [(3, 3)]),
    (lambda m, a: m.cholesky_inverse(m.stack([m.eye(3), a.triu(1)]), True), [(3, 3)]),
    (lambda m, a: m.linalg.inv_ex(a), [(2, 3)]),
    (lambda m, a: m.linalg.inv_ex(a), [(3,)]),
    (lambda m, a: m.linalg.inv_ex(a), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.inv_ex(a.half()), [(3, 3)]),
    (lambda m, a: m.linalg.inv_ex(a * 0 + 1, check_errors=True), [(3, 3)]),
    (lambda m, a: m.linalg.inv_ex(m.stack([m.eye(3), a * 0 + 1]), check_errors=True), [(3, 3)]),
    (lambda m, a, b: m.linalg.solve_ex(a, b), [(2, 3), (2,)]),
    (lambda m, a, b: m.linalg.solve_ex(a, b), [(3, 3), (4,)]),
    (lambda m, a, b: m.linalg.solve_ex(a, b), [(3, 3), (3,)], ["float32", "float64"]),
    (lambda m, a, b: m.linalg.solve_ex(a.half(), b.half()), [(3, 3), (3,)]),
    (lambda m, a, b: m.linalg.solve_ex(a, b, left=False), [(3, 3), (3,)]),
    (lambda m, a, b: m.linalg.solve(a, b, left=False), [(2, 3, 3), (2, 3)]),
    (lambda m, a, b: m.linalg.solve(a, b, left=False), [(1, 1), (1,)]),
    (lambda m, a, b: m.linalg.solve_ex(a * 0 + 1, b, check_errors=True), [(3, 3), (3,)]),
    (
        lambda m, a, b: m.linalg.solve_ex(m.stack([m.eye(3), a * 0 + 1]), b, check_errors=True),
        [(3, 3), (3,)],
    ),
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
    (lambda m, a: m.linalg.svd(a), [(3,)]),
    (lambda m, a: m.linalg.svd(a, driver="gesvd"), [(3, 3)]),
    (lambda m, a: m.linalg.svd(a, driver="gesvd"), [(3,)]),
    (lambda m, a: m.linalg.svdvals(a, driver="gesvd"), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.svdvals(a.half(), driver="gesvd"), [(3, 3)]),
    (lambda m, a: m.linalg.svd(a), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.svd(a.half()), [(3, 3)]),
    (lambda m, a: m.svd(a), [(3,)]),
    (lambda m, a: a.svd(), [(3, 3)], ["int64"]),
    (lambda m, a: m.svd(a.half(), compute_uv=False), [(3, 3)]),
    (lambda m, a: m.linalg.eigh(a), [(3, 4)]),
    (lambda m, a: m.linalg.svd(a / 0 * 0), [(3, 3)]),
    (lambda m, a: m.linalg.svdvals(m.stack([a, a / 0 * 0])), [(4, 3)], None, [True]),
    (lambda m, a: m.linalg.pinv(a.log()), [(2, 3, 3)]),
    (lambda m, a: m.linalg.eigh(a / 0 * 0), [(3, 3)]),
    (lambda m, a: m.linalg.eigh(a), [(3,)]),
    (lambda m, a: m.linalg.eigh(a, UPLO="X"), [(3,)]),
    (lambda m, a: m.linalg.eigh(a, UPLO="X"), [(3, 3)]),
    (lambda m, a: m.linalg.eigh(a, UPLO="LU"), [(3, 3)]),
    (lambda m, a: m.linalg.eigh(a), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.eigh(a.half()), [(3, 3)]),
    (lambda m, a: m.linalg.eigvalsh(a), [(2, 3, 4)]),
    (lambda m, a: m.linalg.eigvalsh(a, UPLO="x"), [(3, 3)]),
    (lambda m, a: m.linalg.eigvalsh(a), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.qr(a), [(3,)]),
    (lambda m, a: m.linalg.qr(a, mode="x"), [(3, 3)]),
    (lambda m, a: m.linalg.qr(a, mode="x"), [(3,)]),
    (lambda m, a: m.linalg.qr(a), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.qr(a.half()), [(3, 3)]),
    (lambda m, a: m.qr(a), [(3,)]),
    (lambda m, a: a.qr(), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.qr(a, mode="r").R.sum().backward(), [(4, 3)], None, [True]),
    (lambda m, a: m.linalg.qr(a, mode="r").Q.sum().backward(), [(4, 3)], None, [True]),
    (lambda m, a: m.linalg.qr(a, mode="complete").Q.sum().backward(), [(4, 3)], None, [True]),
    (lambda m, a: m.qr(a, some=False).R.sum().backward(), [(2, 4, 3)], None, [True]),
    (lambda m, a: m.linalg.pinv(a), [(3,)]),
    (lambda m, a: m.linalg.pinv(a), [(2, 3)], ["int64"]),
    (lambda m, a: m.linalg.pinv(a.half()), [(2, 3)]),
    (lambda m, a: m.linalg.pinv(a, hermitian=True), [(3, 4)]),
    (lambda m, a: m.pinverse(a), [(2,)]),
    (lambda m, a: a.pinverse(), [(2, 2)], ["int64"]),
    (lambda m, a: m.linalg.matrix_rank(a), [(3,)]),
    (lambda m, a: m.linalg.matrix_rank(a), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.matrix_rank(a.half()), [(3, 3)]),
    (lambda m, a: m.linalg.matrix_rank(a, hermitian=True), [(2, 3)]),
    (lambda m, a: m.linalg.cond(a), [(3,)]),
    (lambda m, a, b: m.linalg.lstsq(a, b), [(4, 3), (2, 4, 2)]),
    (lambda m, a, b: m.linalg.lstsq(a, b), [(4,), (4,)], ["float32", "int64"]),
    (lambda m, a, b: m.linalg.lstsq(a, b), [(4, 3), (4,)], ["int64", "float64"]),
    (lambda m, a, b: m.linalg.lstsq(a.half(), b.half()), [(4, 3), (4,)]),
    (lambda m, a, b: m.linalg.lstsq(a, b, driver="foo"), [(4, 3), (5,)]),
    (lambda m, a, b: m.linalg.lstsq(a, b, driver="foo"), [(4, 3), (4,)]),
    (lambda m, a, b: m.linalg.lstsq(a, b), [(4, 3), (5, 2)]),
    (lambda m, a, b: m.linalg.lstsq(a, b), [(4, 3), ()]),
    (lambda m, a, b: m.linalg.lstsq(a, b), [(2, 4, 3), (3, 4, 2)]),
    (lambda m, a: m.linalg.matrix_exp(a), [(3, 4)]),
    (lambda m, a: m.linalg.matrix_exp(a), [(3,)]),
    (lambda m, a: m.matrix_exp(a), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.cond(a, "fro"), [(3,)]),
    (lambda m, a: m.linalg.cond(a, 3), [(3, 3)]),
    (lambda m, a: m.linalg.cond(a, "foo"), [(3, 3)]),
    (lambda m, a: m.linalg.cond(a, 1), [(3, 4)]),
    (lambda m, a: m.linalg.cond(a, 1.0), [(3, 4)]),
    (lambda m, a: m.linalg.cond(a, -math.inf), [(3, 4)]),
    (lambda m, a: m.linalg.cond(a, "fro"), [(0, 3)]),
    (lambda m, a: m.linalg.cond(a), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.cond(a, 1), [(3, 3)], ["int64"]),
    (lambda m, a: m.linalg.cond(a.half(), "fro"), [(3, 3)]),
    (lambda m, a: m.linalg.cond(a.half()), [(3, 3)]),
    (lambda m, a, b: m.cdist(a, b), [(3,), (2, 3)]),
    (lambda m, a, b: m.cdist(a, b), [(2, 3), (3,)]),
    (lambda m, a, b: m.cdist(a, b), [(2, 3), (2, 4)]),
    (lambda m, a, b: m.cdist(a, b, p=-1), [(2, 3), (2, 3)]),
    (lambda m, a, b: m.cdist(a, b), [(2, 3), (2, 3)], ["int64", "float32"]),
    (lambda m, a, b: m.cdist(a, b), [(2, 3), (2, 3)], ["float32", "int64"]),
    (lambda m, a, b: m.cdist(a, b), [(2, 3), (2, 3)], ["float32", "float64"]),
    (lambda m, a, b: m.cdist(a, b), [(2, 3), (2, 3)], ["float64", "float32"]),
    (lambda m, a, b: m.cdist(a.half(), b.half()), [(2, 3), (2, 3)]),
    (lambda m, a, b: m.cdist(a, b, compute_mode="foo"), [(2, 3), (2, 3)]),
    (lambda m, a, b: m.cdist(a, b), [(2, 2, 3), (3, 2, 3)]),
    (lambda m, a, b: m.dist(a, b), [(2, 3), (3, 2)]),
    (lambda m, a, b: m.dist(a, b), [(2, 3), (2, 3)], ["int64", "int64"]),
    (lambda m, a, b: m.cross(a, b), [(4, 3), (3, 3)]),
    (lambda m, a, b: m.cross(a, b), [(2, 4), (2, 4)]),
    (lambda m, a, b: m.linalg.cross(a, b), [(3, 4), (3, 4)]),
    (lambda m, a, b: m.linalg.cross(a, b), [(4, 3), (3,)]),
    (lambda m, a, b: m.linalg.cross(a, b), [(4, 3), (2, 3)]),
    (lambda m, a, b: m.linalg.cross(a, b), [(4, 3), (4, 3)], ["float32", "float64"]),
    (lambda m, a, b: m.linalg.cross(a, b, dim=2), [(4, 3), (4, 3)]),
    (lambda m, a, b: m.linalg.cross(a, b), [(), ()]),
    (lambda m, c, a, b: m.baddbmm(c, a, b), [(2, 3, 6), (2, 3, 4), (2, 4, 5)]),
    (lambda m, c, a, b: m.baddbmm(c, a, b), [(2, 3, 5), (3, 4), (2, 4, 5)]),
    (lambda m, c, a, b: m.baddbmm(c, a, b), [(2, 3, 5), (2, 3, 4), (4, 5)]),
    (lambda m, c, a, b: m.baddbmm(c, a, b), [(5,), (3, 4), (2, 4, 5)]),
    (lambda m, c, a, b: m.baddbmm(c, a, b), [(5,), (2, 3, 4), (2, 4, 5, 1)]),
    (lambda m, c, a, b: m.baddbmm(c, a, b), [(2, 3, 5), (2, 3, 4), (3, 4, 5)]),
    (lambda m, c, a, b: m.baddbmm(c, a, b), [(2, 3, 5), (2, 3, 4), (2, 3, 5)]),
    (
        lambda m, c, a, b: m.baddbmm(c, a, b),
        [(2, 3, 5), (2, 3, 4), (2, 4, 5)],
        ["float64", "float32", "float32"],
    ),
    (
        lambda m, c, a, b: m.baddbmm(c, a, b),
        [(2, 3, 5), (2, 3, 4), (2, 4, 5)],
        ["float32", "float32", "float64"],
    ),
    (lambda m, c, a, b: m.addbmm(c, a, b), [(2, 3, 5), (2, 3, 4), (2, 4, 5)]),
    (lambda m, c, a, b: m.addbmm(c, a, b), [(3, 6), (2, 3, 4), (2, 4, 5)]),
    (lambda m, c, a, b: m.addbmm(c, a, b), [(5,), (3, 4), (2, 4, 5)]),
    (lambda m, c, a, b: m.addbmm(c, a, b), [(5,), (2, 3, 4), (4, 5)]),
    (lambda m, c, a, b: m.addbmm(c, a, b), [(3, 5), (2, 3, 4), (3, 4, 5)]),
    (lambda m, c, a, b: m.addbmm(c, a, b), [(3, 5), (2, 3, 4), (2, 3, 5)]),
    (
        lambda m, c, a, b: m.addbmm(c, a, b),
        [(3, 5), (2, 3, 4), (2, 4, 5)],
        ["float32", "float32", "float64"],
    ),
    (
        lambda m, c, a, b: m.addbmm(c, a, b),
        [(3, 5), (2, 3, 4), (2, 4, 5)],
        ["float32", "float64", "float32"],
    ),
    (lambda m, a: m.diag(a), [(2, 2, 2)]),
    (lambda m, a: m.diag(a), [()]),
    (lambda m, a: m.diag_embed(a), [()]),
    (lambda m, a: m.diag_embed(a, 0, 1, -2), [(2, 3)]),
    (lambda m, a: m.diag_embed(a, 0, 0, 3), [(2, 3)]),
    (lambda m, c, a, b: m.addmv(c, a, b), [(2,), (3, 4), (4,)]),
    (lambda m, c, a, b: m.addmv(c, a, b), [(3,), (3, 4), (5,)]),
    (lambda m, c, a, b: m.addmv(c, a, b), [(3,), (4,), (4,)]),
    (lambda m, c, a, b: m.addmv(c, a, b), [(3, 1), (3, 4), (4,)]),
    (lambda m, c, a, b: m.addmv(c, a, b), [(3,), (3, 4), (4,)], ["float64", "float32", "float32"]),
    (lambda m, c, a, b: m.addmv(c, a, b), [(3,), (3, 4), (4,)], ["float32", "float32", "int64"]),
    (lambda m, c, a, b: m.addr(c, a, b), [(4,), (3,), (5,)]),
    (lambda m, c, a, b: m.addr(c, a, b), [(3, 4), (3, 1), (4,)]),
    (lambda m, c, a, b: m.addr(c, a, b), [(3, 4), (3,), (4, 1)]),
    (
        lambda m, c, a, b: m.addr(c, a, b, beta=0.5),
        [(3, 4), (3,), (4,)],
        ["int64", "int64", "int64"],
    ),
    (
        lambda m, c, a, b: m.addr(c, a, b, alpha=1.5),
        [(3, 4), (3,), (4,)],
        ["int64", "int64", "int64"],
    ),
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


def test_cross_warns_once_without_dim():
    import warnings

    from chainrule.ops.linalg import distance

    distance._cross_warned[0] = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cr.cross(cr.ones(3), cr.ones(3))
        cr.cross(cr.ones(3), cr.ones(3))
        cr.cross(cr.ones(3), cr.ones(3), dim=0)
    assert [str(w.message).split("\n")[0] for w in caught] == [
        "Using torch.cross without specifying the dim arg is deprecated."
    ]


def test_qr_warns_once():
    import warnings

    from chainrule.ops.linalg import decomp

    decomp._qr_warned[0] = False
    a = np.eye(3)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        cr.qr(cr.tensor(a))
        cr.tensor(a).qr()
        cr.linalg.qr(cr.tensor(a))
    # torch's (TORCH_WARN_ONCE: already spent if torch.qr ran in this process)
    assert [str(w.message) for w in ours] == [
        "torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future "
        "PyTorch release.\nThe boolean parameter 'some' has been replaced with a string "
        "parameter 'mode'.\nQ, R = torch.qr(A, some)\nshould be replaced with\n"
        "Q, R = torch.linalg.qr(A, 'reduced' if some else 'complete')"
    ]


def test_cholesky_warns_once():
    import warnings

    from chainrule.ops.linalg import decomp

    decomp._cholesky_warned[0] = False
    a = np.eye(3)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        cr.cholesky(cr.tensor(a))
        cr.tensor(a).cholesky(upper=True)
        cr.linalg.cholesky(cr.tensor(a))
    # torch's (TORCH_WARN_ONCE), without its "(Triggered internally at ...)" suffix
    assert [(w.category, str(w.message)) for w in ours] == [
        (
            UserWarning,
            "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed "
            "in a future PyTorch release.\nL = torch.cholesky(A)\nshould be replaced with\n"
            "L = torch.linalg.cholesky(A)\nand\nU = torch.cholesky(A, upper=True)\nshould be "
            "replaced with\nU = torch.linalg.cholesky(A).mH\nThis transform will produce "
            "equivalent results for all valid (symmetric positive definite) inputs.",
        )
    ]


def test_triangular_solve_warns_once():
    import warnings

    from chainrule.ops.linalg import decomp

    decomp._triangular_solve_warned[0] = False
    a, b = np.eye(3), np.ones((3, 1))
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        cr.triangular_solve(cr.tensor(b), cr.tensor(a))
        cr.tensor(b).triangular_solve(cr.tensor(a))
    # torch's (TORCH_WARN_ONCE, its missing space kept), without "(Triggered internally ...)"
    assert [(w.category, str(w.message)) for w in ours] == [
        (
            UserWarning,
            "torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangularand "
            "will be removed in a future PyTorch release.\ntorch.linalg.solve_triangular has "
            "its arguments reversed and does not return a copy of one of the inputs.\n"
            "X = torch.triangular_solve(B, A).solution\nshould be replaced with\n"
            "X = torch.linalg.solve_triangular(A, B).",
        )
    ]


def test_triangular_solve_named_tuple():
    a, b = np.random.default_rng(0).uniform(-1, 1, (2, 2, 3, 3)), np.ones((3, 2))
    c, t = _pair(lambda m, x: m.triangular_solve(m.tensor(b, dtype=x.dtype), x), a)
    assert type(c).__name__ == type(t).__name__ == "triangular_solve"
    assert list(c._fields) == ["solution", "cloned_coefficient"]
    assert c.cloned_coefficient.shape == t.cloned_coefficient.shape == (2, 2, 3, 3)
    np.testing.assert_array_equal(c.cloned_coefficient.numpy(), a)
    assert repr(c).startswith("chainrule.return_types.triangular_solve(\nsolution=")


def test_cholesky_solve_singular_factor_is_nan():
    c, t = _pair(lambda m, x: m.cholesky_solve(m.ones(2, 1, dtype=x.dtype), x), np.zeros((2, 2)))
    assert np.isnan(t.numpy()).all() and np.isnan(c.numpy()).all()


def test_cross_of_integers():
    a, b = np.arange(6).reshape(2, 3), np.arange(6, 12).reshape(2, 3)
    ours = cr.linalg.cross(cr.tensor(a), cr.tensor(b))
    theirs = torch.linalg.cross(torch.tensor(a), torch.tensor(b))
    assert ours.dtype == cr.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("p", [0, 0.5, 1, 1.5, 2, 3, float("inf")])
def test_cdist_large_chunks_match_torch(p, monkeypatch):
    """The direct path forms the pairwise differences a block of rows at a time."""
    from chainrule.ops.linalg import distance

    monkeypatch.setattr(distance, "_CHUNK", 7)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 9, 3)), rng.standard_normal((4, 3))
    ours = cr.cdist(cr.tensor(a), cr.tensor(b), p, "donot_use_mm_for_euclid_dist")
    theirs = torch.cdist(torch.tensor(a), torch.tensor(b), p, "donot_use_mm_for_euclid_dist")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_dist_p0_gradient_is_zero():
    """torch's DistBackward0 fails for p = 0 (its norm_backward gives no tensor: "Expected a
    proper Tensor but got None"); the 0-norm is piecewise constant, its gradient zero."""
    a = cr.randn(3, 4, requires_grad=True)
    b = cr.randn(4, requires_grad=True)
    a.dist(b, 0).backward()
    assert not a.grad.numpy().any() and not b.grad.numpy().any()
    assert a.grad.shape == (3, 4) and b.grad.shape == (4,)


@pytest.mark.parametrize("beta", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0, 1, 3])
def test_add_products_of_integers_and_bools(beta, alpha):
    rng = np.random.default_rng(0)
    i = lambda *s: rng.integers(-3, 4, s)  # noqa: E731
    b = lambda *s: rng.integers(0, 2, s).astype(bool)  # noqa: E731
    cases = [
        ("baddbmm", (i(2, 3, 5), i(2, 3, 4), i(2, 4, 5))),
        ("addbmm", (i(3, 5), i(2, 3, 4), i(2, 4, 5))),
        ("addmv", (i(3), i(3, 4), i(4))),
        ("addr", (i(3, 4), i(3), i(4))),
        ("addr", (b(3, 4), b(3), b(4))),
    ]
    for name, arrays in cases:
        ours = getattr(cr, name)(*map(cr.tensor, arrays), beta=beta, alpha=alpha)
        theirs = getattr(torch, name)(*map(torch.tensor, arrays), beta=beta, alpha=alpha)
        assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1], name
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)


def _row(t):  # the first row of the first matrix of a 3-d tensor
    return t.unbind()[0].unbind(1)[0]


@pytest.mark.parametrize(
    "call",
    [
        lambda m, c, a, b: c.baddbmm_(a, b, beta=2),
        lambda m, c, a, b: c.sum(0).addbmm_(a, b, alpha=0.5),
        lambda m, c, a, b: _row(c).addmv_(a.unbind()[0], _row(b), beta=0.5),
        lambda m, c, a, b: m.addmv_(_row(c), a.unbind()[0], _row(b)),
        lambda m, c, a, b: a.unbind()[0].addr_(_row(c), _row(b), alpha=-1),
    ],
)
def test_add_products_in_place(call):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in [(2, 3, 5), (2, 3, 4), (2, 4, 5)]]
    ours = call(cr, *[cr.tensor(a) for a in arrays])
    theirs = call(torch, *[torch.tensor(a) for a in arrays])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)
