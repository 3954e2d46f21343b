"""F.interpolate (and the deprecated upsample functions) and nn.Upsample against torch:
every mode on the inputs torch takes, by size and by scale factor, align_corners both ways,
recompute_scale_factor; values and input gradients; torch's nearest-index shortcuts, non-
finite inputs, dtypes, errors (types and messages), module reprs and warnings."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_twins import same_error

import chainrule as cr
import chainrule.nn.functional as CF
from chainrule import nn

MODES = {
    3: ["nearest", "nearest-exact", "linear", "area"],
    4: ["nearest", "nearest-exact", "bilinear", "bicubic", "area"],
    5: ["nearest", "nearest-exact", "trilinear", "area"],
}
INTERP = {"linear", "bilinear", "bicubic", "trilinear"}


def _grid():
    """(mode, input spatial sizes, interpolate kwargs), drawn once with a fixed seed."""
    rng = np.random.default_rng(0)
    cases = []
    for nd, modes in MODES.items():
        for mode in modes:
            for k in range(6 if nd < 5 else 4):
                ins = [int(v) for v in rng.integers(1, 7, nd - 2)]
                kw = {}
                if k % 3 == 0:
                    kw["size"] = [int(v) for v in rng.integers(1, 10, nd - 2)]
                    if nd == 3 and k == 3:
                        kw["size"] = kw["size"][0]  # an int
                else:
                    sf = [float(np.round(rng.uniform(0.4, 3.2), 2)) for _ in range(nd - 2)]
                    sf = [max(s, 1.0 / n + 0.01) for s, n in zip(sf, ins)]  # output >= 1
                    kw["scale_factor"] = sf if k != 4 else sf[0]
                    if k == 2:
                        kw["recompute_scale_factor"] = True
                if mode in INTERP:
                    kw["align_corners"] = bool(k % 2)
                cases.append((mode, ins, kw))
    return cases


GRID = _grid()


def _compare(x, call, dtype, tol):
    xt = torch.tensor(x.astype(dtype), requires_grad=True)
    xc = cr.tensor(x.astype(dtype), requires_grad=True)
    ot, oc = call(torch, xt), call(cr, xc)
    assert tuple(oc.shape) == tuple(ot.shape)
    assert str(oc.dtype) == str(ot.dtype).replace("torch", "chainrule")
    np.testing.assert_allclose(oc._data, ot.detach().numpy(), rtol=tol, atol=tol)
    u = np.random.default_rng(1).standard_normal(tuple(ot.shape)).astype(dtype)
    (ot * torch.tensor(u)).sum().backward()
    (oc * cr.tensor(u)).sum().backward()
    np.testing.assert_allclose(xc.grad._data, xt.grad.numpy(), rtol=tol * 10, atol=tol * 10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode,ins,kw", GRID, ids=[f"{m}-{i}-{k}" for m, i, k in GRID])
def test_interpolate_matches_torch(mode, ins, kw, dtype):
    x = np.random.default_rng(2).standard_normal((2, 3, *ins))
    tol = 1e-12 if dtype == "float64" else 1e-5

    def call(lib, t):
        return (TF if lib is torch else CF).interpolate(t, mode=mode, **kw)

    _compare(x, call, dtype, tol)


def _aa_grid():
    rng = np.random.default_rng(3)
    cases = []
    for mode in ("bilinear", "bicubic"):
        for k in range(6):
            ins = [int(v) for v in rng.integers(1, 12, 2)]
            kw = {"antialias": True, "align_corners": bool(k % 2)}
            if k % 2:
                kw["size"] = [int(v) for v in rng.integers(1, 12, 2)]
            else:
                sf = [float(np.round(rng.uniform(0.15, 2.5), 2)) for _ in range(2)]
                kw["scale_factor"] = [max(s, 1.0 / n + 0.01) for s, n in zip(sf, ins)]
            cases.append((mode, ins, kw))
        cases.append((mode, [9, 6], {"antialias": True, "size": (4, 1)}))  # one column
        cases.append((mode, [7, 5], {"antialias": True, "scale_factor": (1.04, 0.5)}))
    for k in range(4):  # lanczos: antialias required, align_corners refused
        ins = [int(v) for v in rng.integers(1, 12, 2)]
        kw = {"antialias": True}
        if k % 2:
            kw["size"] = [int(v) for v in rng.integers(1, 12, 2)]
        else:
            kw["scale_factor"] = [max(float(np.round(rng.uniform(0.15, 2.5), 2)), 1.0 / n + 0.01)
                                  for n in ins]  # fmt: skip
        cases.append(("lanczos", ins, kw))
    return cases


AA_GRID = _aa_grid()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode,ins,kw", AA_GRID, ids=[f"{m}-{i}-{k}" for m, i, k in AA_GRID])
def test_antialias_matches_torch(mode, ins, kw, dtype):
    test_interpolate_matches_torch(mode, ins, kw, dtype)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
def test_antialias_quirks_as_torch(mode):
    """torch's separable antialiasing kernel leaves a dim of equal sizes alone (its backward
    does not), and for a one-column output gives every row the first row's taps."""
    x = np.arange(10.0).reshape(1, 1, 10, 1)
    oc = CF.interpolate(cr.tensor(x), size=(7, 1), mode=mode, antialias=True)
    ot = TF.interpolate(torch.tensor(x), size=(7, 1), mode=mode, antialias=True)
    np.testing.assert_allclose(oc._data, ot.numpy(), rtol=1e-12)
    assert np.ptp(oc._data) == 0  # every row the same
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 6))

    def call(lib, t):
        return (TF if lib is torch else CF).interpolate(t, scale_factor=(1.1, 0.5), mode=mode,
                                                        antialias=True)  # fmt: skip

    _compare(x, call, "float64", 1e-12)


@pytest.mark.parametrize(
    "shape,kw",
    [
        ((1, 1, 2), {"scale_factor": 1.23}),  # out == in: the backward kernel copies
        ((1, 1, 8), {"scale_factor": 2.1}),  # out == 2 in: the backward kernel halves
        ((1, 1, 3, 4, 5), {"scale_factor": (1.1, 2.1, 1.0)}),
        ((1, 2, 4, 8), {"scale_factor": (1.14, 2.07)}),  # 4-D: the forward kernel too
        ((1, 2, 5, 3), {"size": (5, 6)}),
        ((1, 1, 7), {"scale_factor": 1.1, "mode": "nearest-exact"}),
        ((1, 1, 4, 4), {"scale_factor": (1.2, 2.2), "mode": "nearest-exact"}),
    ],
)
def test_nearest_index_shortcuts_as_torch(shape, kw):
    """torch's backward kernels (and its 4-D forward kernel) copy when out == in and halve
    when out == 2 * in, where the others compute floor(i * scale): a scale factor whose
    output size is one of those gives a forward and a gradient that disagree, as in torch."""
    x = np.random.default_rng(0).standard_normal(shape)

    def call(lib, t):
        return (TF if lib is torch else CF).interpolate(t, **kw)

    _compare(x, call, "float64", 1e-14)


@pytest.mark.parametrize("mode", ["linear", "nearest", "area"])
def test_non_finite_inputs_as_torch(mode):
    x = np.arange(12.0).reshape(1, 2, 6)
    x[0, 0, 2], x[0, 1, 4] = np.inf, np.nan
    kw = {"align_corners": False} if mode == "linear" else {}
    ot = TF.interpolate(torch.tensor(x), size=9, mode=mode, **kw)
    oc = CF.interpolate(cr.tensor(x), size=9, mode=mode, **kw)
    np.testing.assert_allclose(oc._data, ot.numpy(), rtol=1e-12, atol=0)  # nan, inf alike


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_uint8_nearest(mode):
    x = np.random.default_rng(0).integers(0, 255, (1, 2, 3, 5)).astype(np.uint8)
    ot = TF.interpolate(torch.tensor(x), size=(4, 7), mode=mode)
    oc = CF.interpolate(cr.tensor(x), size=(4, 7), mode=mode)
    np.testing.assert_array_equal(oc._data, ot.numpy())
    assert oc.dtype == cr.uint8


def test_float16_linear_close_to_torch():
    x = np.random.default_rng(0).standard_normal((1, 2, 5))
    ot = TF.interpolate(torch.tensor(x).half(), scale_factor=1.6, mode="linear")
    oc = CF.interpolate(cr.tensor(x).half(), scale_factor=1.6, mode="linear")
    assert oc.dtype == cr.float16
    np.testing.assert_allclose(oc._data.astype(float), ot.float().numpy(), rtol=2e-3, atol=2e-3)


def test_second_order_through_bicubic():
    x = np.random.default_rng(0).standard_normal((1, 1, 3, 4))
    grads = []
    for lib, F in ((torch, TF), (cr, CF)):
        t = lib.tensor(x, requires_grad=True)
        y = F.interpolate(t, scale_factor=1.5, mode="bicubic")
        (g,) = lib.autograd.grad((y**2).sum(), t, create_graph=True)
        (gg,) = lib.autograd.grad((g**2).sum(), t)
        grads.append(gg.numpy() if lib is torch else gg._data)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- errors

ERRORS = [
    ((1, 2, 4, 4), "float32", {"size": 0}),
    ((1, 2, 4, 4), "float32", {"size": (0, 3), "mode": "bilinear"}),
    ((1, 2, 4), "float32", {"size": 0}),
    ((1, 2, 4, 4, 4), "float32", {"size": (2, 0, 2), "mode": "trilinear"}),
    ((1, 2, 4, 4), "float32", {"scale_factor": -1.0}),
    ((1, 2, 0, 4), "float32", {"size": 3}),
    ((2, 4, 0), "float32", {"size": 3, "mode": "area"}),
    ((2, 4, 3, 0, 3), "float32", {"size": 2, "mode": "area"}),
    ((1, 2, 4, 4), "int64", {"size": 3}),
    ((1, 2, 4, 4), "int64", {"size": 3, "mode": "bilinear"}),
    ((1, 2, 4), "int32", {"size": 3, "mode": "area"}),
    ((1, 2, 4, 4, 4), "bool", {"size": 3, "mode": "area"}),
    ((1, 2, 4), "uint8", {"size": 3, "mode": "linear"}),
    ((1, 2, 4, 4, 4), "int8", {"size": 3}),
    ((2, 4), "float32", {"size": 3}),
    ((2, 4, 3), "float32", {"size": 3, "mode": "bicubic"}),
    ((2, 4, 3), "float32", {"size": 3, "mode": "bilinear"}),
    ((2, 4, 3, 3), "float32", {"size": 3, "mode": "trilinear"}),
    ((2, 4, 3, 3, 3), "float32", {"size": 3, "mode": "linear"}),
    ((2, 4, 3), "float32", {"size": [3.0]}),
    ((2, 4, 3), "float32", {"size": [3, 3]}),
    ((2, 4, 3), "float32", {"scale_factor": [3, 3]}),
    ((2, 4, 3), "float32", {"scale_factor": 2, "mode": "foo"}),
    ((2, 4, 3), "float32", {"scale_factor": 2, "align_corners": False}),
    ((2, 4, 3), "float32", {"size": 4, "recompute_scale_factor": True}),
    ((2, 4, 3), "float32", {"scale_factor": 2, "antialias": True}),
    ((2, 4, 3, 3), "float32", {"scale_factor": 2, "mode": "lanczos"}),
    (
        (2, 4, 3, 3),
        "float32",
        {"scale_factor": 2, "mode": "lanczos", "antialias": True, "align_corners": True},
    ),  # fmt: skip
    ((2, 4, 3), "float32", {}),
    ((2, 4, 3), "float32", {"size": 3, "scale_factor": 2.0}),
]


@pytest.mark.parametrize("shape,dtype,kw", ERRORS, ids=[str(e) for e in ERRORS])
def test_errors_match_torch(shape, dtype, kw):
    same_error(lambda: TF.interpolate(torch.zeros(shape, dtype=getattr(torch, dtype)), **kw),
               lambda: CF.interpolate(cr.zeros(shape, dtype=getattr(cr, dtype)), **kw))  # fmt: skip


@pytest.mark.parametrize("size", [3.0, (True,)])
def test_non_integer_sizes_are_type_errors(size):
    with pytest.raises(TypeError):
        TF.interpolate(torch.zeros(2, 4, 3), size=size)
    with pytest.raises(TypeError):
        CF.interpolate(cr.zeros(2, 4, 3), size=size)


TO_EMPTY = [
    ((2, 4, 3), {"size": 0, "mode": "area"}),
    ((2, 4, 3), {"scale_factor": 0.2, "mode": "area"}),
    ((2, 4, 3, 3, 3), {"size": (0, 1, 1), "mode": "area"}),
]


@pytest.mark.parametrize("shape,kw", TO_EMPTY)
def test_area_to_empty(shape, kw):
    assert tuple(CF.interpolate(cr.zeros(shape), **kw).shape) == tuple(
        TF.interpolate(torch.zeros(shape), **kw).shape
    )


def test_sizes_as_numpy_and_tensor_integers():
    for size in (np.int64(5), (np.int32(4),)):
        ot = TF.interpolate(torch.ones(1, 1, 3), size=size)
        oc = CF.interpolate(cr.ones(1, 1, 3), size=size)
        assert tuple(oc.shape) == tuple(ot.shape)


# --------------------------------------------------------------------------- deprecated forms


@pytest.mark.parametrize("name,kw", [("upsample", {"scale_factor": 2, "mode": "bilinear"}),
                                     ("upsample_nearest", {"size": (4, 5)}),
                                     ("upsample_bilinear", {"scale_factor": 1.5})])  # fmt: skip
def test_deprecated_upsample_functions(name, kw):
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 3))
    out = []
    for lib, F in ((torch, TF), (cr, CF)):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            y = getattr(F, name)(lib.tensor(x), **kw)
        out.append((y.numpy() if lib is torch else y._data, [str(m.message) for m in w]))
    np.testing.assert_allclose(out[1][0], out[0][0], rtol=1e-12, atol=1e-12)
    assert out[1][1] == out[0][1] and len(out[0][1]) == 1


# --------------------------------------------------------------------------- modules

MODULES = [
    ("Upsample", (), {"scale_factor": 2}),
    ("Upsample", (), {"scale_factor": (2, 1.5), "mode": "bilinear"}),
    ("Upsample", ((5, 6),), {"mode": "bicubic", "align_corners": True}),
    ("Upsample", (7,), {"mode": "nearest-exact"}),
    ("Upsample", (), {"scale_factor": 0.5, "mode": "area"}),
    ("Upsample", (), {"scale_factor": 1.7, "mode": "bilinear", "recompute_scale_factor": True}),
    ("UpsamplingNearest2d", (), {"scale_factor": 3}),
    ("UpsamplingNearest2d", ((4, 9),), {}),
    ("UpsamplingBilinear2d", (), {"scale_factor": 2}),
    ("UpsamplingBilinear2d", ((5, 5),), {}),
]


@pytest.mark.parametrize("name,args,kw", MODULES, ids=[f"{m[0]}-{m[2]}" for m in MODULES])
def test_upsample_modules(name, args, kw):
    t, c = getattr(torch.nn, name)(*args, **kw), getattr(nn, name)(*args, **kw)
    assert repr(c) == repr(t)
    assert c.state_dict() == {} and not list(c.parameters())
    for attr in ("name", "size", "scale_factor", "mode", "align_corners",
                 "recompute_scale_factor"):  # fmt: skip
        assert getattr(c, attr) == getattr(t, attr), attr
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 6))
    _compare(x, lambda lib, v: (t if lib is torch else c)(v), "float64", 1e-12)


def test_upsample_in_a_conv_net_trains_as_torch():
    """A decoder-style step: conv, bilinear upsampling, conv; losses and weights match."""

    def make(lib):
        torch.manual_seed(0)
        m = lib.nn
        return m.Sequential(m.Conv2d(2, 4, 3, padding=1), m.ReLU(),
                            m.Upsample(scale_factor=2, mode="bilinear"),
                            m.Conv2d(4, 1, 3, padding=1))  # fmt: skip

    t = make(torch).double()
    c = make(cr).double()
    c.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 2, 5, 4)), rng.standard_normal((3, 1, 10, 8))
    ot, oc = torch.optim.SGD(t.parameters(), lr=0.1), cr.optim.SGD(c.parameters(), lr=0.1)
    for _ in range(3):
        losses = []
        for lib, m, opt in ((torch, t, ot), (cr, c, oc)):
            loss = ((m(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[1] == pytest.approx(losses[0], rel=1e-12)
