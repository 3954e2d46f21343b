"""The opt-in pickle format: objects that are not tensors and plain containers (a whole
Module, an ndarray, a mixed dict), saved as torch saves them and loaded only with
``weights_only=False``, the explicit opt-in torch 2.6+ requires.

The file is torch's zip layout: ``<name>/data.pkl`` (the pickle, with each tensor's memory
as a persistent ``('storage', type, key, 'cpu', numel)`` record) and the raw memory as
``<name>/data/<key>``. Loading reads chainrule's files and torch's own (tensors rebuilt by
``torch._utils._rebuild_tensor_v2`` become chainrule tensors). Unpickling runs code named
in the file: only do it for files from a trusted source.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from typing import Any

import ml_dtypes
import numpy as np

from chainrule import dtypes
from chainrule._tensor import Tensor, _make

# torch's legacy storage class names <-> dtypes (the persistent record names the type)
_STORAGES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
    "ComplexFloatStorage": np.complex64, "ComplexDoubleStorage": np.complex128,
}  # fmt: skip
_STORAGE_OF = {np.dtype(v): k for k, v in _STORAGES.items()}

REFUSED = (
    "Weights only load failed. This file can still be loaded, to do so you have two options, "
    "do those steps only if you trust the source of the checkpoint. \n\t(1) In PyTorch 2.6, "
    "we changed the default value of the `weights_only` argument in `torch.load` from `False` "
    "to `True`. Re-running `chainrule.load` with `weights_only` set to `False` will likely "
    "succeed, but it can result in arbitrary code execution. Do it only if you got the file "
    "from a trusted source.\n\t(2) chainrule.load with weights_only=True reads tensors and "
    "containers of them saved in the safetensors format; {what} holds pickle data."
)


class _StorageType:
    """Stands for torch's ``torch.FloatStorage`` (and the like) inside the pickle."""

    def __init__(self, name: str) -> None:
        self.name = name


def _rebuild(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *rest: Any) -> Tensor:
    """torch's ``_rebuild_tensor_v2``: a tensor of ``size``/``stride`` (in elements) over
    ``storage`` from ``offset``; ``rest[0]`` is requires_grad."""
    item = storage.itemsize
    data = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size), strides=tuple(s * item for s in stride)
    ).copy()
    t = _make(data)
    if rest and rest[0]:
        t.requires_grad_(True)
    return t


def _rebuild_parameter(data: Tensor, requires_grad: bool, *rest: Any) -> Any:
    from chainrule.nn.parameter import Parameter

    return Parameter(data, requires_grad)


def _rebuild_subclass(cls: type, data: Tensor, requires_grad: bool) -> Any:
    """A chainrule tensor subclass (Parameter) on the rebuilt memory."""
    return Tensor._make_subclass(cls, data, requires_grad) if cls is not Tensor else data


class _Pickler(pickle.Pickler):
    def __init__(self, f: Any, storages: dict[str, np.ndarray]) -> None:
        super().__init__(f, protocol=2)
        self.storages = storages
        self.keys: dict[int, str] = {}

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _Memory):
            a = obj.array
            key = self.keys.setdefault(id(a), str(len(self.keys)))
            self.storages[key] = a
            return ("storage", _StorageType(_STORAGE_OF[a.dtype]), key, "cpu", a.size)
        return None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _StorageType):  # pickled as torch's global torch.<Name>Storage
            return _StorageType, (obj.name,)
        if isinstance(obj, Tensor):
            a = np.ascontiguousarray(obj._data)
            memory = _Memory(a.reshape(-1))
            plain = (_rebuild, (memory, 0, a.shape, _strides(a), obj._requires_grad))
            if type(obj) is Tensor:
                return plain
            return _rebuild_subclass, (type(obj), _make(a), obj._requires_grad)
        return NotImplemented


class _Memory:
    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


def _strides(a: np.ndarray) -> tuple:
    return tuple(s // a.itemsize for s in a.strides) if a.size else (1,) * a.ndim


def save(obj: Any, fh: Any, name: str = "archive") -> None:
    """Write ``obj`` as a zip of ``data.pkl`` and raw tensor memory (torch's layout)."""
    storages: dict[str, np.ndarray] = {}
    buf = io.BytesIO()
    _Pickler(buf, storages).dump(obj)
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{name}/data.pkl", buf.getvalue())
        z.writestr(f"{name}/byteorder", "little")
        for key, a in storages.items():
            z.writestr(f"{name}/data/{key}", a.astype(a.dtype.newbyteorder("<")).tobytes())
        z.writestr(f"{name}/version", "3\n")


class _Unpickler(pickle.Unpickler):
    def __init__(self, f: Any, read_storage: Any) -> None:
        super().__init__(f)
        self.read_storage = read_storage
        self.loaded: dict[str, np.ndarray] = {}

    def persistent_load(self, pid: Any) -> Any:
        kind, storage_type, key, _location, numel = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        if key not in self.loaded:
            dtype = np.dtype(_STORAGES[storage_type.name])
            dtypes.from_np(dtype)  # (a float16/bfloat16 storage switches their math on)
            if dtype.itemsize > 1 and dtypes.kind_of(dtype) != "V":
                dtype = dtype.newbyteorder("<")
            self.loaded[key] = np.frombuffer(self.read_storage(key), dtype=dtype).astype(
                dtype.newbyteorder("=") if dtype.byteorder != "|" else dtype
            )
        return self.loaded[key]

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGES:
            return _StorageType(name)
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == __name__ and name == "_StorageType":
            return _StorageType
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module.split(".")[0] == "torch":
            raise pickle.UnpicklingError(
                f"chainrule.load cannot rebuild torch's {module}.{name}: only tensors, "
                "parameters and plain Python and NumPy objects load from torch's files"
            )
        return super().find_class(module, name)


def load(data: bytes) -> Any:
    """Read a zip written by ``save`` or by torch.save, or a plain pickle (legacy format)."""
    if not data.startswith(b"PK"):
        return _Unpickler(io.BytesIO(data), lambda key: b"").load()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        prefix = pkl[: -len("data.pkl")]
        return _Unpickler(io.BytesIO(z.read(pkl)), lambda key: z.read(f"{prefix}data/{key}")).load()
