import os, sys, time
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _lib import load, matmul_fn
defs = [a for a in sys.argv[1:] if "=" in a]
lib = load("/tmp/libbq_%d.so" % os.getpid(), defs) if defs else load()
rng = np.random.default_rng(0)
out = []
for (m, k, n) in [(64, 32, 64), (64, 64, 32)]:
    a = rng.standard_normal((128, m, k), dtype=np.float32); b = rng.standard_normal((128, k, n), dtype=np.float32)
    fn, c = matmul_fn(lib, a, b)
    best = 1e9
    for _ in range(30):
        t = time.thread_time(); fn(); fn(); best = min(best, (time.thread_time() - t) / 2)
    out.append(f"{m}x{k}x{n}: {2*128*m*n*k/best/1e9:6.1f} GF/s ({best*1e6:.0f} us)")
print(" ".join(defs) or "default", " | ".join(out))
