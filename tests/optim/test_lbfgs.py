"""LBFGS against torch: the same closure-driven problem (parameters of several shapes, a
non-quadratic loss) stepped in both, for each option (fixed step and strong-Wolfe line search,
short histories, tolerances that stop early, max_eval); parameters, returned losses and the
whole state (torch's keys, types and shapes) compared after every step; state_dict round trips
mid-run, complex parameters, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

torch.set_num_threads(1)

TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=2e-4, atol=2e-5)}
# state entries include dot products with cancellation (al, ro): BLAS sums in its own order
STATE_TOL = {"float64": dict(rtol=1e-8, atol=1e-10), "float32": dict(rtol=1e-3, atol=1e-4)}
SHAPES = [(4,), (2, 3), ()]

CASES = [
    dict(),
    dict(lr=0.5, max_iter=5),
    dict(history_size=3),
    dict(max_iter=7, max_eval=9, history_size=2),
    dict(tolerance_change=1e-3),
    dict(tolerance_grad=1e-2, max_iter=50),
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=2, max_iter=10),
    dict(line_search_fn="strong_wolfe", lr=0.3, max_iter=4, max_eval=6),
    dict(line_search_fn="strong_wolfe", tolerance_change=1e-4, max_iter=40),
]


def case_id(kwargs) -> str:
    return ",".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults"


def make(lib, dtype: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [lib.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in SHAPES]


def loss_of(lib, params, rosenbrock: bool = False):
    """Weighted quartics in a and b and a coupling through c (or Rosenbrock along a: badly
    conditioned, where rounding differences grow)."""
    a, b, c = params
    dtype = str(b.dtype).split(".")[1]
    target = lib.tensor(np.arange(6.0).reshape(2, 3).astype(dtype))
    weight = lib.tensor(np.arange(1.0, 5.0).astype(dtype))
    if rosenbrock:
        first = (100 * (a[1:] - a[:-1] ** 2) ** 2 + (1 - a[:-1]) ** 2).sum()
    else:
        first = ((a - 1) ** 2 * weight).sum() + 0.1 * (a**4).sum()
    quartic = ((b - target / 3) ** 2).sum() + 0.1 * (b**4).sum()
    return first + quartic + (c - 2) ** 2 + 0.1 * (c * a.sum()) ** 2


def closure_for(lib, params, opt, calls, rosenbrock=False):
    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = loss_of(lib, params, rosenbrock)
        loss.backward()
        return loss

    return closure


def assert_same_state(state, ref_state, dtype: str) -> None:
    """torch's keys in torch's order, the same Python types (float, int, tensor, list of
    tensors or None), the same shapes and close values."""
    assert list(state) == list(ref_state)
    for key, ref_value in ref_state.items():
        value = state[key]
        if isinstance(ref_value, list):
            assert isinstance(value, list) and len(value) == len(ref_value), key
            for v, r in zip(value, ref_value):
                assert_same_value(v, r, dtype, key)
        else:
            assert_same_value(value, ref_value, dtype, key)


def assert_same_value(value, ref_value, dtype: str, key) -> None:
    if ref_value is None:
        assert value is None, key
    elif isinstance(ref_value, torch.Tensor):
        assert isinstance(value, cr.Tensor), key
        assert value.shape == tuple(ref_value.shape), key
        assert str(value.dtype).split(".")[1] == str(ref_value.dtype).split(".")[1], key
        np.testing.assert_allclose(
            value.numpy(), ref_value.numpy(), **STATE_TOL[dtype], err_msg=key
        )
    else:
        assert type(value) is type(ref_value), (key, value, ref_value)
        np.testing.assert_allclose(value, ref_value, **STATE_TOL[dtype], err_msg=str(key))


def run(ours, theirs, opt, ref, steps: int, dtype: str, rosenbrock: bool = False):
    calls, ref_calls = [], []
    for step in range(steps):
        loss = opt.step(closure_for(cr, ours, opt, calls, rosenbrock))
        ref_loss = ref.step(closure_for(torch, theirs, ref, ref_calls, rosenbrock))
        assert len(calls) == len(ref_calls), step  # the same number of evaluations
        np.testing.assert_allclose(loss.item(), ref_loss.item(), **TOL[dtype])
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(
                p.detach().numpy(), q.detach().numpy(), **TOL[dtype], err_msg=f"step {step}"
            )
        assert_same_state(opt.state[ours[0]], ref.state[theirs[0]], dtype)


@pytest.mark.parametrize("kwargs", CASES, ids=case_id)
def test_steps_equal_torch(kwargs):
    ours, theirs = make(cr, "float64"), make(torch, "float64")
    opt, ref = cr.optim.LBFGS(ours, **kwargs), torch.optim.LBFGS(theirs, **kwargs)
    assert opt.defaults == ref.defaults and repr(opt) == repr(ref)
    run(ours, theirs, opt, ref, 4, "float64")


@pytest.mark.parametrize(
    "kwargs",
    [dict(max_iter=4), dict(max_iter=4, history_size=2, lr=0.5),
     dict(max_iter=4, line_search_fn="strong_wolfe")],
    ids=case_id,
)  # fmt: skip
def test_float32_steps_equal_torch(kwargs):
    """In float32, a few iterations: near the optimum the losses' own rounding (each
    library sums in its own order) decides the stopping tests."""
    ours, theirs = make(cr, "float32"), make(torch, "float32")
    opt, ref = cr.optim.LBFGS(ours, **kwargs), torch.optim.LBFGS(theirs, **kwargs)
    run(ours, theirs, opt, ref, 2, "float32")


@pytest.mark.parametrize("kwargs", [CASES[0], CASES[6]], ids=case_id)
def test_rosenbrock_equals_torch(kwargs):
    """A badly conditioned problem (Rosenbrock): differences in the last bits grow over the
    iterations, so closeness is looser, but every branch is taken as torch takes it."""
    ours, theirs = make(cr, "float64"), make(torch, "float64")
    opt, ref = cr.optim.LBFGS(ours, **kwargs), torch.optim.LBFGS(theirs, **kwargs)
    calls, ref_calls = [], []
    for _ in range(3):
        opt.step(closure_for(cr, ours, opt, calls, rosenbrock=True))
        ref.step(closure_for(torch, theirs, ref, ref_calls, rosenbrock=True))
        assert len(calls) == len(ref_calls)
        assert opt.state[ours[0]]["n_iter"] == ref.state[theirs[0]]["n_iter"]
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("kwargs", [CASES[2], CASES[7]], ids=case_id)
def test_state_dict_round_trip_mid_run(kwargs):
    """state_dict of both after two steps: the same layout; a fresh chainrule LBFGS loaded from
    torch's state_dict (tensors converted) continues torch's run."""
    ours, theirs = make(cr, "float64"), make(torch, "float64")
    opt, ref = cr.optim.LBFGS(ours, **kwargs), torch.optim.LBFGS(theirs, **kwargs)
    run(ours, theirs, opt, ref, 2, "float64")
    sd, ref_sd = opt.state_dict(), ref.state_dict()
    assert sd["param_groups"] == ref_sd["param_groups"]
    assert list(sd["state"]) == list(ref_sd["state"]) == [0]
    assert_same_state(sd["state"][0], ref_sd["state"][0], "float64")

    def convert(v):
        if isinstance(v, torch.Tensor):
            return cr.tensor(v.numpy().copy())
        if isinstance(v, list):
            return [convert(x) for x in v]
        return v

    taken = [cr.tensor(q.detach().numpy().copy(), requires_grad=True) for q in theirs]
    opt2 = cr.optim.LBFGS(taken, **kwargs)
    opt2.load_state_dict(
        {
            "state": {0: {k: convert(v) for k, v in ref_sd["state"][0].items()}},
            "param_groups": [dict(g) for g in ref_sd["param_groups"]],
        }
    )
    run(taken, theirs, opt2, ref, 2, "float64")


def test_complex_parameters_are_optimized_as_real_pairs():
    rng = np.random.default_rng(1)
    z0 = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    target = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    results = []
    for lib in (cr, torch):
        z = lib.tensor(z0.copy(), requires_grad=True)
        opt = lib.optim.LBFGS([z], line_search_fn="strong_wolfe", max_iter=5)

        def closure(lib=lib, z=z, opt=opt):
            opt.zero_grad()
            dist = (z - lib.tensor(target)).abs()
            loss = (dist**2).sum() + 0.1 * (dist**4).sum() + 0.3 * (z.abs() ** 3).sum()
            loss.backward()
            return loss

        for _ in range(2):
            opt.step(closure)
        results.append((z.detach().numpy(), opt.state[z]["d"].numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-8, atol=1e-12)


def test_a_parameter_without_gradient_counts_as_zero_and_versions_move_as_torchs():
    out = []
    for lib in (cr, torch):
        a, b = lib.ones(2, requires_grad=True), lib.ones(3, requires_grad=True)
        opt = lib.optim.LBFGS([a, b], max_iter=3)

        def closure(a=a, opt=opt):
            opt.zero_grad()
            loss = ((a - 3) ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        out.append((a.detach().numpy(), b.detach().numpy(), a._version, b._version))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-6)
    assert out[0][2:] == out[1][2:]
    assert out[0][1].tolist() == [1.0, 1.0, 1.0]


def test_an_optimal_start_returns_after_one_evaluation():
    for lib in (cr, torch):
        p = lib.zeros(2, requires_grad=True)
        opt = lib.optim.LBFGS([p])
        calls = []
        loss = opt.step(closure_for_quadratic(lib, p, opt, calls))
        assert loss.item() == 0 and len(calls) == 1
        assert opt.state[p] == {"func_evals": 1, "n_iter": 0}


def closure_for_quadratic(lib, p, opt, calls):
    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    return closure


def test_the_closure_runs_with_grad_mode_on():
    p = cr.ones(2, requires_grad=True)
    opt = cr.optim.LBFGS([p], max_iter=2)
    modes = []

    def closure():
        modes.append(cr.is_grad_enabled())
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    with cr.no_grad():
        opt.step(closure)
    assert modes and all(modes)


def same_error(build):
    with pytest.raises(Exception) as ref:
        build(torch)
    with pytest.raises(type(ref.value)) as got:
        build(cr)
    assert str(got.value) == str(ref.value)


def test_errors_match_torch():
    same_error(lambda m: m.optim.LBFGS([m.ones(2, requires_grad=True)], lr=-1))
    same_error(lambda m: m.optim.LBFGS([m.ones(2, requires_grad=True)], lr=m.ones(2)))
    same_error(
        lambda m: m.optim.LBFGS(
            [
                {"params": [m.ones(2, requires_grad=True)]},
                {"params": [m.ones(1, requires_grad=True)]},
            ]
        )
    )

    def unknown_line_search(m):
        p = m.ones(2, requires_grad=True)
        opt = m.optim.LBFGS([p], line_search_fn="backtracking")
        opt.step(closure_for_quadratic(m, p, opt, []))

    same_error(unknown_line_search)

    def added_group(m):
        opt = m.optim.LBFGS([m.ones(2, requires_grad=True)])
        opt.add_param_group({"params": [m.ones(1, requires_grad=True)]})
        opt.step(lambda: 0.0)

    same_error(added_group)
