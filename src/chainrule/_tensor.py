"""The Tensor: an n-d array plus graph bookkeeping (grad, grad_fn, backward, retain_grad).

The math lives in ``chainrule.ops``, which attaches the operators and methods to this class;
this file only knows how a tensor stores its data and gradient and how ``backward`` runs
the shared walk in ``graph.py`` over the graph of op nodes.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from chainrule import _layout, dtypes
from chainrule._device import CPU
from chainrule._trace import state as _trace
from chainrule.dtypes import c_type_name, kind_of, scalar_type_name
from chainrule.printing import tensor_repr

if TYPE_CHECKING:  # the registry's methods, as type checkers see them (chainrule._stubs)
    from chainrule._tensor_methods import TensorMethods as _Methods
else:
    _Methods = object

__all__ = ["Tensor", "Size", "mutate"]


class _Handle:
    """What ``register_hook`` returns: ``handle.remove()`` takes the hook off again."""

    _next = 0

    def __init__(self, hooks: dict, hook: Any) -> None:
        _Handle._next += 1
        self.id, self.hooks = _Handle._next, hooks
        hooks[self.id] = hook

    def remove(self) -> None:
        self.hooks.pop(self.id, None)


class Size(tuple):
    """The shape of a tensor: a tuple that prints like torch's (``chainrule.Size([2, 3])``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"chainrule.Size({list(self)})"

    def numel(self) -> int:
        """The number of elements (the product of the shape)."""
        n = 1
        for s in self:
            n *= s
        return n


_new = object.__new__


def _make(data: np.ndarray, grad_fn: Any = None) -> Tensor:
    """Wrap an array as a tensor (the hot path: no checks, no copies)."""
    t = _new(Tensor)
    t._data = data
    t.grad_fn = grad_fn
    t._requires_grad = grad_fn is not None
    t._vc = None
    t._multi = None  # read by every recording op: set, so the read is no missing-slot error
    t._grad_from_base = False  # read for every leaf operand that requires grad: likewise
    return t


class Tensor(_Methods):
    """An n-dimensional array that records how it was computed, so it can be differentiated
    (PyTorch's ``torch.Tensor``).

    Make one with ``chainrule.tensor(data)``, ``chainrule.zeros(...)`` and the other creation
    functions. A tensor with ``requires_grad=True`` is a leaf of a graph: every result computed
    from it has a ``grad_fn`` (the operation that made it) and ``result.backward()`` fills the
    leaf's ``.grad``. Operators and methods follow PyTorch: ``x @ w + b``, ``x.sum(dim=0)``,
    ``x.relu_()`` (a trailing ``_`` writes in place).

    Example:
        >>> x = chainrule.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4.])
    """

    # Only _data, grad_fn, _requires_grad, _vc and _multi are set on every tensor; the rarely
    # used slots (_grad, _retains_grad, _view_base, _views, hooks) are read with a default,
    # which keeps creating a tensor (done millions of times) cheap. (_multi is read by every
    # op that records, and reading an unset slot costs an AttributeError: ~0.4 us.)
    #
    # _vc is the version counter, a one-element list shared by a tensor and its views and
    # made on first need (None means version 0): in-place operations bump it, and backward
    # refuses saved tensors whose version moved. _view_base (torch's _base, a property) is
    # the tensor whose memory a view shares; _views (on a base) holds weak references to its
    # views, whose histories are rebuilt when the base is modified in place. _creation is
    # "no_grad" on a view made under no_grad (torch's CreationMeta); _grad_from_base marks a
    # view with no history that requires grad because its base does (torch's), with no
    # .grad of its own; _view_version is the version such a view was made at (torch's
    # attr_version): if its memory was written since, it gets a history from its base once
    # the base requires grad.

    __slots__ = (
        "_data",
        "grad_fn",
        "_requires_grad",
        "_grad",
        "_retains_grad",
        "_acc",
        "_vc",
        "_view_base",
        "_views",
        "_multi",
        "_creation",
        "_grad_from_base",
        "_view_version",
        "_hooks",
        "_hooks_of",
        "_post_hooks",
        "_fw",
        "_alias",
        "__weakref__",
    )
    # the slots' types, for type checkers (annotations only: no class attributes)
    _data: np.ndarray
    grad_fn: Any
    _requires_grad: bool
    _grad: Tensor | None
    _retains_grad: Any  # retain_grad(): a weak reference to the node that fills .grad
    _acc: Any
    _vc: list[int] | None
    _view_base: Tensor | None
    _views: Any
    _multi: tuple | None  # a view from split/chunk/unbind: (output number, node name, grad,
    # version when made); a view made under no_grad: (NO_GRAD_VIEW, view node name, ...)
    _creation: str | None
    _grad_from_base: bool
    _hooks: dict[int, Any]
    _post_hooks: dict[int, Any]
    _fw: Any
    _alias: Any  # detach()'s: a weak reference to the graph tensor whose memory it shares
    __array_ufunc__ = None  # make `ndarray * tensor` defer to Tensor.__rmul__
    _edges = ()  # as a vertex of the graph, a leaf has no parents
    __hash__ = object.__hash__  # identity, like torch: `==` is elementwise

    def __new__(cls, *args: Any) -> Tensor:
        # torch's legacy constructor: Tensor(2, 3) is uninitialised, Tensor([1, 2]) is data;
        # both give the default float dtype.
        if not args:
            args = (0,)  # Tensor(): an empty 1-d tensor, as torch
        if len(args) == 1 and not isinstance(args[0], int):
            data = np.array(args[0], dtype=dtypes.get_default_dtype().np)
        else:
            data = np.zeros(args, dtype=dtypes.get_default_dtype().np)
        t = _new(cls)
        t._data = data
        t.grad_fn = None
        t._requires_grad = False
        t._vc = None
        t._multi = None
        t._grad_from_base = False
        return t

    @staticmethod
    def _make_subclass(cls: type, data: Tensor, require_grad: bool = False) -> Any:
        """torch's ``Tensor._make_subclass``: a leaf of type ``cls`` on ``data``'s memory,
        sharing its version counter (how ``Parameter`` wraps a tensor)."""
        t: Tensor = _new(cls)
        t._data = data._data
        t.grad_fn = None
        t._requires_grad = False
        t._vc = version_counter(data)
        t._multi = None
        t._grad_from_base = False
        if require_grad:
            if kind_of(data._data.dtype) not in "fc":
                raise RuntimeError(
                    "Only Tensors of floating point and complex dtype can require gradients"
                )
            t._requires_grad = True
        return t

    # ------------------------------------------------------------------ attributes

    @property
    def shape(self) -> Size:
        """The size of each dimension, a ``chainrule.Size`` (a tuple): ``x.shape == (2, 3)``."""
        return Size(self._data.shape)

    @overload
    def size(self, dim: None = None) -> Size: ...
    @overload
    def size(self, dim: int) -> int: ...
    def size(self, dim: int | None = None) -> Size | int:
        """The shape as a ``chainrule.Size``, or the size of dimension ``dim`` (negative counts
        from the end).
        """
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[wrap_dim(dim, self._data.ndim)]

    @overload
    def stride(self, dim: None = None) -> tuple[int, ...]: ...
    @overload
    def stride(self, dim: int) -> int: ...
    def stride(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The strides in elements, as torch reports them (see ``_layout.strides``)."""
        st = _layout.strides(self._data)
        return st if dim is None else st[wrap_dim(dim, len(st))]

    def is_contiguous(self, memory_format: Any = _layout.contiguous_format) -> bool:
        """torch's contiguity test (size-1 dims and empty tensors do not count);
        ``channels_last``/``channels_last_3d`` are checked in torch's dim order."""
        return _layout.is_contiguous(self._data, memory_format)

    def dim(self) -> int:
        """The number of dimensions (``len(x.shape)``)."""
        return self._data.ndim

    @property
    def ndim(self) -> int:
        """The number of dimensions, as ``dim()``."""
        return self._data.ndim

    def ndimension(self) -> int:
        """The number of dimensions; an alias of ``dim()``."""
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements (the product of the shape)."""
        return self._data.size

    def nelement(self) -> int:
        """The number of elements; an alias of ``numel()``."""
        return self._data.size

    @property
    def dtype(self) -> dtypes.dtype:
        """The element type: ``chainrule.float32``, ``chainrule.int64`` ..."""
        return dtypes.FROM_NP[self._data.dtype]

    @property
    def _base(self) -> Tensor | None:
        """torch's ``Tensor._base``: the tensor whose memory this view shares, None when
        this tensor is no view."""
        return getattr(self, "_view_base", None)

    def _is_view(self) -> bool:
        """torch's ``Tensor._is_view()``: does this tensor share another one's memory?"""
        return getattr(self, "_view_base", None) is not None

    @property
    def device(self) -> Any:
        """Where the data lives: always ``device(type='cpu')``."""
        return CPU

    is_cuda = False

    def cpu(self) -> Tensor:
        """This tensor (chainrule's tensors are on the CPU already)."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        """Raises RuntimeError: chainrule has no CUDA device."""
        raise RuntimeError("chainrule runs on the CPU only: there is no CUDA device")

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating-point type (float16, bfloat16, float32, float64)."""
        return kind_of(self._data.dtype) == "f"

    def is_complex(self) -> bool:
        """Whether the dtype is complex (complex64/128)."""
        return kind_of(self._data.dtype) == "c"

    def element_size(self) -> int:
        """The size of one element in bytes (4 for float32)."""
        return self._data.itemsize

    @property
    def data(self) -> Tensor:
        """The same values, detached from the graph (shares memory)."""
        return _make(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        """torch's ``set_data``: rebind to ``value``'s memory; the version does not move."""
        self._data = value._data

    @property
    def is_leaf(self) -> bool:
        """True for a tensor no recorded operation made (``grad_fn is None``): created by
        the user, or not requiring grad. Only leaves get ``.grad`` from ``backward()``.
        """
        if getattr(self, "_multi", None) is not None:  # torch reads the history: may refuse
            check_multi_view(self)
        elif self.grad_fn is None and getattr(self, "_grad_from_base", False):
            rederive_written_view(self)
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded for ``backward()``. Settable on a
        leaf; only floating-point and complex tensors can require gradients.
        """
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self.grad_fn is not None:  # torch's setter refuses a non-leaf either way
            raise RuntimeError(_NON_LEAF_FLAG if flag else _NON_LEAF_FLAG + _NON_LEAF_FLAG_HINT)
        if flag and kind_of(self._data.dtype) not in "fc":  # the setter's words differ (torch)
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients"
            )
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return this tensor (``w =
        cr.randn(3).requires_grad_()``).
        """
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(_NON_LEAF_FLAG + _NON_LEAF_FLAG_HINT)
            return self
        if requires_grad and kind_of(self._data.dtype) not in "fc":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        base = getattr(self, "_view_base", None)
        if not requires_grad and base is not None and base._requires_grad:
            self._requires_grad = self._grad_from_base = True  # a view follows its base
            return self
        self._requires_grad = bool(requires_grad)
        self._grad_from_base = False
        self._views_follow(requires_grad)
        return self

    def _views_follow(self, requires_grad: bool) -> None:
        views = getattr(self, "_views", None)
        if views:  # a view with no history requires grad as its base does (torch)
            for ref in views[1:]:
                v = ref()
                if v is not None and v.grad_fn is None and kind_of(v._data.dtype) in "fc":
                    from_base = getattr(v, "_grad_from_base", False)
                    if requires_grad and not v._requires_grad:
                        v._requires_grad = v._grad_from_base = True
                    elif not requires_grad and from_base:  # its own flag stays (torch)
                        v._requires_grad = v._grad_from_base = False
                    if requires_grad:
                        rederive_written_view(v)

    @property
    def grad(self) -> Tensor | None:
        """The gradient ``backward()`` accumulated into this leaf (``None`` until then), the
        shape of the tensor. A non-leaf has one only after ``retain_grad()`` (reading it otherwise
        warns).
        """
        if self.grad_fn is not None and not getattr(self, "_retains_grad", False):
            warnings.warn(_NON_LEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return getattr(self, "_grad", None)

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}"
                )
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value._data.shape)}' to a "
                    f"tensor of size '{list(self._data.shape)}'. Please ensure that the "
                    "gradient and the tensor are the same size"
                )
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{c_type_name(value._data)}' "
                    f"to a tensor with grad_dtype '{scalar_type_name(self._data)}'. The "
                    "gradient must match the tensor's grad_dtype (defaults to the tensor's "
                    "dtype). You can set the tensor's grad_dtype attribute with a specific "
                    "dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging "
                    "the dtypes of a tensor and its gradient may break downstream systems "
                    "that assume they match."
                )
        self._grad = value

    @property
    def retains_grad(self) -> bool:
        """Whether ``retain_grad()`` was called on this non-leaf tensor."""
        # set by retain_grad() on a non-leaf only; torch keeps it through detach_()
        return bool(getattr(self, "_retains_grad", False))

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` during backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or getattr(self, "_retains_grad", False):
            return
        multi = getattr(self, "_multi", None)
        if multi is not None:
            if multi[0] == NO_GRAD_VIEW or not multi[2]:  # made with no history of its own
                return  # (torch's C++ is_leaf reads the raw grad_fn, none: a no-op)
            check_multi_view(self)  # torch reads the history: may refuse
        self._retains_grad = weakref.ref(self.grad_fn)
        self.grad_fn._retained = weakref.ref(self)
        self.grad_fn._hooked = True  # (the plain walk's one test: see Op._hooked)

    def detach(self) -> Tensor:
        """A new tensor on the same memory, cut from the graph (it shares the version
        counter, so an in-place change through it is still caught by backward)."""
        t = _make(self._data)
        t._vc = version_counter(self)
        alias = getattr(self, "_alias", None)
        if alias is None:  # a write through t re-derives the views of that memory (torch)
            base = getattr(self, "_view_base", None)
            alias = weakref.ref(self if base is None else base)
        t._alias = alias
        return t

    @property
    def _version(self) -> int:
        return 0 if self._vc is None else self._vc[0]

    def register_hook(self, hook: Any) -> Any:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a non-None return
        value replaces the gradient."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks = getattr(self, "_hooks_of", None)
        if hooks is not None:  # torch's: the list made by the first hook, on the node that
            return _Handle(hooks, hook)  # was grad_fn then, until this tensor is written
        check_multi_view(self)
        if self.grad_fn is not None:
            handle = self.grad_fn._add_hook(hook)
            self._hooks_of = self.grad_fn._hooks
            return handle
        hooks = getattr(self, "_hooks", None)
        if hooks is None:
            hooks = self._hooks = {}
        return _Handle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Any) -> Any:
        """Call ``hook(tensor)`` after this leaf's ``.grad`` has been updated."""
        if self.grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        hooks = getattr(self, "_post_hooks", None)
        if hooks is None:
            hooks = self._post_hooks = {}
        return _Handle(hooks, hook)

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place. A leaf stops requiring grad, so a graph
        built before leaves its ``.grad`` alone; a node that saved this (non-leaf) tensor
        refuses to run, as torch's SavedVariable does."""
        if getattr(self, "_view_base", None) is not None:
            raise RuntimeError(_DETACH_VIEW)
        if self.grad_fn is not None:
            inplace_log.count += 1  # turns on the saved-tensor checks (Op._check_versions)
        self.grad_fn = None
        self._requires_grad = False
        self._views_follow(False)
        return self

    # ------------------------------------------------------------------ conversion

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number (``float``, ``int``, ``bool``)."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists of numbers; a 0-d tensor gives a number."""
        return self._data.tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The values as a NumPy array sharing this tensor's memory. Raises for a tensor that
        requires grad (use ``x.detach().numpy()``) unless ``force=True``.
        """
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. "
                "Use tensor.detach().numpy() instead."
            )
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def __len__(self) -> int:
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if not self._data.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with no values is ambiguous"
                if self._data.size == 0
                else "Boolean value of Tensor with more than one value is ambiguous"
            )
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __index__(self) -> int:
        if kind_of(self._data.dtype) not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.item())

    def __repr__(self) -> str:
        return tensor_repr(self)

    def __format__(self, format_spec: str) -> str:
        """``f"{loss:.4f}"``: a 0-d plain tensor formats as its Python number (torch's rule);
        any other tensor only with an empty spec (as ``object.__format__``)."""
        if self._data.ndim == 0 and type(self) is Tensor:
            return self._data.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __deepcopy__(self, memo: dict) -> Tensor:
        """``copy.deepcopy`` of a leaf: new memory, same requires_grad, grad copied (torch)."""
        if self.grad_fn is not None:
            raise RuntimeError(_DEEPCOPY_NON_LEAF)
        if id(self) in memo:
            return memo[id(self)]
        new = _new(type(self))
        new._data, new.grad_fn, new._vc = self._data.copy(), None, None
        new._multi, new._grad_from_base = None, False  # (set on every tensor: see __slots__)
        new._requires_grad = self._requires_grad
        g = getattr(self, "_grad", None)
        if g is not None:
            new._grad = g.__deepcopy__(memo)
        memo[id(self)] = new
        return new

    def __reduce__(self) -> Any:
        raise TypeError("chainrule tensors are not pickled; use chainrule.save (safetensors)")

    # ------------------------------------------------------------------ backward

    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Sequence[Tensor] | Tensor | None = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into each leaf's ``.grad`` (vᵀJ with ``gradient=v``)."""
        # the one call from the tensor into the engine, which is built on Tensor: a deliberate
        # inversion, imported here (tests/test_layers.py lists it with the other allowed ones)
        from chainrule._engine import run_backward

        if isinstance(inputs, Tensor):
            inputs = [inputs]
        run_backward((self,), (gradient,), retain_graph, create_graph, inputs, accumulate=True)


_NON_LEAF_FLAG = "you can only change requires_grad flags of leaf variables."
_NON_LEAF_FLAG_HINT = (
    " If you want to use a computed variable in a subgraph that doesn't require "
    "differentiation use var_no_grad = var.detach()."
)

_DETACH_VIEW = (
    "Can't detach views in-place. Use detach() instead. If you are using "
    "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set as True, "
    "gradients are views of DDP buckets, and hence detach_() cannot be called on these "
    "gradients. To fix this error, please refer to the Optimizer.zero_grad() function in "
    "torch/optim/optimizer.py as the solution."
)

_DEEPCOPY_NON_LEAF = (
    "Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol "
    "at the moment.  If you were attempting to deepcopy a module, this may be because of a "
    "chainrule.nn.utils.weight_norm usage, see https://github.com/pytorch/pytorch/pull/103001"
)

_NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead. See github.com/pytorch/pytorch/pull/30531 for more information."
)


class _InplaceLog:
    """How many in-place writes have run (in any thread): while none has, no version needs
    recording or checking, and the hot path pays nothing for in-place safety."""

    __slots__ = ("count",)  # (a slot: read per op, and 3.11 specializes slot reads only)

    def __init__(self) -> None:
        self.count = 0


inplace_log = _InplaceLog()


def mutate(t: Tensor, values: Any = None, *, times: int = 1, rebase: bool = True) -> np.ndarray:
    """Write ``t``'s values in place: the one way to change a tensor's storage from outside
    the tensor core (optimizers, ``nn.init``, ``load_state_dict``, gradient clipping, running
    statistics), and the version bump of the in-place ops themselves.

    Counts ``times`` in-place operations on ``t``, as torch's ``p.add_(...)``, ``copy_`` or
    ``zero_`` under no_grad count them: the version counter that ``t`` shares with its views
    and detached aliases moves by ``times``, so backward through a graph that saved ``t``
    raises torch's "modified by an inplace operation" error instead of using the new
    values. ``times=0`` marks a write that torch's kernel makes without counting it
    (BatchNorm's running statistics). With ``values`` (an array or a number), they are copied
    in, broadcast and cast like ``copy_``; a read-only array (a broadcast view) is replaced
    by one of its own. Returns ``t``'s array, for further in-place NumPy updates, which must
    follow at once (before anything reads ``t``).

    As torch's in-place op under no_grad, a counted write also re-derives the views of
    ``t``'s memory that have a history (``rebase_views``): an optimizer's step on a
    parameter gives a view taken of it before a new history from the parameter, so
    ``autograd.grad`` of the old view then gives None, as torch's. The in-place ops, which
    do that themselves, pass ``rebase=False``."""
    if _trace.tracer is not None:  # cr.compile is tracing: a write it must see
        _trace.tracer.write(t)
    if times:
        inplace_log.count += 1
        vc = t._vc
        if vc is None:
            vc = version_counter(t)
        vc[0] += times
        if rebase:
            rebase_views(t)
    data = t._data
    if values is not None:
        if data.flags.writeable:
            np.copyto(data, values, casting="unsafe")
        else:
            data = t._data = np.array(np.broadcast_to(values, data.shape), dtype=data.dtype)
    return data


_MULTI_REBASED = (
    " its base or another view of its base has been modified inplace{}. This view is the "
    "output of a function that returns multiple views. Such functions do not allow the "
    "output views to be modified inplace. You should replace the inplace operation by an "
    "out-of-place one."
)


NO_GRAD_VIEW = -1  # ``_multi[0]`` of a view made under no_grad (or of a view of one)


_NO_GRAD_REBASED = (
    " its base or another view of its base has been modified inplace with grad mode enabled."
    " Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify"
    " your code by moving both the view and the inplace either both inside the no_grad block"
    " (if you don't want the inplace to be tracked) or both outside (if you want the inplace"
    " to be tracked)."
)


def rederive_written_view(v: Tensor) -> None:
    """torch's view replay for a view made with no history (before its base required
    grad): once its base requires grad and its memory was written since it was made (its
    version moved), its history is derived from the base (AsStridedBackward0), so it is no
    leaf and a gradient through it reaches the base. Checked when the base starts requiring
    grad, and when the view is used or asked ``is_leaf`` (a write after that)."""
    if (
        v.grad_fn is None
        and getattr(v, "_grad_from_base", False)
        and getattr(v, "_view_version", None) != version_counter(v)[0]
        and getattr(v, "_creation", None) is None
    ):
        replay_view(v)


def rebase_views(t: Tensor) -> None:
    """After a write to ``t`` outside the graph: its memory's views re-derived from their
    base (torch's view replay). The op layer (``ops.inplace``) sets this when it is
    imported; until then there are no views with a history to re-derive."""


def replay_view(v: Tensor) -> None:
    """Give ``v`` a history derived from its base's. The op layer's (``ops.inplace``)
    replaces this when it is imported: the Tensor layer does not import the op catalog."""
    raise NotImplementedError("chainrule.ops is not imported")


def check_multi_view(t: Tensor) -> None:
    """torch's view replay refused: an output of split/chunk/unbind, a view made under
    no_grad, or a view of either, whose memory was written in place since it was made (its
    base or a sibling written, also under no_grad or through ``detach()``) raises when its
    history is read (by an op, a hook, backward)."""
    multi = getattr(t, "_multi", None)
    if multi is None or len(multi) < 4 or multi[3] == version_counter(t)[0]:
        return
    if t.grad_fn is None:
        base = getattr(t, "_view_base", None)
        if not t._requires_grad or (
            base is not None and base.grad_fn is None and not base._requires_grad
        ):  # nothing to re-derive from: a leaf that requires grad on its own
            return
    nr, name, grad = multi[:3]
    if nr == NO_GRAD_VIEW:
        if name:
            name = name[: name.rfind("Backward")] if "Backward" in name else name
            raise RuntimeError(
                f"Output 0 of {name} is a view of a view which was created in no_grad mode and"
                + _NO_GRAD_REBASED
            )
        raise RuntimeError("A view was created in no_grad mode and" + _NO_GRAD_REBASED)
    if grad:
        name = name[: name.rfind("Backward")] if "Backward" in name else name
        raise RuntimeError(f"Output {nr} of {name} is a view and" + _MULTI_REBASED.format(""))
    raise RuntimeError(
        "A view was created in no_grad mode and" + _MULTI_REBASED.format(" with grad mode enabled")
    )


def version_counter(t: Tensor) -> list:
    """The tensor's version counter, made (and shared with its base) on first need."""
    vc = t._vc
    if vc is None:
        base = getattr(t, "_view_base", None)
        if base is not None:
            vc = version_counter(base)
        else:
            vc = _output_counter(t)
        t._vc = vc
    return vc


def _output_counter(t: Tensor) -> list:
    """A new counter for ``t``, or, when ``t`` is the output a node saved for backward (exp,
    sigmoid), the one the node checks: the node gets it as soon as it exists, so a write
    through any alias sharing it (``t.detach()``, a view made under no_grad) is caught, as
    torch checks a saved output against the tensor's own counter (``t.data`` shares none).
    A tensor the node re-wraps its output in (``Op.output``) shares it too."""
    node = t.grad_fn
    out = getattr(node, "out_data", None)
    if out is None or not np.may_share_memory(out, t._data):
        return [0]
    if node._out_version is None:
        node._out_version = ([0], 0)
    return node._out_version[0]


def wrap_dim(dim: int, ndim: int) -> int:
    """A dimension index in ``[0, ndim)``; torch's IndexError text when out of range."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n
