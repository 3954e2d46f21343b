"""DistributedDataParallel: each rank runs the whole model on its share of the batch, and
backward leaves every rank with the gradient averaged over all ranks (torch's DDP).

At construction rank 0's parameters and buffers are broadcast to every rank, so all start
equal. Gradients travel in buckets (torch's: parameters in reverse registration order,
which is roughly the order backward produces their gradients; a small first bucket of
1 MiB so communication starts early, then ``bucket_cap_mb`` = 25 MiB; one dtype per
bucket). Each parameter's post-accumulate-grad hook copies its gradient, divided by the
world size, into its bucket; a bucket whose every gradient has arrived starts its
non-blocking all-reduce (in bucket order, so every rank issues the same collectives in the
same order) while backward goes on; a final callback of the backward walk
(``Variable._execution_engine.queue_callback``) waits for the buckets and copies the
averages back into ``.grad``. Open MPI has no progress thread, so while buckets are in
flight a thread of ours tests them every millisecond (``_Progress``);
``benchmarks/distributed.py`` measures what that achieves (without it, no bucket ever
finished before backward did).

``no_sync()`` skips the averaging (gradients accumulate locally; the next synchronized
backward averages the accumulated ``.grad``). ``find_unused_parameters=True`` walks the
graph of the forward's outputs to find parameters that will get no gradient and counts them
as ready (zero) when backward starts; a parameter unused on every rank keeps its ``.grad``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule import _engine
from chainrule._tensor import Tensor, _make, mutate
from chainrule.distributed import process_group as _dist
from chainrule.graph import is_grad_enabled
from chainrule.nn.module import Module

__all__ = ["DistributedDataParallel"]

_DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024  # torch.distributed._DEFAULT_FIRST_BUCKET_BYTES
_DEFAULT_BUCKET_CAP_MB = 25
# torch's later arguments: accepted at their defaults, refused otherwise
_LATER_ARGUMENTS = (
    "delay_all_reduce_named_params", "param_to_hook_all_reduce", "mixed_precision",
    "device_mesh", "skip_all_reduce_unused_params", "bucket_cap_mb_list", "batched_grad_copy",
    "forward_sync_buffers",
)  # fmt: skip


def _tensors_in(obj: Any) -> Iterator[Tensor]:
    """The tensors of a forward's output (nested tuples, lists, dicts)."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, list | tuple):
        for x in obj:
            yield from _tensors_in(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _tensors_in(x)


class _Progress:
    """Moves the buckets' all-reduces on while backward computes: Open MPI advances a
    non-blocking collective only inside MPI calls, so this thread tests the requests in
    flight every ``interval`` seconds (sleeping between tests, so it holds neither a core
    nor the GIL; NumPy's kernels release the GIL, so it runs during them). The main thread
    launches buckets (MPI_THREAD_MULTIPLE) and, at the end of backward, stops the thread
    before waiting on what is left itself, so no request is tested from two threads."""

    def __init__(self, interval: float = 1e-3) -> None:
        self.interval = interval
        self.works: list[_dist.Work] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, work: _dist.Work) -> None:
        with self.lock:
            self.works.append(work)
        if self.thread is None:
            self.stop.clear()
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                self.works = [w for w in self.works if not w.is_completed()]
            time.sleep(self.interval)

    def finish(self) -> None:
        if self.thread is not None:
            self.stop.set()
            self.thread.join()
            self.thread = None
        self.works = []


class _Bucket:
    __slots__ = ("index", "params", "offsets", "buffer", "pending", "work")

    def __init__(self, index: int, params: list[int], sizes: list[int], dtype: Any) -> None:
        self.index = index
        self.params = params  # indices into the reducer's parameter list
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.buffer = np.zeros(self.offsets[-1], dtype)
        self.pending = len(params)
        self.work: _dist.Work | None = None


def _assign_buckets(params: list[Tensor], limits: list[int]) -> list[tuple[list[int], Any]]:
    """torch's compute_bucket_assignment_by_size: parameters in reverse registration
    order, one open bucket per dtype, closed when it reaches its size limit (the first
    limit for the first bucket of each dtype, then the last)."""
    open_: dict[Any, list[int]] = {}
    size: dict[Any, int] = {}
    which_limit: dict[Any, int] = {}
    out: list[tuple[list[int], Any]] = []
    for i in reversed(range(len(params))):
        dt = params[i]._data.dtype
        open_.setdefault(dt, []).append(i)
        size[dt] = size.get(dt, 0) + params[i]._data.nbytes
        k = which_limit.setdefault(dt, 0)
        if size[dt] >= limits[k]:
            out.append((open_.pop(dt), dt))
            size[dt] = 0
            which_limit[dt] = min(k + 1, len(limits) - 1)
    out += [(idx, dt) for dt, idx in open_.items() if idx]
    # torch sorts the buckets by the position of their first parameter in this order
    out.sort(key=lambda b: len(params) - 1 - b[0][0])
    return out


class DistributedDataParallel(Module):
    """torch.nn.parallel.DistributedDataParallel on the default process group (MPI).

    The wrapped module is ``.module`` (so ``state_dict`` keys start with ``module.``).
    Call it as the module; after ``loss.backward()`` every rank's ``.grad`` is the average
    over ranks, so each rank's optimizer takes the same step."""

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool | None = None,
        init_sync: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if device_ids is not None or output_device is not None:
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work "
                "with single-device/multiple-device GPU modules or CPU modules, but got "
                f"device_ids {device_ids}, output_device {output_device}, and module "
                "parameters {device(type='cpu')}."
            )
        unsupported = {
            "gradient_as_bucket_view": gradient_as_bucket_view,
            "static_graph": static_graph,
            **{k: v for k, v in kwargs.items() if k in _LATER_ARGUMENTS},
        }
        for k, v in unsupported.items():
            if v not in (None, False):
                raise NotImplementedError(f"DistributedDataParallel: {k}={v!r} is not supported")
        for k in kwargs:
            if k not in _LATER_ARGUMENTS:
                raise TypeError(
                    f"DistributedDataParallel.__init__() got an unexpected keyword argument '{k}'"
                )
        group = _dist._world(process_group)  # ValueError when none is initialized
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError(
                "DistributedDataParallel is not needed when a module doesn't have any "
                "parameter that requires a gradient."
            )
        self.module = module
        self.dim = dim
        self.broadcast_buffers = True if broadcast_buffers is None else broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        cap = _DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        self.bucket_bytes_cap = int(cap * 1024 * 1024)
        object.__setattr__(self, "_group", group)
        object.__setattr__(self, "_params", params)
        names = {id(p): n for n, p in module.named_parameters()}
        object.__setattr__(self, "_param_names", [names[id(p)] for p in params])
        self._verify_same_model()
        if init_sync:
            self._sync_module_states()
        limits = [_DEFAULT_FIRST_BUCKET_BYTES, self.bucket_bytes_cap]
        buckets = []
        where: dict[int, tuple[int, int]] = {}  # param index -> (bucket, position)
        for b, (idx, dt) in enumerate(_assign_buckets(params, limits)):
            buckets.append(_Bucket(b, idx, [params[i]._data.size for i in idx], dt))
            for pos, i in enumerate(idx):
                where[i] = (b, pos)
        object.__setattr__(self, "_buckets", buckets)
        object.__setattr__(self, "_where", where)
        object.__setattr__(self, "_expect_hooks", False)  # set by a synchronizing forward
        object.__setattr__(self, "_ready", [False] * len(params))
        object.__setattr__(self, "_unused", [])
        object.__setattr__(self, "_next_bucket", 0)
        object.__setattr__(self, "_finalize_queued", False)
        object.__setattr__(self, "_unused_marked", False)
        object.__setattr__(self, "_progress", _Progress() if group.size > 1 else None)
        handles = [
            p.register_post_accumulate_grad_hook(self._hook_for(i)) for i, p in enumerate(params)
        ]
        object.__setattr__(self, "_hook_handles", handles)

    # ------------------------------------------------------------------ construction

    def _verify_same_model(self) -> None:
        g = self._group
        if g.size == 1:
            return
        mine = np.array([len(self._params), sum(p._data.size for p in self._params)], np.int64)
        every = np.empty((g.size, 2), np.int64)
        _dist.Work("DistributedDataParallel's model check", [g.comm.allgather(mine, every)]).wait()
        for r in range(g.size):
            if every[r, 0] != mine[0] or every[r, 1] != mine[1]:
                raise RuntimeError(
                    f"DDP expects same model across all ranks, but Rank {g.rank} has "
                    f"{mine[0]} params ({mine[1]} elements), while rank {r} has inconsistent "
                    f"{every[r, 0]} params ({every[r, 1]} elements)."
                )

    def _broadcast_from_0(self, tensors: list[Tensor], what: str) -> None:
        g = self._group
        if g.size == 1 or not tensors:
            return
        works = [
            _dist.Work(what, [g.comm.bcast(_contiguous(t), 0)]) for t in tensors
        ]  # fmt: skip
        for w in works:
            w.wait()

    def _sync_module_states(self) -> None:
        """Rank 0's parameters and buffers, on every rank."""
        with _no_grad():
            self._broadcast_from_0(
                [*self.module.parameters(), *self.module.buffers()],
                "DistributedDataParallel's broadcast of rank 0's parameters",
            )

    # ------------------------------------------------------------------ forward

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self._expect_hooks and any(self._ready):  # a backward left some without gradient
            self._unfinished_reduction()
        if self.broadcast_buffers and self.require_forward_param_sync:
            self._broadcast_from_0(
                list(self.module.buffers()), "DistributedDataParallel's buffer broadcast"
            )
        out = self.module(*inputs, **kwargs)
        sync = is_grad_enabled() and self.require_backward_grad_sync
        self._prepare_for_backward(out if sync else None, sync)
        return out

    def _unfinished_reduction(self) -> None:
        missing = [i for i, r in enumerate(self._ready) if not r]
        raise RuntimeError(
            "Expected to have finished reduction in the prior iteration before starting a new "
            "one. This error indicates that your module has parameters that were not used in "
            "producing loss. You can enable unused parameter detection by passing the keyword "
            "argument `find_unused_parameters=True` to "
            "`torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` "
            "function outputs participate in calculating loss.\nParameter indices which did not "
            f"receive grad for rank {self._group.rank}: {' '.join(map(str, missing))}\n"
            f"Parameters which did not receive grad for rank {self._group.rank}: "
            + ", ".join(self._param_names[i] for i in missing)
        )

    def _prepare_for_backward(self, out: Any, sync: bool) -> None:
        object.__setattr__(self, "_expect_hooks", sync)
        object.__setattr__(self, "_ready", [False] * len(self._params))
        object.__setattr__(self, "_next_bucket", 0)
        object.__setattr__(self, "_finalize_queued", False)
        object.__setattr__(self, "_unused_marked", False)
        for b in self._buckets:
            b.pending = len(b.params)
            b.work = None
        unused: list[int] = []
        if sync and self.find_unused_parameters:
            reached = {id(v) for v in _engine.reachable(list(_tensors_in(out)))}
            unused = [i for i, p in enumerate(self._params) if id(p) not in reached]
        object.__setattr__(self, "_unused", unused)

    # ------------------------------------------------------------------ backward

    def _hook_for(self, i: int) -> Any:
        def hook(param: Tensor) -> None:
            if self._expect_hooks:
                self._mark_ready(i, param)

        return hook

    def _mark_ready(self, i: int, param: Tensor | None) -> None:
        if self._ready[i]:
            raise RuntimeError(
                f"Expected to mark a variable ready only once. Parameter {self._param_names[i]} "
                f"(index {i}) has been marked as ready twice: it got a gradient from two "
                "backward passes after one forward of DistributedDataParallel."
            )
        if not self._finalize_queued:
            _engine.queue_callback(self._finalize)
            object.__setattr__(self, "_finalize_queued", True)
        if not self._unused_marked:
            object.__setattr__(self, "_unused_marked", True)
            for j in self._unused:
                if j != i and not self._ready[j]:
                    self._mark_ready(j, None)
        self._ready[i] = True
        b_i, pos = self._where[i]
        b = self._buckets[b_i]
        view = b.buffer[b.offsets[pos] : b.offsets[pos + 1]]
        grad = None if param is None else param.grad
        if grad is None:
            view[...] = 0
        else:
            np.multiply(grad._data.reshape(-1), 1.0 / self._group.size, out=view, casting="unsafe")
        b.pending -= 1
        if b.pending == 0:
            n = self._next_bucket
            while n < len(self._buckets) and self._buckets[n].pending == 0:
                nb = self._buckets[n]
                nb.work = _dist.Work(
                    f"DistributedDataParallel's gradient all_reduce (bucket {n})",
                    [self._group.comm.allreduce(nb.buffer, "sum")],
                )
                if self._progress is not None:
                    self._progress.add(nb.work)
                n += 1
            object.__setattr__(self, "_next_bucket", n)

    def _finalize(self) -> None:
        """Queued on the backward walk: wait for every bucket, write the averages."""
        if self._progress is not None:
            self._progress.finish()
        if not all(self._ready):
            return  # a parameter got no gradient: the next forward raises (torch's rule)
        used = None
        if self.find_unused_parameters:
            local = np.ones(len(self._params), np.int32)
            local[self._unused] = 0
            req = self._group.comm.allreduce(local, "sum")
            _dist.Work("DistributedDataParallel's unused-parameter count", [req]).wait()
            used = local
        for b in self._buckets:
            b.work.wait()  # type: ignore[union-attr]
        unused = set(self._unused)
        for b in self._buckets:
            for pos, i in enumerate(b.params):
                p = self._params[i]
                view = b.buffer[b.offsets[pos] : b.offsets[pos + 1]].reshape(p._data.shape)
                if i in unused:
                    if used is not None and used[i] == 0:
                        continue  # unused on every rank: .grad stays as it was
                    if p.grad is None:
                        p.grad = _make(view.astype(p._data.dtype, copy=True))
                        continue
                mutate(p.grad, view)
        object.__setattr__(self, "_expect_hooks", False)

    # ------------------------------------------------------------------ API

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Within the block, backward accumulates gradients locally; the first backward
        after it averages the accumulated ``.grad``."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old


def _contiguous(t: Tensor) -> np.ndarray:
    if not t._data.flags.c_contiguous:
        raise ValueError("Tensors must be contiguous")
    arr = t._data
    return arr.view(np.uint8) if arr.dtype.kind == "b" else arr


@contextlib.contextmanager
def _no_grad() -> Iterator[None]:
    from chainrule.graph import no_grad

    with no_grad():
        yield
