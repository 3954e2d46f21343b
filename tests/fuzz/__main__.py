"""``python -m tests.fuzz``: run many programs, count categories, minimize each distinct finding.

    PYTHONPATH=src python -m tests.fuzz --programs 5000 --seed 0 --stateful 500 \\
        --out fuzz-findings.md

Programs ``seed .. seed+programs-1`` of the random generator, then ``--realistic`` programs
(seeds from ``seed``) of the training-loop generator (``tests/fuzz/realistic.py``), then
``--stateful`` examples of the Hypothesis state machine (``tests/fuzz/stateful.py``).
Findings are grouped by signature (category, kind of the diverging statement, message or
attribute key); up to ``--per-group`` programs of each group are minimized and the distinct
minimized programs printed (and written to ``--out`` as Markdown as they are found).
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import re
import sys
import threading
import time
from typing import Any

from .executor import CATEGORIES, EXCLUDED, FAILING, FLAGS, MATCH, SILENT, run_program
from .generator import generate
from .minimize import format_finding, minimize
from .program import Stmt, stmt_replace
from .realistic import generate_realistic

GENERATORS = {"random": generate, "realistic": generate_realistic}


def _cr() -> Any:
    import chainrule

    return chainrule


CRASH = "crash"  # the process died (torch segfaults on a few programs): not chainrule's


def _classify(seed: int, gen: str = "random") -> tuple[int, str, tuple | None, int]:
    prog = GENERATORS[gen](seed)
    r = run_program(prog, _cr())
    sig = r.divergence.signature if r.divergence is not None else None
    return seed, r.category, sig, len(prog)


def _child(seeds: list[int], conn: Any, gen: str = "random") -> None:
    for s in seeds:
        conn.send(("start", s))
        conn.send(("done", _classify(s, gen)))
    conn.send(("end", None))
    conn.close()


def _call(fn: Any, args: tuple, conn: Any) -> None:
    conn.send(fn(*args))
    conn.close()


def in_child(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a forked process; None if that process died (torch segfaulted)."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_call, args=(fn, args, child), daemon=True)
    p.start()
    child.close()
    try:
        res = parent.recv()
    except EOFError:
        res = None
    p.join()
    return res


def _collect_stateful(n: int, seed: int) -> list:
    from .stateful import collect

    return collect(n, seed)


def _minimize_in_child(prog: list[Stmt]) -> Any:
    try:
        return minimize_one(prog, _cr())
    except AssertionError:
        return None  # did not reproduce (a stateful example's effects differ)


def classify_all(
    seeds: list[int], jobs: int, gen: str = "random"
) -> list[tuple[int, str, tuple | None, int]]:
    """Classifies the programs of ``seeds`` (of generator ``gen``: ``GENERATORS``) in ``jobs``
    forked processes. A process that dies
    (a segfault in torch) is restarted after the seed it was running, recorded as a crash."""
    ctx = multiprocessing.get_context("fork")
    out: list = []
    lock = threading.Lock()

    def drive(part: list[int]) -> None:
        todo = list(part)
        while todo:
            parent, child = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_child, args=(todo, child, gen), daemon=True)
            p.start()
            child.close()
            current = None
            while True:
                try:
                    tag, val = parent.recv()
                except EOFError:
                    break
                if tag == "start":
                    current = val
                elif tag == "done":
                    with lock:
                        out.append(val)
                    todo.remove(val[0])
                    current = None
                else:
                    break
            p.join()
            if current is not None:  # died while running ``current``
                with lock:
                    out.append((current, CRASH, None, 0))
                todo.remove(current)

    threads = [threading.Thread(target=drive, args=(seeds[k::jobs],)) for k in range(jobs)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sorted(out)


_NAME = re.compile(r"\b(a|c|x|g|j|i|m|h|p|opt|mod)(\d+)\b")


def rename(stmts: list[Stmt]) -> list[Stmt]:
    """Variables renumbered in order of appearance (``a3, x7`` -> ``a0, x0``)."""
    seen: dict[str, str] = {}
    per: collections.Counter = collections.Counter()

    def sub(m: re.Match) -> str:
        k = m.group(0)
        if k not in seen:
            seen[k] = f"{m.group(1)}{per[m.group(1)]}"
            per[m.group(1)] += 1
        return seen[k]

    return [stmt_replace(s, _NAME.sub(sub, s.src)) if _NAME.search(s.src) else s for s in stmts]


def minimize_one(prog: list[Stmt], cr: Any) -> tuple[list[Stmt], Any]:
    small, d = minimize(prog, cr)
    renamed = rename(small)
    r = run_program(renamed, cr)
    if r.divergence is not None and r.divergence.signature == d.signature:
        return renamed, r.divergence
    return small, d


_SETUP = ("leaf", "st:leaf", "index", "mask", "dtype", "st:dtype")


def root_key(small: list[Stmt], d: Any) -> tuple:
    """Findings that are one root cause: an exception by its message; a wrong value or flag
    by what differs and the kinds of statement the minimized program needs."""
    if d.category in (SILENT, FLAGS):
        kinds = sorted({s.kind.removeprefix("st:") for s in small if s.kind not in _SETUP})
        return (d.category, d.key, tuple(kinds))
    return (d.category, d.key)


class Report:
    """The Markdown findings file: one entry per root key (the shortest program of it)."""

    def __init__(self, path: str | None, header: str) -> None:
        self.path, self.header = path, header
        self.findings: dict[tuple, list] = {}  # root key -> [count, length, text]
        self.counts = ""

    def add(self, key: tuple, count: int, small: list[Stmt], text: str) -> bool:
        length = sum(len(s.src) for s in small)
        old = self.findings.get(key)
        if old is None:
            self.findings[key] = [count, length, text]
            return True
        old[0] += count
        if length < old[1]:
            old[1:] = [length, text]
        return False

    def write(self) -> None:
        if not self.path:
            return
        parts = [self.header, self.counts]
        order = {c: i for i, c in enumerate(CATEGORIES)}
        items = sorted(self.findings.items(), key=lambda kv: (order[kv[0][0]], -kv[1][0]))
        for n, (key, (count, _, text)) in enumerate(items, 1):
            parts.append(
                f"## F{n}. {key[0]}: {key[1]} ({count} programs)\n\n```python\n{text}```\n"
            )
        with open(self.path, "w") as f:
            f.write("\n".join(parts))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    ap.add_argument("--programs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stateful", type=int, default=0, help="Hypothesis state-machine examples")
    ap.add_argument(
        "--realistic", type=int, default=0, help="training-loop programs (tests/fuzz/realistic.py)"
    )
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--per-group", type=int, default=3, help="programs minimized per group")
    ap.add_argument("--out", default=None, help="write the findings as Markdown here")
    ap.add_argument("--no-minimize", action="store_true")
    args = ap.parse_args(argv)

    t0 = time.time()
    seeds = list(range(args.seed, args.seed + args.programs))
    rows = classify_all(seeds, args.jobs)
    counts = collections.Counter(r[1] for r in rows)
    crashes = [seed for seed, cat, _, _ in rows if cat == CRASH]
    groups: dict[tuple, list[tuple[int, int]]] = collections.defaultdict(list)
    for seed, cat, sig, n in rows:
        if cat not in (MATCH, EXCLUDED, CRASH):
            groups[sig].append((n, seed))
    progs: dict[tuple, list[list[Stmt]]] = {
        sig: [generate(s) for _, s in sorted(members)[: args.per_group]]
        for sig, members in groups.items()
    }
    sizes = {sig: len(m) for sig, m in groups.items()}

    re_counts: collections.Counter = collections.Counter()
    if args.realistic:
        rseeds = list(range(args.seed, args.seed + args.realistic))
        rrows = classify_all(rseeds, args.jobs, "realistic")
        re_counts.update(r[1] for r in rrows)
        rcrashes = [seed for seed, cat, _, _ in rrows if cat == CRASH]
        rgroups: dict[tuple, list[tuple[int, int]]] = collections.defaultdict(list)
        for seed, cat, sig, n in rrows:
            if cat not in (MATCH, EXCLUDED, CRASH):
                rgroups[("realistic",) + sig].append((n, seed))
        for key, members in rgroups.items():
            progs[key] = [generate_realistic(s) for _, s in sorted(members)[: args.per_group]]
            sizes[key] = len(members)

    st_counts: collections.Counter = collections.Counter()
    if args.stateful:
        examples = []
        for part in range(0, args.stateful, 50):  # in children of 50 examples: torch may crash
            got = in_child(_collect_stateful, min(50, args.stateful - part), args.seed + part)
            examples += got or []
        for cat, sig, prog in examples:
            st_counts[cat] += 1
            if cat not in (MATCH, EXCLUDED):
                key = ("stateful",) + sig
                sizes[key] = sizes.get(key, 0) + 1
                lst = progs.setdefault(key, [])
                if len(lst) < args.per_group:
                    lst.append(prog)

    def count_lines(counter: collections.Counter, rows: list) -> list[str]:
        out = []
        for c in CATEGORIES:
            line = f"  {c:22s} {counter.get(c, 0)}"
            failing = [seed for seed, cat, _, _ in rows if cat == c and c in FAILING]
            if failing:  # the seeds, to rerun one: tests.fuzz.realistic / generator
                line += f" (seeds {failing[:20]})"
            out.append(line)
        return out

    lines = [f"programs: {args.programs} (seeds {args.seed}..{args.seed + args.programs - 1})"]
    lines += count_lines(counts, rows)
    if crashes:
        lines.append(f"  {'torch crashed':22s} {len(crashes)} (seeds {crashes[:20]})")
    if args.realistic:
        lines.append(f"realistic (training-loop) programs: {args.realistic}")
        lines += count_lines(re_counts, rrows)
        if rcrashes:
            lines.append(f"  {'torch crashed':22s} {len(rcrashes)} (seeds {rcrashes[:20]})")
    if args.stateful:
        lines.append(f"stateful (Hypothesis) examples: {len(examples)}")
        lines += [f"  {c:22s} {st_counts.get(c, 0)}" for c in CATEGORIES]
    lines.append(f"groups (category, statement kind, key): {len(sizes)}")
    summary = "\n".join(lines)
    print(summary, f"\n[{time.time() - t0:.0f}s]", flush=True)

    header = (
        "# Fuzz findings: program-level differential fuzzing against torch (issue 10)\n\n"
        "Generated by `python -m tests.fuzz` (tests/fuzz/). Each finding is a minimized "
        "program that runs against either library (`import torch as t` or `import chainrule "
        "as t`); the comment marks the statement where they diverge.\n"
    )
    report = Report(args.out, header)
    report.counts = "```\n" + summary + "\n```\n"
    report.write()
    if args.no_minimize:
        return 0

    seen: set[str] = set()
    order = {c: i for i, c in enumerate(CATEGORIES)}
    for sig in sorted(progs, key=lambda s: (order[s[-3]], -sizes[s])):
        for k, prog in enumerate(progs[sig]):
            got = in_child(_minimize_in_child, prog)
            if got is None:
                continue
            small, d = got
            text = format_finding(small, d)
            body = "\n".join(s.src for s in small)
            if body in seen:
                continue
            seen.add(body)
            source = {"stateful": "stateful generator", "realistic": "realistic generator"}.get(
                sig[0], "random generator"
            )
            key = root_key(small, d)
            if report.add(key, sizes[sig] if k == 0 else 1, small, f"# {source}\n" + text):
                print(f"\n=== {key[0]}: {key[1]} [{source}]\n{text}", flush=True)
                report.write()
    n_fail = sum(counts.get(c, 0) + st_counts.get(c, 0) + re_counts.get(c, 0) for c in FAILING)
    print(
        f"\n{len(report.findings)} distinct findings; "
        f"{n_fail} programs silently wrong or missing an error [{time.time() - t0:.0f}s]"
    )
    report.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
