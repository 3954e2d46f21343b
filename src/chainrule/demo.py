"""``python -m chainrule demo``: a short tour of the worked examples, gradients checked."""

from __future__ import annotations

import argparse
import random

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="a short tour: the worked examples with their gradients")
    p.set_defaults(func=run)


def _central(f, xs: list[float], i: int, h: float = 1e-6) -> float:
    up, down = list(xs), list(xs)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def _check(name: str, got: float, f, xs: list[float], i: int) -> None:
    fd = _central(f, xs, i)
    ok = abs(got - fd) <= 1e-5 + 1e-4 * abs(fd)
    print(f"    {name} = {got:.6f}   finite difference {fd:.6f}   {'ok' if ok else 'MISMATCH'}")


def run(args: argparse.Namespace | None = None) -> int:
    import math

    import chainrule as cr

    print("chainrule demo: reverse-mode autograd with PyTorch's semantics\n")

    print("1. a=2, b=3, c=a+b, d=c*a, e=c*d")
    a = cr.tensor(2.0, dtype=cr.float64, requires_grad=True)
    b = cr.tensor(3.0, dtype=cr.float64, requires_grad=True)
    c = a + b
    d = c * a
    e = c * d
    e.backward()
    print(f"    e = {e.item():g}   (graph: {e.grad_fn.name()} <- {d.grad_fn.name()}, ...)")
    f = lambda a, b: (a + b) * ((a + b) * a)  # noqa: E731
    _check("de/da", a.grad.item(), f, [2.0, 3.0], 0)
    _check("de/db", b.grad.item(), f, [2.0, 3.0], 1)
    print("    de/da is 45, not the 35 of a hand derivation that forgets the path a -> c -> d\n")

    print("2. x=[[1,2],[3,4]], y=[[2,3],[4,5]], z=x*y+y**2, loss=z.sum()")
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = cr.tensor([[2.0, 3.0], [4.0, 5.0]], requires_grad=True)
    (x * y + y**2).sum().backward()
    print(f"    x.grad = {x.grad.tolist()}  (= y)")
    print(f"    y.grad = {y.grad.tolist()}  (= x + 2y)\n")

    print("3. x=0.5, y=-1, w=tanh(x**2+y**2)")
    x = cr.tensor(0.5, dtype=cr.float64, requires_grad=True)
    y = cr.tensor(-1.0, dtype=cr.float64, requires_grad=True)
    cr.tanh(x**2 + y**2).backward()
    g = lambda x, y: math.tanh(x * x + y * y)  # noqa: E731
    _check("dw/dx", x.grad.item(), g, [0.5, -1.0], 0)
    _check("dw/dy", y.grad.item(), g, [0.5, -1.0], 1)
    print()

    print("4. geometric median loss at p=(0.3, 0.3), N=1000 points from random.Random(5)")
    r = random.Random(5)
    xs = [r.uniform(0, 1) for _ in range(1000)]
    ys = [r.uniform(0, 1) for _ in range(1000)]
    p = cr.tensor([0.3, 0.3], dtype=cr.float64, requires_grad=True)
    X, Y = cr.tensor(xs, dtype=cr.float64), cr.tensor(ys, dtype=cr.float64)
    loss = cr.sqrt((X - p[0]) ** 2 + (Y - p[1]) ** 2).mean()
    loss.backward()
    print(f"    L = {loss.item():.12f}   grad = ({p.grad[0].item():.4f}, {p.grad[1].item():.4f})")
    print()

    print("5. a single-layer net y = x @ w + b, MSE, SGD(lr=0.1)")
    xb = cr.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]])
    yb = cr.tensor([[0.5], [0.7], [0.9], [1.1]])
    cr.manual_seed(0)
    w = cr.randn(2, 1, requires_grad=True)
    bias = cr.zeros(1, requires_grad=True)
    for step in range(201):
        loss = ((xb @ w + bias - yb) ** 2).mean()
        w.grad = bias.grad = None
        loss.backward()
        with cr.no_grad():
            w.data = w - 0.1 * w.grad
            bias.data = bias - 0.1 * bias.grad
        if step % 50 == 0:
            print(f"    step {step:3d}  loss {loss.item():.6f}")
    return 0
