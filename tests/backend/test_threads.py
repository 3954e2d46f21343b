"""Threads: ``set_num_threads`` / ``get_num_threads`` as torch's (defaults, errors, BLAS),
and the native kernels' OpenMP loops giving the same bits on any number of threads (and
the reference's values) at sizes above their parallel thresholds; a forked child still runs
them; the build falls back to a serial one without OpenMP."""

import multiprocessing
import os
import queue
import subprocess
import sys

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import backend
from chainrule.backend import TABLES, _build, threads
from chainrule.backend import numpy_kernels as ref
from chainrule.backend import numpy_loss as ref_loss
from chainrule.backend import numpy_norm as ref_norm

NATIVE = TABLES["native"]
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


@pytest.fixture
def restore_threads():
    before = cr.get_num_threads()
    yield
    cr.set_num_threads(before)


def _data(shape, dtype, seed=0, specials=True):
    x = (np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)
    if specials:
        flat = x.reshape(-1)
        flat[:8] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 40.0, -40.0, 1e-30]
        flat[-3:] = [np.nan, -0.0, 50.0]  # in the last, partial block too
    return x


PW = (300, 301)  # 90300 elements: above both thresholds, not a multiple of the block
ROWS = (700, 130)
IMAGE = (8, 6, 30, 29)
POOL_IMAGE = (16, 16, 40, 41)
GEO = ((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), (30, 29))
POOL = ((2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), (20, 20))  # every window inside x
POOL_PAD = ((3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), (20, 21))  # padding: the general loop
AVG = ((3, 3), (2, 2), (1, 1), (20, 21))  # kernel, stride, padding, out_hw
CE = (2000, 65)  # (N, C): 130000 logits
CE_SPATIAL = (16, 10, 30, 30)  # (N, C, H, W)
BN = (32, 16, 20, 20)


def _rows(dtype, seed=0):
    x = _data(ROWS, dtype, seed, specials=False)
    x[0, 3], x[1, :], x[2, 5] = np.nan, -np.inf, np.inf
    return x


def _pool_backward(dtype, pool=POOL):
    x = _data(POOL_IMAGE, dtype, specials=False)
    _, index = ref.max_pool2d(x, *pool)
    return _data(index.shape, dtype, 1, specials=False), index, POOL_IMAGE


def _ce(dtype, shape, weighted, ls, ignore_index):
    x = _data(shape, dtype, specials=False)
    x.reshape(-1)[:2] = [np.nan, np.inf]
    t = np.random.default_rng(5).integers(0, shape[1], (shape[0], *shape[2:]))
    t.reshape(-1)[2:900:7] = 1  # ignored where ignore_index is 1
    w = np.random.default_rng(6).random(shape[1]).astype(dtype) + 0.1 if weighted else None
    return x, t, w, ignore_index, ls


def _ce_backward(dtype, shape, weighted, ls, ignore_index):
    x, t, w, _, _ = _ce(dtype, shape, weighted, ls, ignore_index)
    g = _data(t.shape, dtype, 3, specials=False)
    return g, ref.log_softmax(_data(shape, dtype, specials=False), 1), t, w, ignore_index, ls


def _bn_vectors(dtype, affine):
    rng = np.random.default_rng(8)
    c = BN[1]
    mean, rstd = rng.standard_normal(c).astype(dtype), (rng.random(c) + 0.5).astype(dtype)
    w = rng.standard_normal(c).astype(dtype) if "w" in affine else None
    b = rng.standard_normal(c).astype(dtype) if "b" in affine else None
    return mean, rstd, w, b


def _bn_backward(dtype, affine, training):
    mean, rstd, w, _ = _bn_vectors(dtype, affine)
    return (
        _data(BN, dtype, 3, specials=False),
        _data(BN, dtype, specials=False),
        mean,
        rstd,
        w,
        training,
    )


def _rms_backward(dtype, weight):
    x = _data(ROWS, dtype, specials=False)
    w = _data(ROWS[1:], dtype, 1, specials=False) if weight else None
    _, rstd = ref_norm.rms_norm(x, w, 1e-6, 1)
    return _data(ROWS, dtype, 2, specials=False), x, rstd, w, 1


def _ln_backward(dtype, weight):
    x = _data(ROWS, dtype, specials=False)
    w = _data(ROWS[1:], dtype, 1, specials=False) if weight else None
    _, mu, rstd = ref.layer_norm(x, w, None, 1e-5, 1)
    return _data(ROWS, dtype, 2, specials=False), x, mu, rstd, w, 1


def _embedding(dtype, pad):
    index = np.random.default_rng(4).integers(0, 50, 3000)
    index[:3] = 3
    return _data((3000, 40), dtype, specials=False), index, 50, pad


def _small(shape, dtype, seed=0):
    """Values of about 0.1: sums of products stay near 1, in the reference's tolerance
    (BLAS orders a product's sum differently on one and several threads)."""
    return _data(shape, dtype, seed, specials=False) / 30


def _heads(dtype):
    """Attention's per-head products (B, H, T, hs) @ (B, H, hs, T), views of one array."""
    qk = _small((8, 64, 2, 4, 32), dtype)
    return qk[:, :, 0].transpose(0, 2, 1, 3), qk[:, :, 1].transpose(0, 2, 3, 1)


# name of a case: (kernel, its args for a dtype)
CASES = {
    "gelu-none": ("gelu", lambda d: (_data(PW, d), "none")),
    "gelu-tanh": ("gelu", lambda d: (_data(PW, d), "tanh")),
    "gelu_backward-none": ("gelu_backward", lambda d: (_data(PW, d, 1), _data(PW, d), "none")),
    "gelu_backward-tanh": ("gelu_backward", lambda d: (_data(PW, d, 1), _data(PW, d), "tanh")),
    "sigmoid": ("sigmoid", lambda d: (_data(PW, d),)),
    "silu": ("silu", lambda d: (_data(PW, d),)),
    "silu_backward": ("silu_backward", lambda d: (_data(PW, d, 1), _data(PW, d))),
    "sigmoid_backward": ("sigmoid_backward", lambda d: (_data(PW, d, 1), _data(PW, d, 2))),
    "tanh_backward": ("tanh_backward", lambda d: (_data(PW, d, 1), _data(PW, d, 2))),
    "softmax": ("softmax", lambda d: (_rows(d), 1)),
    "log_softmax": ("log_softmax", lambda d: (_rows(d), 1)),
    "softmax_backward": (
        "softmax_backward",
        lambda d: (_rows(d, 1), ref.softmax(_data(ROWS, d, specials=False), 1), 1),
    ),
    "log_softmax_backward": (
        "log_softmax_backward",
        lambda d: (_rows(d, 1), ref.log_softmax(_data(ROWS, d, specials=False), 1), 1),
    ),
    "im2col": ("im2col", lambda d: (_data(IMAGE, d), *GEO)),
    "col2im": (
        "col2im",
        lambda d: (_data((6 * 9, 8 * 30 * 29), d, specials=False), IMAGE, *GEO),
    ),
    "max_pool2d": ("max_pool2d", lambda d: (_data(POOL_IMAGE, d), *POOL)),
    "max_pool2d_backward": ("max_pool2d_backward", _pool_backward),
    "max_pool2d-pad": ("max_pool2d", lambda d: (_data(POOL_IMAGE, d), *POOL_PAD)),
    "max_pool2d_backward-pad": ("max_pool2d_backward", lambda d: _pool_backward(d, POOL_PAD)),
    "avg_pool2d": ("avg_pool2d", lambda d: (_data(POOL_IMAGE, d), *AVG, False, 0)),
    "avg_pool2d-divisor": ("avg_pool2d", lambda d: (_data(POOL_IMAGE, d), *AVG, True, 5)),
    "avg_pool2d_backward": (
        "avg_pool2d_backward",
        lambda d: (_data((16, 16, 20, 21), d, specials=False), POOL_IMAGE, *AVG, False, 0),
    ),
    "relu": ("relu", lambda d: (_data(PW, d),)),
    "arith-add": ("arith", lambda d: (np.add, _data(PW, d, 1), _data(PW, d))),
    "arith-subtract": ("arith", lambda d: (np.subtract, _data(PW, d, 1), _data(PW, d))),
    "arith-multiply-number": ("arith", lambda d: (np.multiply, _data(PW, d), 0.125)),
    "arith-divide-0d": ("arith", lambda d: (np.divide, _data(PW, d), np.array(3, d))),
    "relu_backward": ("relu_backward", lambda d: (_data(PW, d, 1), _data(PW, d))),
    "softplus": ("softplus", lambda d: (_data(PW, d), 1.5, 20.0)),
    "softplus_backward": (
        "softplus_backward",
        lambda d: (_data(PW, d, 1), _data(PW, d), 1.5, 20.0),
    ),
    "dropout": ("dropout", lambda d: (_data(PW, d), 0.3, np.random.default_rng(7))),
    "dropout_backward": (
        "dropout_backward",
        lambda d: (_data(PW, d), np.random.default_rng(7).random(PW) >= 0.3, 0.3),
    ),
    "cross_entropy": ("cross_entropy", lambda d: _ce(d, CE, False, 0.0, -100)),
    "cross_entropy-w-ls-ignore": ("cross_entropy", lambda d: _ce(d, CE, True, 0.2, 1)),
    "cross_entropy-spatial": ("cross_entropy", lambda d: _ce(d, CE_SPATIAL, True, 0.1, 1)),
    "cross_entropy_backward": (
        "cross_entropy_backward",
        lambda d: _ce_backward(d, CE, False, 0.0, -100),
    ),
    "cross_entropy_backward-w-ls-ignore": (
        "cross_entropy_backward",
        lambda d: _ce_backward(d, CE, True, 0.2, 1),
    ),
    "cross_entropy_backward-spatial": (
        "cross_entropy_backward",
        lambda d: _ce_backward(d, CE_SPATIAL, True, 0.1, 1),
    ),
    "batch_norm_stats": ("batch_norm_stats", lambda d: (_data(BN, d, specials=False),)),
    "batch_norm_elemt": (
        "batch_norm_elemt",
        lambda d: (_data(BN, d, specials=False), *_bn_vectors(d, "wb")),
    ),
    "batch_norm_elemt-plain": (
        "batch_norm_elemt",
        lambda d: (_data(BN, d, specials=False), *_bn_vectors(d, "")),
    ),
    "batch_norm_backward-train": ("batch_norm_backward", lambda d: _bn_backward(d, "w", True)),
    "batch_norm_backward-eval": ("batch_norm_backward", lambda d: _bn_backward(d, "w", False)),
    "rms_norm": ("rms_norm", lambda d: (_rows(d), _data(ROWS[1:], d, 1, specials=False), 1e-6, 1)),
    "rms_norm_backward-w": ("rms_norm_backward", lambda d: _rms_backward(d, True)),
    "rms_norm_backward": ("rms_norm_backward", lambda d: _rms_backward(d, False)),
    "layer_norm": (
        "layer_norm",
        lambda d: (
            _rows(d),
            _data(ROWS[1:], d, 1, specials=False),
            _data(ROWS[1:], d, 2, specials=False),
            1e-5,
            1,
        ),
    ),
    "layer_norm_backward-w": ("layer_norm_backward", lambda d: _ln_backward(d, True)),
    "layer_norm_backward": ("layer_norm_backward", lambda d: _ln_backward(d, False)),
    "embedding_backward": ("embedding_backward", lambda d: _embedding(d, None)),
    "embedding_backward-pad": ("embedding_backward", lambda d: _embedding(d, 3)),
    "masked_fill": (
        "masked_fill",
        lambda d: (_data((8, 4, 64, 64), d), np.tril(np.ones((64, 64), bool)) == 0, d(-np.inf)),
    ),
    "sum_rows": ("sum_rows", lambda d: (_data((300, 1000), d),)),
    "scaled_masked_softmax": (
        "scaled_masked_softmax",
        lambda d: (
            _data((8, 4, 64, 64), d),
            0.125,
            np.tril(np.ones((64, 64), bool)) == 0,
            d(-np.inf),
            3,
        ),  # fmt: skip
    ),
    "scaled_masked_softmax_backward": (
        "scaled_masked_softmax_backward",
        lambda d: (
            _data((8, 4, 64, 64), d, 1),
            ref.softmax(_data((8, 4, 64, 64), d), 3),
            np.tril(np.ones((64, 64), bool)) == 0,
            0.125,
            3,
        ),  # fmt: skip
    ),
    "matmul": ("matmul", lambda d: _heads(d)),
    "matmul-broadcast": ("matmul", lambda d: (_small((32, 144), d), _small((64, 144, 196), d, 1))),
    # the bias set in on the team (512 x 128 elements); a product this small (2 inner) is
    # one thread in OpenBLAS, whose threaded GEMM need not give its serial bits
    "addmm": (
        "addmm",
        lambda d: (_small((128,), d, 2), _small((512, 2), d), _small((128, 2), d, 1).T),
    ),
}


def _bits(out):
    outs = out if isinstance(out, tuple) else (out,)
    return [np.ascontiguousarray(a).tobytes() for a in outs]


def _close(ours, want, dtype):
    ours = ours if isinstance(ours, tuple) else (ours,)
    want = want if isinstance(want, tuple) else (want,)
    for a, b in zip(ours, want, strict=True):
        if a.dtype == np.int64:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, equal_nan=True, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_bits_on_any_thread_count(restore_threads, case, dtype):
    name, make = CASES[case]
    results = {}
    with np.errstate(all="ignore"):
        for n in (1, 2, 3):  # fresh arguments each time (dropout's generator draws)
            cr.set_num_threads(n)
            results[n] = NATIVE[name](*make(dtype))
        want = ref.KERNELS[name](*make(dtype))
    assert _bits(results[2]) == _bits(results[1])
    assert _bits(results[3]) == _bits(results[1])
    _close(results[2], want, dtype)


ARITH_B = {
    "same shape": lambda d: _data(PW, d, 2),
    "0-d": lambda d: np.array(-0.3, d),
    "float": lambda d: 1 / 3,
    "int": lambda d: 7,
    "int beyond float32's exact range": lambda d: 2**24 + 1,
    "broadcast row": lambda d: _data(PW[-1:], d, 2),
    "other dtype": lambda d: _data(PW, np.float32 if d == np.float64 else np.float64, 2),
    "transposed": lambda d: _data(PW[::-1], d, 2).T,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("b", sorted(ARITH_B))
@pytest.mark.parametrize("ufunc", [np.add, np.subtract, np.multiply, np.divide, np.maximum])
def test_arith_gives_the_ufuncs_bits_on_any_thread_count(restore_threads, ufunc, b, dtype):
    """The threaded add/subtract/multiply/divide is NumPy's ufunc, bit for bit, in every
    form it takes (and in those it leaves to the ufunc), either operand order."""
    a = _data(PW, dtype)
    other = ARITH_B[b](dtype)
    with np.errstate(all="ignore"):
        for args in ((a, other), (other, a)):
            want = ufunc(*args)
            for n in (1, 2, 3):
                cr.set_num_threads(n)
                got = NATIVE["arith"](ufunc, *args)
                assert got.dtype == want.dtype and got.shape == want.shape
                assert got.tobytes() == want.tobytes(), (ufunc.__name__, b, n)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_large_arithmetic_goes_to_the_threaded_kernel_only_with_threads(
    restore_threads, monkeypatch, n_threads
):
    """With several kernel threads, a large array's add and the plain backward's products
    run through K.arith (the threaded kernel); with one, or for a small array, NumPy's
    ufunc alone. The values are torch's either way."""
    calls = []
    real = backend.K.arith

    def spy(ufunc, *arrays):
        calls.append((ufunc.__name__, arrays[0].size))
        return real(ufunc, *arrays)

    monkeypatch.setattr(backend.K, "arith", spy)
    cr.set_num_threads(n_threads)
    rng = np.random.default_rng(3)
    big = [rng.standard_normal(PW).astype(np.float32) for _ in range(2)]
    small = rng.standard_normal(5).astype(np.float32)
    x, y = (cr.tensor(v, requires_grad=True) for v in big)
    s = cr.tensor(small, requires_grad=True)
    out = (x + y) * y
    (out.sum() + (s * 2.0).sum()).backward()
    tx, ty = (torch.tensor(v, requires_grad=True) for v in big)
    ((tx + ty) * ty).sum().backward()
    np.testing.assert_array_equal(out.detach().numpy(), ((tx + ty) * ty).detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-6)
    size = big[0].size
    if n_threads == 1 or not threads.has_openmp():
        assert calls == []
    else:  # forward add and multiply; backward: g * y for x+y's grad, g * (x + y)
        assert ("add", size) in calls and ("multiply", size) in calls
        assert all(n == size for _, n in calls)  # never the 5-element tensor's ops


def test_every_native_kernel_has_a_thread_case():
    covered = {name for name, _ in CASES.values()} | {"sgd_step", "adam_step"}
    assert covered == set(ref.KERNELS)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_names_the_first_bad_target_on_any_thread_count(restore_threads, dtype):
    x, t, w, _, _ = _ce(dtype, CE, False, 0.0, -100)
    t[1500], t[300] = -7, 65  # the first out of range, in the second thread's half too
    for n in (1, 2, 3):
        cr.set_num_threads(n)
        with pytest.raises(IndexError, match="^Target 65 is out of bounds.$"):
            NATIVE["cross_entropy"](x, t, w, -100, 0.0)
    with pytest.raises(IndexError, match="^Target 65 is out of bounds.$"):
        ref_loss.cross_entropy(x, t, w, -100, 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", ["sgd", "sgd-nesterov", "adam"])
def test_optimizer_step_bits_on_any_thread_count(restore_threads, optimizer, dtype):
    results = []
    for n in (1, 2, 3, None):  # None: the reference
        p, g, m, v = (_data(100_003, dtype, seed, specials=False) for seed in range(4))
        v = v * v
        kernels = ref.KERNELS if n is None else NATIVE
        if n is not None:
            cr.set_num_threads(n)
        if optimizer == "adam":
            kernels["adam_step"](p, g, m, v, 0.9, 0.999, 1e-3 / (1 - 0.9**2), 0.04, 1e-8, 0.999)
        else:
            kernels["sgd_step"](p, g, m, 0.05, 0.9, 0.1, optimizer == "sgd-nesterov")
        results.append(_bits((p, m, v)))
    assert results[0] == results[1] == results[2] == results[3]


def test_a_training_step_is_bit_identical_on_one_and_two_kernel_threads(restore_threads):
    """W6-like: embedding, layer_norm, gelu, attention softmax, AdamW, with the native
    kernels on one and two threads. BLAS stays on one: OpenBLAS's threaded GEMM need not
    give its serial bits (nor does torch's MKL)."""

    def run():
        cr.manual_seed(0)
        emb = cr.nn.Embedding(65, 64)
        block = cr.nn.Sequential(
            cr.nn.LayerNorm(64), cr.nn.Linear(64, 256), cr.nn.GELU("tanh"), cr.nn.Linear(256, 64)
        )
        params = [*emb.parameters(), *block.parameters()]
        opt = cr.optim.AdamW(params, lr=1e-3)
        idx = cr.randint(0, 65, (16, 64))
        for _ in range(2):
            h = block(emb(idx))
            att = (h @ h.transpose(1, 2)).softmax(-1)
            loss = (att @ h).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return [p.detach().numpy().tobytes() for p in params]

    cr.set_num_threads(1)
    one = run()
    threads._lib.cr_set_num_threads(2)  # the kernels' team only
    assert run() == one


def test_set_and_get_num_threads_as_torch(restore_threads):
    cr.set_num_threads(3)
    assert cr.get_num_threads() == 3
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(RuntimeError) as ours:
            cr.set_num_threads(bad)
        with pytest.raises(RuntimeError) as theirs:
            torch.set_num_threads(bad)
        assert str(ours.value) == str(theirs.value)
    assert cr.get_num_threads() == 3


@pytest.mark.parametrize("env", [None, "3", "1"])
def test_default_follows_omp_num_threads_as_torch(env):
    code = "import chainrule as cr, torch; print(cr.get_num_threads(), torch.get_num_threads())"
    environ = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if env is not None:
        environ["OMP_NUM_THREADS"] = env
    out = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                         text=True, check=True, timeout=300).stdout.split()  # fmt: skip
    assert out[0] == out[1]
    cpus = len(os.sched_getaffinity(0))
    assert int(out[0]) == (min(int(env), cpus) if env else cpus)


def test_set_num_threads_sets_numpys_openblas(restore_threads):
    """NumPy's wheels bundle OpenBLAS: its thread count follows set_num_threads."""
    import ctypes

    config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    assert "openblas" in config["name"], "this test expects NumPy's bundled OpenBLAS"
    libs = [p for p in threads._blas_libraries() if "openblas" in os.path.basename(p)]
    assert libs
    dll = ctypes.CDLL(libs[0])
    get = next(
        getattr(dll, s)
        for s in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads")
        if hasattr(dll, s)
    )
    for n in (1, 2):
        cr.set_num_threads(n)
        assert get() == n


def _child_gelu(x, q):
    q.put(NATIVE["gelu"](x, "tanh").tobytes())


def test_a_forked_child_runs_the_kernels(restore_threads):
    """GNU OpenMP hangs in a forked child of a process whose team ran: the child stays on
    one thread (a hang fails this test by its timeout)."""
    cr.set_num_threads(2)
    x = _data(PW, np.float32)
    want = NATIVE["gelu"](x, "tanh").tobytes()  # the parent's team has run
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    child = ctx.Process(target=_child_gelu, args=(x, q))
    child.start()
    try:
        got = q.get(timeout=120)  # read before join: the child flushes its result first
    except queue.Empty:
        pytest.fail("the forked child hung in the native kernel")
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    assert got == want


def test_the_build_uses_openmp_where_the_compiler_has_it(monkeypatch):
    assert threads.has_openmp() == bool(_build.openmp_flags())
    monkeypatch.setenv("CHAINRULE_OPENMP", "0")
    assert _build.openmp_flags() == []
    monkeypatch.delenv("CHAINRULE_OPENMP")
    monkeypatch.setenv("CC", "false")  # a compiler that fails: a serial build, no error
    assert _build.openmp_flags() == []


@pytest.mark.parametrize(
    "env, pool, want",
    [
        # one pool (OpenBLAS on the kernels' team, the default): a short spin
        ({}, "True", "GOMP_SPINCOUNT = '10000'"),
        # two pools: passive (libgomp's GOMP_SPINCOUNT 0), no spinning against OpenBLAS's
        ({"CHAINRULE_BLAS_POOL": "openblas"}, "False", "GOMP_SPINCOUNT = '0'"),
        ({"OMP_WAIT_POLICY": "active"}, "True", "OMP_WAIT_POLICY = 'ACTIVE'"),  # the user's
        ({"GOMP_SPINCOUNT": "77"}, "True", "GOMP_SPINCOUNT = '77'"),
    ],
)
def test_openmp_wait_policy_follows_the_pools_unless_the_environment_says(env, pool, want):
    """libgomp reads its wait policy when the extension loads it: a short spin when
    OpenBLAS runs on the kernels' team, passive when OpenBLAS keeps its own spinning
    threads, the user's choice otherwise; nothing is left in os.environ."""
    if not threads.has_openmp():
        pytest.skip("a serial build: no OpenMP team waits")
    drop = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "CHAINRULE_BLAS_POOL")
    environ = {k: v for k, v in os.environ.items() if k not in drop} | env
    environ["OMP_DISPLAY_ENV"] = "verbose"
    code = (
        "import os, chainrule.backend; from chainrule.backend import threads; "
        "print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'), "
        "threads.blas_pool_shared())"
    )
    res = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                         text=True, check=True, timeout=300)  # fmt: skip
    left = (env.get("OMP_WAIT_POLICY"), env.get("GOMP_SPINCOUNT"))
    if threads._callback_setter() is None:  # an OpenBLAS without the callback: two pools
        pool, want = "False", want if env else "GOMP_SPINCOUNT = '0'"
    assert res.stdout.split() == [str(left[0]), str(left[1]), pool]
    assert want in res.stderr
