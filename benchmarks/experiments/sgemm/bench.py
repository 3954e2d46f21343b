"""sgemm.c vs NumPy (OpenBLAS) vs torch (MKL) on the products of W1 and W6 (gemm_floor.py).

One thread each, CPU time (time.thread_time), the three interleaved in rounds. Per shape:
best and median over rounds of the mean of `repeats` calls; GFLOP/s at the best; ratios
of times yours/torch and yours/numpy (< 1: yours faster). Totals: sums over the list.

    python bench.py [--workloads W1,W6] [--rounds 15] [--repeats 5] [--define MR=12 ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", ".."))
from _lib import load, matmul_alloc_fn, matmul_fn  # noqa: E402
from gemm_floor import _operands, _torch_like, products  # noqa: E402

torch.set_num_threads(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--workloads", default="W1,W6")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--define", nargs="*", default=[])
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        help="extra build to time alongside, as NAME:DEF1,DEF2 (e.g. kc192:KCMAX=192)",
    )
    p.add_argument(
        "--alloc",
        action="store_true",
        help="also time mine with a new output array each call (mine_alloc)",
    )
    p.add_argument("--only", default="", help="substring of the kind to keep (e.g. x@Wt)")
    args = p.parse_args()
    lib = load(os.path.join(HERE, "libsgemm_bench.so") if args.define else None, args.define)
    variants = {}
    for v in args.variant:
        vname, _, defs = v.partition(":")
        variants[vname] = load(
            os.path.join(HERE, f"libsgemm_{vname}.so"),
            [d for d in defs.split(",") if d] or ["VARIANT"],
        )
    clock = time.thread_time
    rng = np.random.default_rng(0)
    for name in args.workloads.split(","):
        specs = [s for s in products(name) if args.only in s[0]]
        rows = []
        for spec in specs:
            a, b = _operands(spec, rng)
            ta, tb = _torch_like(torch, a), _torch_like(torch, b)
            mine, _ = matmul_fn(lib, a, b)
            cells = {
                "mine": mine,
                "numpy": lambda a=a, b=b: np.matmul(a, b),
                "torch": lambda a=ta, b=tb: torch.matmul(a, b),
            }
            if args.alloc:
                cells["mine_alloc"] = matmul_alloc_fn(lib, a, b)
            for vname, vlib in variants.items():
                cells[vname] = matmul_fn(vlib, a, b)[0]
            rows.append((spec, cells, {k: [] for k in cells}))
        for _spec, cells, _got in rows:
            for fn in cells.values():
                fn()
        scratch = np.zeros(1 << 20, np.float32)
        for rnd in range(args.rounds):
            for _spec, cells, got in rows:
                labels = list(cells)
                r = rnd % len(labels)  # rotate: each goes first (cold operands) equally often
                for label in labels[r:] + labels[:r]:
                    fn = cells[label]
                    scratch += 1.0  # evict L2 (4 MiB written): same cache state for each
                    t = clock()
                    for _ in range(args.repeats):
                        fn()
                    got[label].append((clock() - t) / args.repeats * 1e6)
        # the whole list in order, each product timed where it stands (its operands
        # evicted by the products before it, as in a step); per shape: times per round
        seq = {k: [] for k in rows[0][1]}
        seq_shape = {k: [[] for _ in rows] for k in rows[0][1]}
        for rnd in range(args.rounds):
            labels = list(seq)
            r = rnd % len(labels)
            for label in labels[r:] + labels[:r]:
                fns = [cells[label] for _s, cells, _g in rows]
                ts = [0.0] * len(fns)
                for _ in range(args.repeats):
                    for i, fn in enumerate(fns):
                        t = clock()
                        fn()
                        ts[i] += clock() - t
                for i, x in enumerate(ts):
                    seq_shape[label][i].append(x / args.repeats * 1e6)
                seq[label].append(sum(ts) / args.repeats * 1e3)
        print(
            f"\n{name}: GFLOP/s at best (median) | time ratio at best (median): "
            "mine/torch mine/numpy"
        )
        tot = {k: [0.0, 0.0] for k in rows[0][1]}
        for spec, _cells, got in rows:
            kind, *d = spec
            fl = 2.0 * np.prod(d)
            best = {k: min(v) for k, v in got.items()}
            med = {k: statistics.median(v) for k, v in got.items()}
            for k in tot:
                tot[k][0] += best[k]
                tot[k][1] += med[k]
            gf = "  ".join(
                f"{k} {fl / best[k] / 1e3:6.1f} ({fl / med[k] / 1e3:6.1f})"
                for k in ("mine", "numpy", "torch")
            )
            print(
                f"  {kind:5s} {'x'.join(map(str, d)):16s} {gf}   "
                f"{best['mine'] / best['torch']:.3f} ({med['mine'] / med['torch']:.3f})  "
                f"{best['mine'] / best['numpy']:.3f} ({med['mine'] / med['numpy']:.3f})"
            )
        print(
            "  total (sum of best / sum of medians, ms): "
            + "  ".join(f"{k} {v[0] / 1e3:.3f} / {v[1] / 1e3:.3f}" for k, v in tot.items())
        )
        print(
            f"  mine/torch {tot['mine'][0] / tot['torch'][0]:.3f} (best) "
            f"{tot['mine'][1] / tot['torch'][1]:.3f} (median);  mine/numpy "
            f"{tot['mine'][0] / tot['numpy'][0]:.3f} (best) "
            f"{tot['mine'][1] / tot['numpy'][1]:.3f} (median)"
        )
        print("  in sequence, per shape: GFLOP/s at the median over rounds; mine/torch, mine/numpy")
        for i, (spec, _c, _g) in enumerate(rows):
            kind, *d = spec
            fl = 2.0 * np.prod(d)
            med = {k: statistics.median(v[i]) for k, v in seq_shape.items()}
            print(
                f"    {kind:5s} {'x'.join(map(str, d)):16s} "
                + "  ".join(f"{k} {fl / v / 1e3:6.1f}" for k, v in med.items())
                + f"   {med['mine'] / med['torch']:.3f}  {med['mine'] / med['numpy']:.3f}"
            )
        print(
            "  whole list in sequence (ms, best / median): "
            + "  ".join(f"{k} {min(v):.3f} / {statistics.median(v):.3f}" for k, v in seq.items())
        )
        print(
            "  whole list: "
            + "  ".join(
                f"{k}/torch {min(v) / min(seq['torch']):.3f} / "
                f"{statistics.median(v) / statistics.median(seq['torch']):.3f}"
                for k, v in seq.items()
                if k != "torch"
            )
        )
        for vname in [k for k in tot if k not in ("mine", "numpy", "torch")]:
            print(
                f"  {vname}/torch {tot[vname][0] / tot['torch'][0]:.3f} (best) "
                f"{tot[vname][1] / tot['torch'][1]:.3f} (median)"
            )


if __name__ == "__main__":
    main()
