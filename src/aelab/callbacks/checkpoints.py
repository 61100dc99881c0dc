"""The checkpoints a run resumes from: last.ckpt after every epoch; interrupted.ckpt on Ctrl-C or SIGTERM."""

from __future__ import annotations

import sys
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Checkpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException


class LastCheckpoint(Checkpoint):
    """Saves `<dirpath>/last.ckpt` at the end of every training epoch, replacing the one before.

    Not ModelCheckpoint's `save_last`: Lightning 2.6 writes that file only on epochs whose monitored value
    improves, so `ckpt_path=last` would resume from the best epoch rather than the last one; and a second
    ModelCheckpoint without a monitor clashes with a first one without a monitor (their states share a key).
    """

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.fast_dev_run:
            return
        trainer.save_checkpoint(self.dirpath / "last.ckpt", weights_only=False)


class InterruptCheckpoint(pl.Callback):
    """Saves `<dirpath>/interrupted.ckpt` when the run is interrupted, then prints the resume command.

    Not Lightning's `OnExceptionCheckpoint`: with one of those among the callbacks, `Trainer.fit(ckpt_path=None)`
    resumes from the newest checkpoint in the folder (Lightning turns None into "last"), so a fresh run in a
    used folder would silently go on from an old one. Other exceptions (a diverging loss, a bug) save nothing.
    """

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, (KeyboardInterrupt, SIGTERMException)):
            return
        path = self.dirpath / "interrupted.ckpt"
        trainer.save_checkpoint(path, weights_only=False)
        if trainer.is_global_zero:
            run = Path(trainer.default_root_dir)
            print(
                f"Interrupted at epoch {trainer.current_epoch}, step {trainer.global_step}: saved {path}. "
                f"Resume from the last finished epoch with: aelab-train <same overrides> hydra.run.dir={run} "
                "ckpt_path=last",
                file=sys.stderr,
            )
