"""Correctness of sgemm.c against a float64 np.matmul reference."""

import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _lib import load, matmul_fn  # noqa: E402

lib = load()
rng = np.random.default_rng(1)
SIZES = [1, 7, 16, 17, 33, 100]


def operand(rows, cols, transposed):
    if transposed:
        return rng.standard_normal((cols, rows), dtype=np.float32).T
    return rng.standard_normal((rows, cols), dtype=np.float32)


def check(m, n, k, ta, tb, beta):
    a = operand(m, k, ta)
    b = operand(k, n, tb)
    c0 = rng.standard_normal((m, n), dtype=np.float32)
    out = c0.copy()
    fn, c = matmul_fn(lib, a, b, out=out, beta=beta)
    fn()
    ref = a.astype(np.float64) @ b.astype(np.float64) + beta * c0.astype(np.float64)
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64) + abs(beta) * np.abs(c0)
    err = np.max(np.abs(c - ref) / np.maximum(scale, 1e-30))
    assert err < 1e-5, (m, n, k, ta, tb, beta, err)
    return err


def main():
    worst = 0.0
    count = 0
    for m, n, k in itertools.product(SIZES, SIZES, SIZES):
        for ta, tb, beta in itertools.product((0, 1), (0, 1), (0.0, 1.0)):
            worst = max(worst, check(m, n, k, ta, tb, beta))
            count += 1
    big = [
        (256, 512, 784),
        (256, 10, 512),
        (2048, 65, 128),
        (512, 784, 256),
        (65, 128, 2048),
        (300, 1100, 600),
        (10, 512, 256),
        (256, 512, 10),
        (1030, 70, 530),
    ]
    for m, n, k in big:
        for ta, tb, beta in itertools.product((0, 1), (0, 1), (0.0, 1.0)):
            worst = max(worst, check(m, n, k, ta, tb, beta))
            count += 1
    # batched
    a = rng.standard_normal((5, 64, 32), dtype=np.float32)
    b = rng.standard_normal((5, 32, 64), dtype=np.float32)
    fn, c = matmul_fn(lib, a, b)
    fn()
    ref = a.astype(np.float64) @ b.astype(np.float64)
    assert np.max(np.abs(c - ref)) < 1e-4 * np.max(np.abs(ref))
    # beta 0 must not read C (NaN in C)
    a = operand(33, 17, 0)
    b = operand(17, 40, 1)
    out = np.full((33, 40), np.nan, np.float32)
    fn, c = matmul_fn(lib, a, b, out=out, beta=0.0)
    fn()
    assert np.isfinite(c).all()
    print(f"ok: {count} cases, worst relative error {worst:.2e}")


if __name__ == "__main__":
    main()
