"""What the distributed worker and the tests share: models, data, the collectives' inputs.

The worker (``dist_worker.py``, run on 1, 2 and 4 processes) and the tests (one process,
the oracle) build the same models from the same seeds and the same per-rank inputs, so
the tests can recompute every expected value themselves."""

from __future__ import annotations

import numpy as np

import chainrule as cr

STEPS = 20
PER_RANK = 8  # samples per rank per step: the global batch is PER_RANK * world size
N_DATA = 640
DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
          "float64", "complex64", "complex128"]  # fmt: skip
OPS = ["SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"]


def mlp() -> cr.nn.Module:
    return cr.nn.Sequential(cr.nn.Linear(10, 16), cr.nn.Tanh(), cr.nn.Linear(16, 3))


def cnn() -> cr.nn.Module:
    return cr.nn.Sequential(
        cr.nn.Conv2d(1, 4, 3), cr.nn.ReLU(), cr.nn.MaxPool2d(2), cr.nn.Flatten(),
        cr.nn.Linear(4 * 3 * 3, 3),
    )  # fmt: skip


def data(kind: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    shape = (N_DATA, 10) if kind == "mlp" else (N_DATA, 1, 8, 8)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, 3, N_DATA)


def model(kind: str, seed: int) -> cr.nn.Module:
    cr.manual_seed(seed)
    return mlp() if kind == "mlp" else cnn()


def collective_input(rank: int, dtype: str, shape: tuple = (2, 6)) -> np.ndarray:
    """Rank ``rank``'s input for the collectives: small values (no overflow in a product
    of four int8s), some negative, some zero."""
    rng = np.random.default_rng(1000 + rank)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    v = rng.integers(-3, 4, shape)
    if dtype.startswith("uint"):
        v = np.abs(v)
    if dtype.startswith("complex"):
        return (v + 1j * rng.integers(-3, 4, shape)).astype(dtype)
    if dtype.startswith("float"):
        return (v + rng.random(shape).round(2)).astype(dtype)
    return v.astype(dtype)


def applies(op: str, dtype: str) -> bool:
    """Whether torch's rules allow the reduction on the dtype (else it raises)."""
    if dtype.startswith("complex"):
        return op in ("SUM", "AVG")
    if dtype == "bool":
        return op != "AVG"
    if op in ("BAND", "BOR", "BXOR"):
        return not dtype.startswith("float")
    return True
