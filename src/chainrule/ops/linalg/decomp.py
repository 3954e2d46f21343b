"""Matrix functions: inv, det, slogdet, solve, cholesky, solve_triangular (and the _ex forms
of cholesky, inv and solve, which report failures in ``info``); torch's older cholesky,
cholesky_solve, cholesky_inverse and triangular_solve; the decompositions svd/svdvals,
eigh/eigvalsh, qr; pinv, matrix_rank, lstsq, matrix_exp (the norms and cond are in norms.py).

Rules are torch's for non-singular matrices: d inv = -Aᵀ⁻¹ G Aᵀ⁻¹, d det = G det A⁻ᵀ,
d logabsdet = G A⁻ᵀ, and for X = A⁻¹B: dB = A⁻ᵀG, dA = -dB Xᵀ. (torch switches to an SVD
formula for singular ``det``, as here when the determinant is exactly zero.)
``svdvals``'s rule is torch's ``svd_backward`` (second derivatives flow through U and V).
"""

from __future__ import annotations

import collections
import warnings
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make, version_counter
from chainrule.amp.autocast_mode import autocast_policy, cast_for
from chainrule.dtypes import REDUCED, kind_of, scalar_type_name
from chainrule.graph import grad_mode
from chainrule.ops.elementwise.select import where
from chainrule.ops.op import Op, _modified_message, save_index
from chainrule.ops.reduce.sums import prod
from chainrule.ops.shape.join import cat


class LinAlgError(RuntimeError):
    """A matrix was singular (torch.linalg.LinAlgError, a RuntimeError)."""


def _square(name: str, A: Tensor, floating: bool = True, prefix: str = "linalg.") -> None:
    x = A._data
    if x.ndim < 2:
        raise RuntimeError(f"{prefix}{name}: The input tensor A must have at least 2 dimensions.")
    if x.shape[-1] != x.shape[-2]:
        raise RuntimeError(
            f"{prefix}{name}: A must be batches of square matrices, but they are "
            f"{x.shape[-2]} by {x.shape[-1]} matrices"
        )
    if floating and kind_of(x.dtype) not in "fc":
        raise RuntimeError(
            f"linalg.{name}: Expected a floating point or complex tensor as input. "
            f"Got {scalar_type_name(x)}"
        )


def _square_system(name: str, a: np.ndarray, b: np.ndarray) -> None:
    """torch's checks (and messages) of a system ``A X = b`` by a triangular factor: A
    square, b's rows as many as A's."""
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"A must be batches of square matrices, but they are {a.shape[-2]} by "
            f"{a.shape[-1]} matrices"
        )
    if b.shape[-2] != a.shape[-1]:
        raise RuntimeError(
            f"Incompatible matrix sizes for {name}: each A matrix is {a.shape[-1]} by "
            f"{a.shape[-1]} but each b matrix is {b.shape[-2]} by {b.shape[-1]}"
        )


def _no_reduced(A: Tensor, name: str, kernel: bool = False) -> None:
    """torch's LAPACK-backed ops refuse float16/bfloat16: by name (``"linalg.inv: Low
    precision dtypes not supported"``) or, where no check comes first, by kernel
    (``"lu_cpu" not implemented for 'Half'``)."""
    if A._data.dtype in REDUCED:
        if kernel:
            raise NotImplementedError(f"\"{name}\" not implemented for '{scalar_type_name(A)}'")
        raise RuntimeError(f"{name}: Low precision dtypes not supported. Got {scalar_type_name(A)}")


def _zero_pivot(a: np.ndarray) -> int:
    """1-based index of the first zero pivot of LU with partial pivoting (LAPACK getrf)."""
    a = np.array(a, dtype=np.float64)
    n = a.shape[0]
    for k in range(n):
        p = k + int(np.argmax(np.abs(a[k:, k])))
        if a[p, k] == 0:
            return k + 1
        a[[k, p]] = a[[p, k]]
        a[k + 1 :, k] /= a[k, k]
        a[k + 1 :, k + 1 :] -= np.outer(a[k + 1 :, k], a[k, k + 1 :])
    return n


def _singular(A: np.ndarray) -> LinAlgError:
    """torch's message for a singular matrix in ``inv`` (which batch element, which pivot)."""
    if A.ndim == 2:
        return LinAlgError(
            f"linalg.inv: The diagonal element {_zero_pivot(A)} is zero, the inversion could "
            "not be completed because the input matrix is singular."
        )
    flat = A.reshape(-1, *A.shape[-2:])
    bad = next(i for i in range(len(flat)) if np.linalg.matrix_rank(flat[i]) < A.shape[-1])
    return LinAlgError(
        f"linalg.inv: (Batch element {bad}): The diagonal element {_zero_pivot(flat[bad])} is "
        "zero, the inversion could not be completed because the input matrix is singular."
    )


# --------------------------------------------------------------------------- inv, det


def _per_matrix(fn: Any, shape: tuple, *arrays: np.ndarray) -> np.ndarray:
    """``fn`` on each matrix of ``arrays`` (their batch dims broadcast), each result of
    ``shape``: nan where it fails on a singular matrix (an ``_ex`` function's result, where
    torch's holds inf/nan)."""
    batch = np.broadcast_shapes(*(x.shape[:-2] for x in arrays))
    flat = [np.broadcast_to(x, batch + x.shape[-2:]).reshape(-1, *x.shape[-2:]) for x in arrays]
    out = np.full((len(flat[0]), *shape), np.nan, np.result_type(*arrays))
    for i, mats in enumerate(zip(*flat, strict=True)):
        try:
            out[i] = fn(*mats)
        except np.linalg.LinAlgError:
            pass
    return out.reshape(batch + shape)


def _info(A: np.ndarray, code: Any) -> np.ndarray:
    """LAPACK's info per matrix of ``A`` (int32, of shape A's batch): 0, or ``code(a)`` for
    each matrix ``a`` whose factorization fails."""
    flat = A.reshape(-1, *A.shape[-2:])
    info = np.zeros(len(flat), np.int32)
    for i, a in enumerate(flat):
        info[i] = code(a)
    return info.reshape(A.shape[:-2])


class Inv(Op):
    formula = "d A⁻¹ = -A⁻ᵀ @ g @ A⁻ᵀ"
    save_inputs, save_output = False, True
    torch_name = "LinalgInvExBackward0"

    def forward(self, A, ex=False):
        try:
            return np.linalg.inv(A)
        except np.linalg.LinAlgError:
            if ex:  # inv_ex: the singular matrices' inverses are nan (torch's are inf/nan)
                return _per_matrix(np.linalg.inv, A.shape[-2:], A)
            raise _singular(A) from None

    def backward(self, g):
        Yt = self.output.mT
        return -(Yt @ g @ Yt)


@op(namespace="linalg", method=False)
@autocast_policy("fp32")
def inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix in ``A``; LinAlgError when singular."""
    _square("inv", A)
    _no_reduced(A, "linalg.inv")
    return Inv.apply(A)


@op
@autocast_policy("fp32")
def inverse(input: Tensor) -> Tensor:
    """The inverse of each square matrix in ``input`` (``linalg.inv``)."""
    return inv(input)


class Det(Op):
    formula = "d det(A) = g * det(A) * A⁻ᵀ"
    save_output = True
    torch_name = "LinalgDetBackward0"

    def forward(self, A):
        self.lu = A.copy()  # torch's node saves the LU factors: A as it was
        return np.linalg.det(A)

    def backward(self, g):
        A = _as_saved(self)
        if not self.out_data.all():  # an exactly singular matrix: torch's SVD formula
            return _det_backward_svd(A, g)
        return (g * self.output).unsqueeze(-1).unsqueeze(-1) * inv(A).mT


def _det_backward_svd(A: Tensor, g: Tensor) -> Tensor:
    """d det = U diag(D) Vh with D_i = det(U) det(Vh) g prod_{j != i} S_j (any rank)."""
    U, S, Vh = _svd(A)
    alpha = np.linalg.det(U._data) * np.linalg.det(Vh._data)  # ±1, piecewise constant
    k = S._data.shape[-1]
    diag = np.eye(k, dtype=bool)
    others = prod(where(_make(diag), 1.0, S.unsqueeze(-2).expand(*S._data.shape[:-1], k, k)), -1)
    D = (g * _make(np.asarray(alpha, S._data.dtype))).unsqueeze(-1) * others
    return (U * D.unsqueeze(-2)) @ Vh


@op(name="det", namespace="linalg", method=False)
def linalg_det(A: Tensor) -> Tensor:
    """The determinant of each square matrix in ``A``."""
    _square("det", A)
    _no_reduced(A, "lu_cpu", kernel=True)
    return Det.apply(A)


@op
def det(input: Tensor) -> Tensor:
    """The determinant of each square matrix in ``input`` (``linalg.det``)."""
    return linalg_det(input)


class _Given(Op):
    """A result computed outside (with its sibling output): slogdet's two outputs."""

    torch_name = "LinalgSlogdetBackward0"

    def forward(self, A, value):
        return value

    def backward(self, g):  # the sign: piecewise constant
        return None


class LogAbsDet(_Given):
    def forward(self, A, value):
        self.lu = A.copy()  # torch's node saves the LU factors: A as it was
        return value

    def backward(self, g):
        return g.unsqueeze(-1).unsqueeze(-1) * inv(_as_saved(self)).mT


def _as_saved(node: Op) -> Tensor:
    """The matrix a det/slogdet/solve rule reads: torch's plain backward uses the LU factors
    it saved (the values at forward, even after a ``.data`` write); a differentiable one
    (create_graph) uses A itself, as torch's does."""
    if grad_mode.enabled:
        return node.inputs[0]
    return _make(node.lu)


_slogdet_types = {
    name: collections.namedtuple(name, ["sign", "logabsdet"])
    for name in ("linalg_slogdet", "slogdet")
}


def _slogdet(A: Tensor, kind: str) -> Any:
    _square("slogdet", A)
    _no_reduced(A, "linalg.slogdet")
    sign, logabs = np.linalg.slogdet(A._data)
    dt = A._data.dtype
    sign, logabs = np.asarray(sign, dt), np.asarray(logabs, dt)
    s, la = _Given.apply(A, value=sign), LogAbsDet.apply(A, value=logabs)
    return _slogdet_types[kind](s, save_index(la, s))  # torch's node saves the sign


@op
def slogdet(input: Tensor) -> Any:
    """``(sign, logabsdet)`` of the determinant of each square matrix in ``input``."""
    return _slogdet(input, "slogdet")


@op(name="slogdet", namespace="linalg", method=False)
def linalg_slogdet(A: Tensor) -> Any:
    """``(sign, logabsdet)`` of the determinant of each square matrix in ``A``."""
    return _slogdet(A, "linalg_slogdet")


@op
def logdet(input: Tensor) -> Tensor:
    """log det A: nan when the determinant is negative, -inf when it is zero."""
    _no_reduced(input, "logdet")
    sign, logabs = slogdet(input)
    return logabs + sign.log()


# --------------------------------------------------------------------------- solve


class Solve(Op):
    elementwise = True  # batch dims of A and B broadcast
    saved_for = ((0, "result"), (0, "result"))  # A and X, never B (torch's)
    torch_name = "LinalgSolveExBackward0"

    def forward(self, A, B, vector, ex=False):
        self.vector = vector
        self.lu = np.array(A)  # torch's node saves the LU factors: A as it was
        try:
            if vector:
                return np.linalg.solve(A, B[..., None])[..., 0]
            return np.linalg.solve(A, B)
        except np.linalg.LinAlgError:
            if ex:  # solve_ex: nan for the singular matrices (torch's hold inf/nan)
                if vector:
                    X = _per_matrix(np.linalg.solve, B.shape[-1:] + (1,), A, B[..., None])
                    return X[..., 0]
                return _per_matrix(np.linalg.solve, B.shape[-2:], A, B)
            raise LinAlgError(
                "torch.linalg.solve: The solver failed because the input matrix is singular."
            ) from None

    def backward(self, g):
        A = _as_saved(self)
        gB = Solve.apply(A.mT, g, vector=self.vector)
        if not self.needs(0):
            return None, gB
        X = self.output
        gA = -(gB.unsqueeze(-1) * X.unsqueeze(-2)) if self.vector else -(gB @ X.mT)
        return gA, gB if self.needs(1) else None


@op(namespace="linalg", method=False)
@autocast_policy("fp32")
def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with ``A X = B`` (``X A = B`` if not ``left``); B a (batch of) vector(s) or matrices."""
    return _solve(A, B, left)


def _solve(A: Tensor, B: Tensor, left: bool, ex: bool = False) -> Tensor:
    _square("solve", A)
    a, b = A._data, B._data
    if a.dtype != b.dtype:
        raise RuntimeError(
            "linalg.solve: Expected A and B to have the same dtype, but found A of type "
            f"{scalar_type_name(a)} and B of type {scalar_type_name(b)} instead"
        )
    _no_reduced(A, "lu_cpu", kernel=True)
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    if not left:
        if vector and a.shape[-1] == 1:
            raise RuntimeError(
                "linalg.solve: Vector broadcasting of the left hand side is not supported for "
                "left=False. In this case linalg.solve is equivalent to B / A.squeeze(-1)"
            )
        if vector:
            raise RuntimeError(
                "linalg.solve: Incompatible shapes of A and B for the equation XA = B "
                f"({a.shape[-2]}x{a.shape[-1]} and {b.shape[-1]}x1)"
            )
        return _solve(A.mT, B.mT, True, ex).mT
    rows, cols = (b.shape[-1], 1) if vector else b.shape[-2:] if b.ndim > 1 else (b.shape[0], 1)
    if rows != a.shape[-1] or b.ndim == 0:
        raise RuntimeError(
            "linalg.solve: Incompatible shapes of A and B for the equation AX = B "
            f"({a.shape[-2]}x{a.shape[-1]} and {rows}x{cols})"
        )
    ba, bb = a.shape[:-2], b.shape[:-1] if vector else b.shape[:-2]
    for i in range(1, min(len(ba), len(bb)) + 1):
        if ba[-i] != bb[-i] and 1 not in (ba[-i], bb[-i]):
            raise RuntimeError(
                f"The size of tensor a ({bb[-i]}) must match the size of tensor b ({ba[-i]}) at "
                f"non-singleton dimension {max(len(ba), len(bb)) - i}"
            )
    return Solve.apply(A, B, vector=vector, ex=ex)


# --------------------------------------------------------------------------- cholesky


def _leading_minor(a: np.ndarray) -> int:
    """The order of the first leading minor that is not positive-definite (LAPACK potrf)."""
    for k in range(1, a.shape[-1] + 1):
        try:
            np.linalg.cholesky(a[:k, :k])
        except np.linalg.LinAlgError:
            return k
    return a.shape[-1]


def _potf2(a: np.ndarray) -> np.ndarray:
    """LAPACK's unblocked Cholesky (potf2, lower) of a matrix that is not positive-definite:
    the columns before the failing pivot factored, that pivot's reduced value on the
    diagonal, the rest as in ``a``'s lower triangle (what torch's ``cholesky_ex`` returns)."""
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        pass
    L = np.tril(a)
    for j in range(a.shape[-1]):
        ajj = (L[j, j] - L[j, :j] @ L[j, :j].conj()).real
        if not ajj > 0:
            L[j, j] = ajj
            break
        L[j, j] = ajj = np.sqrt(ajj)
        L[j + 1 :, j] = (L[j + 1 :, j] - L[j + 1 :, :j] @ L[j, :j].conj()) / ajj
    return L


class Cholesky(Op):
    """A = L Lᴴ, L lower-triangular; torch's rule: with P = Φ(Lᴴ g) (the lower triangle,
    diagonal halved), dA = sym(L⁻ᴴ P L⁻¹)."""

    formula = "d chol(A) = sym(L⁻ᵀ Φ(Lᵀ g) L⁻¹)"
    save_inputs, save_output = False, True
    torch_name = "LinalgCholeskyExBackward0"
    prefix = "linalg.cholesky"  # of its error

    def forward(self, A, upper=False, ex=False):
        self.upper = upper
        try:
            L = np.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            if not ex:
                self._fail(A)
            L = _per_matrix(_potf2, A.shape[-2:], A)  # cholesky_ex: LAPACK's partial factor
        return np.swapaxes(L, -1, -2).conj() if upper else L

    def _fail(self, A):
        """torch's error for the first matrix that is not positive-definite."""
        for i, a in enumerate(A.reshape(-1, *A.shape[-2:])):
            k = _chol_info(a)
            if k:
                where = f"(Batch element {i}): " if A.ndim > 2 else ""
                raise LinAlgError(
                    f"{self.prefix}: {where}The factorization could not be completed "
                    "because the input is not positive-definite (the leading minor of "
                    f"order {k} is not positive-definite)."
                )

    def backward(self, g):
        L = self.output
        if self.upper:  # the factor was returned as U = Lᴴ
            L, g = L.mT, g.mT
        eye = _eye_like(L)
        P = (L.mT @ g).tril() * (1 - 0.5 * eye)
        Linv = solve_triangular(L, eye, upper=False)
        S = Linv.mT @ P @ Linv
        return 0.5 * (S + S.mT)


def _eye_like(A: Tensor) -> Tensor:
    return _make(
        np.broadcast_to(np.eye(A._data.shape[-1], dtype=A._data.dtype), A._data.shape).copy()
    )


@op(namespace="linalg", method=False)
@autocast_policy("fp32")
def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """L with ``A = L Lᴴ`` for each symmetric positive-definite matrix (Lᴴ if ``upper``)."""
    _square("cholesky", A)
    _no_reduced(A, "cholesky_cpu", kernel=True)
    return Cholesky.apply(A, upper=upper)


class CholeskyOld(Cholesky):
    """``torch.cholesky`` (deprecated): the same factor, torch's other node."""

    torch_name = "CholeskyBackward0"
    prefix = "cholesky"


def _kernel_dtype(A: Tensor, kernel: str) -> None:
    """torch's ops with no linalg check refuse other dtypes than float32/64 (and complex)
    by kernel: ``"cholesky_cpu" not implemented for 'Long'``."""
    x = A._data
    if kind_of(x.dtype) not in "fc" or x.dtype in REDUCED:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{scalar_type_name(x)}'")


_cholesky_warned = [False]


@op(name="cholesky")
@autocast_policy("fp32")
def cholesky_fn(input: Tensor, upper: bool = False) -> Tensor:
    """The Cholesky factor of each symmetric positive-definite matrix in ``input``: L, or
    U = Lᴴ if ``upper`` (deprecated for ``linalg.cholesky``: torch's once-per-process
    warning)."""
    if not _cholesky_warned[0]:
        _cholesky_warned[0] = True
        warnings.warn(
            "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be "
            "removed in a future PyTorch release.\nL = torch.cholesky(A)\nshould be replaced "
            "with\nL = torch.linalg.cholesky(A)\nand\nU = torch.cholesky(A, upper=True)\n"
            "should be replaced with\nU = torch.linalg.cholesky(A).mH\nThis transform will "
            "produce equivalent results for all valid (symmetric positive definite) inputs.",
            UserWarning,
            stacklevel=2,
        )
    _square("cholesky", input, floating=False, prefix="")
    _kernel_dtype(input, "cholesky_cpu")
    return CholeskyOld.apply(input, upper=bool(upper))


def _tri(L: np.ndarray, upper: bool) -> np.ndarray:
    """The lower factor L that ``L`` (lower, or U = Lᴴ if ``upper``) stands for: only its
    triangle is read, as LAPACK's."""
    return np.swapaxes(np.triu(L), -1, -2).conj() if upper else np.tril(L)


class CholeskySolve(Op):
    """X = (L Lᴴ)⁻¹ B; torch's rule: dB = cholesky_solve(g, L), and with
    C = dB Xᴴ + X dBᴴ, dL = -C L (-U C if upper; not kept to a triangle, as torch's)."""

    formula = "X = (L Lᵀ)⁻¹B: dB = (L Lᵀ)⁻¹ g, dL = -(dB Xᵀ + X dBᵀ) L"
    elementwise = True  # batch dims of B and L broadcast
    saved_for = ((0, 1, "result"), (0, 1, "result"))  # (torch's: B, L and X)

    def forward(self, B, L, upper):
        self.upper = upper
        Lo = _tri(L, upper)
        batch = np.broadcast_shapes(B.shape[:-2], L.shape[:-2])
        with np.errstate(all="ignore"):
            try:
                Y = np.linalg.solve(Lo, B)
                return np.linalg.solve(np.swapaxes(Lo, -1, -2).conj(), Y)
            except np.linalg.LinAlgError:  # a zero on L's diagonal: nan (as torch's kernel)
                return np.full(batch + B.shape[-2:], np.nan, np.result_type(B, L))

    def backward(self, g):
        _, L = self.inputs
        gB = CholeskySolve.apply(g, L, upper=self.upper)
        gL = None
        if self.needs(1):
            C = gB @ self.output.mT.conj()
            C = C + C.mT.conj()
            gL = -(L @ C) if self.upper else -(C @ L)
        return gB if self.needs(0) else None, gL


@op
@autocast_policy("fp32")
def cholesky_solve(input: Tensor, input2: Tensor, upper: bool = False) -> Tensor:
    """X with ``A X = input`` given ``input2``, the Cholesky factor of A (lower, or upper if
    ``upper``: only its triangle is read); batch dims broadcast."""
    b, u = input._data, input2._data
    for name, x in (("b", b), ("u", u)):
        if x.ndim < 2:
            raise RuntimeError(
                f"{name} should have at least 2 dimensions, but has {x.ndim} dimensions instead"
            )
    if b.dtype != u.dtype:
        raise RuntimeError(
            "Expected b and A to have the same dtype, but found b of type "
            f"{scalar_type_name(b)} and A of type {scalar_type_name(u)} instead."
        )
    _square_system("cholesky_solve", u, b)
    bb, bu = b.shape[:-2], u.shape[:-2]
    for i in range(1, min(len(bb), len(bu)) + 1):
        if bb[-i] != bu[-i] and 1 not in (bb[-i], bu[-i]):
            raise RuntimeError(
                f"The size of tensor a ({bb[-i]}) must match the size of tensor b ({bu[-i]}) at "
                f"non-singleton dimension {max(len(bb), len(bu)) - i}"
            )
    _kernel_dtype(input, "cholesky_solve_cpu")
    return CholeskySolve.apply(input, input2, upper=bool(upper))


class CholeskyInverse(Op):
    """(L Lᴴ)⁻¹ from the factor L; torch's rule: with C = Y (g + gᴴ) Y, dL = -C L (-U C if
    upper)."""

    formula = "Y = (L Lᵀ)⁻¹: dL = -Y (g + gᵀ) Y L"
    saved_for = ((0, "result"),)  # (torch's: L and the inverse)

    def forward(self, L, upper):
        self.upper = upper
        Lo = _tri(L, upper)
        n = L.shape[-1]
        flat = Lo.reshape(-1, n, n)
        for i, m in enumerate(flat):
            zero = np.flatnonzero(np.diagonal(m) == 0)
            if zero.size:
                where = f"(Batch element {i}): " if L.ndim > 2 else ""
                raise LinAlgError(
                    f"cholesky_inverse: {where}The diagonal element {zero[0] + 1} is zero, the "
                    "inversion could not be completed because the input matrix is singular."
                )
        Linv = np.linalg.inv(Lo)
        return np.swapaxes(Linv, -1, -2).conj() @ Linv

    def backward(self, g):
        (L,) = self.inputs
        Y = self.output
        C = Y @ (g + g.mT.conj()) @ Y
        return -(L @ C) if self.upper else -(C @ L)


@op
@autocast_policy("fp32")
def cholesky_inverse(input: Tensor, upper: bool = False) -> Tensor:
    """The inverse of A = L Lᴴ given its Cholesky factor ``input`` (lower, or U with
    A = Uᴴ U if ``upper``: only its triangle is read)."""
    _square("cholesky_inverse", input, floating=False, prefix="")
    _kernel_dtype(input, "cholesky_inverse_out_cpu")
    return CholeskyInverse.apply(input, upper=bool(upper))


class SolveTriangular(Op):
    """X with A X = B for triangular A; dB = A⁻ᴴ g, dA = -dB Xᴴ kept to A's triangle."""

    formula = "d X = A⁻¹B: dB = A⁻ᵀ g, dA = tri(-dB Xᵀ)"
    elementwise = True
    saved_for = ((0, "result"), (0, "result"))  # A and X, never B (torch's)
    torch_name = "LinalgSolveTriangularBackward0"

    def forward(self, A, B, upper, unitriangular):
        self.upper, self.unitriangular = upper, unitriangular
        T = np.triu(A) if upper else np.tril(A)
        if unitriangular:
            idx = np.arange(T.shape[-1])
            T = T.copy()
            T[..., idx, idx] = 1
        with np.errstate(all="ignore"):
            try:
                return np.linalg.solve(T, B)
            except np.linalg.LinAlgError:  # a zero on the diagonal: inf/nan as the kernel
                return np.full(
                    np.broadcast_shapes(T.shape[:-2], B.shape[:-2]) + B.shape[-2:], np.nan, B.dtype
                )

    def backward(self, g):
        A, _ = self.inputs
        gB = solve_triangular(A.mT, g, upper=not self.upper, unitriangular=self.unitriangular)
        gA = None
        if self.needs(0):
            gA = -(gB @ self.output.mT)
            gA = (
                gA.triu(1 if self.unitriangular else 0)
                if self.upper
                else gA.tril(-1 if self.unitriangular else 0)
            )
        return gA, gB if self.needs(1) else None


@op(namespace="linalg", method=False)
def solve_triangular(
    A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False
) -> Tensor:
    """X with ``A X = B`` (``X A = B`` if not ``left``) for triangular ``A`` (its ``upper``
    or lower triangle is read; ones assumed on the diagonal if ``unitriangular``)."""
    _square("solve_triangular", A)
    if not left:
        return solve_triangular(A.mT, B.mT, upper=not upper, unitriangular=unitriangular).mT
    a, b = A._data, B._data
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        rows, cols = (b.shape[-2], b.shape[-1]) if b.ndim >= 2 else (b.shape[-1], 1)
        raise RuntimeError(
            "linalg.solve_triangular: Incompatible shapes of A and B for the equation AX = B "
            f"({a.shape[-2]}x{a.shape[-1]} and {rows}x{cols})"
        )
    _no_reduced(A, "triangular_solve_cpu", kernel=True)
    return SolveTriangular.apply(A, B, upper=upper, unitriangular=unitriangular)


# --------------------------------------------------------------------------- svd


class SvdPart(Op):
    """One factor (U, S or Vh) of the SVD, computed once for all three. Saved as torch's
    LinalgSvdBackward0: the factors (this node's own, version-checked, is its output
    ``output_nr``), never A; building a graph of the gradient, the factors are recomputed
    from A (kept aside, refused if written since). With ``full`` (full_matrices), the
    columns of U and rows of Vh past min(m, n) get no gradient (torch's narrow)."""

    torch_name = "LinalgSvdBackward0"
    saved_for = (("result",),)

    def forward(self, A, part, values, full=False):
        self.part, self.usv, self.output_nr, self.full = part, values, part, full
        return values[part]

    def backward(self, g):
        k = self.usv[1].shape[-1]
        if grad_mode.enabled:  # building a graph of the gradient: U, S, Vh depend on A
            U, S, Vh = _svd(_source(self))
        else:
            U, S, Vh = (_make(a) for a in self.usv)
            if self.full:
                U, Vh = _make(self.usv[0][..., :k]), _make(self.usv[2][..., :k, :])
        if self.full and self.part != 1:
            g = g.narrow(-1, 0, k) if self.part == 0 else g.narrow(-2, 0, k)
        grads = [None, None, None]
        grads[self.part] = g
        return _svd_backward(U, S, Vh, *grads)


def _source(node: Op) -> Tensor:
    """The input of a multi-output decomposition's node, for a rule that builds a graph of
    the gradient (the factors are recomputed from it): refused if written since."""
    d = node.__dict__
    A = d.get("source")
    if A is None:  # a forward-mode node: it has its inputs
        return node.inputs[0]
    if A._vc is not None and A._vc[0] != d["source_version"]:
        vc, version = A._vc, d["source_version"]
        raise RuntimeError(_modified_message(A._data, A.grad_fn, vc[0], version))
    return A


def _parts(cls: type, A: Tensor, values: tuple, **kw: Any) -> tuple:
    """The outputs of one decomposition of A, a ``cls`` node each (see SvdPart)."""
    parts = tuple(cls.apply(A, part=i, values=values, **kw) for i in range(len(values)))
    for p in parts:
        if p.grad_fn is not None:
            p.grad_fn.source = A  # not saved: see SvdPart
            p.grad_fn.source_version = A._vc[0] if A._vc else 0
    return parts


def _lapack(fn: Any, a: np.ndarray, **kw: Any) -> Any:
    """NumPy's svd/eigh/eigvalsh, its convergence failure raised as torch's LinAlgError
    (which batch element: the first with a non-finite value; eigh's LAPACK error code is
    given as n - 1, what torch reports for one matrix of nans; in a batch it may differ)."""
    try:
        return fn(a, **kw)
    except np.linalg.LinAlgError:
        flat = a.reshape(-1, *a.shape[-2:])
        bad = next((i for i in range(len(flat)) if not np.isfinite(flat[i]).all()), 0)
        where = f"(Batch element {bad}): " if a.ndim > 2 else ""
        if fn is np.linalg.svd:
            raise LinAlgError(
                f"linalg.svd: {where}The algorithm failed to converge because the input matrix "
                "contained non-finite values."
            ) from None
        raise LinAlgError(
            f"linalg.eigh: {where}The algorithm failed to converge because the input matrix is "
            "ill-conditioned or has too many repeated eigenvalues (error code: "
            f"{a.shape[-1] - 1})."
        ) from None


def _svd(A: Tensor, full: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    usv = tuple(_lapack(np.linalg.svd, A._data, full_matrices=full))
    return _parts(SvdPart, A, usv, full=full)


def _svd_backward(U: Tensor, S: Tensor, Vh: Tensor, gU: Any, gS: Any, gVh: Any) -> Tensor:
    """torch's svd_backward for real matrices and the reduced SVD."""
    m, n, k = U._data.shape[-2], Vh._data.shape[-1], S._data.shape[-1]
    eye = _make(np.eye(k, dtype=S._data.dtype))
    gA = None
    if gU is not None or gVh is not None:
        S2 = S * S
        E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + eye
        if gU is not None:
            UhgU = U.mT @ gU
            gA = (UhgU - UhgU.mT) * S.unsqueeze(-2)
        if gVh is not None:
            VhgV = Vh @ gVh.mT
            t = S.unsqueeze(-1) * (VhgV - VhgV.mT)
            gA = t if gA is None else gA + t
        gA = gA / E
    if gS is not None:
        d = gS.unsqueeze(-1) * eye
        gA = d if gA is None else gA + d
    if m > k and gU is not None:
        gUSinv = gU / S.unsqueeze(-2)
        gA = (U @ gA + gUSinv - U @ (U.mT @ gUSinv)) @ Vh
    elif n > k and gVh is not None:
        SinvgVh = gVh / S.unsqueeze(-1)
        gA = U @ (gA @ Vh + SinvgVh - (SinvgVh @ Vh.mT) @ Vh)
    else:
        gA = U @ (gA @ Vh)
    return gA


@op(namespace="linalg", method=False)
@autocast_policy("fp32")
def svdvals(A: Tensor, *, driver: str | None = None) -> Tensor:
    """The singular values of each matrix in ``A``, in descending order. (``driver`` picks a
    cuSOLVER method in torch, on CUDA only: on the CPU torch refuses it, as here.)"""
    _svd_checks(A, "linalg.svd: The input tensor A must have at least 2 dimensions.", driver)
    if not A._requires_grad and getattr(A, "_fw", None) is None:  # no derivative needed
        return _make(_lapack(np.linalg.svd, A._data, compute_uv=False))
    return _svd(A)[1]


def _return_type(name: str, fields: list[str]) -> Any:
    """A named tuple like ``torch.return_types.<name>``."""
    cls = collections.namedtuple(name, fields)  # type: ignore[misc]
    cls.__module__ = "chainrule.return_types"
    cls.__qualname__ = name
    cls.__repr__ = lambda self: (  # type: ignore[method-assign]
        f"chainrule.return_types.{name}(\n"
        + ",\n".join(f"{f}={getattr(self, f)!r}" for f in fields)
        + ")"
    )
    return cls


_linalg_svd_type = _return_type("linalg_svd", ["U", "S", "Vh"])
_svd_type = _return_type("svd", ["U", "S", "V"])


def _svd_checks(A: Tensor, ndim_message: str, driver: str | None = None) -> None:
    if A._data.ndim < 2:
        raise RuntimeError(ndim_message)
    if kind_of(A._data.dtype) not in "fc":
        raise RuntimeError(
            "linalg.svd: Expected a floating point or complex tensor as input. "
            f"Got {scalar_type_name(A._data)}"
        )
    if driver is not None:
        raise RuntimeError(
            "torch.linalg.svd: keyword argument `driver=` is only supported on CUDA inputs with "
            "cuSOLVER backend."
        )
    _no_reduced(A, "linalg_svd_cpu", kernel=True)


@op(name="svd", namespace="linalg", method=False)
@autocast_policy("fp32")
def linalg_svd(A: Tensor, full_matrices: bool = True, *, driver: str | None = None) -> Any:
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``, S descending; U and Vh square if
    ``full_matrices`` (their columns/rows past min(m, n) then get no gradient, as in torch).
    ``driver`` is a cuSOLVER choice: on the CPU torch refuses it, as here."""
    _svd_checks(A, "linalg.svd: The input tensor A must have at least 2 dimensions.", driver)
    return _linalg_svd_type(*_svd(A, full_matrices))


@op
@autocast_policy("fp32")
def svd(input: Tensor, some: bool = True, compute_uv: bool = True) -> Any:
    """``(U, S, V)`` with ``input = U diag(S) Vᵀ`` (V, not Vh: ``linalg.svd``'s Vh
    transposed); full U and V unless ``some``. Without ``compute_uv``, U and V are zeros
    (square, m by m and n by n)."""
    x = input._data
    _svd_checks(
        input,
        f"linalg.svd: input should have at least 2 dimensions, but has {x.ndim} dimensions instead",
    )
    if not compute_uv:
        m, n = x.shape[-2:]
        zeros = lambda k: _make(np.zeros(x.shape[:-2] + (k, k), x.dtype))  # noqa: E731
        return _svd_type(zeros(m), svdvals(input), zeros(n))
    U, S, Vh = _svd(input, not some)
    return _svd_type(U, S, Vh.mT)


# --------------------------------------------------------------------------- eigh


class EighPart(Op):
    """The eigenvalues (ascending) or eigenvectors of a symmetric matrix, computed once for
    both, as SvdPart. torch's rule (linalg_eig_backward, hermitian): with E_ij = λ_j - λ_i,
    dA = V (diag(gλ) + skew(Vᵀ gV) / E) Vᵀ."""

    formula = "dA = V (diag(gλ) + skew(Vᵀ gV) / (λⱼ - λᵢ)) Vᵀ"
    torch_name = "LinalgEighBackward0"
    saved_for = (("result",),)

    def forward(self, A, part, values, uplo):
        self.part, self.lv, self.output_nr, self.uplo = part, values, part, uplo
        return values[part]

    def backward(self, g):
        if grad_mode.enabled:
            L, V = _eigh(_source(self), self.uplo)
        else:
            L, V = (_make(a) for a in self.lv)
        if self.part == 0:
            return (V * g.unsqueeze(-2)) @ V.mT
        VhgV = V.mT @ g
        E = L.unsqueeze(-2) - L.unsqueeze(-1) + _eye_like(V)
        return V @ ((0.5 * (VhgV - VhgV.mT)) / E) @ V.mT


def _eigh(A: Tensor, uplo: str) -> tuple[Tensor, Tensor]:
    return _parts(EighPart, A, tuple(_lapack(np.linalg.eigh, A._data, UPLO=uplo)), uplo=uplo)


def _eigh_checks(A: Tensor, UPLO: str) -> str:
    _square("eigh", A, floating=False)
    if len(UPLO) != 1 or UPLO.upper() not in "LU":
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    if kind_of(A._data.dtype) not in "fc" or A._data.dtype in REDUCED:
        raise NotImplementedError(
            f"\"linalg_eigh_cpu\" not implemented for '{scalar_type_name(A)}'"
        )
    return UPLO.upper()


_eigh_type = _return_type("linalg_eigh", ["eigenvalues", "eigenvectors"])


@op(namespace="linalg", method=False)
@autocast_policy("fp32")
def eigh(A: Tensor, UPLO: str = "L") -> Any:
    """``(eigenvalues, eigenvectors)`` of each symmetric matrix in ``A`` (its lower triangle
    is read, the upper with ``UPLO="U"``), eigenvalues ascending: A = V diag(λ) Vᵀ."""
    return _eigh_type(*_eigh(A, _eigh_checks(A, UPLO)))


@op(namespace="linalg", method=False)
@autocast_policy("fp32")
def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues (ascending) of each symmetric matrix in ``A`` (``UPLO`` as in
    ``eigh``)."""
    uplo = _eigh_checks(A, UPLO)
    if not A._requires_grad and getattr(A, "_fw", None) is None:  # no derivative needed
        return _make(_lapack(np.linalg.eigvalsh, A._data, UPLO=uplo))
    return _eigh(A, uplo)[0]


# --------------------------------------------------------------------------- qr


class QrPart(Op):
    """Q or R of the QR decomposition, computed once for both, as SvdPart; torch's rule
    (``_qr_backward``)."""

    formula = "dA = (gQ + Q copyltu(R gRᵀ - gQᵀ Q)) R⁻ᵀ"
    torch_name = "LinalgQrBackward0"
    saved_for = (("result",),)

    def forward(self, A, part, values, mode):
        self.part, self.qr, self.output_nr, self.mode = part, values, part, mode
        self.m, self.n = A.shape[-2:]
        return values[part]

    def backward(self, g):
        if self.mode == "r":
            raise RuntimeError(
                "The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                "Please use linalg.qr(A, mode='reduced') if you are going to differentiate "
                "through linalg.qr."
            )
        if self.mode == "complete" and self.m > self.n:
            raise RuntimeError(
                "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
            )
        if grad_mode.enabled:
            Q, R = _qr(_source(self), self.mode)
        else:
            Q, R = (_make(a) for a in self.qr)
        gQ, gR = (g, None) if self.part == 0 else (None, g)
        return _qr_backward(Q, R, gQ, gR)


def _qr_backward(Q: Tensor, R: Tensor, gQ: Any, gR: Any) -> Tensor:
    """torch's linalg_qr_backward (real): with M = R gRᵀ - gQᵀ Q, for m >= n
    dA = (gQ + Q copyltu(M)) R⁻ᵀ; for m < n, with R₁ R's leading square,
    dA = [Q tril(M - Mᵀ) R₁⁻ᵀ | 0] + Q gR."""
    m, n = Q._data.shape[-2], R._data.shape[-1]
    M = R @ gR.mT if gR is not None else None
    if gQ is not None:
        M = -(gQ.mT @ Q) if M is None else M - gQ.mT @ Q
    assert M is not None
    if m >= n:
        b = Q @ (M.tril() + M.tril(-1).mT)
        if gQ is not None:
            b = b + gQ
        return solve_triangular(R.mT, b, upper=False, left=False)
    b = Q @ (M - M.mT).tril()
    gA = solve_triangular(R.narrow(-1, 0, m).mT, b, upper=False, left=False)
    zeros = _make(np.zeros(gA._data.shape[:-1] + (n - m,), gA._data.dtype))
    gA = cat([gA, zeros], -1)
    return gA + Q @ gR if gR is not None else gA


def _qr(A: Tensor, mode: str) -> tuple[Tensor, Tensor]:
    a = A._data
    if mode == "r":
        values = (np.zeros((0,), a.dtype), np.linalg.qr(a, mode="r"))
    else:
        values = tuple(np.linalg.qr(a, mode=mode))
    return _parts(QrPart, A, values, mode=mode)


_qr_types = {name: _return_type(name, ["Q", "R"]) for name in ("linalg_qr", "qr")}


def _qr_checks(A: Tensor, mode: str) -> None:
    if A._data.ndim < 2:
        raise RuntimeError("linalg.qr: The input tensor A must have at least 2 dimensions.")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
            "'r', or 'complete'"
        )
    if kind_of(A._data.dtype) not in "fc":
        raise RuntimeError(
            "linalg.qr: Expected a floating point or complex tensor as input. "
            f"Got {scalar_type_name(A._data)}"
        )
    _no_reduced(A, "geqrf_cpu", kernel=True)


@op(name="qr", namespace="linalg", method=False)
@autocast_policy("fp32")
def linalg_qr(A: Tensor, mode: str = "reduced") -> Any:
    """``(Q, R)`` with ``A = Q R``, Q orthonormal columns, R upper-triangular: Q m by k and
    R k by n with k = min(m, n) (``"reduced"``), Q m by m (``"complete"``), or only R (Q
    empty, ``"r"``: not differentiable, as in torch)."""
    _qr_checks(A, mode)
    return _qr_types["linalg_qr"](*_qr(A, mode))


_qr_warned = [False]


@op
@autocast_policy("fp32")
def qr(input: Tensor, some: bool = True) -> Any:
    """``(Q, R)`` of ``input`` (``linalg.qr`` in mode ``"reduced"``, ``"complete"`` unless
    ``some``), with torch's (once per process) deprecation warning."""
    if not _qr_warned[0]:
        _qr_warned[0] = True
        warnings.warn(
            "torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future "
            "PyTorch release.\nThe boolean parameter 'some' has been replaced with a string "
            "parameter 'mode'.\nQ, R = torch.qr(A, some)\nshould be replaced with\n"
            "Q, R = torch.linalg.qr(A, 'reduced' if some else 'complete')",
            UserWarning,
            stacklevel=2,
        )
    mode = "reduced" if some else "complete"
    _qr_checks(input, mode)
    return _qr_types["qr"](*_qr(input, mode))


# --------------------------------------------------------------------------- pinv, rank


def _tolerances(A: np.ndarray, atol: Any, rtol: Any) -> tuple[np.ndarray, np.ndarray]:
    """torch's get_atol_rtol: atol 0 by default; rtol eps * max(m, n) unless atol > 0 is
    given (then 0), as float64 arrays shaped to broadcast over the batch (trailing 1)."""

    def arr(t: Any) -> np.ndarray:
        return np.asarray(t._data if isinstance(t, Tensor) else t, np.float64)

    a = arr(0.0 if atol is None else atol)
    if rtol is not None:
        r = arr(rtol)
    else:
        default = np.finfo(A.dtype).eps * max(A.shape[-2:])
        r = np.asarray(default) if atol is None else np.where(a > 0, 0.0, default)
    return a[..., None], r[..., None]


def _cutoff(s: np.ndarray, biggest: np.ndarray, atol: np.ndarray, rtol: np.ndarray) -> np.ndarray:
    return s > np.maximum(atol, rtol * biggest)


class Pinv(Op):
    """The pseudo-inverse P of A (by SVD, or by eigh when hermitian), singular values
    at most max(atol, rtol σ₁) cut. torch's rule (pinv_backward, for a full-rank A), on
    A and P."""

    formula = "dA = -Pᵀ g Pᵀ + (I - A P)ᵀ ... (torch's pinv_backward, P = A⁺)"
    save_inputs, save_output = True, True
    torch_name = "LinalgPinvBackward0"

    def forward(self, A, atol, rtol, hermitian):
        m, n = A.shape[-2:]
        if A.size == 0:
            shape = np.broadcast_shapes(A.shape[:-2], atol.shape[:-1], rtol.shape[:-1])
            return np.zeros(shape + (n, m), A.dtype)
        if hermitian:
            w, V = _lapack(np.linalg.eigh, A)
            aw = np.abs(w)
            keep = _cutoff(aw, aw.max(-1, keepdims=True), atol, rtol)
            with np.errstate(divide="ignore"):
                inv = np.where(keep, 1 / w, 0).astype(A.dtype)
            return (V * inv[..., None, :]) @ np.swapaxes(V, -1, -2)
        U, S, Vh = _lapack(np.linalg.svd, A, full_matrices=False)
        keep = _cutoff(S, S[..., :1], atol, rtol)
        with np.errstate(divide="ignore"):
            inv = np.where(keep, 1 / S, 0).astype(A.dtype)
        return (np.swapaxes(Vh, -1, -2) * inv[..., None, :]) @ np.swapaxes(U, -1, -2)

    def backward(self, g):
        return _pinv_backward(g, self.output, self.inputs[0])


def _pinv_backward(g: Tensor, P: Tensor, A: Tensor) -> Tensor:
    """torch's pinv_backward: the gradient of P = A⁺ (its derivative where A's rank holds)."""
    m, n = A._data.shape[-2:]
    Ph, gh = P.mT, g.mT
    if m <= n:
        K = gh @ P
        KPh = K @ Ph
        return -(P @ K).mT + KPh - (A @ P) @ KPh + (Ph @ P) @ (gh - K @ A)
    K = P @ gh
    PhK = Ph @ K
    return -(K @ P).mT + (gh - A @ K) @ P @ Ph + PhK - PhK @ P @ A


def _pinv_checks(A: Tensor) -> None:
    x = A._data
    if x.ndim < 2 or kind_of(x.dtype) not in "fc" or x.dtype in REDUCED:
        raise RuntimeError(
            f"linalg.pinv({scalar_type_name(x)}{{[{', '.join(map(str, x.shape))}]}}): expected a "
            "tensor with 2 or more dimensions of float, double, cfloat or cdouble types"
        )


@op(namespace="linalg", method=False)
def pinv(
    A: Tensor,
    rcond: Any = None,
    hermitian: bool = False,
    *,
    atol: Any = None,
    rtol: Any = None,
) -> Tensor:
    """The (Moore-Penrose) pseudo-inverse of each matrix in ``A``: singular values (absolute
    eigenvalues if ``hermitian``) at most max(``atol``, ``rtol`` σ₁) are treated as zero;
    ``rtol`` defaults to eps max(m, n), or to 0 when an ``atol`` > 0 is given. (torch's
    older form: a positional ``rcond``, the ``rtol``.)"""
    if rcond is not None:
        if atol is not None or rtol is not None:
            raise TypeError(
                "linalg_pinv() received an invalid combination of arguments: rcond with "
                "atol or rtol"
            )
        rtol = rcond
    _pinv_checks(A)
    if hermitian:
        _square("eigh", A, floating=False)
    at, rt = _tolerances(A._data, atol, rtol)
    # torch's kernel ends with a matmul, on autocast's lower-precision list
    return cast_for("lower_precision_fp", Pinv.apply(A, atol=at, rtol=rt, hermitian=hermitian))


@op
@autocast_policy("fp32")
def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """The pseudo-inverse of each matrix in ``input``: singular values at most ``rcond``
    times the largest are treated as zero (``linalg.pinv`` with ``rtol=rcond``)."""
    return pinv(input, rtol=rcond)


@op(namespace="linalg", method=False)
@autocast_policy("fp32")
def matrix_rank(
    A: Tensor,
    tol: float | None = None,
    *,
    atol: Any = None,
    rtol: Any = None,
    hermitian: bool = False,
) -> Tensor:
    """The number of singular values (absolute eigenvalues if ``hermitian``) of each matrix
    in ``A`` above max(``atol``, ``rtol`` σ₁), tolerances as in ``pinv`` (``tol``: torch's
    older positional form, an ``atol`` with ``rtol`` 0), as int64."""
    x = A._data
    if x.ndim < 2:
        raise RuntimeError(
            "torch.linalg.matrix_rank: The input tensor input must have at least 2 dimensions."
        )
    if kind_of(x.dtype) not in "fc" or x.dtype in REDUCED:
        raise RuntimeError("This function doesn't handle types other than float and double")
    if tol is not None:
        atol, rtol = tol, 0.0
    if hermitian:
        _square("eigh", A, floating=False)
    at, rt = _tolerances(x, atol, rtol)
    if x.size == 0:
        shape = np.broadcast_shapes(x.shape[:-2], at.shape[:-1], rt.shape[:-1])
        return _make(np.zeros(shape, np.int64))
    if hermitian:
        s = np.abs(_lapack(np.linalg.eigvalsh, x))
        biggest = s.max(-1, keepdims=True)
    else:
        s = _lapack(np.linalg.svd, x, compute_uv=False)
        biggest = s[..., :1]
    return _make(_cutoff(s, biggest, at, rt).sum(-1).astype(np.int64))


# --------------------------------------------------------------------------- matrix_exp


def _expm(a: np.ndarray) -> np.ndarray:
    """exp of each square matrix: scaling and squaring around a degree-18 Taylor sum (the
    scaled matrix has 1-norm at most 1/2), in float64 at least."""
    x = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
    n = x.shape[-1]
    if x.size == 0:
        return x.astype(a.dtype)
    norm = float(np.abs(x).sum(-2).max()) if np.isfinite(x).all() else 0.0
    s = max(0, int(np.ceil(np.log2(norm / 0.5)))) if norm > 0.5 else 0
    x = x / 2.0**s
    eye = np.eye(n, dtype=x.dtype)
    e = eye + x / 18
    for k in range(17, 0, -1):
        e = eye + (x @ e) / k
    for _ in range(s):
        e = e @ e
    return e.astype(a.dtype)


class MatrixExp(Op):
    """exp(A) = Σ Aᵏ/k!; torch's rule: the gradient is the upper-right block of the
    exponential of [[Aᵀ, g], [0, Aᵀ]]."""

    formula = "d exp(A) = exp([[Aᵀ, g], [0, Aᵀ]])[:n, n:]"
    torch_name = "LinalgMatrixExpBackward0"

    def forward(self, A):
        return _expm(A)

    def backward(self, g):
        A = self.inputs[0].mT
        n = A._data.shape[-1]
        zeros = _make(np.zeros(A._data.shape, A._data.dtype))
        block = cat([cat([A, g], -1), cat([zeros, A], -1)], -2)
        return MatrixExp.apply(block).narrow(-2, 0, n).narrow(-1, n, n)


@op(namespace="linalg", method=False)
def matrix_exp(A: Tensor) -> Tensor:
    """The matrix exponential of each square matrix in ``A``."""
    _square("matrix_exp", A)
    return MatrixExp.apply(A)


@op(name="matrix_exp")
def matrix_exp_fn(input: Tensor) -> Tensor:
    """The matrix exponential of each square matrix in ``input`` (``linalg.matrix_exp``)."""
    return matrix_exp(input)


# --------------------------------------------------------------------------- lstsq


class LstsqSolution(Op):
    """lstsq's solution X (its residuals are a sibling node, as SvdPart's factors); saved
    as torch's LinalgLstsqBackward0: A, B and X. torch's rule (linalg_lstsq_backward), through
    the pseudo-inverse: dB = A⁺ᵀ g, dA the pseudo-inverse's gradient for g Bᵀ."""

    formula = "dB = A⁺ᵀ g, dA = pinv_backward(g Bᵀ)"
    elementwise = True  # batch dims of A and B broadcast
    torch_name = "LinalgLstsqBackward0"
    saved_for = ((0, 1, "result"), (0, 1, "result"))

    def forward(self, A, B, values, vector):
        self.vector = vector
        return values[0]

    def backward(self, g):
        A, B = self.inputs
        if self.vector:
            g, B = g.unsqueeze(-1), B.unsqueeze(-1)
        P = pinv(A)
        gA = _pinv_backward(g @ B.mT, P, A) if self.needs(0) else None
        gB = None
        if self.needs(1):
            gB = P.mT @ g
            gB = gB.squeeze(-1) if self.vector else gB
        return gA, gB


class LstsqResiduals(Op):
    """lstsq's squared residuals r = ‖A X - B‖² (rows summed) at the solution X (which
    torch's node saves: written in place, backward raises torch's error):
    dA = 2 (A X - B) diag(g) Xᵀ, dB = -2 (A X - B) diag(g)."""

    formula = "dA = 2 (A X - B) diag(g) Xᵀ, dB = -2 (A X - B) diag(g)"
    elementwise = True
    torch_name = "LinalgLstsqBackward0"
    saved_for = ((0, 1), (0, 1))

    def forward(self, A, B, values, vector):
        self.vector, self.output_nr = vector, 1
        return values[1]

    def backward(self, g):
        if g._data.size == 0:  # no residuals (a driver or shape without)
            return None, None
        A, B = self.inputs
        sol = self.__dict__.get("solution_version")
        if sol is not None and sol[0][0] != sol[1]:  # torch's node saved the solution
            vc, version = sol
            raise RuntimeError(
                _modified_message(self.solution, "LinalgLstsqBackward0", vc[0], version)
            )
        if self.vector:
            B = B.unsqueeze(-1)
        if grad_mode.enabled:  # differentiable: the solution from A and B, X = A⁺B
            X = pinv(A) @ B
        else:
            X = _make(self.solution)
            X = X.unsqueeze(-1) if self.vector else X
        Rg = (A @ X - B) * (2 * g.unsqueeze(-2))
        gA = Rg @ X.mT if self.needs(0) else None
        gB = None
        if self.needs(1):
            gB = -Rg.squeeze(-1) if self.vector else -Rg
        return gA, gB


_lstsq_type = _return_type("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


@op(namespace="linalg", method=False)
def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *, driver: str | None = None) -> Any:
    """``(solution, residuals, rank, singular_values)``: X minimizing ‖A X - B‖ (the
    minimum-norm one if A is rank-deficient), singular values at most ``rcond`` σ₁ (default
    eps max(m, n)) cut. As torch's CPU drivers: ``rank`` unless ``driver="gels"``, the
    ``singular_values`` for ``"gelsd"``/``"gelss"``, the squared ``residuals`` when m > n,
    A full-rank and the driver is not ``"gelsy"`` (the default)."""
    a, b = A._data, B._data
    if a.ndim < 2:
        raise RuntimeError("torch.linalg.lstsq: input must have at least 2 dimensions.")
    if b.ndim < 1:
        raise RuntimeError("torch.linalg.lstsq: other must have at least 1 dimension.")
    if not 0 <= a.ndim - b.ndim <= 1:
        raise RuntimeError(
            "torch.linalg.lstsq: input.dim() must be greater or equal to other.dim() and "
            "(input.dim() - other.dim()) <= 1"
        )
    if a.dtype != b.dtype:
        raise RuntimeError(
            "torch.linalg.lstsq: Expected input and other to have the same dtype, but got "
            f"input's dtype {scalar_type_name(a)} and other's dtype {scalar_type_name(b)}"
        )
    if kind_of(a.dtype) != "f" or a.dtype in REDUCED:
        raise RuntimeError("This function doesn't handle types other than float and double")
    vector = b.ndim == a.ndim - 1
    bm = b[..., None] if vector else b
    if bm.shape[-2] != a.shape[-2]:
        raise RuntimeError(
            f"torch.linalg.lstsq: input.size(-2) should match other.size({-1 if vector else -2})"
        )
    drivers = ("gels", "gelsy", "gelsd", "gelss")
    driver = "gelsy" if driver is None else driver
    if driver not in drivers:
        raise RuntimeError(
            "torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)"
        )
    ba, bb = a.shape[:-2], bm.shape[:-2]
    for i in range(1, min(len(ba), len(bb)) + 1):
        if ba[-i] != bb[-i] and 1 not in (ba[-i], bb[-i]):
            raise RuntimeError(
                f"The size of tensor a ({ba[-i]}) must match the size of tensor b ({bb[-i]}) at "
                f"non-singleton dimension {max(len(ba), len(bb)) - i}"
            )
    m, n = a.shape[-2:]
    batch = np.broadcast_shapes(a.shape[:-2], bm.shape[:-2])
    af = np.broadcast_to(a, batch + a.shape[-2:]).reshape(-1, m, n)
    bf = np.broadcast_to(bm, batch + bm.shape[-2:]).reshape(-1, m, bm.shape[-1])
    cut = np.finfo(a.dtype).eps * max(m, n) if rcond is None else rcond
    X = np.zeros((len(af), n, bm.shape[-1]), a.dtype)
    ranks = np.zeros(len(af), np.int64)
    svals = np.zeros((len(af), min(m, n)), a.dtype)
    for i in range(len(af)):
        x, _, r, sv = np.linalg.lstsq(af[i], bf[i], rcond=cut)
        X[i], ranks[i], svals[i] = x, r, sv
    X = X.reshape(batch + (n, bm.shape[-1]))
    full = bool((ranks == min(m, n)).all()) if driver != "gels" else True
    if m > n and driver != "gelsy" and full:
        res = ((np.broadcast_to(a, batch + (m, n)) @ X - bm) ** 2).sum(-2).astype(a.dtype)
    else:
        res = np.zeros((0,), a.dtype)
    if vector:
        X = X[..., 0]
    parts = (X, res)
    sol = LstsqSolution.apply(A, B, values=parts, vector=vector)
    resid = LstsqResiduals.apply(A, B, values=parts, vector=vector)
    if resid.grad_fn is not None:  # what it reads of the solution: its values, and version
        resid.grad_fn.solution = X
        vc = version_counter(sol)
        resid.grad_fn.solution_version = (vc, vc[0])
    rank = ranks.reshape(batch) if driver != "gels" else np.zeros((0,), np.int64)
    sv = svals.reshape(batch + (min(m, n),)) if driver in ("gelsd", "gelss") else None
    return _lstsq_type(
        sol, resid, _make(rank), _make(sv if sv is not None else np.zeros((0,), a.dtype))
    )


# --------------------------------------------------------------------------- the _ex variants

_cholesky_ex_type = _return_type("linalg_cholesky_ex", ["L", "info"])
_inv_ex_type = _return_type("linalg_inv_ex", ["inverse", "info"])
_solve_ex_type = _return_type("linalg_solve_ex", ["result", "info"])


def _check_info(info: np.ndarray, message: Any) -> None:
    """``check_errors``: raise for the first matrix whose info is not 0 (``message(i, k)``
    of its batch index, or None unbatched, and its info)."""
    bad = np.flatnonzero(info)
    if bad.size:
        i = int(bad[0])
        where = f"(Batch element {i}): " if info.ndim else ""
        raise LinAlgError(message(where, int(info.reshape(-1)[i])))


def _chol_info(a: np.ndarray) -> int:
    try:
        np.linalg.cholesky(a)
        return 0
    except np.linalg.LinAlgError:
        return _leading_minor(a)


def _lu_info(a: np.ndarray) -> int:
    try:
        np.linalg.inv(a)
        return 0
    except np.linalg.LinAlgError:
        return _zero_pivot(a)


@op(namespace="linalg", method=False)
@autocast_policy("fp32")
def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False) -> Any:
    """``(L, info)``: ``linalg.cholesky`` without raising for a matrix that is not
    positive-definite (unless ``check_errors``); ``info`` (int32, one per matrix) is 0, or
    the order of the first leading minor that is not positive-definite."""
    _square("cholesky", A)
    _no_reduced(A, "cholesky_cpu", kernel=True)
    info = _info(A._data, _chol_info)
    if check_errors:
        _check_info(
            info,
            lambda where, k: (
                f"linalg.cholesky_ex: {where}The factorization could not be completed because "
                f"the input is not positive-definite (the leading minor of order {k} is not "
                "positive-definite)."
            ),
        )
    return _cholesky_ex_type(Cholesky.apply(A, upper=upper, ex=True), _make(info))


@op(namespace="linalg", method=False)
@autocast_policy("fp32")
def inv_ex(A: Tensor, *, check_errors: bool = False) -> Any:
    """``(inverse, info)``: ``linalg.inv`` without raising for a singular matrix (unless
    ``check_errors``); ``info`` (int32, one per matrix) is 0, or the 1-based index of the
    first zero pivot of its LU factorization (the singular matrices' inverses are nan)."""
    _square("inv", A)
    _no_reduced(A, "linalg.inv")
    info = _info(A._data, _lu_info)
    if check_errors:
        _check_info(
            info,
            lambda where, k: (
                f"linalg.inv_ex: {where}The diagonal element {k} is zero, the inversion could "
                "not be completed because the input matrix is singular."
            ),
        )
    return _inv_ex_type(Inv.apply(A, ex=True), _make(info))


@op(namespace="linalg", method=False)
@autocast_policy("fp32")
def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False) -> Any:
    """``(result, info)``: ``linalg.solve`` without raising for a singular ``A`` (unless
    ``check_errors``); ``info`` (int32, one per matrix of A) is 0, or the 1-based index of
    the first zero pivot of its LU factorization (the singular systems' results are nan)."""
    X = _solve(A, B, left, ex=True)
    info = _info(A._data, _lu_info)  # (torch factors A itself when not left, as here)
    if check_errors:
        _check_info(
            info,
            lambda where, k: (
                f"torch.linalg.solve_ex: {where}The solver failed because the input matrix is "
                "singular."
            ),
        )
    return _solve_ex_type(X, _make(info))


# --------------------------------------------------------------------------- triangular_solve


class TriangularSolve(Op):
    """``torch.triangular_solve``'s solution: X with T X = b (Tᵀ X = b if ``transpose``), T
    A's triangle; torch's rule: db = the solve with the other transposition, and dA =
    -db Xᵀ (-X dbᵀ if ``transpose``) kept to A's triangle."""

    formula = "X = T⁻¹b: db = T⁻ᵀ g, dA = tri(-db Xᵀ)"
    elementwise = True  # batch dims of b and A broadcast
    saved_for = ((0, 1, "result"), (0, 1, "result"))  # (torch's: b, A and X)
    torch_name = "TriangularSolveBackward0"

    def forward(self, B, A, upper, transpose, unitriangular):
        self.upper, self.transpose, self.unitriangular = upper, transpose, unitriangular
        T = np.triu(A) if upper else np.tril(A)
        if unitriangular:
            idx = np.arange(T.shape[-1])
            T = T.copy()
            T[..., idx, idx] = 1
        if transpose:
            T = np.swapaxes(T, -1, -2)
        with np.errstate(all="ignore"):
            try:
                return np.linalg.solve(T, B)
            except np.linalg.LinAlgError:  # a zero on the diagonal: nan (torch's: inf/nan)
                shape = np.broadcast_shapes(T.shape[:-2], B.shape[:-2]) + B.shape[-2:]
                return np.full(shape, np.nan, np.result_type(B, A))

    def backward(self, g):
        _, A = self.inputs
        gB = TriangularSolve.apply(
            g,
            A,
            upper=self.upper,
            transpose=not self.transpose,
            unitriangular=self.unitriangular,
        )
        gA = None
        if self.needs(1):
            X = self.output
            gA = -(X @ gB.mT) if self.transpose else -(gB @ X.mT)
            unit = int(self.unitriangular)
            gA = gA.triu(unit) if self.upper else gA.tril(-unit)
        return gB if self.needs(0) else None, gA


class TriangularSolveCoefficient(Op):
    """``torch.triangular_solve``'s ``cloned_coefficient``: A, broadcast to the batch, copied
    (torch's same node: its gradient goes to A as it is)."""

    save_inputs = False
    elementwise = True  # the gradient is summed back over the broadcast batch dims
    torch_name = "TriangularSolveBackward0"

    def forward(self, A, shape):
        return np.broadcast_to(A, shape).copy()

    def backward(self, g):
        return g


_triangular_solve_type = _return_type("triangular_solve", ["solution", "cloned_coefficient"])
_triangular_solve_warned = [False]


@op
@autocast_policy("fp32")
def triangular_solve(
    input: Tensor,
    A: Tensor,
    upper: bool = True,
    transpose: bool = False,
    unitriangular: bool = False,
) -> Any:
    """``(solution, cloned_coefficient)``: X with ``T X = input`` (``Tᵀ X = input`` if
    ``transpose``), T the ``upper`` (or lower) triangle of ``A``, ones on its diagonal if
    ``unitriangular``; and a copy of A broadcast to the batch (deprecated for
    ``linalg.solve_triangular``: torch's once-per-process warning)."""
    if not _triangular_solve_warned[0]:
        _triangular_solve_warned[0] = True
        warnings.warn(
            "torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangular"
            "and will be removed in a future PyTorch release.\ntorch.linalg.solve_triangular "
            "has its arguments reversed and does not return a copy of one of the inputs.\n"
            "X = torch.triangular_solve(B, A).solution\nshould be replaced with\n"
            "X = torch.linalg.solve_triangular(A, B).",
            UserWarning,
            stacklevel=2,
        )
    b, a = input._data, A._data
    for name, x in (("b", b), ("A", a)):
        if x.ndim < 2:
            raise RuntimeError(
                f"torch.triangular_solve: Expected {name} to have at least 2 dimensions, but "
                f"it has {x.ndim} dimensions instead"
            )
    _square_system("triangular_solve", a, b)
    if b.dtype != a.dtype:
        raise RuntimeError(
            "Expected b and A to have the same dtype, but found b of type "
            f"{scalar_type_name(b)} and A of type {scalar_type_name(a)} instead."
        )
    bb, ba = b.shape[:-2], a.shape[:-2]
    for i in range(1, min(len(bb), len(ba)) + 1):
        if bb[-i] != ba[-i] and 1 not in (bb[-i], ba[-i]):
            raise RuntimeError(
                f"The size of tensor a ({bb[-i]}) must match the size of tensor b ({ba[-i]}) at "
                f"non-singleton dimension {max(len(bb), len(ba)) - i}"
            )
    _kernel_dtype(input, "triangular_solve_cpu")
    X = TriangularSolve.apply(
        input, A, upper=bool(upper), transpose=bool(transpose), unitriangular=bool(unitriangular)
    )
    M = TriangularSolveCoefficient.apply(A, shape=np.broadcast_shapes(bb, ba) + a.shape[-2:])
    return _triangular_solve_type(X, M)
