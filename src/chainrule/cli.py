"""``python -m chainrule <command>``: one subcommand per demo, each in its own module.

A command module defines ``add_parser(subparsers)``, which registers its subcommand and sets
``func`` (called with the parsed arguments, returns an exit code). Command modules are
imported only when listed here, so the scalar demos never load NumPy.
"""

from __future__ import annotations

import argparse
import importlib

__all__ = ["main"]

# module path of each command family, in the order `--help` lists them
COMMAND_MODULES = [
    "chainrule.demo",
    "chainrule.demos.commands",
    "chainrule.scalar.lecture",
    "chainrule.scalar.moons",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chainrule", description="chainrule demos: autograd you can read."
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:  # a command family not written yet
            if e.name == name:
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return int(args.func(args) or 0)
