"""The subcommands ``graph``, ``explain``, ``digits``, ``mnist`` and ``charlm`` (standard library).

Only the argument parsers live here; each command imports its (NumPy-using) module when it
runs, so ``python -m chainrule moons`` still never loads NumPy.
"""

from __future__ import annotations

import argparse
import importlib

__all__ = ["add_parser", "add_training_flags"]


def add_training_flags(p: argparse.ArgumentParser, *, epochs: int, lr: float, out: str) -> None:
    """The flags every training demo takes."""
    p.add_argument("--epochs", type=int, default=epochs, help=f"epochs (default {epochs})")
    p.add_argument("--lr", type=float, default=lr, help=f"learning rate (default {lr})")
    p.add_argument("--batch-size", type=int, default=32, help="minibatch size (default 32)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and shuffling")
    p.add_argument("--out", default=out, help=f"directory for pictures (default {out})")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")


def _runner(module: str):
    def run(args: argparse.Namespace) -> int:
        result = importlib.import_module(module).run(args)
        return result if isinstance(result, int) else 0

    return run


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("graph", help="draw computation graphs with data and grad on every node")
    p.add_argument("--out", default="demo-output", help="directory (default demo-output)")
    p.set_defaults(func=_runner("chainrule.demos.graph"))

    p = sub.add_parser("explain", help="backward of e = (a+b)*((a+b)*a), narrated step by step")
    p.add_argument("--tensor", action="store_true", help="z = x*y + y**2 on tensors instead")
    p.add_argument("--code", action="store_true", help="print each rule's backward code")
    p.set_defaults(func=_runner("chainrule.demos.explain"))

    p = sub.add_parser(
        "digits", help="train an MLP and a CNN on scikit-learn's 8x8 digits (plot in --out)"
    )
    add_training_flags(p, epochs=12, lr=3e-3, out="demo-output")
    p.add_argument("--model", choices=["both", "mlp", "cnn"], default="both")
    p.set_defaults(func=_runner("chainrule.demos.digits"))
