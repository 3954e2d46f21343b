"""The Optimizer base (groups, state, zero_grad, state_dict) and the in-place update helpers."""

from __future__ import annotations

import functools
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._tensor import Tensor, _make, mutate
from chainrule._trace import state as _trace
from chainrule.dtypes import kind_of
from chainrule.graph import enable_grad

__all__ = ["Optimizer", "required"]

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]
StateDict = dict[str, Any]


class _RequiredParameter:
    """Marks a hyper-parameter with no default (``torch.optim.optimizer.required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj: Any) -> str:
    """``torch.typename``: a tensor's legacy name (``chainrule.FloatTensor``), else the class."""
    if isinstance(obj, Tensor):
        return "chainrule." + dtypes.tensor_type_name(obj._data)
    cls = type(obj)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


# --------------------------------------------------------------------------- state helpers


def signed_grad(p: Tensor, maximize: bool, weight_decay: float = 0) -> np.ndarray:
    """``p``'s gradient array, negated if ``maximize``, plus ``weight_decay * p`` (L2)."""
    grad = p.grad._data
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * p._data
    return grad


def decayed_grad(p: Tensor, group: dict[str, Any], lr: float) -> np.ndarray:
    """The Adam family's gradient: ``signed_grad`` with L2 weight decay, or, when the group
    asks for ``decoupled_weight_decay`` (AdamW's), ``p <- p * (1 - lr * weight_decay)``
    written into ``p`` (torch's ``p.mul_``) and the plain signed gradient."""
    weight_decay = group["weight_decay"]
    if weight_decay != 0 and group["decoupled_weight_decay"]:
        decayed = mutate(p)
        decayed *= 1 - lr * weight_decay
        return signed_grad(p, group["maximize"])
    return signed_grad(p, group["maximize"], weight_decay)


def zeros_state(p: Tensor) -> Tensor:
    """A zero state tensor shaped and typed like the parameter ``p`` (``torch.zeros_like``)."""
    return _make(np.zeros_like(p._data))


def step_state(value: float = 0.0) -> Tensor:
    """The 0-d ``step`` counter torch keeps per parameter (default float dtype, on the CPU)."""
    return _make(np.array(value, dtype=dtypes.get_default_dtype().np))


def as_real(a: np.ndarray) -> np.ndarray:
    """``torch.view_as_real``: a complex array as (real, imag) pairs on a new last axis, sharing
    memory, so the elementwise update treats both parts as real numbers; others unchanged."""
    if kind_of(a.dtype) != "c":
        return a
    return a.reshape(a.shape + (1,)).view(a.real.dtype)


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start.lerp_(end, weight)`` with torch's formula (the closer endpoint is the base)."""
    tmp = end - start
    if abs(weight) < 0.5:
        tmp *= weight
        start += tmp
    else:
        tmp *= 1 - weight
        np.subtract(end, tmp, out=start)


def addcmul_(x: np.ndarray, t1: np.ndarray, t2: np.ndarray, value: float = 1.0) -> None:
    """``x.addcmul_(t1, t2, value=value)``: ``x += value * t1 * t2`` in torch's order."""
    tmp = np.multiply(t1, value)
    tmp *= t2
    x += tmp


def addcdiv_(x: np.ndarray, t1: np.ndarray, t2: np.ndarray, value: float = 1.0) -> None:
    """``x.addcdiv_(t1, t2, value=value)``: ``x += value * t1 / t2`` in torch's order."""
    tmp = np.multiply(t1, value)
    tmp /= t2
    x += tmp


# --------------------------------------------------------------------------- the base class


def _traced(fn: Callable) -> Callable:
    """An optimizer's ``step``/``zero_grad`` as cr.compile's tracer sees it: one recorded
    call, replayed whole (it is NumPy code on the parameters' arrays, no op dispatch)."""

    @functools.wraps(fn)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        tracer = _trace.tracer
        if tracer is not None and tracer.effect(fn, self, *args, **kwargs):
            return tracer.result  # the tracer recorded the call and ran it
        return fn(self, *args, **kwargs)

    return method


class Optimizer:
    """Base class for all optimizers (``torch.optim.Optimizer``).

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts (parameter
    groups: a ``"params"`` entry plus hyper-parameters overriding ``defaults``). Subclasses
    implement ``step``; they read their hyper-parameters from each group and keep per-parameter
    state in ``self.state[p]`` (a dict of tensors named as torch names them).
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                "dicts, but got " + _typename(params)
            )
        self.state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []

        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    # ------------------------------------------------------------------ groups

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with its own hyper-parameters) to ``param_groups``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")

        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)

        tensors, names = [], []
        for param in params:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            param_group["param_names"] = names

        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    + _typename(param)
                )
            if not self.defaults.get("differentiable", None) and not (
                param.is_leaf or param.retains_grad
            ):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)

        if len(tensors) != len(set(tensors)):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, "
                "this will cause an error; see github.com/pytorch/pytorch/issues/40967 for "
                "more information",
                stacklevel=3,
            )

        param_set: set[Tensor] = set()
        for group in self.param_groups:
            param_set.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
                )
        if not param_set.isdisjoint(tensors):
            raise ValueError("some parameters appear in more than one parameter group")

        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ gradients and steps

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("step", "zero_grad"):  # cr.compile's tracer records these calls whole
            if name in cls.__dict__:
                setattr(cls, name, _traced(cls.__dict__[name]))

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors (to ``None`` by default, else to zeros)."""
        if _trace.tracer is not None and _trace.tracer.effect(
            Optimizer.zero_grad, self, set_to_none
        ):
            return  # cr.compile's tracer recorded the call and ran it
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                mutate(g, 0)  # torch: grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (each optimizer implements its update rule here)."""
        raise NotImplementedError

    @staticmethod
    def _evaluate(closure: Callable[[], Any] | None) -> Any:
        """Run the closure (which recomputes the loss and its gradients) with grad mode on."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------------ state_dict

    def state_dict(self) -> StateDict:
        """The optimizer's state with parameters replaced by their index, as torch lays it out:
        ``{"state": {index: {name: tensor}}, "param_groups": [{..., "params": [index]}]}``.
        The state tensors are the live ones (not copies), as in torch."""
        param_mappings: dict[int, int] = {}
        start_index = 0

        def pack_group(group: dict[str, Any]) -> dict[str, Any]:
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start_index):
                param_mappings.setdefault(id(p), i)
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {
            (param_mappings[id(k)] if isinstance(k, Tensor) else k): v
            for k, v in self.state.items()
        }
        return {"state": packed_state, "param_groups": param_groups}

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Load a state produced by ``state_dict``: groups are matched in order and by size;
        floating state tensors are cast to their parameter's dtype (``step`` is kept as is)."""
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])

        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )

        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )

        def cast(param: Tensor, value: Any, key: Any = None) -> Any:
            if isinstance(value, Tensor):
                if key == "step" or not param.is_floating_point():
                    return value
                if value._data.dtype == param._data.dtype:
                    return value  # torch's `.to(dtype)` returns the same tensor
                return _make(value._data.astype(param._data.dtype))
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return value

        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v)
            else:
                state[k] = v

        def update_group(group: dict[str, Any], new_group: dict[str, Any]) -> dict[str, Any]:
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})


def check_unsupported(**flags: Any) -> None:
    """Reject torch options that only make sense for devices or autograd through the step."""
    for name, value in flags.items():
        if value:
            raise NotImplementedError(f"chainrule optimizers do not support {name}=True")


def check_lr(lr: Any) -> None:
    """torch's first checks of a learning rate: a tensor must hold one element, and lr >= 0."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def check_adam_args(eps: float, betas: Any, weight_decay: float) -> None:
    """The Adam family's checks after the learning rate's, in torch's order and words."""
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    for i, beta in enumerate(betas[:2]):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def scalar(value: Any) -> Any:
    """A hyper-parameter as a Python number (a one-element tensor gives its value)."""
    return value.item() if isinstance(value, Tensor) else value


def check_capturable(
    group: dict[str, Any],
    what: str = "params and state_steps",
    xla: bool = True,
    *,
    foreach_what: str | None = None,
    foreach_xla: bool = False,
) -> None:
    """torch's refusal, at step time, of ``capturable=True`` for parameters on the CPU (the
    option is accepted when the optimizer is made, as in torch). torch's single-tensor and
    ``foreach`` paths word it differently (``what``, and whether XLA is listed)."""
    if group["capturable"]:
        if group.get("foreach"):
            what, xla = foreach_what or what, foreach_xla
        devices = ["cuda", "xpu", "hpu", "privateuseone"] + (["xla"] if xla else [])
        raise AssertionError(f"If capturable=True, {what} must be on supported devices: {devices}.")


def params_with_grad(optimizer: Optimizer, group: dict[str, Any], init: Callable) -> list:
    """The group's parameters that have a gradient, each given its state (``init(p, state)``
    on first use) before any is updated, as torch's ``_init_group``."""
    found = []
    for p in group["params"]:
        if p.grad is None:
            continue
        state = optimizer.state[p]
        if len(state) == 0:
            init(p, state)
        found.append(p)
    return found
