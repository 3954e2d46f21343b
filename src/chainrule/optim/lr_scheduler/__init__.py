"""chainrule.optim.lr_scheduler: torch's learning-rate schedulers.

A sub-package rather than one file (torch's is a single module) to keep each file small:
scheduler.py (the LRScheduler base), decay.py (epoch-driven schedules), sequential.py
(SequentialLR, ChainedScheduler), plateau.py (ReduceLROnPlateau), one_cycle.py (OneCycleLR),
cyclic.py (CyclicLR, CosineAnnealingWarmRestarts).
"""

from chainrule import _coverage
from chainrule.optim.lr_scheduler.cyclic import CosineAnnealingWarmRestarts, CyclicLR
from chainrule.optim.lr_scheduler.decay import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from chainrule.optim.lr_scheduler.one_cycle import OneCycleLR
from chainrule.optim.lr_scheduler.plateau import ReduceLROnPlateau
from chainrule.optim.lr_scheduler.scheduler import LRScheduler
from chainrule.optim.lr_scheduler.sequential import ChainedScheduler, SequentialLR

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "SequentialLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "OneCycleLR",
    "CyclicLR",
    "CosineAnnealingWarmRestarts",
]
__getattr__ = _coverage.missing_attribute(__name__, "torch.optim.lr_scheduler")
