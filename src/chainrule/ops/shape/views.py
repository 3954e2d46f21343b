"""Views: reshape/view, flatten, squeeze/unsqueeze, transpose/permute/t and the T/mT properties.

Results are NumPy views of the input wherever NumPy allows (as torch's are views), so they
share memory with their base. ``view`` raises torch's error when the shape change would
need a copy (NumPy's no-copy reshape follows the same stride rule as torch's).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule._registry import op, tensor_method
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule.ops.index.core import BasicIndex
from chainrule.ops.op import Op, complex_conj, plain_rule, plain_view


def shape_arg(shape: tuple, keyword: Any = None) -> tuple:
    """``f(2, 3)``, ``f((2, 3))`` or, as torch also accepts, ``f(dims=(2, 3))`` (``keyword``)
    as a tuple of sizes."""
    if keyword is not None:
        if shape:
            raise TypeError("sizes given both positionally and by keyword")
        return (keyword,) if isinstance(keyword, int | np.integer) else tuple(keyword)
    if len(shape) == 1 and not isinstance(shape[0], int | np.integer):
        return tuple(shape[0])
    return tuple(shape)


def infer_shape(shape: tuple, numel: int) -> tuple:
    """Resolve one -1 in ``shape``; torch's errors for bad shapes."""
    shape = tuple(int(s) for s in shape)
    known, infer = 1, None
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise RuntimeError("only one dimension can be inferred")
            infer = i
        elif s < 0:
            raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape {list(shape)}")
        else:
            known *= s
    if infer is not None:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        return shape[:infer] + (numel // known,) + shape[infer + 1 :]
    if known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _is_view(y: np.ndarray, x: np.ndarray) -> bool:
    return y.base is x or (x.base is not None and y.base is x.base)


# --------------------------------------------------------------------------- reshape, view


class Reshape(Op):
    """Same elements, new shape: ViewBackward0, or UnsafeViewBackward0 when it had to copy."""

    fp_quiet = True  # (see Op.fp_quiet)

    layout = None  # a view, or NumPy's contiguous copy

    formula = "d reshape(a) = g reshaped back"
    save_inputs = False

    def forward(self, x, shape):
        self.in_shape = x.shape
        y = x.reshape(shape)
        self.copied = x.size > 0 and not _is_view(y, x)
        return y

    def name(self):
        return "UnsafeViewBackward0" if self.copied else "ViewBackward0"

    def backward(self, g):
        if plain_rule():  # the reshape on the array, tracked as the op would track it
            out = g._data.reshape(self.in_shape)
            return _make(out) if out.base is None else plain_view(g, out)
        return g.reshape(self.in_shape)


class View(Reshape):
    formula = "d view(a) = g viewed back to a's shape"

    def forward(self, x, shape):
        self.in_shape, self.copied = x.shape, False
        try:
            return x.reshape(shape, copy=False)
        except ValueError:
            infer_shape(shape, x.size)  # a size mismatch: torch's text
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
            ) from None


@op
def reshape(input: Tensor, *args: Any, shape: Any = None) -> Tensor:
    """The same elements in a new shape (a view when the memory layout allows, else a copy)."""
    shape = shape_arg(args, shape)
    try:  # NumPy infers -1 and rejects bad shapes as torch does; torch's text on failure
        return Reshape.apply(input, shape=shape)
    except (ValueError, TypeError):
        return Reshape.apply(input, shape=infer_shape(shape, input._data.size))


@tensor_method
def view(input: Tensor, *args: Any, size: Any = None) -> Tensor:
    """A view with a new shape; torch's error when the layout would need a copy."""
    shape = shape_arg(args, size)
    for s in shape:
        if type(s) is not int or s < -1:
            shape = infer_shape(shape, input._data.size)
            break
    if -1 in shape:
        shape = infer_shape(shape, input._data.size)
    return View.apply(input, shape=shape)


@tensor_method
def view_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.view(other.shape)``: a view with ``other``'s shape (no copy)."""
    return view(input, other._data.shape)


@tensor_method
def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.reshape(other.shape)``: ``other``'s shape, a view when possible."""
    return reshape(input, other._data.shape)


@op
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one (a 0-d tensor becomes 1-d)."""
    shape = input._data.shape
    n = len(shape)
    if not n:
        return Reshape.apply(input, shape=(1,))
    s = start_dim + n if start_dim < 0 else start_dim
    e = end_dim + n if end_dim < 0 else end_dim
    if not (0 <= s < n and 0 <= e < n):
        s, e = wrap_dim(start_dim, n), wrap_dim(end_dim, n)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    return Reshape.apply(input, shape=shape[:s] + (-1,) + shape[e + 1 :])


@op
def unflatten(input: Tensor, dim: int, sizes: Any) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one -1 may be inferred)."""
    shape = input._data.shape
    d = wrap_dim(dim, len(shape))
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if -1 in sizes:
        sizes = infer_shape(sizes, shape[d])
    elif int(np.prod(sizes)) != shape[d]:
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim "
            f"{d} ({shape[d]}) in the input tensor"
        )
    return view(input, shape[:d] + sizes + shape[d + 1 :])


# --------------------------------------------------------------------------- squeeze


class Unfold(Op):
    """Windows of ``size`` elements every ``step`` along ``dim``, the window a new last dim:
    a strided view of the input (its windows share elements when ``step < size``)."""

    fp_quiet = True  # (see Op.fp_quiet)
    layout = None  # a view
    formula = "d unfold(a) = each window's g added back where the window was read"
    save_inputs = False

    def forward(self, x, dim, size, step):
        self.in_shape, self.dim, self.size, self.step = x.shape, dim, size, step
        return _windows(x, dim, size, step)

    def backward(self, g):
        return UnfoldAdjoint.apply(
            g, shape=self.in_shape, dim=self.dim, size=self.size, step=self.step
        )


class UnfoldAdjoint(Op):
    """The gradient of ``unfold``: zeros with each window's values added where it was read."""

    save_inputs = False
    torch_name = "UnfoldBackwardBackward0"

    def forward(self, g, shape, dim, size, step):
        self.dim, self.size, self.step = dim, size, step
        out = np.zeros(shape, g.dtype)
        windows = _windows(out, dim, size, step, writeable=True)
        for k in range(size):  # the k-th element of every window: never one element twice
            np.add(windows[..., k], g[..., k], out=windows[..., k])
        return out

    def backward(self, gg):
        return Unfold.apply(gg, dim=self.dim, size=self.size, step=self.step)


def _windows(x: np.ndarray, dim: int, size: int, step: int, writeable: bool = False) -> np.ndarray:
    """The strided view ``unfold`` returns, read-only (Op.apply makes it writable unless
    its windows overlap); a 0-d ``x`` reads as one element: ``size`` of it, no windows dim."""
    if x.ndim == 0:
        return x.reshape(1)[:size]
    n = (x.shape[dim] - size) // step + 1
    shape = (*x.shape[:dim], n, *x.shape[dim + 1 :], size)
    st = x.strides
    strides = (*st[:dim], st[dim] * step, *st[dim + 1 :], st[dim])
    return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=writeable)


@tensor_method
def unfold(self: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """The windows of ``size`` elements every ``step`` along ``dimension``, the window a new
    last dim (a view). Writing in place through windows that overlap is refused (torch
    applies the op once per window element, in its loop's order)."""
    x = self._data
    dim = wrap_dim(dimension, x.ndim)
    length = x.shape[dim] if x.ndim else 1
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if size > length:
        raise RuntimeError(
            f"maximum size for tensor at dimension {dim} is {length} but size is {size}"
        )
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return Unfold.apply(self, dim=dim, size=int(size), step=int(step))


class Squeeze(Op):
    """Drop size-1 dims: SqueezeBackward0 (all), 1 (one dim), 2 (a tuple of dims); in
    place (``squeeze_``) torch numbers them on, 3 to 5."""

    fp_quiet = True  # (see Op.fp_quiet)

    layout = None  # a view

    formula = "d squeeze(a) = g reshaped back"
    save_inputs = False
    overloads = 3

    def forward(self, x, axes, version):
        self.in_shape, self.torch_name = x.shape, f"SqueezeBackward{version}"
        return x.squeeze(axes) if axes else x.view()  # NumPy returns x itself: a new view

    def backward(self, g):  # torch's unsqueeze_to: g itself when no dim was removed
        return g if g._data.shape == self.in_shape else g.reshape(self.in_shape)


@op(inplace="view")
def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Remove dims of size 1 (all of them, or those in ``dim`` that have size 1)."""
    shape = input._data.shape
    if dim is None:
        axes, version = tuple(i for i, s in enumerate(shape) if s == 1), 0
    else:
        if isinstance(dim, int | np.integer):
            ds, version = (wrap_dim(int(dim), len(shape)),), 1
        else:
            ds, version = tuple(wrap_dim(int(d), len(shape)) for d in dim), 2
            if len(set(ds)) != len(ds):
                dup = next(d for d in ds if ds.count(d) > 1)
                raise RuntimeError(f"dim {dup} appears multiple times in the list of dims")
        axes = tuple(d for d in ds if shape and shape[d] == 1)
    return Squeeze.apply(input, axes=axes, version=version)


class Unsqueeze(Op):
    fp_quiet = True  # (see Op.fp_quiet)
    layout = None  # a view
    formula = "d unsqueeze(a, dim) = g squeezed at dim"
    save_inputs = False

    def forward(self, x, axis):
        self.axis = axis
        return x[(slice(None),) * axis + (None,)]

    def backward(self, g):
        return g.squeeze(self.axis)


@op(inplace="view")
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dim of size 1 at ``dim`` (in ``[-ndim-1, ndim]``)."""
    n = input._data.ndim + 1
    axis = dim + n if dim < 0 else dim
    if not 0 <= axis < n:
        axis = wrap_dim(dim, n)
    return Unsqueeze.apply(input, axis=axis)


# --------------------------------------------------------------------------- axes


class Transpose(Op):
    fp_quiet = True  # (see Op.fp_quiet)
    layout = None  # a view
    formula = "d aᵀ = gᵀ"
    save_inputs = False

    def forward(self, x, d0, d1):
        self.d0, self.d1 = d0, d1
        return x.swapaxes(d0, d1) if x.ndim else x.view()  # a 0-d tensor: dims 0 and -1

    def backward(self, g):
        if plain_rule():  # the view on the array, tracked as the op would track it
            gd = g._data
            return plain_view(g, gd.swapaxes(self.d0, self.d1) if gd.ndim else gd.view())
        return Transpose.apply(g, d0=self.d0, d1=self.d1)


@op(aliases=("swapdims",), inplace="view")
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (a view)."""
    n = input._data.ndim
    d0 = dim0 + n if dim0 < 0 else dim0
    d1 = dim1 + n if dim1 < 0 else dim1
    if not (0 <= d0 < n and 0 <= d1 < n):
        d0, d1 = wrap_dim(dim0, n), wrap_dim(dim1, n)
    return Transpose.apply(input, d0=d0, d1=d1)


@op(inplace="view")
def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """``transpose`` under NumPy's name (and NumPy's parameter names)."""
    return transpose(input, axis0, axis1)


class TOp(Op):
    fp_quiet = True  # (see Op.fp_quiet)
    layout = None  # a view
    formula = "d a.t() = g.t()"
    save_inputs = False
    torch_name = "TBackward0"

    def forward(self, x):
        return x.T

    def backward(self, g):
        return TOp.apply(g)


@op(inplace="view")
def t(input: Tensor) -> Tensor:
    """Transpose a matrix; 0-d and 1-d tensors come back as they are."""
    if input._data.ndim > 2:
        raise RuntimeError(
            f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D"
        )
    return TOp.apply(input)


class Permute(Op):
    fp_quiet = True  # (see Op.fp_quiet)
    layout = None  # a view
    formula = "d permute(a) = g permuted back"
    save_inputs = False

    def forward(self, x, perm):
        self.perm = perm
        return x.transpose(perm)

    def backward(self, g):
        n = len(self.perm)
        return Permute.apply(g, perm=tuple(np.argsort([p % n for p in self.perm]).tolist()))


@op
def permute(input: Tensor, *args: Any, dims: Any = None) -> Tensor:
    """Reorder the dims: result dim i is input dim ``dims[i]`` (a view)."""
    if not args and dims is None:
        raise TypeError('permute() missing 1 required positional arguments: "dims"')
    dims = shape_arg(args, dims)
    try:  # NumPy checks range, repeats and length; torch's text on failure
        return Permute.apply(input, perm=dims)
    except (ValueError, TypeError):
        pass
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the "
            "length of the desired ordering of dimensions i.e. input.dim() = "
            f"{n} is not equal to len(dims) = {len(dims)}"
        )
    perm = tuple(wrap_dim(int(d), n) for d in dims)
    if len(set(perm)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(input, perm=perm)


@op(aliases=("moveaxis",))
def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """Move dims ``source`` to positions ``destination``; the others keep their order."""
    n = input._data.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({src} dims) should contain "
            f"the same number of dims as destination ({dst} dims)"
        )
    s = [wrap_dim(d, n) for d in src]
    d = [wrap_dim(x, n) for x in dst]
    for what, ds, orig in (("source", s, src), ("destination", d, dst)):
        if len(set(ds)) != len(ds):
            raise RuntimeError(f"movedim: repeated dim in `{what}` ({orig})")
    if n == 0:  # dims 0 and -1 of a 0-d tensor: an alias, as in torch
        return BasicIndex.apply(input, key=(Ellipsis,), tname="AliasBackward0")
    perm = [-1] * n
    for a, b in zip(s, d):
        perm[b] = a
    rest = iter(i for i in range(n) if i not in s)
    perm = tuple(p if p >= 0 else next(rest) for p in perm)
    return Permute.apply(input, perm=perm)


@tensor_method(name="T", property=True)
def _T(self: Tensor) -> Tensor:
    """The dimensions reversed (a view); for a matrix, its transpose."""
    n = self._data.ndim
    return Permute.apply(self, perm=tuple(range(n - 1, -1, -1)))


def _last_two(self: Tensor, what: str) -> Tensor:
    n = self._data.ndim
    if n < 2:
        raise RuntimeError(
            f"{what} is only supported on matrices or batches of matrices. Got {n}-D tensor."
        )
    return Transpose.apply(self, d0=n - 2, d1=n - 1)


def _conjugated(t: Tensor) -> Tensor:
    return t if t._data.dtype.kind != "c" else complex_conj[0](t)


@tensor_method(name="mT", property=True)
def _mT(self: Tensor) -> Tensor:
    """The last two dimensions swapped (a view): a batch of matrices, each transposed."""
    return _last_two(self, "tensor.mT")


@tensor_method(name="mH", property=True)
def _mH(self: Tensor) -> Tensor:
    """The conjugate transpose of the last two dimensions (``mT`` for real tensors, a view;
    for complex ones a copy, where torch's is a view with its conjugate bit set)."""
    return _conjugated(_last_two(self, "tensor.mH"))


@op
def adjoint(input: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims (the transpose, for real tensors)."""
    return _conjugated(_last_two(input, "tensor.adjoint()"))


@tensor_method(name="H", property=True)
def _H(self: Tensor) -> Tensor:
    """The conjugate transpose of a 2-D tensor (``x.T`` for real tensors)."""
    n = self._data.ndim
    if n != 2:
        more = " For batches of matrices, consider using tensor.mH" if n > 2 else ""
        raise RuntimeError(
            f"tensor.H is only supported on matrices (2-D tensors). Got {n}-D tensor.{more}"
        )
    return _conjugated(Transpose.apply(self, d0=0, d1=1))
