"""The micrograd demo on the scalar engine: an MLP learns two moons (``python -m chainrule moons``).

Standard library only: the moons are made here with ``random.Random`` (the same recipe as
scikit-learn's ``make_moons``), the model is ``MLP(2, [16, 16, 1])`` from
``chainrule.scalar.nn``, and training is micrograd's: full batch, max-margin (hinge) loss
plus L2 regularisation, plain SGD with a learning rate falling from 1.0 to 0.1.
"""

from __future__ import annotations

import argparse
import math
import random
import time

from chainrule.scalar.nn import MLP
from chainrule.scalar.value import Value

__all__ = [
    "make_moons",
    "loss_and_accuracy",
    "train",
    "ascii_plot",
    "PLOT_LEGEND",
    "add_parser",
    "run",
]


def make_moons(
    n: int = 100, noise: float = 0.1, seed: int = 1337
) -> tuple[list[list[float]], list[float]]:
    """Two interleaving half circles, labels -1 (upper moon) and +1 (lower moon).

    ``n // 2`` points on the upper arc (cos t, sin t), the rest on the lower arc
    (1 - cos t, 1/2 - sin t), t evenly spaced in [0, pi], plus Gaussian noise of standard
    deviation ``noise`` on each coordinate, from ``random.Random(seed)``.
    """
    if n < 2:
        raise ValueError(f"make_moons needs at least 2 points, got {n}")
    r = random.Random(seed)
    n_upper = n // 2
    n_lower = n - n_upper
    X: list[list[float]] = []
    y: list[float] = []
    for count, label in ((n_upper, -1.0), (n_lower, 1.0)):
        for i in range(count):
            t = math.pi * i / (count - 1) if count > 1 else 0.0
            if label < 0:
                px, py = math.cos(t), math.sin(t)
            else:
                px, py = 1.0 - math.cos(t), 0.5 - math.sin(t)
            X.append([px + r.gauss(0.0, noise), py + r.gauss(0.0, noise)])
            y.append(label)
    return X, y


def loss_and_accuracy(
    model: MLP, X: list[list[float]], y: list[float], alpha: float = 1e-4
) -> tuple[Value, float]:
    """micrograd's demo loss: mean hinge ``relu(1 - y_i * score_i)`` + ``alpha * sum(p^2)``,
    and the fraction of points on the right side of zero."""
    scores = [model([Value(a), Value(b)]) for a, b in X]
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum(p * p for p in model.parameters())
    accuracy = sum((yi > 0) == (si.data > 0) for yi, si in zip(y, scores)) / len(y)
    return data_loss + reg_loss, accuracy


def train(
    model: MLP,
    X: list[list[float]],
    y: list[float],
    steps: int = 100,
    print_every: int = 0,
) -> list[tuple[float, float]]:
    """Full-batch SGD for ``steps`` steps, lr = 1.0 - 0.9 k / steps; returns (loss, accuracy)
    per step (the accuracy of the model before that step's update)."""
    history = []
    params = model.parameters()
    for k in range(steps):
        total, acc = loss_and_accuracy(model, X, y)
        model.zero_grad()
        total.backward()
        lr = 1.0 - 0.9 * k / steps
        for p in params:
            p.data -= lr * p.grad
        history.append((total.data, acc))
        if print_every and (k % print_every == 0 or k == steps - 1):
            print(f"step {k:4d}  loss {total.data:.6f}  accuracy {acc * 100:5.1f}%")
    return history


PLOT_LEGEND = (
    "legend: '.' the model says -1 (upper moon), ':' it says +1 (lower moon);\n"
    "        o a point labelled -1, x labelled +1; O or X: that point is misclassified"
)


def ascii_plot(model: MLP, X: list[list[float]], y: list[float], w: int = 60, h: int = 20) -> str:
    """The decision regions as text: ``.`` where the model says -1, ``:`` for +1, and the
    training points as ``o`` (label -1) and ``x`` (+1), upper-case when misclassified."""
    xmin, xmax = min(p[0] for p in X) - 0.25, max(p[0] for p in X) + 0.25
    ymin, ymax = min(p[1] for p in X) - 0.25, max(p[1] for p in X) + 0.25
    grid = []
    for row in range(h):
        py = ymax - (ymax - ymin) * (row + 0.5) / h
        line = []
        for col in range(w):
            px = xmin + (xmax - xmin) * (col + 0.5) / w
            line.append(":" if model([px, py]).data > 0 else ".")
        grid.append(line)
    for (px, py), label in zip(X, y):
        col = min(w - 1, int((px - xmin) / (xmax - xmin) * w))
        row = min(h - 1, int((ymax - py) / (ymax - ymin) * h))
        right = (model([px, py]).data > 0) == (label > 0)
        mark = "o" if label < 0 else "x"
        grid[row][col] = mark if right else mark.upper()
    return "\n".join("".join(line) for line in grid)


def run(args: argparse.Namespace) -> int:
    """The ``moons`` command: make the data, train, report accuracy (and a picture)."""
    if args.n < 2:
        raise SystemExit(f"--n must be at least 2, got {args.n}")
    if args.steps < 1:
        raise SystemExit(f"--steps must be at least 1, got {args.steps}")
    X, y = make_moons(args.n, args.noise, args.seed)
    model = MLP(2, [16, 16, 1], seed=args.seed)
    print(
        f"MLP(2, [16, 16, 1]) with ReLU: {len(model.parameters())} parameters; {args.n} points, "
        f"noise {args.noise}; {args.steps} steps of full-batch SGD"
    )
    t0 = time.perf_counter()
    history = train(model, X, y, args.steps, print_every=args.print_every)
    seconds = time.perf_counter() - t0
    _, final_acc = loss_and_accuracy(model, X, y)
    first_full = next((k for k, (_, a) in enumerate(history) if a == 1.0), None)
    print(f"training accuracy {final_acc * 100:.1f}% after {args.steps} steps ({seconds:.2f} s)")
    if first_full is not None:
        print(f"100% first reached at step {first_full}")
    if args.plot:
        print(ascii_plot(model, X, y))
        print(PLOT_LEGEND)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``moons`` with the ``python -m chainrule`` parser."""
    from chainrule.cli import at_least  # (standard library, as this module)

    p = subparsers.add_parser(
        "moons",
        help="micrograd's demo: MLP(2, [16, 16, 1]) learns two moons (scalar engine)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("--n", type=at_least(2), default=100, help="number of points")
    p.add_argument("--noise", type=at_least(0.0, float), default=0.1, help="noise std")
    p.add_argument("--steps", type=at_least(1), default=100, help="SGD steps")
    p.add_argument("--seed", type=int, default=1337, help="data and init seed")
    p.add_argument(
        "--print-every", type=at_least(1), default=10, help="progress line every N steps"
    )
    p.add_argument("--plot", action="store_true", help="draw the decision regions as text")
    p.set_defaults(func=run)
