"""Issue 12's loss, normalization, dropout and softplus kernels, forward + backward: chainrule
on its native kernels, chainrule on the NumPy reference kernels (``CHAINRULE_NATIVE=0``'s
path, switched with ``backend.use``) and torch eager, one thread each, in interleaved rounds.
Each cell is the median time of ``op(inputs).backward(g)`` over ``--repeats`` calls; ratios
are taken within a round and printed as the median over rounds and their range.

    python benchmarks/fused_kernels.py [--rounds 5] [--repeats 20] [--filter ce,bn]

Run with ``PYTHONPATH`` pointing at another checkout to measure it the same way (a
chainrule without these kernels: both of its columns are its own path).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads: one BLAS thread
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def _cases():
    """name -> (fn(lib, x, *extra), x's shape, extra(lib) -> tuple)."""

    def F(lib):
        return lib.nn.functional

    def targets(lib, n, c):
        return (lib.tensor(np.random.default_rng(1).integers(0, c, n)),)

    def ce_full(lib, n, c):
        w = lib.tensor(np.random.default_rng(2).random(c).astype(np.float32) + 0.5)
        return (*targets(lib, n, c), w)

    def bn_params(lib, c):
        return (lib.zeros(c), lib.ones(c), lib.ones(c, requires_grad=True),
                lib.zeros(c, requires_grad=True))  # fmt: skip

    return {
        "ce (256, 10)": (lambda L, x, t: F(L).cross_entropy(x, t), (256, 10),
                         lambda L: targets(L, 256, 10)),
        "ce (64, 512)": (lambda L, x, t: F(L).cross_entropy(x, t), (64, 512),
                         lambda L: targets(L, 64, 512)),
        "ce (64, 512) smooth+w": (
            lambda L, x, t, w: F(L).cross_entropy(x, t, w, label_smoothing=0.1, ignore_index=3),
            (64, 512), lambda L: ce_full(L, 64, 512)),
        "bn train (64,16,26,26)": (
            lambda L, x, rm, rv, w, b: F(L).batch_norm(x, rm, rv, w, b, training=True),
            (64, 16, 26, 26), lambda L: bn_params(L, 16)),
        "bn eval (64,16,26,26)": (
            lambda L, x, rm, rv, w, b: F(L).batch_norm(x, rm, rv, w, b, training=False),
            (64, 16, 26, 26), lambda L: bn_params(L, 16)),
        "rms_norm (2048, 128)": (
            lambda L, x, w: F(L).rms_norm(x, (128,), w, 1e-6), (32 * 64, 128),
            lambda L: (L.ones(128, requires_grad=True),)),
        "dropout (64, 512)": (lambda L, x: F(L).dropout(x, 0.1), (64, 512), lambda L: ()),
        "dropout (256, 1024)": (lambda L, x: F(L).dropout(x, 0.1), (256, 1024), lambda L: ()),
        "softplus (64, 512)": (lambda L, x: F(L).softplus(x, 2.0, 5.0), (64, 512), lambda L: ()),
        "softplus (256, 1024)": (lambda L, x: F(L).softplus(x), (256, 1024), lambda L: ()),
    }  # fmt: skip


def _step(lib, fn, shape, extra):
    x = lib.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 2,
                   requires_grad=True)  # fmt: skip
    args = extra(lib)
    y = fn(lib, x, *args)
    g = lib.ones(tuple(y.shape))

    def run():
        x.grad = None
        fn(lib, x, *args).backward(g)

    return run


def _median(run, repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--filter", default="", help="comma-separated substrings of case names")
    a = ap.parse_args(argv)
    import torch

    import chainrule as cr
    from chainrule import backend

    torch.set_num_threads(1)
    wanted = [f for f in a.filter.split(",") if f]
    print(f"chainrule from {os.path.dirname(cr.__file__)}; native: {backend.native_available()}")
    print(f"{'case':26s} {'native µs':>10s} {'numpy µs':>10s} {'torch µs':>10s}  "
          f"{'native/numpy':>18s} {'native/torch':>18s} {'numpy/torch':>18s}")  # fmt: skip
    for name, (fn, shape, extra) in _cases().items():
        if wanted and not any(w in name for w in wanted):
            continue
        runs = {"native": _step(cr, fn, shape, extra), "numpy": None,
                "torch": _step(torch, fn, shape, extra)}  # fmt: skip
        runs["numpy"] = runs["native"]
        rows = []
        for _ in range(a.rounds):
            r = {}
            for label in ("native", "numpy", "torch"):
                if label != "torch":
                    backend.use(label if label in backend.TABLES else "numpy")
                r[label] = _median(runs[label], a.repeats)
            rows.append(r)
        backend.use("native" if backend.native_available() else "numpy")

        def ratio(p, q, rows=rows):
            v = [r[p] / r[q] for r in rows]
            return f"{statistics.median(v):5.2f} ({min(v):4.2f}-{max(v):4.2f})"

        med = {k: statistics.median(r[k] for r in rows) * 1e6 for k in ("native", "numpy", "torch")}
        print(f"{name:26s} {med['native']:10.0f} {med['numpy']:10.0f} {med['torch']:10.0f}  "
              f"{ratio('native', 'numpy'):>18s} {ratio('native', 'torch'):>18s} "
              f"{ratio('numpy', 'torch'):>18s}", flush=True)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
