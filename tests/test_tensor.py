"""Tensor creation, attributes, dtypes and type promotion, printing: all against torch."""

import numpy as np
import pytest
import torch

import chainrule as cr

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def same_dtype(c, t):
    return str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]


def make(lib, dtype, ndim):
    shape = (2,) * ndim
    return lib.ones(shape, dtype=getattr(lib, dtype))


@pytest.mark.parametrize("da", DTYPES)
@pytest.mark.parametrize("db", DTYPES)
@pytest.mark.parametrize("dims", [(1, 1), (1, 0), (0, 1), (0, 0)])
def test_tensor_tensor_promotion(da, db, dims):
    c = make(cr, da, dims[0]) + make(cr, db, dims[1])
    t = make(torch, da, dims[0]) + make(torch, db, dims[1])
    assert same_dtype(c, t), (c.dtype, t.dtype)


@pytest.mark.parametrize("da", DTYPES)
@pytest.mark.parametrize("scalar", [True, 2, 2.5])
@pytest.mark.parametrize("ndim", [0, 1])
def test_tensor_scalar_promotion(da, scalar, ndim):
    for op in (lambda a: a + scalar, lambda a: scalar * a, lambda a: a / scalar):
        c, t = op(make(cr, da, ndim)), op(make(torch, da, ndim))
        assert same_dtype(c, t), (da, scalar, c.dtype, t.dtype)


def test_default_dtype_switch():
    assert cr.get_default_dtype() is cr.float32
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.tensor([1.0]).dtype == cr.float64
        assert (cr.tensor([1, 2]) * 0.5).dtype == cr.float64
    finally:
        cr.set_default_dtype(cr.float32)
    assert cr.tensor([1.0]).dtype == cr.float32
    with pytest.raises(TypeError):
        cr.set_default_dtype(cr.int64)


@pytest.mark.parametrize(
    "data",
    [
        1.5,
        3,
        True,
        [1, 2],
        [1.0, 2],
        [[True, False]],
        [],
        np.arange(3, dtype=np.int32),
        np.ones(2, dtype=np.float64),
        np.float64(2.5),
    ],
)
def test_tensor_dtype_inference(data):
    c, t = cr.tensor(data), torch.tensor(data)
    assert same_dtype(c, t) and tuple(c.shape) == tuple(t.shape)
    np.testing.assert_array_equal(c.numpy(), t.numpy())


def test_creation_functions_match_torch():
    pairs = [
        (cr.zeros(2, 3), torch.zeros(2, 3)),
        (cr.ones((2, 3), dtype=cr.int32), torch.ones((2, 3), dtype=torch.int32)),
        (cr.full((2,), 7), torch.full((2,), 7)),
        (cr.full((2,), 7.0), torch.full((2,), 7.0)),
        (cr.arange(5), torch.arange(5)),
        (cr.arange(1, 2, 0.25), torch.arange(1, 2, 0.25)),
        (cr.arange(10, 0, -3), torch.arange(10, 0, -3)),
        (cr.linspace(0, 1, 5), torch.linspace(0, 1, 5)),
        (cr.eye(3, 2), torch.eye(3, 2)),
        (
            cr.zeros_like(cr.ones(2, dtype=cr.int64)),
            torch.zeros_like(torch.ones(2, dtype=torch.int64)),
        ),
        (cr.ones_like(cr.ones(2, 2)), torch.ones_like(torch.ones(2, 2))),
        (cr.full_like(cr.ones(2), 3.5), torch.full_like(torch.ones(2), 3.5)),
    ]
    for c, t in pairs:
        assert same_dtype(c, t) and tuple(c.shape) == tuple(t.shape)
        np.testing.assert_allclose(c.numpy(), t.numpy())
    assert cr.empty(2, 3).shape == cr.Size([2, 3])
    with pytest.raises(RuntimeError, match="Dimension size must be non-negative"):
        cr.zeros(-1, 2)


def test_from_numpy_and_as_tensor_share_memory_tensor_copies():
    a = np.zeros(3, dtype=np.float32)
    f, s, c = cr.from_numpy(a), cr.as_tensor(a), cr.tensor(a)
    a[0] = 5
    assert f[0].item() == 5 and s[0].item() == 5 and c[0].item() == 0
    with pytest.raises(TypeError, match="can't convert np.ndarray of type numpy.object_"):
        cr.tensor(np.array([object()]))


def test_random_functions_are_seeded_and_well_formed():
    cr.manual_seed(0)
    a = cr.rand(1000)
    cr.manual_seed(0)
    assert cr.equal(a, cr.rand(1000))
    assert 0 <= a.min().item() and a.max().item() < 1 and a.dtype == cr.float32
    n = cr.randn(20000)
    assert abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1) < 0.05
    r = cr.randint(3, 7, (5000,))
    assert r.dtype == cr.int64 and set(np.unique(r.numpy())) == {3, 4, 5, 6}
    assert sorted(cr.randperm(6).tolist()) == list(range(6))


def test_attributes():
    t = cr.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.size() == cr.Size([2, 3, 4]) and t.size(-1) == 4
    assert t.dim() == t.ndim == 3 and t.numel() == 24 and t.dtype == cr.float32
    assert repr(t.shape) == "chainrule.Size([2, 3, 4])"
    assert cr.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert cr.tensor(2.5).item() == 2.5
    with pytest.raises(IndexError, match="Dimension out of range"):
        t.size(3)


REPR_CASES = [
    lambda m: m.tensor([1.5, 2.0]),
    lambda m: m.tensor([1.0, 2.0], requires_grad=True),
    lambda m: m.tensor(3.0),
    lambda m: m.tensor(3.25),
    lambda m: m.tensor([[1e-5, 3e4]]),
    lambda m: m.tensor([1, 2], dtype=m.int32),
    lambda m: m.tensor([1.0, 2.0], dtype=m.float64),
    lambda m: m.tensor([-1, 20, 300]),
    lambda m: m.tensor([True, False]),
    lambda m: m.tensor([[1.0, -2.5], [3.0, 4.0]]),
    lambda m: m.arange(24.0).reshape(2, 3, 4),
    lambda m: m.tensor([float("inf"), float("nan"), -1.5]),
    lambda m: m.tensor([0.0, float("nan")]),
    lambda m: m.tensor([float("inf"), -float("inf")]),
    lambda m: m.tensor([-0.0, 1.0, float("nan")]),
    lambda m: m.tensor([100.0, -float("inf"), 0.0]),
    lambda m: m.tensor([[1e-5, float("nan")], [0.0, 3e5]]),
    lambda m: m.zeros(0),
    lambda m: m.zeros(0, 3),
    lambda m: m.arange(2000.0),
    lambda m: m.arange(40.0) / 7,
    lambda m: m.tensor([1e10, 1.0]),
    lambda m: m.tensor([0.0, 0.0]),
    lambda m: m.tensor([2.0], requires_grad=True) * 3,
    # complex: real parts padded to one width, imaginary parts with their sign and a j
    lambda m: m.tensor(np.array([0.3 + 0.4j, -0.5 + 0.2j])),
    lambda m: m.tensor(np.array([1 + 2j, 3.5 - 1j], np.complex64)),
    lambda m: m.tensor(np.array([1j])),
    lambda m: m.tensor(np.array([[1e-5 + 1j, 2e3 - 0j], [complex("nan+1j"), 1 - np.inf * 1j]])),
    lambda m: m.tensor(np.array(2 - 3j)),
    lambda m: m.tensor(np.arange(30).reshape(3, 10) * (1 + 1j) / 3),
    lambda m: m.tensor(np.array([-0.0 - 0.0j, 0.0 + 0.0j]), requires_grad=True),
]


@pytest.mark.parametrize("k", range(len(REPR_CASES)))
def test_repr_matches_torch(k):
    ours = repr(REPR_CASES[k](cr))
    theirs = repr(REPR_CASES[k](torch)).replace("torch.", "chainrule.")
    assert ours == theirs


FORMAT_CASES = [
    (lambda m: m.tensor(1.5), ".4f"),
    (lambda m: m.tensor(-2.25), "+.2f"),
    (lambda m: m.tensor(3), "d"),
    (lambda m: m.tensor(3), ">5"),
    (lambda m: m.tensor(1.5, requires_grad=True) * 2, ".3e"),
    (lambda m: m.tensor(True), ""),
    (lambda m: m.tensor(0.1), ""),
    (lambda m: m.ones(2), ""),
    (lambda m: m.ones(2), ".2f"),  # n-d with a spec: TypeError in both
    (lambda m: m.ones(1), ".2f"),
    (lambda m: m.nn.Parameter(m.tensor(2.0)), ""),  # not a plain Tensor: object's format
]


@pytest.mark.parametrize("k", range(len(FORMAT_CASES)))
def test_format_matches_torch(k):
    make, spec = FORMAT_CASES[k]
    outcomes = []
    for m in (torch, cr):
        try:
            outcomes.append(format(make(m), spec).replace("torch.", "chainrule."))
        except TypeError as e:
            outcomes.append(("TypeError", str(e)))
    assert outcomes[1] == outcomes[0]


def test_devices_port_from_torch():
    assert not cr.cuda.is_available() and cr.cuda.device_count() == 0
    d = cr.device("cuda" if cr.cuda.is_available() else "cpu")
    assert repr(d) == repr(torch.device("cpu")) and str(d) == "cpu" and d == "cpu"
    x = cr.ones(2)
    assert x.device == d and x.to(d) is x and x.cpu() is x and not x.is_cuda
    assert repr(cr.device("cuda:1")) == repr(torch.device("cuda:1"))
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        x.cuda()
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        cr.device("tpu")


def test_inference_mode_like_no_grad():
    x = cr.ones(2, requires_grad=True)
    with cr.inference_mode():
        assert cr.is_inference_mode_enabled() and not (x * 2).requires_grad
    with cr.inference_mode(False):
        assert (x * 2).requires_grad
    assert not cr.is_inference_mode_enabled()
