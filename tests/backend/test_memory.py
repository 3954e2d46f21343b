"""glibc's malloc thresholds (chainrule/backend/memory.py): a training step's large
temporaries are reused from the heap, not mapped afresh (page faults counted, not timed)."""

import os
import platform
import subprocess
import sys

import pytest

STEP = """
import resource, numpy as np, chainrule as cr
from chainrule.backend import memory
rng = np.random.default_rng(0)
x = cr.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
w1 = cr.tensor(rng.standard_normal((16, 1, 3, 3)).astype(np.float32), requires_grad=True)
w2 = cr.tensor(rng.standard_normal((32, 16, 3, 3)).astype(np.float32), requires_grad=True)
F = cr.nn.functional

def step():
    h = F.max_pool2d(F.relu(F.conv2d(x, w1, padding=1)), 2)
    F.max_pool2d(F.relu(F.conv2d(h, w2, padding=1)), 2).sum().backward()
    w1.grad = w2.grad = None

for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(memory.tuned[0], (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def _faults(env: dict) -> tuple[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", STEP], env={**os.environ, **env}, capture_output=True,
        text=True, check=True,
    ).stdout.split()  # fmt: skip
    return out[0], float(out[1])


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_large_temporaries_are_reused_not_mapped_afresh():
    tuned, faults = _faults({})
    default, default_faults = _faults({"CHAINRULE_MALLOC": "default"})
    assert (tuned, default) == ("True", "False")
    # each step frees and makes again ~20 MB of arrays: with glibc's defaults most of it
    # is fresh pages (thousands of faults); kept in the heap, next to none
    assert faults < 100 < default_faults
