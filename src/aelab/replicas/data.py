"""The replicas' data: one data module per seed (its own validation split and order), batches stacked [R, B, ...]."""

from __future__ import annotations

import pytorch_lightning as pl
import torch


class ReplicaBatches:
    """Each replica's batches, taken in lockstep and stacked: inputs [R, B, ...], labels [R, B]."""

    def __init__(self, loaders: list) -> None:
        self.loaders = loaders

    def __len__(self) -> int:
        return min(len(loader) for loader in self.loaders)

    def __iter__(self):
        for batches in zip(*self.loaders):
            yield torch.stack([x for x, _ in batches]), torch.stack([y for _, y in batches])


class ReplicaDataModule(pl.LightningDataModule):
    """The data modules of the replicas' seeds, served together (each attached to the replicas' trainer)."""

    def __init__(self, modules: list) -> None:
        super().__init__()
        self.modules = modules

    def lockstep(self) -> bool:
        """Whether every replica has as many training and validation samples (so its batches line up)."""
        return len({(len(m.train_x), len(m.val_x)) for m in self.modules}) == 1

    def _attached(self) -> list:
        for module in self.modules:
            module.trainer = self.trainer  # their batches follow this trainer's epoch
        return self.modules

    def train_dataloader(self):
        return ReplicaBatches([m.train_dataloader() for m in self._attached()])

    def val_dataloader(self):
        return ReplicaBatches([m.val_dataloader() for m in self._attached()])
