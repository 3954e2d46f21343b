"""``python -m chainrule digits``: an MLP and a small CNN learn scikit-learn's 8x8 digits.

``load_digits`` ships with scikit-learn (1,797 images, no download). The split is fixed:
``train_test_split(test_size=360, stratify=y, random_state=0)``, so every run and every
machine sees the same 1,437 training and 360 test images. Pixels are scaled to [0, 1].
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import chainrule as cr
import chainrule.nn as nn
from chainrule.demos.common import fit, plot_history

__all__ = ["load_split", "make_mlp", "make_cnn", "run"]


def load_split() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((X_train, y_train), (X_test, y_test)): float32 images (N, 1, 8, 8) in [0, 1], int64
    labels; the fixed split described above."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as e:
        raise SystemExit("the digits demo needs scikit-learn: pip install 'chainrule[demo]'") from e
    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=360, stratify=y, random_state=0)
    return (Xtr, ytr), (Xte, yte)


def make_mlp() -> nn.Module:
    """64 -> 128 -> 64 -> 10 with ReLU."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 128),
        nn.ReLU(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def make_cnn() -> nn.Module:
    """Two 3x3 convolutions (16, 32 channels), 2x2 max pooling, then 512 -> 64 -> 10."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def run(args: argparse.Namespace) -> dict:
    """Train both models; print progress; write the plot. Returns a summary dict."""
    train, test = load_split()
    print(f"digits: {len(train[0])} training and {len(test[0])} test images of 8x8 pixels")
    histories, summary = {}, {}
    for name, make in (("MLP", make_mlp), ("CNN", make_cnn)):
        if args.model not in ("both", name.lower()):
            continue
        cr.manual_seed(args.seed)
        model = make()
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {n_params:,} parameters, {args.epochs} epochs, Adam lr {args.lr}")
        t0 = time.perf_counter()
        h = fit(
            model, train, test, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
            seed=args.seed, name=name, show_progress=not args.no_progress,
        )  # fmt: skip
        histories[name] = h
        summary[name] = {"acc": h["test_acc"][-1], "seconds": time.perf_counter() - t0}
    out = Path(args.out)
    path = plot_history(histories, out / "digits.png", "chainrule on scikit-learn's digits")
    if path is None:
        print("(matplotlib is not installed: no plot; pip install 'chainrule[demo]')")
    else:
        print(f"plot: {path}")
        summary["plot"] = str(path)
    return summary
