"""Markdown tables from a bench.py output: per unique shape, isolated (best) and
in-sequence (median) GFLOP/s of mine / numpy (OpenBLAS) / torch (MKL)."""
import re
import sys

text = open(sys.argv[1]).read()
for block in re.split(r"\n(?=W\d:)", text.strip()):
    name = block.split(":")[0]
    iso, seq = {}, {}
    part = "iso"
    for line in block.splitlines():
        if "in sequence, per shape" in line:
            part = "seq"
            continue
        m = re.match(r"\s+(\S+)\s+(\d+x\d+x\d+(?:x\d+)?)\s+mine\s+([\d.]+)(?: \(\s*[\d.]+\))?\s+numpy\s+([\d.]+)(?: \(\s*[\d.]+\))?\s+torch\s+([\d.]+)", line)
        if m:
            key = (m.group(1), m.group(2))
            d = iso if part == "iso" else seq
            d.setdefault(key, (m.group(3), m.group(4), m.group(5)))
    print(f"\n{name} (GFLOP/s; kind m x k x n, bmm: batch x m x k x n)\n")
    print("| product | isolated, best: mine / OpenBLAS / MKL | in sequence, median: mine / OpenBLAS / MKL |")
    print("|---|---|---|")
    for key, v in iso.items():
        s = seq.get(key, ("-", "-", "-"))
        print(f"| {key[0]} {key[1]} | {v[0]} / {v[1]} / {v[2]} | {s[0]} / {s[1]} / {s[2]} |")
    for line in block.splitlines():
        if "total (sum" in line or "whole list in sequence" in line:
            print("\n" + line.strip())
