"""The lecture problem on the scalar engine: the geometric median by gradient descent
(``python -m chainrule geometric-median``).

Find the point p in the plane with the least mean
Euclidean distance to N points, ``L(p) = mean_i sqrt((x_i - x_p)^2 + (y_i - y_p)^2)``, by
gradient descent with gradients from ``Value.backward``. The points come from
``random.Random(seed)``: N x-coordinates ``uniform(0, 1)``, then N y-coordinates. The run first
checks the engine against the closed form at (0.3, 0.3) (``dL/dx_p = -mean((x_i - x_p) /
d_i)``, likewise for y) for N = 1 and N = 1000, then descends, and finally measures the
distance to the geometric median found independently by Weiszfeld's algorithm. Standard
library only.
"""

from __future__ import annotations

import argparse
import math
import random
import time

from chainrule.scalar.value import Value

__all__ = [
    "make_points",
    "loss",
    "closed_form",
    "weiszfeld",
    "descend",
    "add_parser",
    "run",
]

Points = tuple[list[float], list[float]]


def make_points(n: int, seed: int = 5) -> Points:
    """N x-coordinates, then N y-coordinates, each ``uniform(0, 1)`` from ``Random(seed)``."""
    r = random.Random(seed)
    xs = [r.uniform(0, 1) for _ in range(n)]
    ys = [r.uniform(0, 1) for _ in range(n)]
    return xs, ys


def loss(points: Points, xp: Value, yp: Value) -> Value:
    """``mean_i sqrt((x_i - x_p)^2 + (y_i - y_p)^2)`` as a graph of ``Value`` operations."""
    xs, ys = points
    total: Value | float = 0.0
    for x, y in zip(xs, ys):
        if x == xp.data and y == yp.data:
            # p sits on this point: the distance is 0 and has no gradient (sqrt at 0 gives
            # inf * 0 = nan, in torch too); 0 is a subgradient, so the term is left out
            continue
        total = total + ((x - xp) ** 2 + (y - yp) ** 2).sqrt()
    return total / len(xs)


def closed_form(points: Points, xp: float, yp: float) -> tuple[float, float, float]:
    """``(L, dL/dx_p, dL/dy_p)`` by hand: the check on the engine."""
    xs, ys = points
    n = len(xs)
    dists = [math.hypot(x - xp, y - yp) for x, y in zip(xs, ys)]
    value = math.fsum(dists) / n
    # at a data point (d = 0) the distance has no gradient; 0 is in its subgradient (the
    # unit disc), so that term is left out, as Weiszfeld's iteration leaves it out
    gx = -math.fsum((x - xp) / d for x, d in zip(xs, dists) if d) / n
    gy = -math.fsum((y - yp) / d for y, d in zip(ys, dists) if d) / n
    return value, gx, gy


def weiszfeld(points: Points, tol: float = 1e-13, max_iter: int = 100_000) -> tuple[float, float]:
    """The geometric median by Weiszfeld's fixed-point iteration, started at the centroid:
    ``p <- sum(x_i / d_i) / sum(1 / d_i)``. A data point hit exactly is stepped off."""
    xs, ys = points
    px, py = math.fsum(xs) / len(xs), math.fsum(ys) / len(ys)
    for _ in range(max_iter):
        sw = sx = sy = 0.0
        for x, y in zip(xs, ys):
            d = math.hypot(x - px, y - py)
            if d < 1e-300:  # sitting on a data point: leave it out of this step
                continue
            sw += 1.0 / d
            sx += x / d
            sy += y / d
        if sw == 0.0:  # all points coincide with p
            return px, py
        nx, ny = sx / sw, sy / sw
        if math.hypot(nx - px, ny - py) < tol:
            return nx, ny
        px, py = nx, ny
    return px, py


def descend(
    points: Points,
    start: tuple[float, float] = (0.3, 0.3),
    steps: int = 200,
    lr: float = 0.1,
    print_every: int = 0,
) -> tuple[float, float, float]:
    """Gradient descent from ``start``; returns ``(x_p, y_p, loss at that point)``.

    The step is halved whenever the loss went up: near a median that is a data point (always
    so for N = 1) the gradient keeps norm 1, and a fixed step would circle it forever.
    Prints a progress line every ``print_every`` steps (0: silent).
    """
    xp, yp = Value(start[0], "x_p"), Value(start[1], "y_p")
    previous = math.inf
    for k in range(1, steps + 1):
        L = loss(points, xp, yp)
        if not isinstance(L, Value):  # every point coincides with p: nothing to descend
            break
        if L.data > previous:
            lr /= 2
        previous = L.data
        L.backward()
        if print_every and (k % print_every == 0 or k == 1):
            print(
                f"step {k:5d}  loss {L.data:.12f}  p = ({xp.data:.8f}, {yp.data:.8f})  "
                f"grad = ({xp.grad:+.3e}, {yp.grad:+.3e})"
            )
        xp.data -= lr * xp.grad
        yp.data -= lr * yp.grad
    final = loss(points, xp, yp)
    return xp.data, yp.data, final.data if isinstance(final, Value) else final


def _check_at(n: int, seed: int) -> float:
    """Print engine vs closed form at (0.3, 0.3) for N = n; return the largest difference."""
    pts = make_points(n, seed)
    xp, yp = Value(0.3, "x_p"), Value(0.3, "y_p")
    L = loss(pts, xp, yp)
    L.backward()
    ref = closed_form(pts, 0.3, 0.3)
    got = (L.data, xp.grad, yp.grad)
    worst = max(abs(a - b) for a, b in zip(got, ref))
    print(f"N={n}, seed={seed}, p=(0.3, 0.3):")
    for name, a, b in zip(("L", "dL/dx_p", "dL/dy_p"), got, ref):
        print(f"  {name:8s} engine {a!r:>22}  closed form {b!r:>22}  |diff| {abs(a - b):.1e}")
    return worst


def run(args: argparse.Namespace) -> int:
    """The ``geometric-median`` command: check, descend, compare with Weiszfeld."""
    if args.n < 1:
        raise SystemExit(f"--n must be at least 1, got {args.n}")
    if args.steps < 0:
        raise SystemExit(f"--steps must be non-negative, got {args.steps}")
    if not args.lr > 0:
        raise SystemExit(f"Invalid learning rate: {args.lr}")
    print("Check: Value.backward against the closed form")
    worst = max(_check_at(n, args.seed) for n in (1, 1000))
    ok = worst < 1e-12
    print(f"  largest difference {worst:.1e}: {'OK' if ok else 'MISMATCH'}")
    print()

    pts = make_points(args.n, args.seed)
    every = args.print_every if args.print_every is not None else max(1, args.steps // 10)
    print(f"Gradient descent: N={args.n}, steps={args.steps}, lr={args.lr}, from (0.3, 0.3)")
    t0 = time.perf_counter()
    x, y, final = descend(pts, steps=args.steps, lr=args.lr, print_every=every)
    seconds = time.perf_counter() - t0
    mx, my = weiszfeld(pts)
    median_loss = closed_form(pts, mx, my)[0]
    print()
    print(f"point            ({x:.10f}, {y:.10f})  after {args.steps} steps, {seconds:.2f} s")
    print(f"loss             {final:.15f}")
    print(f"Weiszfeld median ({mx:.10f}, {my:.10f})  loss {median_loss:.15f}")
    print(f"distance to the geometric median {math.hypot(x - mx, y - my):.3e}")
    print(f"loss above the median's          {final - median_loss:.3e}")
    if args.n == 2:
        print("(with two points every point of the segment between them is a median)")
    return 0 if ok else 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``geometric-median`` with the ``python -m chainrule`` parser."""
    from chainrule.cli import at_least  # (standard library, as this module)

    p = subparsers.add_parser(
        "geometric-median",
        help="the lecture problem: geometric median by gradient descent (scalar engine)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("--n", type=at_least(1), default=1000, help="number of points")
    p.add_argument("--steps", type=at_least(0), default=200, help="gradient steps")
    p.add_argument("--lr", type=at_least(0.0, float), default=0.1, help="learning rate")
    p.add_argument("--seed", type=int, default=5, help="random.Random seed")
    p.add_argument(
        "--print-every",
        type=at_least(1),
        default=None,
        help="a progress line every this many steps (default: steps/10)",
    )
    p.set_defaults(func=run)
