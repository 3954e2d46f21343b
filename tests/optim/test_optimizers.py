"""Optimizer trajectories against torch: 50 steps of every optimizer and option combination on
the same parameters (0-d to 3-d) fed the same gradients; state_dict parity and round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

torch.set_num_threads(1)

SHAPES = [(), (3,), (2, 3), (4, 1, 2)]
STEPS = 50
TOL = {"float64": dict(rtol=1e-12, atol=1e-14), "float32": dict(rtol=2e-5, atol=2e-6)}

# (optimizer, constructor kwargs, per-group overrides or None for a single group)
CASES = [
    ("SGD", dict(lr=0.1), None),
    ("SGD", dict(lr=0.05, momentum=0.9), None),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5), None),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True), None),
    ("SGD", dict(lr=0.1, weight_decay=0.1), None),
    ("SGD", dict(lr=0.1, maximize=True), None),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.05, nesterov=True, maximize=True), None),
    ("SGD", dict(lr=0.1), [dict(lr=0.01, momentum=0.9), dict(weight_decay=0.2)]),
    ("Adam", dict(lr=0.01), None),
    ("Adam", dict(lr=0.01, amsgrad=True), None),
    ("Adam", dict(lr=0.01, weight_decay=0.1), None),
    ("Adam", dict(lr=0.01, maximize=True), None),
    ("Adam", dict(lr=0.02, betas=(0.3, 0.8), eps=1e-3), None),  # lerp weight >= 0.5
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05, maximize=True), None),
    ("Adam", dict(lr=0.01), [dict(lr=0.1, amsgrad=True), dict(betas=(0.5, 0.9))]),
    ("AdamW", dict(lr=0.01), None),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True), None),
    ("AdamW", dict(lr=0.01, maximize=True), None),
    ("AdamW", dict(lr=0.01), [dict(weight_decay=0.0), dict(lr=0.05, weight_decay=0.3)]),
    ("RMSprop", dict(lr=0.01), None),
    ("RMSprop", dict(lr=0.01, centered=True), None),
    ("RMSprop", dict(lr=0.01, momentum=0.9), None),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1), None),
    ("RMSprop", dict(lr=0.01, alpha=0.3, centered=True), None),  # lerp weight >= 0.5
    ("RMSprop", dict(lr=0.01, maximize=True, eps=1e-4), None),
    ("RMSprop", dict(lr=0.01), [dict(momentum=0.9, centered=True), dict(lr=0.001)]),
    ("Adagrad", dict(lr=0.1), None),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05), None),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5), None),
    ("Adagrad", dict(lr=0.1, maximize=True, eps=1e-3), None),
    ("Adagrad", dict(lr=0.1), [dict(lr=0.5, lr_decay=0.1), dict(weight_decay=0.3)]),
    ("Adadelta", dict(), None),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-3), None),
    ("Adadelta", dict(weight_decay=0.1, maximize=True), None),
    ("Adadelta", dict(foreach=False), [dict(rho=0.99), dict(lr=0.1, weight_decay=0.2)]),
    ("Adamax", dict(), None),
    ("Adamax", dict(lr=0.02, betas=(0.3, 0.8), eps=1e-3), None),
    ("Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True), None),
    ("Adamax", dict(lr=0.01), [dict(betas=(0.5, 0.9)), dict(lr=0.05, weight_decay=0.3)]),
    ("NAdam", dict(), None),
    ("NAdam", dict(lr=0.02, betas=(0.3, 0.8), momentum_decay=0.05), None),
    ("NAdam", dict(lr=0.01, weight_decay=0.1), None),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), None),
    ("NAdam", dict(lr=0.01, maximize=True, eps=1e-3), None),
    ("NAdam", dict(lr=0.01), [dict(momentum_decay=0.0), dict(lr=0.05, weight_decay=0.3)]),
    ("RAdam", dict(), None),
    ("RAdam", dict(lr=0.02, betas=(0.3, 0.8)), None),  # rectified from the 3rd step on
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9)), None),  # rectified from the 6th step on
    ("RAdam", dict(lr=0.01, weight_decay=0.1), None),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), None),
    ("RAdam", dict(lr=0.01, maximize=True, eps=1e-3), None),
    ("RAdam", dict(lr=0.01), [dict(betas=(0.5, 0.6)), dict(lr=0.05, weight_decay=0.3)]),
    ("ASGD", dict(), None),
    ("ASGD", dict(lr=0.05, lambd=0.1, alpha=0.5, t0=10), None),  # averaging from step 11
    ("ASGD", dict(lr=0.05, t0=0, weight_decay=0.1, maximize=True), None),
    ("ASGD", dict(lr=0.05, t0=5), [dict(lambd=0.01), dict(lr=0.1, weight_decay=0.2)]),
    ("Rprop", dict(), None),
    ("Rprop", dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2)), None),
    ("Rprop", dict(lr=0.05, maximize=True), None),
    ("Rprop", dict(lr=0.01), [dict(etas=(0.1, 2.0)), dict(lr=0.1, step_sizes=(0.05, 0.5))]),
    ("Adafactor", dict(), None),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-6, 1e-2), d=1.5), None),
    ("Adafactor", dict(lr=0.05, weight_decay=0.1, maximize=True), None),
    ("Adafactor", dict(lr=0.3, d=1.0), None),  # rho_t = 1 / sqrt(t) from the 12th step on
    ("Adafactor", dict(lr=0.05), [dict(eps=(0.01, 0.1)), dict(lr=0.01, weight_decay=0.2)]),
]


def case_id(case) -> str:
    name, kwargs, groups = case
    opts = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{name}({opts})" + ("+groups" if groups else "")


def make_params(dtype: str, seed: int = 0):
    """The same initial parameters in both libraries (shapes 0-d to 3-d)."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ours = [cr.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    return ours, theirs


def grouped(params, groups):
    """One group of all parameters, or the first two and the rest with per-group options."""
    if groups is None:
        return params
    return [dict(params=params[:2], **groups[0]), dict(params=params[2:], **groups[1])]


def build(case, dtype: str, seed: int = 0):
    name, kwargs, groups = case
    ours, theirs = make_params(dtype, seed)
    opt = getattr(cr.optim, name)(grouped(ours, groups), **kwargs)
    ref = getattr(torch.optim, name)(grouped(theirs, groups), **kwargs)
    return ours, theirs, opt, ref


def feed(ours, theirs, step: int, dtype: str) -> None:
    """The same gradients to both (drawn from a generator seeded by the step number); the last
    parameter gets none every 7th step, so it is skipped."""
    rng = np.random.default_rng((1, step))
    for i, (p, q) in enumerate(zip(ours, theirs)):
        if i == len(ours) - 1 and step % 7 == 3:
            p.grad = q.grad = None
            continue
        g = rng.standard_normal(p.shape).astype(dtype)
        p.grad = cr.tensor(g.copy())
        q.grad = torch.tensor(g.copy())


def run(ours, theirs, opt, ref, steps: int, dtype: str, start: int = 0):
    for step in range(start, start + steps):
        feed(ours, theirs, step, dtype)
        opt.step()
        ref.step()
        assert_params_close(ours, theirs, dtype, step)


def assert_params_close(ours, theirs, dtype: str, step: int | str = "") -> None:
    for i, (p, q) in enumerate(zip(ours, theirs)):
        assert p.dtype == getattr(cr, dtype) and p.shape == tuple(q.shape)
        np.testing.assert_allclose(
            p.detach().numpy(), q.detach().numpy(), **TOL[dtype], err_msg=f"param {i}, step {step}"
        )


def assert_state_close(sd, ref_sd, dtype: str) -> None:
    """state_dict parity: the same groups, the same state keys, close state values."""
    assert sd["param_groups"] == ref_sd["param_groups"]
    assert sd["state"].keys() == ref_sd["state"].keys()
    for idx, state in sd["state"].items():
        ref_state = ref_sd["state"][idx]
        assert list(state) == list(ref_state), idx
        for key, value in state.items():
            ref_value = ref_state[key]
            assert isinstance(value, cr.Tensor) and isinstance(value._data, np.ndarray), key
            assert value.dtype == getattr(cr, str(ref_value.dtype).split(".")[1]), key
            assert value.shape == tuple(ref_value.shape), key
            np.testing.assert_allclose(value.numpy(), ref_value.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_trajectory(case, dtype):
    ours, theirs, opt, ref = build(case, dtype)
    run(ours, theirs, opt, ref, STEPS, dtype)
    assert_state_close(opt.state_dict(), ref.state_dict(), dtype)


COMPLEX_CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1, nesterov=True), None),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05), None),
    ("AdamW", dict(lr=0.01, maximize=True), None),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5), None),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, lr_decay=0.01), None),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1), None),
    ("Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True), None),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), None),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1), None),
    ("ASGD", dict(lr=0.05, t0=10, weight_decay=0.1), None),
    ("Rprop", dict(lr=0.05, maximize=True), None),
]


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("case", COMPLEX_CASES, ids=case_id)
def test_complex_parameters_update_as_real_pairs(case, dtype):
    """torch treats a complex parameter as (real, imag) pairs (view_as_real) in the update."""
    name, kwargs, _ = case
    rng = np.random.default_rng(3)
    arrays = [(rng.standard_normal(s) + 1j * rng.standard_normal(s)).astype(dtype) for s in SHAPES]
    ours = [cr.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    opt = getattr(cr.optim, name)(ours, **kwargs)
    ref = getattr(torch.optim, name)(theirs, **kwargs)
    tol = TOL["float64" if dtype == "complex128" else "float32"]
    for _ in range(STEPS):
        for p, q in zip(ours, theirs):
            g = (rng.standard_normal(p.shape) + 1j * rng.standard_normal(p.shape)).astype(dtype)
            p.grad, q.grad = cr.tensor(g.copy()), torch.tensor(g.copy())
        opt.step()
        ref.step()
    for p, q in zip(ours, theirs):
        assert p.dtype == getattr(cr, dtype)
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **tol)
    for idx, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            expected = ref.state_dict()["state"][idx][key].numpy()
            np.testing.assert_allclose(value.numpy(), expected, **tol, err_msg=key)


def _copy_state_dict(sd, convert):
    """A state_dict with fresh copies of its tensors (what saving and loading produces)."""
    return {
        "state": {i: {k: convert(v) for k, v in s.items()} for i, s in sd["state"].items()},
        "param_groups": [dict(g) for g in sd["param_groups"]],
    }


def torch_round_trip(case, theirs, ref):
    """torch's own optimizer reloaded from its state_dict on copies of its parameters (loading
    casts floating state other than ``step`` to the parameter's dtype: NAdam's mu_product,
    ASGD's eta and mu), so the reference continues as a loaded torch optimizer would."""
    copies = [q.detach().clone().requires_grad_(True) for q in theirs]
    ref2 = getattr(torch.optim, case[0])(grouped(copies, case[2]), **case[1])
    ref2.load_state_dict(_copy_state_dict(ref.state_dict(), lambda t: t.clone()))
    return copies, ref2


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_state_dict_round_trip_continues_the_trajectory(case):
    dtype = "float64"
    ours, theirs, opt, ref = build(case, dtype)
    run(ours, theirs, opt, ref, STEPS // 2, dtype)

    # a fresh chainrule optimizer on copies of the parameters, loaded from our state_dict
    saved = _copy_state_dict(opt.state_dict(), lambda t: cr.tensor(t.numpy().copy()))
    resumed = [cr.tensor(p.detach().numpy().copy(), requires_grad=True) for p in ours]
    opt2 = getattr(cr.optim, case[0])(grouped(resumed, case[2]), **case[1])
    opt2.load_state_dict(saved)
    theirs, ref = torch_round_trip(case, theirs, ref)
    assert_state_close(opt2.state_dict(), ref.state_dict(), dtype)
    run(resumed, theirs, opt2, ref, STEPS - STEPS // 2, dtype, start=STEPS // 2)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_loading_torchs_state_dict_continues_torchs_trajectory(case):
    dtype = "float64"
    ours, theirs, opt, ref = build(case, dtype)
    for step in range(STEPS // 2):  # torch alone first
        feed(ours, theirs, step, dtype)
        ref.step()
    # then chainrule takes over from torch's parameters and optimizer state
    taken = [cr.tensor(q.detach().numpy().copy(), requires_grad=True) for q in theirs]
    opt2 = getattr(cr.optim, case[0])(grouped(taken, case[2]), **case[1])
    opt2.load_state_dict(_copy_state_dict(ref.state_dict(), lambda t: cr.tensor(t.numpy())))
    theirs, ref = torch_round_trip(case, theirs, ref)
    run(taken, theirs, opt2, ref, STEPS - STEPS // 2, dtype, start=STEPS // 2)
    assert_state_close(opt2.state_dict(), ref.state_dict(), dtype)


@pytest.mark.parametrize("name", [c[0] for c in COMPLEX_CASES])
def test_gradients_from_a_loss_and_closure(name):
    """Gradients computed by each library's own backward through a small loss; step(closure)
    re-evaluates the loss with grad mode on and returns it."""
    kwargs = dict(lr=0.05, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.05)
    ours, theirs = make_params("float64")
    rng = np.random.default_rng(2)
    targets = [rng.standard_normal(s) for s in SHAPES]

    def closure_for(lib, params, opt):
        def closure():
            opt.zero_grad()
            loss = sum(
                ((p - lib.tensor(t)) ** 2 * (i + 1)).sum()
                for i, (p, t) in enumerate(zip(params, targets))
            )
            loss.backward()
            return loss

        return closure

    opt = getattr(cr.optim, name)(ours, **kwargs)
    ref = getattr(torch.optim, name)(theirs, **kwargs)
    with cr.no_grad(), torch.no_grad():  # the closure turns grad mode back on
        for _ in range(STEPS):
            loss = opt.step(closure_for(cr, ours, opt))
            ref_loss = ref.step(closure_for(torch, theirs, ref))
            assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-12)
    assert_params_close(ours, theirs, "float64")


def test_params_are_updated_in_place_and_stay_leaves():
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    data = p._data
    p.grad = cr.tensor([0.5, -0.5])
    cr.optim.SGD([p], lr=1.0, momentum=0.9).step()
    assert p._data is data and p.is_leaf and p.requires_grad and p.grad_fn is None
    assert p.tolist() == [0.5, 2.5]


def test_a_parameter_without_grad_gets_no_state():
    p, q = cr.tensor([1.0], requires_grad=True), cr.tensor([2.0], requires_grad=True)
    p.grad = cr.tensor([1.0])
    opt = cr.optim.Adam([p, q])
    opt.step()
    assert q.tolist() == [2.0] and q not in opt.state and p in opt.state
    assert opt.state_dict()["state"].keys() == {0}


def test_sgd_momentum_buffer_starts_as_a_copy_of_the_first_gradient():
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    p.grad = cr.tensor([3.0, 4.0])
    opt = cr.optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    opt.step()
    buf = opt.state[p]["momentum_buffer"]
    assert buf.tolist() == [3.0, 4.0]
    p.grad._data[:] = 0  # the buffer does not alias the gradient
    assert buf.tolist() == [3.0, 4.0]


def test_adagrad_state_exists_before_the_first_step():
    p = cr.tensor([[1.0, 2.0]], requires_grad=True)
    t = torch.tensor([[1.0, 2.0]], requires_grad=True)
    sd = cr.optim.Adagrad([p], initial_accumulator_value=0.25).state_dict()
    ref = torch.optim.Adagrad([t], initial_accumulator_value=0.25).state_dict()
    assert_state_close(sd, ref, "float32")


def test_load_state_dict_casts_floating_state_to_the_parameter_dtype_but_not_step():
    p64 = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    p64.grad = cr.tensor([1.0, 1.0], dtype=cr.float64)
    opt = cr.optim.Adam([p64])
    opt.step()
    p32 = cr.tensor([1.0, 2.0], requires_grad=True)
    opt32 = cr.optim.Adam([p32])
    opt32.load_state_dict(opt.state_dict())
    state = opt32.state[p32]
    assert state["exp_avg"].dtype == cr.float32 and state["exp_avg_sq"].dtype == cr.float32
    assert state["step"] is opt.state[p64]["step"]  # `step` is kept as it is, as in torch


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_saved_and_loaded_state_continues_the_trajectory(case, tmp_path):
    """cr.save / cr.load of a state_dict (safetensors), then the same trajectory as torch."""
    dtype = "float64"
    ours, theirs, opt, ref = build(case, dtype)
    run(ours, theirs, opt, ref, STEPS // 2, dtype)
    cr.save(opt.state_dict(), tmp_path / "optim.safetensors")
    resumed = [cr.tensor(p.detach().numpy().copy(), requires_grad=True) for p in ours]
    opt2 = getattr(cr.optim, case[0])(grouped(resumed, case[2]), **case[1])
    opt2.load_state_dict(cr.load(tmp_path / "optim.safetensors"))
    theirs, ref = torch_round_trip(case, theirs, ref)
    run(resumed, theirs, opt2, ref, STEPS - STEPS // 2, dtype, start=STEPS // 2)
    assert_state_close(opt2.state_dict(), ref.state_dict(), dtype)
