"""Per-op cost, forward + backward, chainrule against torch in the same run, one thread.

For each op of a table (elementwise, activations, softmax, reductions, views and joins,
indexing, gather, matmul, conv, pooling, normalisation, losses, embedding) at a small size
(16x32, where per-op overhead dominates) and a medium one (256x256 or a realistic batch),
time ``op(inputs).backward(ones)`` and print the median time of each library and the ratio
chainrule / torch. A benchmark, not a test: nothing is asserted.

    python benchmarks/per_op.py [--filter soft,gather] [--repeats 15] [--size small]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread, like torch below
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

SMALL, MEDIUM = (16, 32), (256, 256)


def _f(lib):
    return lib.nn.functional


# name -> (fn(lib, *inputs), {size: input specs}); a spec is ("x", shape) for a float input
# that requires grad, ("c", shape) for a float constant, ("i", shape, high) for int64
# indices in [0, high), ("m", shape) for a bool mask, ("p", shape) for a positive input.
def _both(shape_s, shape_m, kind="x", extra=()):
    return {"small": [(kind, shape_s), *extra], "medium": [(kind, shape_m), *extra]}


def _two(a_s, b_s, a_m, b_m):
    return {"small": [("x", a_s), ("x", b_s)], "medium": [("x", a_m), ("x", b_m)]}


OPS: dict = {
    # elementwise binary
    "add": (lambda L, a, b: a + b, _two(SMALL, SMALL, MEDIUM, MEDIUM)),
    "add_bcast": (lambda L, a, b: a + b, _two(SMALL, (32,), MEDIUM, (256,))),
    "mul": (lambda L, a, b: a * b, _two(SMALL, SMALL, MEDIUM, MEDIUM)),
    "mul_scalar": (lambda L, a: a * 1.5, _both(SMALL, MEDIUM)),
    "div": (lambda L, a, b: a / b, {
        "small": [("x", SMALL), ("p", SMALL)], "medium": [("x", MEDIUM), ("p", MEDIUM)]}),
    "pow_scalar": (lambda L, a: a**3, _both(SMALL, MEDIUM)),
    "maximum": (lambda L, a, b: L.maximum(a, b), _two(SMALL, SMALL, MEDIUM, MEDIUM)),
    "where": (lambda L, m, a, b: L.where(m, a, b), {
        "small": [("m", SMALL), ("x", SMALL), ("x", SMALL)],
        "medium": [("m", MEDIUM), ("x", MEDIUM), ("x", MEDIUM)]}),
    # elementwise unary
    "neg": (lambda L, a: -a, _both(SMALL, MEDIUM)),
    "exp": (lambda L, a: a.exp(), _both(SMALL, MEDIUM)),
    "log": (lambda L, a: a.log(), _both(SMALL, MEDIUM, "p")),
    "sqrt": (lambda L, a: a.sqrt(), _both(SMALL, MEDIUM, "p")),
    "abs": (lambda L, a: a.abs(), _both(SMALL, MEDIUM)),
    "sin": (lambda L, a: a.sin(), _both(SMALL, MEDIUM)),
    "clamp": (lambda L, a: a.clamp(-0.5, 0.5), _both(SMALL, MEDIUM)),
    # activations
    "relu": (lambda L, a: _f(L).relu(a), _both(SMALL, MEDIUM)),
    "gelu": (lambda L, a: _f(L).gelu(a), _both(SMALL, MEDIUM)),
    "gelu_tanh": (lambda L, a: _f(L).gelu(a, approximate="tanh"), _both(SMALL, MEDIUM)),
    "silu": (lambda L, a: _f(L).silu(a), _both(SMALL, MEDIUM)),
    "softplus": (lambda L, a: _f(L).softplus(a), _both(SMALL, MEDIUM)),
    "sigmoid": (lambda L, a: a.sigmoid(), _both(SMALL, MEDIUM)),
    "tanh": (lambda L, a: a.tanh(), _both(SMALL, MEDIUM)),
    "leaky_relu": (lambda L, a: _f(L).leaky_relu(a, 0.1), _both(SMALL, MEDIUM)),
    "elu": (lambda L, a: _f(L).elu(a), _both(SMALL, MEDIUM)),
    "softmax": (lambda L, a: a.softmax(-1), _both(SMALL, MEDIUM)),
    "log_softmax": (lambda L, a: a.log_softmax(-1), _both(SMALL, MEDIUM)),
    # reductions
    "sum": (lambda L, a: a.sum(), _both(SMALL, MEDIUM)),
    "sum_dim": (lambda L, a: a.sum(1), _both(SMALL, MEDIUM)),
    "mean": (lambda L, a: a.mean(), _both(SMALL, MEDIUM)),
    "mean_dim": (lambda L, a: a.mean(-1, keepdim=True), _both(SMALL, MEDIUM)),
    "max": (lambda L, a: a.max(), _both(SMALL, MEDIUM)),
    "max_dim": (lambda L, a: a.max(1)[0], _both(SMALL, MEDIUM)),
    "amax": (lambda L, a: a.amax(1), _both(SMALL, MEDIUM)),
    "var": (lambda L, a: a.var(1), _both(SMALL, MEDIUM)),
    "std": (lambda L, a: a.std(), _both(SMALL, MEDIUM)),
    "logsumexp": (lambda L, a: a.logsumexp(1), _both(SMALL, MEDIUM)),
    "norm": (lambda L, a: a.norm(), _both(SMALL, MEDIUM)),
    "norm_dim": (lambda L, a: L.linalg.vector_norm(a, dim=1), _both(SMALL, MEDIUM)),
    "prod": (lambda L, a: a.prod(1), _both(SMALL, (256, 16), "p")),
    "cumsum": (lambda L, a: a.cumsum(1), _both(SMALL, MEDIUM)),
    # views and joins
    "reshape": (lambda L, a: a.reshape(-1, 8), _both(SMALL, MEDIUM)),
    "view": (lambda L, a: a.view(8, -1), _both(SMALL, MEDIUM)),
    "flatten": (lambda L, a: a.flatten(), _both(SMALL, MEDIUM)),
    "transpose": (lambda L, a: a.transpose(0, 1), _both(SMALL, MEDIUM)),
    "t": (lambda L, a: a.t(), _both(SMALL, MEDIUM)),
    "permute": (lambda L, a: a.permute(2, 0, 1), _both((4, 8, 16), (16, 64, 64))),
    "unsqueeze": (lambda L, a: a.unsqueeze(1), _both(SMALL, MEDIUM)),
    "squeeze": (lambda L, a: a.squeeze(1), _both((16, 1, 32), (256, 1, 256))),
    "expand": (lambda L, a: a.expand(16, 32), {"small": [("x", (1, 32))],
                                               "medium": [("x", (1, 32))]}),
    "contiguous_T": (lambda L, a: a.t().contiguous(), _both(SMALL, MEDIUM)),
    "cat": (lambda L, a, b: L.cat([a, b], 0), _two(SMALL, SMALL, MEDIUM, MEDIUM)),
    "cat_dim1": (lambda L, a, b: L.cat([a, b], 1), _two(SMALL, SMALL, MEDIUM, MEDIUM)),
    "stack": (lambda L, a, b: L.stack([a, b]), _two(SMALL, SMALL, MEDIUM, MEDIUM)),
    "chunk": (lambda L, a: a.chunk(4, 1)[1], _both(SMALL, MEDIUM)),
    "split": (lambda L, a: a.split(8, 0)[0], _both(SMALL, MEDIUM)),
    "unbind": (lambda L, a: a.unbind(0)[1], _both(SMALL, MEDIUM)),
    # indexing
    "getitem_int": (lambda L, a: a[3], _both(SMALL, MEDIUM)),
    "getitem_slice": (lambda L, a: a[2:10, ::2], _both(SMALL, MEDIUM)),
    "getitem_ellipsis": (lambda L, a: a[..., 1:], _both(SMALL, MEDIUM)),
    "getitem_none": (lambda L, a: a[:, None], _both(SMALL, MEDIUM)),
    "getitem_adv": (lambda L, a, i: a[i], {"small": [("x", SMALL), ("i", (8,), 16)],
                                           "medium": [("x", MEDIUM), ("i", (128,), 256)]}),
    "getitem_adv2": (lambda L, a, i, j: a[i, j], {
        "small": [("x", SMALL), ("i", (8,), 16), ("i", (8,), 32)],
        "medium": [("x", MEDIUM), ("i", (128,), 256), ("i", (128,), 256)]}),
    "getitem_mask": (lambda L, a, m: a[m], {"small": [("x", SMALL), ("m", SMALL)],
                                            "medium": [("x", MEDIUM), ("m", MEDIUM)]}),
    "gather": (lambda L, a, i: a.gather(1, i), {"small": [("x", SMALL), ("i", (16, 8), 32)],
                                                "medium": [("x", MEDIUM), ("i", (256, 64), 256)]}),
    "index_select": (lambda L, a, i: a.index_select(0, i), {
        "small": [("x", SMALL), ("i", (8,), 16)], "medium": [("x", MEDIUM), ("i", (128,), 256)]}),
    "masked_fill": (lambda L, a, m: a.masked_fill(m, 0.0), {
        "small": [("x", SMALL), ("m", SMALL)], "medium": [("x", MEDIUM), ("m", MEDIUM)]}),
    # linear algebra
    "matmul": (lambda L, a, b: a @ b, _two(SMALL, SMALL[::-1], MEDIUM, MEDIUM)),
    "bmm": (lambda L, a, b: a @ b, _two((4, 16, 32), (4, 32, 16), (16, 64, 64), (16, 64, 64))),
    "linear": (lambda L, x, w, b: _f(L).linear(x, w, b), {
        "small": [("x", SMALL), ("x", (8, 32)), ("x", (8,))],
        "medium": [("x", (64, 784)), ("x", (256, 784)), ("x", (256,))]}),
    # convolution, pooling, normalisation
    "conv2d": (lambda L, x, w, b: _f(L).conv2d(x, w, b, padding=1), {
        "small": [("x", (2, 3, 8, 8)), ("x", (4, 3, 3, 3)), ("x", (4,))],
        "medium": [("x", (32, 16, 14, 14)), ("x", (32, 16, 3, 3)), ("x", (32,))]}),
    "max_pool2d": (lambda L, x: _f(L).max_pool2d(x, 2), _both((2, 3, 8, 8), (32, 16, 28, 28))),
    "avg_pool2d": (lambda L, x: _f(L).avg_pool2d(x, 2), _both((2, 3, 8, 8), (32, 16, 28, 28))),
    "layer_norm": (lambda L, x, w, b: _f(L).layer_norm(x, x.shape[-1:], w, b), {
        "small": [("x", SMALL), ("x", (32,)), ("x", (32,))],
        "medium": [("x", MEDIUM), ("x", (256,)), ("x", (256,))]}),
    "batch_norm": (lambda L, x, w, b: _f(L).batch_norm(x, None, None, w, b, training=True), {
        "small": [("x", SMALL), ("x", (32,)), ("x", (32,))],
        "medium": [("x", MEDIUM), ("x", (256,)), ("x", (256,))]}),
    "dropout": (lambda L, x: _f(L).dropout(x, 0.0), _both(SMALL, MEDIUM)),
    # losses and embedding
    "cross_entropy": (lambda L, x, y: _f(L).cross_entropy(x, y), {
        "small": [("x", SMALL), ("i", (16,), 32)], "medium": [("x", MEDIUM), ("i", (256,), 256)]}),
    "mse_loss": (lambda L, x, y: _f(L).mse_loss(x, y), {
        "small": [("x", SMALL), ("c", SMALL)], "medium": [("x", MEDIUM), ("c", MEDIUM)]}),
    "nll_loss": (lambda L, x, y: _f(L).nll_loss(x, y), {
        "small": [("x", SMALL), ("i", (16,), 32)], "medium": [("x", MEDIUM), ("i", (256,), 256)]}),
    "bce_logits": (lambda L, x, y: _f(L).binary_cross_entropy_with_logits(x, y), {
        "small": [("x", SMALL), ("c", SMALL)], "medium": [("x", MEDIUM), ("c", MEDIUM)]}),
    "embedding": (lambda L, i, w: _f(L).embedding(i, w), {
        "small": [("i", (16,), 32), ("x", (32, 16))],
        "medium": [("i", (256,), 1000), ("x", (1000, 256))]}),
}  # fmt: skip


def _make_inputs(specs, rng):
    """One set of NumPy arrays per spec (shared by both libraries)."""
    out = []
    for spec in specs:
        kind, shape = spec[0], spec[1]
        if kind == "i":
            out.append((kind, rng.integers(0, spec[2], shape)))
        elif kind == "m":
            out.append((kind, rng.random(shape) > 0.5))
        elif kind == "p":
            out.append((kind, (rng.random(shape) + 0.5).astype(np.float32)))
        else:
            out.append((kind, rng.standard_normal(shape).astype(np.float32)))
    return out


def _to_lib(lib, arrays):
    ts = []
    for kind, a in arrays:
        t = lib.tensor(a.copy())
        if kind in "xp":
            t.requires_grad_(True)
        ts.append(t)
    return ts


def _runner(lib, fn, arrays, number):
    xs = _to_lib(lib, arrays)
    with lib.no_grad():
        shape = fn(lib, *xs).shape
    g = lib.ones(shape)

    def run():
        for _ in range(number):
            fn(lib, *xs).backward(g)
            for x in xs:  # torch-like training loops zero gradients; keep .grad bounded
                x.grad = None

    return run


def _median_us(run, number, repeats):
    run()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) / number * 1e6)
    return float(np.median(times))


def _number(run_once_us: float) -> int:
    """Calls per timing sample: about 2 ms of work, at least one call."""
    return max(1, int(2000 / max(run_once_us, 1.0)))


def measure(name, size, cr, torch, repeats):
    fn, sizes = OPS[name]
    arrays = _make_inputs(sizes[size], np.random.default_rng(0))
    probe = _runner(torch, fn, arrays, 1)
    t = time.perf_counter()
    probe()
    probe()
    number = _number((time.perf_counter() - t) / 2 * 1e6)
    ours, theirs = _runner(cr, fn, arrays, number), _runner(torch, fn, arrays, number)
    c = min(_median_us(ours, number, repeats), _median_us(ours, number, repeats))
    t = min(_median_us(theirs, number, repeats), _median_us(theirs, number, repeats))
    return c, t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--filter", default="", help="comma-separated substrings of op names")
    p.add_argument("--size", choices=["small", "medium", "both"], default="both")
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args()

    import torch

    import chainrule as cr

    torch.set_num_threads(1)
    wanted = [w for w in args.filter.split(",") if w]
    names = [n for n in OPS if not wanted or any(w in n for w in wanted)]
    sizes = ["small", "medium"] if args.size == "both" else [args.size]
    head = f"{'op':18s}" + "".join(
        f" | {s + ' cr us':>14s} {'torch us':>9s} {'ratio':>6s}" for s in sizes
    )
    print(head)
    print("-" * len(head))
    for name in names:
        cells = []
        for size in sizes:
            try:
                c, t = measure(name, size, cr, torch, args.repeats)
                cells.append(f" | {c:14.1f} {t:9.1f} {c / t:6.2f}")
            except Exception as e:  # a benchmark never fails: report and go on
                cells.append(f" | {'error: ' + type(e).__name__:>31s}")
        print(f"{name:18s}" + "".join(cells), flush=True)


if __name__ == "__main__":
    main()
