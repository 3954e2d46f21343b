"""W2, static vs dynamic graphs: a small-op chain, chainrule eager and cr.compile'd against
torch eager and torch.compile, one thread each, one process, interleaved rounds.

The step: ``x`` (16,) requires grad; ``--ops`` ops cycling ``y = y + a``, ``y = y * m``,
``y = tanh(y)`` with ``a``, ``m`` (16,) tensors; ``y.sum().backward()``. Prints µs per op
(median of ``--repeats`` steps, best of ``--rounds`` interleaved rounds) and each ratio to
torch eager. The first call of each compiled step (tracing, code generation, compiling) is
timed apart and reported as the compile time.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread, like torch below
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from _timing import median_ms  # noqa: E402

try:
    import chainrule  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))


def make_step(lib, x, a, m, ops):
    def step():
        y = x
        for i in range(ops):
            k = i % 3
            if k == 0:
                y = y + a
            elif k == 1:
                y = y * m
            else:
                y = lib.tanh(y)
        y.sum().backward()

    return step


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ops", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-torch-compile", action="store_true", help="skip torch.compile")
    args = p.parse_args()

    import numpy as np
    import torch

    import chainrule as cr
    from chainrule.compiler import _fuse

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    xs, as_, ms = (rng.standard_normal(16).astype(np.float32) for _ in range(3))
    xc = cr.tensor(xs, requires_grad=True)
    ac, mc = cr.tensor(as_), cr.tensor(ms)
    xt = torch.tensor(xs, requires_grad=True)
    at, mt = torch.tensor(as_), torch.tensor(ms)

    steps = {
        "chainrule eager": make_step(cr, xc, ac, mc, args.ops),
        "torch eager": make_step(torch, xt, at, mt, args.ops),
    }
    eager_c = steps["chainrule eager"]
    compile_s = {}
    for name, fn in [
        ("chainrule compiled", cr.compile(eager_c)),
        ("chainrule compiled (replay only)", cr.compile(eager_c, backend="eager")),
    ]:
        t = time.perf_counter()
        fn()
        compile_s[name] = time.perf_counter() - t
        steps[name] = fn
    if not args.no_torch_compile:
        tc = torch.compile(steps["torch eager"])
        t = time.perf_counter()
        tc()
        compile_s["torch.compile"] = time.perf_counter() - t
        steps["torch.compile"] = tc

    runs: dict[str, list[float]] = {k: [] for k in steps}
    for r in range(args.rounds):
        for name, fn in steps.items():
            runs[name].append(median_ms(fn, args.repeats))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.3f} ms" for k, v in runs.items()))

    best = {k: min(v) for k, v in runs.items()}
    ref = best["torch eager"]
    fused = "yes" if _fuse.compiler_available() else "no (no cffi or C compiler)"
    print(
        f"\nW2: {args.ops}-op chain (+ a, * m, tanh) on (16,) float32, forward+backward, one "
        f"thread; median of {args.repeats}, best of {args.rounds} rounds; fused loops: {fused}"
    )
    print(f"  {'':34s} {'us/op':>8s} {'vs torch eager':>15s} {'first call (s)':>15s}")
    for name, ms in best.items():
        first = f"{compile_s[name]:.2f}" if name in compile_s else ""
        print(f"  {name:34s} {ms / args.ops * 1e3:8.3f} {ms / ref:15.3f} {first:>15s}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
