"""The subcommands graph, explain, digits, charlm and mnist: their parsers (standard library).

Only the argument parsers live here; each command imports its (NumPy-using) module when it
runs, so ``python -m chainrule moons`` still never loads NumPy.
"""

from __future__ import annotations

import argparse
import importlib

__all__ = ["add_parser", "add_training_flags", "add_charlm_flags"]


def add_training_flags(p: argparse.ArgumentParser, *, epochs: int, lr: float, out: str) -> None:
    """The flags every training demo takes."""
    p.add_argument("--epochs", type=int, default=epochs, help=f"epochs (default {epochs})")
    p.add_argument("--lr", type=float, default=lr, help=f"learning rate (default {lr})")
    p.add_argument("--batch-size", type=int, default=32, help="minibatch size (default 32)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and shuffling")
    p.add_argument("--out", default=out, help=f"directory for pictures (default {out})")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")


def add_charlm_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=600, help="training steps (default 600)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per step (default 32)")
    p.add_argument("--block-size", type=int, default=64, help="context length (default 64)")
    p.add_argument("--layers", type=int, default=2, help="transformer blocks (default 2)")
    p.add_argument("--heads", type=int, default=4, help="attention heads (default 4)")
    p.add_argument("--embd", type=int, default=64, help="width (default 64)")
    p.add_argument("--chars", type=int, default=1_000_000, help="characters of text to read")
    p.add_argument("--eval-every", type=int, default=100, help="validation loss every N steps")
    p.add_argument("--prompt", default="def ", help="start of the sampled text")
    p.add_argument("--sample-chars", type=int, default=300, help="characters to sample")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and batches")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.add_argument("--out", default="demo-output", help="directory for the loss plot")


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

    p = sub.add_parser(
        "charlm", help="a character-level GPT learns Python from the stdlib's source"
    )
    add_charlm_flags(p)
    p.set_defaults(func=_runner("chainrule.demos.charlm"))

    p = sub.add_parser(
        "mnist", help="an MLP and a CNN on MNIST / Fashion-MNIST IDX files in --root"
    )
    add_training_flags(p, epochs=3, lr=1e-3, out="demo-output")
    p.add_argument("--root", required=True, help="folder with the four IDX files (.gz or not)")
    p.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist")
    p.add_argument("--model", choices=["both", "mlp", "cnn"], default="both")
    p.add_argument("--limit", type=int, default=0, help="use only the first N images (0: all)")
    p.set_defaults(func=_runner("chainrule.demos.mnist"))
