"""Peak memory of loading a multi-GB checkpoint: ``cr.load(path, mmap=True)``, reading every
tensor of the mapped load, ``safe_open(...).get_tensor`` of one tensor, and a plain
``cr.load`` for comparison. Each measurement runs in a fresh
process and reports its peak resident memory (VmHWM) above the process's baseline, and
its anonymous (not file-backed) memory: mapped file pages count in the resident set while
read but are page cache, which the kernel drops under pressure.

    python benchmarks/checkpoint_memory.py --gb 4           # writes a 4 GiB file in /tmp
    python benchmarks/checkpoint_memory.py --gb 13 --skip-plain  # > half of a 23 GiB machine
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

MIB = 2**20

_PROBE = """
import sys, time
def status():
    out = {}
    for line in open("/proc/self/status"):
        k, _, v = line.partition(":")
        if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            out[k] = int(v.split()[0]) // 1024
    return out
import chainrule as cr, chainrule.safetensors as cst, numpy as np
base = status()
t0 = time.perf_counter()
what, path = sys.argv[1], sys.argv[2]
if what == "mmap":
    sd = cr.load(path, mmap=True)
elif what == "mmap-read-all":
    sd = cr.load(path, mmap=True)
    total = sum(float(t.sum()) for t in sd.values())
elif what == "plain":
    sd = cr.load(path)
elif what == "safe_open-one":
    with cst.safe_open(path, "pt") as f:
        t = f.get_tensor(f.keys()[0])
secs = time.perf_counter() - t0
end = status()
hwm, anon = end["VmHWM"] - base["VmRSS"], end["RssAnon"] - base["RssAnon"]
print(f"{hwm} {anon} {end['RssFile']} {secs:.2f}")
"""


def write_checkpoint(path: str, gib: float, tensor_mib: int) -> int:
    """A safetensors file of ``gib`` GiB of float32 tensors of ``tensor_mib`` MiB each,
    written one tensor at a time (never more than one in memory)."""
    from chainrule import _safetensors_file as sf
    from chainrule._atomic import atomic_write

    n = max(1, int(gib * 1024 // tensor_mib))
    count = tensor_mib * MIB // 4
    arrays = {f"layer{i:03d}.weight": np.broadcast_to(np.float32(i), (count,)) for i in range(n)}
    atomic_write(path, lambda fh: sf.write(fh, arrays, {"format": "pt"}))
    return n


def probe(what: str, path: str) -> tuple[int, int, int, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, what, path], capture_output=True, text=True, env=env
    )
    if out.returncode:
        raise RuntimeError(out.stderr)
    hwm, anon, file_rss, secs = out.stdout.split()
    return int(hwm), int(anon), int(file_rss), float(secs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--gb", type=float, default=4.0, help="checkpoint size in GiB")
    p.add_argument("--tensor-mb", type=int, default=256, help="size of each tensor in MiB")
    p.add_argument("--dir", default=tempfile.gettempdir())
    p.add_argument("--skip-plain", action="store_true", help="skip the non-mmap load")
    args = p.parse_args()
    path = os.path.join(args.dir, f"chainrule-bench-{os.getpid()}.safetensors")
    t0 = time.perf_counter()
    n = write_checkpoint(path, args.gb, args.tensor_mb)
    size = os.path.getsize(path) // MIB
    print(f"checkpoint: {size} MiB ({n} tensors of {args.tensor_mb} MiB), written in "
          f"{time.perf_counter() - t0:.1f}s (atomic, one tensor in memory at a time)")  # fmt: skip
    cases = ["mmap", "mmap-read-all", "safe_open-one"] + ([] if args.skip_plain else ["plain"])
    try:
        print(f"{'load':<16} {'peak RSS +MiB':>14} {'anon +MiB':>10} {'file RSS MiB':>13} {'s':>6}")
        for what in cases:
            hwm, anon, file_rss, secs = probe(what, path)
            print(f"{what:<16} {hwm:>14} {anon:>10} {file_rss:>13} {secs:>6.2f}")
    finally:
        os.remove(path)


if __name__ == "__main__":
    main()
