"""One thread pool (native_blas.h; the default, turned off by ``CHAINRULE_BLAS_POOL=openblas``
or ``threads.share_blas_pool(False)``): NumPy's OpenBLAS runs its threaded calls on the
kernels' OpenMP team through its threads callback. The work is OpenBLAS's own: the same
bits as on OpenBLAS's threads, on 2 and 3 threads, for products that thread and ones that
do not; it still runs where the team cannot (a forked child, threads limited to one, calls
from several Python threads at once)."""

import multiprocessing
import os
import queue
import subprocess
import sys
import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import threads


@pytest.fixture
def restore():
    """The pool shared for the test, then as it was (and the thread count)."""
    before, shared = cr.get_num_threads(), threads.blas_pool_shared()
    if not threads.share_blas_pool(True):
        pytest.skip("NumPy's BLAS takes no threads callback here")
    yield
    cr.set_num_threads(before)
    threads.share_blas_pool(shared)


def _calls() -> int:
    return threads._lib.cr_blas_callback_calls()


def _products(seed=0):
    """(a, b) pairs: OpenBLAS threads the large ones (and gemv, syrk), not the small."""
    rng = np.random.default_rng(seed)

    def x(*shape, dtype=np.float32):
        return rng.standard_normal(shape).astype(dtype)

    a = x(700, 300)
    return [
        (x(2048, 128), x(128, 384)),
        (x(2048, 384).T, x(2048, 128)),  # a transposed operand, a long inner dim
        (x(513, 257, dtype=np.float64), x(257, 129, dtype=np.float64)),
        (a, a.T),  # NumPy's syrk
        (x(4000, 600), x(600)),  # gemv
        (x(8, 8), x(8, 8)),  # too small to thread
    ]


def test_the_callback_is_registered_and_runs_openblas_calls(restore):
    cr.set_num_threads(2)
    a, b = _products()[0]
    before = _calls()
    a @ b
    assert _calls() > before
    threads.share_blas_pool(False)
    before = _calls()
    a @ b
    assert _calls() == before, "OpenBLAS's own threads again"


@pytest.mark.parametrize("n", [2, 3])
def test_the_same_bits_as_on_openblas_threads(restore, n):
    cr.set_num_threads(n)
    threads.share_blas_pool(False)
    want = [np.matmul(a, b) for a, b in _products()]
    threads.share_blas_pool(True)
    before = _calls()
    got = [np.matmul(a, b) for a, b in _products()]
    assert _calls() > before
    for w, g in zip(want, got, strict=True):
        assert g.tobytes() == w.tobytes()


def test_calls_from_several_python_threads_at_once(restore):
    cr.set_num_threads(2)
    pairs = _products()[:3]
    want = [np.matmul(a, b).tobytes() for a, b in pairs]
    errors = []

    def work():
        try:
            for _ in range(5):
                for (a, b), w in zip(pairs, want, strict=True):
                    assert np.matmul(a, b).tobytes() == w
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(e)

    workers = [threading.Thread(target=work) for _ in range(3)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(300)
        assert not t.is_alive(), "a BLAS call hung"
    assert errors == []


def _child(a, b, q):
    q.put(np.matmul(a, b).tobytes())


def test_a_forked_child_runs_threaded_blas_calls(restore):
    """In a forked child the team is one thread (GNU OpenMP cannot start one there): the
    jobs of a threaded OpenBLAS call run on threads made for the call."""
    cr.set_num_threads(2)
    a, b = _products()[0]
    want = np.matmul(a, b).tobytes()  # the parent's team has run
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    child = ctx.Process(target=_child, args=(a, b, q))
    child.start()
    try:
        got = q.get(timeout=120)
    except queue.Empty:
        pytest.fail("the forked child hung in a BLAS call")
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    assert got == want


_SCRIPT = """
import numpy as np, chainrule as cr
from chainrule.backend import threads
cr.set_num_threads(3)
a = np.random.default_rng(0).standard_normal((2048, 256)).astype(np.float32)
before = threads._lib.cr_blas_callback_calls()
b = a[:, :200].copy()
c = a.T @ b
print(threads.blas_pool_shared(), threads._lib.cr_blas_callback_calls() > before)
print(float(np.abs(c - a.T.astype(np.float64) @ b).max()))
"""


@pytest.mark.parametrize(
    "env, want",
    [
        # a team of one: the other jobs get threads of their own
        ({"CHAINRULE_BLAS_POOL": "kernels", "OMP_THREAD_LIMIT": "1"}, "True True"),
        ({"CHAINRULE_BLAS_POOL": "openblas"}, "False False"),
        ({}, "True True"),  # the default: one pool
    ],
)
def test_in_a_fresh_process(env, want):
    environ = {k: v for k, v in os.environ.items() if k != "CHAINRULE_BLAS_POOL"} | env
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=environ, capture_output=True,
                         text=True, check=True, timeout=300).stdout.split("\n")  # fmt: skip
    assert out[0] == want
    assert float(out[1]) < 1e-3
