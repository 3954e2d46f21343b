"""Module state: dtype conversion in place (``to``, ``double``) and state dicts (save / load)."""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from chainrule import dtypes
from chainrule._tensor import Tensor, _make, mutate
from chainrule.graph import no_grad
from chainrule.nn.parameter import Parameter

if TYPE_CHECKING:
    from chainrule.nn.module import Module

__all__: list[str] = []


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class ModuleState:
    """The part of ``Module`` that converts and saves/loads its tensors (a mixin)."""

    # ------------------------------------------------------------------ dtype conversion

    def _apply(self, fn: Callable[[Tensor], Tensor]) -> Module:
        """Convert every parameter in place (same Parameter objects) and replace buffers."""
        for module in self.children():
            module._apply(fn)
        with no_grad():
            for param in self._parameters.values():
                if param is None:
                    continue
                param.data = fn(param)  # torch's set_data: same object, version unchanged
                g = getattr(param, "_grad", None)
                if g is not None:
                    g.data = fn(g)
            for key, buf in self._buffers.items():
                if buf is not None:
                    self._buffers[key] = fn(buf)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(dtype)``, ``to(tensor)``, ``to('cpu')``: casts floating-point state only."""
        dt = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() received an invalid combination of arguments: {kwargs}")
        for a in args:
            if isinstance(a, dtypes.dtype):
                dt = a
            elif isinstance(a, Tensor):
                dt = a.dtype
            elif isinstance(a, bool):  # non_blocking given positionally
                continue
            else:
                device = a
        if device is not None and str(device) != "cpu":
            raise RuntimeError(
                f"chainrule runs on the CPU only; cannot move a module to {device!r}"
            )
        if dt is None:
            return self
        if not (dt.is_floating_point or dt.is_complex):
            raise TypeError(
                "nn.Module.to only accepts floating point or complex dtypes, but got desired "
                f"dtype={dt}"
            )

        def convert(t: Tensor) -> Tensor:
            if t.is_floating_point() or t.is_complex():
                return _make(t._data.astype(dt.np, copy=False))
            return t

        return self._apply(convert)

    def _cast_float(self, dt: dtypes.dtype) -> Module:
        return self._apply(lambda t: _make(t._data.astype(dt.np)) if t.is_floating_point() else t)

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32 in place; returns the module."""
        return self._cast_float(dtypes.float32)

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64 in place; returns the module."""
        return self._cast_float(dtypes.float64)

    def half(self) -> Module:
        """Cast floating-point parameters and buffers to float16 in place; returns the module."""
        return self._cast_float(dtypes.float16)

    def bfloat16(self) -> Module:
        """Cast floating-point parameters and buffers to bfloat16 in place; returns the module."""
        return self._cast_float(dtypes.bfloat16)

    def type(self, dst_type: dtypes.dtype) -> Module:
        """Cast all parameters and buffers to ``dst_type`` in place; returns the module."""
        return self._apply(lambda t: _make(t._data.astype(dst_type.np)))

    def cpu(self) -> Module:
        """This module (chainrule's tensors are on the CPU already)."""
        return self

    # ------------------------------------------------------------------ state dict

    def state_dict(
        self, *, destination: Any = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Tensor]:
        """Parameters and persistent buffers by dotted name (detached unless ``keep_vars``)."""
        if destination is None:
            destination = OrderedDict()
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(
                    destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars
                )
        return destination

    def _load_from_state_dict(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        assign: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        persistent = {
            k: v for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set
        }
        local_state = {
            k: v
            for k, v in itertools.chain(self._parameters.items(), persistent.items())
            if v is not None
        }
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                missing_keys.append(key)
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                error_msgs.append(
                    f'While copying the parameter named "{key}", expected chainrule.Tensor or '
                    f"Tensor-like object from checkpoint but received {type(value)}"
                )
                continue
            src = value._data
            if param._data.ndim == 0 and src.shape == (1,):  # torch's 0.3 -> 0.4 allowance
                src = src.reshape(())
            if src.shape != param._data.shape:
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {value.shape} from "
                    f"checkpoint, the shape in current model is {param.shape}."
                )
                continue
            if assign:  # the module takes the loaded tensor itself (its memory: no copy)
                if isinstance(param, Parameter):
                    if isinstance(value, Parameter):
                        value.requires_grad_(param.requires_grad)
                    else:
                        value = Parameter(value, requires_grad=param.requires_grad)
                setattr(self, name, value)
            else:
                mutate(param, src)  # torch: param.copy_(input_param) under no_grad
        for key in state_dict:
            if key.startswith(prefix):
                head = key[len(prefix) :].split(".", 1)
                if len(head) > 1:
                    if head[0] not in self._modules:
                        unexpected_keys.append(key)
                elif head[0] not in local_state:
                    unexpected_keys.append(key)

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> _IncompatibleKeys:
        """Copy values into the existing parameters and buffers (in place, under no_grad)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []

        def load(module: Module, local: Mapping[str, Any], prefix: str = "") -> None:
            module._load_from_state_dict(local, prefix, assign, missing, unexpected, errors)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(
                        child,
                        {k: v for k, v in local.items() if k.startswith(child_prefix)},
                        child_prefix,
                    )

        with no_grad():
            load(self, OrderedDict(state_dict))
        if strict:
            if unexpected:
                keys = ", ".join(f'"{k}"' for k in unexpected)
                errors.insert(0, f"Unexpected key(s) in state_dict: {keys}. ")
            if missing:
                keys = ", ".join(f'"{k}"' for k in missing)
                errors.insert(0, f"Missing key(s) in state_dict: {keys}. ")
        if errors:
            raise RuntimeError(
                "Error(s) in loading state_dict for {}:\n\t{}".format(
                    self.__class__.__name__, "\n\t".join(errors)
                )
            )
        return _IncompatibleKeys(missing, unexpected)
