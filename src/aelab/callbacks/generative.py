"""Picture callbacks for generative variants: prior samples, interpolations and latent traversals.

Each skips, silently, models that cannot sample (no `sample` method) and data that are not images,
so the callbacks can sit in any run's callback list.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from aelab.callbacks.images import ImageGridCallback
from aelab.data.batches import to_float


def can_draw(pl_module: pl.LightningModule) -> bool:
    """Return whether the model samples from a prior and works on images."""
    return callable(getattr(pl_module, "sample", None)) and len(getattr(pl_module, "input_shape", ())) == 3


def test_images(trainer: pl.Trainer, pl_module: pl.LightningModule, n: int) -> torch.Tensor:
    """Return `n` test images spread evenly over the test split, as floats on the model's device."""
    images = trainer.datamodule.test_x
    # Test splits are often ordered by class: evenly spaced picks show several classes, not n zeros.
    index = torch.linspace(0, len(images) - 1, min(n, len(images))).long()
    return to_float(images[index]).to(pl_module.device)


class GenerativeGrid(ImageGridCallback):
    """Base for generative pictures: drawn at the end of every `every_n_epochs`-th validation and of the last."""

    name = "generative"
    seed = 0  # the same noise every epoch, so successive grids show the model changing, not the draw

    def nrow(self) -> int:
        """Return the number of images per row of the grid."""
        return min(8, self.num_images)

    def applies_to(self, pl_module: pl.LightningModule, datamodule) -> bool:
        return can_draw(pl_module)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch % self.every_n_epochs == 0 or epoch == trainer.max_epochs:
            self.draw(trainer, pl_module, self.name, nrow=self.nrow())


class SampleGrid(GenerativeGrid):
    """Decoder means of `num_images` codes drawn from the prior."""

    name = "samples"

    def images(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> torch.Tensor:
        return pl_module.sample(self.num_images, generator=torch.Generator().manual_seed(self.seed))


class InterpolationGrid(GenerativeGrid):
    """One row per pair of test images: the decodings along the line between their codes, ends included."""

    name = "interpolation"

    def __init__(self, dirpath: str, num_images: int = 4, every_n_epochs: int = 1, steps: int = 10) -> None:
        super().__init__(dirpath, num_images, every_n_epochs)
        self.steps = steps

    def nrow(self) -> int:
        return self.steps

    def images(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> torch.Tensor:
        x = test_images(trainer, pl_module, 2 * self.num_images)
        return pl_module.interpolate(x[0::2][: len(x) // 2], x[1::2][: len(x) // 2], self.steps).flatten(0, 1)


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
        codes = pl_module.encode(test_images(trainer, pl_module, 256))
        dims = codes.var(0).argsort(descending=True)[: self.num_images]
        values = torch.linspace(-self.span, self.span, self.steps, device=codes.device)
        # Rows: a chosen dimension set to each value in turn, the others kept at the first image's code.
        z = codes[:1].repeat(len(dims) * self.steps, 1).view(len(dims), self.steps, -1)
        for row, dim in enumerate(dims):
            z[row, :, dim] = values
        return pl_module.decode(z.flatten(0, 1))
