"""One training step (forward, backward, SGD update) of an MLP and a small CNN, chainrule
against torch in the same run, both on one thread. Prints the time ratio chainrule / torch.

    python benchmarks/training_step.py [--repeats 30]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread, like torch below
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import os

import numpy as np  # noqa: E402
from _timing import median_ms  # noqa: E402


def mlp(lib, rng):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))  # fmt: skip
    x = lib.tensor(rng.standard_normal((64, 784)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 64))
    return model, x, y


def cnn(lib, rng):
    nn = lib.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )  # fmt: skip
    x = lib.tensor(rng.standard_normal((32, 1, 28, 28)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 32))
    return model, x, y


def stepper(lib, build):
    model, x, y = build(lib, np.random.default_rng(0))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = lib.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args()
    import torch

    import chainrule as cr

    torch.set_num_threads(1)
    for name, build in (
        ("MLP 784-256-128-10, batch 64", mlp),
        ("CNN 2 conv + linear, batch 32", cnn),
    ):
        ours, theirs = stepper(cr, build), stepper(torch, build)
        rows = [(median_ms(ours, args.repeats), median_ms(theirs, args.repeats)) for _ in range(3)]
        c, t = min(r[0] for r in rows), min(r[1] for r in rows)
        print(f"{name}: chainrule {c:7.2f} ms, torch {t:7.2f} ms, ratio {c / t:.2f}")


if __name__ == "__main__":
    main()
