"""Per-op overhead: a 1000-op elementwise chain on a (16,) tensor, forward + backward,
chainrule against torch in the same run. Prints the ratio (chainrule time / torch time)."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread, like torch below
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse

from _timing import median_ms  # noqa: E402


def chain(lib, x, n):
    y = x
    for _ in range(n):
        y = y * 1.0001
    y.sum().backward()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ops", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args()

    import torch

    import chainrule as cr

    torch.set_num_threads(1)
    xt = torch.randn(16, requires_grad=True)
    xc = cr.randn(16, requires_grad=True)
    rows = []
    for _ in range(3):  # interleave to share the machine's noise fairly
        rows.append(
            (
                median_ms(lambda: chain(cr, xc, args.ops), args.repeats),
                median_ms(lambda: chain(torch, xt, args.ops), args.repeats),
            )
        )
    c = min(r[0] for r in rows)
    t = min(r[1] for r in rows)
    print(f"{args.ops}-op chain on (16,), forward+backward, median of {args.repeats} (best of 3)")
    print(f"  chainrule {c:8.2f} ms  ({c / args.ops * 1e3:.2f} us/op)")
    print(f"  torch     {t:8.2f} ms  ({t / args.ops * 1e3:.2f} us/op)")
    print(f"  ratio chainrule/torch = {c / t:.2f}")


if __name__ == "__main__":
    main()
