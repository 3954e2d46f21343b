"""torch.distributions' families against torch: log_prob, cdf/icdf, entropy, moments and
their gradients, kl_divergence pairs, argument validation text, sample shapes; samples
(chainrule's random stream is not torch's) checked in law, and reparameterized gradients
against torch's own gradient kernel or the analytic derivative of an expectation."""

import numpy as np
import pytest
import torch
import torch.distributions as TD

import chainrule as cr
import chainrule.distributions as CD
from chainrule.distributions.gamma import standard_gamma_grad

rng = np.random.default_rng(0)
P2 = rng.uniform(0.1, 0.9, (2, 3))
POS = rng.uniform(0.5, 3.0, (2, 3))
POS2 = rng.uniform(0.5, 3.0, (2, 3))
REAL = rng.normal(size=(2, 3))
SIMPLEX = rng.dirichlet(np.ones(4), size=2)
_B = rng.normal(size=(2, 3, 3))
SPD = _B @ np.swapaxes(_B, -1, -2) + np.eye(3)

# name -> (make(lib, params), params as arrays, values for log_prob)
FAMILIES = {
    "Normal": (lambda D, a, b: D.Normal(a, b), [REAL, POS], rng.normal(size=(2, 3))),
    "Uniform": (lambda D, a, b: D.Uniform(a, a + b), [REAL, POS], REAL + POS * 0.5),
    "Bernoulli-probs": (lambda D, p: D.Bernoulli(probs=p), [P2], (P2 > 0.5) * 1.0),
    "Bernoulli-logits": (lambda D, x: D.Bernoulli(logits=x), [REAL], (REAL > 0) * 1.0),
    "Categorical-probs": (lambda D, p: D.Categorical(probs=p), [SIMPLEX], np.array([3, 0])),
    "Categorical-logits": (lambda D, x: D.Categorical(logits=x), [REAL], np.array([2, 1])),
    "OneHotCategorical": (
        lambda D, p: D.OneHotCategorical(probs=p), [SIMPLEX], np.eye(4)[[1, 2]]),
    "Gamma": (lambda D, a, b: D.Gamma(a, b), [POS, POS2], POS2),
    "Beta": (lambda D, a, b: D.Beta(a, b), [POS, POS2], P2),
    "Dirichlet": (lambda D, a: D.Dirichlet(a), [POS[:, :3] + 0.2], rng.dirichlet(np.ones(3), 2)),
    "MVN-cov": (lambda D, m, c: D.MultivariateNormal(m, covariance_matrix=c),
                [REAL, SPD], rng.normal(size=(2, 3))),
    "MVN-prec": (lambda D, m, c: D.MultivariateNormal(m, precision_matrix=c),
                 [REAL[0], SPD], rng.normal(size=(2, 3))),
    "MVN-tril": (lambda D, m, c: D.MultivariateNormal(m, scale_tril=c),
                 [REAL, np.linalg.cholesky(SPD)], rng.normal(size=(4, 2, 3))),
}  # fmt: skip

QUANTITIES = ["log_prob", "entropy", "mean", "variance", "stddev", "mode", "cdf", "icdf"]


def build(lib, name, grad=True):
    make, params, _ = FAMILIES[name]
    D = TD if lib is torch else CD
    ts = [lib.tensor(p, dtype=lib.float64, requires_grad=grad) for p in params]
    return make(D, *ts), ts


def quantity(d, what, value, lib):
    if what in ("log_prob", "cdf"):
        return getattr(d, what)(
            lib.tensor(value, dtype=lib.float64 if value.dtype.kind == "f" else lib.int64)
        )
    if what == "icdf":
        return d.icdf(lib.tensor(np.clip(P2, 0.05, 0.95), dtype=lib.float64))
    out = getattr(d, what)
    return out() if callable(out) else out


@pytest.mark.parametrize("what", QUANTITIES)
@pytest.mark.parametrize("name", list(FAMILIES))
def test_values_and_gradients_match_torch(name, what):
    value = FAMILIES[name][2]
    td, tparams = build(torch, name)
    cd, cparams = build(cr, name)
    try:
        t = quantity(td, what, value, torch)
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            quantity(cd, what, value, cr)
        return
    c = quantity(cd, what, value, cr)
    assert tuple(c.shape) == tuple(t.shape)
    np.testing.assert_allclose(
        c.detach().numpy(), t.detach().numpy(), rtol=1e-9, atol=1e-12, equal_nan=True
    )
    if t.requires_grad and np.isfinite(t.detach().numpy()).all():
        w = rng.normal(size=tuple(t.shape))
        try:
            (t * torch.tensor(w)).sum().backward()
        except NotImplementedError:  # torch has no derivative (igamma's, for Gamma.cdf)
            return
        (c * cr.tensor(w)).sum().backward()
        for tp, cp in zip(tparams, cparams):
            if tp.grad is not None:
                np.testing.assert_allclose(cp.grad.numpy(), tp.grad.numpy(), rtol=1e-7, atol=1e-10)


KL_PAIRS = ["Normal", "Uniform", "Bernoulli-probs", "Categorical-logits", "OneHotCategorical",
            "Gamma", "Beta", "Dirichlet", "MVN-cov", "MVN-tril"]  # fmt: skip


@pytest.mark.parametrize("name", KL_PAIRS)
def test_kl_divergence_matches_torch(name):
    make, params, _ = FAMILIES[name]
    shifted = [
        np.clip(p[::-1].copy() * 0.9 + 0.05, 0.05, None) if p.min() >= 0 else p[::-1].copy()
        for p in params
    ]
    if name == "Uniform":  # q must cover p: a wider interval
        shifted = [params[0] - 0.5, params[1] + 1.0]
    if "Categorical" in name and params[0].min() >= 0:
        shifted = [s / s.sum(-1, keepdims=True) for s in shifted]
    out = []
    for lib, D in ((torch, TD), (cr, CD)):
        ps = [lib.tensor(p, dtype=lib.float64, requires_grad=True) for p in params]
        qs = [lib.tensor(q, dtype=lib.float64) for q in shifted]
        kl = D.kl_divergence(make(D, *ps), make(D, *qs))
        kl.sum().backward()
        out.append((kl.detach().numpy(), [p.grad.numpy() for p in ps]))
    np.testing.assert_allclose(out[1][0], out[0][0], rtol=1e-9, atol=1e-12)
    for c, t in zip(out[1][1], out[0][1]):
        np.testing.assert_allclose(c, t, rtol=1e-7, atol=1e-10)


def m_zeros(D):
    return (torch if D is TD else cr).zeros(3)


def test_kl_of_an_unregistered_pair_raises_as_torch():
    for D in (TD, CD):
        with pytest.raises(NotImplementedError):
            D.kl_divergence(D.Categorical(logits=m_zeros(D)), D.Normal(0.0, 1.0))


def outcome(fn, lib):
    D = TD if lib is torch else CD
    try:
        r = fn(D, lib)
    except Exception as e:
        return type(e).__name__, str(e).replace("torch.", "chainrule.")
    return repr(r).replace("torch.", "chainrule.")


CALLS = [
    lambda D, m: D.Normal(m.tensor([0.0, float("nan")]), m.ones(2)),
    lambda D, m: D.Normal(m.zeros(2), m.tensor([1.0, -1.0])),
    lambda D, m: D.Normal(0.0, 1.0).log_prob(m.tensor([float("nan")])),
    lambda D, m: D.Normal(m.zeros(2), m.ones(2)).log_prob(m.zeros(3)),
    lambda D, m: D.Bernoulli(probs=0.5, logits=0.0),
    lambda D, m: D.Bernoulli(),
    lambda D, m: D.Bernoulli(probs=m.tensor(0.5)).log_prob(m.tensor(0.3)),
    lambda D, m: D.Bernoulli(probs=m.tensor([1.5])),
    lambda D, m: D.Categorical(probs=m.tensor([0.5, -0.5])),
    lambda D, m: D.Categorical(m.tensor(1.0)),
    lambda D, m: D.Categorical(logits=m.zeros(3)).log_prob(m.tensor(3)),
    lambda D, m: D.Gamma(m.tensor([1.0, 0.0]), 1.0),
    lambda D, m: D.Beta(m.tensor(2.0), m.tensor(3.0)).log_prob(m.tensor(1.5)),
    lambda D, m: D.Dirichlet(m.tensor([1.0, -1.0])),
    lambda D, m: D.Uniform(m.tensor(1.0), m.tensor(0.0)),
    lambda D, m: D.Normal(m.zeros(2), m.ones(2)),
    lambda D, m: D.Normal(0.0, 1.0),
    lambda D, m: D.Bernoulli(logits=m.zeros(3)),
    lambda D, m: D.Gamma(1.0, 2.0),
    lambda D, m: D.Categorical(probs=m.ones(2, 3)),
    lambda D, m: D.Normal(m.zeros(2), 1.0, validate_args=False).log_prob(m.zeros(3)).shape,
    lambda D, m: D.constraints.positive,
    lambda D, m: D.constraints.interval(0, 1),
    lambda D, m: D.constraints.integer_interval(0, 3),
    lambda D, m: D.constraints.simplex,
    lambda D, m: D.constraints.real_vector,
    lambda D, m: D.Normal(m.zeros(2), m.ones(2)).batch_shape,
    lambda D, m: D.Dirichlet(m.ones(2, 3)).event_shape,
    lambda D, m: D.OneHotCategorical(m.ones(3)).event_shape,
    lambda D, m: D.MultivariateNormal(m.zeros(2), m.eye(2), m.eye(2)),
    lambda D, m: D.MultivariateNormal(m.tensor(0.0), m.eye(2)),
    lambda D, m: D.MultivariateNormal(m.zeros(2), scale_tril=m.ones(2)),
    lambda D, m: D.MultivariateNormal(m.zeros(2), m.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda D, m: D.MultivariateNormal(m.zeros(3, 2), m.eye(2)),
    lambda D, m: D.MultivariateNormal(m.zeros(3, 2), scale_tril=m.eye(2)).batch_shape,
]


@pytest.mark.parametrize("k", range(len(CALLS)))
def test_validation_and_reprs_as_torch(k):
    assert outcome(CALLS[k], cr) == outcome(CALLS[k], torch)


SHAPED = [
    lambda D, m: D.Normal(m.zeros(2), m.ones(2)).sample((3, 4)),
    lambda D, m: D.Normal(m.zeros(2), m.ones(2)).rsample(),
    lambda D, m: D.Bernoulli(probs=m.full((2,), 0.3)).sample((5,)),
    lambda D, m: D.Categorical(logits=m.zeros(2, 3)).sample((4,)),
    lambda D, m: D.OneHotCategorical(logits=m.zeros(2, 3)).sample((4,)),
    lambda D, m: D.Gamma(m.ones(3), 2.0).sample((2,)),
    lambda D, m: D.Beta(m.ones(3), 2.0).rsample((2,)),
    lambda D, m: D.Dirichlet(m.ones(2, 3)).sample((5,)),
    lambda D, m: D.Uniform(m.zeros(2), 1.0).sample(),
    lambda D, m: D.Bernoulli(probs=m.full((2,), 0.3)).enumerate_support(),
    lambda D, m: D.Categorical(logits=m.zeros(2, 3)).enumerate_support(),
    lambda D, m: D.MultivariateNormal(m.zeros(4, 2), m.eye(2)).rsample((3,)),
]


@pytest.mark.parametrize("k", range(len(SHAPED)))
def test_sample_shapes_and_dtypes_as_torch(k):
    def sig(lib):
        D = TD if lib is torch else CD
        s = SHAPED[k](D, lib)
        return tuple(s.shape), str(s.dtype).split(".")[-1], s.requires_grad

    assert sig(cr) == sig(torch)


N = 40000


@pytest.mark.parametrize(
    "make",
    [
        lambda D, m: D.Normal(m.tensor([1.0, -2.0]), m.tensor([0.5, 2.0])),
        lambda D, m: D.Bernoulli(probs=m.tensor([0.2, 0.9])),
        lambda D, m: D.Gamma(m.tensor([0.5, 4.0]), m.tensor([2.0, 1.0])),
        lambda D, m: D.Beta(m.tensor([0.7, 3.0]), m.tensor([2.0, 1.5])),
        lambda D, m: D.Uniform(m.tensor([0.0, -1.0]), m.tensor([1.0, 3.0])),
        lambda D, m: D.MultivariateNormal(
            m.tensor([1.0, -1.0]), m.tensor([[2.0, 0.5], [0.5, 1.0]])
        ),
    ],
)
def test_samples_have_the_distributions_mean_and_variance(make):
    cr.manual_seed(1)
    d = make(CD, cr)
    x = d.sample((N,)).numpy()
    mean, var = d.mean.numpy(), d.variance.numpy()
    # 5 standard errors of the mean and (roughly) of the variance
    assert np.all(np.abs(x.mean(0) - mean) < 5 * np.sqrt(var / N))
    assert np.all(np.abs(x.var(0) - var) < 10 * var / np.sqrt(N) + 1e-3)


def test_categorical_frequencies_follow_probs():
    cr.manual_seed(2)
    p = np.array([0.1, 0.6, 0.3])
    x = CD.Categorical(probs=cr.tensor(p)).sample((N,)).numpy()
    assert np.abs(np.bincount(x, minlength=3) / N - p).max() < 0.012


def test_standard_gamma_gradient_matches_torchs_kernel():
    a = np.repeat([0.1, 0.5, 1.0, 2.5, 8.0, 30.0], 7)
    q = np.tile([0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99], 6)
    # quantiles by bisection on torch's own gammainc (torch has no gamma icdf)
    lo, hi = np.full_like(a, 1e-12), np.full_like(a, 200.0)
    for _ in range(200):
        mid = (lo + hi) / 2
        below = torch.special.gammainc(torch.tensor(a), torch.tensor(mid)).numpy() < q
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    x = (lo + hi) / 2
    ours = standard_gamma_grad(a, x)
    theirs = torch._standard_gamma_grad(torch.tensor(a), torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=2e-3)


@pytest.mark.parametrize("family", ["Gamma", "Beta", "Dirichlet"])
def test_rsample_gradient_is_the_derivative_of_the_expectation(family):
    """E[d x/d a] = d E[x]/d a: averaged pathwise gradients of the first coordinate."""
    cr.manual_seed(3)
    a = cr.tensor([1.5, 0.7], dtype=cr.float64, requires_grad=True)
    if family == "Gamma":
        d, exact = CD.Gamma(a, 2.0), np.array([1 / 2, 1 / 2])  # E x = a / rate
        x = d.rsample((N,))
    elif family == "Beta":
        d = CD.Beta(a[0], a[1])
        x = d.rsample((N,))
        s = 1.5 + 0.7
        exact = np.array([0.7 / s**2, -1.5 / s**2])  # E x = a / (a + b)
    else:
        d = CD.Dirichlet(a)
        x = d.rsample((N,))[:, 0]
        s = 1.5 + 0.7
        exact = np.array([0.7 / s**2, -1.5 / s**2])
    (x.sum() / N if family != "Gamma" else x[:, 0].sum() / N + x[:, 1].sum() / N).backward()
    np.testing.assert_allclose(a.grad.numpy(), exact, atol=0.02)
