import ctypes
import os
import sys
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from _lib import load, matmul_fn
from gemm_floor import _operands, products

defs = [a for a in sys.argv[1:] if "=" in a]
lib = load(f"/tmp/libprof_{os.getpid()}.so", defs) if defs else load()
mode = ctypes.c_int.in_dll(lib, "sgemm_mode")
rng = np.random.default_rng(0)
scratch = np.zeros(1 << 21, np.float32)
seen = set()
for name in ("W1", "W6"):
    for spec in products(name):
        if spec in seen or spec[0] == "bmm":
            continue
        seen.add(spec)
        a, b = _operands(spec, rng)
        fn, c = matmul_fn(lib, a, b)
        res = {}
        for md in (0, 1, 2):
            mode.value = md
            best = 1e9
            for _ in range(15):
                scratch += 1
                t = time.thread_time()
                fn()
                best = min(best, time.thread_time() - t)
            res[md] = best * 1e6
        kind, *d = spec
        fl = 2 * np.prod(d)
        print(
            f"{name} {kind:5s} {'x'.join(map(str, d)):14s} "
            f"total {res[0]:8.1f} us ({fl / res[0] / 1e3:5.1f} GF/s)  "
            f"pack only {res[1]:7.1f}  "
            f"kernels only {res[2]:8.1f} ({fl / res[2] / 1e3:5.1f} GF/s)"
        )
