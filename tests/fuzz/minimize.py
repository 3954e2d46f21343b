"""Minimize a failing program: delta debugging over statements, then simpler statements.

A candidate is kept when it still fails the same way: the same category, at a statement of
the same kind, with the same key (the exception's message words, or the attribute that
differs). The result is printed as Python source that runs against either library.
"""

from __future__ import annotations

import re
from typing import Any

from .executor import Divergence, run_program
from .program import Stmt, render, stmt_replace

__all__ = ["minimize", "format_finding"]

# generic rewrites tried on every statement: flags that rarely matter to a finding
_DROPS = [
    r", retain_graph=True",
    r"retain_graph=True, ?",
    r", create_graph=True",
    r"create_graph=True, ?",
    r", allow_unused=True",
    r", keepdim=True",
    r", weight_decay=[0-9.]+",
    r", momentum=[0-9.]+",
    r", nesterov=True",
    r", betas=\([^)]*\)",
    r", amsgrad=True",
    r", maximize=True",
    r", dtype=t.float64",
]


def _variants(s: Stmt) -> list[str]:
    out = list(s.simpler)
    for pat in _DROPS:
        new = re.sub(pat, "", s.src, count=1)
        if new != s.src:
            out.append(new)
    if s.src.startswith("with t.no_grad():\n    ") and s.src.count("\n") == 1:
        out.append(s.src.split("\n    ", 1)[1])
    ok = []
    for v in out:
        try:
            compile(v, "<fuzz>", "exec")
        except SyntaxError:
            continue
        ok.append(v)
    return ok


def minimize(stmts: list[Stmt], cr: Any, max_runs: int = 2000) -> tuple[list[Stmt], Divergence]:
    """The smallest program found that fails as ``stmts`` does (and its divergence)."""
    first = run_program(stmts, cr)
    target = first.divergence
    assert target is not None, "nothing to minimize: the program matches"
    sig = target.signature
    runs = 0
    last: dict[str, Divergence] = {}

    def fails(cand: list[Stmt]) -> bool:
        nonlocal runs
        if runs >= max_runs:
            return False
        runs += 1
        r = run_program(cand, cr)
        ok = r.divergence is not None and r.divergence.signature == sig
        if ok:
            last["d"] = r.divergence
        return ok

    cur = list(stmts[: target.index + 1])
    last["d"] = target
    # ddmin over statements
    n = 2
    while len(cur) >= 2:
        chunk = max(1, len(cur) // n)
        reduced = False
        for start in range(0, len(cur), chunk):
            cand = cur[:start] + cur[start + chunk :]
            if cand and fails(cand):
                cur = cand
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(cur), n * 2)
    # simplify statements, then drop singles again, until nothing changes
    changed = True
    while changed and runs < max_runs:
        changed = False
        for i in range(len(cur)):
            for v in _variants(cur[i]):
                cand = cur[:i] + [stmt_replace(cur[i], v)] + cur[i + 1 :]
                if fails(cand):
                    cur = cand
                    changed = True
                    break
        i = 0
        while i < len(cur):
            cand = cur[:i] + cur[i + 1 :]
            if cand and fails(cand):
                cur = cand
                changed = True
            else:
                i += 1
    final = run_program(cur, cr)
    return cur, final.divergence or last["d"]


def format_finding(stmts: list[Stmt], d: Divergence) -> str:
    """The minimized program as Python, with both outcomes at the diverging statement."""
    lines = render(stmts).rstrip("\n").split("\n")
    src = lines[0] + "  # or: import chainrule as t\n"
    for i, s in enumerate(stmts):
        src += s.src
        if i == d.index:
            src += f"  # <- {d.detail}"
        src += "\n"
    src += f"# torch:     {d.torch}\n# chainrule: {d.chainrule}\n"
    return src
