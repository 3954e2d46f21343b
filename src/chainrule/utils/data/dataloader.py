"""``DataLoader`` (single process) and torch's ``default_collate`` / ``default_convert``."""

from __future__ import annotations

import collections.abc as abc
import copy
import functools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._tensor import Tensor, _make
from chainrule.creation import tensor
from chainrule.dtypes import kind_of
from chainrule.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

__all__ = ["DataLoader", "default_collate", "default_convert"]

_ERR = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _is_numpy(x: Any) -> bool:
    t = type(x)
    return t.__module__ == "numpy" and t.__name__ not in ("str_", "string_")


def _stack(batch: list[Tensor]) -> Tensor:
    """``stack(batch, 0)`` on the arrays: collated batches carry no graph."""
    arrays = [x._data for x in batch]
    first = arrays[0]
    dt = first.dtype
    if any(a.dtype != dt for a in arrays):  # torch's promotion, not NumPy's
        dt = functools.reduce(dtypes.promote_types, [a.dtype for a in arrays])
    try:
        out = np.array(arrays, dtype=dt)  # faster than np.stack for many small arrays
    except ValueError:
        out = None
    if out is None or out.shape[1:] != first.shape:
        for i, a in enumerate(arrays):
            if a.shape != first.shape:
                raise RuntimeError(
                    f"stack expects each tensor to be equal size, but got {list(first.shape)} "
                    f"at entry 0 and {list(a.shape)} at entry {i}"
                )
    return _make(out)


def _rebuild(elem: Any, values: dict | list) -> Any:
    """A container like ``elem`` holding ``values`` (torch keeps the mapping/sequence type)."""
    try:
        if isinstance(values, dict):
            if isinstance(elem, abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(values)
                return clone
            return type(elem)(values)
        if isinstance(elem, abc.MutableSequence):
            clone = copy.copy(elem)
            for i, v in enumerate(values):
                clone[i] = v
            return clone
        return type(elem)(values)
    except TypeError:
        return values


def default_collate(batch: list) -> Any:
    """Stack a list of samples into a batch: tensors, arrays and numbers become tensors with
    a leading batch dimension; dicts, tuples and lists are collated field by field."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    if _is_numpy(elem):
        if isinstance(elem, np.ndarray):
            if kind_of(elem.dtype) in "OSUV":
                raise TypeError(_ERR.format(elem.dtype))
            return _stack([_make(np.asarray(b)) for b in batch])
        if elem.shape == ():
            return _make(np.asarray(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=dtypes.float64)
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, str | bytes):
        return batch
    if isinstance(elem, abc.Mapping):
        return _rebuild(elem, {key: default_collate([d[key] for d in batch]) for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(list(s)) for s in zip(*batch)]
        return columns if isinstance(elem, tuple) else _rebuild(elem, columns)
    raise TypeError(_ERR.format(type(elem)))


def default_convert(data: Any) -> Any:
    """Without batching: NumPy arrays and scalars become tensors, containers recursively."""
    if isinstance(data, Tensor):
        return data
    if _is_numpy(data):
        if isinstance(data, np.ndarray) and kind_of(data.dtype) in "OSUV":
            return data
        return _make(np.asarray(data))
    if isinstance(data, abc.Mapping):
        return _rebuild(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, abc.Sequence) and not isinstance(data, str | bytes):
        return _rebuild(data, [default_convert(d) for d in data])
    return data


class DataLoader:
    """Iterate over a dataset in (shuffled) batches, collated with ``default_collate``.

    Loads in this process (``num_workers`` is accepted and ignored); shuffling is
    reproducible with ``generator`` or ``chainrule.manual_seed`` but is not torch's order.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; "
                "use num_workers=0 to disable multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive "
                "with drop_last"
            )
        if sampler is None:
            sampler = (
                RandomSampler(dataset, generator=generator)
                if shuffle
                else SequentialSampler(dataset)
            )
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.generator = generator
        self.timeout = timeout
        self.pin_memory = pin_memory
        self.worker_init_fn = worker_init_fn
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    def _fetch(self, index: Any) -> Any:
        if not self._auto_collation:
            return self.collate_fn(self.dataset[index])
        getitems = getattr(self.dataset, "__getitems__", None)
        data = getitems(index) if getitems else [self.dataset[i] for i in index]
        return self.collate_fn(data)

    def __iter__(self) -> Iterator[Any]:
        indices = self.batch_sampler if self._auto_collation else self.sampler
        for index in indices:
            yield self._fetch(index)

    def __len__(self) -> int:
        return len(self.batch_sampler if self._auto_collation else self.sampler)
