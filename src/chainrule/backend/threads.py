"""``set_num_threads`` / ``get_num_threads``: torch's names for the number of threads CPU
work runs on. One setting steers both of chainrule's thread pools:

- the native kernels' OpenMP team (native_omp.h; a serial build keeps the number but runs
  on one thread), and
- NumPy's BLAS (matmul, conv's GEMM), when it is the OpenBLAS NumPy's wheels bundle (or
  any OpenBLAS or MKL loaded in the process): its ``*_set_num_threads`` is called through
  ctypes. NumPy itself has no API for this; a BLAS that exports none (Apple's Accelerate,
  BLIS) keeps the count its own environment variables gave it at start-up.

The default, as torch's: the CPUs this process may run on, or ``OMP_NUM_THREADS`` when it
is set to fewer. At import nothing is changed in BLAS (its own default stands: it reads
``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` itself); only ``set_num_threads`` sets it.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from collections.abc import Callable

__all__ = ["get_num_threads", "set_num_threads"]


def _default() -> int:
    """torch's default: the CPUs this process may run on, or fewer when the first number
    of ``OMP_NUM_THREADS`` says so."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return min(int(env), cpus)
    return cpus


_CALLBACK_SETTERS = (
    "scipy_openblas_set_threads_callback_function64_",
    "openblas_set_threads_callback_function64_",
    "scipy_openblas_set_threads_callback_function",
    "openblas_set_threads_callback_function",
)


@functools.cache
def _callback_setter() -> Callable | None:
    """NumPy's OpenBLAS's threads-callback setter (OpenBLAS 0.3.27 and later), looked up
    through NumPy's own extension as ``numpy_gemm`` does; None without one."""
    import numpy as np

    try:
        dll = ctypes.CDLL(np._core._multiarray_umath.__file__)
    except (AttributeError, OSError):
        return None
    for name in _CALLBACK_SETTERS:
        setter = getattr(dll, name, None)
        if setter is not None:
            setter.argtypes, setter.restype = [ctypes.c_void_p], None
            return setter
    return None


# One pool by default (native_blas.h, share_blas_pool below): OpenBLAS's threaded calls run
# on the kernels' OpenMP team unless CHAINRULE_BLAS_POOL=openblas (or OpenBLAS has no
# callback). GNU OpenMP reads how its idle threads wait once, when loading the extension
# loads it, so that is chosen here, before: with one pool, a short spin (GOMP_SPINCOUNT
# 10000, ~0.5 ms) so a GEMM or loop that comes within it starts at once, as OpenBLAS's own
# spinning workers would; with two pools, passive (sleep at once): a team spinning 300000
# rounds (libgomp's default) takes the cores OpenBLAS's spinning workers need next. A
# policy the environment sets stands. Nothing is left in os.environ. Measured in
# docs/design.md "Kernels".
_POOL_WANTED = os.environ.get("CHAINRULE_BLAS_POOL", "kernels") == "kernels"
_wait = {}
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    if _POOL_WANTED and _callback_setter() is not None:
        _wait = {"GOMP_SPINCOUNT": "10000"}
    else:
        _wait = {"OMP_WAIT_POLICY": "passive"}
os.environ.update(_wait)
try:
    from chainrule.backend._native import lib as _lib  # type: ignore[import-not-found]
except ImportError:  # no native kernels: the number still steers BLAS
    _lib = None
finally:
    for _var in _wait:
        del os.environ[_var]

_threads = [_default()]
_forked = [False]
# whether the native kernels' loops run on several threads (read by Op.apply, which then
# sends a large array's ufunc to the threaded kernels: backend.threaded)
PARALLEL = [False]
PAR_ELEMENTS = 1 << 16  # native_omp.h's CR_PAR_LIGHT: from this size a ufunc goes to threads


def _parallel() -> None:
    PARALLEL[0] = _threads[0] > 1 and has_openmp() and not _forked[0]


if _lib is not None:
    _lib.cr_set_num_threads(_threads[0])


def _after_fork_in_child() -> None:
    """GNU OpenMP cannot start a team in a forked child of a process that used one (the
    child hangs): there the native kernels run on one thread (torch's DataLoader workers
    use one thread too). BLAS handles fork itself."""
    _forked[0] = True
    PARALLEL[0] = False
    if _lib is not None:
        _lib.cr_set_forked()


if _lib is not None and _lib.cr_has_openmp():
    os.register_at_fork(after_in_child=_after_fork_in_child)

# BLAS libraries' thread setters, most specific first (NumPy's wheels rename OpenBLAS's
# symbols with a scipy_ prefix and a 64_ suffix for their 64-bit-integer build)
_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
    "MKL_Set_Num_Threads",
)


def _blas_libraries() -> list[str]:
    """Paths of the BLAS libraries NumPy may have loaded: those in NumPy's wheel (its
    ``numpy.libs`` / ``.dylibs`` folder) and, on Linux, any OpenBLAS or MKL mapped into
    this process."""
    import numpy as np

    here = os.path.dirname(np.__file__)
    paths = []
    for folder in (os.path.join(here, "..", "numpy.libs"), os.path.join(here, ".dylibs")):
        for pattern in ("*openblas*", "*mkl_rt*"):
            paths += sorted(glob.glob(os.path.join(folder, pattern)))
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.rsplit(None, 1)[-1]
                name = os.path.basename(path)
                if ("openblas" in name or "mkl_rt" in name) and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    return [os.path.realpath(p) for p in paths]


_blas_setters: list[Callable[[int], object]] | None = None


def _blas() -> list[Callable[[int], object]]:
    """The thread setters of the BLAS libraries found (found once, on first use)."""
    global _blas_setters
    if _blas_setters is None:
        _blas_setters = []
        seen = set()
        for path in _blas_libraries():
            if path in seen:
                continue
            seen.add(path)
            try:
                dll = ctypes.CDLL(path)
            except OSError:
                continue
            for symbol in _SETTERS:
                fn = getattr(dll, symbol, None)
                if fn is not None:
                    fn.argtypes, fn.restype = [ctypes.c_int], None
                    _blas_setters.append(fn)
                    break
    return _blas_setters


# the GEMMs NumPy's matmul calls, by the names NumPy's builds give them: the integer width
# is part of the name (the 64_ suffix: ILP64, 64-bit integers), and only such names are
# used (a BLAS of unknown integer width keeps NumPy's own loop)
_GEMMS = (("scipy_cblas_{}gemm64_", True), ("cblas_{}gemm64_", True), ("scipy_cblas_{}gemm", False))
_COUNTS = (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
           ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
           ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"))  # fmt: skip


class Gemm:
    """The BLAS NumPy's matmul calls, for the native batched product (native_gemm.h):
    addresses of its cblas sgemm and dgemm (``ilp64``: 64-bit integers) and of its thread
    count's getter and setter (0 when it has none)."""

    __slots__ = ("sgemm", "dgemm", "ilp64", "get_threads", "set_threads")

    def __init__(self, sgemm: int, dgemm: int, ilp64: bool, get: int, set_: int):
        self.sgemm, self.dgemm, self.ilp64 = sgemm, dgemm, ilp64
        self.get_threads, self.set_threads = get, set_


def _address(dll: ctypes.CDLL, name: str) -> int:
    fn = getattr(dll, name, None)
    return 0 if fn is None else ctypes.cast(fn, ctypes.c_void_p).value or 0


def numpy_gemm() -> Gemm | None:
    """The GEMMs of the BLAS NumPy is linked with, looked up through NumPy's own extension
    (``dlsym`` on it searches the libraries it links, so the symbols found are the ones its
    matmul calls); None when none has a name of known integer width."""
    import numpy as np

    try:
        dll = ctypes.CDLL(np._core._multiarray_umath.__file__)
    except (AttributeError, OSError):
        return None
    for pattern, ilp64 in _GEMMS:
        sgemm, dgemm = _address(dll, pattern.format("s")), _address(dll, pattern.format("d"))
        if sgemm and dgemm:
            for get, set_ in _COUNTS:
                if _address(dll, get) and _address(dll, set_):
                    return Gemm(sgemm, dgemm, ilp64, _address(dll, get), _address(dll, set_))
            return Gemm(sgemm, dgemm, ilp64, 0, 0)
    return None


_pooled = [False]


def share_blas_pool(on: bool = True) -> bool:
    """Run the threaded calls of NumPy's OpenBLAS on the kernels' OpenMP team (native_blas.h:
    OpenBLAS's own workers busy-wait between calls and take the cores the team needs), or
    (``on=False``) on OpenBLAS's own threads again. Returns whether OpenBLAS runs on the
    team: False without native kernels built with OpenMP or an OpenBLAS that takes a
    threads callback (0.3.27 or later). Done at import unless
    ``CHAINRULE_BLAS_POOL=openblas`` (docs/design.md "Kernels")."""
    if _lib is None or not _lib.cr_blas_callback_available() or not _lib.cr_has_openmp():
        return False
    setter = _callback_setter()
    if setter is None:
        return False
    setter(int(_lib.cr_blas_callback()) if on else None)
    _pooled[0] = on
    return on


def blas_pool_shared() -> bool:
    """Whether NumPy's OpenBLAS runs its threaded calls on the kernels' team."""
    return _pooled[0]


if _POOL_WANTED:
    share_blas_pool()


def set_num_threads(n: int) -> None:
    """Sets the number of threads used for intraop parallelism on CPU: the native kernels'
    OpenMP loops and NumPy's BLAS (OpenBLAS or MKL; another BLAS keeps its own setting).

    As ``torch.set_num_threads``: a positive int, else RuntimeError. Call it before the
    work it should steer. In a forked child process the native kernels stay on one
    thread (OpenMP cannot start a team there)."""
    if type(n) is bool or not isinstance(n, int):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    _threads[0] = int(n)
    _parallel()
    if _lib is not None and not _forked[0]:
        _lib.cr_set_num_threads(int(n))
    for setter in _blas():
        setter(int(n))


def get_num_threads() -> int:
    """Returns the number of threads used for parallelizing CPU operations (the setting of
    ``set_num_threads``; by default the CPUs this process may run on, or
    ``OMP_NUM_THREADS`` when it is set to fewer)."""
    return _threads[0]


def has_openmp() -> bool:
    """Whether the native kernels were built with OpenMP (``torch.backends.openmp``'s
    question; False with no native kernels)."""
    return _lib is not None and bool(_lib.cr_has_openmp())


_parallel()
