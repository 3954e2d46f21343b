"""Each kernel of the dispatch table, on both backends, against torch's own kernel on the
same inputs, and the native one against the NumPy reference (values, nan positions and the
sign of zeros): float32 and float64, with nan, inf and -0 among the values, contiguous and
strided inputs (the native wrappers' fallback to the reference)."""

import numpy as np
import pytest
import torch

from chainrule.backend import TABLES

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-13)}
T = torch.from_numpy
aten = torch.ops.aten


def _data(shape, dtype, seed=0, scale=3.0, specials=True):
    x = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)
    if specials:
        flat = x.reshape(-1)
        flat[:8] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 40.0, -40.0, 1e-30]
    return x


def _strided(x):
    """The same values as a strided view of a larger array."""
    return np.repeat(x[..., None], 2, axis=-1)[..., 0]


def _rows(dtype, seed=0, finite=False):
    x = _data((9, 7, 130), dtype, seed=seed, specials=False)
    if not finite:
        x[0, 0, 3], x[1, 1, :], x[2, 2, 5] = np.nan, -np.inf, np.inf
    return x


def _pointwise(dtype):
    return _data((37, 70), dtype), _data((37, 70), dtype, seed=1, specials=False)


# name: (kernel args from dtype, torch's result on the same args, whether torch's sign of
# zero is checked). A kernel's args put the array it is strided over first in `strided`.
def _cases():
    c = {}
    for a in ("none", "tanh"):
        # torch's float32 exact gelu gives +0 at -0 and far left, its float64 one -0:
        # zero signs are compared with the reference only
        c[f"gelu-{a}"] = (
            "gelu",
            lambda d, a=a: (_pointwise(d)[0], a),
            lambda x, a: torch.nn.functional.gelu(T(x), approximate=a),
            False,
        )
        c[f"gelu_backward-{a}"] = (
            "gelu_backward",
            lambda d, a=a: (*reversed(_pointwise(d)), a),
            lambda g, x, a: aten.gelu_backward(T(g), T(x), approximate=a),
            True,
        )
    c["sigmoid"] = ("sigmoid", lambda d: (_pointwise(d)[0],), lambda x: torch.sigmoid(T(x)), True)
    c["silu"] = (
        "silu",
        lambda d: (_pointwise(d)[0],),
        lambda x: torch.nn.functional.silu(T(x)),
        True,
    )
    c["silu_backward"] = (
        "silu_backward",
        lambda d: tuple(reversed(_pointwise(d))),
        lambda g, x: aten.silu_backward(T(g), T(x)),
        True,
    )
    c["sigmoid_backward"] = (
        "sigmoid_backward",
        lambda d: (_pointwise(d)[1], torch.sigmoid(T(_pointwise(d)[0])).numpy()),
        lambda g, y: aten.sigmoid_backward(T(g), T(y)),
        True,
    )
    c["tanh_backward"] = (
        "tanh_backward",
        lambda d: (_pointwise(d)[1], np.tanh(_pointwise(d)[0])),
        lambda g, y: aten.tanh_backward(T(g), T(y)),
        True,
    )
    for dim in (2, 1, 0):
        c[f"softmax-{dim}"] = (
            "softmax",
            lambda d, dim=dim: (_rows(d), dim),
            lambda x, dim: torch.softmax(T(x), dim),
            True,
        )
        c[f"log_softmax-{dim}"] = (
            "log_softmax",
            lambda d, dim=dim: (_rows(d), dim),
            lambda x, dim: torch.log_softmax(T(x), dim),
            True,
        )
        c[f"softmax_backward-{dim}"] = (
            "softmax_backward",
            lambda d, dim=dim: (
                _rows(d, 1),
                torch.softmax(T(_rows(d, finite=True)), dim).numpy(),
                dim,
            ),
            lambda g, y, dim: aten._softmax_backward_data(T(g), T(y), dim, T(y).dtype),
            True,
        )
        c[f"log_softmax_backward-{dim}"] = (
            "log_softmax_backward",
            lambda d, dim=dim: (
                _rows(d, 1),
                torch.log_softmax(T(_rows(d, finite=True)), dim).numpy(),
                dim,
            ),
            lambda g, y, dim: aten._log_softmax_backward_data(T(g), T(y), dim, T(y).dtype),
            True,
        )
    return c


CASES = _cases()


def _check(ours, theirs, dtype, signs=True):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, equal_nan=True, **TOL[dtype])
    if signs:
        zeros = (ours == 0) & (theirs == 0)
        assert (np.signbit(ours[zeros]) == np.signbit(theirs[zeros])).all(), "sign of zero"


@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_matches_torch(backend_name, case, dtype, strided):
    name, args, want, signs = CASES[case]
    args = args(dtype)
    ours_args = (_strided(args[0]), *args[1:]) if strided else args
    with np.errstate(all="ignore"):
        ours = TABLES[backend_name][name](*ours_args)
    _check(ours, want(*args), dtype, signs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_native_matches_reference(case, dtype):
    name, args, _, _ = CASES[case]
    args = args(dtype)
    with np.errstate(all="ignore"):
        _check(TABLES["native"][name](*args), TABLES["numpy"][name](*args), dtype)


def test_every_kernel_is_tested_and_in_both_tables():
    """The tables hold the same names (a backend is one table, not a rewrite)."""
    assert sorted(TABLES["native"]) == sorted(TABLES["numpy"])
    assert {case[0] for case in CASES.values()} == set(TABLES["numpy"])
    for name, fn in TABLES["native"].items():
        assert fn.__name__ == name and fn.__doc__ == TABLES["numpy"][name].__doc__
