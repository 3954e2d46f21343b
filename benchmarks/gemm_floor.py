"""The GEMM floor of a training step: how fast chainrule could be if everything but its
matrix products took no time at all.

For W1 and W6 (``workloads.py``), the matrix products one step must compute (forward,
and the gradient of every input that needs one) are listed with their shapes and
operand layouts, and timed on their own: with NumPy (the BLAS chainrule calls) and with
torch (its mm/addmm/bmm). In the same interleaved rounds the whole step of each library
is timed. ``floor = NumPy's products / torch's whole step`` is the ratio chainrule would
have with a step that is nothing but those products (at NumPy's BLAS speed); a target
below it cannot be met by anything outside the products. Each library's time outside its
products (its step less its products timed alone) is printed too, and what chainrule's
may be for a target ratio (``--target``, 0.9: W1's). One thread each, CPU time.

``--formulations`` times instead each product of the list in every equivalent layout
(each operand row- or column-major, the result written row- or column-major: the same
product, a different BLAS call), NumPy's matmul with ``out=``, against chainrule's layout
as the step has it (``*``): which formulation, if any, is faster. Measured on W1's
products (OpenBLAS 0.3.31, Haswell kernels, AMD EPYC with AVX2, a core shared with other
work), the formulations of a product spread by 3-12% at the minimum over rounds, but
which one leads changes from run to run; the one lead that held (the first layer's
``x Wᵀ`` with ``Wᵀ`` contiguous: 2.6% in the median of 60 interleaved rounds, quartiles
-6.6% to +2.5%) would need a transposed copy of W every step (~420 µs, against ~60 µs
saved). So chainrule keeps torch's layouts, and the floor is as listed. The products ran
at ~92 GFLOP/s at best, ~94% of the core's measured FMA peak (~98 GFLOP/s): no BLAS
could lower the floor by more than a few percent.

    python benchmarks/gemm_floor.py [--workloads W1,W6] [--rounds 5] [--repeats 5]
                                    [--target 0.9] [--formulations]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy and torch load

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def _linear(n, i, o, need_dx=True):
    """nn.Linear on (n, i) -> (n, o): y = x Wᵀ (+ b); dX = g W; dW = gᵀ x."""
    return [("x@Wt", n, i, o)] + ([("g@W", n, o, i)] if need_dx else []) + [("gt@x", o, n, i)]


def products(name: str) -> list:
    """(kind, dims...) of every matrix product of one step of the workload."""
    if name == "W1":
        return (
            _linear(256, 784, 512, need_dx=False) + _linear(256, 512, 512) + _linear(256, 512, 10)
        )
    if name == "W6":  # batch 32, block 64, width 128, 4 heads, 2 layers, vocab 65
        n, c, h, t, hs = 32 * 64, 128, 32 * 4, 64, 32
        layer = (
            _linear(n, c, 3 * c)
            + [("bmm", h, t, hs, t), ("bmm", h, t, t, hs)]  # q kᵀ, att v
            + [("bmm", h, t, hs, t), ("bmm", h, t, t, hs)]  # d att = g vᵀ, d v = attᵀ g
            + [("bmm", h, t, t, hs), ("bmm", h, t, t, hs)]  # d q = d att k, d k = d attᵀ q
            + _linear(n, c, c)
            + _linear(n, c, 4 * c)
            + _linear(n, 4 * c, c)
        )
        return layer * 2 + _linear(n, c, 65)
    raise SystemExit(f"no product list for {name}")


def _operands(spec, rng):
    kind, *d = spec
    f = np.float32
    if kind == "bmm":
        b, m, k, n = d
        return rng.standard_normal((b, m, k), dtype=f), rng.standard_normal((b, k, n), dtype=f)
    m, k, n = d
    if kind == "x@Wt":  # x (m, k) and W (n, k): W transposed
        return rng.standard_normal((m, k), dtype=f), rng.standard_normal((n, k), dtype=f).T
    if kind == "gt@x":  # g (k, m) transposed and x (k, n)
        return rng.standard_normal((k, m), dtype=f).T, rng.standard_normal((k, n), dtype=f)
    return rng.standard_normal((m, k), dtype=f), rng.standard_normal((k, n), dtype=f)


def _torch_like(torch, a):
    """``a`` as a torch tensor with the same layout (a transposed operand stays one)."""
    if a.flags.c_contiguous:
        return torch.from_numpy(a)
    return torch.from_numpy(np.ascontiguousarray(np.swapaxes(a, -1, -2))).transpose(-1, -2)


def _layouts(spec, rng) -> dict:
    """Every formulation of one product of the list: label (a, b, result orders: C
    row-major, F column-major) -> a call computing it into a buffer of that order."""
    a0, b0 = _operands(spec, rng)
    if a0.ndim != 2:
        return {}
    out = {}
    for oa in "CF":
        for ob in "CF":
            for oc in "CF":
                a = np.asarray(a0, order=oa).copy(order=oa)
                b = np.asarray(b0, order=ob).copy(order=ob)
                c = np.empty((a.shape[0], b.shape[1]), np.float32, order=oc)
                if oc == "C":
                    out[oa + ob + oc] = lambda a=a, b=b, c=c: np.matmul(a, b, out=c)
                else:  # cᵀ = bᵀ aᵀ, written row-major: c column-major
                    out[oa + ob + oc] = lambda a=a, b=b, c=c: np.matmul(b.T, a.T, out=c.T)
    return out


def _order(a) -> str:
    return "C" if a.flags.c_contiguous else "F"


def formulations(name: str, rounds: int, repeats: int) -> None:
    """Each product of ``name`` in every layout (see the module docstring)."""
    rng = np.random.default_rng(0)
    clock = time.thread_time
    for spec in products(name):
        cells = _layouts(spec, rng)
        if not cells:
            continue
        a, b = _operands(spec, rng)
        current = _order(a) + _order(b) + "C"
        got: dict[str, list[float]] = {k: [] for k in cells}
        for fn in cells.values():
            fn()
        for _ in range(rounds):
            for label, fn in cells.items():
                t = clock()
                for _ in range(repeats):
                    fn()
                got[label].append((clock() - t) / repeats * 1e6)
        kind, *d = spec
        print(f"\n{name} {kind} {'x'.join(map(str, d))} (a, b, result order; * = chainrule's)")
        for label in sorted(got, key=lambda k: min(got[k])):
            v = got[label]
            mark = "*" if label == current else " "
            print(f"  {mark}{label}  min {min(v):9.1f} us   median {statistics.median(v):9.1f} us"
                  f"   {2.0 * np.prod(d) / min(v) / 1e3:5.1f} GFLOP/s at min")  # fmt: skip


def flops(specs) -> float:
    total = 0.0
    for _kind, *d in specs:
        total += 2.0 * np.prod(d)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="W1,W6")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--formulations", action="store_true")
    args = parser.parse_args()
    if args.formulations:
        for name in args.workloads.split(","):
            formulations(name, args.rounds, args.repeats)
        return
    import torch

    import chainrule as cr

    torch.set_num_threads(1)
    sys.path.insert(0, HERE)
    from workloads import WORKLOADS

    rng = np.random.default_rng(0)
    clock = time.thread_time
    for name in args.workloads.split(","):
        specs = products(name)
        ops_np = [_operands(s, rng) for s in specs]
        ops_t = [(_torch_like(torch, a), _torch_like(torch, b)) for a, b in ops_np]

        def gemms_np(ops=ops_np):
            for a, b in ops:
                np.matmul(a, b)

        def gemms_t(ops=ops_t):
            for a, b in ops:
                torch.matmul(a, b)

        step_cr, _ = WORKLOADS[name](cr)
        step_t, _ = WORKLOADS[name](torch)
        cells = {"chainrule step": step_cr, "torch step": step_t,
                 "NumPy products": gemms_np, "torch products": gemms_t}  # fmt: skip
        for fn in cells.values():
            fn()
        got: dict[str, list[float]] = {k: [] for k in cells}
        floors, ratios = [], []
        for _ in range(args.rounds):
            for label, fn in cells.items():
                times = []
                for _ in range(args.repeats):
                    t = clock()
                    fn()
                    times.append(clock() - t)
                got[label].append(statistics.median(times) * 1e3)
            floors.append(got["NumPy products"][-1] / got["torch step"][-1])
            ratios.append(got["chainrule step"][-1] / got["torch step"][-1])
        fl = flops(specs)
        print(f"\n{name}: {len(specs)} products, {fl / 1e9:.2f} GFLOP a step")
        for label, v in got.items():
            extra = ""
            if "products" in label:
                extra = f"   {fl / (statistics.median(v) / 1e3) / 1e9:5.1f} GFLOP/s"
            print(f"  {label:16s} {statistics.median(v):8.2f} ms{extra}")
        print(f"  chainrule / torch step       {statistics.median(ratios):.2f}  "
              f"({min(ratios):.2f}-{max(ratios):.2f})")  # fmt: skip
        print(f"  floor: NumPy products / torch step  {statistics.median(floors):.2f}  "
              f"({min(floors):.2f}-{max(floors):.2f})")  # fmt: skip
        med = {k: statistics.median(v) for k, v in got.items()}
        print(f"  outside the products: chainrule "
              f"{med['chainrule step'] - med['NumPy products']:.2f} ms, torch "
              f"{med['torch step'] - med['torch products']:.2f} ms; a ratio of {args.target} "
              f"leaves chainrule {args.target * med['torch step'] - med['NumPy products']:.2f}"
              " ms")  # fmt: skip


if __name__ == "__main__":
    main()
