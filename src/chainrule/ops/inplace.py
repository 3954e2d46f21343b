"""In-place operations (``add_``, ``x += y``, ``x[idx] = v`` ...) with torch's safety rules.

Every in-place op is its out-of-place op followed by ``write``: the result is copied into
the tensor's memory, the version counter (shared with views) goes up, and the tensor's
history becomes the new node. Writing through a view rebuilds the base's history the way
torch's CopySlices does: the base becomes "old base with the view's region replaced", and
every live view of it is re-derived from that. Backward then refuses any saved tensor whose
version moved (see ``Op._check_versions``), so a gradient is never silently wrong. The
view geometry and the CopySlices nodes live in strided.py. The in-place view ops (``t_``,
``squeeze_`` ...) write no values: ``view_inplace`` makes the tensor its own view.
"""

from __future__ import annotations

import re
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule._tensor as _tensor_layer
from chainrule import _layout, dtypes
from chainrule._registry import op, tensor_method
from chainrule._tensor import NO_GRAD_VIEW, Tensor, _make, mutate, version_counter
from chainrule.creation import _rng
from chainrule.graph import enable_grad, grad_mode, no_grad
from chainrule.ops.broadcast import as_tensor_arg
from chainrule.ops.index.core import BasicIndex, Index, add_at
from chainrule.ops.index.getitem import index_key
from chainrule.ops.index.select import index_add_aliased
from chainrule.ops.op import (
    Op,
    _edge,
    _Window,
    expand,
    forward_ad,
    live_views,
    save_index,
    self_overlapping,
    sum_to_size,
)
from chainrule.ops.strided import (
    CopySlices,
    StridedFill,
    StridedView,
    _address,
    _Geometry,
    _node,
    reroute,
)

__all__: list[str] = []  # nothing new at top level: these are Tensor methods

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


# --------------------------------------------------------------------------- write


_NO_GRAD_VIEW = (
    "created in no_grad mode and is being modified inplace with grad mode enabled. Given "
    "that this use case is ambiguous and error-prone, it is forbidden. You can clarify your "
    "code by moving both the view and the inplace either both inside the no_grad block (if "
    "you don't want the inplace to be tracked) or both outside (if you want the inplace to "
    "be tracked)."
)


_NO_GRAD_VIEW_REBASED = _NO_GRAD_VIEW.replace(
    "and is being modified inplace",
    "and its base or another view of its base has been modified inplace",
)


def _check_target(t: Tensor, out: Tensor, root: Tensor, recording: bool, where: Any = None) -> None:
    if recording:
        _check_inplace(t, root)
    if out._data.shape != t._data.shape:
        raise RuntimeError(
            f"output with shape {list(t._data.shape)} doesn't match the broadcast shape "
            f"{list(out._data.shape)}"
        )
    _check_cast(out._data.dtype, t._data.dtype)
    if not t._data.flags.writeable and (
        (where is None and _internal_overlap(t._data))
        or (where is not False and _memory_owner(t._data) is None)
    ):  # NumPy's read-only views (of a broadcast) are written unless elements alias
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation."
        )


_MULTI_OUTPUT = (
    "This view is the output of a function that returns multiple views. Such functions do not "
    "allow the output views to be modified inplace. You should replace the inplace operation "
    "by an out-of-place one."
)


def _check_inplace(t: Tensor, root: Tensor, view: Tensor | None = None) -> None:
    """torch's check_inplace for a write in a graph, in its order: an output of split,
    chunk or unbind (or a view of one) is refused; then a view of a leaf (the base is a
    leaf and the view or the base requires grad), then a leaf that requires grad. ``view``:
    the view a write goes through when ``t`` is not one (``t[0] = v`` writes ``t.select``)."""
    if view is None and root is not t:
        view = t
    if view is None:
        if t.grad_fn is None and t._requires_grad:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )
        return
    multi = getattr(view, "_multi", None)
    if multi is not None and multi[0] != NO_GRAD_VIEW:
        nr, name, grad = multi[:3]
        if grad:
            name = re.sub(r"Backward\d*$", "", name)
            raise RuntimeError(
                f"Output {nr} of {name} is a view and is being modified inplace. {_MULTI_OUTPUT}"
            )
        raise RuntimeError(
            "A view was created in no_grad mode and is being modified inplace with grad mode "
            f"enabled. {_MULTI_OUTPUT}"
        )
    if getattr(view, "_creation", None) == "no_grad":  # made under no_grad, or from one
        fn = view.grad_fn
        if fn is None:
            raise RuntimeError(f"A view was {_NO_GRAD_VIEW}")
        name = re.sub(r"Backward(0$)?", "", fn.name())
        raise RuntimeError(f"Output 0 of {name} is a view of a view which was {_NO_GRAD_VIEW}")
    if root.grad_fn is None and (view._requires_grad or root._requires_grad):
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )


def _refuse_multi(t: Tensor, args: Any = ()) -> None:
    """torch's check_inplace runs before the op reads its inputs' histories: an output of
    split/chunk/unbind written in a graph is refused as such, also once its base was written
    (which makes reading its history raise, ``check_multi_view``)."""
    multi = getattr(t, "_multi", None)
    if multi is None or multi[0] == NO_GRAD_VIEW or not grad_mode.enabled:
        return
    base = getattr(t, "_view_base", None)
    root = t if base is None else base
    if (
        t._requires_grad
        or root._requires_grad
        or any(isinstance(a, Tensor) and a._requires_grad for a in args)
    ):
        _check_inplace(t, root)


_PARTIAL_OVERLAP = (
    "unsupported operation: some elements of the input tensor and the written-to tensor refer "
    "to a single memory location. Please clone() the tensor before performing the operation."
)


def _dense(a: np.ndarray) -> bool:
    """torch's ``is_non_overlapping_and_dense``: the elements tile one block of memory (in
    some order of the dims; dims of size 1 do not count)."""
    need = a.itemsize
    for st, n in sorted((st, n) for n, st in zip(a.shape, a.strides) if n != 1):
        if st != need:
            return False
        need *= n
    return True


def _overlap(a: np.ndarray, b: np.ndarray) -> str:
    """torch's ``get_overlap_status`` of two arrays: "full" (the same elements in the same
    layout), "partial", "no", or "too hard" (either is not dense: torch does not check)."""
    if a.size == 0 or b.size == 0:
        return "no"
    if not (_dense(a) and _dense(b)):
        return "too hard"
    a0, b0 = _address(a), _address(b)
    a1, b1 = a0 + a.size * a.itemsize, b0 + b.size * b.itemsize
    if a0 == b0 and a1 == b1:  # torch compares the strides as they are, size-1 dims too
        return "full" if _layout.strides(a) == _layout.strides(b) else "partial"
    return "partial" if a0 < b1 and b0 < a1 else "no"


def check_overlap(t: Tensor, args: Any, *, full: bool = False) -> None:
    """torch's check that an in-place op's tensor inputs do not share some of the written
    tensor's elements (``x.add_(x.t())``, ``v += s`` with ``v = s.unsqueeze(0)``); exactly
    the same elements (``x += x``) are allowed, except by the index ops (``full``: torch's
    ``assert_no_overlap``: scatter_, index_add_, ``x[idx] = v``)."""
    for x in args:
        if isinstance(x, Tensor):
            status = "full" if x is t else _overlap(t._data, x._data)
            if status == "partial" or (full and status == "full"):
                raise RuntimeError(_PARTIAL_OVERLAP)


def _leaf_write(t: Tensor) -> bool:
    """Will ``write`` refuse ``t`` as a leaf (or a view of one) that requires grad? torch's
    autograd checks that before any kernel's check."""
    base = getattr(t, "_view_base", None)
    root = t if base is None else base
    return grad_mode.enabled and root.grad_fn is None and root._requires_grad


def _check_cast(src: np.dtype, dst: np.dtype) -> None:
    if _CATEGORY[dtypes.kind_of(src)] > _CATEGORY[dtypes.kind_of(dst)]:
        raise RuntimeError(
            f"result type {dtypes.scalar_type_name(src)} can't be cast to the desired "
            f"output type {dtypes.scalar_type_name(dst)}"
        )


def write(t: Tensor, out: Tensor, where: Any = None) -> Tensor:
    """Make ``out`` (computed out of place from ``t``) the new value and history of ``t``.
    ``where``: the elements written (True: all), for the writes torch makes even into an
    expanded tensor, whose elements share memory (fill_, zero_, masked_fill_, index_fill_):
    only those elements are written, so each place gets the value if any of its aliases
    was selected; False for a copy of the tensor into itself (no write, a version bump)."""
    base = getattr(t, "_view_base", None)
    root = t if base is None else base
    recording = grad_mode.enabled and (t._requires_grad or out._requires_grad
                                       or root._requires_grad)  # fmt: skip
    _check_target(t, out, root, recording, where)
    fn = out.grad_fn
    if fn is not None and fn.inputs is not None:  # keep what the new node saved intact
        _snapshot_saved(fn, t)
    for owner in (root.grad_fn, t.grad_fn):  # a node that saved this memory as its output
        if (
            owner is not None
            and owner.out_data is not None
            and (owner.out_data is t._data or np.may_share_memory(owner.out_data, t._data))
        ):
            if owner._out_version is None:  # first write since the node saved it
                vc = version_counter(t)
                owner._out_version = (vc, vc[0])
    dst = t._data
    if where is False:  # x.copy_(x): nothing to write (torch skips the kernel)
        pass
    elif not dst.flags.writeable:  # a view NumPy made read-only, or a selective write into
        dst = np.asarray(_Window(dst, _memory_owner(dst)))  # an expanded one (checked above)
        np.copyto(dst, out._data, casting="unsafe", where=True if where is None else where)
    else:
        np.copyto(dst, out._data, casting="unsafe")
    if forward_ad.level and (getattr(out, "_fw", None) is not None or getattr(t, "_fw", None)
                             is not None):  # fmt: skip
        forward_ad.set_tangent(t, getattr(out, "_fw", None))
    saves_t = fn is not None and fn.out_data is out._data and out._data.dtype == t._data.dtype
    if saves_t:
        fn.out_data = t._data  # the node's saved output now lives in t, as in torch
    mutate(t, rebase=False)
    if saves_t:  # checked against t's counter, at the version this write gave it
        vc = version_counter(t)
        fn._out_version = (vc, vc[0])
    _rebase_aliased(t, root)
    if not recording:
        _rebase_views(root)
        return t
    if out._data.dtype != t._data.dtype:
        with_dtype = out.to(dtypes.FROM_NP[t._data.dtype])
        out = with_dtype
    if base is None:
        node, t._requires_grad = out.grad_fn, out._requires_grad
        if node is None:  # e.g. zero_() on a tensor that required grad: still derived
            node = _node(StridedFill, (None,), geo=None)
        set_history(t, node)
        t._hooks_of = None  # a hook registered from now on goes to the new node (torch)
        _refresh_views(t)
        return t
    geo = _Geometry(root._data, t._data)
    old = t.grad_fn
    if old is not None and old._hooks and fn is not None:
        # torch's CopySlices runs the op's rule and puts its result straight into the base's
        # slice: the view's old node, and the tensor hooks registered on the view, are off
        # that path (they still run for what was computed from the view before the write)
        reroute(fn, old, _node(StridedView, (_edge(root),), geo=geo))
    set_history(root, _node(CopySlices, (_edge(root), _edge(out)), geo=geo))
    root._requires_grad = True
    t._requires_grad = True
    _refresh_views(root)
    # a hook registered on the written view from now on goes to its new node; one on
    # another view of the base still goes to the list its first hook made (torch re-derives
    # those lazily, and keeps the list until then)
    t._hooks_of = None
    return t


def set_history(t: Tensor, node: Any) -> None:
    """``node`` becomes ``t``'s grad_fn. A retained gradient follows the tensor, as torch
    moves the ``retain_grad`` hook to the new grad_fn: after ``x.retain_grad(); x[0] = 5``,
    ``x.grad`` is the gradient of the new ``x``. Tensor hooks stay on the old node (torch)."""
    t.grad_fn = node
    ref = getattr(t, "_retains_grad", False)
    if ref:  # from the node that holds it (not always the old grad_fn: see t_)
        holder = ref()
        if holder is node:
            return
        if holder is not None and holder._retained is not None and holder._retained() is t:
            holder._retained = None
        node._retained = weakref.ref(t)
        node._hooked = True
        t._retains_grad = weakref.ref(node)


def _snapshot_saved(fn: Op, t: Tensor) -> None:
    """The node that computed the new value may have saved ``t`` itself (``mul_`` saves
    self): give it a copy of the old value, as torch saves ``original_self``. Only self
    (the first input) is copied: ``t`` passed again as another argument stays saved as
    it is, so the write makes it stale and backward raises, as torch's ``x.mul_(x)``."""
    if fn._saved_ix is not None and fn._saved_ix[0] is t:  # a mixed-dtype self (binary's
        fn._saved_ix = fn._saved_ix[1:] or None  # cast copy holds the old value: no check,
        fn._ix_versions = fn._ix_versions[1:] if fn._ix_versions else None  # no refresh)
        fn.__dict__.pop("_ix_nonleaf", None)
        if fn._recast is not None:
            fn._recast = tuple([p for p in fn._recast if p[1] is not t]) or None
    inputs = fn.inputs
    if not inputs or inputs[0] is not t:
        return
    inputs, versions = list(inputs), list(fn._versions or [0] * len(inputs))
    old = _make(t._data.copy(), t.grad_fn)
    old._requires_grad = t._requires_grad
    inputs[0], versions[0] = old, 0
    fn.inputs, fn._versions = tuple(inputs), tuple(versions)


def _refresh_views(root: Tensor) -> None:
    """Every live view of ``root`` is re-derived from its base's new history (torch's view
    replay: the view of a base that did not require grad requires grad now)."""
    for v in live_views(root):
        geo = _Geometry(root._data, v._data)
        kind = NoGradViewRebased if getattr(v, "_creation", None) == "no_grad" else StridedView
        set_history(v, _node(kind, (root.grad_fn,), geo=geo))
        v._requires_grad = True
        v._grad_from_base = False


def _rebase_views(root: Tensor) -> None:
    """A write outside the graph (under no_grad) into a tensor of a graph moves the version
    of all its views: torch re-derives each one from the base when it is next used, so a
    gradient then goes to the base directly, no longer through the views it was taken from
    (``autograd.grad`` of one of those gives None). Views made under no_grad, outputs of
    split/chunk/unbind (``check_multi_view``) and views with no history keep theirs."""
    if root.grad_fn is None and not root._requires_grad:
        return
    edge = root if root.grad_fn is None else root.grad_fn
    for v in live_views(root):
        if (
            v.grad_fn is None
            or getattr(v, "_multi", None) is not None
            or getattr(v, "_creation", None) is not None
        ):
            continue
        set_history(v, _node(StridedView, (edge,), geo=_Geometry(root._data, v._data)))


def _rebase_aliased(t: Tensor, root: Tensor) -> None:
    """A write through ``detach()`` (or a view of a detached tensor) moves the version the
    detached memory shares with its graph tensor: torch re-derives that tensor's views
    when next used (their hooks stay on the old nodes), as after a write under no_grad."""
    alias = getattr(t, "_alias", None) or getattr(root, "_alias", None)
    if alias is not None:
        src = alias()
        if src is not None and src is not root:
            _rebase_views(src)


def _replay_view(v: Tensor) -> None:
    """A view's history derived from its base's current one (torch's view replay)."""
    base = v._view_base
    edge = base if base.grad_fn is None else base.grad_fn
    set_history(v, _node(StridedView, (edge,), geo=_Geometry(base._data, v._data)))
    v._grad_from_base = False  # its own history now: backward may start from it (torch)


_tensor_layer.replay_view = _replay_view  # see _tensor.rederive_written_view


def _rebase_written(t: Tensor) -> None:
    """A write to ``t`` from outside the op catalog (``mutate``: optimizers, init,
    load_state_dict ...), which torch makes as an in-place op under no_grad."""
    base = getattr(t, "_view_base", None)
    root = t if base is None else base
    _rebase_aliased(t, root)
    _rebase_views(root)


_tensor_layer.rebase_views = _rebase_written  # see _tensor.mutate


class NoGradViewRebased(StridedView):
    """The history of a view made under no_grad whose base was then written in a graph:
    torch refuses to re-derive it, and raises as soon as the view's grad_fn is read; here
    the error comes when a gradient would flow through it."""

    def backward(self, g):
        raise RuntimeError(f"A view was {_NO_GRAD_VIEW_REBASED}")


# --------------------------------------------------------------------------- ops for writes


class Fill(Op):
    """``fill_``/``zero_``: the old value gets no gradient."""

    save_inputs = False

    def forward(self, x, value):
        return np.full(x.shape, value, dtype=x.dtype)

    def name(self):
        return "ZeroBackward0" if self.value_is_zero else "FillBackward2"

    def backward(self, g):  # torch's zeros_like(grad): no graph, even under create_graph
        return _make(np.zeros_like(g._data))

    value_is_zero = False


class Copy(Op):
    """``copy_(src)``: src broadcast and cast to the target; the old value gets no gradient."""

    jvp_rule = "linear"

    torch_name = "torch::autograd::CopyBackwards"
    saved_for = ((), ())  # nothing: ``x.copy_(x)`` leaves no stale saved value

    def forward(self, x, src):
        self.src_shape, self.src_dtype = np.shape(src), dtypes.from_np(np.asarray(src).dtype)
        return np.broadcast_to(np.asarray(src).astype(x.dtype), x.shape).copy()

    def backward(self, g):
        gs = sum_to_size(g, self.src_shape).to(self.src_dtype) if self.needs(1) else None
        return _make(np.zeros_like(g._data)) if self.needs(0) else None, gs  # torch's zeros


class IndexPut(Op):
    """``x[idx] = v`` out of place: the region gets v's gradient, the rest x's. The region
    is ``x[basic][adv]`` (``index_key``): a NumPy view, then advanced indices on it."""

    jvp_rule = "linear"

    save_inputs = False
    torch_name = "IndexPutBackward0"

    def name(self) -> str:  # torch writes a basic index through its view: CopySlices
        return "torch::autograd::CopySlices" if self.adv is None else "IndexPutBackward0"

    def _release(self) -> None:  # torch's frees its indices (or the copy node it wraps)
        super()._release()
        self._freed = True

    def forward(self, x, v, basic, adv, accumulate=False):
        self.basic, self.adv, self.v_shape = basic, adv, np.shape(v)
        self.accumulate = accumulate
        out = x.copy()
        if adv is None:
            out[basic] = v
        elif accumulate:  # index_put(..., accumulate=True): repeated indices add up
            region = out[basic]
            add_at(region, adv, np.broadcast_to(v, region[adv].shape))
        else:
            out[basic][adv] = v
        return out

    def backward(self, g):
        gx = gv = None
        if self.needs(0) and self.accumulate:
            gx = g
        elif self.needs(0):
            zero = np.zeros((), g._data.dtype)
            gx = IndexPut.apply(g, zero, basic=self.basic, adv=self.adv)
        if self.needs(1):
            region = BasicIndex.apply(g, key=self.basic, tname="SliceBackward0")
            if self.adv is not None:
                region = Index.apply(region, key=self.adv)
            gv = sum_to_size(region, self.v_shape)
        return gx, gv


@op(inplace=True, inplace_function=True)
def index_put(
    input: Tensor, indices: tuple[Tensor, ...], values: Tensor, accumulate: bool = False
) -> Tensor:
    """``input`` with ``values`` (broadcast) written at ``input[indices]`` (a tuple of long,
    int or bool index tensors); with ``accumulate`` added there instead, repeated indices
    adding up. ``x.index_put_(indices, values)`` is ``x[indices] = values`` with no cast.
    A wrong argument type's TypeError numbers the arguments as torch's function does (its
    method's count one less, and ``index_put_``'s is named so)."""
    if not isinstance(indices, tuple | list):
        raise TypeError(
            "index_put(): argument 'indices' (position 2) must be tuple of Tensors, not "
            f"{type(indices).__name__}"
        )
    for k, i in enumerate(indices):
        if not isinstance(i, Tensor):
            raise TypeError(
                f"expected Tensor as element {k} in argument 1, but got {type(i).__name__}"
            )
    if not isinstance(values, Tensor):
        raise TypeError(
            "index_put(): argument 'values' (position 3) must be Tensor, not "
            f"{type(values).__name__}"
        )
    x, v = input._data, values._data
    if v.dtype != x.dtype:
        raise RuntimeError(
            "Index put requires the source and destination dtypes match, got "
            f"{dtypes.scalar_type_name(x)} for the destination and "
            f"{dtypes.scalar_type_name(v)} for the source."
        )
    if not indices:
        raise RuntimeError("sym_strides() called on an undefined Tensor")
    for i in indices:
        if dtypes.kind_of(i._data.dtype) not in "iub":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    n = sum(max(i._data.ndim, 1) if i._data.dtype == np.bool_ else 1 for i in indices)
    if n > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim} (got {n})")
    basic, adv, _ = index_key(x, tuple(indices))
    region = x[basic] if adv is None else x[basic][adv]
    try:
        fits = np.broadcast_shapes(v.shape, region.shape) == region.shape
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(v.shape)} cannot be broadcast to "
            f"indexing result of shape {list(region.shape)}"
        )
    if adv is None:
        adv = (Ellipsis,)
    out = IndexPut.apply(input, values, basic=basic, adv=adv, accumulate=bool(accumulate))
    return save_index(out, *indices)


@tensor_method(name="__setitem__")
def setitem(self: Tensor, index: Any, value: Any) -> None:
    """``self[index] = value`` (value a tensor or number, broadcast to the region); the index
    is parsed and checked as getitem does, with torch's errors."""
    basic, adv, _ = index_key(self._data, index)
    if isinstance(value, Tensor):
        _check_setitem_overlap(self._data[basic], adv, index, value._data)
    try:
        _setitem(self, basic, adv, value, index)
    except ValueError:
        region = self._data[basic] if adv is None else self._data[basic][adv]
        data = value._data if isinstance(value, Tensor) else np.asarray(value, self._data.dtype)
        shape = data.shape
        try:
            fits = np.broadcast_shapes(shape, region.shape) == region.shape
        except ValueError:
            fits = False
        if fits:
            raise
        if adv is None:  # torch copies into the view: expand's error
            expand(_make(np.zeros(shape, data.dtype)), region.shape)
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(shape)} cannot be broadcast to "
            f"indexing result of shape {list(region.shape)}"
        ) from None


def _check_setitem_overlap(region: np.ndarray, adv: Any, index: Any, v: np.ndarray) -> None:
    """torch's overlap checks for ``x[index] = v`` (``v`` a tensor of one or more dims): a
    basic index copies ``v``, expanded to the region, into the region's view (``copy_``:
    partial overlap refused); an advanced one is ``index_put_`` on the view (any overlap
    refused), unless it is one boolean mask and ``v`` has one element (``masked_fill_``)."""
    if adv is None:
        if not v.ndim:  # fill_: not checked
            return
        if v.shape != region.shape:
            try:
                v = np.broadcast_to(v, region.shape)
            except ValueError:
                return  # the shape error comes later
        if _overlap(region, v) == "partial":
            raise RuntimeError(_PARTIAL_OVERLAP)
        return
    if v.size == 1:
        items = index if type(index) is tuple else (index,)
        advanced = [i for i in items if isinstance(i, Tensor | list | np.ndarray)]
        if len(advanced) == 1 and np.asarray(advanced[0]).dtype == bool:
            return
    if _overlap(region, v) in ("full", "partial"):
        raise RuntimeError(_PARTIAL_OVERLAP)


def _same_data(a: np.ndarray, b: np.ndarray) -> bool:
    """Are ``a`` and ``b`` the same elements of the same memory (torch's copy_ then writes
    nothing: not even an overlap check)?"""
    return a is b or (
        a.shape == b.shape
        and a.strides == b.strides
        and a.dtype == b.dtype
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def _setitem(self: Tensor, basic: Any, adv: Any, value: Any, index: Any = ()) -> None:
    if adv is None and isinstance(value, Tensor):
        if value._data.shape == self._data.shape and not _view_key(basic, self._data.shape):
            # ``x[...] = v``: torch copies v into x itself (CopyBackwards, which saves
            # nothing: re-runnable); a v of another shape it expands first, so its copy_
            # checks no overlap: that stays the general path below
            self.copy_(value)
            return
        if _same_data(self._data[basic], value._data):  # ``x[1:] = x[1:]``: torch's copy_
            self[basic].copy_(value)  # into the view writes nothing, checks no overlap
            return
    if isinstance(value, Tensor) and value._data.dtype != self._data.dtype:
        value = value.to(self.dtype)
    recording = grad_mode.enabled and (
        self._requires_grad or isinstance(value, Tensor) and value._requires_grad
    )
    if not recording:
        base = getattr(self, "_view_base", None)
        if grad_mode.enabled and base is not None and base._requires_grad:
            recording = True  # writing into a view of a graph: rebuild the base's history
    if not recording:
        data = self._data
        if not data.flags.writeable:
            # torch writes an expanded tensor's memory: through a view of it with no two
            # elements in one place (``e[0] = v``), or by index_put_ with a warning
            owner = _memory_owner(data)
            if owner is None or (adv is None and _internal_overlap(data[basic])):
                _check_target(self, self, self, False)
            if adv is not None:
                warnings.warn(_EXPANDED_INDEX_PUT, UserWarning, stacklevel=3)
            data = np.asarray(_Window(data, owner))
        v = value._data if isinstance(value, Tensor) else value
        if adv is None:
            data[basic] = v
        else:
            data[basic][adv] = v
        mutate(self, rebase=False)
        base = getattr(self, "_view_base", None)
        _rebase_views(self if base is None else base)
        _rebase_aliased(self, self if base is None else base)
        return
    if adv is None and _internal_overlap(self._data):  # an expanded tensor: torch writes
        view = self[basic]  # through the view the index makes, refused if it aliases too
        if not _internal_overlap(view._data):
            view.copy_(value)
            return
    base = getattr(self, "_view_base", None)
    root = self if base is None else base
    multi = getattr(self, "_multi", None)
    if (multi is not None and multi[0] != NO_GRAD_VIEW) or (
        root.grad_fn is None and (self._requires_grad or root._requires_grad)
    ):  # refused: torch writes through the view ``self[basic]`` when it is one
        _check_inplace(self, root, self[basic] if _view_key(basic, self._data.shape) else None)
    v = value if isinstance(value, Tensor) else np.asarray(value, dtype=self._data.dtype)
    out = IndexPut.apply(self, v, basic=basic, adv=adv)
    where = None
    if adv is not None:  # torch's index_put_ saves its index tensors (version-checked)
        items = index if type(index) is tuple else (index,)
        out = save_index(out, *[i for i in items if isinstance(i, Tensor)])
        if _internal_overlap(self._data):  # an expanded tensor: torch writes the selected
            warnings.warn(_EXPANDED_INDEX_PUT, UserWarning, stacklevel=3)  # elements' memory
            where = np.zeros(self._data.shape, dtype=bool)
            where[basic][adv] = True
    write(self, out, where)


_EXPANDED_INDEX_PUT = (
    "Use of index_put_ on expanded tensors is deprecated. Please clone() the tensor before "
    "performing this operation. This also applies to advanced indexing e.g. tensor[indices] "
    "= tensor"
)


def _memory_owner(a: np.ndarray) -> np.ndarray | None:
    """The writable array whose memory a read-only view of it (a broadcast, unfold's
    windows) reads, if any (through NumPy's as_strided holder, which is no array)."""
    owner = a.base
    while owner is not None and not (isinstance(owner, np.ndarray) and owner.flags.writeable):
        owner = getattr(owner, "base", None)
    return owner


_internal_overlap = self_overlapping  # two elements share memory (an expand; unfold's windows)


def _view_key(basic: tuple, shape: tuple) -> bool:
    """Does ``x[basic] = v`` write through a view in torch (an int, None, or a slice that is
    not ``[0:n:1]`` as written: torch skips only those)?"""
    for i, k in enumerate(basic):
        if k is Ellipsis or type(k) is slice and k == slice(None):
            continue
        if type(k) is slice and i == 0:  # a lone slice, as written
            if (
                (k.start is None or k.start == 0)
                and (k.stop is None or k.stop >= shape[0])
                and (k.step is None or k.step == 1)
            ):
                continue
        return True
    return False


class NoGrad(Op):
    """A result with no gradient (a comparison, a logical op) written into a tensor of a
    graph: ``x.eq_(y)`` is still derived from ``x``, with a zero gradient (torch's
    ``EqBackward0``; ``...Backward1`` when the other operand is a tensor)."""

    formula = "d cmp(a, b) = 0  (a comparison or logical result is piecewise constant)"
    jvp_rule = "linear"
    save_inputs = False

    def forward(self, x, *others, value, name):
        stem = "".join(w.capitalize() for w in name.split("_"))
        self.torch_name = f"{stem}Backward{int(bool(others))}"
        self.others = [(o.shape, o.dtype) for o in others]
        return np.asarray(value).astype(x.dtype)

    def backward(self, g):  # zeros for x and for the tensors compared with it
        return (g * 0, *[_make(np.zeros(s, d)) for s, d in self.others])

    def jvp(self, tangents):
        return None  # no tangent: the result does not vary with the input


def _check_result_type(t: Tensor, args: tuple) -> None:
    """``long.bitwise_and_(float)``: torch's cast error, not the kernel's dtype error."""
    operands = [a for a in args if isinstance(a, Tensor | int | float | complex)]
    _check_cast(dtypes.result_type(t, *operands), t._data.dtype)


def _in_graph(t: Tensor) -> bool:
    base = getattr(t, "_view_base", None)
    return t._requires_grad or base is not None and base._requires_grad


# --------------------------------------------------------------------------- view ops in place


def view_inplace(t: Tensor, view: Callable[[Tensor], Tensor]) -> Tensor:
    """``x.t_()``, ``x.unsqueeze_(0)``, ``x.transpose_(0, 1)`` ...: ``x`` becomes its own
    view ``view(x)`` (the out-of-place view op). It takes the view's array (the same memory
    with a new shape and strides) and, in a graph, the view's node as its history; its
    values do not change, its version moves (as in torch), and it stays a view of its base
    if it was one. In a graph, the node is made even under no_grad, so the history keeps
    the tensor's shape (torch keeps the old node there, and a later backward fails)."""
    base = getattr(t, "_view_base", None)
    root = t if base is None else base
    if grad_mode.enabled and (t._requires_grad or root._requires_grad):
        _check_inplace(t, root)  # a leaf, a view of one, an output of split ...
    if t.grad_fn is not None:
        with enable_grad():
            out = view(t)
        node = out.grad_fn
        stem = node.name().rstrip("0123456789")
        # torch numbers the in-place form's node after the op's out-of-place overloads
        n = int(node.name()[len(stem) :] or 0) + getattr(node, "overloads", 1)
        node.torch_name = f"{stem}{n}"
        t.grad_fn = node  # a retained gradient stays on the old node here (torch)
    else:
        with no_grad():
            out = view(t)
    t._data = out._data
    if forward_ad.level and getattr(t, "_fw", None) is not None:
        forward_ad.set_tangent(t, getattr(out, "_fw", None))
    mutate(t, rebase=False)
    return t


def inplace_view_method(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``x.name_(...)`` from the view op ``name`` (declared ``@op(inplace="view")``)."""

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        try:
            return view_inplace(self, lambda t: fn(t, *args, **kwargs))
        except RuntimeError as e:  # torch's message names the in-place form: "t_() expects"
            msg = str(e).replace(f"{fn.__name__}() ", f"{fn.__name__}_() ")
            if msg == str(e):
                raise
            raise RuntimeError(msg) from None

    method.__name__ = f"{fn.__name__}_"
    method.__doc__ = f"In-place ``{fn.__name__}``: the tensor becomes the view (shape, history)."
    return method


# --------------------------------------------------------------------------- methods


# in-place ops whose tensor arguments torch checks for any overlap with self, after the
# op's own argument checks; and those whose arguments it does not check (masked_fill_'s value)
_INDEX_OPS = {
    "scatter", "scatter_add", "scatter_reduce", "index_add", "index_put", "index_copy",
    "masked_scatter", "put",
}  # fmt: skip
# in-place forms torch records a node for (<Name>Backward1) whose rule raises
_NO_INPLACE_DERIVATIVE = {"asinh", "acosh", "atanh"}
_UNCHECKED = {"masked_fill"}


def _index_mask(shape: tuple, dim: int, index: Any, value: Any = None) -> np.ndarray:
    """index_fill's selection as a mask that broadcasts to ``shape`` (at least 1-d)."""
    d = dim % len(shape)
    mask = np.zeros(shape[d], bool)
    mask[np.asarray(index._data if isinstance(index, Tensor) else index)] = True
    return mask.reshape([-1] + [1] * (len(shape) - d - 1))


# the fills torch makes into an expanded tensor (with a deprecation warning): the elements
# they select, from their arguments
_FILLS: dict[str, Callable[..., Any]] = {
    "masked_fill": lambda shape, mask, value=None: np.asarray(mask._data),
    "index_fill": _index_mask,
}


def inplace_method(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``x.name_(...)`` from the op ``name``: compute out of place, then write into ``x``
    (the registry makes every declared op's in-place method with this)."""

    name = fn.__name__
    index_op = name in _INDEX_OPS

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        tensors = [*args, *kwargs.values()]
        _refuse_multi(self, tensors)
        if not index_op and name not in _UNCHECKED and not _leaf_write(self):
            # the kernel's check comes before the op's argument checks (a leaf's after)
            check_overlap(self, tensors)
        try:
            out = fn(self, *args, **kwargs)
        except NotImplementedError:  # torch checks the result fits self before the kernel
            _check_result_type(self, args)
            raise
        if index_op:  # after the op's own argument checks, as torch's kernels do
            check_overlap(self, tensors, full=True)
            if name == "index_add":
                index_add_aliased(self, out, *args, **kwargs)
        if out.grad_fn is not None and name in _NO_INPLACE_DERIVATIVE:
            out.grad_fn.overload = 1  # torch's node for the in-place form (its rule raises)
        if out.grad_fn is None and grad_mode.enabled:
            others = [a for a in args if isinstance(a, Tensor)]
            if _in_graph(self) or any(a._requires_grad for a in others):
                out = NoGrad.apply(self, *others, value=out._data, name=fn.__name__)
        where = None
        if name == "index_put" and _internal_overlap(self._data):  # as ``e[idx] = v``
            where = np.zeros(self._data.shape, dtype=bool)
            basic, adv, _ = index_key(self._data, tuple(args[0] if args else kwargs["indices"]))
            where[basic][adv] = True
            warnings.warn(_EXPANDED_INDEX_PUT, UserWarning, stacklevel=2)
        elif name in _FILLS and _internal_overlap(self._data):
            where = _FILLS[name](self._data.shape, *args, **kwargs)
            warnings.warn(
                f"Use of {name}_ on expanded tensors is deprecated. Please clone() the tensor "
                "before performing this operation. This also applies to advanced indexing "
                "e.g. tensor[mask] = scalar",
                UserWarning,
                stacklevel=2,
            )
        return write(self, out, where)

    method.__name__ = f"{fn.__name__}_"
    method.__doc__ = f"In-place ``{fn.__name__}`` (torch's rules: version bump, leaf check)."
    return method


@op
def fill_(input: Tensor, value: Any) -> Tensor:
    """Write ``value`` (a number or a 0-d tensor) into every element of ``input``."""
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(
                "fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value._data.ndim} dimensions."
            )
        _refuse_multi(input, (value,))
        return write(input, Copy.apply(input, value))
    _refuse_multi(input)
    return write(input, Fill.apply(input, value=value), where=True)


@op
def zero_(input: Tensor) -> Tensor:
    """Write zeros into ``input`` (its gradient through the write is zero)."""
    _refuse_multi(input)
    out = Fill.apply(input, value=0)
    if out.grad_fn is not None:
        out.grad_fn.value_is_zero = True
    return write(input, out, where=True)


@tensor_method
def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copy the values of ``src`` (broadcast, converted to this dtype) into this tensor;
    the gradient flows to ``src``.
    """
    _refuse_multi(self, (src,))
    same = isinstance(src, Tensor) and (src is self or _same_data(src._data, self._data))
    if not same:
        check_overlap(self, (src,))
    return write(self, Copy.apply(self, as_tensor_arg(src, "src")), where=False if same else None)


def _sampler(kind: str):
    def method(self: Tensor, *args: Any, generator: Any = None, **kwargs: Any) -> Tensor:
        rng = _rng(generator)
        shape = self._data.shape
        if kind == "uniform_":
            lo, hi = (
                (list(args) + [kwargs.get("from", 0.0), kwargs.get("to", 1.0)])[:2]
                if args
                else (kwargs.get("from", 0.0), kwargs.get("to", 1.0))
            )
            values = rng.uniform(lo, hi, shape)
        elif kind == "normal_":
            mean, std = (
                (list(args) + [0.0, 1.0][len(args) :])[:2]
                if args
                else (kwargs.get("mean", 0.0), kwargs.get("std", 1.0))
            )
            values = rng.normal(mean, std, shape)
        else:  # bernoulli_
            p = args[0] if args else kwargs.get("p", 0.5)
            values = rng.random(shape) < (p._data if isinstance(p, Tensor) else p)
        with no_grad():
            return write(self, _make(np.asarray(values).astype(self._data.dtype)))

    method.__name__ = method.__qualname__ = kind
    method.__doc__ = {
        "uniform_": "Fill with samples of U(from, to) (default U(0, 1)) in place; "
        "``generator=`` picks the generator.",
        "normal_": "Fill with samples of N(mean, std²) (default N(0, 1)) in place; "
        "``generator=`` picks the generator.",
        "bernoulli_": "Fill with 1 with probability ``p`` (a number or a tensor), else 0, in "
        "place; ``generator=`` picks the generator.",
    }[kind]
    return tensor_method(method)


uniform_, normal_, bernoulli_ = _sampler("uniform_"), _sampler("normal_"), _sampler("bernoulli_")
