"""torch.optim.swa_utils against torch: AveragedModel (SWA by default, EMA by avg_fn or
multi_avg_fn, with and without use_buffers) through the same training run, update_bn, SWALR's
lr sequences and state_dict, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

torch.set_num_threads(1)


def make_model(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2))


def twin_models():
    """The same weights in both libraries (torch's initialisation, copied)."""
    torch.manual_seed(0)
    ref = make_model(torch).double()
    ours = make_model(cr).double()
    ours.load_state_dict(
        {k: cr.tensor(v.detach().numpy().copy()) for k, v in ref.state_dict().items()}
    )
    return ours, ref


def batches(n: int = 12):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((5, 3)), rng.standard_normal((5, 2))) for _ in range(n)]


def assert_modules_close(ours, ref):
    sd, ref_sd = ours.state_dict(), ref.state_dict()
    assert list(sd) == list(ref_sd)
    for key, value in ref_sd.items():
        assert sd[key].dtype == getattr(cr, str(value.dtype).split(".")[1]), key
        np.testing.assert_allclose(sd[key].numpy(), value.numpy(), rtol=1e-12, atol=1e-14)


AVERAGING = {
    "swa": lambda m, sw: m.optim.swa_utils.AveragedModel,
    "swa-use_buffers": lambda m, sw: lambda model: sw.AveragedModel(model, use_buffers=True),
    "ema-multi": lambda m, sw: (
        lambda model: sw.AveragedModel(model, multi_avg_fn=sw.get_ema_multi_avg_fn(0.9))
    ),
    "ema-multi-use_buffers": lambda m, sw: (
        lambda model: sw.AveragedModel(
            model, multi_avg_fn=sw.get_ema_multi_avg_fn(0.75), use_buffers=True
        )
    ),
    "ema-avg_fn": lambda m, sw: (
        lambda model: sw.AveragedModel(model, avg_fn=sw.get_ema_avg_fn(0.8))
    ),
    "swa-multi": lambda m, sw: (
        lambda model: sw.AveragedModel(model, multi_avg_fn=sw.get_swa_multi_avg_fn())
    ),
    "swa-avg_fn-use_buffers": lambda m, sw: (
        lambda model: sw.AveragedModel(model, avg_fn=sw.get_swa_avg_fn(), use_buffers=True)
    ),
}


def train_and_average(lib, model, averaged_factory):
    averaged = averaged_factory(lib, lib.optim.swa_utils)(model)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    snapshots = []
    for i, (x, y) in enumerate(batches()):
        opt.zero_grad()
        loss = ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        if i % 2 == 1:
            averaged.update_parameters(model)
            snapshots.append(averaged)
    return averaged


@pytest.mark.parametrize("name", list(AVERAGING))
def test_averaged_model_equals_torchs(name):
    ours_model, ref_model = twin_models()
    ours = train_and_average(cr, ours_model, AVERAGING[name])
    ref = train_and_average(torch, ref_model, AVERAGING[name])
    assert int(ours.n_averaged) == int(ref.n_averaged) == 6
    assert ours.n_averaged.dtype == cr.int64
    assert_modules_close(ours, ref)
    assert_modules_close(ours_model, ref_model)  # the trained model itself is untouched
    ours.eval(), ref.eval()
    x = np.random.default_rng(1).standard_normal((4, 3))
    np.testing.assert_allclose(
        ours(cr.tensor(x)).detach().numpy(), ref(torch.tensor(x)).detach().numpy(), rtol=1e-12
    )
    # a copy: the averaged parameters are their own tensors
    assert all(p is not q for p, q in zip(ours.module.parameters(), ours_model.parameters()))


def test_update_bn_equals_torch_and_keeps_the_mode():
    ours, ref = twin_models()
    data = [cr.tensor(x) for x, _ in batches(6)]
    ref_data = [torch.tensor(x.numpy()) for x in data]
    # tuples contribute their first element
    loader = [(x, 0) if i % 2 else x for i, x in enumerate(data)]
    ref_loader = [(x, 0) if i % 2 else x for i, x in enumerate(ref_data)]
    ours.eval(), ref.eval()
    ours[1].momentum = ref[1].momentum = 0.3
    cr.optim.swa_utils.update_bn(loader, ours)
    torch.optim.swa_utils.update_bn(ref_loader, ref)
    assert not ours.training and not ref.training
    assert ours[1].momentum == ref[1].momentum == 0.3
    assert_modules_close(ours, ref)


def test_update_bn_without_batchnorm_does_nothing():
    model = cr.nn.Linear(2, 2)
    cr.optim.swa_utils.update_bn([cr.ones(1, 2)], model)  # returns before running the model


SWALR_CASES = {
    "cos": dict(swa_lr=0.05),
    "linear": dict(swa_lr=[0.05, 0.01], anneal_epochs=5, anneal_strategy="linear"),
    "no-annealing": dict(swa_lr=0.02, anneal_epochs=0),
    "one-epoch": dict(swa_lr=0.3, anneal_epochs=1, anneal_strategy="cos"),
}


def swalr_trace(lib, kwargs, epochs=40):
    a, b = lib.zeros(2, requires_grad=True), lib.zeros((), requires_grad=True)
    opt = lib.optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.5}], momentum=0.9)
    sched = lib.optim.swa_utils.SWALR(opt, **kwargs)
    out = [sched.get_last_lr()]
    for _ in range(epochs):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
    return out, opt, sched


@pytest.mark.parametrize("name", list(SWALR_CASES))
def test_swalr_equals_torch(name):
    ours, opt, sched = swalr_trace(cr, SWALR_CASES[name])
    ref, ref_opt, ref_sched = swalr_trace(torch, SWALR_CASES[name])
    assert ours == ref
    assert [g["swa_lr"] for g in opt.param_groups] == [g["swa_lr"] for g in ref_opt.param_groups]
    state, ref_state = sched.state_dict(), ref_sched.state_dict()
    assert state == ref_state and "anneal_func" not in state

    # a fresh scheduler loaded mid-run continues as torch's
    _, opt2, sched2 = swalr_trace(cr, SWALR_CASES[name], epochs=3)
    mid, mid_opt, mid_sched = swalr_trace(cr, SWALR_CASES[name], epochs=17)
    sched2.load_state_dict(mid_sched.state_dict())
    opt2.load_state_dict(mid_opt.state_dict())
    rest = []
    for _ in range(23):
        opt2.step()
        sched2.step()
        rest.append(sched2.get_last_lr())
    assert mid + rest == ref


def same_error(build):
    with pytest.raises(Exception) as ref:
        build(torch)
    with pytest.raises(type(ref.value)) as got:
        build(cr)
    assert str(got.value) == str(ref.value)


def _sgd(m):
    return m.optim.SGD([m.zeros(2, requires_grad=True)], lr=0.1)


ERRORS = {
    "avg_fn and multi_avg_fn": lambda m: m.optim.swa_utils.AveragedModel(
        m.nn.Linear(2, 2),
        avg_fn=m.optim.swa_utils.get_swa_avg_fn(),
        multi_avg_fn=m.optim.swa_utils.get_swa_multi_avg_fn(),
    ),
    "ema decay": lambda m: m.optim.swa_utils.get_ema_avg_fn(1.5),
    "ema multi decay": lambda m: m.optim.swa_utils.get_ema_multi_avg_fn(-0.1),
    "swalr strategy": lambda m: m.optim.swa_utils.SWALR(_sgd(m), 0.1, anneal_strategy="exp"),
    "swalr anneal_epochs": lambda m: m.optim.swa_utils.SWALR(_sgd(m), 0.1, anneal_epochs=-1),
    "swalr float anneal_epochs": lambda m: m.optim.swa_utils.SWALR(_sgd(m), 0.1, 2.0),
    "swalr swa_lr count": lambda m: m.optim.swa_utils.SWALR(_sgd(m), [0.1, 0.2]),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name):
    same_error(ERRORS[name])
