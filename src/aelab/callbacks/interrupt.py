"""Ctrl-C and SIGTERM (a cluster's pre-emption notice) save a checkpoint and say how to resume."""

from __future__ import annotations

import sys
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.utilities.exceptions import SIGTERMException


class InterruptCheckpoint(pl.Callback):
    """Saves `<dirpath>/interrupted.ckpt` when the run is interrupted, then prints the resume command."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, (KeyboardInterrupt, SIGTERMException)):
            return
        path = self.dirpath / "interrupted.ckpt"
        trainer.save_checkpoint(path)
        if trainer.is_global_zero:
            run = Path(trainer.default_root_dir)
            print(
                f"Interrupted at epoch {trainer.current_epoch}, step {trainer.global_step}: saved {path}. "
                f"Resume from the last finished epoch with: aelab-train <same overrides> hydra.run.dir={run} "
                "ckpt_path=last",
                file=sys.stderr,
            )
