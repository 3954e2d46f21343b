"""A third program generator, independent of ``generator`` and ``stateful``: programs shaped
like real PyTorch training code (issue 10's "generators you did not write").

Each program builds a small model from nn modules (Linear, Conv1d, Conv2d, LayerNorm,
BatchNorm1d, Embedding, GRUCell, LSTMCell) whose weights are copied in from exactly
representable values, an optimizer (SGD with momentum/nesterov/weight decay, Adam, AdamW,
optionally two parameter groups), and runs a few unrolled training steps: ``zero_grad``
(``set_to_none`` True/False, or the module's), forward (activations, some in place,
``torch.utils.checkpoint``), a loss from ``torch.nn.functional``, backward, ``step``.
Into these steps it mixes what users do that stresses autograd's semantics: retained graphs
and a second backward (before or after the step), in-place writes on intermediates and on
their views (``view``/``reshape``/``transpose``/slices/``unsqueeze``/``expand``/
``split``/``chunk``), ``.data`` and ``.detach()`` writes, ``no_grad`` writes to parameters
and buffers between forward and backward, hooks (returning a modified gradient or None),
``retain_grad``, ``autograd.grad`` with ``create_graph`` and a gradient penalty,
``requires_grad_`` toggles, ``clip_grad_norm_``/``clip_grad_value_``, gradient edits,
``state_dict``/``load_state_dict`` round trips (module and optimizer), ``train``/``eval``,
float64 models fed float32 data. The statements are plain Python over ``t``, so the
executor compares both libraries after every one of them.
"""

from __future__ import annotations

import random

import torch.utils.checkpoint  # noqa: F401 - makes ``t.utils.checkpoint`` resolvable

import chainrule.utils.checkpoint  # noqa: F401

from .program import Stmt

__all__ = ["generate_realistic"]

VALS = (-1.0, -0.75, -0.5, -0.25, 0.25, 0.5, 0.75, 1.0)
ACTS = ("t.relu({})", "t.tanh({})", "t.sigmoid({})", "t.nn.functional.gelu({})",
        "t.nn.functional.silu({})", "t.nn.functional.leaky_relu({}, 0.125)")  # fmt: skip
KINKED = ("relu", "leaky_relu")


def _fmt(v: float) -> str:
    return repr(float(v))


class _Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.out: list[Stmt] = []
        self.n: dict[str, int] = {}
        self.mods: list[tuple[str, str, list[tuple[str, tuple]]]] = []  # name, type, params
        self.f64 = False
        self.hooked = 0

    # -- helpers ---------------------------------------------------------------------------
    def name(self, p: str) -> str:
        k = self.n.get(p, 0)
        self.n[p] = k + 1
        return f"{p}{k}"

    def emit(self, src: str, kind: str, guard: str | None = None, simpler=()) -> None:
        self.out.append(Stmt(src, kind, guard, tuple(simpler)))

    def lit(self, shape: tuple, scale: float = 1.0) -> str:
        if not shape:
            return _fmt(self.r.choice(VALS) * scale)
        return "[" + ", ".join(self.lit(shape[1:], scale) for _ in range(shape[0])) + "]"

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    # -- model -----------------------------------------------------------------------------
    def module(self, ctor: str, kind: str, params: list[tuple[str, tuple]]) -> str:
        m = self.name("mod")
        dt = ", dtype=t.float64" if self.f64 else ""
        # one statement: torch's random initial weights are never compared
        lines = [f"    {m}.{p}.copy_(t.tensor({self.lit(s, 0.5)}))" for p, s in params]
        self.emit(
            f"{m} = t.nn.{ctor[:-1]}{dt})\nwith t.no_grad():\n" + "\n".join(lines), f"module:{kind}"
        )
        self.mods.append((m, kind, params))
        return m

    def build(self) -> None:
        r = self.r
        self.f64 = self.chance(0.2)
        self.arch = r.choice(["mlp", "mlp", "conv1d", "conv2d", "embed", "gru", "lstm"])
        N = r.choice([2, 3])
        self.N = N
        O = r.choice([2, 3])
        self.O = O
        self.layers: list[tuple[str, str]] = []  # (template "{d} = f({s})", kind)
        a = self.arch
        xdt = ", dtype=t.float64" if self.f64 and self.chance(0.5) else ""
        if a == "mlp":
            F, H = r.choice([2, 3, 4]), r.choice([2, 3, 4])
            self.x_shape = (N, F)
            norm = r.choice([None, "ln", "bn"])
            if norm == "bn":  # as users write it: a bias before BatchNorm is cancelled by it
                # (its gradient is exactly 0, float32 noise that Adam would amplify to steps)
                m0 = self.module(f"Linear({F}, {H}, bias=False)", "Linear", [("weight", (H, F))])
            else:
                m0 = self.module(
                    f"Linear({F}, {H})", "Linear", [("weight", (H, F)), ("bias", (H,))]
                )
            self.layers.append((f"{{d}} = {m0}({{s}})", "fwd:linear"))
            if norm == "ln":
                m = self.module(f"LayerNorm({H})", "LayerNorm", [("weight", (H,)), ("bias", (H,))])
                self.layers.append((f"{{d}} = {m}({{s}})", "fwd:layernorm"))
            elif norm == "bn":
                m = self.module(f"BatchNorm1d({H})", "BatchNorm1d",
                                [("weight", (H,)), ("bias", (H,))])  # fmt: skip
                self.layers.append((f"{{d}} = {m}({{s}})", "fwd:batchnorm"))
            self.layers.append(("act", "fwd:act"))
            m1 = self.module(f"Linear({H}, {O})", "Linear", [("weight", (O, H)), ("bias", (O,))])
            self.layers.append((f"{{d}} = {m1}({{s}})", "fwd:linear"))
        elif a == "conv1d":
            C, L, Co, k = r.choice([1, 2]), r.choice([3, 4]), r.choice([1, 2]), 2
            pad = r.choice([0, 1])
            self.x_shape = (N, C, L)
            m0 = self.module(f"Conv1d({C}, {Co}, {k}, padding={pad})", "Conv1d",
                             [("weight", (Co, C, k)), ("bias", (Co,))])  # fmt: skip
            self.layers.append((f"{{d}} = {m0}({{s}})", "fwd:conv1d"))
            self.layers.append(("act", "fwd:act"))
            self.layers.append(("{d} = {s}.flatten(1)", "fwd:flatten"))
            Lo = L + 2 * pad - k + 1
            m1 = self.module(f"Linear({Co * Lo}, {O})", "Linear",
                             [("weight", (O, Co * Lo)), ("bias", (O,))])  # fmt: skip
            self.layers.append((f"{{d}} = {m1}({{s}})", "fwd:linear"))
        elif a == "conv2d":
            C, Co = r.choice([1, 2]), r.choice([1, 2])
            self.x_shape = (N, C, 3, 3)
            m0 = self.module(f"Conv2d({C}, {Co}, 2)", "Conv2d",
                             [("weight", (Co, C, 2, 2)), ("bias", (Co,))])  # fmt: skip
            self.layers.append((f"{{d}} = {m0}({{s}})", "fwd:conv2d"))
            self.layers.append(("act", "fwd:act"))
            self.layers.append(("{d} = {s}.reshape(" + str(N) + ", -1)", "fwd:reshape"))
            m1 = self.module(f"Linear({Co * 4}, {O})", "Linear",
                             [("weight", (O, Co * 4)), ("bias", (O,))])  # fmt: skip
            self.layers.append((f"{{d}} = {m1}({{s}})", "fwd:linear"))
        elif a == "embed":
            V, E, T = 5, r.choice([2, 3]), r.choice([2, 3])
            self.x_shape = (N, T)
            m0 = self.module(f"Embedding({V}, {E})", "Embedding", [("weight", (V, E))])
            self.layers.append((f"{{d}} = {m0}({{s}})", "fwd:embedding"))
            self.layers.append((r.choice(["{d} = {s}.mean(1)", "{d} = {s}.sum(1)"]), "fwd:pool"))
            m1 = self.module(f"Linear({E}, {O})", "Linear", [("weight", (O, E)), ("bias", (O,))])
            self.layers.append((f"{{d}} = {m1}({{s}})", "fwd:linear"))
        else:
            F, H, T = r.choice([2, 3]), r.choice([2, 3]), 2
            self.x_shape = (T, N, F)
            g = 3 if a == "gru" else 4
            cell = "GRUCell" if a == "gru" else "LSTMCell"
            m0 = self.module(f"{cell}({F}, {H})", cell,
                             [("weight_ih", (g * H, F)), ("weight_hh", (g * H, H)),
                              ("bias_ih", (g * H,)), ("bias_hh", (g * H,))])  # fmt: skip
            self.H = H
            self.cell = m0
            m1 = self.module(f"Linear({H}, {O})", "Linear", [("weight", (O, H)), ("bias", (O,))])
            self.layers.append((f"{{d}} = {m1}({{s}})", "fwd:linear"))
        # data
        self.x = "x0"
        self.n["x"] = 1
        if a == "embed":
            idx = [[r.randrange(5) for _ in range(self.x_shape[1])] for _ in range(N)]
            self.emit(f"x0 = t.tensor({idx})", "data")
        else:
            self.emit(f"x0 = t.tensor({self.lit(self.x_shape)}{xdt})", "data")
        self.loss_kind = r.choice(["mse", "mse", "ce", "bce", "huber", "l1", "nll"])
        lk = self.loss_kind
        if lk in ("ce", "nll"):
            self.emit(f"c0 = t.tensor({[r.randrange(O) for _ in range(N)]})", "data")
        elif lk == "bce":
            rows = [[float(r.randrange(2)) for _ in range(O)] for _ in range(N)]
            self.emit(f"c0 = t.tensor({rows})", "data")
        else:
            self.emit(f"c0 = t.tensor({self.lit((N, O))})", "data")
        # optimizer
        params = [m for m, _, p in self.mods if p]
        if len(params) > 1 and self.chance(0.3):
            groups = ", ".join(
                f"{{'params': {m}.parameters()" + (", 'lr': 0.25}" if i else "}")
                for i, m in enumerate(params)
            )
            plist = f"[{groups}]"
        else:
            plist = " + ".join(f"list({m}.parameters())" for m in params)
        o = r.choice(["SGD", "SGD", "Adam", "AdamW"])
        if o == "SGD":
            kw = r.choice(["lr=0.125", "lr=0.125, momentum=0.5", "lr=0.25, weight_decay=0.5",
                           "lr=0.125, momentum=0.5, weight_decay=0.25",
                           "lr=0.125, momentum=0.5, nesterov=True"])  # fmt: skip
        elif o == "Adam":
            kw = r.choice(["lr=0.125", "lr=0.125, weight_decay=0.25", "lr=0.0625, amsgrad=True",
                           "lr=0.125, betas=(0.5, 0.75)"])  # fmt: skip
        else:
            kw = r.choice(["lr=0.125", "lr=0.125, weight_decay=0.5"])
        self.emit(f"opt0 = t.optim.{o}({plist}, {kw})", f"optim:{o}")
        if self.arch == "mlp" and self.chance(0.2):
            self.emit("x0.requires_grad_()", "requires_grad")

    # -- one training step -----------------------------------------------------------------
    def act(self, s: str, d: str) -> None:
        r = self.r
        tpl = r.choice(ACTS)
        inplace = self.chance(0.25)
        guard = f"away({s}, 0)" if any(k in tpl for k in KINKED) else None
        if inplace and tpl.startswith("t.relu"):
            self.emit(f"{d} = t.relu_({s})", "fwd:relu_", guard)
        elif inplace and tpl.startswith("t.sigmoid"):
            self.emit(f"{d} = {s}.sigmoid_()", "fwd:sigmoid_", guard)
        elif inplace and tpl.startswith("t.tanh"):
            self.emit(f"{d} = {s}.tanh_()", "fwd:tanh_", guard)
        else:
            self.emit(f"{d} = {tpl.format(s)}", "fwd:" + tpl.split("(")[0].split(".")[-1], guard)

    def forward(self) -> tuple[str, list[str]]:
        """Emits a forward pass; returns the output's name and the intermediates."""
        inter: list[str] = []
        s = self.x
        if self.arch in ("gru", "lstm"):
            N, H = self.N, self.H
            h = self.name("h")
            self.emit(
                f"{h} = t.zeros({N}, {H}{', dtype=t.float64' if self.f64 else ''})", "fwd:zeros"
            )
            c = None
            if self.arch == "lstm":
                c = self.name("h")
                self.emit(f"{c} = t.zeros_like({h})", "fwd:zeros")
            xs = s if not self.f64 or "float64" in self._xsrc() else f"{s}.double()"
            for k in range(2):
                nh = self.name("h")
                if self.arch == "gru":
                    if self.chance(0.2):
                        self.emit(f"{nh} = t.utils.checkpoint.checkpoint({self.cell}, {xs}[{k}], "
                                  f"{h}, use_reentrant=False)", "fwd:checkpoint")  # fmt: skip
                    else:
                        self.emit(f"{nh} = {self.cell}({xs}[{k}], {h})", "fwd:gru")
                else:
                    nc = self.name("h")
                    self.emit(f"{nh}, {nc} = {self.cell}({xs}[{k}], ({h}, {c}))", "fwd:lstm")
                    c = nc
                    inter.append(nc)
                h = nh
                inter.append(nh)
            s = h
        elif self.f64 and "float64" not in self._xsrc() and self.arch != "embed":
            d = self.name("h")
            self.emit(f"{d} = {s}.double()", "fwd:double")
            s = d
        for tpl, kind in self.layers:
            d = self.name("h")
            if tpl == "act":
                self.act(s, d)
            elif kind == "fwd:linear" and self.chance(0.15) and s != self.x:
                m = tpl.split("= ")[1].split("(")[0]
                self.emit(f"{d} = t.utils.checkpoint.checkpoint({m}, {s}, use_reentrant=False)",
                          "fwd:checkpoint")  # fmt: skip
            else:
                guard = None
                if kind == "fwd:layernorm":
                    guard = f"spread({s}, 1)"
                elif kind == "fwd:batchnorm":
                    guard = f"spread({s}, 1, batch=True)"
                self.emit(tpl.format(d=d, s=s), kind, guard)
            s = d
            inter.append(d)
        if self.chance(0.3):
            self.mutate_forward(inter)
        return s, inter

    def _xsrc(self) -> str:
        return next(st.src for st in self.out if st.src.startswith("x0 = "))

    def mutate_forward(self, inter: list[str]) -> None:
        """Between forward and loss: writes to intermediates, their views, parameters."""
        r = self.r
        h = r.choice(inter)
        k = r.randrange(12)
        if k == 0:
            self.emit(f"{h}.mul_(0.5)", "inplace:nonleaf")
        elif k == 1:
            self.emit(f"{h}[0].add_(1.0)", "inplace:view-slice")
        elif k == 2:
            self.emit(f"{h}.view(-1)[:2].mul_(2.0)", "inplace:view-flat")
        elif k == 3:
            self.emit(f"{h}.transpose(0, 1)[0].zero_()", "inplace:view-transpose")
        elif k == 4:
            self.emit(f"{h}.unsqueeze(0).mul_(0.5)", "inplace:view-unsqueeze")
        elif k == 5:
            self.emit(f"{h}.unsqueeze(0).expand(2, *{h}.shape).mul_(2.0)", "inplace:view-expand")
        elif k == 6:
            a, b = self.name("h"), self.name("h")
            self.emit(f"{a}, {b} = {h}.split(1, dim=0)[:2]", "view:split")
            self.emit(f"{a}.mul_(2.0)", "inplace:split")
        elif k == 7:
            a = self.name("h")
            self.emit(f"{a} = {h}.chunk(2, 1)[0]", "view:chunk")
            self.emit(f"{a}.add_(0.5)", "inplace:chunk")
        elif k == 8:
            self.emit(f"{h}.detach().zero_()", "inplace:detach")
        elif k == 9:
            self.emit(f"{h}.data.mul_(2.0)", "inplace:data")
        elif k == 10:
            self.emit(f"{h}.reshape(-1)[0] = 2.0", "inplace:setitem-reshape")
        else:
            self.emit(f"{h}[:, 0] = {h}[:, 1] * 2", "inplace:setitem-self")

    def loss(self, out: str) -> str:
        L = self.name("loss")
        F = "t.nn.functional"
        lk = self.loss_kind
        tgt = "c0"
        if lk == "mse":
            self.emit(
                f"{L} = {F}.mse_loss({out}, {tgt}{'.double()' if self.f64 else ''})", "loss:mse"
            )
        elif lk == "ce":
            self.emit(f"{L} = {F}.cross_entropy({out}, {tgt})", "loss:ce")
        elif lk == "nll":
            self.emit(f"{L} = {F}.nll_loss({F}.log_softmax({out}, 1), {tgt})", "loss:nll")
        elif lk == "bce":
            self.emit(f"{L} = {F}.binary_cross_entropy_with_logits({out}, {tgt}"
                      f"{'.double()' if self.f64 else ''})", "loss:bce")  # fmt: skip
        elif lk == "huber":
            self.emit(f"{L} = {F}.huber_loss({out}, {tgt}{'.double()' if self.f64 else ''}, "
                      "delta=0.5)", "loss:huber", f"away({out} - {tgt}, -0.5, 0.5)")  # fmt: skip
        else:
            self.emit(f"{L} = {F}.l1_loss({out}, {tgt}{'.double()' if self.f64 else ''})",
                      "loss:l1", f"away({out} - {tgt}, 0)")  # fmt: skip
        return L

    def params(self) -> list[str]:
        return [f"{m}.{p}" for m, _, ps in self.mods for p, _ in ps]

    def before_backward(self, loss: str, inter: list[str]) -> None:
        r = self.r
        for _ in range(r.choice([0, 0, 1, 2])):
            k = r.randrange(11)
            p = r.choice(self.params())
            h = r.choice(inter)
            if k == 0:
                self.emit(f"with t.no_grad():\n    {p}.add_(0.25)", "nograd:param-write")
            elif k == 1:
                self.emit(f"{p}.data.mul_(0.5)", "data:param-write")
            elif k == 2:
                fn = r.choice(["lambda g: g * 2", "lambda g: None", "lambda g: g + 1"])
                self.emit(f"{self.name('hk')} = {h}.register_hook({fn})", "hook:nonleaf")
            elif k == 3 and self.hooked < 2:
                self.hooked += 1
                fn = r.choice(["lambda g: g * 0.5", "lambda g: None", "lambda g: g.neg()"])
                self.emit(f"{self.name('hk')} = {p}.register_hook({fn})", "hook:param")
            elif k == 4:
                self.emit(f"{h}.retain_grad()", "retain_grad")
            elif k == 5:
                self.emit(f"{p}.requires_grad_(False)", "requires_grad:off")
            elif k == 6:
                bn = [m for m, kind, _ in self.mods if kind == "BatchNorm1d"]
                if bn:
                    self.emit(f"with t.no_grad():\n    {bn[0]}.running_mean.zero_()",
                              "nograd:buffer-write")  # fmt: skip
                else:
                    self.emit(f"{p}.detach().mul_(2.0)", "inplace:param-detach")
            elif k == 7:
                self.emit(f"{h}.detach_()" if self.chance(0.5) else f"{h}.requires_grad_(False)",
                          "detach_")  # fmt: skip
            elif k == 8:
                self.emit(f"with t.no_grad():\n    {p}.copy_({p} * 0.5)", "nograd:param-copy")
            elif k == 9:
                self.emit(f"with t.no_grad():\n    {h}.mul_(2.0)", "nograd:nonleaf-write")
            else:
                self.emit(f"{p}.view(-1)[0].data.fill_(0.5)", "data:param-view-write")

    def backward(self, loss: str) -> tuple[bool, str]:
        """Returns (graph retained, the loss name used)."""
        r = self.r
        k = r.randrange(10)
        if k <= 2:
            self.emit(f"{loss}.backward()", "backward")
            return False, loss
        if k <= 5:  # retained: a second backward may follow, before or after the step
            self.emit(f"{loss}.backward(retain_graph=True)", "backward:retain")
            return True, loss
        if k == 6 or (k == 7 and self.chance(0.5)):
            p = r.choice(self.params())
            self.emit(f"{loss}.backward(inputs=[{p}])", "backward:inputs")
            return False, loss
        # gradient penalty
        wrt = (
            "x0" if "x0.requires_grad_()" in [s.src for s in self.out] else r.choice(self.params())
        )
        g = self.name("g")
        self.emit(f"{g}, = t.autograd.grad({loss}, [{wrt}], create_graph=True)",
                  "autograd.grad:create_graph")  # fmt: skip
        L2 = self.name("loss")
        self.emit(f"{L2} = {loss} + 0.5 * ({g} ** 2).sum()", "penalty")
        self.emit(f"{L2}.backward(retain_graph=True)" if self.chance(0.3) else f"{L2}.backward()",
                  "backward:penalty")  # fmt: skip
        return False, L2

    def after_backward(self, loss: str, retained: bool) -> None:
        r = self.r
        for _ in range(r.choice([0, 1, 1, 2])):
            k = r.randrange(7)
            p = r.choice(self.params())
            mods = " + ".join(f"list({m}.parameters())" for m, _, _ in self.mods)
            if k == 0:
                self.emit(
                    f"{self.name('j')} = t.nn.utils.clip_grad_norm_({mods}, 0.5)", "clip:norm"
                )
            elif k == 1:
                self.emit(f"t.nn.utils.clip_grad_value_({mods}, 0.25)", "clip:value")
            elif k == 2:
                self.emit(f"if {p}.grad is not None:\n    {p}.grad.mul_(0.5)", "grad:edit")
            elif k == 3:
                self.emit(f"{p}.grad = None", "grad:none")
            elif k == 4 and retained or retained and self.chance(0.3):
                self.emit(f"{loss}.backward()", "backward:second")
                retained = False
            elif k == 5:
                self.emit(f"{self.name('j')} = {loss}.item()", "item")
            else:
                self.emit(f"{p}.requires_grad_(True)", "requires_grad:on")

    def after_step(self, loss: str, retained: bool) -> None:
        r = self.r
        k = r.randrange(10)
        if getattr(self, "pending_sd", None) and self.chance(0.5):
            k = 7
        m, kind, _ = r.choice(self.mods)
        p = r.choice(self.params())
        if k == 0 and retained:
            self.emit(f"{loss}.backward()", "backward:after-step")
        elif k == 1:
            sd = self.name("sd")
            self.emit(f"{sd} = {{k: v.clone() for k, v in {m}.state_dict().items()}}",
                      "state_dict")  # fmt: skip
            self.pending_sd = (m, sd)
        elif k == 2:
            self.emit("opt0.load_state_dict(opt0.state_dict())", "optim:state_dict")
        elif k == 3:
            self.emit(f"with t.no_grad():\n    {p}.clamp_(-0.5, 0.5)", "nograd:param-clamp")
        elif k == 4:
            self.emit(f"{m}.requires_grad_({r.choice(['False', 'True'])})", "module:requires_grad")
        elif k == 5 and kind == "BatchNorm1d":
            self.emit(f"{m}.{r.choice(['eval', 'train'])}()", "module:mode")
        elif k == 6:
            self.emit(f"{p}.data = {p}.data * 0.5", "data:assign")
        elif k == 7 and getattr(self, "pending_sd", None):
            m2, sd = self.pending_sd
            self.pending_sd = None
            self.emit(f"{m2}.load_state_dict({sd})", "load_state_dict")
        elif k == 8:
            self.emit(f"{p}.grad.zero_()" if self.chance(0.5) else f"{m}.zero_grad()",
                      "zero_grad:module")  # fmt: skip

    def step(self, i: int) -> None:
        r = self.r
        z = r.randrange(4)
        if z == 0:
            self.emit("opt0.zero_grad(set_to_none=False)", "zero_grad:false")
        elif z == 1:
            self.emit("opt0.zero_grad()", "zero_grad")
        elif z == 2 and i > 0:
            self.emit(f"{self.mods[0][0]}.zero_grad()", "zero_grad:module")
        out, inter = self.forward()
        loss = self.loss(out)
        self.before_backward(loss, inter)
        retained, loss = self.backward(loss)
        self.after_backward(loss, retained)
        self.emit("opt0.step()", "optim:step")
        if self.chance(0.6) or getattr(self, "pending_sd", None):
            self.after_step(loss, retained)

    def program(self) -> list[Stmt]:
        self.build()
        for i in range(self.r.choice([1, 2, 2, 3])):
            self.step(i)
        return self.out


def generate_realistic(seed: int) -> list[Stmt]:
    """The realistic training-loop program of ``seed`` (deterministic)."""
    return _Gen(seed).program()
