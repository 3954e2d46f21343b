"""Making tensors: from data, filled, ranges, identity, and seeded random numbers."""

from __future__ import annotations

import builtins
import contextlib
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from chainrule import _layout, dtypes
from chainrule._device import check_cpu
from chainrule._registry import op, tensor_method
from chainrule._tensor import Tensor, _make
from chainrule._trace import state as trace
from chainrule.dtypes import kind_of

__all__ = [
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "zeros_like",
    "ones_like", "empty_like", "full_like", "arange", "linspace", "eye", "rand", "randn",
    "randint", "rand_like", "randn_like", "randint_like", "randperm", "manual_seed",
    "seed", "initial_seed", "Generator", "default_generator", "scalar_tensor", "tril_indices",
    "triu_indices",
]  # fmt: skip


def _finish(data: np.ndarray, requires_grad: bool, constant: bool = False) -> Tensor:
    """The new tensor; ``constant``: its values follow from the arguments alone (no draw),
    so while ``cr.compile`` traces, a tensor made without a gradient is a constant of the
    trace (as torch.compile bakes ``torch.arange(T)`` into its graph)."""
    if constant and not requires_grad and trace.tracer is not None:
        trace.tracer.constant(data)
    t = _make(data)
    if requires_grad:
        if kind_of(data.dtype) not in "fc":
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients"
            )
        t._requires_grad = True
    return t


def _infer(data: Any, np_dtype: np.dtype | None = None) -> np.ndarray:
    """An array from nested Python data with torch's dtype inference (floats -> default)."""
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, list | tuple) and any(isinstance(x, Tensor) for x in _flat(data)):
        data = _untensor(data)
    arr = np.array(data)
    if np_dtype is not None and kind_of(arr.dtype) not in "OUS":
        np_dtype = np.dtype(np_dtype)
        if np_dtype.kind in "iu" and kind_of(arr.dtype) in "fc" and arr.size:
            info = np.iinfo(np_dtype)  # torch refuses what NumPy would wrap or make up
            if not (
                np.isfinite(arr).all() and info.min <= arr.real.min() <= arr.real.max() <= info.max
            ):
                raise RuntimeError(
                    f"value cannot be converted to type {np_dtype.name} without overflow"
                )
        with np.errstate(over="ignore"):  # float16 overflows to inf silently, as in torch
            return arr.astype(np_dtype)
    if kind_of(arr.dtype) == "f":
        arr = arr.astype(dtypes.get_default_dtype().np)
    elif kind_of(arr.dtype) == "c":
        arr = arr.astype(
            np.complex64 if dtypes.get_default_dtype() is not dtypes.float64 else np.complex128
        )
    elif kind_of(arr.dtype) == "i" and arr.dtype != np.int64:
        arr = arr.astype(np.int64)
    elif kind_of(arr.dtype) in "OUS":
        bad = next((x for x in _flat(data) if not isinstance(x, numbers.Number)), data)
        raise TypeError(f"new(): invalid data type '{type(bad).__name__}'")
    return arr


def _flat(data: Any):
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, list | tuple):
            stack.extend(x)
        else:
            yield x


def _untensor(data: Any) -> Any:
    if isinstance(data, Tensor):
        if data._data.size != 1 or data._data.ndim:
            return data._data.tolist()
        return data.item()
    if isinstance(data, list | tuple):
        return [_untensor(x) for x in data]
    return data


def tensor(
    data: Any, *, dtype: dtypes.dtype | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays, tensors)."""
    check_cpu(device)
    if isinstance(data, np.ndarray | np.generic):
        dtypes.from_np(data.dtype)  # TypeError for unsupported dtypes
        arr = np.array(data, dtype=dtypes.to_np(dtype), copy=True)
    else:
        arr = _infer(data, dtypes.to_np(dtype))
        arr = np.array(arr, copy=True)
    return _finish(arr, requires_grad)


def as_tensor(data: Any, dtype: dtypes.dtype | None = None, device: Any = None) -> Tensor:
    """Like ``tensor`` but shares memory with a tensor or ndarray when the dtype allows."""
    check_cpu(device)
    if isinstance(data, Tensor):
        return data if dtype is None or dtype.np == data._data.dtype else data.to(dtype)
    if isinstance(data, np.ndarray):
        dtypes.from_np(data.dtype)
        return _make(data if dtype is None else data.astype(dtype.np, copy=False))
    return tensor(data, dtype=dtype)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``ndarray``."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dtypes.from_np(ndarray.dtype)
    return _make(ndarray)


def scalar_tensor(
    s: Any, *, dtype: dtypes.dtype | None = None, requires_grad: bool = False
) -> Tensor:
    """A 0-d tensor holding the number ``s`` (default dtype unless given)."""
    return tensor(s, dtype=dtype or dtypes.get_default_dtype(), requires_grad=requires_grad)


def _size(size: Sequence[Any], name: str) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], Sequence | Tensor) and not isinstance(size[0], str):
        size = tuple(size[0])
    shape = tuple(int(s) for s in size)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{name}: Dimension size must be non-negative.")
    return shape


def _filled(name: str, fill: Any, size: tuple, dtype: Any, requires_grad: bool) -> Tensor:
    shape = _size(size, name)
    np_dtype = dtypes.to_np(dtype) or dtypes.get_default_dtype().np
    return _finish(np.full(shape, fill, dtype=np_dtype), requires_grad, constant=True)


def zeros(
    *size: Any, dtype: dtypes.dtype | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of the given size filled with 0 (``zeros(2, 3)`` or ``zeros((2, 3))``)."""
    check_cpu(device)
    return _filled("zeros", 0, size, dtype, requires_grad)


def ones(
    *size: Any, dtype: dtypes.dtype | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of the given size filled with 1."""
    check_cpu(device)
    return _filled("ones", 1, size, dtype, requires_grad)


def empty(
    *size: Any, dtype: dtypes.dtype | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of the given size with unspecified values (fill it before reading)."""
    check_cpu(device)
    shape = _size(size, "empty")
    np_dtype = dtypes.to_np(dtype) or dtypes.get_default_dtype().np
    return _finish(np.empty(shape, dtype=np_dtype), requires_grad)


def full(
    size: Sequence[int],
    fill_value: Any,
    *,
    dtype: dtypes.dtype | None = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (its dtype follows the value
    unless ``dtype`` is given).
    """
    check_cpu(device)
    if dtype is None:  # torch infers the dtype from the fill value
        dtype = dtypes.FROM_NP[dtypes.result_type(fill_value)]
    return _filled("full", fill_value, (size,), dtype, requires_grad)


def _like(input: Tensor, dtype: Any) -> tuple:
    return input._data.shape, dtype if dtype is not None else input.dtype


def _laid_out(input: Tensor, t: Tensor, memory_format: Any) -> Tensor:
    """``t`` (new, C order) in the layout of torch's ``*_like(input)``: input's strides by
    default (preserve_format, when input is not contiguous)."""
    data = _layout.like(input._data, t._data, memory_format)
    return t if data is t._data else _finish(data, t.requires_grad)


def zeros_like(
    input: Tensor,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = _layout.preserve_format,
) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``input``."""
    check_cpu(device)
    shape, dt = _like(input, dtype)
    return _laid_out(input, _filled("zeros_like", 0, (shape,), dt, requires_grad), memory_format)


def ones_like(
    input: Tensor,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = _layout.preserve_format,
) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``input``."""
    check_cpu(device)
    shape, dt = _like(input, dtype)
    return _laid_out(input, _filled("ones_like", 1, (shape,), dt, requires_grad), memory_format)


def empty_like(
    input: Tensor,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = _layout.preserve_format,
) -> Tensor:
    """Unspecified values with the shape (and dtype, unless given) of ``input``."""
    check_cpu(device)
    shape, dt = _like(input, dtype)
    return _laid_out(input, empty(shape, dtype=dt, requires_grad=requires_grad), memory_format)


def full_like(
    input: Tensor,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = _layout.preserve_format,
) -> Tensor:
    """``fill_value`` with the shape (and dtype, unless given) of ``input``."""
    check_cpu(device)
    shape, dt = _like(input, dtype)
    out = _filled("full_like", fill_value, (shape,), dt, requires_grad)
    return _laid_out(input, out, memory_format)


# ``x.new_*``: a new tensor with x's dtype unless given (torch's Tensor.new_zeros ...)


def _new_filled(name: str, fill: Any) -> Any:
    """``x.new_zeros(*size)`` and the like: filled with ``fill`` (``new_empty``: any value)."""

    def method(
        self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        check_cpu(device)
        return _filled(name, fill, size, dtype or self.dtype, requires_grad)

    method.__name__ = method.__qualname__ = name
    what = {"new_zeros": "zeros", "new_ones": "ones", "new_empty": "uninitialized values"}[name]
    method.__doc__ = (
        f"A new tensor of the given size filled with {what}, with this tensor's dtype "
        "unless ``dtype`` is given (``x.new_zeros(2, 3)``)."
    )
    return tensor_method(method)


new_zeros = _new_filled("new_zeros", 0)
new_ones = _new_filled("new_ones", 1)
new_empty = _new_filled("new_empty", 0)


@tensor_method
def new_full(
    self: Tensor,
    size: Sequence[int],
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A new tensor of shape ``size`` filled with ``fill_value``, with this tensor's dtype
    unless ``dtype`` is given.
    """
    check_cpu(device)
    return _filled("new_full", fill_value, (size,), dtype or self.dtype, requires_grad)


@tensor_method
def new_tensor(
    self: Tensor, data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A new tensor holding a copy of ``data``, with this tensor's dtype unless ``dtype`` is
    given.
    """
    check_cpu(device)
    return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive); int64 unless a bound is a float."""
    check_cpu(device)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) / step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        is_float = any(
            isinstance(v, float) or isinstance(v, Tensor) and v.is_floating_point()
            for v in (start, end, step)
        )
        dtype = dtypes.get_default_dtype() if is_float else dtypes.int64
    n = int(np.ceil((float(end) - float(start)) / float(step)))
    data = (start + np.arange(builtins.max(n, 0), dtype=np.float64) * step).astype(dtype.np)
    return _finish(data, requires_grad, constant=True)


def linspace(
    start: float,
    end: float,
    steps: int,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``steps`` values evenly spaced from ``start`` to ``end``, both included."""
    check_cpu(device)
    if steps < 0:
        raise RuntimeError("linspace(): number of steps must be non-negative")
    np_dtype = dtypes.to_np(dtype) or dtypes.get_default_dtype().np
    if np_dtype in dtypes.REDUCED and steps > 1:
        return _finish(_linspace_reduced(start, end, steps, np_dtype), requires_grad, True)
    data = np.linspace(float(start), float(end), steps).astype(np_dtype)
    return _finish(data, requires_grad, constant=True)


def _linspace_reduced(start: float, end: float, steps: int, dt: np.dtype) -> np.ndarray:
    """torch's linspace kernel in float16/bfloat16 arithmetic, each operation rounded:
    ``start + step * i`` for the first half, ``end - step * (steps - 1 - i)`` after."""

    def r(v: Any) -> np.ndarray:
        return np.asarray(v, np.float32).astype(dt).astype(np.float32)

    s, e = r(float(start)), r(float(end))
    step = r(r(e - s) / r(steps - 1))
    i = np.arange(steps)
    lo = r(s + r(step * r(i)))
    hi = r(e - r(step * r(steps - 1 - i)))
    return np.where(i < steps // 2, lo, hi).astype(dt)


def eye(
    n: int,
    m: int | None = None,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """An ``n x m`` matrix (``m`` defaults to ``n``) with ones on the diagonal, zeros elsewhere."""
    check_cpu(device)
    if n < 0 or m is not None and m < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {builtins.min(n, m or 0)}")
    np_dtype = dtypes.to_np(dtype) or dtypes.get_default_dtype().np
    return _finish(np.eye(n, m, dtype=np_dtype), requires_grad, constant=True)


def _tri_indices(
    name: str, row: int, col: int, offset: int, dtype: Any, device: Any, layout: Any
) -> Tensor:
    check_cpu(device)  # (layout: chainrule's tensors are all strided, torch's default)
    np_dtype = dtypes.to_np(dtype) if dtype is not None else np.dtype(np.int64)
    if np_dtype not in (np.dtype(np.int64), np.dtype(np.int32)):
        kind = dtypes.scalar_type_name(dtypes.FROM_NP[np_dtype])
        raise NotImplementedError(f"\"{name}\" not implemented for '{kind}'")
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    if name == "triu_indices":
        rows, cols = np.nonzero(~np.tri(row, col, offset - 1, dtype=bool))
    else:
        rows, cols = np.nonzero(np.tri(row, col, offset, dtype=bool))
    return _finish(np.stack([rows, cols]).astype(np_dtype), False, constant=True)


def tril_indices(
    row: int,
    col: int,
    offset: int = 0,
    *,
    dtype: Any = None,
    device: Any = None,
    layout: Any = None,
) -> Tensor:
    """The (2, N) coordinates of a ``row x col`` matrix's lower triangle (on or below
    diagonal ``offset``), row by row; int64 unless ``dtype`` is int32."""
    return _tri_indices("tril_indices", row, col, offset, dtype, device, layout)


def triu_indices(
    row: int,
    col: int,
    offset: int = 0,
    *,
    dtype: Any = None,
    device: Any = None,
    layout: Any = None,
) -> Tensor:
    """The (2, N) coordinates of a ``row x col`` matrix's upper triangle (on or above
    diagonal ``offset``), row by row; int64 unless ``dtype`` is int32."""
    return _tri_indices("triu_indices", row, col, offset, dtype, device, layout)


# --------------------------------------------------------------------------- random


class Generator:
    """A seeded source of random numbers (NumPy's PCG64 underneath; not torch's stream).

    Every draw reads ``rng``, which first tells the active draw observers (``observe_draws``:
    ``func.vmap``'s randomness modes) which generator is about to be used; ``get_state`` /
    ``set_state`` read and restore the stream without counting as a draw (checkpoint's
    replay of dropout)."""

    def __init__(self, device: Any = "cpu") -> None:
        check_cpu(device)
        self._seed = 67280421310721
        self._np = np.random.default_rng(self._seed)

    @property
    def rng(self) -> np.random.Generator:
        """The NumPy generator to draw from (announced to the draw observers first)."""
        for observer in _draw_observers:
            observer(self)
        return self._np

    def get_state(self) -> Any:
        """The generator's state (restore it with ``set_state`` to repeat the draws)."""
        return self._np.bit_generator.state

    def set_state(self, state: Any) -> None:
        """Restore a state ``get_state`` returned."""
        self._np.bit_generator.state = state

    def manual_seed(self, seed: int) -> Generator:
        """Reseed this generator with ``seed``; returns it."""
        self._seed = int(seed)
        self._np = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        """The seed this generator was last seeded with."""
        return self._seed

    def seed(self) -> int:
        """Seed this generator from a fresh random number and return that seed."""
        s = int(np.random.SeedSequence().entropy % (2**63))
        return self.manual_seed(s)._seed


_draw_observers: list[Callable[[Generator], None]] = []


@contextlib.contextmanager
def observe_draws(observer: Callable[[Generator], None]) -> Iterator[None]:
    """Call ``observer(generator)`` before each random draw made inside the block (it may
    raise to forbid the draw)."""
    _draw_observers.append(observer)
    try:
        yield
    finally:
        _draw_observers.remove(observer)


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (rand, randn, randint, randperm, dropout, init)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from a fresh random number and return that seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the default generator was last seeded with (``manual_seed``'s argument)."""
    return default_generator.initial_seed()


def _rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).rng


def _float_dtype(dtype: Any, name: str) -> np.dtype:
    np_dtype = dtypes.to_np(dtype) or dtypes.get_default_dtype().np
    if kind_of(np_dtype) != "f":
        raise RuntimeError(f"\"{name}\" not implemented for '{dtypes.from_np(np_dtype).name}'")
    return np_dtype


def rand(
    *size: Any,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform on [0, 1)."""
    check_cpu(device)
    shape = _size(size, "rand")
    dt = _float_dtype(dtype, "check_uniform_bounds")
    return _finish(_rng(generator).random(shape, dtype=np.float64).astype(dt), requires_grad)


def randn(
    *size: Any,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal."""
    check_cpu(device)
    shape = _size(size, "randn")
    dt = _float_dtype(dtype, "normal_kernel_cpu")
    return _finish(_rng(generator).standard_normal(shape).astype(dt), requires_grad)


def randint(
    low: int,
    high: int | None = None,
    size: Sequence[int] = (),
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers uniform on [low, high); ``randint(high, size)`` starts at 0."""
    check_cpu(device)
    if high is None or not isinstance(high, numbers.Integral) and size == ():
        low, high, size = 0, low, high if high is not None else size
    if low >= high:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    np_dtype = dtypes.to_np(dtype) or np.dtype(np.int64)
    data = _rng(generator).integers(low, high, _size((size,), "randint")).astype(np_dtype)
    return _finish(data, requires_grad)


def randperm(
    n: int,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64 by default)."""
    check_cpu(device)
    np_dtype = dtypes.to_np(dtype) or np.dtype(np.int64)
    return _finish(_rng(generator).permutation(n).astype(np_dtype), requires_grad)


def rand_like(
    input: Tensor,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
    memory_format: Any = _layout.preserve_format,
) -> Tensor:
    """Uniform samples on [0, 1) with the shape (and dtype, unless given) of ``input``."""
    out = rand(input._data.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)
    return _laid_out(input, out, memory_format)


def randn_like(
    input: Tensor,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
    memory_format: Any = _layout.preserve_format,
) -> Tensor:
    """Standard normal samples with the shape (and dtype, unless given) of ``input``."""
    out = randn(input._data.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)
    return _laid_out(input, out, memory_format)


def randint_like(
    input: Tensor, low: int = 0, high: int | None = None, *, dtype: Any = None
) -> Tensor:
    """Random integers in ``[low, high)`` (``randint_like(x, high)``: from 0) with the
    shape (and dtype, unless given) of ``input``.
    """
    if high is None:
        low, high = 0, low
    return randint(low, high, input._data.shape, dtype=dtype or input.dtype)


@op
def multinomial(
    input: Tensor, num_samples: int, replacement: bool = False, *, generator: Any = None
) -> Tensor:
    """Indices drawn from each row of ``input`` (non-negative weights, not necessarily
    normalised): with replacement by inverting the cumulative sum; without, as torch, by
    the exponential race (the ``num_samples`` largest ``p / E`` with ``E ~ Exp(1)``), so
    zero-weight entries come last."""
    p = input._data
    if kind_of(p.dtype) != "f":
        raise RuntimeError(
            "multinomial only supports floating-point dtypes for input, got: "
            f"{dtypes.scalar_type_name(p.dtype)}"
        )
    if p.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    rows = (p if p.ndim == 2 else p[None]).astype(np.float64)
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement"
        )
    if rows.size and (~np.isfinite(rows) | (rows < 0)).any():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if rows.size and (rows.sum(axis=1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    rng = _rng(generator)
    if replacement:
        cdf = np.cumsum(rows, axis=1)
        u = rng.random((rows.shape[0], num_samples)) * cdf[:, -1:]
        out = np.stack([np.searchsorted(c, x, side="right") for c, x in zip(cdf, u)])
        out = np.minimum(out, rows.shape[1] - 1).reshape(rows.shape[0], num_samples)
    else:
        with np.errstate(divide="ignore"):
            keys = rows / rng.exponential(size=rows.shape)
        out = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    out = out.astype(np.int64)
    return _make(out if p.ndim == 2 else out.reshape(num_samples))
