"""chainrule.distributed on this machine: all-reduce times, W1's scaling efficiency on 2
processes (one thread each) against 1 process, and how much of DDP's communication
backward hides (Open MPI has no progress thread: measured, not assumed).

    python benchmarks/distributed.py [--repeats 20]

Runs itself under ``python -m chainrule.distributed.run`` (1 process without MPI, then 2)
and prints one table. W1 (issue 12's definition): MLP 784-512-512-10, ReLU, cross_entropy,
SGD lr 0.01, batch 256; one step = zero_grad, forward, backward, step.

* weak scaling: every process takes a batch of 256 (2 processes do twice the work per
  step); efficiency = t(1 process) / t(2 processes).
* strong scaling: the global batch of 256 is split (128 each); efficiency =
  t(1) / (2 * t(2)).
* overlap, with DDP's progress thread and without it: the share of steps in which each
  bucket's all-reduce had finished when backward ended (the direct test that communication
  progressed during backward), the wait left after backward, and the wall-clock share of
  the all-reduce hidden, (t_backward_no_sync + t_allreduce - t_backward_ddp) / t_allreduce
  (1 = fully hidden, 0 = none; it includes the skew between ranks, so on a loaded machine
  it is noise).
* on paper: a ring all-reduce model per bucket for N machines, W1 and W6 (issue 12's
  char-GPT, whose step is timed here on one process).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SIZES = [1 << 10, 1 << 14, 1 << 18, 1 << 20, 1 << 22, 25 << 18]  # float32 elements


def bucket_bytes(model) -> list:
    """The sizes of DDP's gradient buckets for ``model``, in launch order."""
    from chainrule.nn.parallel.distributed import _assign_buckets

    params = [p for p in model.parameters() if p.requires_grad]
    limits = [1 << 20, 25 << 20]
    return [sum(params[i]._data.nbytes for i in idx) for idx, _ in _assign_buckets(params, limits)]


def median_time(fn, repeats: int, sync=None) -> float:
    times = []
    for _ in range(repeats + 2):
        if sync is not None:
            sync()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times[2:]))


def w1(cr, batch: int):
    nn = cr.nn
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))  # fmt: skip
    rng = np.random.default_rng(0)
    x = cr.from_numpy(rng.standard_normal((batch, 784)).astype(np.float32))
    y = cr.from_numpy(rng.integers(0, 10, batch))
    return model, x, y


def w6(cr, batch: int = 32):
    """Issue 12's W6: char-level GPT (nanoGPT layout, no weight tying), vocab 65, 2
    layers, width 128, 4 heads, block 64, GELU (tanh), attention from matmul, masked_fill
    and softmax, AdamW lr 1e-3 weight decay 0.01."""
    nn, F = cr.nn, cr.nn.functional
    V, L, C, H, T = 65, 2, 128, 4, 64

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
            self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
            self.fc, self.out = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)
            self.register_buffer("mask", cr.tril(cr.ones(T, T)).bool().logical_not())

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q, k, v = (z.view(b, t, H, C // H).transpose(1, 2) for z in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (C // H) ** -0.5
            att = F.softmax(att.masked_fill(self.mask[:t, :t], float("-inf")), dim=-1)
            x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, C))
            return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(V, C), nn.Embedding(T, C)
            self.blocks = nn.Sequential(*[Block() for _ in range(L)])
            self.ln, self.head = nn.LayerNorm(C), nn.Linear(C, V)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(cr.arange(idx.shape[1]))
            return self.head(self.ln(self.blocks(x)))

    cr.manual_seed(0)
    model = GPT()
    rng = np.random.default_rng(0)
    idx = cr.from_numpy(rng.integers(0, V, (batch, T)))
    tgt = cr.from_numpy(rng.integers(0, V, (batch, T)))
    opt = cr.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(idx).view(-1, V), tgt.view(-1)).backward()
        opt.step()

    return model, step


def ring_model(buckets: list, step_s: float, n: int, bandwidth: float, latency: float) -> tuple:
    """Ring all-reduce of each bucket: 2 (n - 1) steps, each sending bucket / n bytes:
    2 (n - 1) (latency + bucket / (n bandwidth)). Weak scaling (each machine keeps its
    batch): efficiency step / (step + exposed communication), with no overlap, and with
    every bucket but the last (launched when backward ends) hidden behind backward (taken
    as 2/3 of a step) as far as it fits."""

    def t(nbytes: int) -> float:
        return 2 * (n - 1) * (latency + nbytes / (n * bandwidth))

    comm = sum(t(b) for b in buckets)
    exposed = t(buckets[-1]) + max(comm - t(buckets[-1]) - 2 * step_s / 3, 0.0)
    return comm, step_s / (step_s + comm), step_s / (step_s + exposed)


def overlap(cr, dist, DDP, repeats: int, variant: str) -> dict:
    """DDP's backward against backward alone and the buckets' all-reduce alone; which
    buckets were already reduced when backward ended, and the wait that was left.
    ``variant``: "thread" (DDP's progress thread) or "none" (no MPI call between a
    bucket's launch and the end of backward)."""
    model, x, y = w1(cr, 256)
    net = DDP(model)
    if variant == "none":
        object.__setattr__(net, "_progress", None)
    finals: list = []
    starts: list = [0.0]
    real_finalize = net._finalize

    def finalize():
        reached = time.perf_counter() - starts[0]  # backward's computation, hooks included
        prog = net._progress  # which buckets are done, read without an MPI call
        if prog is None:
            done = [b.work.is_completed() for b in net._buckets]
        else:  # the thread keeps the unfinished ones
            done = [all(b.work is not w for w in prog.works) for b in net._buckets]
        t0 = time.perf_counter()
        real_finalize()  # stops or joins the thread, then waits for what is left
        finals.append((done, time.perf_counter() - t0, reached))

    object.__setattr__(net, "_finalize", finalize)

    def backward(sync: bool) -> float:
        net.zero_grad()
        with contextlib.ExitStack() as stack:
            if not sync:
                stack.enter_context(net.no_sync())
            loss = cr.nn.functional.cross_entropy(net(x), y)
            t0 = starts[0] = time.perf_counter()
            loss.backward()
        return time.perf_counter() - t0

    def timed(sync: bool) -> float:
        out = []
        for _ in range(repeats + 2):
            dist.barrier()
            out.append(backward(sync))
        return float(np.median(out[2:]))

    bufs = [b.buffer for b in net._buckets]
    comm = dist.process_group._group.comm

    def allreduce_all():
        works = [dist.Work("bench", [comm.allreduce(b, "sum")]) for b in bufs]
        for w in works:
            w.wait()

    res = {
        "backward_local_ms": 1e3 * timed(False),
        "allreduce_all_ms": 1e3 * median_time(allreduce_all, repeats, dist.barrier),
        "backward_ddp_ms": 1e3 * timed(True),
        "buckets_bytes": [b.buffer.nbytes for b in net._buckets],
    }
    res["done_at_end"] = np.mean([f[0] for f in finals[2:]], axis=0).round(2).tolist()
    res["final_wait_ms"] = 1e3 * float(np.median([f[1] for f in finals[2:]]))
    res["compute_ms"] = 1e3 * float(np.median([f[2] for f in finals[2:]]))
    return res


def worker(out: str, repeats: int) -> None:
    import chainrule as cr
    import chainrule.distributed as dist
    from chainrule.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    res: dict = {"world": world}
    barrier = dist.barrier if world > 1 else None

    if world > 1:
        res["allreduce_ms"] = {}
        for n in SIZES:
            t = cr.ones(n)
            res["allreduce_ms"][n * 4] = 1e3 * median_time(
                lambda t=t: dist.all_reduce(t), repeats, barrier
            )

    for name, batch in (("weak", 256), ("strong", 256 // world)):
        model, x, y = w1(cr, batch)
        net = DDP(model) if world > 1 else model
        opt = cr.optim.SGD(net.parameters(), lr=0.01)

        def step(net=net, opt=opt, x=x, y=y):
            opt.zero_grad()
            cr.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

        res[f"step_ms_{name}"] = 1e3 * median_time(step, repeats, barrier)
        res["buckets_w1"] = bucket_bytes(model)

    if world == 1:
        model, step = w6(cr)
        res["step_ms_w6"] = 1e3 * median_time(step, max(repeats // 2, 3))
        res["buckets_w6"] = bucket_bytes(model)

    if world > 1:  # overlap: backward alone, the all-reduce alone, and both as DDP does them
        for variant in ("thread", "none"):
            res[f"overlap_{variant}"] = overlap(cr, dist, DDP, repeats, variant)
    if rank == 0:
        Path(out).write_text(json.dumps(res))
    dist.destroy_process_group()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--worker", default=None)
    a = p.parse_args()
    if a.worker:
        worker(a.worker, a.repeats)
        return
    results = {}
    with tempfile.TemporaryDirectory() as d:
        for n in (1, 2):
            out = os.path.join(d, f"w{n}.json")
            cmd = [sys.executable, "-m", "chainrule.distributed.run", "--nproc-per-node", str(n),
                   __file__, "--worker", out, "--repeats", str(a.repeats)]  # fmt: skip
            subprocess.run(cmd, check=True)
            results[n] = json.loads(Path(out).read_text())
    one, two = results[1], results[2]
    print("all-reduce on 2 local processes (float32, in place, median):")
    for nbytes, ms in two["allreduce_ms"].items():
        mb = int(nbytes) / 2**20
        print(f"  {mb:8.3f} MiB  {ms:8.3f} ms  {mb / 2**10 / (ms / 1e3):6.2f} GiB/s")
    print("W1 step (ms, median):")
    for name in ("weak", "strong"):
        t1, t2 = one[f"step_ms_{name}"], two[f"step_ms_{name}"]
        eff = t1 / t2 if name == "weak" else t1 / (2 * t2)
        print(f"  {name:6s}: 1 process {t1:7.2f}, 2 processes {t2:7.2f}  efficiency {eff:.2f}")
    variants = (("thread", "DDP's progress thread"), ("none", "no progress calls"))
    for variant, what in variants:
        o = two[f"overlap_{variant}"]
        bl, ar, bd = o["backward_local_ms"], o["allreduce_all_ms"], o["backward_ddp_ms"]
        print(f"overlap, {what} (W1 batch 256, buckets of {o['buckets_bytes']} bytes):")
        print(
            f"  backward alone {bl:.2f} ms, all-reduce alone {ar:.2f} ms, DDP backward {bd:.2f} ms"
        )
        print(f"  share of the all-reduce hidden behind backward: {(bl + ar - bd) / ar:.2f}")
        print(f"  buckets already reduced when backward ended (share of steps): {o['done_at_end']}")
        print(
            f"  DDP backward until its final wait {o['compute_ms']:.2f} ms, then the wait for the "
            f"buckets {o['final_wait_ms']:.2f} ms"
        )

    print("on paper: ring all-reduce between machines (weak scaling, each machine keeps its")
    print("batch; 10 Gb/s = 1.25 GB/s and 25 us per message; 1 Gb/s in brackets):")
    for w, step_ms in (("W1", one["step_ms_weak"]), ("W6", one["step_ms_w6"])):
        buckets = one[f"buckets_{w.lower()}"]
        mib = [round(b / 2**20, 2) for b in buckets]
        print(f"  {w}: buckets of {mib} MiB, one step {step_ms:.1f} ms here")
        for n in (2, 4, 8, 16, 64):
            fast = ring_model(buckets, step_ms / 1e3, n, 1.25e9, 25e-6)
            slow = ring_model(buckets, step_ms / 1e3, n, 1.25e8, 25e-6)
            print(
                f"    {n:3d} machines: all-reduce {1e3 * fast[0]:6.2f} ms [{1e3 * slow[0]:6.1f}], "
                f"efficiency {fast[1]:.2f} [{slow[1]:.2f}] without overlap, "
                f"{fast[2]:.2f} [{slow[2]:.2f}] with"
            )


if __name__ == "__main__":
    main()
