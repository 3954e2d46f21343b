"""The subcommands graph, explain, digits, charlm and mnist: their parsers (standard library).

Only the argument parsers live here; each command imports its (NumPy-using) module when it
runs, so ``python -m chainrule moons`` still never loads NumPy.
"""

from __future__ import annotations

import argparse
import importlib

from chainrule.cli import at_least

__all__ = ["add_parser", "add_training_flags", "add_charlm_flags"]


def add_training_flags(p: argparse.ArgumentParser, *, epochs: int, lr: float, out: str) -> None:
    """The flags every training demo takes."""
    p.add_argument(
        "--epochs", type=at_least(1), default=epochs, help="passes over the training set"
    )
    p.add_argument("--lr", type=at_least(0.0, float), default=lr, help="Adam's peak learning rate")
    p.add_argument("--batch-size", type=at_least(1), default=32, help="images per minibatch")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and shuffling")
    p.add_argument("--out", default=out, help="directory for the plots")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")


def add_charlm_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=at_least(0), default=600, help="training steps")
    p.add_argument("--lr", type=at_least(0.0, float), default=3e-3, help="peak AdamW learning rate")
    p.add_argument("--batch-size", type=at_least(1), default=32, help="sequences per step")
    p.add_argument(
        "--block-size", type=at_least(1), default=64, help="context length in characters"
    )
    p.add_argument("--layers", type=at_least(0), default=2, help="transformer blocks")
    p.add_argument("--heads", type=at_least(1), default=4, help="attention heads")
    p.add_argument("--embd", type=at_least(1), default=64, help="embedding width")
    p.add_argument(
        "--chars", type=at_least(1), default=1_000_000, help="characters of text to read"
    )
    p.add_argument(
        "--eval-every", type=at_least(1), default=100, help="validation loss every N steps"
    )
    p.add_argument("--prompt", default="def ", help="start of the sampled text")
    p.add_argument("--sample-chars", type=at_least(0), default=300, help="characters to sample")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and batches")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.add_argument("--out", default="demo-output", help="directory for the loss plot")


MODEL_HELP = "which models to train: both, or only the MLP or the CNN"


def _check_explain(args: argparse.Namespace) -> str | None:
    if args.code and not args.tensor:
        return "--code shows the tensor ops' backward code: use it with --tensor"
    return None


def _check_charlm(args: argparse.Namespace) -> str | None:
    if args.embd % args.heads:
        return f"--embd {args.embd} must be a multiple of --heads {args.heads}"
    val = args.chars - int(0.9 * args.chars)  # the last 10% of the text is for validation
    if val < args.block_size + 2:
        need = 10 * (args.block_size + 2)
        return (
            f"--chars {args.chars} leaves {val} characters for validation, fewer than "
            f"--block-size + 2 = {args.block_size + 2}: use --chars {need} or more"
        )
    return None


def _runner(module: str):
    def run(args: argparse.Namespace) -> int:
        result = importlib.import_module(module).run(args)
        return result if isinstance(result, int) else 0

    return run


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("graph", help="draw computation graphs with data and grad on every node")
    p.add_argument("--out", default="demo-output", help="directory for the pictures")
    p.set_defaults(func=_runner("chainrule.demos.graph"))

    p = sub.add_parser("explain", help="backward of e = (a+b)*((a+b)*a), narrated step by step")
    p.add_argument("--tensor", action="store_true", help="z = x*y + y**2 on tensors instead")
    p.add_argument(
        "--code", action="store_true", help="with --tensor: print each rule's backward code"
    )
    p.set_defaults(func=_runner("chainrule.demos.explain"), check=_check_explain)

    p = sub.add_parser(
        "digits", help="train an MLP and a CNN on scikit-learn's 8x8 digits (plot in --out)"
    )
    add_training_flags(p, epochs=12, lr=3e-3, out="demo-output")
    p.add_argument("--model", choices=["both", "mlp", "cnn"], default="both", help=MODEL_HELP)
    p.set_defaults(func=_runner("chainrule.demos.digits"))

    p = sub.add_parser(
        "charlm", help="a character-level GPT learns Python from the stdlib's source"
    )
    add_charlm_flags(p)
    p.set_defaults(func=_runner("chainrule.demos.charlm"), check=_check_charlm)

    p = sub.add_parser(
        "mnist", help="an MLP and a CNN on MNIST / Fashion-MNIST IDX files in --root"
    )
    add_training_flags(p, epochs=3, lr=1e-3, out="demo-output")
    p.add_argument(
        "--root",
        required=True,
        metavar="DIR",
        help="folder with the four IDX files, gzipped or not (or DIR/MNIST/raw, torchvision's "
        "layout)",
    )
    p.add_argument(
        "--dataset", choices=["mnist", "fashion"], default="mnist", help="MNIST or Fashion-MNIST"
    )
    p.add_argument("--model", choices=["both", "mlp", "cnn"], default="both", help=MODEL_HELP)
    p.add_argument(
        "--limit",
        type=at_least(0),
        default=0,
        help="use only the first N images of each split; 0 uses all",
    )
    p.set_defaults(func=_runner("chainrule.demos.mnist"))
