"""The arguments torch refuses to lerp, F.rms_norm and F.batch_norm (shapes, dtypes, running
statistics), refused with torch's exception type and message; the ones it takes, computed
as torch (values, dtype, gradients). Issue 10, "lenient argument checks"."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_twins import same_error

import chainrule as cr
import chainrule.nn.functional as CF

F32, F64, F16, I64, B = "float32", "float64", "float16", "int64", "bool"


def run(lib, build):
    """``build(lib, t)`` with ``t(shape, dtype, grad=False)`` making a fixed tensor; the
    output, and the gradients of the tensors made with grad=True under a fixed upstream."""
    leaves = []

    def t(shape, dtype=F32, grad=False):
        n = int(np.prod(shape))
        a = (np.arange(n).reshape(shape) % 5 - 1.7) * 0.6 if n else np.zeros(shape)
        x = lib.tensor(a.astype(dtype))
        if grad:
            x.requires_grad_()
            leaves.append(x)
        return x

    out = build(lib, t)
    if leaves and out.requires_grad:
        u = np.cos(np.arange(out.numel())).reshape(tuple(out.shape))
        (out * lib.tensor(u.astype(str(out.dtype).split(".")[-1]))).sum().backward()
    return out, [x.grad for x in leaves]


def check(build):
    """Either both refuse (same type and message) or both give the same results."""
    try:
        ot, gt = run(torch, build)
    except Exception:
        same_error(lambda: run(torch, build), lambda: run(cr, build))
        return
    oc, gc = run(cr, build)
    assert str(oc.dtype).split(".")[-1] == str(ot.dtype).split(".")[-1]
    tol = {"rtol": 1e-3, "atol": 1e-3} if ot.dtype == torch.float16 else {"rtol": 1e-5}
    np.testing.assert_allclose(oc._data.astype(float), ot.detach().double().numpy(), **tol)
    for a, b in zip(gc, gt):
        assert (a is None) == (b is None)
        if b is not None:
            assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
            np.testing.assert_allclose(a._data.astype(float), b.double().numpy(), **tol)


LERP = {
    "end-shape": lambda m, t: m.lerp(t((2, 3)), t((2, 4)), 0.5),
    "weight-shape": lambda m, t: m.lerp(t((2, 3)), t((2, 3)), t((4,))),
    "order-start-end": lambda m, t: m.lerp(t((5, 1)), t((2, 3)), t((4, 1, 1))),
    "order-weight": lambda m, t: m.lerp(t((2, 1)), t((1, 3)), t((4, 1))),
    "weight-broadcasts": lambda m, t: m.lerp(t((3,), grad=True), t((2, 3)), t((2, 1), grad=True)),
    "end-dtype": lambda m, t: m.lerp(t((3,)), t((3,), F64), 0.5),
    "end-0d-dtype": lambda m, t: m.lerp(t((3,)), t((), F64), 0.5),
    "end-dtype-before-shape": lambda m, t: m.lerp(t((3,)), t((4,), F64), 0.5),
    "start-f64-end-f32": lambda m, t: m.lerp(t((3,), F64), t((3,)), 0.5),
    "start-f16": lambda m, t: m.lerp(t((3,), F16), t((3,)), 0.5),
    "int-start-float-end": lambda m, t: m.lerp(t((3,), I64), t((3,)), 0.5),
    "weight-dtype": lambda m, t: m.lerp(t((3,)), t((3,)), t((3,), F64)),
    "weight-1-element-dtype": lambda m, t: m.lerp(t((3,)), t((3,)), t((1,), F64)),
    "weight-int": lambda m, t: m.lerp(t((3,)), t((3,)), t((3,), I64)),
    "weight-bool": lambda m, t: m.lerp(t((3,)), t((3,)), t((3,), B)),
    "weight-dtype-before-shape": lambda m, t: m.lerp(t((3,)), t((4,)), t((3,), I64)),
    # a 0-d weight of another dtype is taken: the result keeps the input's dtype, the
    # weight's gradient its own
    "weight-0d-f64": lambda m, t: m.lerp(t((3,), grad=True), t((3,)), t((), F64, grad=True)),
    "weight-0d-f32": lambda m, t: m.lerp(t((3,), grad=True), t((3,), grad=True), t((), grad=True)),
    "ints": lambda m, t: m.lerp(t((3,), I64), t((3,), I64), 0.5),
    "ints-tensor-weight": lambda m, t: m.lerp(t((3,), I64), t((3,), I64), t((3,), I64)),
    "ints-0d-weight": lambda m, t: m.lerp(t((3,), I64), t((3,), I64), t((), I64)),
    "bools": lambda m, t: m.lerp(t((3,), B), t((3,), B), 0.5),
    "complex-weight": lambda m, t: m.lerp(t((3,)), t((3,)), 1j),
    "complex-weight-f64": lambda m, t: m.lerp(t((3,), F64), t((3,), F64), 0.5j),
    "bool-number-weight": lambda m, t: m.lerp(t((3,), grad=True), t((3,)), True),
    "end-number": lambda m, t: m.lerp(t((3,)), 1.0, 0.5),
    "end-int-tensor-weight": lambda m, t: m.lerp(t((3,)), 1, t((3,))),
    "end-list": lambda m, t: m.lerp(t((3,)), [1.0], 0.5),
    "inplace-dtype": lambda m, t: t((3,)).lerp_(t((3,), F64), 0.5),
    "inplace-broadcast": lambda m, t: t((3,)).lerp_(t((2, 3)), 0.5),
    "inplace-0d-weight": lambda m, t: t((3,)).lerp_(t((3,)), t((), F64)),
    "method-weight-dtype": lambda m, t: t((2, 3)).lerp(t((2, 3)), t((2, 3), F64)),
}

RMS = {
    "shape-int": lambda m, t: F(m).rms_norm(t((2, 3)), 3),
    "shape-float": lambda m, t: F(m).rms_norm(t((2, 3)), (3.0,)),
    "shape-bool": lambda m, t: F(m).rms_norm(t((2, 3)), (True,)),
    "shape-float-later": lambda m, t: F(m).rms_norm(t((2, 3)), (2, 3.0)),
    "shape-empty": lambda m, t: F(m).rms_norm(t((2, 3)), ()),
    "shape-empty-0d": lambda m, t: F(m).rms_norm(t(()), []),
    "shape-list": lambda m, t: F(m).rms_norm(t((2, 3), grad=True), [3]),
    "shape-size": lambda m, t: F(m).rms_norm(t((2, 3), grad=True), m.Size([2, 3])),
    "shape-wrong": lambda m, t: F(m).rms_norm(t((2, 3)), (4,)),
    "shape-longer": lambda m, t: F(m).rms_norm(t((2, 3)), (2, 2, 3)),
    "shape-longer-1d": lambda m, t: F(m).rms_norm(t((3,)), (2, 3)),
    "weight-shape": lambda m, t: F(m).rms_norm(t((2, 3)), (3,), t((2,))),
    "weight-broadcasts": lambda m, t: F(m).rms_norm(t((2, 3)), (3,), t((1,))),
    "weight-2d": lambda m, t: F(m).rms_norm(t((2, 3)), (3,), t((1, 3))),
    "weight-0d": lambda m, t: F(m).rms_norm(t((2, 3)), (3,), t(())),
    "weight-less-dims": lambda m, t: F(m).rms_norm(t((2, 3)), (2, 3), t((3,))),
    "weight-before-input": lambda m, t: F(m).rms_norm(t((2, 3)), (2, 2, 3), t((2,))),
    "int-input": lambda m, t: F(m).rms_norm(t((2, 3), I64), (3,)),
    "int-input-wrong-shape": lambda m, t: F(m).rms_norm(t((2, 3), I64), (4,)),
    "bool-input": lambda m, t: F(m).rms_norm(t((2, 3), B), (3,)),
    # weights of another dtype: the result in the input's dtype
    "weight-f64": lambda m, t: F(m).rms_norm(
        t((2, 3), grad=True), (3,), t((3,), F64, grad=True)
    ),  # fmt: skip
    "weight-f32-input-f64": lambda m, t: F(m).rms_norm(
        t((2, 3), F64, grad=True), (3,), t((3,), grad=True)
    ),  # fmt: skip
    "weight-int": lambda m, t: F(m).rms_norm(t((2, 3), grad=True), (3,), t((3,), I64)),
    "input-f16": lambda m, t: F(m).rms_norm(t((2, 3), F16), (3,)),  # computed in float32
    "input-f16-weight-f32": lambda m, t: F(m).rms_norm(t((2, 3), F16), (3,), t((3,))),
}


def bn(input, stats=(F32, F32), affine=(F32, F32), training=False, ndim=(1, 1), c=3):
    """A batch_norm call on an (N=2, C=c) input; None drops a statistic or affine tensor."""

    def build(m, t):
        x = input if isinstance(input, tuple) else ((2, c), input)
        rm, rv = (None if d is None else t((c,) if k == 1 else (1, c), d)
                  for d, k in zip(stats, ndim))  # fmt: skip
        w, b = (None if d is None else t((c,), d) for d in affine)
        return F(m).batch_norm(t(*x), rm, rv, w, b, training=training)

    return build


BN = {
    f"{name}-{'train' if tr else 'eval'}": bn(*args, training=tr)
    for tr in (False, True)
    for name, args in {
        "params-f64": (F32, (F64, F64), (F64, F64)),
        "input-f64": (F64, (F32, F32), (F32, F32)),
        "affine-f32": (F64, (F64, F64), (F32, F32)),
        "stats-f32": (F64, (F32, F32), (F64, F64)),
        "weight-f64": (F32, (F32, F32), (F64, F32)),
        "bias-f64": (F32, (F32, F32), (F32, F64)),
        "mean-f64": (F32, (F64, F32), (F32, F32)),
        "var-f32": (F64, (F64, F32), (F64, F64)),
        "stats-int": (F32, (I64, I64), (F32, F32)),
        "stats-only-f32": (F64, (F32, F32), (None, None)),
        "no-stats-weight-f64": (F32, (None, None), (F64, F32)),
        "no-stats-weight-f32": (F64, (None, None), (F32, F32)),
        "no-stats-bias-f64": (F32, (None, None), (None, F64)),
        "no-stats-weight-int": (F32, (None, None), (I64, F32)),
        "int-input": (I64, (F32, F32), (F32, F32)),
        "int-input-no-stats": (I64, (None, None), (None, None)),
        "mean-only": (F32, (F32, None), (None, None)),
        "var-only": (F32, (None, F32), (None, None)),
        "input-f16": (F16, (F32, F32), (F32, F32)),  # torch's one mixed case
        "input-f16-var-f16": (F16, (F32, F16), (F32, F32)),
    }.items()
}
BN.update({
    f"{name}-{'train' if tr else 'eval'}": bn(F32, *args[:2], training=tr, ndim=args[2])
    for tr in (False, True)
    for name, args in {
        "mean-2d": ((F32, F32), (F32, F32), (2, 1)),
        "var-2d": ((F32, F32), (F32, F32), (1, 2)),
        "mean-2d-var-f64": ((F32, F64), (None, None), (2, 1)),
        "var-2d-bias-f64": ((F32, F32), (F32, F64), (1, 2)),
        "mean-2d-affine-f64": ((F32, F32), (F64, F64), (2, 1)),
        "bias-int-var-f64": ((F32, F64), (F32, I64), (1, 1)),
    }.items()
})  # fmt: skip
BN.update({
    "input-0d-train": bn(((), F32), (None, None), (None, None), training=True),
    "input-1d-train": bn(((3,), F32), (None, None), (None, None), training=True),
    "input-1d-int-train": bn(((3,), I64), (None, None), (None, None), training=True),
    "input-1d-empty-stats-train": bn(((3,), F32), training=True, c=0),
    # an empty input: torch returns a copy times weight[0] plus bias[0], checking nothing else
    **{f"empty-{shape}-{tr}-{dt}": bn((shape, dt), (F32, F32), (F32, F32), training=tr == "train",
                                      c=shape[1])  # fmt: skip
       for shape in ((3, 0), (0, 3), (0, 2, 4)) for tr in ("train", "eval") for dt in (F32, F64)},
    "empty-no-stats-eval": bn(((0, 3), F32), (None, None), (F32, None)),
    "empty-grad": lambda m, t: F(m).batch_norm(t((0, 3), grad=True), None, None, t((3,), grad=True),
                                               t((3,), grad=True), training=True),  # fmt: skip
    "mean-requires-grad-train": lambda m, t: F(m).batch_norm(
        t((2, 3)), t((3,), grad=True), t((3,)), training=True
    ),
    "var-requires-grad-eval": lambda m, t: F(m).batch_norm(t((2, 3)), t((3,)), t((3,), grad=True)),
    "mean-requires-grad-no-var": lambda m, t: F(m).batch_norm(
        t((2, 3)), t((3,), grad=True), None, training=True
    ),
})  # fmt: skip


def F(m):
    return TF if m is torch else CF


@pytest.mark.parametrize("name", LERP, ids=str)
def test_lerp_arguments_like_torch(name):
    check(LERP[name])


@pytest.mark.parametrize("name", RMS, ids=str)
def test_rms_norm_arguments_like_torch(name):
    check(RMS[name])


@pytest.mark.parametrize("name", BN, ids=str)
def test_batch_norm_arguments_like_torch(name):
    check(BN[name])


def test_batch_norm_running_stats_requiring_grad_taken_under_no_grad():
    for lib in (torch, cr):
        rm = lib.zeros(3, requires_grad=True)
        with lib.no_grad():
            F(lib).batch_norm(lib.ones(2, 3), rm, lib.ones(3), training=True)
