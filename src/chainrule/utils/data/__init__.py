"""Data loading (``torch.utils.data``): datasets in ``dataset.py``, samplers in ``sampler.py``,
``DataLoader`` and the default collate in ``dataloader.py``."""

from __future__ import annotations

from chainrule import _coverage
from chainrule.utils.data import dataloader, dataset, distributed, sampler
from chainrule.utils.data.dataloader import *  # noqa: F403
from chainrule.utils.data.dataset import *  # noqa: F403
from chainrule.utils.data.distributed import *  # noqa: F403
from chainrule.utils.data.sampler import *  # noqa: F403

__all__ = [*dataset.__all__, *sampler.__all__, *distributed.__all__, *dataloader.__all__]
__getattr__ = _coverage.missing_attribute(__name__, "torch.utils.data")
