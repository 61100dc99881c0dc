"""Stores the run's composed config and provenance record inside every checkpoint."""

from __future__ import annotations

import pytorch_lightning as pl

CHECKPOINT_KEY = "aelab"


class RunRecordCallback(pl.Callback):
    """Adds {'config', 'record'} under the `aelab` key of each checkpoint (plain values only)."""

    def __init__(self, config: dict, record: dict) -> None:
        self.config, self.record = config, record

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = {"config": self.config, "record": self.record}
