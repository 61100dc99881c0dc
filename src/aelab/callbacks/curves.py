"""The test set's bound while training: the held-out curves of Kingma & Welling 2014, Figure 2."""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from aelab import noise
from aelab.data.batches import IndexBatches
from aelab.internals.lightning import write_train_metrics
from aelab.utils.errors import require


class ELBOCurve(pl.Callback):
    """Log `test_curve/elbo`, the test images' mean ELBO, and `test_curve/samples_seen` every few epochs.

    One draw of q(z|x) per image with the same noise every time (a fixed seed, the run's own random
    stream left untouched), so the curve moves only with the weights. Nothing is chosen on it: checkpoints
    and early stopping read the validation split, never this.
    """

    def __init__(self, every_n_epochs: int = 1, batch_size: int = 1000, seed: int = 0) -> None:
        require(every_n_epochs >= 1, f"every_n_epochs must be >= 1, not {every_n_epochs}.")
        self.every_n_epochs, self.batch_size, self.seed = every_n_epochs, batch_size, seed
        self.samples_seen = 0  # training samples drawn so far; kept in checkpoints, so a resumed run counts on

    def state_dict(self) -> dict:
        return {"samples_seen": self.samples_seen}

    def load_state_dict(self, state_dict: dict) -> None:
        self.samples_seen = state_dict["samples_seen"]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.samples_seen += len(batch[0]) * trainer.world_size

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        require(
            pl_module.has_likelihood,
            f"callbacks.test_curve needs a model with an ELBO (vae, beta_vae), not {type(pl_module).__name__}: "
            "drop callbacks.test_curve.",
        )

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        elbo = self.test_elbo(pl_module, trainer.datamodule.test_x)
        seen = torch.tensor(float(self.samples_seen))
        write_train_metrics(trainer, {"test_curve/elbo": elbo, "test_curve/samples_seen": seen})

    def test_elbo(self, pl_module: pl.LightningModule, test_x: torch.Tensor) -> torch.Tensor:
        """Return the mean single-draw ELBO of `test_x` in nats, with fixed noise."""
        device = pl_module.device
        was_training = pl_module.training
        pl_module.eval()
        total = torch.zeros((), device=device)
        # Noise of its own: the model's generator (and torch's) stay where the run left them.
        with torch.no_grad(), noise.drawing_from(torch.Generator(device).manual_seed(self.seed)):
            for x, _ in IndexBatches(test_x, torch.zeros(len(test_x)), self.batch_size):
                x = x.to(device)
                total += pl_module.step_output(x, "val").stats["elbo"] * len(x)
        pl_module.train(was_training)
        return total / len(test_x)
