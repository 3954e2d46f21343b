"""One full-batch training step of micrograd's moons MLP: chainrule.scalar against micrograd.

The step is micrograd's demo, written once and run on both engines with the same 100 moons
and the same initial weights: ``MLP(2, [16, 16, 1])``, hinge loss + L2, backward, SGD
update. Both engines build the same graph, node for node (the script counts them).
micrograd is timed as users run it (Python's cyclic GC on) and with the collector off
(``gc.disable()``; the cycles it leaves are collected between steps, outside the timing).
chainrule is timed with the collector on, as users run it. Prints ms per step (mean over
``--steps`` steps, best of ``--rounds`` interleaved rounds) and both ratios.

Needs micrograd: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

try:
    import chainrule.scalar  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from chainrule.graph import toposort
from chainrule.scalar import nn as cnn
from chainrule.scalar.moons import make_moons
from chainrule.scalar.value import Value

try:
    import micrograd.engine as mg_engine
    import micrograd.nn as mg_nn
except ImportError:
    mg_engine = mg_nn = None


def demo_loss(model: Any, make_value: Callable, X: list, y: list) -> Any:
    """micrograd's demo loss, verbatim but for the engine's Value class passed in."""
    inputs = [list(map(make_value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum(p * p for p in model.parameters())
    return data_loss + reg_loss


def train_step(model: Any, make_value: Callable, X: list, y: list, lr: float) -> float:
    """Forward, backward, update: one step of the demo's training loop."""
    total_loss = demo_loss(model, make_value, X, y)
    model.zero_grad()
    total_loss.backward()
    for p in model.parameters():
        p.data -= lr * p.grad
    return total_loss.data


def time_steps(
    model: Any, make_value: Callable, X: list, y: list, steps: int, gc_on: bool
) -> list[float]:
    """ms per step for ``steps`` steps after one warm-up step."""
    gc.collect()
    train_step(model, make_value, X, y, 0.01)
    times = []
    was_enabled = gc.isenabled()
    try:
        for _ in range(steps):
            if not gc_on:
                gc.collect()  # untimed: clear what the previous step left, then switch off
                gc.disable()
            t0 = time.perf_counter()
            train_step(model, make_value, X, y, 0.01)
            times.append((time.perf_counter() - t0) * 1e3)
            if not gc_on:
                gc.enable()
    finally:
        if was_enabled:
            gc.enable()
    gc.collect()
    return times


def micrograd_copy(model: cnn.MLP) -> Any:
    """A micrograd MLP with the same shape and weights as the chainrule one."""
    twin = mg_nn.MLP(2, [16, 16, 1])
    for p, q in zip(model.parameters(), twin.parameters()):
        q.data = p.data
    return twin


def cross_check(X: list, y: list, seed: int) -> None:
    """Same loss, same gradients, same number of graph nodes on both engines."""
    ours = cnn.MLP(2, [16, 16, 1], seed=seed)
    theirs = micrograd_copy(ours)
    a = demo_loss(ours, Value, X, y)
    b = demo_loss(theirs, mg_engine.Value, X, y)
    a.backward()
    b.backward()
    worst = max(abs(p.grad - q.grad) for p, q in zip(ours.parameters(), theirs.parameters()))
    n_ours = len(toposort([a], lambda v: v._prev))
    n_theirs = len(toposort([b], lambda v: list(v._prev)))
    print(f"cross-check: loss {a.data!r} vs micrograd {b.data!r}; max |grad diff| {worst:.1e}")
    print(f"graph nodes per step: chainrule {n_ours}, micrograd {n_theirs}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per engine per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best kept)")
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args()

    X, y = make_moons(100, 0.1, args.seed)
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), ", end="")
    print(f"{len(X)} moons, MLP(2, [16, 16, 1]), one full-batch step = forward+backward+update")
    if mg_nn is None:
        print("micrograd is not installed (pip install -e '.[bench]'): timing chainrule only")
    else:
        cross_check(X, y, args.seed)

    runs: dict[str, list[float]] = {}

    def record(name: str, times: list[float]) -> None:
        runs.setdefault(name, []).append(statistics.fmean(times))

    ours = cnn.MLP(2, [16, 16, 1], seed=args.seed)
    theirs = micrograd_copy(ours) if mg_nn is not None else None
    for r in range(args.rounds):
        record("chainrule (gc on)", time_steps(ours, Value, X, y, args.steps, gc_on=True))
        record("chainrule (gc off)", time_steps(ours, Value, X, y, args.steps, gc_on=False))
        if theirs is not None:
            mv = mg_engine.Value
            record("micrograd (gc off)", time_steps(theirs, mv, X, y, args.steps, gc_on=False))
            record("micrograd (gc on)", time_steps(theirs, mv, X, y, args.steps, gc_on=True))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in runs.items()))

    best = {k: min(v) for k, v in runs.items()}
    print(f"\nms per step (mean of {args.steps} steps, best of {args.rounds} rounds):")
    for name, ms in best.items():
        print(f"  {name:20s} {ms:8.1f} ms")
    if theirs is not None:
        ours_ms = best["chainrule (gc on)"]
        on = best["micrograd (gc on)"] / ours_ms
        off = best["micrograd (gc off)"] / ours_ms
        print(f"speed-up vs micrograd as users run it (gc on): {on:5.1f}x  (target >= 20x)")
        print(f"speed-up vs micrograd with its collector off:  {off:5.1f}x  (target > 1x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
