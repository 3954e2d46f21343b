"""Statements and programs: Python source run as-is against ``t = torch`` or ``t = chainrule``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = ["Stmt", "render", "stmt_replace"]


@dataclass(frozen=True)
class Stmt:
    """One statement of a program.

    src: Python source (one statement; a ``with`` block may span lines), using only ``t`` and
    the program's variables;
    kind: what it does, for grouping findings (``"inplace:mul_"``, ``"backward"`` ...);
    guard: optional Python expression over the *torch* run's variables, evaluated before the
    statement with the helpers of ``executor.GUARDS``; when false the statement sits at a tie
    or a kink where torch and chainrule may legitimately differ, and the program is
    ``excluded`` from that point (see ``executor.GUARDS`` for the exact exclusions);
    simpler: alternative sources the minimizer tries in place of ``src`` (simplest first).
    """

    src: str
    kind: str
    guard: str | None = None
    simpler: tuple[str, ...] = field(default=(), compare=False)


def stmt_replace(s: Stmt, src: str) -> Stmt:
    return replace(s, src=src, simpler=())


def render(stmts: list[Stmt] | tuple[Stmt, ...], lib: str = "torch") -> str:
    """Readable Python source of a program, runnable as is (``lib``: torch or chainrule)."""
    head = f"import {lib} as t\n" if lib == "torch" else "import chainrule as t\n"
    return head + "\n".join(s.src for s in stmts) + "\n"
