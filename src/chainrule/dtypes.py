"""Data types, the default dtype, and torch's type-promotion rules."""

from __future__ import annotations

import builtins
import math
import numbers
import threading
from typing import Any

import ml_dtypes
import numpy as np

__all__ = [
    "dtype",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool",
    "half",
    "float",
    "double",
    "short",
    "int",
    "long",
    "cfloat",
    "cdouble",
    "get_default_dtype",
    "set_default_dtype",
    "promote_types",
    "result_type",
    "scalar_type_name",
    "tensor_type_name",
    "c_type_name",
    "finfo",
    "iinfo",
]

# bfloat16 is ml_dtypes' NumPy extension type, whose kind is "V" (a NumPy void): ``kind``
# below is the one place that reads it as a float
BF16 = np.dtype(ml_dtypes.bfloat16)
# the dtypes torch computes in float32 on the CPU (opmath), rounding the result once
REDUCED = (np.dtype(np.float16), BF16)


def np_finfo(d: np.dtype) -> Any:
    """``np.finfo`` of a NumPy float dtype, bfloat16's from ml_dtypes."""
    return ml_dtypes.finfo(d) if d == BF16 else np.finfo(d)


def opmath_array(a: np.ndarray) -> np.ndarray:
    """A float16/bfloat16 array as float32 (torch's opmath type), anything else as it is."""
    return a.astype(np.float32) if a.dtype in REDUCED else a


class _Precision:
    """A switch the hot path reads (``Op.apply``, backward): ``active`` turns on the first
    time a float16/bfloat16 dtype is used or autocast is entered, and stays on. Until then
    no op looks for reduced-precision inputs."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active = False


precision = _Precision()


class _Autocast(threading.local):
    """The CPU autocast state of this thread (torch keeps it thread-local too); set by
    ``chainrule.amp.autocast``, read by the functions it casts for."""

    def __init__(self) -> None:
        self.enabled = False
        self.dtype = np.dtype(ml_dtypes.bfloat16)  # torch's default CPU autocast dtype
        self.cache: dict | None = None  # casts of float32 leaves, kept while autocast is on


autocast_state = _Autocast()


def kind_of(d: np.dtype) -> str:
    """A NumPy dtype's kind ("b", "i", "u", "f", "c"), bfloat16 counting as a float ("f")."""
    k = d.kind
    return "f" if k == "V" and d == BF16 else k


class dtype:
    """A tensor element type: wraps a NumPy dtype, prints like torch's (``chainrule.float32``)."""

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize")

    def __init__(self, name: str, np_dtype: type) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        k = kind_of(self.np)
        self.is_floating_point = k == "f"
        self.is_complex = k == "c"
        self.is_signed = k in "fic"
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return f"chainrule.{self.name}"

    def __reduce__(self) -> str:
        return self.name


class _ReducedDtype(dtype):
    """float16 and bfloat16: reading their NumPy dtype (which every way of making such a
    tensor does) switches ``precision.active`` on."""

    __slots__ = ("_np",)

    @property  # type: ignore[override]
    def np(self) -> np.dtype:
        precision.active = True
        return self._np

    @np.setter
    def np(self, value: np.dtype) -> None:
        self._np = value


float16 = half = _ReducedDtype("float16", np.float16)
bfloat16 = _ReducedDtype("bfloat16", ml_dtypes.bfloat16)
float32 = float = dtype("float32", np.float32)
float64 = double = dtype("float64", np.float64)
complex64 = cfloat = dtype("complex64", np.complex64)
complex128 = cdouble = dtype("complex128", np.complex128)
int8 = dtype("int8", np.int8)
int16 = short = dtype("int16", np.int16)
int32 = int = dtype("int32", np.int32)
int64 = long = dtype("int64", np.int64)
uint8 = dtype("uint8", np.uint8)
bool = dtype("bool", np.bool_)

ALL = (
    float16,
    bfloat16,
    float32,
    float64,
    complex64,
    complex128,
    int8,
    int16,
    int32,
    int64,
    uint8,
    bool,
)
FROM_NP: dict[np.dtype, dtype] = {d.np: d for d in ALL}
# NumPy dtypes that have no torch twin but convert losslessly enough to one
FROM_NP.update({np.dtype(np.uint16): int32, np.dtype(np.uint32): int64})
precision.active = False  # (building the table read float16.np)


def from_np(np_dtype: np.dtype) -> dtype:
    """The chainrule dtype of a NumPy dtype (TypeError with torch's wording if unsupported)."""
    try:
        d = FROM_NP[np_dtype]
        if isinstance(d, _ReducedDtype):
            precision.active = True
        return d
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{np.dtype(np_dtype).type.__name__}. The only "
            "supported types are: float64, float32, float16, complex64, complex128, int64, "
            "int32, int16, int8, uint8, and bool."
        ) from None


# torch's names of each dtype in its messages: the ScalarType ("abs_cpu" not implemented for
# 'Bool'), the legacy tensor type (torch.typename: FloatTensor) is "<ScalarType>Tensor", and
# the C++ element type some kernels print ("expected m1 and m2 to have the same dtype, but
# got: float != double")
_NAMES = {
    "float16": ("Half", "c10::Half"),
    "bfloat16": ("BFloat16", "c10::BFloat16"),
    "float32": ("Float", "float"),
    "float64": ("Double", "double"),
    "complex64": ("ComplexFloat", "c10::complex<float>"),
    "complex128": ("ComplexDouble", "c10::complex<double>"),
    "int8": ("Char", "signed char"),
    "int16": ("Short", "short int"),
    "int32": ("Int", "int"),
    "int64": ("Long", "long int"),
    "uint8": ("Byte", "unsigned char"),
    "bool": ("Bool", "bool"),
}


def _name_of(x: object) -> str:
    """The NumPy name of a dtype given as a chainrule or NumPy dtype, a name, or anything
    with a ``dtype`` (a Tensor, an array)."""
    if isinstance(x, str):
        return x
    if isinstance(x, dtype | np.dtype):
        return x.name
    return x.dtype.name  # type: ignore[attr-defined]


def scalar_type_name(x: object) -> str:
    """torch's ScalarType name of a dtype (Float, Double, Long, Bool, ComplexFloat ...)."""
    name = _name_of(x)
    return _NAMES[name][0] if name in _NAMES else name


def kernel_missing(kernel: str, x: object) -> NotImplementedError:
    """torch's error for a dtype a CPU kernel has no loop for (``"lt_cpu" not implemented
    for 'ComplexDouble'``); ``x``: the dtype, or anything with one."""
    return NotImplementedError(f"\"{kernel}\" not implemented for '{scalar_type_name(x)}'")


def tensor_type_name(x: object) -> str:
    """torch's legacy tensor type name of a dtype (FloatTensor, LongTensor, BoolTensor ...)."""
    return scalar_type_name(x) + "Tensor"


def c_type_name(x: object) -> str:
    """The C++ element type torch's kernels print for a dtype (float, long int, c10::Half)."""
    name = _name_of(x)
    return _NAMES[name][1] if name in _NAMES else name


def to_np(d: dtype | np.dtype | type | str | None) -> np.dtype | None:
    """The NumPy dtype for anything accepted as a ``dtype=`` argument."""
    if d is None:
        return None
    if isinstance(d, dtype):
        return d.np
    if d is builtins.float:
        return _default.np
    if d is builtins.int:
        return int64.np
    if d is builtins.bool:
        return bool.np
    return from_np(np.dtype(d)).np


_default = float32


def get_default_dtype() -> dtype:
    """The dtype of floating-point tensors made from Python numbers (float32 to start with)."""
    return _default


def set_default_dtype(d: dtype) -> None:
    """Set the default floating-point dtype (float32 or float64, as torch allows)."""
    global _default
    if d not in (float16, bfloat16, float32, float64):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default = d


# --------------------------------------------------------------------------- promotion


def promote_types(type1: dtype | np.dtype, type2: dtype | np.dtype) -> dtype | np.dtype:
    """torch.promote_types: of two chainrule dtypes (a chainrule dtype), or of two NumPy
    dtypes (a NumPy dtype)."""
    if isinstance(type1, dtype) and isinstance(type2, dtype):
        return FROM_NP[_promote(type1.np, type2.np)]
    return _promote(type1, type2)  # type: ignore[arg-type]


def _promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """torch.promote_types on NumPy dtypes: like NumPy's, except an integer with a float
    gives that float (int64 + float32 -> float32, where NumPy says float64; int64 +
    bfloat16 -> bfloat16), and float16 with bfloat16 gives float32."""
    if a == b or b.kind == "b":
        return a
    if a.kind == "b":
        return b
    ka, kb = kind_of(a), kind_of(b)
    a_float, b_float = ka in "fc", kb in "fc"
    if a_float != b_float:
        return a if a_float else b
    if a == BF16 or b == BF16:  # (not every ml_dtypes release promotes it in NumPy)
        other = b if a == BF16 else a
        return np.dtype(np.float32) if other.itemsize <= 2 and other.kind == "f" else other
    return np.promote_types(a, b)


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    # torch's combine_categories: a lower-priority group changes the result only when it
    # is of a higher category (a float scalar with an int tensor, say).
    if higher is None or lower is None:
        return lower if higher is None else higher
    kh, kl = kind_of(higher), kind_of(lower)
    if kh == "c":
        return higher
    if kl == "c":
        if higher == float16.np:  # torch's toComplexType(Half)
            raise NotImplementedError(
                "float16 with a complex operand gives ComplexHalf (complex32) in torch, "
                "which chainrule does not support"
            )
        if kh == "f":  # torch's toComplexType of the float: float64's is complex128
            return complex128.np if higher == float64.np else complex64.np
        return lower
    if kh == "f":
        return higher
    if kh == "b" or kl == "f":
        return _promote(higher, lower)
    return higher


def result_type(*operands: object) -> np.dtype:
    """torch.result_type for tensors and Python numbers, as a NumPy dtype.

    Three priority groups: tensors with dimensions, 0-d tensors, Python numbers. A lower
    group changes the result only when it is of a higher category (bool < int < float <
    complex): float32 tensor + float64 0-d tensor -> float32, int tensor + 2.5 -> float32.
    """
    dim = zero = wrapped = None
    for x in operands:
        data = getattr(x, "_data", None)
        if data is not None:
            if data.ndim:
                dim = data.dtype if dim is None else _promote(dim, data.dtype)
            else:
                zero = data.dtype if zero is None else _promote(zero, data.dtype)
        else:
            d = _scalar_dtype(x)
            wrapped = d if wrapped is None else _promote(wrapped, d)
    return _combine(dim, _combine(zero, wrapped))


def _scalar_dtype(x: object) -> np.dtype:
    if isinstance(x, builtins.bool | np.bool_):
        return bool.np
    if isinstance(x, numbers.Integral):
        return np.dtype(np.int64)
    if isinstance(x, complex):
        return complex64.np if _default is float32 else complex128.np
    if isinstance(x, numbers.Real):
        return _default.np
    raise TypeError(f"expected a Tensor or a number, got {type(x).__name__}")


# --------------------------------------------------------------------------- finfo, iinfo


def _g(v: object) -> str:
    return f"{builtins.float(v):g}"  # type: ignore[arg-type]


class finfo:
    """torch.finfo: the numerical properties of a floating-point dtype (the default dtype
    when none is given)."""

    def __init__(self, type: dtype | None = None) -> None:  # noqa: A002 (torch's name)
        d = _default if type is None else type
        if not isinstance(d, dtype) or not (d.is_floating_point or d.is_complex):
            raise TypeError(
                "torch.finfo() requires a floating point input type. Use torch.iinfo to "
                "handle 'torch.finfo'"
            )
        real = np.dtype(np.float32 if d is complex64 else np.float64) if d.is_complex else d.np
        info = ml_dtypes.finfo(real) if real == BF16 else np.finfo(real)
        self.bits = real.itemsize * 8
        self.eps = builtins.float(info.eps)
        self.max = builtins.float(info.max)
        self.min = builtins.float(info.min)
        self.tiny = self.smallest_normal = builtins.float(info.smallest_normal)
        # torch's: 10 ** -(decimal digits of precision), computed in double
        self.resolution = 10.0 ** -math.floor(-math.log10(self.eps))
        self.dtype = real.name

    def __eq__(self, other: object) -> builtins.bool:
        return isinstance(other, finfo) and other.dtype == self.dtype

    def __hash__(self) -> builtins.int:
        return hash(self.dtype)

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={_g(self.resolution)}, min={_g(self.min)}, max={_g(self.max)}, "
            f"eps={_g(self.eps)}, smallest_normal={_g(self.smallest_normal)}, "
            f"tiny={_g(self.tiny)}, dtype={self.dtype})"
        )


class iinfo:
    """torch.iinfo: the range of an integer dtype."""

    def __init__(self, type: dtype) -> None:  # noqa: A002 (torch's name)
        if type is bool:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if not isinstance(type, dtype) or kind_of(type.np) not in "iu":
            raise TypeError(
                "torch.iinfo() requires an integer input type. Use torch.finfo to handle "
                "'torch.iinfo'"
            )
        info = np.iinfo(type.np)
        self.bits = type.itemsize * 8
        self.min, self.max = builtins.int(info.min), builtins.int(info.max)
        self.dtype = type.name

    def __eq__(self, other: object) -> builtins.bool:
        return isinstance(other, iinfo) and other.dtype == self.dtype

    def __hash__(self) -> builtins.int:
        return hash(self.dtype)

    def __repr__(self) -> str:
        return f"iinfo(min={_g(self.min)}, max={_g(self.max)}, dtype={self.dtype})"
