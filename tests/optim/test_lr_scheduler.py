"""Learning-rate schedulers against torch: every scheduler's lr (and momentum) sequence over 100
epochs, SequentialLR chains, ReduceLROnPlateau on the same metrics, state_dict round trips,
the deprecated step(epoch), warnings and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr

EPOCHS = 100


class Warmup:
    """A callable object as lr_lambda: its __dict__ goes into LambdaLR's state_dict."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.n)


class Halving:
    """A callable object as CyclicLR's scale_fn: its __dict__ goes into the state_dict."""

    def __init__(self) -> None:
        self.half_life = 30.0

    def __call__(self, x: float) -> float:
        return 0.5 ** (x / self.half_life)


def make_optimizer(lib, kind: str = "SGD"):
    """Two parameter groups with different lrs."""
    a, b = lib.zeros(2, requires_grad=True), lib.zeros((), requires_grad=True)
    groups = [{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.05}]
    if kind == "SGD":
        return lib.optim.SGD(groups, momentum=0.9)
    return getattr(lib.optim, kind)(groups)


def _seq(m, opt, first, rest, milestones):
    s = m.optim.lr_scheduler
    return s.SequentialLR(opt, [first(s, opt), *(r(s, opt) for r in rest)], milestones)


# name -> (optimizer kind, build(lib, optimizer) -> scheduler)
SCHEDULERS = {
    "StepLR": ("SGD", lambda m, o: m.optim.lr_scheduler.StepLR(o, step_size=7)),
    "StepLR-gamma": ("SGD", lambda m, o: m.optim.lr_scheduler.StepLR(o, 3, gamma=0.7)),
    "MultiStepLR": ("SGD", lambda m, o: m.optim.lr_scheduler.MultiStepLR(o, [5, 20, 20, 61])),
    "ExponentialLR": ("SGD", lambda m, o: m.optim.lr_scheduler.ExponentialLR(o, gamma=0.95)),
    "ConstantLR": ("SGD", lambda m, o: m.optim.lr_scheduler.ConstantLR(o, 0.4, total_iters=9)),
    "LinearLR": ("SGD", lambda m, o: m.optim.lr_scheduler.LinearLR(o, total_iters=30)),
    "LinearLR-decay": (
        "SGD",
        lambda m, o: m.optim.lr_scheduler.LinearLR(o, 1.0, 0.05, total_iters=80),
    ),
    "CosineAnnealingLR": ("SGD", lambda m, o: m.optim.lr_scheduler.CosineAnnealingLR(o, 100)),
    "CosineAnnealingLR-restarts": (
        "Adam",
        lambda m, o: m.optim.lr_scheduler.CosineAnnealingLR(o, T_max=15, eta_min=1e-3),
    ),
    "LambdaLR": (
        "SGD",
        lambda m, o: m.optim.lr_scheduler.LambdaLR(o, lambda e: 0.97**e),
    ),
    "LambdaLR-per-group": (
        "SGD",
        lambda m, o: m.optim.lr_scheduler.LambdaLR(o, [Warmup(10), lambda e: 1 / (1 + e)]),
    ),
    "OneCycleLR": ("SGD", lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, 1.0, total_steps=100)),
    "OneCycleLR-linear-three-phase": (
        "SGD",
        lambda m, o: m.optim.lr_scheduler.OneCycleLR(
            o,
            [1.0, 0.5],
            epochs=10,
            steps_per_epoch=10,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
        ),
    ),  # fmt: skip
    "OneCycleLR-adam-betas": (
        "Adam",
        lambda m, o: m.optim.lr_scheduler.OneCycleLR(
            o,
            0.01,
            total_steps=120,
            base_momentum=[0.8, 0.7],
            max_momentum=0.9,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
    ),  # fmt: skip
    "OneCycleLR-no-momentum": (
        "Adagrad",
        lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, 0.3, 100, cycle_momentum=False),
    ),
    "MultiplicativeLR": (
        "SGD",
        lambda m, o: m.optim.lr_scheduler.MultiplicativeLR(o, [lambda e: 0.95, Warmup(4)]),
    ),
    "PolynomialLR": ("SGD", lambda m, o: m.optim.lr_scheduler.PolynomialLR(o, 60, power=2.0)),
    "ChainedScheduler": (
        "SGD",
        lambda m, o: m.optim.lr_scheduler.ChainedScheduler(
            [
                m.optim.lr_scheduler.ConstantLR(o, 0.1, total_iters=2),
                m.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
            ]
        ),
    ),  # fmt: skip
    "SequentialLR-of-chained": (  # a chain first: torch cannot restart one at a milestone
        "SGD",
        lambda m, o: _seq(
            m,
            o,
            lambda s, o: s.ChainedScheduler(
                [s.ConstantLR(o, 0.5, total_iters=4), s.ExponentialLR(o, 0.9)], o
            ),
            [lambda s, o: s.PolynomialLR(o, 40, 0.5)],
            [20],
        ),
    ),  # fmt: skip
    "SequentialLR-warmup-cosine": (
        "SGD",
        lambda m, o: _seq(
            m,
            o,
            lambda s, o: s.LinearLR(o, 0.1, total_iters=5),
            [lambda s, o: s.CosineAnnealingLR(o, T_max=20)],
            [5],
        ),
    ),  # fmt: skip
    "SequentialLR-three": (
        "Adam",
        lambda m, o: _seq(
            m,
            o,
            lambda s, o: s.ConstantLR(o, 0.5, total_iters=3),
            [lambda s, o: s.ExponentialLR(o, 0.9), lambda s, o: s.StepLR(o, 10, 0.5)],
            [3, 30],
        ),
    ),  # fmt: skip
    "CyclicLR-triangular": (
        "SGD",
        lambda m, o: m.optim.lr_scheduler.CyclicLR(o, 0.01, [0.1, 0.2], step_size_up=7),
    ),
    "CyclicLR-triangular2-asymmetric": (
        "SGD",
        lambda m, o: m.optim.lr_scheduler.CyclicLR(
            o,
            [0.001, 0.01],
            0.1,
            5,
            step_size_down=11,
            mode="triangular2",
            base_momentum=[0.7, 0.75],
            max_momentum=0.95,
        ),
    ),  # fmt: skip
    "CyclicLR-exp_range-adam-betas": (
        "Adam",
        lambda m, o: m.optim.lr_scheduler.CyclicLR(
            o, 1e-4, 1e-2, step_size_up=4, mode="exp_range", gamma=0.97
        ),
    ),
    "CyclicLR-scale_fn-iterations": (
        "SGD",
        lambda m, o: m.optim.lr_scheduler.CyclicLR(
            o, 0.01, 0.1, 6, scale_fn=Halving(), scale_mode="iterations", cycle_momentum=False
        ),
    ),
    "CyclicLR-scale_fn-cycle-lambda": (
        "SGD",
        lambda m, o: m.optim.lr_scheduler.CyclicLR(
            o, 0.01, 0.1, 3, 9, scale_fn=lambda x: 1 / x, base_momentum=0.5
        ),
    ),
    "CyclicLR-no-momentum": (
        "Adagrad",
        lambda m, o: m.optim.lr_scheduler.CyclicLR(o, 0.05, 0.5, 10, cycle_momentum=False),
    ),
    "CosineAnnealingWarmRestarts": (
        "SGD",
        lambda m, o: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=10),
    ),
    "CosineAnnealingWarmRestarts-mult-eta_min": (
        "Adam",
        lambda m, o: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 3, T_mult=2, eta_min=1e-3),
    ),
    "SequentialLR-warmup-restarts": (
        "SGD",
        lambda m, o: _seq(
            m,
            o,
            lambda s, o: s.LinearLR(o, 0.2, total_iters=6),
            [lambda s, o: s.CosineAnnealingWarmRestarts(o, 7, 3, 0.01)],
            [6],
        ),
    ),  # fmt: skip
    "SequentialLR-lambda-multistep": (
        "SGD",
        lambda m, o: _seq(
            m,
            o,
            lambda s, o: s.LambdaLR(o, lambda e: 1 + e),
            [lambda s, o: s.MultiStepLR(o, [5, 15, 40])],
            [10],
        ),
    ),  # fmt: skip
}


def momenta(opt):
    return [g.get("momentum", g.get("betas")) for g in opt.param_groups]


def trace(m, name, epochs=EPOCHS, start=None):
    """(get_last_lr, group lrs, momenta) after construction and after every epoch."""
    kind, build = SCHEDULERS[name]
    opt = make_optimizer(m, kind)
    sched = build(m, opt)
    out = [(sched.get_last_lr(), [g["lr"] for g in opt.param_groups], momenta(opt))]
    for _ in range(epochs):
        opt.step()
        sched.step()
        out.append((sched.get_last_lr(), [g["lr"] for g in opt.param_groups], momenta(opt)))
    return out, opt, sched


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_lr_sequence_equals_torch(name):
    ours, opt, sched = trace(cr, name)
    ref, ref_opt, ref_sched = trace(torch, name)
    assert ours == ref  # the same float arithmetic in the same order: equal, not just close
    assert getattr(sched, "last_epoch", None) == getattr(ref_sched, "last_epoch", None)
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == [
        {k: v for k, v in g.items() if k != "params"} for g in ref_opt.param_groups
    ]


def _comparable(state):
    """A scheduler state_dict with functions dropped (they differ between the libraries)."""
    if isinstance(state, dict):
        return {k: _comparable(v) for k, v in state.items() if not callable(v)}
    if isinstance(state, list):
        return [_comparable(v) for v in state]
    return state


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_state_dict_equals_torchs(name):
    _, _, sched = trace(cr, name, epochs=37)
    _, _, ref = trace(torch, name, epochs=37)
    assert _comparable(sched.state_dict()) == _comparable(ref.state_dict())


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_state_dict_round_trip_continues_the_sequence(name):
    kind, build = SCHEDULERS[name]
    ref, _, _ = trace(torch, name)
    first, opt, sched = trace(cr, name, epochs=40)
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    # resume: new optimizer, scheduler created first, then both states loaded (torch's recipe)
    opt2 = make_optimizer(cr, kind)
    sched2 = build(cr, opt2)
    sched2.load_state_dict(saved_sched)
    opt2.load_state_dict(saved_opt)
    rest = []
    for _ in range(EPOCHS - 40):
        opt2.step()
        sched2.step()
        rest.append((sched2.get_last_lr(), [g["lr"] for g in opt2.param_groups], momenta(opt2)))
    assert first + rest == ref


def test_lambda_lr_state_dict_saves_callable_objects_only():
    opt = make_optimizer(cr)
    sched = cr.optim.lr_scheduler.LambdaLR(opt, [Warmup(10), lambda e: 1.0])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"n": 10}, None]
    sd["lr_lambdas"][0]["n"] = 4
    sched.load_state_dict(sd)
    assert sched.lr_lambdas[0].n == 4 and "lr_lambdas" in sd


# --------------------------------------------------------------------------- ReduceLROnPlateau


def _metrics(n=EPOCHS, seed=0):
    """A noisy loss that improves, stalls, improves again and stalls."""
    rng = np.random.default_rng(seed)
    base = np.concatenate([np.linspace(1, 0.5, 30), np.full(25, 0.5), np.linspace(0.5, 0.3, 15)])
    base = np.concatenate([base, np.full(n - len(base), 0.3)])
    return (base + 0.01 * rng.standard_normal(n)).tolist()


PLATEAU = {
    "default": dict(),
    "patience-3": dict(patience=3),
    "max-abs": dict(mode="max", threshold_mode="abs", threshold=0.01, patience=2),
    "cooldown-min_lr-list": dict(patience=1, cooldown=3, factor=0.5, min_lr=[0.01, 0.002]),
    "min_lr-scalar-big-eps": dict(patience=0, factor=0.5, min_lr=0.001, eps=0.004),
    "rel-threshold": dict(patience=2, threshold=0.05, factor=0.3),
}


@pytest.mark.parametrize("name", list(PLATEAU))
def test_reduce_lr_on_plateau_equals_torch(name):
    kwargs = PLATEAU[name]
    metrics = _metrics()
    if kwargs.get("mode") == "max":
        metrics = [-x for x in metrics]

    def run(m):
        opt = make_optimizer(m)
        sched = m.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
        out = []
        for i, x in enumerate(metrics):
            opt.step()
            # a 0-d tensor metric works too (it is converted with float())
            sched.step(m.tensor(x, dtype=m.float64) if i % 2 else x)
            out.append((sched.get_last_lr(), sched.num_bad_epochs, sched.cooldown_counter,
                        sched.best, sched.last_epoch))  # fmt: skip
        return out, sched

    ours, sched = run(cr)
    ref, ref_sched = run(torch)
    assert ours == ref
    assert len({tuple(lr) for lr, *_ in ours}) > 2, "the metrics should trigger reductions"
    assert _comparable(sched.state_dict()) == _comparable(ref_sched.state_dict())


def test_reduce_lr_on_plateau_state_dict_round_trip():
    metrics = _metrics()
    kwargs = dict(patience=2, cooldown=1, factor=0.5)

    def run(m, resume_at=None):
        opt = make_optimizer(m)
        sched = m.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
        lrs = []
        for i, x in enumerate(metrics):
            if i == resume_at:
                saved, saved_opt = sched.state_dict(), opt.state_dict()
                opt = make_optimizer(m)
                sched = m.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max")
                sched.load_state_dict(saved)
                opt.load_state_dict(saved_opt)
            sched.step(x)
            lrs.append(sched.get_last_lr())
        return lrs

    assert run(cr, resume_at=45) == run(torch)


def test_reduce_lr_on_plateau_after_a_new_param_group():
    def run(m, min_lr):
        opt = make_optimizer(m)
        sched = m.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=min_lr)
        opt.add_param_group({"params": [m.zeros(1, requires_grad=True)], "lr": 1.0})
        sched.step(1.0)
        sched.step(2.0)
        return sched.get_last_lr()

    assert run(cr, 0.001) == run(torch, 0.001)
    with pytest.raises(RuntimeError) as ref:
        run(torch, [0.0, 0.0])
    with pytest.raises(RuntimeError) as got:
        run(cr, [0.0, 0.0])
    assert str(got.value) == str(ref.value)


# --------------------------------------------------------------------------- step(epoch)


CLOSED_FORM = ["StepLR", "MultiStepLR", "ExponentialLR", "ConstantLR", "LinearLR",
               "CosineAnnealingLR", "LambdaLR", "MultiplicativeLR", "PolynomialLR"]  # fmt: skip


@pytest.mark.parametrize("name", CLOSED_FORM)
def test_step_with_an_epoch_uses_the_closed_form_and_warns(name):
    def run(m):
        kind, build = SCHEDULERS[name]
        opt = make_optimizer(m, kind)
        sched = build(m, opt)
        lrs = []
        for epoch in [3, 17, 4, 40, 40, 99]:
            opt.step()
            with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step"):
                sched.step(epoch)
            lrs.append(sched.get_last_lr())
        return lrs

    assert run(cr) == run(torch)


@pytest.mark.parametrize("t_mult", [1, 2, 3])
def test_warm_restarts_fractional_epochs_jumps_and_no_warning(t_mult):
    """CosineAnnealingWarmRestarts.step(epoch) takes a fractional epoch (torch's recipe: one
    step per batch, ``epoch + i / iters``) and jumps back and forth, without a warning."""

    def run(m):
        opt = make_optimizer(m, "Adam")
        sched = m.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, 4, t_mult, 0.001)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for epoch in range(30):
                for i in range(5):
                    opt.step()
                    sched.step(epoch + i / 5)
                    out.append((sched.get_last_lr(), sched.last_epoch, sched.T_cur, sched.T_i))
            for epoch in [100, 3, 0, 57.5, 12]:
                sched.step(epoch)
                out.append((sched.get_last_lr(), sched.last_epoch, sched.T_cur, sched.T_i))
            sched.step()  # and on from there
            out.append((sched.get_last_lr(), sched.last_epoch, sched.T_cur, sched.T_i))
        return out, sched.state_dict()

    assert run(cr) == run(torch)


# --------------------------------------------------------------------------- warnings, resume


def test_scheduler_step_before_optimizer_step_warns():
    opt = make_optimizer(cr)
    sched = cr.optim.lr_scheduler.StepLR(opt, 2)
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before"):
        sched.step()


def test_optimizer_step_overridden_after_the_scheduler_warns():
    opt = make_optimizer(cr)
    sched = cr.optim.lr_scheduler.StepLR(opt, 2)
    opt.step = lambda closure=None: None
    with pytest.warns(UserWarning, match=r"Seems like `optimizer.step\(\)` has been overridden"):
        sched.step()


def test_the_right_order_does_not_warn_and_step_still_works():
    p = cr.tensor([1.0], requires_grad=True)
    p.grad = cr.tensor([1.0])
    opt = cr.optim.SGD([p], lr=0.5)
    sched = cr.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            opt.step()
            sched.step()
    assert p.tolist() == [1.0 - 0.5 - 0.25 - 0.125]
    # two schedulers on one optimizer wrap its step once
    cr.optim.lr_scheduler.StepLR(opt, 2)
    opt.step()
    assert p.tolist() == [1.0 - 0.5 - 0.25 - 0.125 - 0.0625]


def test_calling_get_lr_directly_warns():
    sched = cr.optim.lr_scheduler.StepLR(make_optimizer(cr), 2)
    with pytest.warns(UserWarning, match=r"please use `get_last_lr\(\)`"):
        sched.get_lr()


def test_initial_lr_is_set_once_and_resuming_needs_it():
    opt = make_optimizer(cr)
    cr.optim.lr_scheduler.StepLR(opt, 2)
    opt.param_groups[0]["lr"] = 7.0
    cr.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]

    def resume(m):
        opt = make_optimizer(m)
        opt.param_groups[0]["initial_lr"] = 0.1
        m.optim.lr_scheduler.StepLR(opt, 2, last_epoch=5)

    same_error(resume)

    def resumed_sequence(m):
        opt = make_optimizer(m)
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
        sched = m.optim.lr_scheduler.CosineAnnealingLR(opt, 10, last_epoch=4)
        lrs = [sched.get_last_lr()]
        for _ in range(20):
            opt.step()
            sched.step()
            lrs.append(sched.get_last_lr())
        return lrs

    assert resumed_sequence(cr) == resumed_sequence(torch)


# --------------------------------------------------------------------------- errors


def same_error(build):
    """``build(lib)`` raises the same exception type and message in chainrule as in torch."""
    with pytest.raises(Exception) as ref:
        build(torch)
    with pytest.raises(type(ref.value)) as got:
        build(cr)
    assert str(got.value) == str(ref.value)


def _onecycle_past_the_end(m):
    opt = make_optimizer(m)
    sched = m.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=5)
    for _ in range(6):
        opt.step()
        sched.step()


ERRORS = {
    "not an optimizer": lambda m: m.optim.lr_scheduler.StepLR(3, 2),
    "lambda count": lambda m: m.optim.lr_scheduler.LambdaLR(make_optimizer(m), [abs]),
    "linear start": lambda m: m.optim.lr_scheduler.LinearLR(make_optimizer(m), 0.0),
    "linear end": lambda m: m.optim.lr_scheduler.LinearLR(make_optimizer(m), 0.5, 1.5),
    "constant factor": lambda m: m.optim.lr_scheduler.ConstantLR(make_optimizer(m), 2.0),
    "sequential empty": lambda m: m.optim.lr_scheduler.SequentialLR(make_optimizer(m), [], []),
    "sequential milestones": lambda m: (
        lambda o: m.optim.lr_scheduler.SequentialLR(o, [m.optim.lr_scheduler.StepLR(o, 2)], [3])
    )(make_optimizer(m)),
    "sequential plateau": lambda m: (
        lambda o: m.optim.lr_scheduler.SequentialLR(
            o, [m.optim.lr_scheduler.ReduceLROnPlateau(o)], []
        )
    )(make_optimizer(m)),
    "sequential no optimizer": lambda m: m.optim.lr_scheduler.SequentialLR(
        make_optimizer(m), [object()], []
    ),
    "sequential other optimizer": lambda m: m.optim.lr_scheduler.SequentialLR(
        make_optimizer(m), [m.optim.lr_scheduler.StepLR(make_optimizer(m), 2)], []
    ),
    "chained empty": lambda m: m.optim.lr_scheduler.ChainedScheduler([]),
    "chained other optimizer": lambda m: m.optim.lr_scheduler.ChainedScheduler(
        [m.optim.lr_scheduler.StepLR(make_optimizer(m), 2)], make_optimizer(m)
    ),
    "chained plateau": lambda m: m.optim.lr_scheduler.ChainedScheduler(
        [m.optim.lr_scheduler.ReduceLROnPlateau(make_optimizer(m))]
    ),
    "multiplicative not callable": lambda m: m.optim.lr_scheduler.MultiplicativeLR(
        make_optimizer(m), [abs, 0.5]
    ),
    "multiplicative count": lambda m: m.optim.lr_scheduler.MultiplicativeLR(
        make_optimizer(m), [abs]
    ),
    "plateau factor": lambda m: m.optim.lr_scheduler.ReduceLROnPlateau(
        make_optimizer(m), factor=1.0
    ),
    "plateau mode": lambda m: m.optim.lr_scheduler.ReduceLROnPlateau(make_optimizer(m), "avg"),
    "plateau threshold mode": lambda m: m.optim.lr_scheduler.ReduceLROnPlateau(
        make_optimizer(m), threshold_mode="pct"
    ),
    "plateau min_lrs": lambda m: m.optim.lr_scheduler.ReduceLROnPlateau(
        make_optimizer(m), min_lr=[0.1]
    ),
    "plateau not an optimizer": lambda m: m.optim.lr_scheduler.ReduceLROnPlateau("sgd"),
    "onecycle no steps": lambda m: m.optim.lr_scheduler.OneCycleLR(make_optimizer(m), 0.1),
    "onecycle total_steps": lambda m: m.optim.lr_scheduler.OneCycleLR(make_optimizer(m), 0.1, 0),
    "onecycle epochs": lambda m: m.optim.lr_scheduler.OneCycleLR(
        make_optimizer(m), 0.1, epochs=-1, steps_per_epoch=3
    ),
    "onecycle steps_per_epoch": lambda m: m.optim.lr_scheduler.OneCycleLR(
        make_optimizer(m), 0.1, epochs=2, steps_per_epoch=1.5
    ),
    "onecycle pct_start": lambda m: m.optim.lr_scheduler.OneCycleLR(
        make_optimizer(m), 0.1, 10, pct_start=1.5
    ),
    "onecycle integer pct_start": lambda m: m.optim.lr_scheduler.OneCycleLR(
        make_optimizer(m), 0.1, 10, pct_start=1
    ),
    "onecycle anneal": lambda m: m.optim.lr_scheduler.OneCycleLR(
        make_optimizer(m), 0.1, 10, anneal_strategy="exp"
    ),
    "onecycle max_lr count": lambda m: m.optim.lr_scheduler.OneCycleLR(
        make_optimizer(m), [0.1, 0.2, 0.3], 10
    ),
    "onecycle momentum count": lambda m: m.optim.lr_scheduler.OneCycleLR(
        make_optimizer(m), 0.1, 10, base_momentum=[0.8]
    ),
    "onecycle no momentum": lambda m: m.optim.lr_scheduler.OneCycleLR(
        make_optimizer(m, "Adagrad"), 0.1, 10
    ),
    "onecycle past the end": _onecycle_past_the_end,
    "cyclic mode": lambda m: m.optim.lr_scheduler.CyclicLR(
        make_optimizer(m), 0.01, 0.1, mode="sawtooth"
    ),
    "cyclic no momentum": lambda m: m.optim.lr_scheduler.CyclicLR(
        make_optimizer(m, "Adagrad"), 0.01, 0.1
    ),
    "cyclic base_lr count": lambda m: m.optim.lr_scheduler.CyclicLR(make_optimizer(m), [0.01], 0.1),
    "cyclic max_momentum count": lambda m: m.optim.lr_scheduler.CyclicLR(
        make_optimizer(m), 0.01, 0.1, max_momentum=[0.9, 0.9, 0.9]
    ),
    "cyclic not an optimizer": lambda m: m.optim.lr_scheduler.CyclicLR(None, 0.01, 0.1),
    "restarts T_0": lambda m: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        make_optimizer(m), 0
    ),
    "restarts float T_0": lambda m: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        make_optimizer(m), 2.0
    ),
    "restarts T_mult": lambda m: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        make_optimizer(m), 2, 0
    ),
    "restarts float T_mult": lambda m: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        make_optimizer(m), 2, 1.5
    ),
    "restarts eta_min": lambda m: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        make_optimizer(m), 2, eta_min="0"
    ),
    "restarts negative epoch": lambda m: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        make_optimizer(m), 2
    ).step(-1),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name):
    same_error(ERRORS[name])
