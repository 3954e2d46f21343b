"""The op pairs every reading index op goes through (gather/scatter-add, view/view-scatter),
and their helpers.

``Index`` (gather by a NumPy advanced-index key) and ``IndexPutAdd`` (scatter-add into
zeros, correct with repeated indices) are each other's backward, so every order of
derivative works; ``x[...]`` with advanced indices, gather, index_select, masked_select are
``Index`` under torch's name for each. ``BasicIndex`` (basic indexing as one NumPy view, named
after torch's last step) and ``BasicIndexScatter`` are the other pair.
"""

from __future__ import annotations

import numpy as np

from chainrule.dtypes import kind_of
from chainrule.ops.op import Op

__all__ = ["Index", "IndexPutAdd", "BasicIndex", "BasicIndexScatter", "add_at", "infer_size"]

_ALL = slice(None)


class Index(Op):
    """``x[key]`` for a NumPy advanced-index key (int/bool arrays and slices): a copy.

    ``unique`` says the key cannot hit an element twice (masks only), so the backward may
    assign instead of accumulate."""

    formula = "d a[idx] = g scattered back into zeros at idx (duplicates add)"
    save_inputs = False
    torch_name = "IndexBackward0"

    def forward(self, x, key, unique=False):
        self.key, self.unique, self.in_shape = key, unique, x.shape
        a = key[-1]
        if type(a) is np.ndarray and kind_of(a.dtype) in "iu":
            for k in key[:-1]:  # one integer array after full slices: np.take is ~3x faster
                if type(k) is not slice or k != _ALL:
                    break
            else:
                return np.take(x, a, axis=len(key) - 1)
        return x[key]

    def backward(self, g):
        return IndexPutAdd.apply(g, key=self.key, shape=self.in_shape, unique=self.unique)


class IndexPutAdd(Op):
    """Zeros of ``shape`` with ``g`` added at ``key`` (repeated indices accumulate): the
    adjoint of ``Index`` (torch's ``index_put(..., accumulate=True)``)."""

    save_inputs = False
    torch_name = "IndexPutBackward0"

    def forward(self, g, key, shape, unique=False):
        self.key, self.unique = key, unique
        out = np.zeros(shape, g.dtype)
        if not g.size:  # nothing to add (NumPy and torch skip the bounds checks then)
            return out
        if unique:
            out[key] = g
        else:
            add_at(out, key, g)
        return out

    def backward(self, gg):
        return Index.apply(gg, key=self.key, unique=self.unique)


_VIEW_BACKWARDS = frozenset(["AliasBackward0", "UnsqueezeBackward0"])


class BasicIndex(Op):
    """Basic indexing (ints, slices, None) as one NumPy view; named after torch's last step."""

    fp_quiet = True  # (see Op.fp_quiet)

    layout = None  # a view

    formula = "d a[key] (slice, select, unsqueeze) = g written into zeros of a's shape at key"
    save_inputs = False

    def forward(self, x, key, tname):
        self.key, self.tname, self.in_shape = key, tname, x.shape
        out = x[key]
        # only None, ... and whole slices in a tuple (which torch skips): its backward is a
        # view of g (squeeze, alias); a slice or select scatters into new zeros
        self.whole = (
            tname in _VIEW_BACKWARDS
            and out.size == x.size
            and all(
                it is None or it is Ellipsis or (type(it) is slice and it.step in (None, 1))
                for it in key
            )
        )
        return out

    def name(self):
        return self.tname

    def backward(self, g):
        return BasicIndexScatter.apply(
            g, key=self.key, shape=self.in_shape, tname=self.tname, whole=self.whole
        )


class BasicIndexScatter(Op):
    """The adjoint of ``BasicIndex``: the gradient written into zeros of the input's shape."""

    formula = "d (zeros with g written at key) = gg[key]"
    save_inputs = False

    layout = None  # a view of g when ``whole``, else a new array

    def forward(self, g, key, shape, tname, whole=False):
        self.key, self.tname = key, tname
        if whole:  # key covers every element: g itself, reshaped (a stride-0 g stays so)
            return g.reshape(shape)
        out = np.zeros(shape, g.dtype)
        out[key] = g
        return out

    def name(self):
        return self.tname.replace("Backward0", "BackwardBackward0")

    def backward(self, gg):
        return BasicIndex.apply(gg, key=self.key, tname=self.tname)


def add_at(out: np.ndarray, key: tuple, values: np.ndarray) -> None:
    """``out[key] += values`` in place, accumulating repeated indices (``np.add.at``).

    When the key is only integer arrays on the leading dims (embedding lookups, gather,
    take), the rows they hit are numbered ``flat`` and summed without ``np.add.at`` (slow):
    ``np.bincount`` when the indices are dense and the dtype is real floating, else a sort
    that finds the repeats and ``np.add.reduceat`` over them (plain ``+=`` if there are
    none). Indices must already be in range (negative ones wrap)."""
    k = len(key)
    for a in key:
        if type(a) is not np.ndarray or kind_of(a.dtype) not in "iu":
            np.add.at(out, key, values)
            return
    rest = 1
    for s in out.shape[k:]:
        rest *= s
    real = kind_of(out.dtype) == "f"
    if not k or not out.flags.c_contiguous or rest == 1 and (values.size < 4096 or not real):
        np.add.at(out, key, values)  # fast enough for single elements
        return
    lead = out.shape[:k]
    if k == 1:
        flat, vshape = key[0].ravel(), key[0].shape
        if flat.size and flat.min() < 0:
            flat = np.where(flat < 0, flat + lead[0], flat)
    else:  # row-major numbering (np.ravel_multi_index is ~4x slower for a gather's grid)
        flat = None
        for a, s in zip(key, lead):
            if a.size and a.min() < 0:
                a = np.where(a < 0, a + s, a)
            flat = a if flat is None else flat * s + a
        vshape = flat.shape
        flat = flat.ravel()
    m = out.size // rest if rest else 0
    n = flat.size
    if not n or not m or not rest:
        return
    vshape += out.shape[k:]
    vals = (values if values.shape == vshape else np.broadcast_to(values, vshape)).reshape(n, rest)
    out2 = out.reshape(m, rest)
    if real and rest > 1 and n * rest < 4096:
        np.add.at(out2, flat, vals)  # small: its per-call cost wins
        return
    if real and rest > 1:  # whole rows (embedding, index_select): repeats are usually few
        counts = np.bincount(flat, minlength=m)
        top = counts.max()
        if top <= 1:
            out2[flat] += vals
            return
        if top <= 8:  # add the k-th occurrences of each row together, in k = 0, 1, ... order:
            order = np.argsort(flat, kind="stable")  # np.add.at's order, so the same bits
            rows = flat[order]
            start = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
            rank = np.arange(n) - np.repeat(start, np.diff(np.append(start, n)))
            for r in range(top):
                pos = order[rank == r]
                out2[flat[pos]] += vals[pos]
            return
    if real and 4 * n >= m:
        if rest == 1:
            out2[:, 0] += np.bincount(flat, weights=vals[:, 0], minlength=m)
        else:
            cells = (flat[:, None] * rest + np.arange(rest)).ravel()
            out2 += np.bincount(cells, weights=vals.ravel(), minlength=m * rest).reshape(m, rest)
        return
    if rest == 1:
        np.add.at(out2[:, 0], flat, vals[:, 0])
        return
    order = np.argsort(flat, kind="stable")
    rows = flat[order]
    starts = np.flatnonzero(rows[1:] != rows[:-1]) + 1
    if starts.size == n - 1:  # no repeats
        out2[flat] += vals
        return
    starts = np.concatenate(([0], starts))
    out2[rows[starts]] += np.add.reduceat(vals[order], starts, axis=0)


def infer_size(a: tuple, b: tuple) -> tuple:
    """The broadcast of shapes ``a`` and ``b``, with torch's message (checked from the right)."""
    if a == b:
        return a
    n = max(len(a), len(b))
    out = [0] * n
    for i in range(n - 1, -1, -1):
        off = n - 1 - i
        sa = a[len(a) - 1 - off] if len(a) - 1 - off >= 0 else 1
        sb = b[len(b) - 1 - off] if len(b) - 1 - off >= 0 else 1
        if sa != sb and sa != 1 and sb != 1:
            raise RuntimeError(
                f"The size of tensor a ({sa}) must match the size of tensor b ({sb}) at "
                f"non-singleton dimension {i}"
            )
        out[i] = sb if sa == 1 else sa
    return tuple(out)
