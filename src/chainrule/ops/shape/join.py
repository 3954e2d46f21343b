"""Joining, splitting and rearranging: cat, stack, split, repeat, flip, roll, tril, contiguous.

Also here: chunk, unbind, tile, triu, broadcast_to and expand_as. Multi-output ops (split,
chunk, unbind) are one single-output slice node per output (torch records one node with
several outputs; the gradients are the same).
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

import numpy as np

from chainrule import _layout, dtypes
from chainrule._registry import op, tensor_method
from chainrule._tensor import Tensor, version_counter, wrap_dim
from chainrule.amp.autocast_mode import autocast_policy
from chainrule.dtypes import kind_of
from chainrule.graph import grad_mode
from chainrule.ops.broadcast import dims as dims_of
from chainrule.ops.op import Op, expand
from chainrule.ops.shape.slices import slice_dim
from chainrule.ops.shape.views import shape_arg, view


def _promoted(tensors: list) -> list:
    dt = tensors[0]._data.dtype
    for t in tensors:
        if t._data.dtype != dt:
            break
    else:
        return tensors
    dt = dtypes.result_type(*tensors)
    return [t if t._data.dtype == dt else t.to(dtypes.FROM_NP[dt]) for t in tensors]


class Cat(Op):
    formula = "d cat(xs, dim) = g cut back into each input's slice along dim"
    save_inputs = False

    def forward(self, *xs, dim, skip):
        self.dim, self.skip = dim, skip
        self.sizes = [0 if i in skip else x.shape[dim] for i, x in enumerate(xs)]
        if skip:
            xs = [x for i, x in enumerate(xs) if i not in skip]
        return np.concatenate(xs, axis=dim)

    def backward(self, g):
        out, start = [], 0
        for i, n in enumerate(self.sizes):
            if not self.needs(i):
                out.append(None)
            elif i in self.skip:  # a legacy empty 1-d input: an empty gradient
                out.append(g.reshape(-1).narrow(0, 0, 0))
            else:
                out.append(slice_dim(g, self.dim, start, start + n, "SliceBackward0"))
            start += n
        return tuple(out)


_NO_SKIP: frozenset = frozenset()


@op(aliases=("concat", "concatenate"), method=False)
@autocast_policy("promote")
def cat(tensors: Any, dim: int = 0) -> Tensor:
    """Concatenate along ``dim`` (types promoted as torch; 1-d empty tensors are skipped)."""
    if type(tensors) is not list and type(tensors) is not tuple:
        tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    first = tensors[0]._data
    nd = first.ndim
    d = dim + nd if dim < 0 else dim
    if nd and 0 <= d < nd:  # the fast path: NumPy validates, torch's text if it fails
        dt = first.dtype
        for x in tensors:
            if x._data.dtype != dt:
                break
        else:
            try:
                return Cat.apply(*tensors, dim=d, skip=_NO_SKIP)
            except (ValueError, IndexError):  # IndexError: a later tensor has fewer dims
                pass
    return _cat_checked(tensors, dim)


def _cat_checked(tensors: list, dim: int) -> Tensor:
    for i, x in enumerate(tensors):
        if not x._data.ndim:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    skip = frozenset(i for i, x in enumerate(tensors) if x._data.shape == (0,))
    if len(skip) == len(tensors):
        skip = frozenset()
    ref = next(x for i, x in enumerate(tensors) if i not in skip)._data.shape
    d = wrap_dim(dim, len(ref))
    for i, x in enumerate(tensors):
        s = x._data.shape
        if i in skip:
            continue
        if len(s) != len(ref):
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {len(ref)} and {len(s)}"
            )
        for j, (a, b) in enumerate(zip(ref, s)):
            if j != d and a != b:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size {a} "
                    f"but got size {b} for tensor number {i} in the list."
                )
    return Cat.apply(*_promoted(tensors), dim=d, skip=skip)


class Stack(Op):
    formula = "d stack(xs, dim) = g selected at each input's index along dim"
    save_inputs = False

    def forward(self, *xs, dim):
        self.dim = dim
        new = (slice(None),) * dim + (None,)
        return np.concatenate([x[new] for x in xs], axis=dim)

    def backward(self, g):
        return tuple(
            slice_dim(g, self.dim, i, None, "SelectBackward0") if need else None
            for i, need in enumerate(self.needs_input_grad)
        )


@op(method=False)
@autocast_policy("promote")
def stack(tensors: Any, dim: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new dim ``dim``."""
    if type(tensors) is not list and type(tensors) is not tuple:
        tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    ref = tensors[0]._data.shape
    n = len(ref) + 1
    d = dim + n if dim < 0 else dim
    if not 0 <= d < n:
        d = wrap_dim(dim, n)
    for i, x in enumerate(tensors):
        if x._data.shape != ref:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(ref)} at entry 0 "
                f"and {list(x._data.shape)} at entry {i}"
            )
    return Stack.apply(*_promoted(tensors), dim=d)


def _select_dim(input: Tensor, dim: int) -> int:
    if not input._data.ndim:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return wrap_dim(dim, input._data.ndim)


@op(method=False)
def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of listed sizes."""
    if not tensor._data.ndim:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = _select_dim(tensor, dim)
    size = tensor._data.shape[d]
    if isinstance(split_size_or_sections, int | np.integer):
        n = int(split_size_or_sections)
        if n == 0 and size != 0:
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}"
            )
        if n < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={n}")
        sizes = [n] * (size // n) + ([size % n] if size % n else []) if n else [0]
        name = "SplitBackward0"
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != size or any(s < 0 for s in sizes):
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's "
                f"size at dimension {d}), but got split_sizes={sizes}"
            )
        name = "SplitWithSizesBackward0"
    out, start = [], 0
    for n in sizes or [0]:
        out.append(slice_dim(tensor, d, start, start + n, name))
        start += n
    return _multi_output_views(tensor, out)


@op
def split_with_sizes(input: Tensor, split_sizes: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of the listed sizes along ``dim`` (they must sum to its size)."""
    if isinstance(split_sizes, int | np.integer):
        raise TypeError(
            "split_with_sizes(): argument 'split_sizes' (position 1) must be tuple of ints, not int"
        )
    return split(input, list(split_sizes), dim)


@tensor_method(name="split")
def split_method(self: Tensor, split_size: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """``x.split(split_size, dim)``: torch's method names the sizes ``split_size``."""
    return split(self, split_size, dim)


@op
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """At most ``chunks`` pieces of equal size ``ceil(size / chunks)`` (the last smaller)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if not input._data.ndim:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    d = _select_dim(input, dim)
    size = input._data.shape[d]
    if size == 0:  # an empty dim: `chunks` empty pieces (torch)
        return split(input, [0] * chunks, d)
    return split(input, max(-(-size // chunks), 1), d)


@op
def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim``, that dim removed."""
    d = _select_dim(input, dim)
    n = input._data.shape[d]
    return _multi_output_views(
        input, [slice_dim(input, d, i, None, "UnbindBackward0") for i in range(n)]
    )


def _multi_output_views(input: Tensor, views: list[Tensor]) -> tuple[Tensor, ...]:
    """Mark the outputs of a function that returns several views (torch's MULTI_OUTPUT_NODE
    creation meta, given in grad mode): writing one in place, or a view of one, in a graph
    raises (``ops.inplace``), since no single node could rebuild their histories."""
    if grad_mode.enabled:
        for i, v in enumerate(views):
            name = v.grad_fn.name() if v.grad_fn is not None else ""
            v._multi = (i, name, input._requires_grad, version_counter(v)[0])
        nodes = [v.grad_fn for v in views if v.grad_fn is not None]
        if len(nodes) > 1:  # torch's one node for all: see Op._siblings
            group = tuple([weakref.ref(n) for n in nodes])
            for n in nodes:
                n._siblings = group
                n._hooked = True  # (the plain walk's one test: see Op._hooked)
    return tuple(views)


# --------------------------------------------------------------------------- rearrange


class Repeat(Op):
    formula = "d repeat(a) = g's tiles summed back to a's shape"
    save_inputs = False

    def forward(self, x, reps):
        self.orig, self.reps = x.shape, reps
        self.in_shape = (1,) * (len(reps) - x.ndim) + x.shape
        return np.tile(x.reshape(self.in_shape), reps)

    def backward(self, g):
        # g split into (repeat, size) pairs, a new leading dim just (repeat,), and summed
        # over the repeats: a new tensor of the input's shape, as torch's (not a view of
        # one with the leading dims, which would refuse in-place writes needing a gradient)
        lead = len(self.reps) - len(self.orig)
        if not lead and all(r == 1 for r in self.reps):  # nothing to sum: torch's is g itself
            return g
        inter = list(self.reps[:lead])
        for r, s in zip(self.reps[lead:], self.orig):
            inter += (r, s)
        axes = tuple(range(lead)) + tuple(range(lead, len(inter), 2))
        return g.reshape(inter).sum(axes)


@tensor_method
def repeat(input: Tensor, *args: Any, repeats: Any = None) -> Tensor:
    """Tile ``input`` ``repeats[i]`` times along each dim (new leading dims if more sizes)."""
    if not args and repeats is None:
        raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
    reps = tuple(int(s) for s in shape_arg(args, repeats))
    shape = input._data.shape
    if len(reps) < len(shape):
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions "
            "of tensor"
        )
    full = (1,) * (len(reps) - len(shape)) + shape
    out = [r * s for r, s in zip(reps, full)]
    for r in out:
        if r < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {r}: {out}")
    return Repeat.apply(input, reps=reps)


@op
def tile(input: Tensor, *args: Any, dims: Any = None) -> Tensor:
    """``repeat`` with ``dims`` padded by leading ones when shorter than ``input.dim()``."""
    reps = tuple(int(d) for d in shape_arg(args, dims))
    return repeat(input, (1,) * (input._data.ndim - len(reps)) + reps)


class Flip(Op):
    layout = "elementwise"  # torch's flip follows the input's layout
    formula = "d flip(a) = g flipped back"
    save_inputs = False

    def forward(self, x, axes):
        self.axes = axes
        rev = slice(None, None, -1)  # a copy, as torch's flip (never a view of ``x``)
        return x[tuple(rev if i in axes else slice(None) for i in range(x.ndim))].copy()

    def backward(self, g):
        return Flip.apply(g, axes=self.axes)


@op
def flip(input: Tensor, *args: Any, dims: Any = None) -> Tensor:
    """Reverse the order of elements along ``dims``."""
    axes = dims_of(shape_arg(args, dims), input._data.ndim)
    return Flip.apply(input, axes=axes if input._data.ndim else ())


class Rot90(Op):
    formula = "d rot90(a, k) = rot90(g, -k)"
    layout = None  # laid out as torch's: a flip, then a transpose of it
    save_inputs = False

    def forward(self, x, k, dims):
        self.k, self.dims = k, dims
        d0, d1 = dims
        if k == 0:  # a contiguous clone
            return np.array(x, order="C")
        if k == 2:
            return np.flip(x, dims).copy(order="K")
        flipped = np.flip(x, d1 if k == 1 else d0).copy(order="K")
        return np.swapaxes(flipped, d0, d1)

    def backward(self, g):
        return Rot90.apply(g, k=(-self.k) % 4, dims=self.dims)


@op
def rot90(input: Tensor, k: int = 1, dims: Any = (0, 1)) -> Tensor:
    """``input`` rotated by ``k`` quarter turns in the plane of ``dims``, from the first
    dim's direction towards the second's (a copy)."""
    dims = [int(d) for d in dims]
    nd = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if nd < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {nd}")
    axes = (wrap_dim(dims[0], nd), wrap_dim(dims[1], nd))
    if axes[0] == axes[1]:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {dims[0]} and dim1 = {dims[1]}"
        )
    return Rot90.apply(input, k=int(k) % 4, dims=axes)


@op
def diff(
    input: Tensor,
    n: int = 1,
    dim: int = -1,
    prepend: Tensor | None = None,
    append: Tensor | None = None,
) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (``x[1:] - x[:-1]``, n times; ``!=``
    for bools), after joining ``prepend`` and ``append`` on that dim."""
    if input._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    for extra in (prepend, append):
        if extra is not None and extra._data.ndim != input._data.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    d = wrap_dim(dim, input._data.ndim)
    if prepend is not None or append is not None:
        parts = [t for t in (prepend, input, append) if t is not None]
        input = cat(parts, d)
    for _ in range(n):
        length = input._data.shape[d]
        if length == 0:
            break
        later = slice_dim(input, d, 1, length, "SliceBackward0")
        earlier = slice_dim(input, d, 0, length - 1, "SliceBackward0")
        input = later != earlier if input._data.dtype == np.bool_ else later - earlier
    return input


@op
def fliplr(input: Tensor) -> Tensor:
    """``input`` with its columns (dim 1) in reverse order."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return Flip.apply(input, axes=(1,))


@op
def flipud(input: Tensor) -> Tensor:
    """``input`` with its rows (dim 0) in reverse order."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return Flip.apply(input, axes=(0,))


class Roll(Op):
    formula = "d roll(a, k) = g rolled by -k"
    save_inputs = False

    def forward(self, x, shifts, axes):
        self.shifts, self.axes = shifts, axes
        if axes is None:
            return np.roll(x.reshape(-1), shifts).reshape(x.shape)
        return np.roll(x, shifts, axes)

    def backward(self, g):
        return Roll.apply(g, shifts=tuple(-s for s in self.shifts), axes=self.axes)


@op
def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Rotate elements by ``shifts`` along ``dims`` (over the flattened tensor if None)."""
    shifts = (shifts,) if isinstance(shifts, int | np.integer) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return Roll.apply(input, shifts=shifts, axes=None)
    dims = (dims,) if isinstance(dims, int | np.integer) else tuple(dims)
    if not shifts:
        raise RuntimeError("`shifts` required")
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}"
        )
    axes = tuple(_select_dim(input, int(d)) for d in dims)
    return Roll.apply(input, shifts=tuple(int(s) for s in shifts), axes=axes)


@functools.lru_cache(maxsize=64)
def _tri_mask(n: int, m: int, k: int, upper: bool) -> np.ndarray:
    """Which elements of an n x m matrix tril(k) (or triu(k)) keeps."""
    return ~np.tri(n, m, k - 1, dtype=bool) if upper else np.tri(n, m, k, dtype=bool)


class Tril(Op):
    formula = "d tril(a) = tril(g)"
    save_inputs = False
    upper = False

    def forward(self, x, k):
        self.k = k
        mask = _tri_mask(x.shape[-2], x.shape[-1], k, self.upper)
        return np.where(mask, x, np.zeros((), x.dtype))

    def backward(self, g):
        return type(self).apply(g, k=self.k)


class Triu(Tril):
    formula = "d triu(a) = triu(g)"
    upper = True


def _tri(cls: type[Op], name: str, input: Tensor, diagonal: int) -> Tensor:
    if input._data.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    return cls.apply(input, k=int(diagonal))


@op(inplace=True)
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """Lower triangle of the last two dims (below-or-on diagonal ``diagonal``); rest zero."""
    return _tri(Tril, "tril", input, diagonal)


@op(inplace=True)
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """Upper triangle of the last two dims (on-or-above diagonal ``diagonal``); rest zero."""
    return _tri(Triu, "triu", input, diagonal)


# --------------------------------------------------------------------------- broadcasting


@tensor_method
def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.expand(other.shape)``: a broadcast view with ``other``'s shape."""
    return expand(input, other._data.shape)


@op
def broadcast_to(input: Tensor, size: Any) -> Tensor:
    """A view of ``input`` broadcast to ``size`` (no copy); same as ``expand``."""
    return expand(input, tuple(size))


class Contiguous(Op):
    formula = "d contiguous(a) = g"
    save_inputs = False
    torch_name = "CloneBackward0"

    def forward(self, x):
        return np.ascontiguousarray(x)

    def backward(self, g):
        return g


@tensor_method
def contiguous(input: Tensor, memory_format: Any = _layout.contiguous_format) -> Tensor:
    """``input`` itself when contiguous (as torch: size-1 dims do not count), else a
    contiguous copy. channels_last layouts are not supported (NotImplementedError)."""
    _layout.check_format(memory_format, "contiguous()")
    if input._data.flags.c_contiguous:
        return input
    return Contiguous.apply(input)


@op
def ravel(input: Tensor) -> Tensor:
    """``input`` flattened to 1-d: a view when contiguous, else a contiguous copy viewed."""
    return view(contiguous(input), -1)


# The stacking family: each makes its inputs at least n-d, then concatenates (torch's rules).


def _tensors_arg(tensors: Any, name: str) -> list:
    if isinstance(tensors, Tensor):
        raise TypeError(
            f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor"
        )
    return list(tensors)


def _atleast(tensors: tuple, fix: Any) -> Any:
    if len(tensors) == 1 and not isinstance(tensors[0], Tensor):
        tensors = tuple(tensors[0])  # torch.atleast_2d((a, b)): a tuple back
        return tuple(fix(t) for t in tensors)
    out = tuple(fix(t) for t in tensors)
    return out[0] if len(out) == 1 else out


def _1d(t: Tensor) -> Tensor:
    return t.reshape(1) if t._data.ndim == 0 else t


def _2d(t: Tensor) -> Tensor:
    return t.reshape(1, -1) if t._data.ndim < 2 else t


def _3d(t: Tensor) -> Tensor:
    nd = t._data.ndim
    if nd == 0:
        return t.reshape(1, 1, 1)
    if nd == 1:
        return t.unsqueeze(0).unsqueeze(-1)
    return t.unsqueeze(-1) if nd == 2 else t


@op(method=False)
def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least one dim (0-d becomes shape (1,))."""
    return _atleast(tensors, _1d)


@op(method=False)
def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least two dims (new leading dims of size 1)."""
    return _atleast(tensors, _2d)


@op(method=False)
def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least three dims: (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    return _atleast(tensors, _3d)


@op(method=False)
def hstack(tensors: Any) -> Tensor:
    """Concatenate column-wise: along dim 0 for 1-d inputs, else dim 1."""
    ts = [_1d(t) for t in _tensors_arg(tensors, "hstack")]
    return cat(ts, 0 if ts and ts[0]._data.ndim == 1 else 1)


@op(method=False, aliases=("row_stack",))
def vstack(tensors: Any) -> Tensor:
    """Concatenate row-wise (along dim 0), 1-d inputs as rows."""
    return cat([_2d(t) for t in _tensors_arg(tensors, "vstack")], 0)


@op(method=False)
def dstack(tensors: Any) -> Tensor:
    """Concatenate depth-wise (along dim 2) after ``atleast_3d``."""
    return cat([_3d(t) for t in _tensors_arg(tensors, "dstack")], 2)


@op(method=False)
def column_stack(tensors: Any) -> Tensor:
    """Stack 0-d and 1-d inputs as columns, then concatenate along dim 1."""
    ts = _tensors_arg(tensors, "column_stack")
    return hstack([t.reshape(-1, 1) if t._data.ndim <= 1 else t for t in ts])


@op
def repeat_interleave(
    input: Tensor, repeats: Any = None, dim: int | None = None, *, output_size: int | None = None
) -> Tensor:
    """Repeat each element ``repeats`` times along ``dim`` (flattened when ``dim`` is None).

    ``torch.repeat_interleave(counts)`` with one integer tensor gives indices ``i`` repeated
    ``counts[i]`` times."""
    from chainrule.creation import tensor

    if repeats is None:  # the one-argument form: input holds the counts
        counts = _repeat_counts(input)
        return tensor(np.repeat(np.arange(len(counts)), counts))
    if dim is None:
        input, d = input.reshape(-1), 0
    else:
        d = wrap_dim(dim, max(input._data.ndim, 1))
        if input._data.ndim == 0:  # torch's kernel unsqueezes at d + 1: out of range
            wrap_dim(d + 1, 1)
    size = input._data.shape[d]
    if isinstance(repeats, Tensor) and repeats._data.ndim > 0 and repeats._data.size != 1:
        if repeats._data.ndim == 1 and len(repeats._data) != size:
            raise RuntimeError(
                "repeats must have the same size as input along dim, but got "
                f"repeats.size(0) = {len(repeats._data)} and input.size({d}) = {size}"
            )
        counts = _repeat_counts(repeats)
        index = tensor(np.repeat(np.arange(size), counts))
        return input.index_select(d, index)
    n = int(repeats.item() if isinstance(repeats, Tensor) else repeats)
    if n < 0:
        raise RuntimeError("Repeats must be non-negative")
    shape = list(input._data.shape)
    big = shape[: d + 1] + [n] + shape[d + 1 :]
    out = shape[:d] + [size * n] + shape[d + 1 :]
    return input.unsqueeze(d + 1).expand(big).clone().reshape(out)


def _repeat_counts(t: Tensor) -> np.ndarray:
    data = t._data
    if data.ndim > 1:
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
    if kind_of(data.dtype) not in "iu":
        name = dtypes.scalar_type_name(t.dtype)
        raise NotImplementedError(f"\"repeat_interleave_cpu\" not implemented for '{name}'")
    counts = data.reshape(-1)
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    return counts
