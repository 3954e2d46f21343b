"""``python -m chainrule demo`` (the whole tour) and ``examples`` (the worked examples).

``examples`` goes through the worked examples of the project's brief, every gradient checked
against central finite differences in float64. ``demo`` runs the tour: the examples, the
backward pass narrated, the computation graph drawn (``graph``), an MLP and a CNN trained
on scikit-learn's digits (``digits``), and a summary with timings.
"""

from __future__ import annotations

import argparse
import random
import time

__all__ = ["add_parser", "run", "run_examples", "finite_difference"]


def finite_difference(f, xs: list[float], i: int, h: float = 1e-6) -> float:
    """Central difference of ``f(*xs)`` in its ``i``-th argument."""
    up, down = list(xs), list(xs)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


class _Checks:
    """Counts the gradient checks and prints one line per check."""

    def __init__(self) -> None:
        self.passed = self.failed = 0

    def check(self, name: str, got: float, fd: float) -> None:
        ok = abs(got - fd) <= 1e-5 + 1e-4 * abs(fd)
        self.passed += ok
        self.failed += not ok
        mark = "ok" if ok else "MISMATCH"
        print(f"    {name} = {got:.6f}   finite difference {fd:.6f}   {mark}")

    def check_all(self, name: str, got, f, x) -> None:
        """Every element of the gradient ``got`` of ``f`` at array ``x`` (float64)."""
        import numpy as np

        x = np.array(x, dtype=np.float64)
        fd = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[i] += 1e-6
            down[i] -= 1e-6
            fd[i] = (f(up) - f(down)) / 2e-6
        err = float(np.max(np.abs(np.asarray(got) - fd)))
        ok = err <= 1e-5 + 1e-4 * float(np.max(np.abs(fd)))
        self.passed += ok
        self.failed += not ok
        mark = "ok" if ok else "MISMATCH"
        print(f"    {name}: largest difference from finite differences {err:.1e}   {mark}")


def run_examples(args: argparse.Namespace | None = None) -> int:
    """The worked examples; returns the number of failed gradient checks."""
    import math

    import numpy as np

    import chainrule as cr
    from chainrule.scalar import MLP, Value

    c_ = _Checks()
    print("chainrule: reverse-mode autograd with PyTorch's semantics\n")

    print("1. a=2, b=3, c=a+b, d=c*a, e=c*d")
    a = cr.tensor(2.0, dtype=cr.float64, requires_grad=True)
    b = cr.tensor(3.0, dtype=cr.float64, requires_grad=True)
    c = a + b
    d = c * a
    e = c * d
    e.backward()
    print(f"    e = {e.item():g}   (graph: {e.grad_fn.name()} <- {d.grad_fn.name()}, ...)")
    f = lambda a, b: (a + b) * ((a + b) * a)  # noqa: E731
    c_.check("de/da", a.grad.item(), finite_difference(f, [2.0, 3.0], 0))
    c_.check("de/db", b.grad.item(), finite_difference(f, [2.0, 3.0], 1))
    print("    de/da is 45, not the 35 of a hand derivation that forgets the path a -> c -> d")
    print("    (run `python -m chainrule explain` to see every step of backward)\n")

    print("2. x=[[1,2],[3,4]], y=[[2,3],[4,5]], z=x*y+y**2, loss=z.sum()")
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=cr.float64, requires_grad=True)
    y = cr.tensor([[2.0, 3.0], [4.0, 5.0]], dtype=cr.float64, requires_grad=True)
    (x * y + y**2).sum().backward()
    print(f"    x.grad = {x.grad.tolist()}  (= y)")
    print(f"    y.grad = {y.grad.tolist()}  (= x + 2y)")
    X, Y = x.detach().numpy(), y.detach().numpy()
    c_.check_all("x.grad", x.grad.numpy(), lambda v: (v * Y + Y**2).sum(), X)
    c_.check_all("y.grad", y.grad.numpy(), lambda v: (X * v + v**2).sum(), Y)
    print()

    print("3. x=0.5, y=-1, w=tanh(x**2+y**2)")
    x = cr.tensor(0.5, dtype=cr.float64, requires_grad=True)
    y = cr.tensor(-1.0, dtype=cr.float64, requires_grad=True)
    cr.tanh(x**2 + y**2).backward()
    g = lambda x, y: math.tanh(x * x + y * y)  # noqa: E731
    c_.check("dw/dx", x.grad.item(), finite_difference(g, [0.5, -1.0], 0))
    c_.check("dw/dy", y.grad.item(), finite_difference(g, [0.5, -1.0], 1))
    print()

    print("4. geometric median loss at p=(0.3, 0.3), N=1000 points from random.Random(5)")
    r = random.Random(5)
    xs = [r.uniform(0, 1) for _ in range(1000)]
    ys = [r.uniform(0, 1) for _ in range(1000)]
    p = cr.tensor([0.3, 0.3], dtype=cr.float64, requires_grad=True)
    Xp, Yp = np.array(xs), np.array(ys)
    loss = cr.sqrt((cr.from_numpy(Xp) - p[0]) ** 2 + (cr.from_numpy(Yp) - p[1]) ** 2).mean()
    loss.backward()
    print(f"    L = {loss.item():.12f}   grad = ({p.grad[0].item():.4f}, {p.grad[1].item():.4f})")
    L = lambda q: np.sqrt((Xp - q[0]) ** 2 + (Yp - q[1]) ** 2).mean()  # noqa: E731
    c_.check_all("dL/dp", p.grad.numpy(), L, [0.3, 0.3])
    print("    (`python -m chainrule geometric-median` solves it with the scalar engine)\n")

    print("5. a single-layer net y = x @ w + b, MSE, SGD(lr=0.1)")
    xb = cr.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]], dtype=cr.float64)
    yb = cr.tensor([[0.5], [0.7], [0.9], [1.1]], dtype=cr.float64)
    cr.manual_seed(0)
    w = cr.randn(2, 1, dtype=cr.float64, requires_grad=True)
    bias = cr.zeros(1, dtype=cr.float64, requires_grad=True)
    opt = cr.optim.SGD([w, bias], lr=0.1)
    XB, YB = xb.numpy(), yb.numpy()
    for step in range(201):
        loss = ((xb @ w + bias - yb) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        if step == 0:
            B = bias.detach().numpy().copy()
            W = w.detach().numpy().copy()
            c_.check_all("dloss/dw at step 0", w.grad.numpy(),
                         lambda v, B=B: ((XB @ v + B - YB) ** 2).mean(), W)  # fmt: skip
        opt.step()
        if step % 50 == 0:
            print(f"    step {step:3d}  loss {loss.item():.6f}")
    print()

    print("6. MLP(3, [4, 4, 1]) with tanh on the scalar engine, squared-error loss")
    xs6 = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys6 = [1.0, -1.0, -1.0, 1.0]
    net = MLP(3, [4, 4, 1], activation="tanh", seed=0)
    params = net.parameters()

    def sq_loss(*ws: float) -> float:
        for q, v in zip(params, ws):
            q.data = v
        return sum((net(x).tanh().data - y) ** 2 for x, y in zip(xs6, ys6))

    for step in range(51):
        preds = [net(x).tanh() for x in xs6]
        loss6 = sum(((pr - y) ** 2 for pr, y in zip(preds, ys6)), Value(0.0))
        loss6.backward()
        if step == 0:
            w0 = [q.data for q in params]
            g0 = [q.grad for q in params]
            fd = [finite_difference(sq_loss, w0, i) for i in range(len(params))]
            sq_loss(*w0)  # restore the weights
            err = max(abs(u - v) for u, v in zip(g0, fd))
            ok = err <= 1e-5 + 1e-4 * max(abs(v) for v in fd)
            c_.passed += ok
            c_.failed += not ok
            print(f"    all {len(params)} parameter gradients vs finite differences: largest "
                  f"difference {err:.1e}   {'ok' if ok else 'MISMATCH'}")  # fmt: skip
        for q in params:
            q.data -= 0.05 * q.grad
        if step % 10 == 0:
            print(f"    step {step:2d}  loss {loss6.data:.6f}")
    print(f"    predictions {[round(pr.data, 3) for pr in preds]}  targets {ys6}\n")
    print(f"gradient checks: {c_.passed} passed, {c_.failed} failed")
    return c_.failed


def run(args: argparse.Namespace) -> int:
    """The whole tour; returns 0 when every part succeeded."""
    from chainrule.demos import digits, explain, graph

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    print("=" * 78 + "\nPart 1 of 4: the worked examples, gradients checked\n" + "=" * 78)
    failed = run_examples(args)
    times["examples"] = time.perf_counter() - t0

    t = time.perf_counter()
    print("\n" + "=" * 78 + "\nPart 2 of 4: the computation graph and backward, step by step\n"
          + "=" * 78)  # fmt: skip
    pictures = graph.run(args)
    print()
    explain.run(argparse.Namespace(tensor=False, code=False))
    times["graph"] = time.perf_counter() - t

    t = time.perf_counter()
    print("\n" + "=" * 78 + "\nPart 3 of 4: an MLP and a CNN learn handwritten digits\n" + "=" * 78)
    summary = digits.run(args)
    times["digits"] = time.perf_counter() - t
    total = time.perf_counter() - t0

    print("\n" + "=" * 78 + "\nPart 4 of 4: summary\n" + "=" * 78)
    from chainrule.demos.common import cpu_threads

    cores = cpu_threads()
    parts = [
        f"The worked examples ran in {times['examples']:.2f} s with "
        + ("every gradient matching" if not failed else f"{failed} gradient checks FAILING against")
        + " finite differences (including de/da = 45, where a hand derivation finds 35)."
    ]
    if pictures.get("pictures"):
        parts.append(f"The graphs were drawn to {', '.join(pictures['pictures'])}.")
    else:
        parts.append(
            f"Graphviz's dot was not found, so the graphs were written as DOT text to "
            f"{', '.join(pictures['dot'])}."
        )
    for name in ("MLP", "CNN"):
        if name in summary:
            s = summary[name]
            parts.append(
                f"The {name} reached {100 * s['acc']:.1f}% test accuracy on the digits in "
                f"{s['seconds']:.1f} s ({args.epochs} epochs)."
            )
    if "plot" in summary:
        parts.append(f"The loss and accuracy curves are in {summary['plot']}.")
    parts.append(f"Total: {total:.1f} s on {cores} CPU core{'s' if cores != 1 else ''}.")
    print(" ".join(parts))
    print("\nNext: `python -m chainrule --help` lists every demo; docs/ has the tutorials.")
    return 1 if failed else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    from chainrule.demos.commands import add_training_flags

    p = sub.add_parser(
        "demo", help="the tour: worked examples, graph pictures, digits training, summary"
    )
    add_training_flags(p, epochs=12, lr=3e-3, out="demo-output")
    p.add_argument(
        "--model",
        choices=["both", "mlp", "cnn"],
        default="both",
        help="which digits models to train",
    )
    p.set_defaults(func=run)
    q = sub.add_parser("examples", help="the worked examples, gradients vs finite differences")
    q.set_defaults(func=lambda a: 1 if run_examples(a) else 0)
