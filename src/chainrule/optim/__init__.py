"""chainrule.optim: torch's optimizers (SGD, Adam, AdamW, RMSprop, Adagrad) and lr schedulers."""

from chainrule import _coverage
from chainrule.optim import lr_scheduler
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.adam import Adam, AdamW
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
__getattr__ = _coverage.missing_attribute(__name__, "torch.optim")
