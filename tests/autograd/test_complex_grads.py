"""Complex autograd at torch's convention (the conjugate Wirtinger gradient: ``g *
conj(f'(z))`` for an analytic ``f``; a real input gets the real part): gradients, second
order, and the conjugating ops, each against torch on the same inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr

_RNG = np.random.default_rng(7)
Z = _RNG.uniform(0.3, 1.2, (3, 4)) * np.exp(1j * _RNG.uniform(-1.3, 1.3, (3, 4)))
W = _RNG.uniform(0.3, 1.2, (3, 4)) * np.exp(1j * _RNG.uniform(-1.3, 1.3, (3, 4)))
R = _RNG.uniform(-1.0, 1.0, (3, 4))


def _g(shape):
    """A fixed complex gradient of ``shape``."""
    rng = np.random.default_rng(len(shape) * 100 + sum(shape))
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


# (name, f(m, z, w, r)): z, w complex, r real; every one of them requires grad
CASES = {
    "add": lambda m, z, w, r: z + w,
    "sub": lambda m, z, w, r: z - 2 * w,
    "mul": lambda m, z, w, r: z * w,
    "div": lambda m, z, w, r: z / w,
    "real-times-complex": lambda m, z, w, r: r * z,
    "complex-over-real": lambda m, z, w, r: z / (r + 2),
    "pow-int": lambda m, z, w, r: z**3,
    "pow-frac": lambda m, z, w, r: z**2.5,
    "pow-tensor": lambda m, z, w, r: z**w,
    "exp": lambda m, z, w, r: m.exp(z),
    "logaddexp": lambda m, z, w, r: m.logaddexp(z, w * 3),
    "log": lambda m, z, w, r: m.log(z),
    "sin": lambda m, z, w, r: m.sin(z),
    "cos": lambda m, z, w, r: m.cos(z),
    "tan": lambda m, z, w, r: m.tan(z),
    "tanh": lambda m, z, w, r: m.tanh(z),
    "sigmoid": lambda m, z, w, r: m.sigmoid(z),
    "asin": lambda m, z, w, r: m.asin(z),
    "acos": lambda m, z, w, r: m.acos(z),
    "atan": lambda m, z, w, r: m.atan(z),
    "sinh": lambda m, z, w, r: m.sinh(z),
    "cosh": lambda m, z, w, r: m.cosh(z),
    "asinh": lambda m, z, w, r: m.asinh(z),
    "acosh": lambda m, z, w, r: m.acosh(z + 2),
    "atanh": lambda m, z, w, r: m.atanh(z * 0.5),
    "sqrt": lambda m, z, w, r: m.sqrt(z),
    "rsqrt": lambda m, z, w, r: m.rsqrt(z),
    "reciprocal": lambda m, z, w, r: m.reciprocal(z),
    "square": lambda m, z, w, r: m.square(z),
    "neg": lambda m, z, w, r: -z,
    "matmul": lambda m, z, w, r: (z @ w.T) @ w,
    "matmul-real": lambda m, z, w, r: (z @ r.to(m.complex128).T) @ w,
    "sum": lambda m, z, w, r: (z * w).sum(0, keepdim=True) * z,
    "mean": lambda m, z, w, r: (z * w).mean() * w,
    "prod": lambda m, z, w, r: z.prod(1, keepdim=True) * w,
    "cumsum": lambda m, z, w, r: m.cumsum(z * w, 1),
    "views": lambda m, z, w, r: (z.t()[1:3] * w.t()[:2]).reshape(2, 3, 1).expand(2, 3, 4)[0],
    "index": lambda m, z, w, r: z[[0, 2, 2]] * w[1],
    "cat": lambda m, z, w, r: m.cat([z[:1], w[1:]]) * z,
    "where": lambda m, z, w, r: m.where(r > 0, z, w * 2),
    "to-complex": lambda m, z, w, r: r.to(m.complex128) * z,
    "abs": lambda m, z, w, r: z.abs().to(m.complex128) * w,
    "conj": lambda m, z, w, r: m.conj(z) * w,
    "conj-method": lambda m, z, w, r: z.conj() * z,
    "mH": lambda m, z, w, r: z.mH @ w,
    "adjoint": lambda m, z, w, r: m.adjoint(z) @ w,
    "H": lambda m, z, w, r: z.H @ w,
    "sgn": lambda m, z, w, r: m.sgn(z * w),
    "sgn-method": lambda m, z, w, r: (z - w).sgn() * z,
    "view_as_complex": lambda m, z, w, r: m.view_as_complex(m.stack([r, r * 2], -1)) * z,
    "view_as_real": lambda m, z, w, r: m.view_as_complex(m.view_as_real(z * w) * 3),
    "complex": lambda m, z, w, r: m.complex(r, r**2) * z,
    "polar": lambda m, z, w, r: m.polar(r + 2, r * 3) * w + m.polar(z.abs() + 1, m.angle(z * w)),
    "real-imag": lambda m, z, w, r: m.complex((z * w).real, m.imag(z) * r) * w,
}


def _run(m, name, create_graph=False):
    z, w = (m.tensor(a, requires_grad=True) for a in (Z, W))
    r = m.tensor(R, requires_grad=True)
    y = CASES[name](m, z, w, r)
    g = m.tensor(_g(tuple(y.shape)))
    grads = m.autograd.grad(y, [z, w, r], g, allow_unused=True, create_graph=create_graph)
    return y, grads


def _np(t):
    return None if t is None else np.array(t.detach().tolist())


@pytest.mark.parametrize("name", CASES)
def test_complex_gradients_as_torch(name):
    (yt, gt), (yc, gc) = _run(torch, name), _run(cr, name)
    np.testing.assert_allclose(_np(yc), _np(yt), rtol=1e-10, atol=1e-12)
    for a, b in zip(gt, gc, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert str(b.dtype).split(".")[-1] == str(a.dtype).split(".")[-1]
            np.testing.assert_allclose(_np(b), _np(a), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "name",
    ["mul", "div", "exp", "tanh", "matmul", "sqrt", "conj", "mH", "sgn", "view_as_complex",
     "view_as_real", "complex", "polar", "real-imag", "abs"],
)  # fmt: skip
def test_complex_second_order_as_torch(name):
    """The gradient of <gradient, v> (complex v): the conjugations are recorded ops."""
    v = _RNG.standard_normal((3, 4)) + 1j * _RNG.standard_normal((3, 4))
    out = []
    for m in (torch, cr):
        z, w = (m.tensor(a, requires_grad=True) for a in (Z, W))
        r = m.tensor(R, requires_grad=True)
        y = CASES[name](m, z, w, r)
        g = m.tensor(_g(tuple(y.shape)))
        (gz,) = m.autograd.grad(y, [z], g, create_graph=True)
        s = (gz * m.tensor(v)).sum()
        out.append(m.autograd.grad(s, [z, w], m.tensor(0.5 - 1j), allow_unused=True))
    for a, b in zip(*out, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(_np(b), _np(a), rtol=1e-9, atol=1e-12)


def test_complex_times_real_matmul_is_refused_as_torch():
    for m in (torch, cr):
        with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype"):
            m.tensor(Z) @ m.tensor(R.T)


# real results of complex inputs: (name, f(m, z, w) -> a real scalar)
REAL_RESULTS = {
    "var": lambda m, z, w: (m.var(z, 0) * m.tensor([1.0, 2.0, 3.0, 4.0])).sum(),
    "std": lambda m, z, w: m.std(z, 1, correction=0).sum() + z.std(),
    "var_mean": lambda m, z, w: m.var_mean(z, 1)[0].sum() + m.var_mean(z)[1].abs(),
    "vector_norm": lambda m, z, w: m.linalg.vector_norm(z * w),
    "abs-squared": lambda m, z, w: (z.abs() ** 2 * w.abs()).sum(),
    "det": lambda m, z, w: m.linalg.det(z[:, :3] @ w[:, :3].mH).abs(),
    "inv": lambda m, z, w: m.linalg.inv(z[:, :3]).abs().sum(),
    "einsum": lambda m, z, w: m.einsum("ij,kj->ik", z, w).abs().sum(),
    "logsumexp": lambda m, z, w: m.logsumexp(z, 0).abs().sum(),
    "cumprod": lambda m, z, w: m.cumprod(z, 1).abs().sum(),
    "linear": lambda m, z, w: m.nn.functional.linear(z, w).abs().sum(),
    "in-place": lambda m, z, w: (z * 1).mul_(w).exp_().abs().sum(),
    "angle": lambda m, z, w: (m.angle(z * w) * m.tensor([1.0, 2.0, 3.0, 4.0])).sum(),
    "real": lambda m, z, w: (z * w).real.sum() + (z**2).real.prod(),
    "imag": lambda m, z, w: (m.imag(z * w) ** 2).sum(),
    "view_as_real": lambda m, z, w: (m.view_as_real(z / w) ** 3).sum(),
    "sgn-real": lambda m, z, w: m.view_as_real(m.sgn(z) * w).sum(),
}


@pytest.mark.parametrize("name", REAL_RESULTS)
def test_real_results_of_complex_inputs_as_torch(name):
    out = []
    for m in (torch, cr):
        z, w = (m.tensor(a, requires_grad=True) for a in (Z, W))
        y = REAL_RESULTS[name](m, z, w)
        y.backward()
        out.append((y, z.grad, w.grad))
    (yt, *gt), (yc, *gc) = out
    assert str(yc.dtype).split(".")[-1] == str(yt.dtype).split(".")[-1] == "float64"
    np.testing.assert_allclose(yc.item(), yt.item(), rtol=1e-10)
    for a, b in zip(gt, gc, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(_np(b), _np(a), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1])
def test_softmax_refuses_complex_as_torch(fn, dim):
    errors = []
    for m in (torch, cr):
        with pytest.raises(NotImplementedError) as e:
            getattr(m, fn)(m.tensor(Z), dim)
        errors.append(str(e.value))
    assert errors[1] == errors[0]


def test_backward_of_a_real_loss_reaches_complex_leaves():
    grads = []
    for m in (torch, cr):
        z = m.tensor(Z, requires_grad=True)
        loss = (m.exp(z) * m.tensor(W)).abs().sum()
        loss.backward()
        grads.append(_np(z.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10)


@pytest.mark.parametrize("name", ["conj"])
def test_conj_of_a_real_tensor_is_the_tensor(name):
    x = cr.ones(3, requires_grad=True)
    assert getattr(cr, name)(x) is x  # torch returns its input for a non-complex dtype
    z = cr.tensor(Z)
    np.testing.assert_array_equal(getattr(cr, name)(z).numpy(), np.conj(Z))
    y = getattr(cr, name)(cr.tensor(Z, requires_grad=True))
    theirs = getattr(torch, name)(torch.tensor(Z, requires_grad=True))
    assert y.grad_fn.name() == theirs.grad_fn.name()


def test_complex_to_real_cast_warns_and_keeps_the_real_part():
    import chainrule.ops.elementwise.casts as casts

    casts._warned_complex.clear()
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        x = cr.tensor(Z).to(cr.float64)
        cr.tensor(Z).double()
    np.testing.assert_array_equal(x.numpy(), Z.real)
    messages = [str(w.message) for w in got]
    assert messages == ["Casting complex values to real discards the imaginary part"]  # once
    assert got[0].category is UserWarning


# forward mode: the tangent of f(z) along t (torch: f'(z) t for an analytic f; for a real
# result, Re(conj(∂f/∂z) t))
FORWARD = {
    "sin": lambda m, a: m.sin(a),
    "mul": lambda m, a: a * m.tensor(W),
    "div": lambda m, a: m.tensor(W) / a,
    "pow": lambda m, a: a**2.5,
    "matmul": lambda m, a: a @ m.tensor(W).T,
    "sum": lambda m, a: a.sum(0),
    "prod": lambda m, a: a.prod(1),
    "cumprod": lambda m, a: m.cumprod(a, 0),
    "logsumexp": lambda m, a: m.logsumexp(a, 1),
    "det": lambda m, a: m.linalg.det(a[:, :3]),
    "inv": lambda m, a: m.linalg.inv(a[:, :3]),
    "conj": lambda m, a: m.conj(a) * a,
    "abs": lambda m, a: a.abs(),
    "var": lambda m, a: a.var(0),
}


@pytest.mark.parametrize("name", FORWARD)
def test_complex_forward_mode_as_torch(name):
    t = _g(Z.shape)
    out = []
    for m in (torch, cr):
        fa = m.autograd.forward_ad
        with fa.dual_level():
            y = FORWARD[name](m, fa.make_dual(m.tensor(Z), m.tensor(t)))
            out.append(fa.unpack_dual(y).tangent)
    assert str(out[1].dtype).split(".")[-1] == str(out[0].dtype).split(".")[-1]
    np.testing.assert_allclose(_np(out[1]), _np(out[0]), rtol=1e-9, atol=1e-12)


# what torch refuses for complex tensors (no order, no rounding, real special functions):
# the same exception type and text, where NumPy would compute something
REFUSED = {
    "lt": lambda m, a: a < a,
    "le": lambda m, a: a <= 1,
    "gt-reflected": lambda m, a: 0 > a,
    "ge": lambda m, a: m.ge(a, a),
    "max": lambda m, a: a.max(),
    "max-dim": lambda m, a: a.max(0),
    "min": lambda m, a: a.min(),
    "min-dim": lambda m, a: a.min(1),
    "amax": lambda m, a: a.amax(),
    "amin": lambda m, a: a.amin(0),
    "argmax": lambda m, a: a.argmax(),
    "argmin": lambda m, a: a.argmin(1),
    "maximum": lambda m, a: m.maximum(a, a),
    "minimum": lambda m, a: m.minimum(a, a),
    "max-binary": lambda m, a: m.max(a, a),
    "sort": lambda m, a: m.sort(a),
    "argsort": lambda m, a: a.argsort(),
    "msort": lambda m, a: m.msort(a),
    "topk": lambda m, a: m.topk(a, 1),
    "sign": lambda m, a: a.sign(),
    "floor": lambda m, a: a.floor(),
    "ceil": lambda m, a: a.ceil(),
    "trunc": lambda m, a: a.trunc(),
    "frac": lambda m, a: a.frac(),
    "round": lambda m, a: a.round(),
    "round-decimals": lambda m, a: a.round(decimals=1),
    "erf": lambda m, a: m.erf(a),
    "erfinv": lambda m, a: m.erfinv(a),
    "lgamma": lambda m, a: m.lgamma(a),
    "digamma": lambda m, a: m.digamma(a),
    "polygamma-0": lambda m, a: m.polygamma(0, a),
    "polygamma-1": lambda m, a: m.polygamma(1, a),
    "polygamma-2": lambda m, a: m.polygamma(2, a),
    "mvlgamma": lambda m, a: m.mvlgamma(a, 1),
    "xlogy": lambda m, a: m.xlogy(a, a),
    "xlogy-number": lambda m, a: m.xlogy(a, 2.0),
    "mse_loss": lambda m, a: m.nn.functional.mse_loss(a, a),
    "remainder": lambda m, a: a % 2,
    "floor_divide": lambda m, a: a // 2,
    "fmod": lambda m, a: m.fmod(a, 2),
    "clamp": lambda m, a: a.clamp(0, 1),
    "relu": lambda m, a: a.relu(),
    "atan2": lambda m, a: m.atan2(a, a),
    "fmax": lambda m, a: m.fmax(a, a),
    "fmin": lambda m, a: m.fmin(a, a),
}


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("name", REFUSED)
def test_complex_refusals_as_torch(name, dtype):
    errors = []
    for m in (torch, cr):
        with pytest.raises((RuntimeError, NotImplementedError)) as e:
            REFUSED[name](m, m.tensor(Z[:2, :2], dtype=getattr(m, dtype)))
        errors.append((e.type, str(e.value).splitlines()[0]))
    assert errors[1] == errors[0]


def test_complex_logaddexp_special_values_as_torch():
    """NumPy has no complex logaddexp: chainrule's follows torch's on every pair of
    infinite, nan and finite parts (ties of infinite real parts, nan anywhere)."""
    parts = (np.inf, -np.inf, np.nan, 0.0, 2.5, -1.0)
    vals = [complex(x, y) for x in parts for y in (0.0, 1.5, -2.0, np.inf, np.nan)]
    a = np.array([v for v in vals for _ in vals], np.complex128)
    b = np.array([w for _ in vals for w in vals], np.complex128)
    for dt in (np.complex64, np.complex128):
        ours = cr.logaddexp(cr.tensor(a.astype(dt)), cr.tensor(b.astype(dt))).numpy()
        theirs = torch.logaddexp(torch.tensor(a.astype(dt)), torch.tensor(b.astype(dt))).numpy()
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, z, w: m.angle(z * w),
        lambda m, z, w: m.sgn(z * w),
        lambda m, z, w: m.view_as_real(z) * 2,
        lambda m, z, w: m.view_as_complex(m.view_as_real(z).contiguous()) * w,
        lambda m, z, w: (z * w).real + m.imag(z),
        lambda m, z, w: m.polar(z.abs(), m.angle(w)),
        lambda m, z, w: m.complex(z.real, w.imag),
    ],
)
def test_complex_parts_forward_mode_as_torch(fn):
    """Forward-mode tangents of the complex parts against torch's forward AD."""
    tz = _g((3, 4))
    out = []
    for m in (torch, cr):
        fw = m.autograd.forward_ad
        with fw.dual_level():
            z = fw.make_dual(m.tensor(Z), m.tensor(tz))
            y = fn(m, z, m.tensor(W))
            out.append(_np(fw.unpack_dual(y).tangent))
    np.testing.assert_allclose(out[1], out[0], rtol=1e-9, atol=1e-12)
