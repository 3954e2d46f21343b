"""Products: matmul (``@``), mm, bmm, mv, dot, vdot, outer, einsum, trace and diagonal.

``matmul`` is one primitive for every shape case: the forward is a single ``K.matmul``
(NumPy's matmul; a large stack split over the native kernels' threads) and each input's
gradient is a single matmul (or a broadcast product for vector cases); gradients over
broadcast batch dims are summed back by the op base (``elementwise``).
Its grad_fn is named as torch's would be for that shape case (MmBackward0, DotBackward0 ...).
"""

from __future__ import annotations

import numpy as np

from chainrule._registry import op, tensor_method
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule.amp.autocast_mode import autocast_policy
from chainrule.backend import K
from chainrule.creation import eye
from chainrule.dtypes import c_type_name, kind_of, scalar_type_name
from chainrule.ops.op import Op, plain_rule, plain_view


class Matmul(Op):
    """``a @ b`` with NumPy's (= torch's) shape rules."""

    formula = "d(A @ B) = g @ Bᵀ, Aᵀ @ g"
    elementwise = True  # gradients summed back over broadcast batch dims
    saved_for = ((1,), (0,))  # B for A's gradient, A for B's (torch's mm)

    def forward(self, a, b):
        self.na, self.nb, self.a_shape = a.ndim, b.ndim, a.shape
        # mm's backward makes a column-major operand's gradient column-major: which are
        self.col_major = _col_major(a) if a.ndim == 2 else False, b.ndim == 2 and _col_major(b)
        return K.matmul(a, b)

    def name(self):
        na, nb = self.na, self.nb
        if na <= 2 and nb <= 2:
            return {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (1, 2): "SqueezeBackward4",
                    (2, 2): "MmBackward0"}[(na, nb)]  # fmt: skip
        return "CloneBackward0" if na == 2 else "UnsafeViewBackward0"

    def _run_unwanted(self, retain_graph):
        """``backward(inputs=[out])`` runs only ``out``'s node: but for dot, mv and mm,
        torch's is the view or clone its composite ends with, which saved nothing (its mm
        node, with the saved operands, is not run, checked or freed)."""
        if self.name() in ("DotBackward0", "MvBackward0", "MmBackward0"):
            super()._run_unwanted(retain_graph)

    def backward(self, g):
        """torch's matmul is a composite: dot, mv, mm, ``a`` folded to 2-d for mm/mv, or
        bmm of the broadcast batches. Its gradients are laid out as that composite's: an
        input it reshaped or viewed gets a view of the product (made with grad mode off in
        a plain backward, as torch's), a column-major mm operand a column-major one."""
        a, b = self.inputs
        na, nb = self.na, self.nb
        ga = gb = None
        if nb == 1:
            if na == 1:  # dot: g is 0-d
                return g * b if self.needs(0) else None, g * a if self.needs(1) else None
            g2 = g if na == 2 else g.reshape(-1)  # (..., m, k) @ (k,): folded to mv
            if self.needs(0):  # the outer product g ⊗ b
                ga = g2.unsqueeze(-1) * b
                ga = ga if na == 2 else ga.reshape(self.a_shape)
            if self.needs(1):
                gb = (a if na == 2 else a.reshape(-1, self.a_shape[-1])).mT @ g2
            return ga, gb
        if nb == 2 and na != 2:  # (k,) @ (k, n): as (1, k); (..., m, k) @ (k, n): folded
            a2 = None if a is None else a.reshape(-1, self.a_shape[-1])
            ga, gb = self._mm_grads(a2, b, g.reshape(-1, g._data.shape[-1]))
            return None if ga is None else ga.reshape(self.a_shape), gb
        if na == 2 and nb == 2:
            return self._mm_grads(a, b, g)
        if na == 1:  # (k,) @ (..., k, n)
            if self.needs(0):
                ga = (b @ g.unsqueeze(-1)).squeeze(-1)
            if self.needs(1):
                gb = a.unsqueeze(-1) * g.unsqueeze(-2)
            return ga, gb
        if plain_rule() and g._data.dtype == (a if b is None else b)._data.dtype:
            return self._bmm_grads_plain(a, b, g._data)
        if self.needs(0):  # bmm of the batches: the gradients are viewed back (summed
            ga = g @ b.mT  # over broadcast batch dims by the base class)
            ga = ga.view(ga._data.shape) if na > 2 else ga
        if self.needs(1):
            gb = a.mT @ g
            gb = gb.view(gb._data.shape)
        return ga, gb

    def _bmm_grads_plain(self, a: Tensor, b: Tensor, gd: np.ndarray) -> tuple:
        """The batched case's rule in a plain backward: the kernels and views the ops above
        run (Matmul's forward: K.matmul, contiguous; View: a view of the product), on
        arrays, without their dispatch."""
        ga = gb = None
        if self.needs(0):
            p = np.ascontiguousarray(K.matmul(gd, np.swapaxes(b._data, -1, -2)))
            ga = plain_view(_make(p), p.reshape(p.shape)) if self.na > 2 else _make(p)
        if self.needs(1):
            p = np.ascontiguousarray(K.matmul(np.swapaxes(a._data, -1, -2), gd))
            gb = plain_view(_make(p), p.reshape(p.shape))
        return ga, gb

    def _mm_grads(self, a: Tensor, b: Tensor, g: Tensor) -> tuple:
        """torch's mm rules: ``g Bᵀ`` and ``Aᵀ g``, made column-major (the transpose of the
        transposed product) for an operand that was column-major."""
        a_cm, b_cm = self.col_major
        ga = gb = None
        if self.needs(0):
            ga = (b @ g.mT).mT if a_cm else g @ b.mT
        if self.needs(1):
            gb = (g.mT @ a).mT if b_cm else a.mT @ g
        return ga, gb


def _col_major(a: np.ndarray) -> bool:
    """torch's test in mm's backward: strides (1, rows), in elements."""
    return a.strides[0] == a.itemsize and a.strides[1] == a.shape[0] * a.itemsize


class Bmm(Matmul):
    torch_name = "BmmBackward0"

    def name(self):
        return "BmmBackward0"


def _check_dtypes(a: Tensor, b: Tensor) -> None:
    if a._data.dtype != b._data.dtype:
        x, y = a._data.dtype, b._data.dtype
        if a._data.ndim == 1 and b._data.ndim == 1:
            raise RuntimeError(
                "dot : expected both vectors to have same dtype, but found "
                f"{scalar_type_name(x)} and {scalar_type_name(y)}"
            )
        if a._data.ndim == 2 and b._data.ndim == 1:
            raise RuntimeError(
                "addmv input tensors must have the same dtype, but got "
                f"{scalar_type_name(y)}, {scalar_type_name(x)}, and {scalar_type_name(y)}"
            )
        raise RuntimeError(
            "expected m1 and m2 to have the same dtype, but got: "
            f"{c_type_name(x)} != {c_type_name(y)}"
        )


def _mm_error(s1: tuple, s2: tuple) -> RuntimeError:
    return RuntimeError(
        f"mat1 and mat2 shapes cannot be multiplied ({s1[0]}x{s1[1]} and {s2[0]}x{s2[1]})"
    )


def _mv_error(s1: tuple, n: int) -> RuntimeError:
    return RuntimeError(f"size mismatch, got input ({s1[0]}), mat ({s1[0]}x{s1[1]}), vec ({n})")


def _dot_error(n1: int, n2: int) -> RuntimeError:
    return RuntimeError(
        f"inconsistent tensor size, expected tensor [{n1}] and src [{n2}] to have the same "
        f"number of elements, but got {n1} and {n2} elements respectively"
    )


def _folds(a: np.ndarray, b: np.ndarray, requires_grad: bool) -> bool:
    """torch's ``should_fold``: does matmul fold the larger operand's batch into an mm?"""
    big, small = (a, b.ndim) if a.ndim >= b.ndim else (np.swapaxes(b, -1, -2), a.ndim)
    if not (big.ndim >= 3 and small <= 2):
        return False
    if requires_grad:
        return True
    if a.ndim == 2:
        return False
    if big.size == 0:
        return True
    st, sh = big.strides, big.shape
    return all(st[i] == st[i + 1] * sh[i + 1] for i in range(big.ndim - 2))


def _matmul_error(a: Tensor, b: Tensor) -> RuntimeError:
    """The message torch gives for incompatible matmul shapes (it depends on torch's path)."""
    x, y = a._data, b._data
    na, nb = x.ndim, y.ndim
    if na == 1 and nb == 1:
        return _dot_error(x.shape[0], y.shape[0])
    if na == 2 and nb == 1:
        return _mv_error(x.shape, y.shape[0])
    if na == 1 and nb == 2:
        return _mm_error((1, x.shape[0]), y.shape)
    if na == 2 and nb == 2:
        return _mm_error(x.shape, y.shape)
    if _folds(x, y, a._requires_grad or b._requires_grad):
        if nb > na:  # torch computes (b.mT @ a.mT).mT
            t1, t2 = np.swapaxes(y, -1, -2), x.T if na == 2 else x
        else:
            t1, t2 = x, y
        rows = int(np.prod(t1.shape[:-1]))
        if t2.ndim == 2:
            return _mm_error((rows, t1.shape[-1]), t2.shape)
        return _mv_error((rows, t1.shape[-1]), t2.shape[0])
    m1 = x.shape[-1]
    m2 = y.shape[-2] if nb > 1 else y.shape[0]
    batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2])  # torch's error if incompatible
    n = int(np.prod(batch))
    return RuntimeError(
        f"Expected size for first two dimensions of batch2 tensor to be: [{n}, {m1}] "
        f"but got: [{n}, {m2}]."
    )


def _batch_broadcast_error(a: Tensor, b: Tensor) -> RuntimeError | None:
    x, y = a._data.shape[:-2], b._data.shape[:-2]
    for i in range(1, min(len(x), len(y)) + 1):
        if x[-i] != y[-i] and x[-i] != 1 and y[-i] != 1:
            d = max(len(x), len(y)) - i
            return RuntimeError(
                f"The size of tensor a ({x[-i]}) must match the size of tensor b ({y[-i]}) "
                f"at non-singleton dimension {d}"
            )
    return None


@op(namespace=("", "linalg"))
@autocast_policy("lower_precision_fp")
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with broadcasting: dot, mv, mm and batched cases as torch.matmul."""
    for i, (name, x) in enumerate((("input", input), ("other", other))):
        if not isinstance(x, Tensor):
            raise TypeError(
                f"matmul(): argument '{name}' (position {i + 1}) must be Tensor, not "
                f"{type(x).__name__}"
            )
    if input._data.dtype != other._data.dtype:
        _check_dtypes(input, other)
    try:
        return Matmul.apply(input, other)
    except ValueError:
        if not input._data.ndim or not other._data.ndim:
            raise RuntimeError(
                "both arguments to matmul need to be at least 1D, but they are "
                f"{input._data.ndim}D and {other._data.ndim}D"
            ) from None
        err = _batch_broadcast_error(input, other) or _matmul_error(input, other)
        raise err from None


@tensor_method(name="__matmul__")
def _matmul_op(self: Tensor, other: Tensor) -> Tensor:
    return matmul(self, other) if isinstance(other, Tensor) else NotImplemented


@tensor_method(name="__rmatmul__")
def _rmatmul(self: Tensor, other: Tensor) -> Tensor:
    return matmul(other, self) if isinstance(other, Tensor) else NotImplemented


@op
@autocast_policy("lower_precision_fp")
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Product of two matrices."""
    if input._data.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2._data.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if input._data.shape[1] != mat2._data.shape[0]:
        raise _mm_error(input._data.shape, mat2._data.shape)
    if input._data.dtype != mat2._data.dtype:
        _check_dtypes(input, mat2)
    return Matmul.apply(input, mat2)


@op
@autocast_policy("lower_precision_fp")
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched product of two 3-d tensors with the same batch size (no broadcasting)."""
    if input._data.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2._data.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    (b, _, k), (b2, k2, _) = input._data.shape, mat2._data.shape
    if (b, k) != (b2, k2):
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {k}] "
            f"but got: [{b2}, {k2}]."
        )
    if input._data.dtype != mat2._data.dtype:
        _check_dtypes(input, mat2)
    return Bmm.apply(input, mat2)


@op
@autocast_policy("off")
def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix-vector product."""
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(
            f"vector + matrix @ vector expected, got 1, {input._data.ndim}, {vec._data.ndim}"
        )
    if input._data.shape[1] != vec._data.shape[0]:
        raise _mv_error(input._data.shape, vec._data.shape[0])
    if input._data.dtype != vec._data.dtype:
        _check_dtypes(input, vec)
    return Matmul.apply(input, vec)


@op
@autocast_policy("off")
def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """Inner product of two 1-d tensors (a 0-d result)."""
    _check_vectors(input, tensor)
    return Matmul.apply(input, tensor)


def _check_vectors(input: Tensor, other: Tensor) -> None:
    """dot's and vdot's checks (torch's order and messages): both 1-d, of one length and
    one dtype."""
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {input._data.ndim}D and {other._data.ndim}D tensors"
        )
    if input._data.shape != other._data.shape:
        raise _dot_error(input._data.shape[0], other._data.shape[0])
    if input._data.dtype != other._data.dtype:
        _check_dtypes(input, other)


class Vdot(Op):
    """``sum(conj(a) * b)`` of two vectors (a 0-d result); vjp: ``conj(g) b``, ``g a``."""

    formula = "d vdot(a, b) = conj(g) * b, g * a"
    torch_name = "VdotBackward0"
    saved_for = ((1,), (0,))  # torch's: other for self's gradient, self for other's

    def forward(self, a, b):
        return np.asarray(np.vdot(a, b), dtype=np.result_type(a, b))

    def backward(self, g):
        a, b = self.inputs
        ga = g.conj() * b if self.needs(0) else None
        gb = g * a if self.needs(1) else None
        return ga, gb


@op
@autocast_policy("off")
def vdot(input: Tensor, other: Tensor) -> Tensor:
    """The inner product of two 1-d tensors, the first conjugated (a 0-d result)."""
    _check_vectors(input, other)
    if input._data.dtype == np.bool_:
        raise NotImplementedError("\"dot\" not implemented for 'Bool'")
    return Vdot.apply(input, other)


@op(aliases=("ger",))
@autocast_policy("off")
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two 1-d tensors (torch's composition: a column times a row); alias
    ``ger``."""
    for name, v in (("self", input), ("vec2", vec2)):
        if v._data.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v._data.ndim}-D")
    return input.reshape(-1, 1) * vec2


# --------------------------------------------------------------------------- trace, diagonal


class Trace(Op):
    formula = "d trace(A) = g * I"
    save_inputs = False

    def forward(self, x):
        self.shape = x.shape
        return np.trace(x, dtype=np.int64 if kind_of(x.dtype) in "iub" else None)

    def backward(self, g):
        n, m = self.shape
        return g * eye(n, m, dtype=g.dtype)


@op
@autocast_policy("fp32")
def trace(input: Tensor) -> Tensor:
    """Sum of the main diagonal of a matrix."""
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    return Trace.apply(input)


class Diagonal(Op):
    """A view of the diagonal (``offset``) of the plane ``dim1, dim2``, moved last."""

    fp_quiet = True  # (see Op.fp_quiet)

    layout = None  # a view

    save_inputs = False

    def forward(self, x, offset, d1, d2):
        self.shape, self.offset, self.d1, self.d2 = x.shape, offset, d1, d2
        return x.diagonal(offset, d1, d2)  # read-only: Op.apply makes it writable (torch)

    def backward(self, g):
        return DiagonalAdjoint.apply(
            g, shape=self.shape, offset=self.offset, d1=self.d1, d2=self.d2
        )


class DiagonalAdjoint(Op):
    """The gradient of ``diagonal``: zeros with the diagonal filled in."""

    save_inputs = False
    torch_name = "DiagonalBackwardBackward0"

    def forward(self, g, shape, offset, d1, d2):
        self.offset, self.d1, self.d2 = offset, d1, d2
        out = np.zeros(shape, g.dtype)
        d = np.diagonal(out, offset, d1, d2)
        d.flags.writeable = True
        d[...] = g
        return out

    def backward(self, gg):
        return Diagonal.apply(gg, offset=self.offset, d1=self.d1, d2=self.d2)


class DiagEmbed(DiagonalAdjoint):
    """``diag_embed``: zeros with the input's last dim laid on a diagonal; the adjoint of
    ``diagonal`` (its gradient is the diagonal, a view, as torch's)."""

    torch_name = "DiagEmbedBackward0"


class DiagonalCopy(Op):
    """``diag`` of a matrix: its diagonal ``offset`` as a new tensor (torch's diagonal_copy)."""

    save_inputs = False
    torch_name = "DiagonalBackward0_copy"

    def forward(self, x, offset):
        self.shape, self.offset = x.shape, offset
        return np.diagonal(x, offset).copy()

    def backward(self, g):
        return DiagonalAdjoint.apply(g, shape=self.shape, offset=self.offset, d1=0, d2=1)


@op
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """A tensor with one more dim whose ``dim1, dim2`` planes hold ``input``'s last dim on
    their diagonal ``offset``, zeros elsewhere (the inverse of ``diagonal``)."""
    shape = input._data.shape
    n = len(shape) + 1
    d1, d2 = wrap_dim(dim1, n), wrap_dim(dim2, n)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    offset = int(offset)
    size = shape[-1] + abs(offset)  # (a 0-d input has no two distinct dims: raised above)
    out = list(shape[:-1])
    lo, hi = sorted((d1, d2))
    out.insert(lo, size)
    out.insert(hi, size)
    return DiagEmbed.apply(input, shape=tuple(out), offset=offset, d1=d1, d2=d2)


@op
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D ``input`` laid on the diagonal ``diagonal`` of a square matrix, or a matrix's
    diagonal ``diagonal`` as a new 1-D tensor."""
    ndim = input._data.ndim
    if ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if ndim != 2:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {ndim}D")
    return DiagonalCopy.apply(input, offset=int(diagonal))


@op
def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """``input`` flattened and laid on the diagonal ``offset`` of a square matrix."""
    return diag_embed(input.reshape(-1), offset, 0, 1)


@op
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal ``offset`` (above the main one if positive) of the ``dim1, dim2`` planes."""
    n = input._data.ndim
    d1, d2 = wrap_dim(dim1, n), wrap_dim(dim2, n)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, offset=int(offset), d1=d1, d2=d2)
