"""What each rank runs under ``python -m chainrule.distributed.run``: set torchrun's
variables from MPI's, run the script as ``__main__``, and when it raises, record the error
for the launcher (``CHAINRULE_RUN_STATUS``), print it with the rank, and abort the job so
no other rank waits for this one. Standard library only until the script imports MPI."""

from __future__ import annotations

import json
import os
import runpy
import sys
import time
import traceback


def _torchrun_env() -> int:
    e = os.environ
    rank = e.get("OMPI_COMM_WORLD_RANK") or e.get("PMI_RANK") or e.get("PMIX_RANK") or "0"
    size = e.get("OMPI_COMM_WORLD_SIZE") or e.get("PMI_SIZE") or "1"
    local = e.get("OMPI_COMM_WORLD_LOCAL_RANK") or e.get("MPI_LOCALRANKID") or rank
    local_size = e.get("OMPI_COMM_WORLD_LOCAL_SIZE") or e.get("MPI_LOCALNRANKS") or size
    e.setdefault("RANK", rank)
    e.setdefault("WORLD_SIZE", size)
    e.setdefault("LOCAL_RANK", local)
    e.setdefault("LOCAL_WORLD_SIZE", local_size)
    return int(rank)


def _record(rank: int, status: str, error: str = "") -> None:
    where = os.environ.get("CHAINRULE_RUN_STATUS")
    if not where or not os.path.isdir(where):
        return
    rec = {"rank": rank, "status": status, "error": error, "time": time.time()}
    with open(os.path.join(where, f"rank{rank}.json"), "w") as f:
        json.dump(rec, f)


def _abort() -> None:
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
        mpi.COMM_WORLD.Abort(1)
    os._exit(1)  # MPI not started yet: a non-zero exit makes mpiexec stop the job


def main() -> None:
    rank = _torchrun_env()
    args = sys.argv[1:]
    module = args[:1] == ["-m"]
    if module:
        args = args[1:]
    sys.argv = args
    try:
        if module:
            runpy.run_module(args[0], run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
            runpy.run_path(args[0], run_name="__main__")
    except SystemExit as e:
        if e.code not in (None, 0):
            _record(rank, "error", f"SystemExit({e.code!r})")
            sys.stderr.write(f"[rank {rank}] exited with {e.code!r}\n")
            sys.stderr.flush()
            _abort()
        _record(rank, "ok")
        raise
    except BaseException as e:  # noqa: BLE001 (every failure stops the job)
        _record(rank, "error", f"{type(e).__name__}: {e}".splitlines()[0])
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        sys.stderr.write("".join(f"[rank {rank}] {line}\n" for line in text.splitlines()))
        sys.stderr.flush()
        _abort()
    _record(rank, "ok")


if __name__ == "__main__":
    main()
