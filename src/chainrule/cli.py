"""``python -m chainrule <command>``: one subcommand per demo, each in its own module.

A command module defines ``add_parser(subparsers)``, which registers its subcommand and sets
``func`` (called with the parsed arguments, returns an exit code). Command modules are
imported only when listed here, so the scalar demos never load NumPy.

A command may also set ``check`` (arguments -> an error message or None), run right after
parsing: its message is an argparse usage error (exit status 2). A mistake found while
running (a missing data file) raises ``CommandError``: one line on stderr, exit status 2,
no traceback. Numeric options parse with ``at_least``, so ``--epochs 0`` is a usage error
too, never a traceback from deep inside a command.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

__all__ = ["main", "build_parser", "CommandError", "plain", "at_least"]

# module path of each command family, in the order `--help` lists them
COMMAND_MODULES = [
    "chainrule.demo",
    "chainrule.demos.commands",
    "chainrule.scalar.lecture",
    "chainrule.scalar.moons",
]


class CommandError(Exception):
    """A user's mistake a command finds while running: printed as one line, exit status 2."""


def at_least(low: float, kind: type = int):
    """An argparse ``type``: a number of ``kind`` (int or float) no smaller than ``low``;
    anything else is a usage error naming the option and the value (exit status 2)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if not value >= low:  # (NaN too)
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default (unless it says one already); flags and
    required options have none. Descriptions keep their paragraphs."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            action.option_strings
            and not action.required
            and action.default is not None
            and action.default is not False
            and action.default != argparse.SUPPRESS
            and "default" not in text
        ):
            d = action.default
            shown = repr(d) if isinstance(d, str) and d != d.strip() else str(d)
            text += f" (default: {shown.replace('%', '%%')})"
        return text


def plain(text: str) -> str:
    """A docstring's text as a ``--help`` description: reStructuredText's backticks dropped,
    each paragraph re-wrapped to 78 columns."""
    import textwrap

    text = re.sub(r"``(.+?)``", r"\1", text.strip(), flags=re.S)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    return "\n\n".join(textwrap.fill(p, 78) for p in paragraphs if p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chainrule",
        description="chainrule demos: autograd you can read.",
        formatter_class=HelpFormatter,
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
    for p in sub.choices.values():
        p.formatter_class = HelpFormatter
        if p.description:
            p.description = plain(p.description)
        p.set_defaults(command_parser=p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    check = getattr(args, "check", None)
    if check is not None and (message := check(args)):
        args.command_parser.error(message)  # usage and the message on stderr, exit status 2
    try:
        return int(args.func(args) or 0)
    except CommandError as e:
        print(f"{args.command_parser.prog}: error: {e}", file=sys.stderr)
        return 2
