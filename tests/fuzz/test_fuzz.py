"""Program-level differential fuzzing in the normal suite (issue 10's "done when").

A few hundred random programs with fixed seeds, and a Hypothesis state machine, must give no
silently wrong result and no missing error against torch. (Spurious errors, other exception
types and flag-only differences are counted by ``make fuzz`` but do not fail here.) A failure
prints the minimized programs, ready to become regression tests.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis.stateful import run_state_machine_as_test

import chainrule as cr

from .executor import FAILING, MATCH, SILENT, run_program
from .generator import generate
from .minimize import format_finding, minimize
from .program import Stmt
from .realistic import generate_realistic
from .stateful import ProgramMachine, machine_settings

CHUNK = 50
CHUNKS = 6  # seeds 0 .. 299


def _fail_on(bad: list) -> None:
    """Fail with the diverging seeds and the first two programs, minimized."""
    if bad:
        shown = []
        for seed, prog, _ in bad[:2]:
            small, d = minimize(prog, cr, max_runs=300)
            shown.append(f"seed {seed}:\n{format_finding(small, d)}")
        seeds = ", ".join(f"{s} ({r.category})" for s, _, r in bad)
        pytest.fail(f"{len(bad)} programs diverge from torch: {seeds}\n\n" + "\n".join(shown))


@pytest.mark.parametrize("first", [k * CHUNK for k in range(CHUNKS)])
def test_random_programs(first):
    bad = []
    for seed in range(first, first + CHUNK):
        prog = generate(seed)
        r = run_program(prog, cr)
        if r.category in FAILING:
            bad.append((seed, prog, r))
    _fail_on(bad)


REALISTIC = 50  # seeds 0 .. 49 of the training-loop generator (tests/fuzz/realistic.py)


def test_realistic_programs():
    """Training loops written as users write them, by a generator independent of the other two."""
    bad = []
    for seed in range(REALISTIC):
        prog = generate_realistic(seed)
        r = run_program(prog, cr)
        if r.category in FAILING:
            bad.append((seed, prog, r))
    _fail_on(bad)


def test_stateful_programs():
    run_state_machine_as_test(ProgramMachine, settings=machine_settings(40, steps=12))


# -- the fuzzer itself -------------------------------------------------------------------------


def test_torch_against_itself_matches():
    """The comparison has no false positives: torch run twice agrees with itself."""
    for seed in range(1000, 1040):
        r = run_program(generate(seed), torch)
        assert r.category in (MATCH, "excluded"), (seed, r.divergence)


def test_realistic_torch_against_itself_matches():
    """The training-loop generator's programs are deterministic and tie-free for the
    comparison: torch run twice agrees with itself."""
    for seed in range(1000, 1020):
        r = run_program(generate_realistic(seed), torch)
        assert r.category in (MATCH, "excluded"), (seed, r.divergence)


def test_realistic_generator_covers_its_menu():
    """The generator produces what it promises: every kind of statement appears in 300
    programs (a menu entry that never fires would explore nothing)."""
    kinds = {s.kind for seed in range(300) for s in generate_realistic(seed)}
    want = {"module:Linear", "module:Conv1d", "module:Conv2d", "module:LayerNorm",
            "module:BatchNorm1d", "module:Embedding", "module:GRUCell", "module:LSTMCell",
            "optim:SGD", "optim:Adam", "optim:AdamW", "zero_grad:false", "fwd:checkpoint",
            "backward:retain", "backward:second", "backward:after-step", "backward:inputs",
            "autograd.grad:create_graph", "nograd:param-write", "nograd:buffer-write",
            "data:param-write", "inplace:detach", "inplace:data", "inplace:view-transpose",
            "inplace:view-expand", "inplace:split", "inplace:chunk", "hook:nonleaf",
            "hook:param", "retain_grad", "requires_grad:off", "detach_", "clip:norm",
            "clip:value", "state_dict", "load_state_dict", "optim:state_dict",
            "module:mode", "fwd:relu_", "fwd:double"}  # fmt: skip
    assert want <= kinds, sorted(want - kinds)


def test_finds_and_minimizes_a_planted_bug(monkeypatch):
    """A planted bug (``Tensor.sigmoid`` 0.1% off) is found and cut down to what it needs."""
    real = cr.Tensor.sigmoid
    monkeypatch.setattr(cr.Tensor, "sigmoid", lambda self: real(self) * 1.001)
    prog = [
        Stmt("a = t.tensor([0.5, -1.25], requires_grad=True)", "leaf"),
        Stmt("c = t.tensor([1., 2.])", "leaf"),
        Stmt("x = a * 2", "unary:scale"),
        Stmt("y = c.exp()", "unary:exp"),
        Stmt("z = x.sigmoid()", "unary:sigmoid"),
        Stmt("w = z + y", "binary:add"),
    ]
    r = run_program(prog, cr)
    assert r.category == SILENT and r.divergence.index == 4
    small, d = minimize(prog, cr)
    assert [s.kind for s in small] == ["leaf", "unary:scale", "unary:sigmoid"], small
    text = format_finding(small, d)
    assert "sigmoid()  # <- " in text and "import torch as t" in text


_DEPARTURES = {
    "in-place view op under no_grad": [
        "c0 = t.tensor([[1., 1., 1.], [1., 1., 1.], [1., 1., 1.]])",
        "a0 = t.tensor([[1., 2., 1.], [1., 1., 3.], [1., 1., 1.]], requires_grad=True)",
        "x0 = a0 * c0",
        "with t.no_grad():\n    x0.t_()",
        "x1 = a0 * x0",
        "x1.backward(t.tensor([[-0.5, 1., 2.], [1.5, -1., 0.5], [2., 0.25, 1.]]))",
    ],
    "in-place op reading a view of its target": [
        "c0 = t.tensor([[1.5, -1.75], [-1.25, 0.75]])",
        "x0 = c0.diagonal()",
        "c0.mul_(x0)",
    ],
    "in-place op reading a view of its target (made under no_grad)": [
        "c0 = t.tensor([[1.13, 1.82, -0.64], [0.74, 0.51, 0.03]])",
        "with t.no_grad():\n    x0 = c0[..., :1]",
        "c0.mul_(x0)",
    ],
}


def test_a_hook_dropped_by_torch_s_view_replay_matches():
    """Once a documented departure (chainrule kept the hook); now torch's view replay after
    a write through a detached alias, so the program is a plain match."""
    from .program import Stmt

    src = [
        "a1 = t.tensor([[1., 1., 1.], [1., 1., 1.]], requires_grad=True)",
        "x1 = a1.expand(-1, 3)",
        "x2 = x1.detach()",
        "h0 = x1.register_hook(lambda g: g + 1)",
        "x2[::2] = -1.5",
        "g0, = t.autograd.grad(x1.sum(), [a1])",
    ]
    assert run_program([Stmt(s, "stmt") for s in src], cr).category == MATCH


@pytest.mark.parametrize("name", list(_DEPARTURES))
def test_documented_departures_are_reported_as_such(name):
    """The places chainrule departs from torch on purpose (tests/test_views_semantics.py
    documents each) are their own category; the same program without the departure's
    ingredient is a plain match, so the detection is not a blanket exclusion."""
    from .executor import DEPARTURE
    from .program import Stmt

    stmts = [Stmt(src, "stmt") for src in _DEPARTURES[name]]
    r = run_program(stmts, cr)
    assert r.category == DEPARTURE and name.split(" (")[0] in r.divergence.detail
    plain = [
        s
        for s in stmts
        if "no_grad" not in s.src and "register_hook" not in s.src and "mul_(x0)" not in s.src
    ]
    assert run_program(plain, cr).category == MATCH


def test_a_missing_error_from_an_in_place_view_op_under_no_grad_is_the_departure():
    """torch keeps the old node under no_grad and its backward then fails on the shape;
    chainrule recorded the view op (the documented departure), so it does not raise."""
    from .executor import DEPARTURE
    from .program import Stmt

    src = [
        "a0 = t.tensor([[1., -2., -1., -1.], [1., 2., 2., 1.], [-1., 2., 2., 2.]], "
        "requires_grad=True)",
        "x0 = a0 * 2",
        "with t.no_grad():\n    x0.t_()",
        "(x0 * x0).sum().backward()",
    ]
    r = run_program([Stmt(x, "stmt") for x in src], cr)
    assert r.category == DEPARTURE and "no_grad" in r.divergence.detail
