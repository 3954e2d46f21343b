"""Neural networks on the scalar engine: Module, Neuron, Layer, MLP (micrograd's API).

Standard library only. Signatures match micrograd (``MLP(nin, [sizes])``,
``Neuron(nin, nonlin=True)``), with two keyword-only additions: seeded initialisation (weights
are drawn from ``uniform(-1, 1)`` with the ``random.Random`` passed as ``rng``, or one made
from ``seed``, or else this module's own generator, which ``manual_seed`` reseeds) and
``activation`` ("relu" as in micrograd, "tanh" as in the lecture's MLP, or "sigmoid").
"""

from __future__ import annotations

import functools
import gc
import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from chainrule.scalar.value import Value, weighted_sum

__all__ = ["Module", "Neuron", "Layer", "MLP", "manual_seed", "defer_collection"]

_default_rng = random.Random(0)

_F = TypeVar("_F", bound=Callable[..., Any])


def defer_collection(fn: _F) -> _F:
    """Run ``fn`` (a forward pass that builds a graph) with Python's cyclic collector paused.

    A scalar graph has no reference cycles (see ``value``): reference counting frees it, so
    a collection triggered by its allocations (one per 700 new nodes) finds no garbage and
    only rescans the live graph, over and over as it grows: with the collector on, that was
    most of a moons step's cost. Here collections are deferred, never skipped: when the
    outermost paused call returns, the objects made since the last collection are moved to
    the oldest generation (``gc.freeze(); gc.unfreeze()``: two list splices, no scan), where
    the next full collection examines them, as it examines everything. If the program has
    frozen objects of its own (``gc.get_freeze_count() > 0``), they are left frozen and the
    collector is only re-enabled (the deferred young collection then runs once). With the
    collector already off, ``fn`` just runs.
    """

    @functools.wraps(fn)
    def paused(*args: Any, **kwargs: Any) -> Any:
        if not gc.isenabled():  # off (by the program, or an outer paused call)
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()

    return paused  # type: ignore[return-value]


def manual_seed(seed: int) -> None:
    """Reseed the generator used when a module is built without ``rng`` or ``seed``."""
    _default_rng.seed(seed)


def _pick_rng(rng: random.Random | None, seed: int | None) -> random.Random:
    if rng is not None and seed is not None:
        raise ValueError("pass either rng or seed, not both")
    if rng is not None:
        return rng
    if seed is not None:
        return random.Random(seed)
    return _default_rng


_ACTIVATIONS = ("relu", "tanh", "sigmoid")


def _check_activation(activation: str) -> str:
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
    return activation


def _as_values(x: Sequence[Value | float]) -> list[Value]:
    return [xi if isinstance(xi, Value) else Value(xi) for xi in x]


class Module:
    """Base class: something with parameters (``Value`` leaves) that training updates."""

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0 (``Value.backward`` also resets, see there)."""
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self) -> list[Value]:
        """The ``Value``s training changes (weights and biases), in a fixed order."""
        return []


class Neuron(Module):
    """``act(w · x + b)``: ``nin`` weights from uniform(-1, 1), bias 0; ``act`` is the
    ``activation`` if ``nonlin``, else the identity."""

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        *,
        activation: str = "relu",
        rng: random.Random | None = None,
        seed: int | None = None,
    ) -> None:
        r = _pick_rng(rng, seed)
        self.w = [Value(r.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin
        self.activation = _check_activation(activation)

    @defer_collection
    def __call__(self, x: Sequence[Value | float]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"Neuron expects {len(self.w)} inputs, got {len(x)}")
        # the nodes of sum((wi * xi for wi, xi in zip(self.w, x)), self.b), built faster
        act = weighted_sum(self.w, x, self.b)
        if not self.nonlin:
            return act
        return act.relu() if self.activation == "relu" else getattr(act, self.activation)()

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        kind = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}[self.activation]
        return f"{kind if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same inputs; returns a list, or the Value if ``nout == 1``."""

    def __init__(
        self,
        nin: int,
        nout: int,
        *,
        nonlin: bool = True,
        activation: str = "relu",
        rng: random.Random | None = None,
        seed: int | None = None,
    ) -> None:
        r = _pick_rng(rng, seed)
        self.neurons = [
            Neuron(nin, nonlin=nonlin, activation=activation, rng=r) for _ in range(nout)
        ]

    @defer_collection
    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        x = _as_values(x)
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of sizes ``nouts`` after ``nin`` inputs; the activation (ReLU unless told
    otherwise) follows every layer but the last, which stays linear (micrograd's MLP)."""

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        *,
        activation: str = "relu",
        rng: random.Random | None = None,
        seed: int | None = None,
    ) -> None:
        r = _pick_rng(rng, seed)
        _check_activation(activation)
        sz = [nin, *nouts]
        last = len(nouts) - 1
        self.layers = [
            Layer(sz[i], sz[i + 1], nonlin=i != last, activation=activation, rng=r)
            for i in range(len(nouts))
        ]

    @defer_collection
    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        out: Value | list[Value] = _as_values(x)
        for layer in self.layers:
            out = layer(out if isinstance(out, list) else [out])
        return out

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
