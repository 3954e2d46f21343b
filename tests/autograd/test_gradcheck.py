"""gradcheck / gradgradcheck against torch: passes on correct rules, catches wrong ones with
torch's messages (slow, fast, forward mode, second order), torch's input checks."""

import re

import numpy as np
import pytest
import torch
from autograd_twins import pair, same_error
from torch.autograd.gradcheck import GradcheckError as TGradcheckError

import chainrule as cr
from chainrule.autograd import GradcheckError, gradcheck, gradgradcheck
from chainrule.ops.op import Op

A = np.array([0.5, -1.0, 2.0])
B = np.array([[0.3, -0.2, 0.9], [1.1, 0.4, -0.6]])


# --------------------------------------------------------------------------- wrong rules


class BadSquare(Op):
    """x², with a backward that is 1.5 times too large (3x instead of 2x)."""

    jvp_rule = "diagonal"

    def forward(self, x):
        return x * x

    def backward(self, g):
        return g * 3 * self.inputs[0]


class TBadSquare(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x


class FrozenSquare(Op):
    """x², first derivative right, but the rule uses a constant copy of x: no second order."""

    jvp_rule = "diagonal"

    def forward(self, x):
        return x * x

    def backward(self, g):
        return g * 2 * cr.tensor(self.inputs[0]._data.copy())


class TFrozenSquare(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x.detach()


class BadJvp(Op):
    """x², right backward, forward-mode tangent twice too large."""

    jvp_rule = "diagonal"

    def forward(self, x):
        return x * x

    def backward(self, g):
        return g * 2 * self.inputs[0]

    def jvp(self, tangents):
        return tangents[0] * 4 * self.inputs[0]


class NotLinearInGrad(Op):
    """2x, whose backward returns ones when the incoming gradient is all zeros."""

    save_inputs = False

    def forward(self, x):
        return 2 * x

    def backward(self, g):
        return 2 * g if g._data.any() else g + 1


class Noisy(Op):
    """2x, whose backward adds a tiny random amount: not reentrant."""

    save_inputs = False

    def forward(self, x):
        return 2 * x

    def backward(self, g):
        return 2 * g * cr.tensor(1 + np.random.default_rng().normal(0, 1e-9, g.shape))


class WrongSize(Op):
    """x.sum() whose backward forgets to expand: gradient of the wrong shape."""

    save_inputs = False

    def forward(self, x):
        return x.sum()

    def backward(self, g):
        return g.reshape(1)


# --------------------------------------------------------------------------- passing

FUNCS = [
    (lambda lib: lambda x: (x.exp() * x.sin()).sum(), [A]),
    (lambda lib: lambda x: x.tanh() * x, [A]),
    (lambda lib: lambda x, y: (x @ y.T, (x * y).sum()), [B, B[:, ::-1].copy()]),
    (lambda lib: lambda x, y: x.sigmoid() + y**3, [A, A[::-1].copy()]),
]


@pytest.mark.parametrize("fast_mode", [False, True])
@pytest.mark.parametrize("k", range(len(FUNCS)))
def test_correct_rules_pass(k, fast_mode):
    build, arrays = FUNCS[k]
    xs = [pair(a, True) for a in arrays]
    ours = gradcheck(build(cr), tuple(x[0] for x in xs), fast_mode=fast_mode)
    theirs = torch.autograd.gradcheck(build(torch), tuple(x[1] for x in xs), fast_mode=fast_mode)
    assert ours is theirs is True
    assert gradcheck(build(cr), tuple(x[0] for x in xs), fast_mode=fast_mode, check_forward_ad=True)
    ours = gradgradcheck(build(cr), tuple(x[0] for x in xs), fast_mode=fast_mode)
    theirs = torch.autograd.gradgradcheck(
        build(torch), tuple(x[1] for x in xs), fast_mode=fast_mode
    )
    assert ours is theirs is True
    assert gradgradcheck(
        build(cr), tuple(x[0] for x in xs), fast_mode=fast_mode, check_fwd_over_rev=True
    )


def test_inputs_that_need_no_grad_are_left_alone():
    x, tx = pair(A, True)
    y, ty = pair(A * 2)
    assert gradcheck(lambda x, y, k: x * y * k, (x, y, 3.0))
    assert torch.autograd.gradcheck(lambda x, y, k: x * y * k, (tx, ty, 3.0))


# --------------------------------------------------------------------------- failing


def torch_message(fn, *args, **kw):
    with pytest.raises(TGradcheckError) as info:
        fn(*args, **kw)
    return str(info.value).replace("torch.", "chainrule.")


@pytest.mark.parametrize("fast_mode", [False, True])
def test_wrong_backward_is_caught_with_torchs_message(fast_mode):
    x, tx = pair(A, True)
    expected = torch_message(torch.autograd.gradcheck, TBadSquare.apply, tx, fast_mode=fast_mode)
    with pytest.raises(GradcheckError) as info:
        gradcheck(BadSquare.apply, x, fast_mode=fast_mode)
    msg = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert msg.startswith("Jacobian mismatch for output 0 with respect to input 0,\nnumerical:")
    if fast_mode:  # the random projections differ from torch's; the slow-mode part does not
        tail = expected[expected.index("\nThe above quantities") :]
        assert tail in msg
    else:
        assert msg.startswith(expected)  # then one line more: the worst element
    assert "input element 2 and output element 2: numerical 4.0000" in msg
    assert gradcheck(BadSquare.apply, x, fast_mode=fast_mode, raise_exception=False) is False


def test_mismatch_names_output_and_input_index():
    x, _ = pair(A, True)
    y, _ = pair(A[::-1].copy(), True)
    with pytest.raises(GradcheckError, match="for output 1 with respect to input 1,\nnumerical"):
        gradcheck(lambda x, y: (x * 2, x + BadSquare.apply(y)), (x, y))


def test_wrong_forward_mode_rule_is_caught():
    x, _ = pair(A, True)
    assert gradcheck(BadJvp.apply, x)  # backward is right
    for fast in [False, True]:
        with pytest.raises(GradcheckError, match="^Jacobian computed with forward mode mismatch"):
            gradcheck(BadJvp.apply, x, check_forward_ad=True, fast_mode=fast)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradgradcheck_catches_a_rule_that_is_not_differentiable(fast_mode):
    x, tx = pair(A, True)
    assert gradcheck(FrozenSquare.apply, x, fast_mode=fast_mode)
    with pytest.raises(TGradcheckError, match="^Jacobian mismatch"):
        torch.autograd.gradgradcheck(TFrozenSquare.apply, tx, fast_mode=fast_mode)
    with pytest.raises(GradcheckError, match="^Jacobian mismatch for output 0 with respect to"):
        gradgradcheck(FrozenSquare.apply, x, fast_mode=fast_mode)


def test_backward_must_be_linear_in_grad_output():
    x, _ = pair(A, True)
    with pytest.raises(GradcheckError, match="^backward not multiplied by grad_output$"):
        gradcheck(NotLinearInGrad.apply, x)


def test_backward_must_be_reentrant():
    x, _ = pair(A, True)
    with pytest.raises(GradcheckError, match="^Backward is not reentrant, i.e., running backward"):
        gradcheck(Noisy.apply, x)
    assert gradcheck(Noisy.apply, x, nondet_tol=1e-6)


def test_gradient_of_the_wrong_size():
    x, _ = pair(A, True)
    with pytest.raises(GradcheckError, match="^Analytical gradient has incorrect size$"):
        gradcheck(WrongSize.apply, x)


def test_no_differentiable_output_but_a_nonzero_numerical_gradient():
    x, tx = pair(A, True)
    msg = "Numerical gradient for function expected to be zero"
    with pytest.raises(TGradcheckError, match=msg):
        torch.autograd.gradcheck(lambda x: x.detach() * 2, tx)
    for fast in [False, True]:
        with pytest.raises(GradcheckError, match=msg):
            gradcheck(lambda x: x.detach() * 2, x, fast_mode=fast)
    assert gradcheck(lambda x: (x.detach() > 0).double(), x)
    assert torch.autograd.gradcheck(lambda x: (x.detach() > 0).double(), tx)


# --------------------------------------------------------------------------- input checks


def test_warns_on_single_precision_like_torch():
    x32 = cr.tensor(A, dtype=cr.float32, requires_grad=True)
    tx32 = torch.tensor(A, dtype=torch.float32, requires_grad=True)
    with pytest.warns(UserWarning) as theirs:
        torch.autograd.gradcheck(lambda x: x * 2, tx32, raise_exception=False)
    text = str(theirs[0].message)
    with pytest.warns(UserWarning, match=re.escape(text)):
        gradcheck(lambda x: x * 2, x32, raise_exception=False)


def test_input_errors_like_torch():
    x, tx = pair(A)
    same_error(
        lambda: gradcheck(lambda x: x * 2, x), lambda: torch.autograd.gradcheck(lambda x: x * 2, tx)
    )
    e, te = pair(np.array([1.0]), True)
    same_error(
        lambda: gradcheck(lambda x: x * 2, e.expand(3)),
        lambda: torch.autograd.gradcheck(lambda x: x * 2, te.expand(3)),
    )
    for kw in [
        dict(check_forward_ad=False, check_backward_ad=False),
        dict(check_batched_grad=True, check_backward_ad=False, check_forward_ad=True),
        dict(check_batched_forward_grad=True),
    ]:
        same_error(
            lambda kw=kw: gradcheck(lambda x: x * 2, x, **kw),
            lambda kw=kw: torch.autograd.gradcheck(lambda x: x * 2, tx, **kw),
        )
    for kw in [
        dict(check_fwd_over_rev=False, check_rev_over_rev=False),
        dict(check_rev_over_rev=False, check_fwd_over_rev=True),
        dict(check_rev_over_rev=False, check_fwd_over_rev=True, check_undefined_grad=False,
             check_batched_grad=True),
    ]:  # fmt: skip
        same_error(
            lambda kw=kw: gradgradcheck(lambda x: x * 2, x, **kw),
            lambda kw=kw: torch.autograd.gradgradcheck(lambda x: x * 2, tx, **kw),
        )


def test_gradgradcheck_with_given_grad_outputs():
    x, tx = pair(A, True)
    v, tv = pair(np.array([0.2, -0.4, 0.7]), True)
    assert gradgradcheck(lambda x: x.exp() * x, x, v)
    assert torch.autograd.gradgradcheck(lambda x: x.exp() * x, tx, tv)
    with pytest.raises(GradcheckError, match="^Jacobian mismatch"):
        gradgradcheck(FrozenSquare.apply, x, v)
