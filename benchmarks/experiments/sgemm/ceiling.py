import ctypes
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _lib import load

defs = [a for a in sys.argv[1:] if "=" in a]
lib = load(f"/tmp/libceil_{os.getpid()}.so", defs) if defs else load()
mr = int(dict(d.split("=") for d in defs).get("MR", 14))
for kc in (64, 128, 256, 384):
    buf = np.zeros(kc * (mr + 32) + mr * 32 + 64, np.float32)
    off = (-buf.ctypes.data % 64) // 4
    ptr = buf.ctypes.data + off * 4
    reps = int(2e9 / (2 * mr * 32 * kc))
    best = 1e9
    for _ in range(5):
        t = time.thread_time()
        lib.kernel_ceiling(ctypes.c_int64(reps), ctypes.c_int64(kc), ctypes.c_void_p(ptr))
        best = min(best, time.thread_time() - t)
    print(f"MR={mr} kc={kc}: {2 * mr * 32 * kc * reps / best / 1e9:.1f} GFLOP/s")
