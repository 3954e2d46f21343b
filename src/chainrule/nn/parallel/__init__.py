"""torch.nn.parallel: DistributedDataParallel (data parallelism across processes, on the
default process group of ``chainrule.distributed``)."""

from __future__ import annotations

from chainrule import _coverage
from chainrule.nn.parallel import distributed
from chainrule.nn.parallel.distributed import *  # noqa: F403

__all__ = [*distributed.__all__]
__getattr__ = _coverage.missing_attribute(__name__, "torch.nn.parallel")
