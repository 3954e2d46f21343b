"""DistributedSampler: each rank's share of a dataset (torch.utils.data.distributed)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


def torch_randperm(n: int, seed: int) -> list[int]:
    """``torch.randperm(n, generator=torch.Generator().manual_seed(seed))``, value for
    value: torch's CPU generator is the standard 32-bit Mersenne Twister seeded with the
    seed's low 32 bits (NumPy's legacy seeding gives the same stream) and its randperm is
    Fisher-Yates with ``random() % (n - i)``."""
    bits = np.random.MT19937()
    bits._legacy_seeding(seed & 0xFFFFFFFF)
    draws = bits.random_raw(max(n - 1, 0)).astype(np.int64)
    if n >= (1 << 32) // 20:  # torch switches to 64-bit draws there; never that large here
        raise NotImplementedError(f"DistributedSampler: a dataset of {n} items is too large")
    span = np.arange(n, 1, -1, dtype=np.int64)
    picks = (draws % span).tolist()
    p = list(range(n))
    for i, z in enumerate(picks):
        j = i + z
        p[i], p[j] = p[j], p[i]
    return p


class DistributedSampler(Sampler):
    """torch's DistributedSampler: the same order on every rank (a permutation seeded by
    ``seed + epoch``, torch's own, so the index lists equal torch's), padded by repeating
    indices up to a multiple of ``num_replicas`` (or trimmed with ``drop_last``), rank r
    taking every ``num_replicas``-th index from r. Call ``set_epoch`` each epoch."""

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        from chainrule import distributed as dist

        if num_replicas is None:
            num_replicas = dist.get_world_size()
            if num_replicas < 0:  # no process group (torch raises its ValueError here)
                dist.process_group._world()
        if rank is None:
            rank = dist.get_rank()
            if rank < 0:
                dist.process_group._world()
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if self.drop_last and len(self.dataset) % self.num_replicas != 0:
            self.num_samples = math.ceil(
                (len(self.dataset) - self.num_replicas) / self.num_replicas
            )
        else:
            self.num_samples = math.ceil(len(self.dataset) / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        indices = torch_randperm(n, self.seed + self.epoch) if self.shuffle else list(range(n))
        if not self.drop_last:
            padding_size = self.total_size - len(indices)
            if padding_size <= len(indices):
                indices += indices[:padding_size]
            else:
                indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[: self.total_size]
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Seed the next iteration's shuffle with ``seed + epoch``."""
        self.epoch = epoch
