import os, sys, time
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _lib import load, matmul_fn
defs = [a for a in sys.argv[1:] if "=" in a]
lib = load("/tmp/libq_%d.so" % os.getpid(), defs) if defs else load()
rng = np.random.default_rng(0)
def op(r, c, t):
    return rng.standard_normal((c, r), dtype=np.float32).T if t else rng.standard_normal((r, c), dtype=np.float32)
for (m, k, n, ta, tb) in [(504, 256, 512, 1, 0), (504, 256, 512, 0, 0), (252, 256, 256, 0, 0), (2048, 128, 512, 0, 0), (2048, 512, 128, 0, 1), (256, 784, 512, 0, 1), (512, 256, 784, 1, 0), (64, 32, 64, 0, 0)]:
    a, b = op(m, k, ta), op(k, n, tb)
    fn, c = matmul_fn(lib, a, b)
    reps = max(3, int(2e9 / (2 * m * n * k)))
    best = 1e9
    for _ in range(7):
        t = time.thread_time()
        for _ in range(reps): fn()
        best = min(best, (time.thread_time() - t) / reps)
    print(f"{m}x{k}x{n} ta{ta} tb{tb}: {2*m*n*k/best/1e9:6.1f} GFLOP/s")
