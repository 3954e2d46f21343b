"""The default process group: which transport it runs on, its rank and size, and how a
wait ends (done, or a timeout naming the collective).

Two transports, one interface (NumPy buffers in, a request out):

* ``_MPIComm``: MPI through mpi4py, on a duplicate of ``COMM_WORLD``. Every collective is
  the non-blocking MPI call (``Iallreduce``, ``Ibcast`` ...); a wait polls it against the
  group's timeout, so a peer that died or hangs gives a ``DistBackendError`` instead of a
  hang. Once a collective has timed out (or any exception escapes the script) the job is
  aborted (``MPI_Abort``), since ``MPI_Finalize`` would wait for the lost peer forever.
* ``_SelfComm``: a world of one process (``python train.py``), with no MPI imported at all:
  each collective is a copy.

A process is in an MPI job when the MPI launcher's variables are set (``mpiexec``, or
``python -m chainrule.distributed.run``, which runs ``mpiexec``); otherwise its world is one
process, and asking for more (``world_size=``, torchrun's ``WORLD_SIZE``) is an error that
says how to launch.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from datetime import timedelta
from enum import IntEnum
from typing import Any

import numpy as np

__all__ = [
    "DistBackendError", "DistError", "ReduceOp", "Work", "destroy_process_group",
    "get_backend", "get_rank", "get_world_size", "init_process_group", "is_available",
    "is_initialized", "is_mpi_available",
]  # fmt: skip

default_pg_timeout = timedelta(minutes=30)  # torch.distributed.constants.default_pg_timeout

# the variables an MPI launcher sets in each process it starts (Open MPI, MPICH/Hydra, PMIx)
_MPI_ENV = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


class DistError(RuntimeError):
    """torch.distributed.DistError: an error of the distributed package."""


class DistBackendError(DistError):
    """torch.distributed.DistBackendError: the transport failed (here: a collective timed
    out, because another rank crashed, was killed or is stuck)."""


class RedOpType(IntEnum):
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8

    def __str__(self) -> str:  # torch's spelling in messages
        return f"RedOpType.{self.name}"

    def __repr__(self) -> str:
        return f"<RedOpType.{self.name}: {self.value}>"


class ReduceOp:
    """torch's reduction operations: ``ReduceOp.SUM``, ``AVG``, ``PRODUCT``, ``MIN``,
    ``MAX``, ``BAND``, ``BOR``, ``BXOR``."""

    RedOpType = RedOpType
    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM


def is_available() -> bool:
    """torch.distributed.is_available: always (a world of one needs no MPI)."""
    return True


def is_mpi_available() -> bool:
    """Whether mpi4py can be imported (an MPI job needs it; one process does not)."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


# ------------------------------------------------------------------------- transports


class _Done:
    """A request that has completed (the self transport's)."""

    def Test(self) -> bool:  # noqa: N802 (mpi4py's spelling)
        return True


_DONE = _Done()


class _SelfComm:
    """A world of one process: every collective is a copy into the receive buffer."""

    rank, size = 0, 1

    def allreduce(self, buf: np.ndarray, op: str) -> Any:
        return _DONE

    def bcast(self, buf: np.ndarray, root: int) -> Any:
        return _DONE

    def allgather(self, send: np.ndarray, recv: np.ndarray) -> Any:
        recv.reshape(-1)[...] = send.reshape(-1)
        return _DONE

    def reduce_scatter(self, send: np.ndarray, recv: np.ndarray, op: str) -> Any:
        recv.reshape(-1)[...] = send.reshape(-1)
        return _DONE

    def reduce(self, buf: np.ndarray, op: str, root: int) -> Any:
        return _DONE

    def gather(self, send: np.ndarray, recv: np.ndarray | None, root: int) -> Any:
        recv.reshape(-1)[...] = send.reshape(-1)  # type: ignore[union-attr]
        return _DONE

    def scatter(self, send: np.ndarray | None, recv: np.ndarray, root: int) -> Any:
        recv.reshape(-1)[...] = send.reshape(-1)  # type: ignore[union-attr]
        return _DONE

    def barrier(self) -> Any:
        return _DONE

    def send(self, buf: np.ndarray, dst: int, tag: int) -> Any:
        raise ValueError("Invalid destination rank: should be within the range [0, 0]")

    def recv(self, buf: np.ndarray, src: int | None, tag: int) -> Any:
        raise ValueError("Invalid source rank: should be within the range [0, 0]")

    def abort(self) -> None:
        os._exit(1)


class _Received:
    """A receive's request and its status (which says the sender's rank once done)."""

    def __init__(self, request: Any, status: Any) -> None:
        self.request, self.status = request, status

    def Test(self) -> bool:  # noqa: N802
        return self.request.Test(self.status)

    def source(self) -> int:
        return self.status.Get_source()


class _MPIComm:
    """MPI through mpi4py: the non-blocking form of each collective on NumPy buffers."""

    def __init__(self) -> None:
        import mpi4py

        mpi4py.rc.thread_level = "multiple"
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self._ops = {
            "sum": MPI.SUM, "prod": MPI.PROD, "min": MPI.MIN, "max": MPI.MAX,
            "band": MPI.BAND, "bor": MPI.BOR, "bxor": MPI.BXOR,
            "lor": MPI.LOR, "land": MPI.LAND, "lxor": MPI.LXOR,
        }  # fmt: skip

    def allreduce(self, buf: np.ndarray, op: str) -> Any:
        return self.comm.Iallreduce(self.MPI.IN_PLACE, buf, self._ops[op])

    def bcast(self, buf: np.ndarray, root: int) -> Any:
        return self.comm.Ibcast(buf, root)

    def allgather(self, send: np.ndarray, recv: np.ndarray) -> Any:
        return self.comm.Iallgather(send, recv)

    def reduce_scatter(self, send: np.ndarray, recv: np.ndarray, op: str) -> Any:
        return self.comm.Ireduce_scatter_block(send, recv, self._ops[op])

    def reduce(self, buf: np.ndarray, op: str, root: int) -> Any:
        if self.rank == root:
            return self.comm.Ireduce(self.MPI.IN_PLACE, buf, self._ops[op], root)
        return self.comm.Ireduce(buf, None, self._ops[op], root)

    def gather(self, send: np.ndarray, recv: np.ndarray | None, root: int) -> Any:
        return self.comm.Igather(send, recv, root)

    def scatter(self, send: np.ndarray | None, recv: np.ndarray, root: int) -> Any:
        return self.comm.Iscatter(send, recv, root)

    def barrier(self) -> Any:
        return self.comm.Ibarrier()

    def send(self, buf: np.ndarray, dst: int, tag: int) -> Any:
        return self.comm.Isend(buf, dst, tag)

    def recv(self, buf: np.ndarray, src: int | None, tag: int) -> Any:
        src = self.MPI.ANY_SOURCE if src is None else src
        return _Received(self.comm.Irecv(buf, src, tag), self.MPI.Status())

    def abort(self) -> None:
        self.MPI.COMM_WORLD.Abort(1)


# ------------------------------------------------------------------------- the group


class _Group:
    """The default process group: its transport, backend name and timeout."""

    def __init__(self, comm: Any, backend: str, timeout: timedelta) -> None:
        self.comm = comm
        self.backend = backend
        self.timeout = timeout.total_seconds()
        self.broken = False  # a wait timed out: MPI_Finalize would hang, so abort at exit

    @property
    def rank(self) -> int:
        return self.comm.rank

    @property
    def size(self) -> int:
        return self.comm.size


_group: _Group | None = None


def _world(group: Any = None) -> _Group:
    if group is not None and group is not _group:
        raise NotImplementedError(
            "chainrule.distributed has one process group, the default one: pass group=None"
        )
    if _group is None:
        raise ValueError(
            "Default process group has not been initialized, please make sure to call "
            "init_process_group."
        )
    return _group


class Work:
    """torch's ``Work``: the handle an ``async_op=True`` collective returns. ``wait()``
    blocks until the operation is done (or raises ``DistBackendError`` after the group's
    timeout) and then finishes it (an average's division, copies into a list)."""

    def __init__(self, name: str, requests: list, finish: Any = None) -> None:
        self._name = name
        self._requests = requests
        self._finish = finish
        self._done = False
        self.result_value: Any = None

    def is_completed(self) -> bool:
        """Whether the operation has finished, without waiting for it."""
        if self._done:
            return True
        self._requests = [r for r in self._requests if not r.Test()]
        return not self._requests

    def wait(self, timeout: timedelta | None = None) -> bool:
        """Block until the operation is done, then finish it; raises ``DistBackendError``
        after ``timeout`` (the group's, by default). Returns True."""
        if self._done:
            return True
        group = _world()
        limit = group.timeout if timeout is None else timeout.total_seconds()
        start = time.monotonic()
        spins = 0
        for r in self._requests:
            while not r.Test():
                spins += 1
                if spins > 2000:  # a slow peer: stop burning the core it may need
                    time.sleep(0.0002)
                    if time.monotonic() - start > limit:
                        group.broken = True
                        raise DistBackendError(
                            f"{self._name} timed out after {limit:g} s on rank {group.rank} "
                            f"of {group.size}: another rank crashed, was killed or is stuck "
                            "(the limit is init_process_group's timeout=)"
                        )
        self._requests = []
        self._done = True
        if self._finish is not None:
            self.result_value = self._finish()
        return True

    def result(self) -> Any:
        """Wait, then return the operation's result (``irecv``: the sender's rank)."""
        self.wait()
        return self.result_value


def _run(name: str, requests: list, finish: Any, async_op: bool) -> Work | None:
    work = Work(name, requests, finish)
    if async_op:
        return work
    work.wait()
    return None


# ------------------------------------------------------------------------- init


def _launched_by_mpi() -> bool:
    return any(k in os.environ for k in _MPI_ENV)


def _env_int(name: str) -> int | None:
    v = os.environ.get(name)
    return None if v in (None, "") else int(v)  # type: ignore[arg-type]


_BACKENDS = ("mpi", "gloo")


def _check_backend(backend: str | None) -> str:
    if backend is None:
        return "mpi"
    name = str(backend).lower()
    for part in name.split(","):  # "cpu:gloo,cuda:nccl": the CPU part is what runs here
        device, _, which = part.rpartition(":")
        if device in ("", "cpu") and which in _BACKENDS:
            return "mpi"
    if "nccl" in name:
        raise RuntimeError("Distributed package doesn't have NCCL built in")
    raise ValueError(f"Invalid backend: '{backend}'")


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    store: Any = None,
    group_name: str = "",
    pg_options: Any = None,
    device_id: Any = None,
) -> None:
    """Join the default process group (torch's ``init_process_group``).

    Under ``mpiexec`` (or ``python -m chainrule.distributed.run``) the group is the MPI job:
    rank and size come from MPI, and a ``rank``/``world_size`` given here or in torch's
    ``RANK``/``WORLD_SIZE`` variables must agree with them. A plain ``python train.py`` is a
    world of one process, which needs no MPI. ``backend`` is ``"mpi"`` (the default);
    ``"gloo"`` (what CPU scripts written for torch ask for) runs on MPI too.
    ``timeout`` bounds every wait: a collective still unfinished then raises
    ``DistBackendError`` (a peer died or hangs) and the job is aborted. ``init_method``
    and ``group_name`` are accepted and have nothing to do: MPI has already connected the
    processes."""
    global _group
    if _group is not None:
        raise ValueError("trying to initialize the default process group twice!")
    for name, value in (("store", store), ("pg_options", pg_options), ("device_id", device_id)):
        if value is not None:
            raise NotImplementedError(
                f"init_process_group: {name}= is not supported (the MPI job is the group)"
            )
    name = _check_backend(backend)
    if timeout is None:
        timeout = default_pg_timeout
    if not isinstance(timeout, timedelta):
        raise TypeError(
            f"Expected timeout argument to be of type datetime.timedelta, got {timeout}"
        )
    if _launched_by_mpi():
        try:
            comm: Any = _MPIComm()
        except ImportError as e:
            raise RuntimeError(
                "this process was started by an MPI launcher but mpi4py is not installed: "
                "pip install 'chainrule[dist]'"
            ) from e
    else:
        want = world_size if world_size > 0 else _env_int("WORLD_SIZE")
        if want is not None and want > 1:
            raise RuntimeError(
                f"world_size={want} was asked for, but this process was not started by MPI: "
                f"run `python -m chainrule.distributed.run --nproc-per-node {want} script.py` "
                f"or `mpiexec -n {want} python script.py`"
            )
        comm = _SelfComm()
    for what, given in (
        ("world_size", world_size if world_size > 0 else None),
        ("rank", rank if rank >= 0 else None),
        ("WORLD_SIZE", _env_int("WORLD_SIZE")),
        ("RANK", _env_int("RANK")),
    ):
        actual = comm.size if "size" in what.lower() else comm.rank
        if given is not None and given != actual:
            raise ValueError(
                f"{what}={given} disagrees with the MPI job, in which this process has "
                f"rank {comm.rank} of {comm.size}"
            )
    _group = _Group(comm, name, timeout)
    if comm.size > 1:
        _install_abort_on_error()


def destroy_process_group(group: Any = None) -> None:
    """Leave the default process group (its communicator is freed; MPI itself stays
    initialized until the process exits, as MPI can be initialized only once)."""
    global _group
    g = _world(group)
    if isinstance(g.comm, _MPIComm) and not g.broken:
        g.comm.comm.Free()
    _group = None


def is_initialized() -> bool:
    """Whether ``init_process_group`` has made the default process group."""
    return _group is not None


def get_rank(group: Any = None) -> int:
    """This process's rank; -1 when no group is initialized (torch's answer)."""
    return -1 if _group is None else _group.rank


def get_world_size(group: Any = None) -> int:
    """The number of processes; -1 when no group is initialized (torch's answer)."""
    return -1 if _group is None else _group.size


def get_backend(group: Any = None) -> str:
    """The default group's backend name: ``"mpi"`` (what ``"gloo"`` also runs on)."""
    return _world().backend


# ------------------------------------------------------------------------- failing fast

_installed = False


def _install_abort_on_error() -> None:
    """An uncaught exception on one rank aborts the whole MPI job (else the other ranks
    would wait in their next collective, and this one in MPI_Finalize, for ever); so does
    leaving after a collective timed out."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = sys.excepthook

    def excepthook(kind: Any, value: Any, tb: Any) -> None:
        previous(kind, value, tb)
        g = _group
        if g is not None and g.size > 1:
            sys.stderr.write(
                f"chainrule.distributed: rank {g.rank} of {g.size} failed with "
                f"{kind.__name__}; aborting the job\n"
            )
            sys.stderr.flush()
            g.comm.abort()

    sys.excepthook = excepthook

    def at_exit() -> None:
        g = _group
        if g is not None and g.broken:
            sys.stderr.flush()
            g.comm.abort()

    atexit.register(at_exit)
