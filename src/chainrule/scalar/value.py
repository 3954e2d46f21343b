"""``Value``: one scalar, the operation that made it, and its gradient (standard library only).

A result node keeps at most two inputs, ``_a`` and ``_b``, and the *local derivatives* of its
operation with respect to them, ``_da`` and ``_db`` (the numbers d out / d input, worked
out in the forward pass), plus the operation's name ``_op`` for drawing (``_prev`` gives the
inputs as a tuple, as in micrograd). There are no per-node closures, so a graph holds no
reference cycles: it is freed by reference counting the moment the last result goes out of
scope, and Python's cyclic garbage collector has nothing to chase. Backward is then one rule
for every operation, ``input.grad += local * out.grad``, walked in the order that
``chainrule.graph.toposort`` gives (an explicit stack, no recursion: any depth works; ``_order``
is that same walk written out for two children, the engine's hot loop; it keeps its state in
one more slot, ``_walk``, instead of a set of seen nodes).

Numbers follow IEEE 754 / PyTorch rather than Python's exceptions: ``exp`` overflows to
``inf``, ``log(0)`` is ``-inf``, ``sqrt(-1)`` and ``log(-1)`` are ``nan``, ``x / 0`` is
``±inf``; ``sigmoid`` and ``tanh`` are computed in forms that cannot overflow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real
from operator import attrgetter

__all__ = ["Value", "weighted_sum"]

Number = int | float
_INF = math.inf
_NAN = math.nan


# ------------------------------------------------------------------ IEEE-style float helpers


def _is_odd_integer(k: float) -> bool:
    return math.isfinite(k) and k == math.floor(k) and math.fmod(k, 2.0) != 0.0


def _pow(a: float, k: float) -> float:
    """``a ** k`` for real numbers with IEEE results (inf at poles and on overflow, nan
    where the answer is not real) instead of Python's exceptions and complex numbers."""
    try:
        return math.pow(a, k)
    except OverflowError:
        return -_INF if a < 0.0 and _is_odd_integer(k) else _INF
    except ValueError:  # 0 ** negative (a pole) or negative ** fraction (not real)
        if a == 0.0:
            return math.copysign(_INF, a) if _is_odd_integer(k) else _INF
        return _NAN


def _div(a: float, b: float) -> float:
    """``a / b`` with IEEE results for ``b == 0`` (``±inf``, or ``nan`` for ``0 / 0``)."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0.0 or a != a:
            return _NAN
        return math.copysign(_INF, a) * math.copysign(1.0, b)


def _log(a: float) -> float:
    if a > 0.0:
        return math.log(a)
    return -_INF if a == 0.0 else _NAN  # a < 0 or nan


def _exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        return _INF


def _sigmoid(a: float) -> float:
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))  # exp(-a) <= 1: no overflow
    e = math.exp(a)  # a < 0: exp(a) < 1, no overflow
    return e / (1.0 + e)


# ------------------------------------------------------------------ the node

_new = object.__new__  # a blank Value, skipping __init__ (hot path)


def _node(data: float, a: Value, da: float, b: Value | None, db: float, op: str) -> Value:
    """Make a result node without going through ``__init__`` (the hot path)."""
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v.label = ""
    v._a = a
    v._da = da
    v._b = b
    v._db = db
    v._op = op
    v._walk = None
    return v


def _lift(x: object) -> Value | None:
    """A Value for a plain number (a new leaf), ``x`` itself for a Value, else None."""
    if isinstance(x, Value):
        return x
    if isinstance(x, Real):
        return Value(x)
    return None


_children_of = attrgetter("_a", "_b")


class Value:
    """A scalar in a computation graph, micrograd style, with a gradient on every node.

    ``Value(data, label='')`` makes an input. Arithmetic (``+ - * / **``, either side may be
    a plain number, and ``Value ** Value``), ``-v``, ``abs(v)`` and the methods ``exp``,
    ``log``, ``sqrt``, ``tanh``, ``relu``, ``sigmoid``, ``sin``, ``cos`` make new nodes.
    ``<``, ``<=``, ``>``, ``>=`` compare ``.data`` (with Values or numbers) and return a bool;
    ``==`` stays identity, so a Value can be a dict key or set member.

    **Backward rule: reset, then accumulate.** ``v.backward()`` sets ``.grad`` on every node
    of the graph below ``v`` to zero, seeds ``v.grad = 1``, then accumulates
    ``input.grad += local * out.grad`` once per edge. Every ``.grad`` is therefore exactly
    ``d v / d node`` for *this* call: calling ``backward()`` twice gives the same gradients
    as calling it once, and a training loop is correct even if it forgets ``zero_grad()``.
    (Accumulating across calls is the other choice; micrograd's version of it is not
    idempotent: its second call re-adds the interior nodes' old gradients too. The price of
    resetting: to add the gradients of two losses, call ``backward()`` on their sum.)
    """

    __slots__ = ("data", "grad", "label", "_a", "_da", "_b", "_db", "_op", "_walk")

    data: float
    grad: float
    label: str
    _a: Value | None
    _da: float
    _b: Value | None
    _db: float
    _op: str
    _walk: object

    def __init__(self, data: Number, label: str = "") -> None:
        if not isinstance(data, Real):
            raise TypeError(f"Value(data): data must be a real number, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self.label = label
        self._a = None
        self._da = 0.0
        self._b = None
        self._db = 0.0
        self._op = ""
        self._walk = None

    # -------------------------------------------------------------- binary arithmetic

    def __add__(self, other: Value | Number) -> Value:
        if other.__class__ is not Value:
            other = _lift(other)
            if other is None:
                return NotImplemented
        v = _new(Value)  # _node(self.data + other.data, self, 1.0, other, 1.0, "+"), inlined
        v.data = self.data + other.data
        v.grad = 0.0
        v.label = ""
        v._a = self
        v._da = 1.0
        v._b = other
        v._db = 1.0
        v._op = "+"
        v._walk = None
        return v

    def __radd__(self, other: Number) -> Value:
        other = _lift(other)
        return NotImplemented if other is None else other + self

    def __sub__(self, other: Value | Number) -> Value:
        if other.__class__ is not Value:
            other = _lift(other)
            if other is None:
                return NotImplemented
        return _node(self.data - other.data, self, 1.0, other, -1.0, "-")

    def __rsub__(self, other: Number) -> Value:
        other = _lift(other)
        return NotImplemented if other is None else other - self

    def __mul__(self, other: Value | Number) -> Value:
        if other.__class__ is not Value:
            other = _lift(other)
            if other is None:
                return NotImplemented
        a = self.data
        b = other.data
        v = _new(Value)  # _node(a * b, self, b, other, a, "*"), inlined
        v.data = a * b
        v.grad = 0.0
        v.label = ""
        v._a = self
        v._da = b
        v._b = other
        v._db = a
        v._op = "*"
        v._walk = None
        return v

    def __rmul__(self, other: Number) -> Value:
        other = _lift(other)
        return NotImplemented if other is None else other * self

    def __truediv__(self, other: Value | Number) -> Value:
        if other.__class__ is not Value:
            other = _lift(other)
            if other is None:
                return NotImplemented
        b = other.data
        out = _div(self.data, b)
        return _node(out, self, _div(1.0, b), other, -_div(out, b), "/")

    def __rtruediv__(self, other: Number) -> Value:
        other = _lift(other)
        return NotImplemented if other is None else other / self

    def __pow__(self, other: Value | Number) -> Value:
        a = self.data
        if isinstance(other, Value):
            k = other.data
            out = _pow(a, k)
            d_base = 0.0 if k == 0.0 else k * _pow(a, k - 1.0)
            d_exp = 0.0 if (a == 0.0 and k >= 0.0) else out * _log(a)
            return _node(out, self, d_base, other, d_exp, "**")
        if not isinstance(other, Real):
            return NotImplemented
        k = float(other)
        d_base = 0.0 if k == 0.0 else k * _pow(a, k - 1.0)
        return _node(_pow(a, k), self, d_base, None, 0.0, f"**{other}")

    def __rpow__(self, other: Number) -> Value:
        other = _lift(other)
        return NotImplemented if other is None else other**self

    # -------------------------------------------------------------- unary operations

    def __neg__(self) -> Value:
        return _node(-self.data, self, -1.0, None, 0.0, "neg")

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        a = self.data
        sign = 1.0 if a > 0.0 else (-1.0 if a < 0.0 else 0.0)  # abs'(0) = 0, as in torch
        return _node(abs(a), self, sign, None, 0.0, "abs")

    def abs(self) -> Value:
        """``|x|`` (derivative sign(x), 0 at 0)."""
        return self.__abs__()

    def exp(self) -> Value:
        """``e**x`` (derivative e**x)."""
        out = _exp(self.data)
        return _node(out, self, out, None, 0.0, "exp")

    def log(self) -> Value:
        """The natural logarithm (derivative 1/x)."""
        a = self.data
        return _node(_log(a), self, _div(1.0, a), None, 0.0, "log")

    def sqrt(self) -> Value:
        """The square root (derivative 1/(2 sqrt(x))); nan for a negative number."""
        a = self.data
        out = math.sqrt(a) if a >= 0.0 else _NAN
        return _node(out, self, _div(0.5, out), None, 0.0, "sqrt")

    def tanh(self) -> Value:
        """The hyperbolic tangent (derivative 1 - tanh(x)²)."""
        t = math.tanh(self.data)
        return _node(t, self, 1.0 - t * t, None, 0.0, "tanh")

    def sigmoid(self) -> Value:
        """``1 / (1 + e**-x)`` (derivative s(1 - s))."""
        s = _sigmoid(self.data)
        return _node(s, self, s * (1.0 - s), None, 0.0, "sigmoid")

    def relu(self) -> Value:
        """``max(0, x)`` (derivative 1 for x > 0, else 0, as torch)."""
        a = self.data
        v = _new(Value)  # _node(relu(a), self, relu'(a), None, 0.0, "ReLU"), inlined
        if a <= 0.0:  # relu'(0) = 0, as in torch; nan passes through
            v.data = 0.0
            v._da = 0.0
        else:
            v.data = a
            v._da = 1.0
        v.grad = 0.0
        v.label = ""
        v._a = self
        v._b = None
        v._db = 0.0
        v._op = "ReLU"
        v._walk = None
        return v

    def sin(self) -> Value:
        """The sine (derivative cos x)."""
        a = self.data
        if math.isinf(a):
            return _node(_NAN, self, _NAN, None, 0.0, "sin")
        return _node(math.sin(a), self, math.cos(a), None, 0.0, "sin")

    def cos(self) -> Value:
        """The cosine (derivative -sin x)."""
        a = self.data
        if math.isinf(a):
            return _node(_NAN, self, _NAN, None, 0.0, "cos")
        return _node(math.cos(a), self, -math.sin(a), None, 0.0, "cos")

    # -------------------------------------------------------------- comparisons on .data

    def __lt__(self, other: Value | Number) -> bool:
        return self.data < (other.data if other.__class__ is Value else other)

    def __le__(self, other: Value | Number) -> bool:
        return self.data <= (other.data if other.__class__ is Value else other)

    def __gt__(self, other: Value | Number) -> bool:
        return self.data > (other.data if other.__class__ is Value else other)

    def __ge__(self, other: Value | Number) -> bool:
        return self.data >= (other.data if other.__class__ is Value else other)

    def __float__(self) -> float:
        return self.data

    @property
    def _prev(self) -> tuple[Value, ...]:
        """The inputs of the operation that made this node (micrograd's name; for drawing)."""
        if self._a is None:
            return ()
        return (self._a,) if self._b is None else (self._a, self._b)

    # -------------------------------------------------------------- backward

    def backward(self) -> None:
        """Fill ``.grad`` on every node below this one with d self / d node.

        Reset-then-accumulate (see the class docstring): idempotent, so calling it again
        gives the same gradients. The order comes from the shared iterative
        ``chainrule.graph.toposort`` (``_order``); a graph of any depth works.
        """
        topo = _order(self)  # (every .grad already reset to 0 on the way)
        self.grad = 1.0
        for v in topo:
            a = v._a
            if a is not None:
                g = v.grad
                a.grad += v._da * g
                b = v._b
                if b is not None:
                    b.grad += v._db * g

    # -------------------------------------------------------------- display

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data}, grad={self.grad}{label})"


def _order(root: Value) -> list[Value]:
    """``toposort((root,), _children_of, hashable=True)``, the same order, written out for
    nodes of at most two children, and resetting each node's ``.grad`` to 0 as it is
    reached (one pass fewer in ``backward``).

    The walk is most of a backward's cost, so it keeps its state in the nodes: each node's
    ``_walk`` slot holds one of this walk's two tokens, ``opened`` (reached, some input not
    in order yet: the node waits on the stack) or ``closed`` (in order), where a set of seen
    nodes would hash every node and a marker would be pushed under each waiting one. From
    a node it goes straight down to the input it would pop next (``b`` first, as toposort),
    and a node whose inputs are all in order already is closed at once.
    """
    order: list[Value] = []
    opened = object()  # this walk's tokens: no node holds them yet
    closed = object()
    stack: list = [root]
    pop, push, emit = stack.pop, stack.append, order.append
    while stack:
        v = pop()
        if v._walk is opened:  # back at v: its inputs are all in order now
            v._walk = closed
            emit(v)
            continue
        while v._walk is not closed:  # reach v, then go on down to an input not reached
            v.grad = 0.0
            a = v._a
            b = v._b
            if a is not None and a._walk is not closed:  # (an input is never opened)
                v._walk = opened
                push(v)  # come back to v after its inputs
                if b is not None and b._walk is not closed:
                    push(a)  # b first, then a
                    v = b
                else:
                    v = a
            elif b is not None and b._walk is not closed:
                v._walk = opened
                push(v)
                v = b
            else:  # no input left to reach: v is in order (and this loop ends)
                v._walk = closed
                emit(v)
    order.reverse()
    return order


def weighted_sum(ws: Iterable[Value], xs: Iterable[Value | Number], bias: Value) -> Value:
    """``bias + ws[0] * xs[0] + ws[1] * xs[1] + ...``, evaluated left to right.

    Builds exactly the ``*`` and ``+`` nodes that ``sum((w * x for w, x in zip(ws, xs)),
    bias)`` builds (micrograd's neuron), in one loop that skips Python's operator dispatch:
    a neuron's forward pass is most of a network's nodes, so this is the hot path.
    """
    act = bias
    total = bias.data
    for w, x in zip(ws, xs):
        if x.__class__ is not Value:
            x = _lift(x)
            if x is None:
                raise TypeError("weighted_sum: inputs must be Values or real numbers")
        p = w.data
        q = x.data
        m = _new(Value)  # w * x
        m.data = pq = p * q
        m.grad = 0.0
        m.label = ""
        m._a = w
        m._da = q
        m._b = x
        m._db = p
        m._op = "*"
        m._walk = None
        s = _new(Value)  # act + w * x
        s.data = total = total + pq
        s.grad = 0.0
        s.label = ""
        s._a = act
        s._da = 1.0
        s._b = m
        s._db = 1.0
        s._op = "+"
        s._walk = None
        act = s
    return act
