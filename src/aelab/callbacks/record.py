"""Stores the run's composed config, provenance record and random state inside every checkpoint."""

from __future__ import annotations

import pytorch_lightning as pl
import torch

CHECKPOINT_KEY = "aelab"


class RunRecordCallback(pl.Callback):
    """Adds {'config', 'record', 'rng'} under the `aelab` key of each checkpoint (plain values and tensors)."""

    def __init__(self, config: dict, record: dict) -> None:
        self.config, self.record = config, record

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = {"config": self.config, "record": self.record, "rng": torch.get_rng_state()}

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        # Noise draws (denoising, VAE sampling) continue as in an uninterrupted run.
        state = checkpoint.get(CHECKPOINT_KEY, {}).get("rng")
        if state is not None:
            torch.set_rng_state(state)
