"""Datasets read from files the user has (``torchvision.datasets``' names): MNIST, FashionMNIST."""

from __future__ import annotations

from chainrule.datasets.mnist import MNIST, FashionMNIST, read_idx, write_idx

__all__ = ["MNIST", "FashionMNIST", "read_idx", "write_idx"]
