"""torch.distributed's collectives and point-to-point calls on chainrule tensors.

Each call checks its tensors as torch does, hands their NumPy memory to the group's
transport (no copy, no pickling: the tensor must be contiguous) and writes results in
place (counted as an in-place write, like torch's in-place collectives). ``async_op=True``
returns a ``Work`` whose ``wait()`` completes the call.

Reductions by dtype: complex tensors reduce as pairs of reals (SUM and AVG only, torch's
rule); bool tensors follow torch's bool arithmetic (SUM and MAX are "or", PRODUCT and MIN
"and"); AVG is SUM then a division by the world size (integers: truncated, as NCCL's
average); BAND/BOR/BXOR need integers or bools. (Checked against torch's gloo backend.)
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, mutate
from chainrule.distributed.process_group import RedOpType, ReduceOp, Work, _run, _world

__all__ = [
    "all_gather", "all_gather_into_tensor", "all_gather_object", "all_reduce", "barrier",
    "broadcast", "broadcast_object_list", "gather", "irecv", "isend", "recv", "reduce",
    "reduce_scatter_tensor", "scatter", "send",
]  # fmt: skip

_MPI_OP = {
    RedOpType.SUM: "sum", RedOpType.AVG: "sum", RedOpType.PRODUCT: "prod",
    RedOpType.MIN: "min", RedOpType.MAX: "max", RedOpType.BAND: "band",
    RedOpType.BOR: "bor", RedOpType.BXOR: "bxor",
}  # fmt: skip
_BOOL_OP = {
    RedOpType.SUM: "lor", RedOpType.MAX: "lor", RedOpType.PRODUCT: "land",
    RedOpType.MIN: "land", RedOpType.BAND: "land", RedOpType.BOR: "lor",
    RedOpType.BXOR: "lxor",
}  # fmt: skip
_COMPLEX_OK = (RedOpType.SUM, RedOpType.AVG)


def _op(op: Any) -> RedOpType:
    try:
        return RedOpType(int(op))
    except (TypeError, ValueError):
        raise ValueError(
            f"Invalid reduce op: {op!r}; use one of torch.distributed.ReduceOp"
        ) from None


def _tensor(t: Any, name: str) -> np.ndarray:
    if not isinstance(t, Tensor):
        raise TypeError(
            f"Invalid function argument. Expected parameter `{name}` of type torch.Tensor\n"
            f"             but got {type(t)} instead."
        )
    if not t._data.flags.c_contiguous:
        raise ValueError("Tensors must be contiguous")
    return t._data


def _tensor_list(ts: Any, name: str) -> list[np.ndarray]:
    if not isinstance(ts, list | tuple) or not all(isinstance(t, Tensor) for t in ts):
        raise TypeError(
            f"Invalid function argument. Expected parameter `{name}` of type List[torch.Tensor]"
            f"\n             but got {type(ts)} instead."
        )
    return [_tensor(t, name) for t in ts]


def _reduction(arr: np.ndarray, op: RedOpType, what: str) -> tuple[np.ndarray, str]:
    """The buffer to reduce (a complex tensor as reals) and the transport's op name."""
    if op == RedOpType.PREMUL_SUM:
        raise NotImplementedError(f"{what} with ReduceOp.PREMUL_SUM is not supported")
    kind = arr.dtype.kind
    if kind == "c":
        if op not in _COMPLEX_OK:
            raise ValueError(f"{what} does not support {op} on complex tensors")
        return arr.view(arr.real.dtype), "sum"
    if kind == "b":
        if op == RedOpType.AVG:  # torch: the average is a float, which bool cannot hold
            raise RuntimeError("result type Float can't be cast to the desired output type Bool")
        return arr, _BOOL_OP[op]
    if op in (RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR) and kind == "f":
        raise RuntimeError(f"Cannot use ReduceOp.{op.name} with non-integral dtype")
    return arr, _MPI_OP[op]


def _average(arr: np.ndarray, n: int) -> None:
    if n == 1:
        return
    if arr.dtype.kind in "iu":  # truncated towards zero (NCCL's integer average)
        q = np.abs(arr) // n
        arr[...] = np.where(arr < 0, -q, q)
    else:
        arr /= n


def _root(r: Any, group_r: Any, default: int | None = 0) -> Any:
    """The root rank from ``dst``/``src`` or their ``group_`` spelling (one group here)."""
    if r is not None:
        return r
    return default if group_r is None else group_r


def _check_rank(r: Any, size: int, what: str) -> int:
    if r is None:
        raise ValueError(f"{what} rank must be given")
    if not 0 <= int(r) < size:
        raise ValueError(f"Invalid {what} rank: should be within the range [0, {size - 1}]")
    return int(r)


# ------------------------------------------------------------------------- collectives


def all_reduce(
    tensor: Tensor, op: Any = ReduceOp.SUM, group: Any = None, async_op: bool = False
) -> Work | None:
    """Reduce ``tensor`` across all ranks, in place on every rank."""
    g = _world(group)
    arr = _tensor(tensor, "tensor")
    red = _op(op)
    buf, name = _reduction(arr, red, "all_reduce")
    req = g.comm.allreduce(buf, name)

    def finish() -> None:
        data = mutate(tensor)  # one in-place write, as torch's allreduce_
        if red == RedOpType.AVG:
            _average(data, g.size)

    return _run("all_reduce", [req], finish, async_op)


def reduce(
    tensor: Tensor, dst: int | None = None, op: Any = ReduceOp.SUM, group: Any = None,
    async_op: bool = False, group_dst: int | None = None,
) -> Work | None:  # fmt: skip
    """Reduce ``tensor`` across all ranks into rank ``dst``'s tensor."""
    g = _world(group)
    dst = _check_rank(dst if dst is not None else group_dst, g.size, "destination")
    arr = _tensor(tensor, "tensor")
    red = _op(op)
    buf, name = _reduction(arr, red, "reduce")
    req = g.comm.reduce(buf, name, dst)

    def finish() -> None:
        if g.rank == dst:
            data = mutate(tensor)
            if red == RedOpType.AVG:
                _average(data, g.size)

    return _run("reduce", [req], finish, async_op)


def broadcast(
    tensor: Tensor, src: int | None = None, group: Any = None, async_op: bool = False,
    group_src: int | None = None,
) -> Work | None:  # fmt: skip
    """Copy rank ``src``'s tensor into every rank's."""
    g = _world(group)
    src = _check_rank(src if src is not None else group_src, g.size, "source")
    arr = _tensor(tensor, "tensor")
    buf = arr.view(np.uint8) if arr.dtype.kind == "b" else arr
    req = g.comm.bcast(buf, src)
    return _run("broadcast", [req], lambda: mutate(tensor) if g.rank != src else None, async_op)


def all_gather(
    tensor_list: list, tensor: Tensor, group: Any = None, async_op: bool = False
) -> Work | None:
    """Fill ``tensor_list[r]`` with rank r's ``tensor`` on every rank."""
    g = _world(group)
    outs = _tensor_list(tensor_list, "tensor_list")
    arr = _tensor(tensor, "tensor")
    if len(outs) != g.size:
        raise ValueError(
            f"all_gather: tensor_list has {len(outs)} tensors but the world has {g.size} ranks"
        )
    for o in outs:
        if o.shape != arr.shape or o.dtype != arr.dtype:
            raise ValueError(
                f"all_gather: every tensor of tensor_list must match the input's shape "
                f"{tuple(arr.shape)} and dtype; got {tuple(o.shape)} {o.dtype}"
            )
    flat = np.empty((g.size, *arr.shape), arr.dtype)
    req = g.comm.allgather(arr, flat)

    def finish() -> None:
        for t, part in zip(tensor_list, flat):
            mutate(t, part)

    return _run("all_gather", [req], finish, async_op)


def all_gather_into_tensor(
    output_tensor: Tensor, input_tensor: Tensor, group: Any = None, async_op: bool = False
) -> Work | None:
    """Gather every rank's ``input_tensor`` into ``output_tensor``, concatenated along dim 0
    or stacked (``output_tensor`` of shape ``(world_size * n, ...)`` or
    ``(world_size, n, ...)``)."""
    g = _world(group)
    out = _tensor(output_tensor, "output_tensor")
    inp = _tensor(input_tensor, "input_tensor")
    if out.dtype != inp.dtype:
        raise TypeError(
            f"all_gather_into_tensor: output_tensor is {out.dtype} but input_tensor is {inp.dtype}"
        )
    if out.size != inp.size * g.size:
        raise ValueError(
            f"output tensor size must be equal to world_size times input tensor size: output "
            f"{tuple(out.shape)}, input {tuple(inp.shape)}, world_size {g.size}"
        )
    req = g.comm.allgather(inp, out.reshape(-1))
    return _run("all_gather_into_tensor", [req], lambda: mutate(output_tensor), async_op)


def reduce_scatter_tensor(
    output: Tensor, input: Tensor, op: Any = ReduceOp.SUM, group: Any = None, async_op: bool = False
) -> Work | None:
    """Reduce ``input`` (world_size chunks along dim 0) across ranks; rank r receives the
    reduced chunk r in ``output``."""
    g = _world(group)
    out = _tensor(output, "output")
    inp = _tensor(input, "input")
    if out.dtype != inp.dtype:
        raise TypeError(f"reduce_scatter_tensor: output is {out.dtype} but input is {inp.dtype}")
    if inp.size != out.size * g.size:
        raise ValueError(
            f"input tensor must be the same size as output size times world size: input "
            f"{tuple(inp.shape)}, output {tuple(out.shape)}, world_size {g.size}"
        )
    red = _op(op)
    send, name = _reduction(inp, red, "reduce_scatter_tensor")
    recv, _ = _reduction(out, red, "reduce_scatter_tensor")
    req = g.comm.reduce_scatter(send.reshape(-1), recv.reshape(-1), name)

    def finish() -> None:
        data = mutate(output)
        if red == RedOpType.AVG:
            _average(data, g.size)

    return _run("reduce_scatter_tensor", [req], finish, async_op)


def gather(
    tensor: Tensor, gather_list: list | None = None, dst: int | None = None, group: Any = None,
    async_op: bool = False, group_dst: int | None = None,
) -> Work | None:  # fmt: skip
    """Gather every rank's ``tensor`` into ``gather_list`` on rank ``dst`` (default 0)."""
    g = _world(group)
    dst = _check_rank(_root(dst, group_dst), g.size, "destination")
    arr = _tensor(tensor, "tensor")
    if g.rank == dst:
        outs = _tensor_list(gather_list or [], "gather_list")
        if len(outs) != g.size:
            raise ValueError(
                f"Argument ``gather_list`` must be specified on destination rank with "
                f"{g.size} tensors, got {len(outs)}"
            )
        flat: np.ndarray | None = np.empty((g.size, *arr.shape), arr.dtype)
    else:
        if gather_list:
            raise ValueError(
                "Argument ``gather_list`` must NOT be specified on non-destination ranks."
            )
        flat = None
    req = g.comm.gather(arr, flat, dst)

    def finish() -> None:
        if flat is not None:
            for t, part in zip(gather_list, flat):  # type: ignore[arg-type]
                mutate(t, part)

    return _run("gather", [req], finish, async_op)


def scatter(
    tensor: Tensor, scatter_list: list | None = None, src: int | None = None, group: Any = None,
    async_op: bool = False, group_src: int | None = None,
) -> Work | None:  # fmt: skip
    """Rank ``src`` (default 0) sends ``scatter_list[r]`` to rank r's ``tensor``."""
    g = _world(group)
    src = _check_rank(_root(src, group_src), g.size, "source")
    arr = _tensor(tensor, "tensor")
    send = None
    if g.rank == src:
        ins = _tensor_list(scatter_list or [], "scatter_list")
        if len(ins) != g.size:
            raise ValueError(
                f"Argument ``scatter_list`` must be specified on source rank with {g.size} "
                f"tensors, got {len(ins)}"
            )
        send = np.stack([np.asarray(x, arr.dtype).reshape(arr.shape) for x in ins])
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    req = g.comm.scatter(send, arr, src)
    return _run("scatter", [req], lambda: mutate(tensor), async_op)


def barrier(
    group: Any = None, async_op: bool = False, device_ids: Any = None, timeout: Any = None
) -> Work | None:
    """Wait until every rank has reached this call."""
    g = _world(group)
    if device_ids is not None:
        raise NotImplementedError("barrier: device_ids= is for GPUs; chainrule runs on the CPU")
    work = Work("barrier", [g.comm.barrier()])
    if async_op:
        return work
    work.wait(timeout)
    return None


# ------------------------------------------------------------------------- point to point


def isend(
    tensor: Tensor,
    dst: int | None = None,
    group: Any = None,
    tag: int = 0,
    group_dst: int | None = None,
) -> Work:
    """Start sending ``tensor`` to rank ``dst``; returns the ``Work`` to ``wait()`` on
    (leave ``tensor`` unchanged until then)."""
    g = _world(group)
    dst = _check_rank(dst if dst is not None else group_dst, g.size, "destination")
    arr = _tensor(tensor, "tensor")
    return Work("send", [g.comm.send(arr, dst, tag)])


def irecv(
    tensor: Tensor,
    src: int | None = None,
    group: Any = None,
    tag: int = 0,
    group_src: int | None = None,
) -> Work:
    """Receive into ``tensor`` from rank ``src`` (any rank when None); ``wait()`` then
    ``result()`` is the sender's rank."""
    g = _world(group)
    if src is None:
        src = group_src
    if src is not None:
        src = _check_rank(src, g.size, "source")
    arr = _tensor(tensor, "tensor")
    req = g.comm.recv(arr, src, tag)

    def finish() -> int:
        mutate(tensor)
        return req.source()

    return Work("recv", [req], finish)


def send(
    tensor: Tensor,
    dst: int | None = None,
    group: Any = None,
    tag: int = 0,
    group_dst: int | None = None,
) -> None:
    """Send ``tensor`` to rank ``dst`` and wait until it is sent."""
    isend(tensor, dst, group, tag, group_dst).wait()


def recv(
    tensor: Tensor,
    src: int | None = None,
    group: Any = None,
    tag: int = 0,
    group_src: int | None = None,
) -> int:
    """Receive into ``tensor``; returns the sender's rank."""
    return irecv(tensor, src, group, tag, group_src).result()


# ------------------------------------------------------------------------- objects


def _gather_bytes(data: bytes) -> list[bytes]:
    g = _world()
    n = np.array([len(data)], np.int64)
    sizes = np.empty(g.size, np.int64)
    Work("all_gather_object", [g.comm.allgather(n, sizes)]).wait()
    width = int(sizes.max())
    mine = np.zeros(width, np.uint8)
    mine[: len(data)] = np.frombuffer(data, np.uint8)
    every = np.empty((g.size, width), np.uint8)
    Work("all_gather_object", [g.comm.allgather(mine, every)]).wait()
    return [every[r, : sizes[r]].tobytes() for r in range(g.size)]


def all_gather_object(object_list: list, obj: Any, group: Any = None) -> None:
    """``object_list[r]`` becomes rank r's ``obj`` (pickled; trusted peers only)."""
    g = _world(group)
    if len(object_list) != g.size:
        raise ValueError(
            f"object_list must have world_size ({g.size}) entries, got {len(object_list)}"
        )
    for r, b in enumerate(_gather_bytes(pickle.dumps(obj))):
        object_list[r] = pickle.loads(b)


def broadcast_object_list(
    object_list: list,
    src: int | None = None,
    group: Any = None,
    device: Any = None,
    group_src: int | None = None,
) -> None:
    """Every rank's ``object_list`` becomes rank ``src``'s (pickled; trusted peers only)."""
    g = _world(group)
    src = _check_rank(_root(src, group_src), g.size, "source")
    data = pickle.dumps(list(object_list)) if g.rank == src else b""
    n = np.array([len(data)], np.int64)
    Work("broadcast_object_list", [g.comm.bcast(n, src)]).wait()
    buf = np.zeros(int(n[0]), np.uint8)
    if g.rank == src:
        buf[...] = np.frombuffer(data, np.uint8)
    Work("broadcast_object_list", [g.comm.bcast(buf, src)]).wait()
    object_list[:] = pickle.loads(buf.tobytes())
