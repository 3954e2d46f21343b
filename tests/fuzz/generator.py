"""Random short programs, shaped by a live torch run.

The generator runs each statement in torch as it writes it, so it can read the real shapes,
dtypes and flags of the pool's tensors and write mostly well-formed statements (a matmul
partner of the right size, an index in range, a setitem value of the target's shape). It does
not avoid what torch refuses: in-place writes on leaves that require grad, on views of them,
on split outputs, a second backward without ``retain_graph``, an optimizer over a non-leaf ...
all occur, and torch's exception is the expected outcome.

Data: leaves are literals with two decimals in [-2, 2] (exactly the same numbers in both
libraries); shapes have at most 3 dims of sizes 1-4. 70% of programs start with
``t.set_default_dtype(t.float64)`` (so a wrong value stands out of rounding noise by many
orders of magnitude), the rest compute in float32; either way 8% of leaves take the other
dtype. Statements at a tie or kink carry a guard (see ``executor.GUARDS``); the generator
drops a statement whose guard fails, so such ties never enter a program.

Not generated: ops chainrule does not have (``atan2``, ``addcmul_``; they would only ever
be spurious errors), and discontinuous ops on computed values (``floor``, ``sign``,
comparisons), where one ulp of rounding flips the result; masks and indices are literals.
"""

from __future__ import annotations

import itertools
import random
import warnings
from typing import Any

import torch

from .executor import GUARDS, _compile, execute
from .program import Stmt

__all__ = ["generate", "Generator"]

F = "t.nn.functional"


def _num(v: float) -> str:
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    if s in ("-0", ""):
        s = "0"
    return s if ("." in s or "e" in s) else s + "."


def literal(values: Any, fmt: Any = _num) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(literal(v, fmt) for v in values) + "]"
    return fmt(values)


class Generator:
    def __init__(self, seed: int, length: int | None = None) -> None:
        self.r = random.Random(seed)
        self.length = length if length is not None else self.r.randint(3, 14)
        self.env: dict[str, Any] = {"t": torch}
        self.stmts: list[Stmt] = []
        self.count = itertools.count()

    # -- bookkeeping ------------------------------------------------------------------------

    def fresh(self, prefix: str = "x") -> str:
        return f"{prefix}{next(self.count)}"

    def emit(self, src: str, kind: str, guard: str | None = None, simpler=()) -> bool:
        """Runs the statement in torch and appends it (unless its guard refuses it)."""
        if guard is not None:
            try:
                if not eval(guard, {**self.env, **GUARDS}):  # noqa: S307
                    return False
            except Exception:  # noqa: BLE001
                pass
        self.stmts.append(Stmt(src, kind, guard, tuple(simpler)))
        return execute(_compile(src), self.env) is None

    def tensors(self, pred=lambda x: True) -> list[str]:
        out = []
        for k, v in self.env.items():
            if isinstance(v, torch.Tensor):
                try:
                    if pred(v):
                        out.append(k)
                except Exception:  # noqa: BLE001
                    pass
        return out

    def pick(self, pred=lambda x: True) -> str | None:
        """A pool tensor satisfying ``pred``; half the time one of the three newest (chains)."""
        c = self.tensors(pred)
        if not c:
            return None
        return self.r.choice(c[-3:] if self.r.random() < 0.5 else c)

    def pick_float(self, pred=lambda x: True) -> str | None:
        return self.pick(lambda x: x.is_floating_point() and pred(x))

    def const(self, lo: float = -2.0, hi: float = 2.0, nonzero: bool = False) -> str:
        while True:
            v = round(self.r.uniform(lo, hi), 1)
            if not nonzero or abs(v) >= 0.1:
                return _num(v)

    def shape(self, max_dims: int = 3) -> tuple[int, ...]:
        nd = self.r.choice([0, 1, 1, 2, 2, 2, 3, 3][: 1 + 2 * max_dims + (max_dims == 3)])
        nd = min(nd, max_dims)
        return tuple(self.r.randint(1, 4) for _ in range(nd))

    def values(self, shape: tuple[int, ...], lo=-2.0, hi=2.0) -> Any:
        if not shape:
            return round(self.r.uniform(lo, hi), 2)
        return [self.values(shape[1:], lo, hi) for _ in range(shape[0])]

    def leaf(self, shape: tuple[int, ...] | None = None, grad: bool | None = None,
             dtype: str | None = None) -> str:  # fmt: skip
        shape = self.shape() if shape is None else shape
        grad = self.r.random() < 0.65 if grad is None else grad
        default = "float64" if torch.get_default_dtype() == torch.float64 else "float32"
        other = "float32" if default == "float64" else "float64"
        dtype = dtype or (other if self.r.random() < 0.08 else default)
        name = self.fresh("a" if grad else "c")
        vals = self.values(shape)
        args = ""
        if dtype != default:
            args += f", dtype=t.{dtype}"
        if grad:
            args += ", requires_grad=True"
        src = f"{name} = t.tensor({literal(vals)}{args})"
        ones = literal(vals, lambda v: "1.")
        small = literal(vals, lambda v: _num(round(v)) if round(v) else "1.")
        simpler = [f"{name} = t.tensor({ones}{args})", f"{name} = t.tensor({small}{args})"]
        self.emit(src, "leaf", simpler=simpler)
        return name

    def index_tensor(self, size: int, shape: tuple[int, ...]) -> str:
        name = self.fresh("i")
        vals = self.values_int(shape, size)
        self.emit(f"{name} = t.tensor({literal(vals, str)})", "index")
        return name

    def values_int(self, shape: tuple[int, ...], size: int) -> Any:
        if not shape:
            return self.r.randrange(size)
        return [self.values_int(shape[1:], size) for _ in range(shape[0])]

    def mask(self, shape: tuple[int, ...]) -> str:
        name = self.fresh("m")

        def vals(s):
            if not s:
                return self.r.random() < 0.5
            return [vals(s[1:]) for _ in range(s[0])]

        self.emit(f"{name} = t.tensor({literal(vals(shape), str)})", "mask")
        return name

    def dim(self, x: torch.Tensor) -> int:
        if x.dim() == 0:
            return 0
        d = self.r.randrange(x.dim())
        return d - x.dim() if self.r.random() < 0.2 else d

    def partner(self, shape: tuple[int, ...], exact: bool = False) -> str:
        """A float tensor whose shape broadcasts to ``shape``: from the pool or a new leaf."""

        def fits(x):
            if not x.is_floating_point():
                return False
            if exact:
                return tuple(x.shape) == shape
            try:
                return torch.broadcast_shapes(x.shape, shape) == shape
            except RuntimeError:
                return False

        y = self.pick(fits) if self.r.random() < 0.6 else None
        if y is not None:
            return y
        s = list(shape)
        if not exact:
            s = [1 if self.r.random() < 0.3 else n for n in s]
            while s and self.r.random() < 0.25:
                s.pop(0)
        return self.leaf(tuple(s))

    def operand(self) -> str:
        x = self.pick_float() if self.r.random() < 0.85 else None
        return x if x is not None else self.leaf()

    # -- statement builders -----------------------------------------------------------------

    def b_leaf(self) -> bool:
        self.leaf()
        return True

    UNARY = [
        # (kind, expression, guard)
        ("exp", "{x}.exp()", None),
        ("tanh", "t.tanh({x})", None),
        ("sigmoid", "{x}.sigmoid()", None),
        ("sin", "{x}.sin()", None),
        ("cos", "t.cos({x})", None),
        ("neg", "-{x}", None),
        ("abs", "{x}.abs()", "away({x}, 0)"),
        ("relu", "t.relu({x})", "away({x}, 0)"),
        ("square", "{x} * {x}", None),
        ("pow", "{x} ** 2", None),
        ("pow3", "{x}.pow(3)", None),
        ("scale", "{x} * {c}", None),
        ("shift", "{x} + {c}", None),
        ("rsub", "{c} - {x}", None),
        ("div", "{x} / {cnz}", None),
        ("rdiv", "1 / ({x} * {x} + 0.5)", None),
        ("clamp", "{x}.clamp(-0.5, 0.5)", "away({x}, -0.5, 0.5)"),
        ("clamp_min", "{x}.clamp(min=0.2)", "away({x}, 0.2)"),
        ("log", "({x} * {x} + 0.5).log()", None),
        ("sqrt", "({x} * {x} + 0.1).sqrt()", None),
        ("softmax", "{x}.softmax({d})", None),
        ("log_softmax", "{x}.log_softmax({d})", None),
        ("gelu", F + ".gelu({x})", None),
        ("silu", F + ".silu({x})", None),
        ("softplus", F + ".softplus({x})", None),
        ("elu", F + ".elu({x})", "away({x}, 0)"),
        ("leaky_relu", F + ".leaky_relu({x}, 0.1)", "away({x}, 0)"),
        ("hardtanh", F + ".hardtanh({x})", "away({x}, -1, 1)"),
        ("clone", "{x}.clone()", None),
        ("double", "{x}.double()", None),
        ("float", "{x}.float()", None),
        ("detach", "{x}.detach()", None),
        ("cumsum", "{x}.cumsum({d})", None),
        ("flip", "{x}.flip({d})", None),
        ("cat", "t.cat([{x}, {x}], {d})", None),
        ("stack", "t.stack([{x}, {x} * 2])", None),
    ]

    def b_unary(self) -> bool:
        x = self.operand()
        xv = self.env.get(x)
        if not isinstance(xv, torch.Tensor):
            return False
        kind, expr, guard = self.r.choice(self.UNARY)
        if kind in ("cumsum", "flip", "cat") and xv.dim() == 0:
            return False
        fmt = {"x": x, "c": self.const(), "cnz": self.const(nonzero=True), "d": self.dim(xv)}
        y = self.fresh()
        self.emit(f"{y} = {expr.format(**fmt)}", "unary:" + kind,
                  guard.format(**fmt) if guard else None)  # fmt: skip
        return True

    BINARY = [
        ("add", "{x} + {y}", None),
        ("sub", "{x} - {y}", None),
        ("mul", "{x} * {y}", None),
        ("div", "{x} / ({y} * {y} + 0.5)", None),
        ("maximum", "t.maximum({x}, {y})", "apart({x}, {y})"),
        ("minimum", "t.minimum({x}, {y})", "apart({x}, {y})"),
        ("lerp", "{x}.lerp({y}, 0.3)", None),
        ("where", "t.where({m}, {x}, {y})", None),
    ]

    def b_binary(self) -> bool:
        x = self.operand()
        xv = self.env.get(x)
        if not isinstance(xv, torch.Tensor):
            return False
        kind, expr, guard = self.r.choice(self.BINARY)
        y = self.partner(tuple(xv.shape))
        if self.r.random() < 0.5:
            x, y = y, x
        fmt = {"x": x, "y": y}
        if kind == "where":
            fmt["m"] = self.mask(tuple(xv.shape))
        z = self.fresh()
        self.emit(f"{z} = {expr.format(**fmt)}", "binary:" + kind,
                  guard.format(**fmt) if guard else None)  # fmt: skip
        return True

    def b_reduce(self) -> bool:
        x = self.operand()
        xv = self.env.get(x)
        if not isinstance(xv, torch.Tensor):
            return False
        d = self.dim(xv)
        k = self.r.randint(1, max(1, xv.shape[d] if xv.dim() else 1))
        kd = ", keepdim=True" if self.r.random() < 0.3 else ""
        v, j = self.fresh(), self.fresh("j")
        choices = [
            ("sum", f"{v} = {x}.sum()", None),
            ("sum_dim", f"{v} = {x}.sum({d}{kd})", None),
            ("mean", f"{v} = {x}.mean()", None),
            ("mean_dim", f"{v} = {x}.mean({d}{kd})", None),
            ("prod", f"{v} = {x}.prod()", None),
            ("prod_dim", f"{v} = {x}.prod({d})", None),
            ("amax", f"{v} = {x}.amax({d}{kd})", f"distinct({x}, {d})"),
            ("max", f"{v} = {x}.max()", f"distinct({x})"),
            ("min", f"{v} = {x}.min()", f"distinct({x})"),
            ("max_dim", f"{v}, {j} = {x}.max({d}{kd})", f"distinct({x}, {d})"),
            ("min_dim", f"{v}, {j} = {x}.min({d})", f"distinct({x}, {d})"),
            ("argmax", f"{j} = {x}.argmax({d})", f"distinct({x}, {d})"),
            ("norm", f"{v} = {x}.norm()", None),
            ("var", f"{v} = {x}.var({d})", None),
            ("std", f"{v} = {x}.std()", f"spread({x}, {x}.dim())"),
            ("logsumexp", f"{v} = {x}.logsumexp({d})", None),
            ("sort", f"{v}, {j} = {x}.sort({d})", f"distinct({x}, {d}, False)"),
            ("topk", f"{v}, {j} = {x}.topk({k}, {d})", f"distinct({x}, {d}, False)"),
        ]
        kind, src, guard = self.r.choice(choices)
        self.emit(src, "reduce:" + kind, guard)
        return True

    def b_matmul(self) -> bool:
        x = self.pick_float(lambda t: 1 <= t.dim() <= 3)
        if x is None:
            x = self.leaf(self.shape()[:2] or (3,))
        xv = self.env.get(x)
        if not isinstance(xv, torch.Tensor) or xv.dim() == 0:
            return False
        n = xv.shape[-1]
        m = self.r.randint(1, 3)
        shapes = [(n,), (n, m)]
        if xv.dim() == 3:
            shapes.append((xv.shape[0], n, m))
        want = self.r.choice(shapes)
        y = self.pick_float(lambda t: tuple(t.shape) == want) if self.r.random() < 0.5 else None
        y = y or self.leaf(want)
        z = self.fresh()
        forms = [("matmul", f"{z} = {x} @ {y}"), ("matmul", f"{z} = t.matmul({x}, {y})")]
        if xv.dim() == 2 and len(want) == 2:
            forms.append(("mm", f"{z} = {x}.mm({y})"))
        if xv.dim() == 2 and len(want) == 1:
            forms.append(("mv", f"{z} = {x}.mv({y})"))
        kind, src = self.r.choice(forms)
        self.emit(src, "matmul:" + kind)
        return True

    def b_view(self) -> bool:
        x = self.pick() if self.r.random() < 0.9 else None
        x = x or self.leaf()
        xv = self.env.get(x)
        if not isinstance(xv, torch.Tensor):
            return False
        nd, sh = xv.dim(), tuple(xv.shape)
        v = self.fresh()
        c: list[tuple[str, str]] = [
            ("unsqueeze", f"{v} = {x}.unsqueeze({self.r.randint(-nd - 1, nd)})"),
            ("view", f"{v} = {x}.view(-1)"),
            ("reshape", f"{v} = {x}.reshape(-1)"),
            ("squeeze", f"{v} = {x}.squeeze()"),
            ("none", f"{v} = {x}[None]"),
            ("t", f"{v} = {x}.t()") if nd <= 2 else ("flatten", f"{v} = {x}.flatten()"),
            ("detach", f"{v} = {x}.detach()"),
            ("data", f"{v} = {x}.data"),
            ("expand", f"{v} = {x}.expand({self.expand_shape(sh)})"),
        ]
        if nd >= 1:
            d = self.dim(xv)
            n = sh[d]
            s = self.r.randrange(n)
            ln = self.r.randint(1, n - s)
            k = self.r.randint(1, n)
            pre = ":, " * (d % nd)
            parts = [self.fresh() for _ in range(min(3, -(-n // k)))]
            c += [
                ("slice", f"{v} = {x}[{pre}{s}:]"),
                ("slice_step", f"{v} = {x}[{pre}::2]"),
                ("select", f"{v} = {x}[{pre}{s}]"),
                ("ellipsis", f"{v} = {x}[..., {self.r.randrange(sh[-1])}]"),
                ("narrow", f"{v} = {x}.narrow({d}, {s}, {ln})"),
                ("squeeze_dim", f"{v} = {x}.squeeze({d})"),
                ("select_fn", f"{v} = {x}.select({d}, {s})"),
            ]
            if -(-n // k) <= 3:
                c.append(("split", f"{', '.join(parts)}, = {x}.split({k}, {d})"))
            if k <= 3:
                got = [self.fresh() for _ in torch.empty(n).chunk(k)]
                c.append(("chunk", f"{', '.join(got)}, = {x}.chunk({k}, {d})"))
            if n <= 3:
                names = [self.fresh() for _ in range(n)]
                c.append(("unbind", f"{', '.join(names)}, = {x}.unbind({d})"))
            if nd >= 2:
                d2 = (d + self.r.randint(1, nd - 1)) % nd
                perm = list(range(nd))
                self.r.shuffle(perm)
                c += [
                    ("transpose", f"{v} = {x}.transpose({d}, {d2})"),
                    ("permute", f"{v} = {x}.permute({', '.join(map(str, perm))})"),
                    ("diagonal", f"{v} = {x}.diagonal()"),
                    ("diagonal_off", f"{v} = {x}.diagonal({self.r.choice([-1, 1])})"),
                    ("mT", f"{v} = {x}.mT"),
                    ("view_shape", f"{v} = {x}.view({self.factor(xv.numel())})"),
                    ("reshape_shape", f"{v} = {x}.reshape({self.factor(xv.numel())})"),
                    ("slice2", f"{v} = {x}[:, {self.r.randrange(sh[1])}:]"),
                ]
        kind, src = self.r.choice(c)
        self.emit(src, "view:" + kind)
        return True

    def expand_shape(self, sh: tuple[int, ...]) -> str:
        out = [self.r.randint(2, 3) if n == 1 and self.r.random() < 0.7 else n for n in sh]
        if self.r.random() < 0.4 or not out:
            out.insert(0, self.r.randint(1, 3))
        if self.r.random() < 0.2:
            out = [-1 if i >= len(out) - len(sh) and self.r.random() < 0.5 else n
                   for i, n in enumerate(out)]  # fmt: skip
        return ", ".join(map(str, out))

    def factor(self, n: int) -> str:
        divs = [d for d in range(1, n + 1) if n % d == 0]
        a = self.r.choice(divs)
        return f"{a}, {n // a}" if self.r.random() < 0.7 else f"{a}, -1"

    def b_index(self) -> bool:
        x = self.pick(lambda t: t.dim() >= 1) if self.r.random() < 0.9 else None
        x = x or self.leaf(self.shape(3) or (3,))
        xv = self.env.get(x)
        if not isinstance(xv, torch.Tensor) or xv.dim() == 0:
            return False
        d = self.dim(xv)
        sh = tuple(xv.shape)
        v = self.fresh()
        kind = self.r.choice(["getitem", "index_select", "gather", "take", "mask", "masked_fill"])
        if kind == "getitem":
            i = self.index_tensor(sh[0], (self.r.randint(1, 4),))
            src = f"{v} = {x}[{i}]"
        elif kind == "index_select":
            i = self.index_tensor(sh[d], (self.r.randint(1, 4),))
            src = f"{v} = {x}.index_select({d}, {i})"
        elif kind == "gather":
            ish = tuple(self.r.randint(1, n) if k != d % len(sh) else self.r.randint(1, 4)
                        for k, n in enumerate(sh))  # fmt: skip
            i = self.index_tensor(sh[d], ish)
            src = f"{v} = {x}.gather({d}, {i})"
        elif kind == "take":
            i = self.index_tensor(xv.numel(), (self.r.randint(1, 4),))
            src = f"{v} = {x}.take({i})"
        elif kind == "mask":
            m = self.mask(sh)
            src = f"{v} = {x}[{m}]"
        else:
            m = self.mask(sh[self.r.randrange(len(sh) + 1) :])
            src = f"{v} = {x}.masked_fill({m}, {self.const()})"
        self.emit(src, "index:" + kind)
        return True

    def target_index(self, sh: tuple[int, ...]) -> str:
        if not sh:
            return "..."
        forms = [str(self.r.randrange(sh[0])), f"{self.r.randrange(sh[0])}:", "::2", "..."]
        if len(sh) >= 2:
            forms += [f":, {self.r.randrange(sh[1])}", f"{self.r.randrange(sh[0])}, 1:"]
        return self.r.choice(forms)

    def b_inplace(self) -> bool:
        x = self.pick() if self.r.random() < 0.92 else None
        x = x or self.leaf()
        xv = self.env.get(x)
        if not isinstance(xv, torch.Tensor):
            return False
        sh = tuple(xv.shape)
        c = self.const()
        fl = xv.is_floating_point()
        if not fl:  # an index or mask: mutate it (saved index arguments are version-checked)
            if xv.dtype == torch.bool:
                forms = [("fill_", f"{x}.fill_(True)"), ("logical_not_", f"{x}.logical_not_()")]
            else:
                forms = [("zero_", f"{x}.zero_()"), ("fill_", f"{x}.fill_(0)"),
                         ("setitem", f"{x}[{self.target_index(sh)}] = 0")]  # fmt: skip
            kind, src = self.r.choice(forms)
            self.emit(src, "inplace:" + kind)
            return True
        kind = self.r.choice([
            "add_", "sub_", "mul_", "mul_c", "div_", "iadd", "imul", "zero_", "fill_",
            "clamp_", "sigmoid_", "exp_", "tanh_", "relu_", "neg_", "abs_", "square_",
            "pow_", "copy_", "masked_fill_", "index_add_", "setitem_c", "setitem_t",
            "setitem_i", "F.relu_inplace", "data_mul_", "data_fill_", "data_setitem",
            "data_assign", "detach_zero_", "detach_mul_", "detach_", "requires_grad_",
            "requires_grad_false", "requires_grad_attr", "grad_none", "grad_zero_",
            "unsqueeze_", "t_", "sin_", "lerp_", "clamp_min_",
        ])  # fmt: skip
        g = None
        if kind in ("add_", "sub_", "iadd", "copy_", "lerp_"):
            y = self.partner(sh)
            src = {
                "add_": f"{x}.add_({y})",
                "sub_": f"{x}.sub_({y}, alpha={c})",
                "iadd": f"{x} += {y}",
                "copy_": f"{x}.copy_({y})",
                "lerp_": f"{x}.lerp_({y}, 0.25)",
            }[kind]
        elif kind == "mul_":
            y = self.partner(sh)
            src = f"{x}.mul_({y})"
        elif kind == "masked_fill_":
            m = self.mask(sh[self.r.randrange(len(sh) + 1) :])
            src = f"{x}.masked_fill_({m}, {c})"
        elif kind == "index_add_":
            if not sh:
                return False
            d = self.dim(xv)
            n = self.r.randint(1, 3)
            i = self.index_tensor(sh[d], (n,))
            src_sh = list(sh)
            src_sh[d] = n
            y = self.partner(tuple(src_sh), exact=True)
            src = f"{x}.index_add_({d}, {i}, {y})"
        elif kind == "setitem_t":
            idx = self.target_index(sh)
            try:
                tsh = tuple(xv[eval(f"numpy.s_[{idx}]", {"numpy": __import__("numpy")})].shape)
            except Exception:  # noqa: BLE001
                return False
            y = self.partner(tsh)
            yy = f"{y} * {self.const(nonzero=True)}" if self.r.random() < 0.5 else y
            src = f"{x}[{idx}] = {yy}"
        elif kind == "setitem_i":
            if not sh:
                return False
            i = self.index_tensor(sh[0], (self.r.randint(1, 3),))
            src = f"{x}[{i}] = {c}"
        else:
            src = {
                "mul_c": f"{x}.mul_({c})",
                "div_": f"{x}.div_({self.const(nonzero=True)})",
                "imul": f"{x} *= {c}",
                "zero_": f"{x}.zero_()",
                "fill_": f"{x}.fill_({c})",
                "clamp_": f"{x}.clamp_(-0.5, 0.5)",
                "clamp_min_": f"{x}.clamp_(min=0.1)",
                "sigmoid_": f"{x}.sigmoid_()",
                "exp_": f"{x}.exp_()",
                "tanh_": f"{x}.tanh_()",
                "sin_": f"{x}.sin_()",
                "relu_": f"{x}.relu_()",
                "neg_": f"{x}.neg_()",
                "abs_": f"{x}.abs_()",
                "square_": f"{x}.square_()",
                "pow_": f"{x}.pow_(2)",
                "setitem_c": f"{x}[{self.target_index(sh)}] = {c}",
                "F.relu_inplace": f"{F}.relu({x}, inplace=True)",
                "data_mul_": f"{x}.data.mul_({c})",
                "data_fill_": f"{x}.data.fill_({c})",
                "data_setitem": f"{x}.data[{self.target_index(sh)}] = {c}",
                "data_assign": f"{x}.data = t.zeros_like({x})",
                "detach_zero_": f"{x}.detach().zero_()",
                "detach_mul_": f"{x}.detach().mul_({c})",
                "detach_": f"{x}.detach_()",
                "requires_grad_": f"{x}.requires_grad_()",
                "requires_grad_false": f"{x}.requires_grad_(False)",
                "requires_grad_attr": f"{x}.requires_grad = True",
                "grad_none": f"{x}.grad = None",
                "grad_zero_": f"{x}.grad.zero_()",
                "unsqueeze_": f"{x}.unsqueeze_(0)",
                "t_": f"{x}.t_()",
            }[kind]
            g = {
                "clamp_": f"away({x}, -0.5, 0.5)",
                "clamp_min_": f"away({x}, 0.1)",
                "relu_": f"away({x}, 0)",
                "F.relu_inplace": f"away({x}, 0)",
                "abs_": f"away({x}, 0)",
            }.get(kind)
            if kind == "t_" and len(sh) > 2:
                return False
        if self.r.random() < 0.15 and "\n" not in src:
            self.emit(f"with t.no_grad():\n    {src}", "no_grad/inplace:" + kind, g)
        else:
            self.emit(src, "inplace:" + kind, g)
        return True

    def b_no_grad_op(self) -> bool:
        x = self.operand()
        if not isinstance(self.env.get(x), torch.Tensor):
            return False
        v = self.fresh()
        kind, expr = self.r.choice([
            ("mul", f"{x} * 2"), ("view", f"{x}[..., :1]"), ("t", f"{x}.t()" if
             self.env[x].dim() <= 2 else f"{x}.unsqueeze(0)"), ("exp", f"{x}.exp()"),
            ("expand", f"{x}.expand({self.expand_shape(tuple(self.env[x].shape))})"),
            ("detach", f"{x}.detach()"), ("view_1", f"{x}.view(-1)"),
        ])  # fmt: skip
        self.emit(f"with t.no_grad():\n    {v} = {expr}", "no_grad:" + kind)
        return True

    def b_retain_hook(self) -> bool:
        x = self.pick_float(lambda t: t.requires_grad)
        if x is None:
            return False
        r = self.r.random()
        if r < 0.4:
            self.emit(f"{x}.retain_grad()", "retain_grad")
        elif r < 0.9:
            h = self.fresh("h")
            fn = self.r.choice(["g * 2", "g + 1", "None", "g.clone().zero_()", "-g"])
            self.emit(f"{h} = {x}.register_hook(lambda g: {fn})", "hook:" + fn)
        else:
            hs = [k for k, v in self.env.items() if k.startswith("h") and hasattr(v, "remove")]
            if not hs:
                return False
            self.emit(f"{self.r.choice(hs)}.remove()", "hook:remove")
        return True

    def b_backward(self) -> bool:
        x = self.pick_float(lambda t: t.requires_grad)
        if x is None:
            return False
        xv = self.env[x]
        rg = self.r.random() < 0.5
        cg = self.r.random() < 0.15
        args = []
        if rg:
            args.append("retain_graph=True")
        if cg:
            args.append("create_graph=True")
        if self.r.random() < 0.1:
            ins = self.pick_float(lambda t: t.requires_grad)
            args.append(f"inputs=[{ins}]")
        a = ", ".join(args)
        r = self.r.random()
        if r < 0.45:
            src = f"{x}.sum().backward({a})"
        elif r < 0.65:
            src = f"({x} * {x}).sum().backward({a})"
        elif r < 0.8 and xv.numel() == 1:
            src = f"{x}.backward({a})"
        else:
            w = literal(self.values(tuple(xv.shape)))
            dt = ", dtype=t.float64" if xv.dtype == torch.float64 else ""
            src = f"{x}.backward(t.tensor({w}{dt}){', ' + a if a else ''})"
        self.emit(src, "backward")
        return True

    def b_grad(self) -> bool:
        x = self.pick_float(lambda t: t.requires_grad)
        if x is None:
            return False
        ins = self.tensors(lambda t: t.is_floating_point() and t.requires_grad)
        chosen = self.r.sample(ins, min(len(ins), self.r.randint(1, 2)))
        outs = [self.fresh("g") for _ in chosen]
        rg = self.r.random() < 0.5
        cg = self.r.random() < 0.4
        kw = ", allow_unused=True"
        kw += ", retain_graph=True" if rg else ""
        kw += ", create_graph=True" if cg else ""
        f = self.r.choice([f"{x}.sum()", f"({x} * {x}).sum()"])
        src = f"{', '.join(outs)}, = t.autograd.grad({f}, [{', '.join(chosen)}]{kw})"
        self.emit(src, "autograd.grad")
        return True

    def b_optim(self) -> bool:
        opts = [k for k, v in self.env.items() if isinstance(v, torch.optim.Optimizer)]
        if opts and self.r.random() < 0.75:
            o = self.r.choice(opts)
            kind, src = self.r.choice([
                ("step", f"{o}.step()"), ("step", f"{o}.step()"),
                ("zero_grad", f"{o}.zero_grad()"),
                ("zero_grad_keep", f"{o}.zero_grad(set_to_none=False)"),
            ])  # fmt: skip
            self.emit(src, "optim:" + kind)
            return True
        mods = [k for k, v in self.env.items() if isinstance(v, torch.nn.Module)]
        if mods and self.r.random() < 0.3:
            params = f"{self.r.choice(mods)}.parameters()"
        else:
            ps = self.tensors(lambda t: t.is_floating_point() and t.requires_grad and t.is_leaf)
            if not ps or self.r.random() < 0.05:
                ps = self.tensors(lambda t: t.is_floating_point())
            if not ps:
                return False
            params = "[" + ", ".join(self.r.sample(ps, min(len(ps), self.r.randint(1, 2)))) + "]"
        o = self.fresh("opt")
        r = self.r.random()
        if r < 0.45:
            mom = self.r.choice([0, 0, 0.9])
            kw = f"lr={self.r.choice([0.1, 0.5])}"
            if mom:
                kw += f", momentum={mom}"
                if self.r.random() < 0.3:
                    kw += ", nesterov=True"
            if self.r.random() < 0.3:
                kw += ", weight_decay=0.01"
            if self.r.random() < 0.1:
                kw += ", maximize=True"
            src = f"{o} = t.optim.SGD({params}, {kw})"
        else:
            cls = "Adam" if r < 0.8 else "AdamW"
            kw = f"lr={self.r.choice([0.01, 0.1])}"
            if self.r.random() < 0.3:
                kw += ", betas=(0.8, 0.9)"
            if self.r.random() < 0.3:
                kw += ", weight_decay=0.1"
            if self.r.random() < 0.2:
                kw += ", amsgrad=True"
            src = f"{o} = t.optim.{cls}({params}, {kw})"
        self.emit(src, "optim:new")
        return True

    def weights(self, name: str, attr: str, shape: tuple[int, ...]) -> str:
        return f"    {name}.{attr}.copy_(t.tensor({literal(self.values(shape, -1, 1))}))"

    def b_module(self) -> bool:
        mods = [k for k, v in self.env.items() if isinstance(v, torch.nn.Module)]
        if mods and self.r.random() < 0.5:
            m = self.r.choice(mods)
            mv = self.env[m]
            r = self.r.random()
            if r < 0.15:
                self.emit(f"{m}.{self.r.choice(['eval', 'train'])}()", "module:mode")
                return True
            if r < 0.3:
                p = self.fresh("p")
                attr = self.r.choice([n for n, _ in mv.named_parameters()] or ["training"])
                self.emit(f"{p} = {m}.{attr}", "module:param")
                return True
            return self.apply_module(m, mv)
        kind = self.r.choice(["Linear", "LayerNorm", "BatchNorm1d", "Conv1d"])
        x = self.pick_float(lambda t: 1 <= t.dim() <= 3)
        if x is None:
            x = self.leaf(self.shape()[:3] or (2, 3))
        xv = self.env.get(x)
        if not isinstance(xv, torch.Tensor) or xv.dim() == 0:
            return False
        m = self.fresh("mod")
        sh = tuple(xv.shape)
        lines: list[str] = []
        if kind == "Linear":
            n, o = sh[-1], self.r.randint(1, 3)
            bias = self.r.random() < 0.8
            lines.append(f"{m} = t.nn.Linear({n}, {o}{'' if bias else ', bias=False'})")
            lines.append(self.weights(m, "weight", (o, n)))
            if bias:
                lines.append(self.weights(m, "bias", (o,)))
        elif kind == "LayerNorm":
            ns = sh[-1:] if self.r.random() < 0.7 or len(sh) < 2 else sh[-2:]
            aff = self.r.random() < 0.7
            ns_s = f"({', '.join(map(str, ns))},)"
            lines.append(
                f"{m} = t.nn.LayerNorm({ns_s}{'' if aff else ', elementwise_affine=False'})"
            )
            if aff:
                lines.append(self.weights(m, "weight", ns))
                lines.append(self.weights(m, "bias", ns))
        elif kind == "BatchNorm1d":
            if len(sh) < 2:
                return False
            ch = sh[1]
            aff = self.r.random() < 0.7
            kw = "" if aff else ", affine=False"
            if self.r.random() < 0.2:
                kw += ", track_running_stats=False"
            if self.r.random() < 0.2:
                kw += ", momentum=0.5"
            lines.append(f"{m} = t.nn.BatchNorm1d({ch}{kw})")
            if aff:
                lines.append(self.weights(m, "weight", (ch,)))
                lines.append(self.weights(m, "bias", (ch,)))
        else:
            if len(sh) < 2:
                return False
            cin = sh[-2]
            cout, k = self.r.randint(1, 3), self.r.randint(1, 3)
            kw = ""
            if self.r.random() < 0.3:
                kw += ", padding=1"
            if self.r.random() < 0.2:
                kw += ", stride=2"
            bias = self.r.random() < 0.8
            if not bias:
                kw += ", bias=False"
            lines.append(f"{m} = t.nn.Conv1d({cin}, {cout}, {k}{kw})")
            lines.append(self.weights(m, "weight", (cout, cin, k)))
            if bias:
                lines.append(self.weights(m, "bias", (cout,)))
        if len(lines) > 1:
            lines.insert(1, "with t.no_grad():")
        self.emit("\n".join(lines), "module:" + kind)
        mv = self.env.get(m)
        if isinstance(mv, torch.nn.Module):
            return self.apply_module(m, mv, x)
        return True

    def apply_module(self, m: str, mv: Any, x: str | None = None) -> bool:
        kind = type(mv).__name__
        if x is None:
            if kind == "Linear":
                want = lambda t: t.dim() >= 1 and t.shape[-1] == mv.in_features  # noqa: E731
            elif kind == "LayerNorm":
                ns = tuple(mv.normalized_shape)
                want = lambda t: tuple(t.shape[t.dim() - len(ns) :]) == ns  # noqa: E731
            elif kind == "BatchNorm1d":
                want = lambda t: t.dim() in (2, 3) and t.shape[1] == mv.num_features  # noqa: E731
            else:
                want = lambda t: t.dim() in (2, 3) and t.shape[-2] == mv.in_channels  # noqa: E731
            x = self.pick_float(want)
            if x is None:
                return False
        y = self.fresh()
        guard = None
        if kind == "LayerNorm":
            guard = f"spread({x}, {len(mv.normalized_shape)})"
        elif kind == "BatchNorm1d" and mv.training:
            guard = f"spread({x}, 0, True)"
        self.emit(f"{y} = {m}({x})", "call:" + kind, guard)
        return True

    BUILDERS = [
        (b_leaf, 4),
        (b_unary, 14),
        (b_binary, 10),
        (b_reduce, 6),
        (b_matmul, 4),
        (b_view, 14),
        (b_index, 5),
        (b_inplace, 18),
        (b_no_grad_op, 2),
        (b_retain_hook, 5),
        (b_backward, 10),
        (b_grad, 4),
        (b_optim, 5),
        (b_module, 4),
    ]

    def run(self) -> list[Stmt]:
        if self.r.random() < 0.7:
            self.emit("t.set_default_dtype(t.float64)", "dtype")
        for _ in range(self.r.randint(1, 3)):
            self.leaf()
        builders, weights = zip(*self.BUILDERS)
        tries = 0
        setup = ("leaf", "index", "mask", "dtype")
        while sum(s.kind not in setup for s in self.stmts) < self.length and tries < 200:
            tries += 1
            b = self.r.choices(builders, weights)[0]
            try:
                b(self)
            except Exception:  # noqa: BLE001 - a builder read a state it did not expect
                continue
        return self.stmts


def generate(seed: int, length: int | None = None) -> list[Stmt]:
    """The program of ``seed`` (deterministic)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return Generator(seed, length).run()
        finally:
            torch.set_default_dtype(torch.float32)
            torch.set_grad_enabled(True)
