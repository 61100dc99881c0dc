"""The terminal progress bar, without Lightning's per-batch read of every logged metric."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import RichProgressBar


class ProgressBar(RichProgressBar):
    """Rich's bar; it reads the metrics only on the steps they change (`trainer.log_every_n_steps`).

    Lightning's bar collects and converts every logged metric after each batch, which costs a small model
    a tenth of its step; the bar itself is drawn by Rich's own thread `refresh_rate` times a second.
    """

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int):
        last = batch_idx + 1 == self.total_train_batches
        if trainer.global_step % trainer.log_every_n_steps == 0 or last or self.train_progress_bar_id is None:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        elif self.progress is not None and self.is_enabled:
            self.progress.update(self.train_progress_bar_id, completed=batch_idx + 1)
