"""Stores the run's composed config, provenance record and random state inside every checkpoint."""

from __future__ import annotations

import pytorch_lightning as pl
import torch

CHECKPOINT_KEY = "aelab"


class RunRecordCallback(pl.Callback):
    """Adds {'config', 'record', 'rng', 'cuda_rng'} under the `aelab` key of each checkpoint (plain values, tensors).

    The CPU generator's state and, once CUDA has started, every CUDA device's: noise drawn on a GPU (VAE
    sampling, corruption) then continues after a resume as in an uninterrupted run.
    """

    def __init__(self, config: dict, record: dict) -> None:
        self.config, self.record = config, record

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else []
        checkpoint[CHECKPOINT_KEY] = {
            "config": self.config,
            "record": self.record,
            "rng": torch.get_rng_state(),
            "cuda_rng": cuda,
        }

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        # Noise draws (denoising, VAE sampling) continue as in an uninterrupted run.
        saved = checkpoint.get(CHECKPOINT_KEY, {})
        if saved.get("rng") is not None:
            torch.set_rng_state(saved["rng"])
        if saved.get("cuda_rng") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
