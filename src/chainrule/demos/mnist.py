"""``python -m chainrule mnist --root DIR``: an MLP and a CNN on MNIST or Fashion-MNIST.

The IDX files come from the user (see ``chainrule.datasets.MNIST``); ``--limit`` trains on
the first N images for a quick run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import chainrule as cr
import chainrule.nn as nn
from chainrule.cli import CommandError
from chainrule.datasets import MNIST, FashionMNIST
from chainrule.datasets.mnist import DatasetNotFoundError
from chainrule.demos.common import fit, plot_history

__all__ = ["make_mlp", "make_cnn", "run"]


def make_mlp() -> nn.Module:
    """784 -> 256 -> 128 -> 10 with ReLU."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )  # fmt: skip


def make_cnn() -> nn.Module:
    """Two 5x5 convolutions (16, 32 channels), each with 2x2 max pooling; 1568 -> 128 -> 10."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip


def run(args: argparse.Namespace) -> dict:
    kind = FashionMNIST if args.dataset == "fashion" else MNIST
    try:
        train_ds, test_ds = kind(args.root, train=True), kind(args.root, train=False)
    except DatasetNotFoundError as e:
        root, raw = e.folders
        raise CommandError(
            f"{e.missing} (or {e.missing}.gz) is in neither {root} nor {raw}: get the four "
            f"{kind.__name__} IDX files from {e.source} and pass their folder with --root DIR"
        ) from None
    (Xtr, ytr), (Xte, yte) = train_ds.arrays(), test_ds.arrays()
    if args.limit:
        Xtr, ytr, Xte, yte = (
            Xtr[: args.limit],
            ytr[: args.limit],
            Xte[: args.limit],
            yte[: args.limit],
        )
    name = kind.__name__
    print(f"{name}: {len(Xtr)} training and {len(Xte)} test images from {args.root}")
    histories, summary = {}, {}
    for label, make in (("MLP", make_mlp), ("CNN", make_cnn)):
        if args.model not in ("both", label.lower()):
            continue
        cr.manual_seed(args.seed)
        t0 = time.perf_counter()
        h = fit(
            make(), (Xtr, ytr), (Xte, yte), epochs=args.epochs, lr=args.lr,
            batch_size=args.batch_size, seed=args.seed, name=label,
            show_progress=not args.no_progress,
        )  # fmt: skip
        histories[label] = h
        summary[label] = {"acc": h["test_acc"][-1], "seconds": time.perf_counter() - t0}
    path = plot_history(histories, Path(args.out) / f"{name.lower()}.png", f"chainrule on {name}")
    if path is not None:
        print(f"plot: {path}")
    return summary
