"""How tensors print: torch's format (4 decimals, scientific when needed, summarised >1000)."""

from __future__ import annotations

import numpy as np

from chainrule import dtypes
from chainrule.dtypes import kind_of

__all__ = ["tensor_repr", "set_printoptions"]

_opts = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


def set_printoptions(
    precision: int | None = None,
    threshold: int | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    sci_mode: bool | None = None,
) -> None:
    for key, value in (
        ("precision", precision),
        ("threshold", threshold),
        ("edgeitems", edgeitems),
        ("linewidth", linewidth),
    ):
        if value is not None:
            _opts[key] = value
    _opts["sci_mode"] = sci_mode


class _Formatter:
    """Chooses one format for all elements (torch's _Formatter), and their common width."""

    def __init__(self, values: np.ndarray) -> None:
        self.kind = kind_of(values.dtype)
        self.int_mode, self.sci_mode = True, False
        p = _opts["precision"]
        if self.kind in "iub":
            self.width = max((len(self._str(v)) for v in values.ravel()), default=1)
            return
        finite = values[np.isfinite(values) & (values != 0)]
        absv = np.abs(finite.astype(np.float64))
        self.int_mode = bool(np.all(finite == np.ceil(finite))) if finite.size else True
        if finite.size:
            lo, hi = absv.min(), absv.max()
            if self.int_mode:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
            else:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        if _opts["sci_mode"] is not None:
            self.sci_mode = _opts["sci_mode"]
        self.fmt = f"{{:.{p}e}}" if self.sci_mode else "{:.0f}." if self.int_mode else f"{{:.{p}f}}"
        # torch measures the nonzero finite values only: zeros, inf and nan are padded to
        # their width (tensor([0., nan]), not tensor([ 0., nan]))
        self.width = max((len(self._str(v)) for v in finite.ravel()), default=1)

    def _str(self, v: object) -> str:
        if self.kind == "b":
            return str(bool(v))
        if self.kind in "iu":
            return str(int(v))
        if not np.isfinite(v):
            return str(float(v))  # inf, -inf, nan
        return self.fmt.format(float(v))

    def format(self, v: object) -> str:
        return self._str(v).rjust(self.width)


class _ComplexFormatter:
    """torch's complex elements: the real parts in one format (padded to their width), the
    imaginary parts in another, unpadded, with their sign and a ``j``."""

    def __init__(self, values: np.ndarray) -> None:
        self.real, self.imag = _Formatter(values.real), _Formatter(values.imag)
        self.width = self.real.width + self.imag.width + 1

    def format(self, v: complex) -> str:
        imag = (self.imag.format(v.imag) + "j").lstrip()
        return self.real.format(v.real) + (imag if imag[0] in "+-" else "+" + imag)


def _summary_values(a: np.ndarray, summarize: bool) -> np.ndarray:
    """The elements that will be shown (edges only when summarising)."""
    if not summarize or a.ndim == 0:
        return a.ravel()
    e = _opts["edgeitems"]
    if a.shape[0] > 2 * e:
        parts = [_summary_values(a[i], summarize) for i in [*range(e), *range(-e, 0)]]
    else:
        parts = [_summary_values(a[i], summarize) for i in range(a.shape[0])]
    return np.concatenate(parts) if parts else a.ravel()


def _body(a: np.ndarray, f: _Formatter | _ComplexFormatter, indent: int, summarize: bool) -> str:
    e = _opts["edgeitems"]
    if a.ndim == 0:
        return f.format(a.item())
    if a.ndim == 1:
        items = [f.format(v) for v in a]
        if summarize and a.shape[0] > 2 * e:
            items = [*items[:e], " ...", *items[-e:]]
        per_line = max(1, (_opts["linewidth"] - indent) // (f.width + 2))
        lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(a.shape[0])
    if summarize and a.shape[0] > 2 * e:
        rows = [*range(e), None, *range(a.shape[0] - e, a.shape[0])]
    parts = ["..." if i is None else _body(a[i], f, indent + 1, summarize) for i in rows]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


def tensor_repr(t) -> str:
    """``tensor([1., 2.], requires_grad=True)``, exactly as torch prints it."""
    a = t._data
    prefix = "tensor("
    summarize = a.size > _opts["threshold"]
    suffixes = []
    if a.size == 0 and a.shape != (0,):
        body = "[]"
        suffixes.append(f"size={tuple(a.shape)}")
    elif a.size == 0:
        body = "[]"
    else:
        shown = _summary_values(a, summarize)
        f = _ComplexFormatter(shown) if a.dtype.kind == "c" else _Formatter(shown)
        body = _body(a, f, len(prefix), summarize)
    dt = dtypes.FROM_NP[a.dtype]
    default = dtypes.get_default_dtype()
    complex_default = dtypes.complex128 if default is dtypes.float64 else dtypes.complex64
    if dt not in (default, complex_default, dtypes.int64, dtypes.bool) or (
        a.size == 0 and dt is not dtypes.get_default_dtype()
    ):
        suffixes.append(f"dtype={dt!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name().removeprefix('torch::autograd::')}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, len(prefix))


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    """torch's _add_suffixes: a suffix that would pass the line width starts a new line.
    Widths are torch's ("torch." where we print "chainrule."), so lines break where
    torch's do."""
    parts = [text]
    last = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        n = len(suffix.replace("chainrule.", "torch."))
        if last + n + 2 > _opts["linewidth"]:
            parts.append(",\n" + " " * indent + suffix)
            last = indent + n
        else:
            parts.append(", " + suffix)
            last += n + 2
    parts.append(")")
    return "".join(parts)
