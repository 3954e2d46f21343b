"""The ops that call the loss, normalization, dropout and softplus kernels, through the
tensor API on each backend, against torch on the same inputs: values, gradients, the
double backward (create_graph), torch's node names, nan/inf, and error messages."""

import numpy as np
import pytest
import torch

import chainrule as cr

F, TF = cr.nn.functional, torch.nn.functional
DTYPES = [np.float32, np.float64]


def _tol(dtype, loose=1):
    if dtype == np.float32:
        return dict(rtol=1e-5 * loose, atol=1e-5 * loose)
    return dict(rtol=1e-10 * loose, atol=1e-12 * loose)


def _close(a, b, dtype, loose=1):
    a = a.detach().numpy() if isinstance(a, cr.Tensor) else a
    np.testing.assert_allclose(a, b.detach().numpy(), equal_nan=True, **_tol(dtype, loose))


# ------------------------------------------------------------------------ cross_entropy

CE = [
    (shape, red, ls, weighted, ign)
    for shape in ((37, 10), (6, 9, 5, 4), (4, 7, 3))
    for red in ("mean", "sum", "none")
    for ls in (0.0, 0.2)
    for weighted in (False, True)
    for ign in (-100, 2)
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CE, ids=str)
def test_cross_entropy_first_and_second_order(backend_name, case, dtype):
    shape, red, ls, weighted, ign = case
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    t = rng.integers(0, shape[1], (shape[0], *shape[2:]))
    t.reshape(-1)[:3] = 2  # ignored where ignore_index is 2
    w = (rng.random(shape[1]) + 0.1).astype(dtype)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    kw = dict(reduction=red, label_smoothing=ls, ignore_index=ign)
    lc = F.cross_entropy(xc, cr.tensor(t), cr.tensor(w) if weighted else None, **kw)
    lt = TF.cross_entropy(xt, torch.tensor(t), torch.tensor(w) if weighted else None, **kw)
    if len(shape) == 2:
        assert lc.grad_fn.name() == lt.grad_fn.name()
    _close(lc, lt, dtype)
    g = rng.standard_normal(tuple(lt.shape)).astype(dtype)
    (dc,) = cr.autograd.grad(lc, xc, cr.tensor(g), create_graph=True)
    (dt,) = torch.autograd.grad(lt, xt, torch.tensor(g), create_graph=True)
    _close(dc, dt, dtype)
    h = rng.standard_normal(shape).astype(dtype)
    (hc,) = cr.autograd.grad((dc * cr.tensor(h)).sum(), xc)
    (ht,) = torch.autograd.grad((dt * torch.tensor(h)).sum(), xt)
    _close(hc, ht, dtype, loose=10)
    # the plain backward (the one-pass kernel)
    lc = F.cross_entropy(xc, cr.tensor(t), cr.tensor(w) if weighted else None, **kw)
    lc.backward(cr.tensor(g))
    _close(xc.grad, dt, dtype)


def test_cross_entropy_gradient_of_the_upstream_gradient(backend_name):
    """Double backward reaches the incoming gradient too (the loss's gradient is linear
    in it), as torch's."""
    x = np.random.default_rng(1).standard_normal((5, 4))
    t = np.array([0, 3, 1, 1, 2])
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gc = cr.tensor(1.5, dtype=cr.float64, requires_grad=True)
    gt = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    lc = F.cross_entropy(xc, cr.tensor(t), label_smoothing=0.1)
    lt = TF.cross_entropy(xt, torch.tensor(t), label_smoothing=0.1)
    (dc,) = cr.autograd.grad(lc, xc, gc, create_graph=True)
    (dt,) = torch.autograd.grad(lt, xt, gt, create_graph=True)
    (a,) = cr.autograd.grad((dc * dc).sum(), gc)
    (b,) = torch.autograd.grad((dt * dt).sum(), gt)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_nan_inf_and_all_ignored(backend_name, dtype):
    x = np.random.default_rng(2).standard_normal((6, 5)).astype(dtype)
    x[0, 1], x[1, 2], x[2, :] = np.nan, np.inf, -np.inf
    t = np.array([1, 2, 3, 0, 4, 4])
    for red in ("none", "sum", "mean"):
        xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        lc, lt = (
            F.cross_entropy(xc, cr.tensor(t), reduction=red),
            TF.cross_entropy(xt, torch.tensor(t), reduction=red),
        )
        _close(lc, lt, dtype)
        lc.sum().backward()
        lt.sum().backward()
        _close(xc.grad, xt.grad, dtype)
    ignored = np.full(6, -100)
    xc, xt = cr.tensor(x[3:], requires_grad=True), torch.tensor(x[3:], requires_grad=True)
    lc, lt = (
        F.cross_entropy(xc, cr.tensor(ignored[3:])),
        TF.cross_entropy(xt, torch.tensor(ignored[3:])),
    )
    assert np.isnan(lc.item()) and np.isnan(lt.item())
    lc.backward()
    lt.backward()
    _close(xc.grad, xt.grad, dtype)


def test_cross_entropy_errors_unchanged(backend_name):
    x = cr.zeros(3, 4, requires_grad=True)
    with pytest.raises(IndexError, match="^Target 7 is out of bounds.$"):
        F.cross_entropy(x, cr.tensor([0, 7, 1]))
    with pytest.raises(IndexError, match="^Target -1 is out of bounds.$"):
        F.cross_entropy(cr.zeros(2, 4, 3), cr.tensor([[0, 1, 2], [3, -1, 0]]))
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        F.cross_entropy(x, cr.tensor([0, 1, 1]), weight=cr.ones(4, dtype=cr.float64))


def test_cross_entropy_saves_what_torch_saves(backend_name):
    """The log-probabilities, not the input (a write into the input changes nothing, as
    in torch); the target is version-checked (torch's NllLossBackward0 saves it)."""
    x = np.random.default_rng(3).standard_normal((4, 5))
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yc, yt = xc * 1, xt * 1
    lc = F.cross_entropy(yc, cr.tensor([0, 1, 2, 3]))
    lt = TF.cross_entropy(yt, torch.tensor([0, 1, 2, 3]))
    with torch.no_grad():
        yt.mul_(3)
    with cr.no_grad():
        yc.mul_(3)
    lc.backward()
    lt.backward()
    _close(xc.grad, xt.grad, np.float64)
    tc, tt = cr.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 2, 3])
    lc, lt = F.cross_entropy(xc, tc), TF.cross_entropy(xt, tt)
    tc.add_(0)
    tt.add_(0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        lt.backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        lc.backward()


# --------------------------------------------------------------------------- batch_norm


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(16, 3), (4, 3, 5, 6), (5, 3, 7)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm(backend_name, dtype, shape, training, affine):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    w, b = rng.standard_normal(3).astype(dtype), rng.standard_normal(3).astype(dtype)
    rm, rv = rng.standard_normal(3).astype(dtype), (rng.random(3) + 0.5).astype(dtype)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    pc = [cr.tensor(w, requires_grad=True), cr.tensor(b, requires_grad=True)] if affine else []
    pt = (
        [torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)] if affine else []
    )
    rmc, rvc = cr.tensor(rm.copy()), cr.tensor(rv.copy())
    rmt, rvt = torch.tensor(rm.copy()), torch.tensor(rv.copy())
    yc = F.batch_norm(xc, rmc, rvc, *(pc or [None, None]), training, 0.1, 1e-5)
    yt = TF.batch_norm(xt, rmt, rvt, *(pt or [None, None]), training, 0.1, 1e-5)
    assert yc.grad_fn.name() == yt.grad_fn.name()
    _close(yc, yt, dtype)
    _close(rmc, rmt, dtype)  # the running statistics (the variance unbiased)
    _close(rvc, rvt, dtype)
    g = rng.standard_normal(shape).astype(dtype)
    gc = cr.autograd.grad(yc, [xc, *pc], cr.tensor(g), create_graph=True)
    gt = torch.autograd.grad(yt, [xt, *pt], torch.tensor(g), create_graph=True)
    for a, t in zip(gc, gt):
        _close(a, t, dtype, loose=10)
    if training or affine:  # second order (eval without affine: dx does not depend on x)
        sc, st = sum((a * a).sum() for a in gc), sum((a * a).sum() for a in gt)
        hc = cr.autograd.grad(sc, [xc, *pc], allow_unused=True)
        ht = torch.autograd.grad(st, [xt, *pt], allow_unused=True)
        for a, t in zip(hc, ht):
            if t is not None:
                _close(a, t, dtype, loose=100)
    yc = F.batch_norm(xc, rmc, rvc, *(pc or [None, None]), training, 0.1, 1e-5)
    yc.backward(cr.tensor(g))  # the plain backward: the kernel
    for a, t in zip([xc, *pc], gt):
        _close(a.grad, t, dtype, loose=10)


def test_batch_norm_nan_channel(backend_name):
    x = np.random.default_rng(1).standard_normal((4, 3, 5)).astype(np.float32)
    x[1, 0, 2] = np.nan
    x[2, 1, 1] = np.inf
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yc = F.batch_norm(xc, None, None, training=True)
    yt = TF.batch_norm(xt, None, None, training=True)
    _close(yc, yt, np.float32)
    yc.sum().backward()
    yt.sum().backward()
    _close(xc.grad, xt.grad, np.float32)


# ----------------------------------------------------------------------------- rms_norm


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,ns", [((6, 7), (7,)), ((3, 4, 5), (4, 5)), ((3, 4, 5), (5,))])
@pytest.mark.parametrize("affine", [True, False])
def test_rms_norm(backend_name, dtype, shape, ns, affine):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[0] = np.nan  # a nan row
    w = rng.standard_normal(ns).astype(dtype)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    pc = [cr.tensor(w, requires_grad=True)] if affine else []
    pt = [torch.tensor(w, requires_grad=True)] if affine else []
    yc = F.rms_norm(xc, ns, *(pc or [None]), eps=1e-6)
    yt = TF.rms_norm(xt, ns, *(pt or [None]), eps=1e-6)
    assert yc.grad_fn.name() == yt.grad_fn.name()
    _close(yc, yt, dtype)
    g = rng.standard_normal(shape).astype(dtype)
    gc = cr.autograd.grad(yc, [xc, *pc], cr.tensor(g), create_graph=True)
    gt = torch.autograd.grad(yt, [xt, *pt], torch.tensor(g), create_graph=True)
    for a, t in zip(gc, gt):
        _close(a, t, dtype, loose=10)
    h = rng.standard_normal(shape).astype(dtype)
    hc = cr.autograd.grad((gc[0] * cr.tensor(h)).sum(), [xc, *pc])
    ht = torch.autograd.grad((gt[0] * torch.tensor(h)).sum(), [xt, *pt])
    for a, t in zip(hc, ht):
        _close(a, t, dtype, loose=100)
    yc = F.rms_norm(xc, ns, *(pc or [None]), eps=1e-6)
    yc.backward(cr.tensor(g))
    for a, t in zip([xc, *pc], gt):
        _close(a.grad, t, dtype, loose=10)


# ------------------------------------------------------------------------------ dropout


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_keeps_the_stream(backend_name, dtype, p):
    """The same numbers for a given seed as the mask drawn with the generator's random()
    (the NumPy path, and chainrule before the kernel), and torch's rule: input * noise,
    the gradient g * noise, a double backward through g."""
    x = cr.randn(31, 17, dtype=dtype, requires_grad=True)
    cr.manual_seed(11)
    y = F.dropout(x, p)
    cr.manual_seed(11)
    keep = cr.default_generator.rng.random((31, 17)) >= p
    mask = np.multiply(keep, 1.0 / (1.0 - p), dtype=x.detach().numpy().dtype)
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy() * mask)
    assert y.grad_fn.name() == "MulBackward0"
    g = cr.randn(31, 17, dtype=dtype, requires_grad=True)
    (d,) = cr.autograd.grad(y, x, g, create_graph=True)
    np.testing.assert_array_equal(d.detach().numpy(), g.detach().numpy() * mask)
    (dd,) = cr.autograd.grad(d.sum(), g)
    np.testing.assert_array_equal(dd.numpy(), np.broadcast_to(mask, (31, 17)))
    cr.manual_seed(11)
    F.dropout(x, p).backward(g.detach())  # the plain backward: the kernel
    np.testing.assert_array_equal(x.grad.numpy(), g.detach().numpy() * mask)


def test_dropout_values_and_specials(backend_name):
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0] * 50, np.float32)
    cr.manual_seed(0)
    y = F.dropout(cr.tensor(x), 0.4).numpy()
    cr.manual_seed(0)
    keep = cr.default_generator.rng.random(x.shape) >= 0.4
    with np.errstate(invalid="ignore"):
        want = x * np.multiply(keep, np.float32(1 / 0.6), dtype=np.float32)
    np.testing.assert_array_equal(y, want)  # nan * 0 is nan, inf * 0 nan, -0 kept
    assert (np.signbit(y) == np.signbit(want)).all()


# ---------------------------------------------------------------------------- softplus


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta,threshold", [(1.0, 20.0), (2.0, 3.0), (0.5, 1.0), (-1.0, 2.0)])
def test_softplus(backend_name, dtype, beta, threshold):
    x = np.array([-30, -1, -0.0, 0, 1, 1.5, 2, 3, 19.9, 20, 21, np.nan, np.inf, -np.inf], dtype)
    g = np.linspace(-2, 2, x.size).astype(dtype)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yc, yt = F.softplus(xc, beta, threshold), TF.softplus(xt, beta, threshold)
    _close(yc, yt, dtype)
    yc.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    _close(xc.grad, xt.grad, dtype)
    zeros = (xc.grad.numpy() == 0) & (xt.grad.numpy() == 0)
    assert (np.signbit(xc.grad.numpy()[zeros]) == np.signbit(xt.grad.numpy()[zeros])).all()


# ------------------------------------------------------------------------ under cr.compile


@pytest.mark.parametrize("layer", ["none", "rms_norm", "batch_norm_eval", "batch_norm_train"])
def test_compiled_step_is_eager_bit_for_bit(backend_name, layer):
    """A compiled training step through the fused nodes (cross_entropy with smoothing and
    ignored targets that change between calls, rms_norm, batch_norm) gives eager's bits:
    the tracer records the same kernels (their plain backwards as ops)."""
    import copy

    cr.manual_seed(0)
    mid = {
        "none": cr.nn.Identity(),
        "rms_norm": cr.nn.RMSNorm(30),
        "batch_norm_eval": cr.nn.BatchNorm1d(30),
        "batch_norm_train": cr.nn.BatchNorm1d(30),
    }[layer]
    model = cr.nn.Sequential(cr.nn.Linear(20, 30), mid, cr.nn.Linear(30, 5))
    if layer == "batch_norm_eval":
        model.eval()
    twin = copy.deepcopy(model)

    def make(m):
        opt = cr.optim.SGD(m.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(m(x), y, label_smoothing=0.1, ignore_index=2)
            loss.backward()
            opt.step()
            return loss

        return step

    compiled, eager = cr.compile(make(model)), make(twin)
    x = cr.randn(16, 20)
    for _ in range(4):
        y = cr.randint(0, 5, (16,))
        a, b = compiled(x, y), eager(x, y)
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        for p, q in zip(model.parameters(), twin.parameters()):
            np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
