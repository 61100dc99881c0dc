"""The fast in-memory path: batches taken by index from one tensor, no per-sample work."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist


def to_float(x: torch.Tensor) -> torch.Tensor:
    """Return a float32 batch; uint8 images are scaled to [0, 1]."""
    return x.to(torch.float32).mul_(1 / 255) if x.dtype == torch.uint8 else x.float()


# Offsets the binarisation streams from the permutation's, which draws from `seed + epoch`.
BINARIZE_STREAM = 1_000_003


def binarize_once(x: torch.Tensor, seed: int) -> torch.Tensor:
    """Return one Bernoulli sample of intensities in [0, 1] as uint8 0/255 (so batches scale it to 0/1)."""
    generator = torch.Generator(device=x.device).manual_seed(seed)
    return torch.bernoulli(to_float(x), generator=generator).mul_(255).to(torch.uint8)


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool) -> torch.Tensor:
    """The order of one epoch's samples: a permutation drawn from `seed + epoch`, or 0..n-1 without shuffling."""
    if not shuffle:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))


class EpochPermutation(torch.utils.data.Sampler):
    """The order `IndexBatches` takes, as a DataLoader's sampler (Lightning sets its epoch, as for any sampler).

    Under DDP Lightning wraps it in its `DistributedSamplerWrapper` (unshuffled: this is not a RandomSampler),
    which forwards `set_epoch` and gives rank r every world_size-th index of this order, as `IndexBatches`
    does; the wrapper pads the ranks' shares to equal length by repeating indices where `IndexBatches` drops
    the last world_size - 1 at most, so the two paths differ there by those few samples an epoch.
    """

    def __init__(self, n: int, seed: int, shuffle: bool) -> None:
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch whose order the next iteration takes."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(epoch_order(self.n, self.seed, self.epoch, self.shuffle).tolist())


class IndexBatches:
    """An iterable of (inputs, labels) batches over in-memory tensors, sharded across DDP ranks.

    Each epoch draws one permutation from `seed + epoch`, so every rank agrees on it and a resumed run
    continues the same sequence. The epoch comes from `epoch_of()` when given (data modules pass their
    trainer's `current_epoch`), else the loader counts its own passes (`set_epoch` sets the count). A rank
    takes every `world_size`-th index; at most `world_size - 1` samples (fewer than one batch) are left out
    so that ranks run equal steps. With `binarize`, each batch is a fresh Bernoulli sample of its intensities,
    drawn from a stream seeded by the seed and the epoch (so a resumed run draws the same samples).
    """

    def __init__(
        self,
        inputs: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        epoch_of: Callable[[], int] | None = None,
        binarize: bool = False,
    ) -> None:
        self.inputs, self.labels, self.binarize = inputs, labels, binarize
        self.batch_size, self.shuffle, self.seed, self.drop_last = batch_size, shuffle, seed, drop_last
        self.epoch, self.epoch_of = 0, epoch_of

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch whose permutation the next iteration uses."""
        self.epoch = epoch

    @staticmethod
    def _rank_and_world() -> tuple[int, int]:
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def indices(self) -> torch.Tensor:
        """Return this rank's indices for the current epoch."""
        n = len(self.inputs)
        order = epoch_order(n, self.seed, self.epoch, self.shuffle)
        rank, world = self._rank_and_world()
        if world > 1:
            order = order[: (n // world) * world][rank::world]
        return order

    def __len__(self) -> int:
        n = len(self.inputs) // self._rank_and_world()[1]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        # Read when the first batch is asked for: Lightning creates the iterator before the epoch starts.
        if self.epoch_of is not None:
            self.epoch = self.epoch_of()
        order = self.indices().to(self.inputs.device)
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        generator = None
        if self.binarize:
            rank = self._rank_and_world()[0]
            seed = (self.seed * BINARIZE_STREAM + self.epoch) * BINARIZE_STREAM + rank
            generator = torch.Generator(device=self.inputs.device).manual_seed(seed)
        for start in range(0, stop, self.batch_size):
            index = order[start : start + self.batch_size]
            # index_select is several times faster than advanced indexing on a 4-D uint8 tensor.
            x = to_float(self.inputs.index_select(0, index))
            yield (torch.bernoulli(x, generator=generator) if self.binarize else x), self.labels.index_select(0, index)
        self.epoch += 1
