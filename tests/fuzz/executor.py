"""Run a program under torch and chainrule in lockstep and compare after every statement.

After each statement both runs must agree on: whether it raised (and then the exception's
type), and for every variable: tensors' values (float32 rtol 1e-5 / atol 1e-6; float64
rtol 1e-7 / atol 1e-9, or float32's once the program has computed in float32; others
exact), dtypes, shapes, ``.grad`` (presence, values, and the gradient's own flags),
``requires_grad`` and ``is_leaf``; tuples elementwise; Python numbers; modules' parameters
and buffers. Optimizers and hook handles are not compared (their effects
are, through the tensors).

A program's category is that of its first divergence, except that a divergence only in
``requires_grad``/``is_leaf`` is noted and the run continues, so a later wrong value or
missing error is still found (the program then takes the later category). Categories:

match, silently-wrong (a value, dtype, shape or gradient differs), missing-error (torch
raises, chainrule does not), spurious-error (chainrule raises, torch does not),
wrong-exception-type, flags-only, excluded (a tie guard fired before any divergence, on
either library's values: see ``GUARDS``), state-after-error, float32-rounding (a float32
value difference where the program matches in float64 up to that statement),
documented-departure (``DEPARTURES``).
"""

from __future__ import annotations

import builtins
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from .program import Stmt, stmt_replace

__all__ = [
    "MATCH",
    "SILENT",
    "MISSING",
    "SPURIOUS",
    "WRONG_EXC",
    "FLAGS",
    "AFTER_ERROR",
    "ROUNDING",
    "DEPARTURE",
    "DEPARTURES",
    "EXCLUDED",
    "CATEGORIES",
    "FAILING",
    "Divergence",
    "Session",
    "run_program",
    "GUARDS",
]

MATCH = "match"
SILENT = "silently-wrong"
MISSING = "missing-error"
SPURIOUS = "spurious-error"
WRONG_EXC = "wrong-exception-type"
FLAGS = "flags-only"
# Both raised the same error, but left different state behind: a backward that fails
# midway has accumulated into some leaves already, in each library's node order (torch's
# convolution adds its bias inside the one node that raises; chainrule adds it in a node of
# its own that runs first). The user was told loudly, so this is not "silently" wrong; it
# is reported in its own category, never hidden.
AFTER_ERROR = "state-after-error"
# A float32 value differs beyond tolerance, but the same program run in float64 in both
# libraries (``set_default_dtype``) matches: the two compute the same function and the
# float32 difference is rounding (cancellation in a double backward, say). Reported in its
# own category with its repro, never counted as a match.
ROUNDING = "float32-rounding"
# A value differs where torch's own semantics are inconsistent and chainrule departs from
# them on purpose, each departure documented by a test that shows both behaviours (see
# ``DEPARTURES``). Reported in its own category with its repro, never counted as a match.
DEPARTURE = "documented-departure"
EXCLUDED = "excluded"
CATEGORIES = (MATCH, SILENT, MISSING, SPURIOUS, WRONG_EXC, FLAGS, AFTER_ERROR, ROUNDING,
              DEPARTURE, EXCLUDED)  # fmt: skip
FAILING = (SILENT, MISSING)  # the "done when": zero of these

TOL = {"float32": (1e-5, 1e-6), "float64": (1e-7, 1e-9), "float16": (1e-3, 1e-3)}

torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------
# Guards: the only exclusions. Each names a place where the two libraries may legitimately
# differ because the result is decided by a tie that float rounding can break either way.
# They are narrow on purpose: exact values (an exact 0 from zero_() or relu, an exact tie
# maximum(x, x)) are deterministic conventions and are *not* excluded, except where torch
# itself leaves the order unspecified (sort/topk among equal values).
# ---------------------------------------------------------------------------------------------

NEAR = 1e-4  # "near" a kink: within this (relative to the values' scale), but not exactly on it


def _np(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().double().numpy()
    return np.asarray(x, dtype=np.float64)


def away(x: Any, *points: float) -> bool:
    """No element of ``x`` is near (but not exactly at) a kink point (relu/abs/clamp ...)."""
    a = _np(x)
    for p in points:
        d = np.abs(a - p)
        if np.any((d > 0) & (d < NEAR)):
            return False
    return True


def apart(x: Any, y: Any) -> bool:
    """``x`` and ``y`` (broadcast) are not nearly tied: maximum/minimum pick a side."""
    a, b = np.broadcast_arrays(_np(x), _np(y))
    d = np.abs(a - b)
    scale = np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    return not np.any((d > 0) & (d < NEAR * scale))


def distinct(x: Any, dim: int | None = None, exact_ties_ok: bool = True) -> bool:
    """Along ``dim`` (all elements for None), no two values nearly tie.

    Exact ties are allowed when torch's choice among them is documented (max/min/argmax(dim):
    the first occurrence; max()/amax: the gradient split evenly), refused for sort/topk, whose
    order among equal values torch leaves unspecified (``exact_ties_ok=False``).
    """
    a = _np(x)
    if a.ndim == 0:
        return True
    a = a.reshape(-1, 1) if dim is None else np.moveaxis(a, dim, -1).reshape(-1, a.shape[dim])
    if a.shape[-1] < 2:
        return True
    s = np.sort(a, axis=-1)
    d = np.diff(s, axis=-1)
    scale = np.maximum(1.0, np.abs(s[..., 1:]))
    near = (d > 0) & (d < NEAR * scale)
    if not exact_ties_ok:
        near |= d == 0
    if np.any(np.isnan(a)):
        return exact_ties_ok
    return not np.any(near)


def spread(x: Any, ndims: int, batch: bool = False) -> bool:
    """float32 normalization groups (LayerNorm: the last ``ndims`` dims; BatchNorm: all but
    dim 1) are not (nearly) constant: there the output is rounding noise divided by
    ``sqrt(eps)`` (torch's fused kernel gives 1e-5 where the exact answer is 0)."""
    if not isinstance(x, torch.Tensor) or x.dtype != torch.float32:
        return True
    a = _np(x)
    if batch:
        a = np.moveaxis(a, 1, -1).reshape(-1, a.shape[1]).T
    else:
        a = a.reshape(-1, int(np.prod(a.shape[a.ndim - ndims :])))
    if a.shape[-1] < 2:
        return False
    return bool(np.all(a.var(axis=-1) > 1e-4))


GUARDS = {"away": away, "apart": apart, "distinct": distinct, "spread": spread}


# ---------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=100_000)
def _compile(src: str) -> Any:
    return compile(src, "<fuzz>", "exec")


def exc_type(e: BaseException) -> str:
    """The exception's builtin class (a library's own subclass counts as its builtin base)."""
    for k in type(e).__mro__:
        if getattr(builtins, k.__name__, None) is k:
            return k.__name__
    return type(e).__name__


def _fmt_exc(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{exc_type(e)}: {msg[:160]}"


def _msg_key(e: BaseException) -> str:
    """A message's first words with numbers and names blanked: groups findings by cause."""
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    msg = re.sub(r"\[[^\]]*\]|\([^)]*\)|'[^']*'|\d+", "_", msg)
    return " ".join(msg.split()[:7])


def execute(code: Any, env: dict) -> BaseException | None:
    try:
        exec(code, env)
    except Exception as e:  # noqa: BLE001 - any exception is an outcome to compare
        return e
    return None


@dataclass
class Divergence:
    category: str
    index: int  # the statement
    kind: str  # the statement's kind
    detail: str  # what differs ("x3.grad values", "exception")
    torch: str  # torch's outcome
    chainrule: str  # chainrule's outcome
    key: str = ""  # the message or attribute key that groups findings

    @property
    def signature(self) -> tuple[str, str, str]:
        return (self.category, self.kind, self.key)


def _short(a: Any) -> str:
    s = np.array2string(np.asarray(a), precision=4, separator=", ", threshold=20)
    return " ".join(s.split())


def _is_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor) or type(x).__name__ in ("Tensor", "Parameter")


def _dtype_name(x: Any) -> str:
    return str(x.dtype).rsplit(".", 1)[-1]


def _values(x: Any) -> np.ndarray:
    return np.asarray(x.detach().numpy())


def close(b: np.ndarray, a: np.ndarray, rtol: float, atol: float) -> bool:
    """``b`` within tolerance of torch's ``a`` (equal infinities and nans agree)."""
    with np.errstate(all="ignore"):
        ok = (a == b) | (np.abs(a - b) <= atol + rtol * np.abs(a)) | (np.isnan(a) & np.isnan(b))
    return bool(ok.all())


Diff = tuple[bool, str, str, str]  # (flags only, what, torch, chainrule)


def _cmp_tensor(name: str, a: Any, b: Any, grad_too: bool = True, low: bool = False) -> Diff | None:
    if not _is_tensor(b):
        return (False, f"{name} type", "Tensor", type(b).__name__)
    if tuple(a.shape) != tuple(b.shape):
        return (False, f"{name} shape", str(tuple(a.shape)), str(tuple(b.shape)))
    if _dtype_name(a) != _dtype_name(b):
        return (False, f"{name} dtype", _dtype_name(a), _dtype_name(b))
    va, vb = _values(a), _values(b)
    dt = _dtype_name(a)
    if dt in TOL:
        rtol, atol = TOL["float32" if low and dt == "float64" else dt]
        ok = close(vb, va, rtol, atol)
    else:
        ok = np.array_equal(va, vb)
    if not ok:
        return (False, f"{name} values", _short(va), _short(vb))
    if grad_too:
        ga, gb = a.grad, b.grad
        if (ga is None) != (gb is None):
            return (False, f"{name}.grad", _short(_values(ga)) if ga is not None else "None",
                    _short(_values(gb)) if gb is not None else "None")  # fmt: skip
        if ga is not None:
            d = _cmp_tensor(f"{name}.grad", ga, gb, grad_too=False, low=low)
            if d is not None:
                return d
    if a.requires_grad != b.requires_grad:
        return (True, f"{name}.requires_grad", str(a.requires_grad), str(b.requires_grad))
    try:
        leaf = a.is_leaf
    except RuntimeError:
        # torch refuses to read the history of an invalidated view (a split output whose
        # base was written): only the program's own use of it is compared
        return None
    if leaf != b.is_leaf:
        return (True, f"{name}.is_leaf", str(leaf), str(b.is_leaf))
    return None


def compare(name: str, a: Any, b: Any, low: bool = False) -> Diff | None:
    """The first difference between torch's ``a`` and chainrule's ``b``, flags last.

    ``low``: the program has computed in float32, so float64 values may carry float32
    rounding (a float32 result cast up): they are compared at float32's tolerance.
    """
    if _is_tensor(a):
        return _cmp_tensor(name, a, b, low=low)
    if isinstance(a, torch.nn.Module):
        pa = dict(a.named_parameters())
        pb = dict(b.named_parameters()) if hasattr(b, "named_parameters") else {}
        ba, bb = dict(a.named_buffers()), dict(b.named_buffers())
        flag: Diff | None = None
        for k in sorted(set(pa) | set(ba)):
            x, y = pa.get(k, ba.get(k)), pb.get(k, bb.get(k))
            if y is None:
                return (False, f"{name}.{k}", "present", "missing")
            d = compare(f"{name}.{k}", x, y, low)
            if d is not None and not d[0]:
                return d
            flag = flag or d
        if a.training != b.training:
            return (False, f"{name}.training", str(a.training), str(b.training))
        return flag
    if isinstance(a, (tuple, list)):
        if not isinstance(b, (tuple, list)) or len(a) != len(b):
            return (False, f"{name} type", f"{type(a).__name__}[{len(a)}]", repr(b)[:60])
        flag = None
        for i, (x, y) in enumerate(zip(a, b)):
            d = compare(f"{name}[{i}]", x, y, low)
            if d is not None and not d[0]:
                return d
            flag = flag or d
        return flag
    if _is_tensor(b) or isinstance(b, (torch.nn.Module, tuple, list)):
        return (False, f"{name} type", type(a).__name__, type(b).__name__)
    if a is None or isinstance(a, (bool, int, float, str)):
        if isinstance(a, float) and isinstance(b, (int, float)):
            if np.isclose(b, a, rtol=1e-5, atol=1e-6, equal_nan=True):
                return None
        elif a == b and type(a) is type(b):
            return None
        return (False, f"{name}", repr(a), repr(b))
    return None  # optimizers, hook handles, functions: compared through their effects


def _has_float32(v: Any) -> bool:
    if isinstance(v, torch.Tensor):
        return v.dtype in (torch.float32, torch.float16, torch.bfloat16)
    if isinstance(v, torch.nn.Module):
        return any(p.dtype == torch.float32 for p in v.parameters())
    if isinstance(v, (tuple, list)):
        return any(_has_float32(x) for x in v)
    return False


class Session:
    """Executes statements in both libraries in lockstep; ``step`` reports the first divergence.

    ``cr`` is the module under test (chainrule). After a divergence other than flags-only, the
    runs no longer describe the same state and ``step`` refuses to continue.
    """

    def __init__(self, cr: Any) -> None:
        reset(cr)
        self.envs = ({"t": torch}, {"t": cr})
        self.index = 0
        self.flags: Divergence | None = None  # the first flags-only divergence
        self.final: Divergence | None = None  # the first other divergence (or an exclusion)
        self.low = False  # float32 values seen: float64 ones compared at float32's tolerance

    @property
    def done(self) -> bool:
        return self.final is not None

    def category(self) -> str:
        if self.final is not None:
            return self.final.category
        return FLAGS if self.flags is not None else MATCH

    def divergence(self) -> Divergence | None:
        return self.final or self.flags

    def step(self, stmt: Stmt) -> Divergence | None:
        assert not self.done, "the runs have diverged"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._step(stmt)

    def _step(self, stmt: Stmt) -> Divergence | None:
        i, self.index = self.index, self.index + 1
        te, ce = self.envs
        if stmt.guard is not None:
            ok = True  # on both sides' values: torch's exactly at a kink, chainrule's a
            for env in (te, ce):  # rounding away from it (or the reverse) is a tie too
                try:
                    ok = ok and bool(eval(stmt.guard, {**env, **GUARDS}))  # noqa: S307
                except Exception:  # noqa: BLE001 - the statement itself will fail in both
                    pass
            if not ok:
                self.final = Divergence(EXCLUDED, i, stmt.kind, "guard", stmt.guard, "", "tie")
                return self.final
        code = _compile(stmt.src)
        et = execute(code, te)
        ec = execute(code, ce)
        d: Divergence | None = None
        if et is not None and ec is not None:
            if exc_type(et) != exc_type(ec):
                d = Divergence(WRONG_EXC, i, stmt.kind, "exception", _fmt_exc(et), _fmt_exc(ec),
                               f"{exc_type(et)}->{exc_type(ec)}: {_msg_key(et)}")  # fmt: skip
        elif et is not None:
            d = Divergence(MISSING, i, stmt.kind, "exception", _fmt_exc(et), "no exception",
                           _msg_key(et))  # fmt: skip
        elif ec is not None:
            d = Divergence(SPURIOUS, i, stmt.kind, "exception", "no exception", _fmt_exc(ec),
                           f"{exc_type(ec)}: {_msg_key(ec)}")  # fmt: skip
        if d is None:
            d = self._compare_state(i, stmt)
            if d is not None and et is not None:
                # both raised alike, but left different state behind (a backward that fails
                # midway has accumulated into some leaves already: in torch's node order)
                d.key = "after both raised: " + d.key
                d.detail += f" (after both raised {exc_type(et)})"
                if d.category == SILENT:
                    d.category = AFTER_ERROR
        if d is None:
            return None
        if d.category == FLAGS:
            if self.flags is None:
                self.flags = d
            return None
        self.final = d
        return d

    def _compare_state(self, i: int, stmt: Stmt) -> Divergence | None:
        te, ce = self.envs
        flag: Divergence | None = None
        if not self.low:
            self.low = any(_has_float32(v) for v in te.values())
        for name in te.keys() | ce.keys():
            if name == "t" or name.startswith("__"):
                continue
            if (name in te) != (name in ce):
                return Divergence(SILENT, i, stmt.kind, f"{name} defined",
                                  str(name in te), str(name in ce), "defined")  # fmt: skip
            try:
                diff = compare(name, te[name], ce[name], self.low)
            except Exception as e:  # noqa: BLE001 - reading a value failed: report it
                return Divergence(SPURIOUS, i, stmt.kind, f"{name} read", "", _fmt_exc(e),
                                  f"read: {exc_type(e)}")  # fmt: skip
            if diff is None:
                continue
            flags_only, what, a, b = diff
            attr = what.split(" ", 1)[-1] if " " in what else what.split(".", 1)[-1]
            key = re.sub(r"\[\d+\]", "", attr)
            if not flags_only:
                return Divergence(SILENT, i, stmt.kind, what, a, b, key)
            if flag is None:
                flag = Divergence(FLAGS, i, stmt.kind, what, a, b, key)
        return flag


@dataclass
class Result:
    category: str
    divergence: Divergence | None
    steps: int


def reset(cr: Any, dtype: str = "float32") -> None:
    """The global state programs may change, back to the defaults in both libraries."""
    for lib in (torch, cr):
        lib.set_default_dtype(getattr(lib, dtype))
        lib.set_grad_enabled(True)


_VIEW_INPLACE = re.compile(r"\.(t_|transpose_|swapdims_|swapaxes_|squeeze_|unsqueeze_)\(")
_DETACHED = re.compile(r"^(\w+) = \w+\.detach\(\)$")


def _view_op_under_no_grad(stmts: Any, cr: Any) -> bool:
    """x.t_() (squeeze_, unsqueeze_ ...) under no_grad on a tensor with history: torch keeps
    the old node, so its backward raises or ignores the new shape; chainrule records the
    view op (tests/test_views_semantics.py::test_inplace_view_under_no_grad_is_recorded)."""
    return any("no_grad()" in st.src and _VIEW_INPLACE.search(st.src) for st in stmts)


_VIEW_OF = re.compile(
    r"^(\w+) = (\w+)(\[|\.(select|diagonal|t|transpose|view|reshape|"
    r"expand|narrow|unsqueeze|squeeze|permute|mT|T)\b)"
)
_WRITE_READING = re.compile(r"^(\w+)(\.\w+_\(|\[.*\] = )(.*)$")


def _in_place_reading_its_own_view(stmts: Any, cr: Any) -> bool:
    """``c.mul_(c.diagonal())``, ``c.copy_(c.select(1, 1))``: an in-place op reading a view
    of the tensor it writes. torch's overlap check gives up on such (non-dense) views and its
    kernel reads values it has already written, in its traversal order; chainrule computes
    the op on the values before the write (tests/test_views_semantics.py::
    test_in_place_op_reading_a_view_of_its_target_uses_the_values_before_the_write)."""
    lines = [line.strip() for st in stmts for line in st.src.splitlines()]  # with-blocks too
    views = {}
    for line in lines:
        m = _VIEW_OF.match(line)
        if m:
            views[m.group(1)] = m.group(2)
    for line in lines:
        m = _WRITE_READING.match(line)
        if m and any(views.get(w) == m.group(1) for w in re.findall(r"\b\w+\b", m.group(3))):
            return True
    return False


# the documented departures from torch: (name, test, the categories it may explain)
DEPARTURES = (
    ("in-place view op under no_grad", _view_op_under_no_grad, (SILENT, MISSING)),
    ("in-place op reading a view of its target", _in_place_reading_its_own_view, (SILENT,)),
)


def run_program(stmts: list[Stmt] | tuple[Stmt, ...], cr: Any) -> Result:
    """Runs the whole program (until its first non-flags divergence) and classifies it. A
    float32 value difference is run again in float64 up to the diverging statement: if that
    matches, it is rounding (what comes after may stop on a guard in float64). A
    value difference in a documented departure (``DEPARTURES``) is reported as one."""
    s = _run(stmts, cr, "float32")
    d = s.divergence()
    if s.category() == SILENT and s.low and d is not None and d.key.endswith("values"):
        # up to the diverging statement, with float32 tensors made float64 too (those a
        # program names explicitly: `dtype=t.float32`, `.float()`)
        wider = [_in_float64(st) for st in stmts[: d.index + 1]]
        again = _run(wider, cr, "float64")
        if again.category() in (MATCH, FLAGS):
            d.category = ROUNDING
            d.detail += " (matches when run in float64)"
    if s.category() in (SILENT, MISSING) and d is not None:
        for name, test, explains in DEPARTURES:
            if s.category() in explains and test(stmts, cr):
                d.category = DEPARTURE
                d.detail += f" (documented departure: {name})"
                break
    return Result(s.category(), d, s.index)


def _in_float64(st: Stmt) -> Stmt:
    """``st`` with the float32 it names explicitly replaced by float64 (the rounding rerun)."""
    src = st.src.replace("t.float32", "t.float64").replace(".float()", ".double()")
    return st if src == st.src else stmt_replace(st, src)


def _run(stmts: list[Stmt] | tuple[Stmt, ...], cr: Any, dtype: str) -> Session:
    s = Session(cr)
    reset(cr, dtype)
    try:
        for st in stmts:
            s.step(st)
            if s.done:
                break
    finally:
        reset(cr)
    return s
