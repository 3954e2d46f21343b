"""The native masked_fill (native_pointwise.h): a select, so its results are the
reference's bits (nan and -0 in x kept, the value cast as NumPy casts it) for every value
masked_fill passes (x's dtype's scalars, 0-d arrays, Python numbers the cast keeps exact);
the C loop runs for a mask repeating over leading dims and a full one, and the reference
takes the rest; the op (masked_fill, its backward) matches torch on both kernel paths."""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.backend import TABLES, native

NATIVE, REF = TABLES["native"]["masked_fill"], TABLES["numpy"]["masked_fill"]
CAUSAL = np.tril(np.ones((64, 64), bool)) == 0


@pytest.fixture
def calls(monkeypatch):
    seen = []
    kernels = dict(native._masked_fill)

    def spy(dtype):
        def call(*args):
            seen.append(args[3:])  # rows, cols, value
            return kernels[dtype](*args)

        return call

    monkeypatch.setattr(native, "_masked_fill", {d: spy(d) for d in kernels})
    return seen


def _x(shape, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    x.reshape(-1)[:4] = [np.nan, -0.0, np.inf, -np.inf]
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_native_is_the_references_bits(calls, dtype):
    x = _x((4, 3, 64, 64), dtype)
    values = [dtype(-np.inf), dtype(np.nan), dtype(-0.0), np.array(dtype(2.5)), -np.inf, 0.1, 7]
    for value in values:
        got = NATIVE(x, CAUSAL, value)
        want = REF(x, CAUSAL, value)
        assert got.dtype == want.dtype == dtype and got.tobytes() == want.tobytes(), value
    taken = len(values) - (dtype is np.float32)  # 0.1 is no float32: the reference's cast
    assert len(calls) == taken
    assert calls[0] == (12, 4096, -np.inf)


def test_mask_shapes(calls):
    x = _x((4, 3, 64, 64), np.float32)
    v = np.float32(-1)
    repeats = {  # mask shape: (rows, cols) of the C loop
        (64, 64): (12, 4096),
        (1, 3, 64, 64): (4, 3 * 4096),
        (4, 3, 64, 64): (1, 4 * 3 * 4096),
        (): (4 * 3 * 4096, 1),
    }
    for shape, rows_cols in repeats.items():
        mask = np.asarray(np.random.default_rng(1).random(shape) < 0.5)
        assert NATIVE(x, mask, v).tobytes() == REF(x, mask, v).tobytes()
        assert calls.pop()[:2] == rows_cols
    others = [np.ones((4, 1, 64, 64), bool), np.ones((64, 1), bool), CAUSAL.T.copy().T]
    for mask in others:  # not a repeat over rows, or not C-contiguous: the reference
        assert NATIVE(x, mask, v).tobytes() == REF(x, mask, v).tobytes()
    assert calls == []
    small = _x((8, 8), np.float32)
    assert NATIVE(small, CAUSAL[:8, :8], v).tobytes() == REF(small, CAUSAL[:8, :8], v).tobytes()
    assert calls == []


@pytest.mark.parametrize("backend_name", ["numpy", "native"], indirect=True)
def test_masked_fill_op_and_gradient_match_torch(backend_name):
    x = np.random.default_rng(2).standard_normal((4, 2, 64, 64)).astype(np.float32)
    g = np.random.default_rng(3).standard_normal(x.shape).astype(np.float32)
    results = []
    for lib in (cr, torch):
        t = lib.tensor(x, requires_grad=True)
        y = t.masked_fill(lib.tensor(CAUSAL), float("-inf")).softmax(-1)
        y.backward(lib.tensor(g))
        results.append((y.detach().numpy(), t.grad.numpy()))
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
