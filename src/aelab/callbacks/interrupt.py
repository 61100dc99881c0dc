"""Ctrl-C and SIGTERM (a cluster's pre-emption notice) save a checkpoint and say how to resume."""

from __future__ import annotations

import sys
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import OnExceptionCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException


class InterruptCheckpoint(OnExceptionCheckpoint):
    """Lightning's `OnExceptionCheckpoint` saving `interrupted.ckpt` on interruptions only, with the resume command.

    Other exceptions (a diverging loss, a bug) save nothing: the last good checkpoint is the one to go back to.
    Like Lightning's, the file is removed when a later run in the same folder finishes.
    """

    def __init__(self, dirpath: str) -> None:
        super().__init__(dirpath, filename="interrupted")

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, (KeyboardInterrupt, SIGTERMException)):
            return
        super().on_exception(trainer, pl_module, exception)
        if trainer.is_global_zero:
            run = Path(trainer.default_root_dir)
            print(
                f"Interrupted at epoch {trainer.current_epoch}, step {trainer.global_step}: saved {self.ckpt_path}. "
                f"Resume from the last finished epoch with: aelab-train <same overrides> hydra.run.dir={run} "
                "ckpt_path=last",
                file=sys.stderr,
            )
