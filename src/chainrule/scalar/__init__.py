"""The scalar engine (standard library only): ``Value`` and a micrograd-style ``nn``."""

from chainrule.scalar import nn
from chainrule.scalar.nn import MLP, Layer, Module, Neuron
from chainrule.scalar.value import Value, weighted_sum

__all__ = ["Value", "weighted_sum", "nn", "Module", "Neuron", "Layer", "MLP"]
