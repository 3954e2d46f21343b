"""A second, independent program generator: Hypothesis' stateful testing.

``ProgramMachine`` is a ``RuleBasedStateMachine`` whose rules each write one statement
(Hypothesis chooses the rule, the operands from the pool, shapes, values, slices, flags) and
run it at once in both libraries through the same ``executor.Session``. Its vocabulary is
written separately from ``generator.py`` (function forms ``t.mul(x, y)``, keyword
arguments, slices drawn by Hypothesis, float values anywhere in [-3, 3] including exact ties
and signed zeros), so the programs are not only the ones the random generator shapes.

In a test (``fail_on``) an invariant raises on the first divergence of those categories, and
Hypothesis shrinks the program; ``collect`` runs examples without failing and returns each
program with its category, for ``python -m tests.fuzz --stateful N``.
"""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from .executor import FAILING, Session, reset
from .minimize import format_finding
from .program import Stmt

__all__ = ["ProgramMachine", "collect", "machine_settings"]

VALUES = st.one_of(
    st.floats(-3, 3, width=32, allow_subnormal=False),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5]),
)


def _fmt(v: float) -> str:
    return repr(float(v))


def _lit(vals: Any) -> str:
    if isinstance(vals, list):
        return "[" + ", ".join(_lit(v) for v in vals) + "]"
    return _fmt(vals)


def _map(vals: Any, f: Any) -> str:
    if isinstance(vals, list):
        return "[" + ", ".join(_map(v, f) for v in vals) + "]"
    return _fmt(f(vals))


def machine_settings(n: int, steps: int = 14, derandomize: bool = True) -> settings:
    return settings(
        max_examples=n,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        derandomize=derandomize,
        suppress_health_check=list(HealthCheck),
    )


class ProgramMachine(RuleBasedStateMachine):
    fail_on: tuple[str, ...] = FAILING
    cr: Any = None
    sink: list | None = None  # collect mode: (category, signature, statements) per example

    def __init__(self) -> None:
        super().__init__()
        if ProgramMachine.cr is None:
            import chainrule

            ProgramMachine.cr = chainrule
        self.session = Session(ProgramMachine.cr)
        self.stmts: list[Stmt] = []
        self.n = 0

    # -- helpers ---------------------------------------------------------------------------

    @property
    def env(self) -> dict:
        return self.session.envs[0]

    def new(self, prefix: str = "v") -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def pool(self, pred=lambda x: True) -> list[str]:
        out = []
        for k, v in sorted(self.env.items()):
            if isinstance(v, torch.Tensor):
                try:
                    if pred(v):
                        out.append(k)
                except Exception:  # noqa: BLE001
                    pass
        return out

    def choose(self, data: Any, pred=lambda x: True) -> str | None:
        names = self.pool(pred)
        if not names:
            return None
        return data.draw(st.sampled_from(names))

    def floats(self, data: Any) -> str | None:
        return self.choose(data, lambda x: x.is_floating_point())

    def do(self, src: str, kind: str, guard: str | None = None, simpler: tuple = ()) -> None:
        if self.session.done:
            return
        s = Stmt(src, "st:" + kind, guard, simpler)
        self.stmts.append(s)
        self.session.step(s)

    def values(self, data: Any, shape: tuple[int, ...]) -> Any:
        if not shape:
            return data.draw(VALUES)
        return [self.values(data, shape[1:]) for _ in range(shape[0])]

    def bools(self, data: Any, shape: tuple[int, ...]) -> str:
        if not shape:
            return str(data.draw(st.booleans()))
        return "[" + ", ".join(self.bools(data, shape[1:]) for _ in range(shape[0])) + "]"

    def make_leaf(self, data: Any, shape: tuple[int, ...], grad: bool) -> str:
        name = self.new("w" if grad else "k")
        flag = ", requires_grad=True" if grad else ""
        vals = self.values(data, shape)
        simpler = (
            f"{name} = t.tensor({_map(vals, lambda v: 1.0)}{flag})",
            f"{name} = t.tensor({_map(vals, lambda v: round(v, 1))}{flag})",
        )
        self.do(f"{name} = t.tensor({_lit(vals)}{flag})", "leaf", simpler=simpler)
        return name

    def compatible(self, data: Any, shape: tuple[int, ...]) -> str:
        """A float tensor broadcastable to ``shape``: one from the pool, or a new leaf."""
        same = self.pool(
            lambda x: (
                x.is_floating_point()
                and x.dim() <= len(shape)
                and all(a in (1, b) for a, b in zip(x.shape[::-1], shape[::-1]))
            )
        )
        if same and data.draw(st.booleans()):
            return data.draw(st.sampled_from(same))
        k = data.draw(st.integers(0, len(shape)))
        sub = tuple(data.draw(st.sampled_from([1, n])) for n in shape[k:])
        return self.make_leaf(data, sub, data.draw(st.booleans()))

    # -- rules -----------------------------------------------------------------------------

    @initialize(
        data=st.data(),
        shapes=st.lists(st.lists(st.integers(1, 3), max_size=3).map(tuple), min_size=1,
                        max_size=2),
    )  # fmt: skip
    def start(self, data, shapes):
        if data.draw(st.booleans()):
            self.do("t.set_default_dtype(t.float64)", "dtype")
        for shape in shapes:
            self.make_leaf(data, shape, data.draw(st.booleans()))

    @rule(
        data=st.data(),
        shape=st.lists(st.integers(1, 3), max_size=3).map(tuple),
        grad=st.booleans(),
    )
    def leaf(self, data, shape, grad):
        self.make_leaf(data, shape, grad)

    @rule(
        data=st.data(),
        op=st.sampled_from(
            [
                ("t.exp({x})", None),
                ("t.sigmoid({x})", None),
                ("t.tanh({x})", None),
                ("t.neg({x})", None),
                ("t.square({x})", None),
                ("t.mul({x}, 1.5)", None),
                ("t.add({x}, 0.25)", None),
                ("t.pow({x}, 3)", None),
                ("t.sin({x})", None),
                ("t.relu({x})", "away({x}, 0)"),
                ("t.abs({x})", "away({x}, 0)"),
                ("t.clamp({x}, min=-1.0, max=0.5)", "away({x}, -1, 0.5)"),
                ("t.nn.functional.softmax({x}, dim=-1)", None),
                ("t.nn.functional.log_softmax({x}, dim=0)", None),
                ("t.nn.functional.tanh({x})", None),
                ("t.sqrt(t.square({x}) + 1)", None),
                ("t.log1p(t.square({x}))", None),
                ("t.nn.functional.mse_loss({x}, t.zeros_like({x}))", None),
                ("t.flatten({x})", None),
                ("t.squeeze({x})", None),
                ("t.t({x})", None),
            ]
        ),  # fmt: skip
    )
    def pointwise(self, data, op):
        x = self.floats(data)
        if x is None:
            return
        src, guard = op
        if "t.t(" in src and self.env[x].dim() > 2:
            return
        self.do(f"{self.new()} = {src.format(x=x)}", src.split("(")[0],
                guard.format(x=x) if guard else None)  # fmt: skip

    @rule(
        data=st.data(),
        op=st.sampled_from(["t.add", "t.sub", "t.mul", "t.maximum", "t.minimum", "div"]),
        alpha=st.sampled_from([None, 2, -0.5]),
    )
    def binary(self, data, op, alpha):
        x = self.floats(data)
        if x is None:
            return
        y = self.compatible(data, tuple(self.env[x].shape))
        if op == "div":
            src = f"t.div({x}, t.square({y}) + 1)"
        elif op in ("t.add", "t.sub") and alpha is not None:
            src = f"{op}({x}, {y}, alpha={alpha})"
        else:
            src = f"{op}({x}, {y})"
        guard = f"apart({x}, {y})" if op in ("t.maximum", "t.minimum") else None
        self.do(f"{self.new()} = {src}", op, guard)

    @rule(
        data=st.data(),
        op=st.sampled_from(["sum", "mean", "amax", "logsumexp", "prod", "norm", "max"]),
        keepdim=st.booleans(),
    )
    def reduce(self, data, op, keepdim):
        x = self.choose(data, lambda t: t.is_floating_point() and t.dim() >= 1)
        if x is None:
            return
        d = data.draw(st.integers(-self.env[x].dim(), self.env[x].dim() - 1))
        if op == "norm":
            src, guard = f"t.norm({x})", None
        elif op == "max":
            v, i = self.new(), self.new("n")
            self.do(f"{v}, {i} = t.max({x}, dim={d}, keepdim={keepdim})", "t.max(dim)",
                    f"distinct({x}, {d})")  # fmt: skip
            return
        else:
            src = f"t.{op}({x}, dim={d}, keepdim={keepdim})"
            guard = f"distinct({x}, {d})" if op == "amax" else None
        self.do(f"{self.new()} = {src}", "t." + op, guard)

    @rule(data=st.data(), m=st.integers(1, 3))
    def matmul(self, data, m):
        x = self.choose(data, lambda t: t.is_floating_point() and t.dim() in (1, 2))
        if x is None:
            return
        n = self.env[x].shape[-1]
        y = self.make_leaf(data, (n, m), data.draw(st.booleans()))
        self.do(f"{self.new()} = t.matmul({x}, {y})", "t.matmul")

    @rule(data=st.data(), kind=st.sampled_from(["slice", "transpose", "view", "expand",
                                                "unsqueeze", "narrow", "select", "unbind",
                                                "diagonal", "movedim"]),
          no_grad=st.booleans())  # fmt: skip
    def view(self, data, kind, no_grad):
        x = self.choose(data, lambda t: t.dim() >= 1)
        if x is None:
            return
        sh = tuple(self.env[x].shape)
        nd = len(sh)
        d = data.draw(st.integers(0, nd - 1))
        v = self.new()
        if kind == "slice":
            a = data.draw(st.integers(0, sh[d] - 1))
            b = data.draw(st.integers(a + 1, sh[d]))
            step = data.draw(st.sampled_from([1, 2]))
            src = f"{v} = {x}[{':, ' * d}{a}:{b}:{step}]"
        elif kind == "transpose":
            src = f"{v} = t.transpose({x}, {d}, {data.draw(st.integers(0, nd - 1))})"
        elif kind == "view":
            src = f"{v} = {x}.view({sh[::-1] if nd > 1 else (-1,)})"
        elif kind == "expand":
            new = [data.draw(st.integers(1, 3)) if n == 1 else n for n in sh]
            src = f"{v} = {x}.expand({data.draw(st.integers(1, 2))}, *{new})"
        elif kind == "unsqueeze":
            src = f"{v} = t.unsqueeze({x}, {data.draw(st.integers(-nd - 1, nd))})"
        elif kind == "narrow":
            s = data.draw(st.integers(0, sh[d] - 1))
            src = f"{v} = t.narrow({x}, {d}, {s}, {sh[d] - s})"
        elif kind == "select":
            src = f"{v} = t.select({x}, {d}, {data.draw(st.integers(-sh[d], sh[d] - 1))})"
        elif kind == "unbind":
            src = f"{v} = t.unbind({x}, {d})"
        elif kind == "diagonal":
            if nd < 2:
                return
            src = f"{v} = t.diagonal({x}, 0, {d}, {(d + 1) % nd})"
        else:
            src = f"{v} = t.movedim({x}, {d}, {data.draw(st.integers(0, nd - 1))})"
        if no_grad:
            src = "with t.no_grad():\n    " + src
        self.do(src, ("no_grad " if no_grad else "") + kind)

    @rule(
        data=st.data(),
        op=st.sampled_from(["add_", "mul_", "copy_", "clamp_", "exp_", "zero_", "fill_",
                            "setitem", "setitem_tensor", "sub_", "sigmoid_", "index_fill_",
                            "masked_fill_", "ifloordiv"]),
        no_grad=st.booleans(),
    )  # fmt: skip
    def inplace(self, data, op, no_grad):
        x = self.floats(data)
        if x is None:
            return
        sh = tuple(self.env[x].shape)
        guard = None
        if op in ("add_", "mul_", "copy_", "sub_"):
            y = self.compatible(data, sh)
            src = f"{x}.{op}({y})"
        elif op == "clamp_":
            src, guard = f"{x}.clamp_(max=0.25)", f"away({x}, 0.25)"
        elif op in ("exp_", "zero_", "sigmoid_"):
            src = f"{x}.{op}()"
        elif op == "fill_":
            src = f"{x}.fill_({_fmt(data.draw(VALUES))})"
        elif op in ("setitem", "setitem_tensor"):
            if not sh:
                src = f"{x}[...] = {_fmt(data.draw(VALUES))}"
            else:
                a = data.draw(st.integers(0, sh[0] - 1))
                if op == "setitem":
                    src = f"{x}[{a}] = {_fmt(data.draw(VALUES))}"
                else:
                    y = self.compatible(data, sh[1:])
                    src = f"{x}[{a}] = {y}"
        elif op == "index_fill_":
            if not sh:
                return
            d = data.draw(st.integers(0, len(sh) - 1))
            i = data.draw(st.lists(st.integers(0, sh[d] - 1), min_size=1, max_size=2))
            src = f"{x}.index_fill_({d}, t.tensor({i}), -1.0)"
        elif op == "masked_fill_":
            k = data.draw(st.integers(0, len(sh)))
            mask = self.bools(data, sh[k:])
            src = f"{x}.masked_fill_(t.tensor({mask}), 0.0)"
        else:
            src = f"{x} *= 0.5"
        if no_grad:
            src = "with t.no_grad():\n    " + src
        self.do(src, ("no_grad " if no_grad else "") + op, guard)

    @rule(data=st.data(), op=st.sampled_from(["detach", "detach_", "data_mul", "rg_true",
                                              "rg_false", "clone", "retain_grad"]))  # fmt: skip
    def flags(self, data, op):
        x = self.floats(data)
        if x is None:
            return
        src = {
            "detach": f"{self.new()} = {x}.detach()",
            "detach_": f"{x}.detach_()",
            "data_mul": f"{x}.data.mul_(-2)",
            "rg_true": f"{x}.requires_grad_(True)",
            "rg_false": f"{x}.requires_grad_(False)",
            "clone": f"{self.new()} = t.clone({x})",
            "retain_grad": f"{x}.retain_grad()",
        }[op]
        self.do(src, op)

    @rule(data=st.data(), scale=st.sampled_from([2.0, -1.0, 0.0]))
    def hook(self, data, scale):
        x = self.choose(data, lambda t: t.requires_grad)
        if x is not None:
            self.do(f"{x}.register_hook(lambda g: g * {scale})", "hook")

    @rule(data=st.data(), retain=st.booleans(), create=st.booleans(), weighted=st.booleans())
    def backward(self, data, retain, create, weighted):
        x = self.choose(data, lambda t: t.requires_grad and t.is_floating_point())
        if x is None:
            return
        kw = f"retain_graph={retain}" + (", create_graph=True" if create else "")
        if weighted:
            w = _lit(self.values(data, tuple(self.env[x].shape)))
            src = f"t.autograd.backward([{x}], [t.tensor({w})], {kw})"
        else:
            src = f"{x}.mean().backward({kw})"
        self.do(src, "backward")

    @rule(data=st.data(), create=st.booleans(), retain=st.booleans())
    def grad(self, data, create, retain):
        x = self.choose(data, lambda t: t.requires_grad and t.is_floating_point())
        if x is None:
            return
        ins = self.pool(lambda t: t.requires_grad and t.is_floating_point())
        wrt = data.draw(st.sampled_from(ins))
        g = self.new("d")
        self.do(
            f"{g} = t.autograd.grad(t.sum({x} * {x}), {wrt}, create_graph={create}, "
            f"retain_graph={retain}, allow_unused=True)[0]",
            "autograd.grad",
        )

    @rule(data=st.data(), which=st.sampled_from(["SGD", "Adam", "RMSprop", "Adagrad"]),
          lr=st.sampled_from([0.05, 0.3]))  # fmt: skip
    def optimizer(self, data, which, lr):
        params = self.pool(lambda t: t.is_leaf and t.requires_grad)
        if not params:
            return
        ps = data.draw(st.lists(st.sampled_from(params), min_size=1, max_size=2, unique=True))
        o = self.new("o")
        self.do(f"{o} = t.optim.{which}([{', '.join(ps)}], lr={lr})", "optim " + which)

    @rule(data=st.data(), zero=st.booleans())
    def step(self, data, zero):
        opts = [k for k, v in sorted(self.env.items()) if isinstance(v, torch.optim.Optimizer)]
        if not opts:
            return
        o = data.draw(st.sampled_from(opts))
        self.do(f"{o}.zero_grad()" if zero else f"{o}.step()", "zero_grad" if zero else "step")

    @rule(data=st.data(), out=st.integers(1, 3), act=st.sampled_from(["", "t.nn.Tanh()"]))
    def linear(self, data, out, act):
        x = self.choose(data, lambda t: t.is_floating_point() and 1 <= t.dim() <= 2)
        if x is None:
            return
        n = self.env[x].shape[-1]
        m = self.new("lin")
        w = _lit(self.values(data, (out, n)))
        b = _lit(self.values(data, (out,)))
        layers = f"t.nn.Linear({n}, {out})" + (f", {act}" if act else "")
        self.do(
            f"{m} = t.nn.Sequential({layers})\nwith t.no_grad():\n"
            f"    {m}[0].weight.copy_(t.tensor({w}))\n    {m}[0].bias.copy_(t.tensor({b}))",
            "Sequential",
        )
        self.do(f"{self.new()} = {m}({x})", "Sequential()")

    @invariant()
    def agrees(self):
        if self.sink is None and self.session.category() in self.fail_on:
            d = self.session.divergence()
            raise AssertionError(
                f"{d.category}: program diverges from torch\n" + format_finding(self.stmts, d)
            )

    def teardown(self):
        reset(ProgramMachine.cr)  # a program may have set float64 as the default dtype
        if self.sink is not None and self.stmts:
            d = self.session.divergence()
            sig = d.signature if d is not None else None
            self.sink.append((self.session.category(), sig, list(self.stmts)))


def collect(n: int, seed: int = 0, steps: int = 14) -> list[tuple[str, tuple | None, list[Stmt]]]:
    """Runs ``n`` examples of the machine; returns (category, signature, program) for each."""
    import hypothesis.core
    from hypothesis.stateful import run_state_machine_as_test

    sink: list = []
    old = hypothesis.core.global_force_seed
    ProgramMachine.sink = sink
    try:
        hypothesis.core.global_force_seed = seed
        run_state_machine_as_test(ProgramMachine, settings=machine_settings(n, steps, False))
    finally:
        ProgramMachine.sink = None
        hypothesis.core.global_force_seed = old
    return sink
