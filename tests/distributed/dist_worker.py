"""Run on N processes by tests/distributed (``python -m chainrule.distributed.run``): every
collective on every dtype, DDP training of an MLP and a CNN, no_sync accumulation, unused
parameters; each rank saves what it got to ``OUT/rank{r}.npz`` for the tests to check."""

from __future__ import annotations

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dist_cases as C  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.distributed as dist  # noqa: E402
from chainrule.nn.parallel import DistributedDataParallel as DDP  # noqa: E402
from chainrule.utils.data import DataLoader, DistributedSampler, TensorDataset  # noqa: E402

out_dir = sys.argv[1]
dist.init_process_group(backend="mpi")
R, W = dist.get_rank(), dist.get_world_size()
res: dict[str, np.ndarray] = {}
notes: dict[str, object] = {"rank": R, "world": W, "env_rank": os.environ.get("RANK")}


def tensor(a: np.ndarray) -> cr.Tensor:
    return cr.from_numpy(np.ascontiguousarray(a).copy())


# ---------------------------------------------------------------- collectives
for dt in C.DTYPES:
    x = C.collective_input(R, dt)
    for op in C.OPS:
        t = tensor(x)
        try:
            dist.all_reduce(t, getattr(dist.ReduceOp, op))
            res[f"all_reduce/{op}/{dt}"] = t.numpy()
        except (ValueError, RuntimeError) as e:
            notes[f"all_reduce/{op}/{dt}"] = f"{type(e).__name__}: {e}"
        if dt in ("int32", "float64", "complex64") and op in ("SUM", "AVG", "MAX"):
            t = tensor(x)
            try:
                dist.reduce(t, dst=W - 1, op=getattr(dist.ReduceOp, op))
                res[f"reduce/{op}/{dt}"] = t.numpy()
            except ValueError as e:
                notes[f"reduce/{op}/{dt}"] = str(e)
            big = tensor(np.concatenate([C.collective_input(R, dt, (3, 2)) for _ in range(W)]))
            small = tensor(np.zeros((3, 2), dt))
            try:
                dist.reduce_scatter_tensor(small, big, getattr(dist.ReduceOp, op))
                res[f"reduce_scatter_tensor/{op}/{dt}"] = small.numpy()
            except ValueError as e:
                notes[f"reduce_scatter_tensor/{op}/{dt}"] = str(e)
    t = tensor(x if R == 1 % W else np.zeros_like(x))
    dist.broadcast(t, src=1 % W)
    res[f"broadcast/{dt}"] = t.numpy()
    parts = [tensor(np.zeros_like(x)) for _ in range(W)]
    dist.all_gather(parts, tensor(x))
    res[f"all_gather/{dt}"] = np.stack([p.numpy() for p in parts])
    both = tensor(np.zeros((W * x.shape[0], *x.shape[1:]), x.dtype))
    dist.all_gather_into_tensor(both, tensor(x))
    res[f"all_gather_into_tensor/{dt}"] = both.numpy()
    stacked = tensor(np.zeros((W, *x.shape), x.dtype))
    work = dist.all_gather_into_tensor(stacked, tensor(x), async_op=True)
    work.wait()
    res[f"all_gather_into_tensor_stacked/{dt}"] = stacked.numpy()
    dst = W - 1
    got = [tensor(np.zeros_like(x)) for _ in range(W)] if R == dst else None
    dist.gather(tensor(x), got, dst=dst)
    if got is not None:
        res[f"gather/{dt}"] = np.stack([p.numpy() for p in got])
    mine = tensor(np.zeros_like(x))
    pieces = [tensor(C.collective_input(10 + r, dt)) for r in range(W)] if R == 0 else None
    dist.scatter(mine, pieces, src=0)
    res[f"scatter/{dt}"] = mine.numpy()
    if W > 1:  # a ring of sends: each rank receives its left neighbour's input
        recvd = tensor(np.zeros_like(x))
        if R % 2 == 0:
            dist.send(tensor(x), (R + 1) % W)
            sender = dist.recv(recvd, src=(R - 1) % W)
        else:
            sender = dist.recv(recvd)  # from any rank
            dist.send(tensor(x), (R + 1) % W)
        res[f"recv/{dt}"] = recvd.numpy()
        notes[f"recv_from/{dt}"] = sender
t = tensor(np.full(3, float(R + 1), np.float32))
work = dist.all_reduce(t, async_op=True)
notes["async_returns_work"] = type(work).__name__
work.wait()
res["async_all_reduce"] = t.numpy()
v0 = cr.ones(2)._version
t = cr.ones(2)
dist.all_reduce(t)
notes["version_bump"] = t._version - v0
objs: list = [None] * W
dist.all_gather_object(objs, {"rank": R, "name": f"r{R}"})
notes["all_gather_object"] = objs
box = [f"from rank {R}", R] if R == 0 else [None, None]
dist.broadcast_object_list(box, src=0)
notes["broadcast_object_list"] = box
dist.barrier()


# ---------------------------------------------------------------- DDP training
def train(kind: str, accumulate: int = 1, steps: int = C.STEPS) -> None:
    x, y = C.data(kind)
    ds = TensorDataset(cr.from_numpy(x), cr.from_numpy(y))
    sampler = DistributedSampler(ds, shuffle=True, seed=3)
    sampler.set_epoch(1)
    loader = DataLoader(ds, batch_size=C.PER_RANK, sampler=sampler)
    net = DDP(C.model(kind, seed=100 + R))  # rank 0's weights win
    opt = cr.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    it = iter(loader)
    for _ in range(steps):
        opt.zero_grad()
        for k in range(accumulate):
            xb, yb = next(it)
            if k < accumulate - 1:
                with net.no_sync():
                    (cr.nn.functional.cross_entropy(net(xb), yb) / accumulate).backward()
            else:
                (cr.nn.functional.cross_entropy(net(xb), yb) / accumulate).backward()
        opt.step()
    tag = f"train/{kind}/acc{accumulate}"
    for name, p in net.state_dict().items():
        res[f"{tag}/{name}"] = p.numpy()


train("mlp")
train("cnn")
train("mlp", accumulate=3, steps=6)


# ---------------------------------------------------------------- no_sync alone
net = DDP(C.model("mlp", seed=100 + R))
xb = cr.from_numpy(C.data("mlp")[0][R * 4 : R * 4 + 4])
with net.no_sync():
    net(xb).sum().backward()
res["no_sync/grad"] = net.module[0].weight.grad.numpy().copy()


# ---------------------------------------------------------------- unused parameters
class TwoHeads(cr.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = cr.nn.Linear(4, 4)
        self.left = cr.nn.Linear(4, 1)
        self.right = cr.nn.Linear(4, 1)
        self.never = cr.nn.Linear(4, 1)

    def forward(self, x: cr.Tensor, use_left: bool) -> cr.Tensor:
        h = self.body(x).tanh()
        return self.left(h) if use_left else self.right(h)


cr.manual_seed(5)
net = DDP(TwoHeads(), find_unused_parameters=True)
xb = cr.from_numpy(C.collective_input(R, "float32", (3, 4)))
net(xb, use_left=R == 0).sum().backward()
for name, p in net.module.named_parameters():
    if p.grad is not None:
        res[f"unused/{name}"] = p.grad.numpy()
    else:
        notes[f"unused_none/{name}"] = True
net.zero_grad()
net(xb, use_left=True).sum().backward()  # a second iteration: left used everywhere
res["unused2/left.weight"] = net.module.left.weight.grad.numpy()

strict = DDP(TwoHeads())
strict(xb, use_left=True).sum().backward()
try:
    strict(xb, use_left=True)
    notes["strict_error"] = None
except RuntimeError as e:
    notes["strict_error"] = str(e)


# ---------------------------------------------------------------- overlap: launch order
class Big(cr.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = cr.nn.Linear(512, 512)
        self.b = cr.nn.Linear(512, 512)
        self.c = cr.nn.Linear(512, 512)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.c(self.b(self.a(x).relu()).relu())


events: list[str] = []
big = DDP(Big())
comm = dist.process_group._group.comm
real = comm.allreduce


def logged(buf: np.ndarray, op: str) -> object:
    events.append(f"allreduce {buf.size}")
    return real(buf, op)


comm.allreduce = logged
big.module.b.weight.register_post_accumulate_grad_hook(lambda p: events.append("b.weight"))
big(cr.ones(2, 512)).sum().backward()
comm.allreduce = real
notes["overlap_events"] = events
notes["buckets"] = [[big._param_names[i] for i in b.params] for b in big._buckets]

np.savez(os.path.join(out_dir, f"rank{R}.npz"), **{k.replace("/", "|"): v for k, v in res.items()})
with open(os.path.join(out_dir, f"rank{R}.json"), "w") as f:
    json.dump(notes, f)
dist.destroy_process_group()
