"""chainrule.distributed in this one process (a world of one, no MPI): DistributedSampler
against torch's, the engine's final callbacks against torch's, and the checks and errors
of the process group, the collectives and DDP."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import chainrule as cr
import chainrule.distributed as dist
from chainrule.nn.parallel import DistributedDataParallel as DDP
from chainrule.utils.data import DistributedSampler


@pytest.fixture
def group():
    dist.init_process_group()
    yield
    dist.destroy_process_group()


# ---------------------------------------------------------------- the sampler


@pytest.mark.parametrize("n", [1, 7, 10, 64, 1001])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_equals_torchs(n: int, replicas: int, shuffle: bool, drop_last: bool) -> None:
    data = list(range(n))
    for rank in range(replicas):
        for seed, epoch in [(0, 0), (3, 1), (2**33 + 5, 7)]:
            ours = DistributedSampler(data, replicas, rank, shuffle, seed, drop_last)
            theirs = tud.DistributedSampler(data, replicas, rank, shuffle, seed, drop_last)
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs)
            assert len(ours) == len(theirs) and ours.total_size == theirs.total_size


def test_sampler_epochs_differ_and_rank_errors() -> None:
    s = DistributedSampler(list(range(50)), 2, 0)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first
    for bad in (2, -1):
        with pytest.raises(ValueError) as ours:
            DistributedSampler(list(range(5)), 2, bad)
        with pytest.raises(ValueError) as theirs:
            tud.DistributedSampler(list(range(5)), 2, bad)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(list(range(5)))


def test_sampler_reads_the_group(group: None) -> None:
    s = DistributedSampler(list(range(5)), shuffle=False)
    assert (s.num_replicas, s.rank, list(s)) == (1, 0, [0, 1, 2, 3, 4])


# ---------------------------------------------------------------- final callbacks


def _callbacks_trace(lib):
    engine = lib.autograd.Variable._execution_engine
    log = []
    w = lib.ones(3, requires_grad=True)
    v = lib.ones(3, requires_grad=True)

    def hook(p):
        log.append("post " + ("w" if p is w else "v"))
        if p is w:
            engine.queue_callback(lambda: log.append(("first", w.grad.tolist())))
            engine.queue_callback(lambda: engine.queue_callback(lambda: log.append("nested")))

    w.register_post_accumulate_grad_hook(hook)
    v.register_post_accumulate_grad_hook(hook)
    ((w * 2).sum() + (v * w).sum()).backward()
    log.append("returned")
    try:
        engine.queue_callback(lambda: None)
    except RuntimeError as e:
        log.append(str(e))
    return log


def test_queue_callback_like_torch() -> None:
    assert _callbacks_trace(cr) == _callbacks_trace(torch)


# ---------------------------------------------------------------- the group


def test_world_of_one(group: None) -> None:
    assert dist.is_initialized() and dist.is_available()
    assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "mpi")
    t = cr.tensor([1.0, -2.0])
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX):
        dist.all_reduce(t, op)
    assert t.tolist() == [1.0, -2.0]
    out = cr.zeros(1, 2)
    dist.all_gather_into_tensor(out, cr.tensor([[1.0, 2.0]]))
    assert out.tolist() == [[1.0, 2.0]]
    parts = [cr.zeros(2)]
    dist.gather(cr.tensor([3.0, 4.0]), parts)
    assert parts[0].tolist() == [3.0, 4.0]


def test_group_errors_like_torch() -> None:
    assert (dist.get_rank(), dist.get_world_size(), dist.is_initialized()) == (-1, -1, False)
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.all_reduce(cr.ones(2))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DDP(cr.nn.Linear(2, 2))
    dist.init_process_group("gloo", timeout=timedelta(seconds=5))
    try:
        with pytest.raises(
            ValueError, match="trying to initialize the default process group twice!"
        ):
            dist.init_process_group()
        with pytest.raises(ValueError, match="Tensors must be contiguous"):
            dist.all_reduce(cr.ones(3, 2).t())
        with pytest.raises(TypeError, match="Expected parameter `tensor` of type torch.Tensor"):
            dist.all_reduce(np.ones(2))
        with pytest.raises(
            ValueError, match="all_reduce does not support RedOpType.MAX on complex"
        ):
            dist.all_reduce(cr.ones(2, dtype=cr.complex64), dist.ReduceOp.MAX)
        with pytest.raises(RuntimeError, match="Cannot use ReduceOp.BAND with non-integral dtype"):
            dist.all_reduce(cr.ones(2), dist.ReduceOp.BAND)
        with pytest.raises(
            ValueError, match=r"Invalid source rank: should be within the range \[0, 0\]"
        ):
            dist.broadcast(cr.ones(2), src=1)
        with pytest.raises(ValueError, match="output tensor size must be equal to world_size"):
            dist.all_gather_into_tensor(cr.zeros(3), cr.ones(2))
        with pytest.raises(NotImplementedError, match="one process group"):
            dist.all_reduce(cr.ones(2), group=object())
        with pytest.raises(NotImplementedError, match="device_ids= is for GPUs"):
            dist.barrier(device_ids=[0])
    finally:
        dist.destroy_process_group()
    with pytest.raises(NotImplementedError, match="store= is not supported"):
        dist.init_process_group(store=object())
    with pytest.raises(RuntimeError, match="Distributed package doesn't have NCCL built in"):
        dist.init_process_group("nccl")
    with pytest.raises(
        RuntimeError, match="world_size=2 was asked for, but this process was not started by MPI"
    ):
        dist.init_process_group(world_size=2)
    with pytest.raises(ValueError, match="rank=1 disagrees with the MPI job"):
        dist.init_process_group(rank=1)
    assert not dist.is_initialized()


def test_ddp_checks_and_state_dict(group: None) -> None:
    with pytest.raises(ValueError, match="device_ids and output_device arguments only work"):
        DDP(cr.nn.Linear(2, 2), device_ids=[0])
    for kwargs in (
        {"gradient_as_bucket_view": True}, {"static_graph": True}, {"mixed_precision": object()},
        {"process_group": object()},
    ):  # fmt: skip
        with pytest.raises(NotImplementedError):
            DDP(cr.nn.Linear(2, 2), **kwargs)
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        DDP(cr.nn.Linear(2, 2), bogus=1)
    frozen = cr.nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(RuntimeError, match="DistributedDataParallel is not needed"):
        DDP(frozen)
    inner = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.BatchNorm1d(3))
    net = DDP(inner)
    assert net.module is inner
    assert list(net.state_dict()) == ["module." + k for k in inner.state_dict()]
    twin = DDP(cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.BatchNorm1d(3)))
    twin.load_state_dict(net.state_dict())
    for a, b in zip(twin.parameters(), net.parameters()):
        assert a.tolist() == b.tolist()
    # a world of one: DDP's gradients are the module's own
    x = cr.randn(4, 2)
    net(x).sum().backward()
    ref = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.BatchNorm1d(3))
    ref.load_state_dict(inner.state_dict())
    ref(x).sum().backward()
    for a, b in zip(inner.parameters(), ref.parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6)
    with cr.no_grad():  # no backward expected: no reduction pending afterwards
        net(x)
    net(x)


def test_rank_zero_helpers(tmp_path, capsys) -> None:
    dist.print0("no group")
    assert dist.is_main_process()
    dist.init_process_group()
    try:
        dist.print0("rank", 0)
        assert dist.rank_zero_only(lambda: 5)() == 5
        dist.save_on_main({"w": cr.ones(2)}, tmp_path / "ckpt.pt")
        assert cr.load(tmp_path / "ckpt.pt")["w"].tolist() == [1.0, 1.0]
    finally:
        dist.destroy_process_group()
    assert capsys.readouterr().out == "no group\nrank 0\n"


def test_launcher_with_one_process_needs_no_mpi(tmp_path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import sys\nsys.modules['mpi4py'] = None\nimport chainrule.distributed as d\n"
        "d.init_process_group()\nprint(d.get_rank(), d.get_world_size(), sys.argv[1:])\n"
    )
    cmd = [sys.executable, "-m", "chainrule.distributed.run", "--nproc-per-node", "1"]
    p = subprocess.run([*cmd, str(script), "a", "--b"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "0 1 ['a', '--b']\n"


def test_mpiexec_flags(monkeypatch) -> None:
    from chainrule.distributed import run

    monkeypatch.setattr(run.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(run.os, "geteuid", lambda: 0)
    assert run.mpiexec_command(4, mpiexec="mpiexec") == [
        "mpiexec", "--allow-run-as-root", "--oversubscribe", "-n", "4", "--bind-to", "none",
    ]  # fmt: skip
    monkeypatch.setattr(run.os, "geteuid", lambda: 1000)
    assert run.mpiexec_command(2, mpiexec="mpiexec") == ["mpiexec", "-n", "2", "--bind-to", "none"]
    assert run.mpiexec_command(2, "hosts", mpiexec="mpiexec") == [
        "mpiexec", "--hostfile", "hosts", "--map-by", "ppr:2:node", "--bind-to", "none",
    ]  # fmt: skip
