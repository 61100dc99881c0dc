"""Picture callbacks: PNG grids saved in the run folder and sent to loggers that take images."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from torchvision.utils import make_grid, save_image

from aelab.metrics.pictures import log_image


class ImageGridCallback(pl.Callback):
    """Base for callbacks that draw a grid of images every few epochs."""

    def __init__(self, dirpath: str, num_images: int = 16, every_n_epochs: int = 1) -> None:
        self.dirpath, self.num_images, self.every_n_epochs = Path(dirpath), num_images, every_n_epochs

    def applies_to(self, pl_module: pl.LightningModule, datamodule) -> bool:
        """Return whether this callback draws anything for this model and data (runs leave it out otherwise)."""
        return len(getattr(pl_module, "input_shape", ())) == 3

    def images(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> torch.Tensor | None:
        """Return a batch of images [N, C, H, W] in [0, 1] to lay out, or None to skip."""
        raise NotImplementedError

    def draw(self, trainer: pl.Trainer, pl_module: pl.LightningModule, name: str, nrow: int) -> Path | None:
        """Save the grid as `<dirpath>/<name>_epoch_NNN.png` and log it; return the file."""
        if trainer.sanity_checking or not trainer.is_global_zero or not self.applies_to(pl_module, trainer.datamodule):
            return None
        was_training = pl_module.training
        pl_module.eval()
        with torch.no_grad():
            images = self.images(trainer, pl_module)
        pl_module.train(was_training)
        if images is None:
            return None
        grid = make_grid(images.detach().float().clamp(0, 1).cpu(), nrow=nrow, padding=2, pad_value=1.0)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        path = self.dirpath / f"{name}_epoch_{trainer.current_epoch:03d}.png"
        save_image(grid, path)
        log_image(trainer, f"images/{name}", grid)
        return path


class ReconstructionGrid(ImageGridCallback):
    """Validation images (top row of each pair) above their reconstructions."""

    def applies_to(self, pl_module: pl.LightningModule, datamodule) -> bool:
        return super().applies_to(pl_module, datamodule) and pl_module.can_decode

    def images(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> torch.Tensor | None:
        datamodule = trainer.datamodule
        x = datamodule.val_x[: self.num_images]
        x = (x.float() / 255 if x.dtype == torch.uint8 else x.float()).to(pl_module.device, pl_module.dtype)
        recon = pl_module(x)
        # Interleave rows: originals on one row, their reconstructions on the next.
        rows = min(8, len(x))
        pairs = [t for i in range(0, len(x), rows) for t in (x[i : i + rows], recon[i : i + rows])]
        return torch.cat(pairs)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs == 0 or trainer.current_epoch + 1 == trainer.max_epochs:
            self.draw(trainer, pl_module, "reconstruction", nrow=min(8, self.num_images))
