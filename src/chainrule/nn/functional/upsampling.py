"""interpolate (and the deprecated upsample, upsample_nearest, upsample_bilinear): resizing
the spatial dims of (N, C, ...) inputs, as torch's CPU kernels do.

Every mode is separable: along each spatial dim, last dim first (torch's order of
summation), an output position is a weighted sum of a few input positions (taps), so the
whole is ``index_select``, multiplications and additions, differentiable by composition.
The taps and weights follow ATen's UpSample.h: the source index ``scale * (i + 0.5) - 0.5``
(or ``scale * i`` with ``align_corners``), computed in the input's precision (float32 for
float32 and below, float64 for float64); nearest reads ``floor(i * scale)`` in float32;
bicubic uses Keys' kernel with A = -0.75 and clamps its four taps to the edge; area is
adaptive average pooling's bins; ``antialias`` widens the triangle (bilinear), Keys'
kernel with A = -0.5 (bicubic) or Lanczos-3 (lanczos) by the scale when downsampling and
normalizes its weights.
Where torch's forward and backward kernels disagree (nearest's index shortcuts, the
antialiasing kernel's skipped dims), ``Resample`` gives each its own taps, as torch does.
Not supported: bilinear/bicubic of uint8 inputs (torch's fixed-point kernel).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule.dtypes import kind_of, scalar_type_name
from chainrule.ops.index.select import index_add, index_select
from chainrule.ops.op import Op, opmath
from chainrule.ops.shape.join import cat

_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"
_SUPPORTED = {(n, m) for n in (3, 4, 5) for m in ("nearest", "nearest-exact", "area")} | {
    (3, "linear"), (4, "bilinear"), (4, "bicubic"), (4, "lanczos"), (5, "trilinear")}  # fmt: skip
_NEEDS = {
    (3, "bilinear"): "bilinear mode needs 4D",
    (3, "trilinear"): "trilinear mode needs 5D",
    (4, "linear"): "linear mode needs 3D",
    (4, "trilinear"): "trilinear mode needs 5D",
    (5, "linear"): "linear mode needs 3D",
    (5, "bilinear"): "bilinear mode needs 4D",
}
_CUBIC_A = -0.75


def _is_integer(x: Any) -> bool:
    """torch's _is_integer: an int (bool included), a NumPy integer, or a tensor that is
    not floating point."""
    if isinstance(x, Tensor):
        return kind_of(x._data.dtype) != "f"
    return isinstance(x, (int, np.integer))


def _scales_value(scale: float | None, n_in: int, n_out: int, opm: type) -> Any:
    """ATen's compute_scales_value: 1 / scale_factor when one was given, else in / out."""
    if scale is not None and scale > 0:
        return opm(1.0 / scale)
    return opm(n_in) / opm(n_out)


def _pixel_scale(n_in: int, n_out: int, align_corners: bool, scale: float | None,
                 opm: type) -> Any:  # fmt: skip
    """ATen's area_pixel_compute_scale."""
    if align_corners:
        return opm(n_in - 1) / opm(n_out - 1) if n_out > 1 else opm(0)
    return _scales_value(scale, n_in, n_out, opm)


def _source_index(scale: Any, n_out: int, align_corners: bool, cubic: bool,
                  opm: type) -> np.ndarray:  # fmt: skip
    """ATen's area_pixel_compute_source_index for every output position."""
    i = np.arange(n_out, dtype=opm)
    if align_corners:
        return scale * i
    src = scale * (i + opm(0.5)) - opm(0.5)
    return src if cubic else np.maximum(src, opm(0))


def _nearest_taps(n_in: int, n_out: int, scale: float | None, exact: bool,
                  backward: bool = False) -> np.ndarray:  # fmt: skip
    """The source of each output position. torch's backward kernels, and its forward kernel
    of 4-D inputs, (nearest_idx) take two shortcuts the 3-D and 5-D forward kernels do not:
    out == in copies, out == 2 * in halves."""
    if backward and not exact:
        if n_out == n_in:
            return np.arange(n_out)
        if n_out == 2 * n_in:
            return np.arange(n_out) >> 1
    s = _scales_value(scale, n_in, n_out, np.float32)
    i = np.arange(n_out, dtype=np.float32)
    src = np.floor((i + np.float32(0.5)) * s if exact else i * s).astype(np.int64)
    return np.minimum(src, n_in - 1)


def _linear_taps(n_in: int, n_out: int, align_corners: bool, scale: float | None,
                 opm: type) -> tuple[list[np.ndarray], list[np.ndarray]]:  # fmt: skip
    if n_out == n_in:  # ATen copies
        i = np.arange(n_out)
        return [i, i], [np.ones(n_out, opm), np.zeros(n_out, opm)]
    s = _pixel_scale(n_in, n_out, align_corners, scale, opm)
    real = _source_index(s, n_out, align_corners, False, opm)
    i0 = np.minimum(np.floor(real).astype(np.int64), n_in - 1)
    l1 = np.clip(real - i0.astype(opm), opm(0), opm(1)).astype(opm)
    i1 = i0 + (i0 < n_in - 1)
    return [i0, i1], [(opm(1) - l1).astype(opm), l1]


def _cubic_taps(n_in: int, n_out: int, align_corners: bool, scale: float | None,
                opm: type) -> tuple[list[np.ndarray], list[np.ndarray]]:  # fmt: skip
    s = _pixel_scale(n_in, n_out, align_corners, scale, opm)
    real = _source_index(s, n_out, align_corners, True, opm)
    base = np.floor(real)
    t = (real - base).astype(opm)
    a = opm(_CUBIC_A)

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + opm(2)) * x - (a + opm(3))) * x * x + opm(1)

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - opm(5) * a) * x + opm(8) * a) * x - opm(4) * a

    one = opm(1)
    weights = [far(t + one), near(t), near(one - t), far(opm(2) - t)]
    base = base.astype(np.int64)
    taps = [np.clip(base - 1 + k, 0, n_in - 1) for k in range(4)]
    return taps, [w.astype(opm) for w in weights]


Taps = tuple[list[np.ndarray], list[np.ndarray | None]]


class Resample(Op):
    """Along one dim, torch's forward and backward kernels that disagree: the forward sums
    ``fwd``'s taps, the backward is the adjoint of ``bwd``'s (weights None: 1)."""

    save_inputs = False

    def forward(self, x, fwd, bwd, dim):
        self.bwd, self.dim, self.in_shape = bwd, dim, x.shape
        shape = [1] * x.ndim
        shape[dim] = -1
        out = None
        for idx, w in zip(*fwd):
            term = np.take(x, idx, axis=dim)
            if w is not None:
                term = term * w.astype(x.dtype).reshape(shape)
            out = term if out is None else out + term
        return out

    def backward(self, g):
        shape = [1] * g._data.ndim
        shape[self.dim] = -1
        out = _make(np.zeros(self.in_shape, g._data.dtype))
        for idx, w in zip(*self.bwd):
            src = g if w is None else g * _make(w.astype(g._data.dtype).reshape(shape))
            out = index_add(out, self.dim, _make(np.asarray(idx, np.int64)), src)
        return out


def _nearest(x: Tensor, dim: int, n_out: int, scale: float | None, exact: bool) -> Tensor:
    n_in = x._data.shape[dim]
    fwd = _nearest_taps(n_in, n_out, scale, exact, backward=x._data.ndim == 4)
    bwd = _nearest_taps(n_in, n_out, scale, exact, backward=True)
    if np.array_equal(fwd, bwd):
        return _gather(x, dim, fwd)
    return Resample.apply(x, fwd=([fwd], [None]), bwd=([bwd], [None]), dim=dim)


def _antialias(x: Tensor, dim: int, n_out: int, align_corners: bool, scale: float | None,
               opm: type, cubic: Any, width_out: int) -> Tensor:  # fmt: skip
    """torch's separable antialiasing kernel along ``dim`` (2: H, 3: W). Its forward leaves a
    dim of equal sizes alone, and when the output is one column wide its vertical pass
    gives every row the first row's taps; its backward kernel does neither."""
    n_in = x._data.shape[dim]
    bwd = _aa_taps(n_in, n_out, align_corners, scale, opm, cubic)
    if n_in == n_out:
        fwd: Taps = ([np.arange(n_out)], [None])
    elif dim == 2 and width_out == 1:
        fwd = ([np.full(n_out, t[0]) for t in bwd[0]], [np.full(n_out, w[0]) for w in bwd[1]])
    else:
        return _weighted(x, dim, *bwd)
    return Resample.apply(x, fwd=fwd, bwd=bwd, dim=dim)


def _aa_filter(x: np.ndarray, cubic: Any, opm: type) -> np.ndarray:
    """ATen's antialiasing filters: the triangle, Keys' cubic with A = -0.5, or Lanczos-3."""
    x = np.abs(x).astype(opm)
    if cubic == "lanczos":
        return np.where(x < 3, np.sinc(x) * np.sinc(x / opm(3)), opm(0)).astype(opm)
    if not cubic:
        return np.where(x < 1, opm(1) - x, opm(0)).astype(opm)
    a = opm(-0.5)
    near = ((a + opm(2)) * x - (a + opm(3))) * x * x + opm(1)
    far = (((x - opm(5)) * x + opm(8)) * x - opm(4)) * a
    return np.where(x < 1, near, np.where(x < 2, far, opm(0))).astype(opm)


def _aa_taps(n_in: int, n_out: int, align_corners: bool, scale: float | None, opm: type,
             cubic: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:  # fmt: skip
    """ATen's _compute_weights_aa: a filter widened by the scale when downsampling, its
    weights normalized to sum to 1 over the input positions it covers."""
    s = _pixel_scale(n_in, n_out, align_corners, scale, opm)
    half = (6 if cubic == "lanczos" else 4 if cubic else 2) * 0.5
    support = opm(half * s) if s >= 1.0 else opm(half)
    width = int(np.ceil(support)) * 2 + 1
    invscale = opm(1.0 / s) if s >= 1.0 else opm(1.0)
    center = (s * (np.arange(n_out) + 0.5)).astype(opm)
    lo = np.maximum((center - support + 0.5).astype(np.int64), 0)
    size = np.minimum((center + support + 0.5).astype(np.int64), n_in) - lo
    size = np.clip(size, 0, width)
    j = np.arange(width)[:, None]
    w = _aa_filter(((j + lo - center + 0.5) * invscale).astype(opm), cubic, opm)
    w = np.where(j < size, w, opm(0)).astype(opm)
    total = w.sum(0, dtype=opm)
    w = np.where(total != 0, w / np.where(total != 0, total, opm(1)), w).astype(opm)
    taps = np.where(j < size, lo + j, lo)
    return list(taps), list(w)


def _area_bins(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive pooling's bins: [floor(i * in / out), ceil((i + 1) * in / out))."""
    i = np.arange(n_out)
    return (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)


def _gather(x: Tensor, dim: int, idx: np.ndarray) -> Tensor:
    return index_select(x, dim, _make(np.asarray(idx, dtype=np.int64)))


def _weighted(x: Tensor, dim: int, taps: list[np.ndarray], weights: list[Any]) -> Tensor:
    """sum_k weights[k] * x[taps[k]] along ``dim``, in the order of k."""
    shape = [1] * x._data.ndim
    shape[dim] = -1
    out = None
    for idx, w in zip(taps, weights):
        term = _gather(x, dim, idx) * _make(w.astype(x._data.dtype).reshape(shape))
        out = term if out is None else out + term
    assert out is not None
    return out


def _area(x: Tensor, dim: int, n_out: int) -> Tensor:
    n_in = x._data.shape[dim]
    if n_out == 0:
        return _gather(x, dim, np.zeros(0, np.int64))
    start, end = _area_bins(n_in, n_out)
    width = end - start
    zero_shape = list(x._data.shape)
    zero_shape[dim] = 1
    padded = cat([x, _make(np.zeros(zero_shape, x._data.dtype))], dim)  # taps past a bin
    total = None
    for k in range(int(width.max())):
        term = _gather(padded, dim, np.where(start + k < end, start + k, n_in))
        total = term if total is None else total + term
    assert total is not None
    shape = [1] * x._data.ndim
    shape[dim] = -1
    return total / _make(width.astype(x._data.dtype).reshape(shape))


_KERNEL = {  # ATen's kernel (dispatch) names, for its "not implemented for" message
    ("nearest", 4): "upsample_nearest2d_channels_last",
    ("nearest-exact", 4): "upsample_nearest2d_channels_last",
    ("bilinear", 4): "upsample_bilinear2d_channels_last",
    ("bicubic", 4): "compute_indices_weights_cubic",
    ("linear", 3): "compute_indices_weights_linear",
    ("trilinear", 5): "compute_indices_weights_linear",
    ("area", 3): "adaptive_avg_pool2d",
    ("area", 4): "adaptive_avg_pool2d",
    ("area", 5): "adaptive_avg_pool3d_cpu",
}


def _check_dtype(x: Tensor, mode: str) -> None:
    kind, nd = x._data.dtype, x._data.ndim
    if kind_of(kind) == "f":
        return
    if kind == np.uint8 and mode in ("nearest", "nearest-exact"):
        return
    if kind == np.uint8 and mode in ("bilinear", "bicubic"):
        raise NotImplementedError(
            f"chainrule: interpolate(mode={mode!r}) of uint8 input (torch's fixed-point "
            "kernel) is not supported yet; convert to float first"
        )
    name = _KERNEL.get((mode, nd), "compute_indices_weights_nearest")
    raise NotImplementedError(f"\"{name}\" not implemented for '{scalar_type_name(x.dtype)}'")


def _check_sizes(in_sizes: Sequence[int], out_sizes: Sequence[int]) -> None:
    if all(n > 0 for n in in_sizes) and all(n > 0 for n in out_sizes):
        return
    names = ("D", "H", "W")[3 - len(in_sizes) :]
    fmt = lambda sizes: ", ".join(f"{a}: {n}" for a, n in zip(names, sizes))  # noqa: E731
    raise RuntimeError(
        "Input and output sizes should be greater than 0, but got input "
        f"({fmt(in_sizes)}){' and' if len(in_sizes) == 1 else ''} output ({fmt(out_sizes)})"
    )


def _check_pool_sizes(x: Tensor) -> None:
    """adaptive_avg_pool's check (1-d pooling runs as 2-d, of a (N, C, 1, L) input)."""
    shape = list(x._data.shape)
    if len(shape) == 3:
        shape.insert(2, 1)
    for i in range(2, len(shape)):
        if shape[i] == 0:
            raise RuntimeError(
                f"adaptive_avg_pool{len(shape) - 2}d(): Expected input to have non-zero size for "
                f"non-batch dimensions, but input has sizes {shape} with dimension {i} being "
                "empty"
            )


@op(namespace="nn.functional", method=False)
@opmath
def interpolate(
    input: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dims of an (N, C, d1[, d2[, d3]]) input to ``size``, or by
    ``scale_factor``. Modes: nearest, nearest-exact, linear (3-D), bilinear and bicubic
    (4-D, ``antialias`` too), lanczos (4-D, antialiased), trilinear (5-D), area (adaptive
    average pooling)."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    ndim = input._data.ndim
    dim = ndim - 2
    in_sizes = list(input._data.shape[2:])
    scales: list[float] | None
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        scales = None
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {in_sizes} and output size of {size}. "
                    "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output "
                    "size in (o1, o2, ...,oK) format."
                )
            if not all(_is_integer(x) and not isinstance(x, bool) for x in size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                    f"Tuple[int, int, int], but got size with types {[type(x) for x in size]}"
                )
            out_sizes = [int(n) for n in size]
        else:
            if not _is_integer(size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                    f"Tuple[int, int, int], but got size with types {[type(size)] * dim}"
                )
            out_sizes = [int(size)] * dim
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, "
                    f"but got input with spatial dimensions of {in_sizes} and scale_factor of "
                    f"shape {scale_factor}. Please provide input tensor in (N, C, d1, d2, "
                    "...,dK) format and scale_factor in (s1, s2, ...,sK) format."
                )
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        out_sizes = [int(n * s) for n, s in zip(in_sizes, scales)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if recompute_scale_factor or mode == "area":
        scales = None  # the kernel reads in / out of the integer sizes
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and ndim == 4):
        raise ValueError(
            "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and "
            "requires a 4-D tensor as input"
        )
    if ndim == 4 and mode == "lanczos":
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    if (ndim, mode) not in _SUPPORTED:
        need = _NEEDS.get((ndim, mode))
        if need is not None:
            raise NotImplementedError(f"Got {ndim}D input, but {need} input")
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {ndim}D) for the "
            f"modes: {_MODES} (got {mode})"
        )
    _check_dtype(input, mode)
    if mode == "area":
        _check_pool_sizes(input)
    else:
        _check_sizes(in_sizes, out_sizes)
    opm = np.float64 if input._data.dtype == np.float64 else np.float32
    x = input
    for d in reversed(range(dim)):  # the last dim first: torch's order of summation
        n_in, n_out = in_sizes[d], out_sizes[d]
        s = None if scales is None else scales[d]
        axis = d + 2
        if mode in ("nearest", "nearest-exact"):
            x = _nearest(x, axis, n_out, s, mode == "nearest-exact")
        elif mode == "area":
            x = _area(x, axis, n_out)
        elif antialias:
            kind = "lanczos" if mode == "lanczos" else mode == "bicubic"
            x = _antialias(x, axis, n_out, bool(align_corners), s, opm, kind, out_sizes[-1])
        elif mode == "bicubic":
            x = _weighted(x, axis, *_cubic_taps(n_in, n_out, bool(align_corners), s, opm))
        else:
            x = _weighted(x, axis, *_linear_taps(n_in, n_out, bool(align_corners), s, opm))
    if x is input:  # no spatial dims
        x = input.clone()
    return x


@op(namespace="nn.functional", method=False)
def upsample(
    input: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    """Deprecated: ``interpolate(input, size, scale_factor, mode, align_corners)``."""
    warnings.warn(
        "`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode, align_corners)


@op(namespace="nn.functional", method=False)
def upsample_nearest(
    input: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | None = None,
) -> Tensor:
    """Deprecated: ``interpolate(input, size, scale_factor, mode="nearest")``."""
    warnings.warn(
        "`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode="nearest")


@op(namespace="nn.functional", method=False)
def upsample_bilinear(
    input: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
) -> Tensor:
    """Deprecated: ``interpolate(input, size, scale_factor, mode="bilinear",
    align_corners=True)``."""
    warnings.warn(
        "`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
