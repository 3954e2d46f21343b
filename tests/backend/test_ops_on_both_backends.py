"""The ops that call kernels, through the tensor API, on each backend: forward values and
gradients against torch on the same inputs, and the double backward (create_graph) that
the fused backward nodes keep."""

import numpy as np
import pytest
import torch

import chainrule as cr

DTYPES = [np.float32, np.float64]


def _pair(shape, dtype, seed=0):
    a = (np.random.default_rng(seed).standard_normal(shape) * 2).astype(dtype)
    return cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


OPS = {
    "gelu": lambda lib, x: lib.nn.functional.gelu(x),
    "gelu_tanh": lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh"),
    "silu": lambda lib, x: lib.nn.functional.silu(x),
    "sigmoid": lambda lib, x: lib.sigmoid(x),
    "tanh": lambda lib, x: lib.tanh(x),
    "relu": lambda lib, x: lib.relu(x),
    "relu_module": lambda lib, x: lib.nn.ReLU()(x * 1),
    "softmax": lambda lib, x: lib.softmax(x, -1),
    "softmax_dim0": lambda lib, x: lib.softmax(x, 0),
    "log_softmax": lambda lib, x: lib.log_softmax(x, -1),
    "log_softmax_t": lambda lib, x: lib.log_softmax(x.transpose(0, 1), -1),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_op_and_gradients_match_torch(backend_name, name, dtype):
    f = OPS[name]
    (xc, xt), (gc, gt) = _pair((24, 40), dtype), _pair((24, 40), dtype, seed=1)
    if name == "log_softmax_t":
        gc, gt = _pair((40, 24), dtype, seed=1)
    yc, yt = f(cr, xc), f(torch, xt)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), **tol)
    (dc,) = cr.autograd.grad(yc, xc, gc.detach(), create_graph=True)
    (dt,) = torch.autograd.grad(yt, xt, gt.detach(), create_graph=True)
    np.testing.assert_allclose(dc.detach().numpy(), dt.detach().numpy(), **tol)
    # second order: d/dx of <d, h> (float32: torch rounds 1 - y*y and the like its own way)
    hc, ht = _pair((24, 40), dtype, seed=2)
    (ddc,) = cr.autograd.grad((dc * hc.detach()).sum(), xc)
    (ddt,) = torch.autograd.grad((dt * ht.detach()).sum(), xt)
    tol2 = dict(rtol=1e-4, atol=1e-3) if dtype == np.float32 else tol
    np.testing.assert_allclose(ddc.numpy(), ddt.numpy(), **tol2)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_backward_reads_the_input_values_now(backend_name, approximate):
    """torch recomputes gelu' from the saved input: a write through .data before backward
    changes the gradient (the op must not cache its forward's intermediate)."""
    xc, xt = _pair((50,), np.float32)
    yc, yt = (
        cr.nn.functional.gelu(xc, approximate=approximate),
        torch.nn.functional.gelu(xt, approximate=approximate),
    )
    xc.data.mul_(0.5)
    xt.data.mul_(0.5)
    yc.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def _grads_match(fn, arrays, dtype, seed=7, second_order=True):
    """fn(lib, *tensors) -> tensor; first (and second) order gradients of every input."""
    cs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    yc, yt = fn(cr, *cs), fn(torch, *ts)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), **tol)
    g = np.random.default_rng(seed).standard_normal(yt.shape).astype(dtype)
    dc = cr.autograd.grad(yc, cs, cr.tensor(g), create_graph=second_order)
    dt = torch.autograd.grad(yt, ts, torch.tensor(g), create_graph=second_order)
    for a, b in zip(dc, dt):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)
    if second_order:
        sc = sum((d * d).sum() for d in dc)
        st = sum((d * d).sum() for d in dt)
        gc = cr.autograd.grad(sc, cs, allow_unused=True)
        gt = torch.autograd.grad(st, ts, allow_unused=True)
        for a, b in zip(gc, gt):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a.numpy(), b.numpy(), **dict(tol, atol=1e-3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trailing", [1, 2])
def test_layer_norm(backend_name, dtype, trailing):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 10)).astype(dtype)
    shape = x.shape[3 - trailing :]
    w, b = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    _grads_match(lambda lib, x, w, b: lib.nn.functional.layer_norm(x, shape, w, b), [x, w, b],
                 dtype)  # fmt: skip
    # the plain backward (no graph of the gradient), through a module
    lc, lt = cr.nn.LayerNorm(shape), torch.nn.LayerNorm(shape)
    if dtype == np.float64:
        lc, lt = lc.double(), lt.double()
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (lc(xc) ** 2).sum().backward()
    (lt(xt) ** 2).sum().backward()
    tol = dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), **tol)
    np.testing.assert_allclose(lc.weight.grad.numpy(), lt.weight.grad.numpy(), **tol)
    np.testing.assert_allclose(lc.bias.grad.numpy(), lt.bias.grad.numpy(), **tol)


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_backward(backend_name, padding_idx):
    w = np.random.default_rng(0).standard_normal((9, 5)).astype(np.float32)
    idx = np.array([[1, 2, 2, 8], [0, 1, 2, 1]])
    ec = cr.nn.Embedding(9, 5, padding_idx=padding_idx)
    et = torch.nn.Embedding(9, 5, padding_idx=padding_idx)
    with cr.no_grad():
        ec.weight.copy_(cr.tensor(w))
    with torch.no_grad():
        et.weight.copy_(torch.tensor(w))
    g = np.random.default_rng(1).standard_normal((2, 4, 5)).astype(np.float32)
    ec(cr.tensor(idx)).backward(cr.tensor(g))
    et(torch.tensor(idx)).backward(torch.tensor(g))
    np.testing.assert_allclose(ec.weight.grad.numpy(), et.weight.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_and_max_pool(backend_name, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)

    def f(lib, x, w):
        y = lib.nn.functional.conv2d(x, w, padding=1, stride=(1, 2))
        return lib.nn.functional.max_pool2d(y, 3, stride=2, padding=1, ceil_mode=True)

    _grads_match(f, [x, w], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kw",
    [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
     dict(kernel_size=(3, 2), stride=(2, 1), padding=1, count_include_pad=False),
     dict(kernel_size=2, stride=1, divisor_override=3)],
)  # fmt: skip
def test_avg_pool(backend_name, dtype, kw):
    x = np.random.default_rng(3).standard_normal((2, 3, 9, 8)).astype(dtype)
    # (of x * x: the second order then runs the backward's backward, avg_pool again)
    _grads_match(lambda lib, x: lib.nn.functional.avg_pool2d(x * x, **kw), [x], dtype)


CONVS = {  # groups > 1 run through the same im2col/col2im kernels, one GEMM per group
    "groups": ((2, 4, 9, 8), (6, 2, 3, 3), dict(groups=2, padding=1, bias=True)),
    "depthwise": ((2, 3, 9, 8), (3, 1, 3, 3), dict(groups=3, stride=2, padding=1)),
    "depthwise-multiplier": ((2, 3, 8, 7), (6, 1, 2, 3), dict(groups=3, dilation=(2, 1))),
    "groups-1d": ((2, 4, 11), (4, 2, 3), dict(groups=2, padding=2, bias=True)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CONVS))
def test_grouped_conv(backend_name, dtype, name):
    x_shape, w_shape, kw = CONVS[name]
    kw = dict(kw)
    rng = np.random.default_rng(1)
    arrays = [
        rng.standard_normal(x_shape).astype(dtype),
        rng.standard_normal(w_shape).astype(dtype),
    ]
    if kw.pop("bias", False):
        arrays.append(rng.standard_normal(w_shape[0]).astype(dtype))
    conv = "conv1d" if len(x_shape) == 3 else "conv2d"

    def f(lib, x, w, b=None):
        return getattr(lib.nn.functional, conv)(x, w, b, **kw)

    _grads_match(f, arrays, dtype)


@pytest.mark.parametrize("retain", [False, True])
def test_conv_weight_gradient_reads_the_input_values_now(backend_name, retain):
    """torch's weight gradient reads the saved input at backward: a write through ``.data``
    (no version change) before backward changes it, so the columns the forward kept for it
    must not be used then (nor in a second backward after such a write)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    grads = []
    for lib in (cr, torch):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        h = xt * 1  # the saved input: a non-leaf
        y = lib.nn.functional.conv2d(h, wt, padding=1)
        if retain:
            y.sum().backward(retain_graph=True)
            wt.grad = None
        h.data.mul_(-2.0)
        y.sum().backward()
        grads.append(wt.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-5)
    assert not np.allclose(grads[0], -grads[0])  # the write did change the gradient


def test_conv_with_bias_is_one_node(backend_name):
    """torch's conv2d with a bias is one ConvolutionBackward0 (the bias added in its kernel)."""
    x = cr.tensor(np.ones((1, 2, 4, 4), np.float32), requires_grad=True)
    w = cr.tensor(np.ones((3, 2, 3, 3), np.float32), requires_grad=True)
    b = cr.tensor(np.ones(3, np.float32), requires_grad=True)
    y = cr.nn.functional.conv2d(x, w, b)
    assert y.grad_fn.name() == "ConvolutionBackward0"
    assert len(y.grad_fn.next_functions) == 3
    assert y.is_contiguous()


HESSIANS = {
    "tanh": lambda lib: lambda x: (x.tanh() ** 2).sum(),
    "layer_norm": lambda lib: lambda x: (lib.nn.functional.layer_norm(x, (4,)) ** 3).sum(),
    "embedding": lambda lib: (
        lambda w: (lib.nn.functional.embedding(lib.tensor([[0, 2], [2, 1]]), w) ** 3).sum()
    ),
}


@pytest.mark.parametrize("name", sorted(HESSIANS))
def test_forward_over_reverse_through_the_fast_backwards(backend_name, name):
    """hessian (jacfwd of jacrev) carries tangents through each plain backward that a
    kernel computes: those must record when a dual level is open (not only in grad mode)."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    hc = cr.func.hessian(HESSIANS[name](cr))(cr.tensor(x))
    ht = torch.func.hessian(HESSIANS[name](torch))(torch.tensor(x))
    # (hessian of layer_norm comes back requiring grad, as before this layer: detached here)
    np.testing.assert_allclose(hc.detach().numpy(), ht.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_grad", [True, False])
@pytest.mark.parametrize("lead", [(33,), (3, 11), (2, 1, 5)])
def test_linear_relu_plain_backward_is_the_recorded_ones_bits(
    backend_name, dtype, bias, x_grad, lead
):
    """Linear's and relu's plain backward (NumPy and the kernel, nothing recorded) give the
    bits of the rules' recorded ops (create_graph), and torch's values; an input of more
    than two dims is folded to one matmul as the recorded rule folds it."""
    rng = np.random.default_rng(3)
    xa, wa = rng.standard_normal((*lead, 40)), rng.standard_normal((24, 40))
    xa.reshape(-1, 40)[0, :3] = [np.nan, np.inf, -0.0]
    xa, wa, ba = xa.astype(dtype), wa.astype(dtype), rng.standard_normal(24).astype(dtype)
    ga = rng.standard_normal((*lead, 24)).astype(dtype)
    grads = []
    for create_graph in (False, True):
        x = cr.tensor(xa, requires_grad=x_grad)
        w, b = cr.tensor(wa, requires_grad=True), cr.tensor(ba, requires_grad=bias)
        y = cr.relu(cr.nn.functional.linear(x, w, b if bias else None))
        leaves = [t for t in (x, w, b) if t.requires_grad]
        grads.append(cr.autograd.grad(y, leaves, cr.tensor(ga), create_graph=create_graph))
    for plain, recorded in zip(*grads):
        assert plain.grad_fn is None
        views = [getattr(t, "_base", None) is not None for t in (plain, recorded)]
        assert views[0] == views[1]  # gW: a view of the product, as torch's
        assert plain.stride() == recorded.stride()
        np.testing.assert_array_equal(plain.numpy(), recorded.detach().numpy())
    x = torch.tensor(xa, requires_grad=x_grad)
    w, b = torch.tensor(wa, requires_grad=True), torch.tensor(ba, requires_grad=bias)
    y = torch.relu(torch.nn.functional.linear(x, w, b if bias else None))
    want = torch.autograd.grad(y, [t for t in (x, w, b) if t.requires_grad], torch.tensor(ga))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for got, ref in zip(grads[0], want):
        np.testing.assert_allclose(got.numpy(), ref.numpy(), **tol)


BATCHED_PRODUCTS = {  # (a, b) shapes, and whether a is attention's transposed view
    "heads": ((2, 3, 5, 4), (2, 3, 4, 6), True),
    "broadcast-a": ((5, 4), (3, 4, 6), False),
    "broadcast-batch": ((1, 3, 5, 4), (2, 1, 4, 6), False),
    "stack": ((4, 5, 4), (4, 4, 6), False),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(BATCHED_PRODUCTS))
def test_batched_matmul_plain_backward_is_the_recorded_ones_bits(backend_name, dtype, case):
    """Matmul's batched rule in a plain backward (K.matmul and the views on arrays, nothing
    recorded) gives the bits, layout and view-ness of the recorded rule (create_graph), and
    torch's values; gradients summed back over broadcast batch dims as the op's."""
    sa, sb, heads = BATCHED_PRODUCTS[case]
    rng = np.random.default_rng(5)
    aa = rng.standard_normal((sa[0], sa[2], sa[1], sa[3]) if heads else sa).astype(dtype)
    ba = rng.standard_normal(sb).astype(dtype)
    grads = []
    for create_graph in (False, True):
        a, b = cr.tensor(aa, requires_grad=True), cr.tensor(ba, requires_grad=True)
        y = (a.transpose(1, 2) if heads else a) @ b
        g = cr.tensor(np.cos(np.arange(y.numel())).reshape(y.shape).astype(dtype))
        grads.append(cr.autograd.grad(y, [a, b], g, create_graph=create_graph))
    for plain, recorded in zip(*grads):
        assert plain.grad_fn is None
        views = [getattr(t, "_base", None) is not None for t in (plain, recorded)]
        assert views[0] == views[1]
        assert plain.stride() == recorded.stride()
        np.testing.assert_array_equal(plain.numpy(), recorded.detach().numpy())
    a, b = torch.tensor(aa, requires_grad=True), torch.tensor(ba, requires_grad=True)
    y = (a.transpose(1, 2) if heads else a) @ b
    want = torch.autograd.grad(y, [a, b], torch.tensor(g.numpy()))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for got, ref in zip(grads[0], want):
        np.testing.assert_allclose(got.numpy(), ref.numpy(), **tol)


LINEAR_LAYOUTS = {
    "rows": lambda x, w: (x, w),
    "x-column-major": lambda x, w: (x.T.copy().T, w),
    "w-column-major": lambda x, w: (x, w.T.copy().T),
    "strided-rows": lambda x, w: (np.repeat(x, 2, axis=0)[::2], w),
    "one-row": lambda x, w: (x[:1], w),
    "deep": lambda x, w: (np.tile(x, 20) / 20, np.tile(w, 20)),  # 800 inner: BLAS blocks
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", sorted(LINEAR_LAYOUTS))
def test_linear_with_bias_forward_matches_torch(backend_name, dtype, layout):
    """Linear's forward with a bias (the native addmm: the bias set into the result, then
    one GEMM adding the product), for the layouts BLAS reads as they are, a strided x
    (NumPy's fallback) and a 3-d x (folded to rows, as torch's addmm on the view): values
    and gradients as torch's."""
    rng = np.random.default_rng(4)
    xa, wa = LINEAR_LAYOUTS[layout](
        rng.standard_normal((50, 40)).astype(dtype), rng.standard_normal((24, 40)).astype(dtype)
    )
    ba, ga = rng.standard_normal(24).astype(dtype), rng.standard_normal((len(xa), 24))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for shape in (xa.shape, (1, *xa.shape)):
        x, w, b = (cr.tensor(a, requires_grad=True) for a in (xa.reshape(shape), wa, ba))
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (xa.reshape(shape), wa, ba))
        y, yt = cr.nn.functional.linear(x, w, b), torch.nn.functional.linear(xt, wt, bt)
        assert y.grad_fn.name() == yt.grad_fn.name()
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), **tol)
        g = ga.reshape(*shape[:-1], 24).astype(dtype)
        got = cr.autograd.grad(y, [x, w, b], cr.tensor(g))
        want = torch.autograd.grad(yt, [xt, wt, bt], torch.tensor(g))
        for a, c in zip(got, want):
            np.testing.assert_allclose(a.numpy(), c.numpy(), **tol)


# at least PER_SAMPLE_L output positions: the forward runs one GEMM per sample straight
# into the NCHW result, and (where C*KH*KW <= positions) the weight gradient sums
# per-sample products instead of one GEMM of gy's (O, N*L) copy
PER_SAMPLE_CONVS = {
    "padded-bias": ((3, 2, 14, 12), (4, 2, 3, 3), dict(padding=1, bias=True)),
    "stride-dilation": ((2, 3, 30, 20), (5, 3, 3, 3), dict(stride=(2, 1), dilation=(1, 2))),
    "1d-bias": ((2, 3, 200), (4, 3, 5), dict(padding=2, bias=True)),
    "wide-columns": ((2, 40, 16, 16), (3, 40, 3, 3), dict(bias=True)),  # CKK 360 > L 196
    "one-sample": ((1, 1, 28, 28), (6, 1, 5, 5), dict(padding=2, bias=True)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(PER_SAMPLE_CONVS))
def test_conv_per_sample_gemms(backend_name, dtype, name):
    from chainrule.ops.conv import geometry

    x_shape, w_shape, kw = PER_SAMPLE_CONVS[name]
    kw = dict(kw)
    rng = np.random.default_rng(4)
    fan_in = int(np.prod(w_shape[1:]))
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape) / np.sqrt(fan_in)
    arrays = [x.astype(dtype), w.astype(dtype)]
    if kw.pop("bias", False):
        arrays.append(rng.standard_normal(w_shape[0]).astype(dtype))
    conv = "conv1d" if len(x_shape) == 3 else "conv2d"

    def f(lib, x, w, b=None):
        return getattr(lib.nn.functional, conv)(x, w, b, **kw)

    out = f(cr, *[cr.tensor(a) for a in arrays]).shape
    positions = int(np.prod(out[2:]))
    assert positions >= geometry.PER_SAMPLE_L
    _grads_match(f, arrays, dtype)


@pytest.mark.parametrize("create_graph", [False, True])
def test_relu_gradient_after_its_output_is_written_through_data(backend_name, create_graph):
    """torch's threshold_backward masks where the saved output is <= 0: a negative value
    written through ``.data`` masks the gradient (nan passes it); found by the fuzzer."""
    written = np.array([-0.5, 0.0, 2.0, np.nan, -3.0, 1e-30] * 50, np.float32)  # past `small`
    seed = np.linspace(-1.0, 1.0, written.size, dtype=np.float32)
    got = []
    for m in (torch, cr):
        a = m.tensor(np.ones(written.size, np.float32), requires_grad=True)
        y = m.relu(a * 1.0)
        y.data[:] = m.tensor(written)
        (g,) = m.autograd.grad(y, [a], m.tensor(seed), create_graph=create_graph)
        got.append(g.detach().numpy())
    np.testing.assert_array_equal(got[1], got[0])
