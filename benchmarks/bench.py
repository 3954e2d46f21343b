"""`make bench`: issue 12's workloads, chainrule against torch.

Default mode: one process, one thread each (torch.set_num_threads(1), one BLAS thread), the
frameworks timed in interleaved rounds so both share the machine's noise; chainrule runs
with its native kernels and again on the NumPy reference kernels (``backend.use``) in the
same rounds. Each round starts one contender later than the one before (no contender is
always first, or always after torch.compile). Each cell is the median step time of a
round; a ratio is chainrule / torch eager within a round, printed as the median over
rounds and its range.

    python benchmarks/bench.py [--workloads W1,W2,W5,W6] [--rounds 5] [--repeats 10]
                               [--compiled] [--multicore] [--clock cpu]

``--compiled`` adds torch.compile (and ``chainrule.compile`` where it exists).
``--multicore`` runs each framework in its own process with its default threads instead
(alternating, a fresh process per round; a ratio's range is over rounds);
``--chainrule-env VAR=VALUE`` adds a variable to chainrule's processes only.
``--clock cpu`` times the thread's CPU time instead of the wall clock: on a machine shared
with other work, the time a step waits to be scheduled is not counted (cache and memory
contention still are).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _single_thread_env() -> None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"  # before NumPy loads: one BLAS thread, no busy-waiting pool


CLOCK = time.perf_counter  # --clock cpu: time.thread_time


def _median_time(fn, repeats: int) -> float:
    times = []
    clock = CLOCK
    for _ in range(repeats):
        t = clock()
        fn()
        times.append(clock() - t)
    return statistics.median(times)


def _contenders(name: str, compiled: bool):
    """(label, lib, prepare) for each column; prepare() is called before each timing."""
    import torch

    import chainrule as cr

    sys.path.insert(0, HERE)
    from workloads import WORKLOADS

    try:
        from chainrule import backend
    except ImportError:  # a chainrule without the native layer (the measurement "before")
        backend = None
    build = WORKLOADS[name]
    out = []
    native = lambda: None  # noqa: E731
    if backend is not None and backend.native_available():
        step = build(cr)
        native = lambda: backend.use("native")  # noqa: E731
        out.append(("chainrule native", step, native))
        out.append(("chainrule numpy", step, lambda: backend.use("numpy")))
    else:
        out.append(("chainrule", build(cr), lambda: None))
    if compiled and hasattr(cr, "compile"):  # (its kernels too: the table it replays with)
        step, per = build(cr)
        out.append(("chainrule compiled", (cr.compile(step), per), native))
    out.append(("torch", build(torch), lambda: None))
    if compiled:
        step, per = build(torch)
        out.append(("torch.compile", (torch.compile(step), per), lambda: None))
    return out


def run_one_process(names, rounds, repeats, compiled) -> None:
    _single_thread_env()
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, HERE)
    from workloads import UNITS

    what = "CPU time of the thread" if CLOCK is time.thread_time else "wall time"
    print(f"one process, one thread each; {rounds} interleaved rounds x {repeats} steps ({what})")
    for name in names:
        cols = _contenders(name, compiled)
        for _, (step, _per), prepare in cols:  # warm up (and compile) outside the timing
            prepare()
            step()
            step()
        times = {label: [] for label, _, _ in cols}
        for r in range(rounds):  # each round starts one contender later: no fixed order
            for label, (step, per), prepare in cols[r % len(cols) :] + cols[: r % len(cols)]:
                prepare()
                times[label].append(_median_time(step, repeats) / per)
        scale = 1e6 if UNITS[name] == "us/op" else 1e3
        torch_t = times["torch"]
        print(f"\n{name} ({UNITS[name]}, median over rounds; ratio to torch eager per round)")
        for label, ts in times.items():
            ratios = [t / r for t, r in zip(ts, torch_t)]
            print(
                f"  {label:20s} {statistics.median(ts) * scale:9.2f}   ratio "
                f"{statistics.median(ratios):5.2f}  ({min(ratios):.2f}-{max(ratios):.2f})"
            )


def _threads_note(framework: str) -> str:
    """The thread counts a worker runs with (printed, so a run shows its defaults)."""
    if framework == "torch":
        import torch

        return f"torch.get_num_threads()={torch.get_num_threads()}"
    import chainrule as cr

    try:
        from chainrule.backend import threads

        note = f"cr.get_num_threads()={cr.get_num_threads()} openmp={threads.has_openmp()}"
        if hasattr(threads, "blas_pool_shared"):
            note += f" blas_on_kernel_team={threads.blas_pool_shared()}"
    except ImportError:  # a chainrule without the threads API
        note = "chainrule without threads"
    import ctypes
    import glob

    import numpy as np

    libs = os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*")
    for path in glob.glob(libs):  # NumPy's bundled OpenBLAS: its thread count
        dll = ctypes.CDLL(path)
        for sym in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads"):
            if hasattr(dll, sym):
                return note + f" openblas={getattr(dll, sym)()}"
    return note


def _worker(framework: str, name: str, repeats: int) -> None:
    """One framework alone in this process, default threads: print seconds per unit (the
    last line) after a line naming the thread counts and the other framework's absence."""
    sys.path.insert(0, HERE)
    from workloads import WORKLOADS

    if framework == "torch":
        import torch as lib
    else:
        import chainrule as lib
    step, per = WORKLOADS[name](lib)
    step()
    step()
    other = "chainrule" if framework == "torch" else "torch"
    print(_threads_note(framework), f"{other}_loaded={other in sys.modules}")
    busy, ours, wall = _busy_cpu(), _own_cpu(), time.perf_counter()
    t = _median_time(step, repeats) / per
    wall = time.perf_counter() - wall
    print((_busy_cpu() - busy - (_own_cpu() - ours)) / wall)  # other processes' cores
    print(t)


def _busy_cpu() -> float:
    """Seconds of CPU time the whole machine has spent busy (Linux's /proc/stat; nan
    elsewhere)."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return float("nan")
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # not idle, iowait


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


QUIET = 0.1  # a round counts as quiet when other processes used less than this many cores


def run_multicore(names, rounds, repeats, chainrule_env=()) -> None:
    """Each framework in a fresh process of its own, with the environment this script was
    started with (no thread variables set here: each library's default threads), the two
    alternating round after round; ``chainrule_env`` (VAR=VALUE) is added for chainrule's
    processes only (to measure e.g. OMP_WAIT_POLICY)."""
    print(f"each framework in its own process, default threads; {rounds} alternating rounds")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY",
                "GOMP_SPINCOUNT"):  # fmt: skip
        if var in os.environ:
            print(f"  (environment: {var}={os.environ[var]})")
    extra = dict(kv.split("=", 1) for kv in chainrule_env)
    if extra:
        print(f"  chainrule's processes also get {extra}")
    for name in names:
        times = {"chainrule": [], "torch": []}
        others = {"chainrule": [], "torch": []}
        notes = {}
        for _ in range(rounds):
            for fw in times:
                cmd = [sys.executable, __file__, "--worker", fw, name, "--repeats", str(repeats)]
                env = {**os.environ, **extra} if fw == "chainrule" else None
                res = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
                lines = res.stdout.strip().splitlines()
                notes[fw] = lines[-3]
                others[fw].append(float(lines[-2]))
                times[fw].append(float(lines[-1]))
        ratios = [c / t for c, t in zip(times["chainrule"], times["torch"])]
        c, t = statistics.median(times["chainrule"]), statistics.median(times["torch"])
        print(
            f"  {name}: chainrule {c * 1e3:8.3f} ms, torch {t * 1e3:8.3f} ms, ratio "
            f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        )
        # threads that wait for one another suffer most when other work takes their cores:
        # each round's ratio is shown with the cores other processes used meanwhile
        quiet = [
            r for r, a, b in zip(ratios, others["chainrule"], others["torch"])
            if a < QUIET and b < QUIET
        ]  # fmt: skip
        rounds_note = ", ".join(
            f"{r:.2f} [{a:.1f}/{b:.1f}]"
            for r, a, b in zip(ratios, others["chainrule"], others["torch"])
        )
        print(f"      rounds: ratio [other processes' cores: chainrule's/torch's]: {rounds_note}")
        if quiet:
            print(
                f"      quiet rounds (< {QUIET} cores): ratio {statistics.median(quiet):.2f} "
                f"({min(quiet):.2f}-{max(quiet):.2f}) over {len(quiet)}"
            )
        for fw, note in notes.items():
            print(f"      {fw}: {note}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workloads", default="W1,W2,W5,W6")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--compiled", action="store_true")
    p.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall",
        help="cpu: the thread's CPU time (time.thread_time), for a machine shared with other "
        "work: a step is not charged for the time it waits to be scheduled (one-process "
        "mode, where every framework runs on this one thread)",
    )  # fmt: skip
    p.add_argument("--multicore", action="store_true")
    p.add_argument("--worker", nargs=2, metavar=("FRAMEWORK", "WORKLOAD"))
    p.add_argument("--chainrule-env", action="append", default=[], metavar="VAR=VALUE")
    args = p.parse_args()
    if args.worker:
        _worker(args.worker[0], args.worker[1], args.repeats)
        return
    names = args.workloads.split(",")
    if args.clock == "cpu":
        if args.multicore:
            p.error("--clock cpu times one thread: not with --multicore")
        global CLOCK
        CLOCK = time.thread_time
    if args.multicore:
        run_multicore(names, args.rounds, args.repeats, args.chainrule_env)
    else:
        run_one_process(names, args.rounds, args.repeats, args.compiled)


if __name__ == "__main__":
    main()
