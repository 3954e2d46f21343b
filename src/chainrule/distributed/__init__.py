"""Data-parallel training across processes and machines (``torch.distributed``), on MPI.

``init_process_group`` joins the default group (the MPI job started by ``mpiexec`` or
``python -m chainrule.distributed.run``; a plain ``python train.py`` is a world of one that
needs no MPI); the collectives of ``collectives.py`` work on tensors in place;
``chainrule.nn.parallel.DistributedDataParallel`` averages gradients with them;
``helpers.py`` has rank-0 printing, logging and checkpointing.
"""

from __future__ import annotations

from chainrule import _coverage
from chainrule.distributed import collectives, helpers, process_group
from chainrule.distributed.collectives import *  # noqa: F403
from chainrule.distributed.helpers import *  # noqa: F403
from chainrule.distributed.process_group import *  # noqa: F403

__all__ = [*process_group.__all__, *collectives.__all__, *helpers.__all__]
__getattr__ = _coverage.missing_attribute(__name__, "torch.distributed")
