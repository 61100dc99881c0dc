"""Picture callbacks for generative variants: prior samples, interpolations and latent traversals.

They apply to models that declare `can_sample` and work on images; runs of other models leave them out,
so they can sit in every run's callback list.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from aelab.callbacks.images import ImageGridCallback
from aelab.metrics.pictures import interpolation_images, sample_images, spread, traversal_images


def can_draw(pl_module: pl.LightningModule) -> bool:
    """Return whether the model samples from a prior and works on images."""
    return pl_module.can_sample and len(pl_module.input_shape) == 3


class GenerativeGrid(ImageGridCallback):
    """Base for generative pictures: drawn at the end of every `every_n_epochs`-th validation and of the last."""

    name = "generative"
    seed = 0  # the same noise every epoch, so successive grids show the model changing, not the draw

    def nrow(self) -> int:
        """Return the number of images per row of the grid."""
        return min(8, self.num_images)

    def applies_to(self, pl_module: pl.LightningModule, datamodule) -> bool:
        return can_draw(pl_module)

    def test_images(self, trainer: pl.Trainer, pl_module: pl.LightningModule, n: int) -> torch.Tensor:
        """`n` test images spread over the test split, on the model's device."""
        return spread(trainer.datamodule.test_x, n).to(pl_module.device, pl_module.dtype)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch % self.every_n_epochs == 0 or epoch == trainer.max_epochs:
            self.draw(trainer, pl_module, self.name, nrow=self.nrow())


class SampleGrid(GenerativeGrid):
    """Decoder means of `num_images` codes drawn from the prior."""

    name = "samples"

    def images(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> torch.Tensor:
        return sample_images(pl_module, self.num_images, self.seed)


class InterpolationGrid(GenerativeGrid):
    """One row per pair of test images: the decodings along the line between their codes, ends included."""

    name = "interpolation"

    def __init__(self, dirpath: str, num_images: int = 4, every_n_epochs: int = 1, steps: int = 10) -> None:
        super().__init__(dirpath, num_images, every_n_epochs)
        self.steps = steps

    def nrow(self) -> int:
        return self.steps

    def images(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> torch.Tensor:
        return interpolation_images(pl_module, self.test_images(trainer, pl_module, 2 * self.num_images), self.steps)


class LatentTraversal(GenerativeGrid):
    """One row per latent dimension (the most varied over test images): a test image's code moved along it."""

    name = "traversal"

    def __init__(
        self, dirpath: str, num_images: int = 8, every_n_epochs: int = 1, steps: int = 10, span: float = 3.0
    ) -> None:
        super().__init__(dirpath, num_images, every_n_epochs)
        self.steps, self.span = steps, span

    def nrow(self) -> int:
        return self.steps

    def images(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> torch.Tensor:
        x = self.test_images(trainer, pl_module, 256)
        return traversal_images(pl_module, x, self.num_images, self.steps, self.span)
