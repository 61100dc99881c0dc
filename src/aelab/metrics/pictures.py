"""Pictures: image grids and figures as PNG files, sent to the loggers that take images; what a model draws.

The training callbacks and the analyses draw with the same functions, so a picture after training
matches those during it (callbacks import this module; nothing here imports the callbacks).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.io import ImageReadMode, read_image
from torchvision.utils import make_grid, save_image

from aelab.data.batches import to_float

FIGURE_INCHES = (6.0, 6.0)
FIGURE_DPI = 100  # with FIGURE_INCHES: every figure is 600 x 600 pixels


def log_image(trainer, key: str, grid: torch.Tensor) -> None:
    """Send an image grid [C, H, W] in [0, 1] to every logger of the trainer that accepts images."""
    from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger

    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, grid, global_step=trainer.global_step)
        elif isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[grid], step=trainer.global_step)


def spread(images: torch.Tensor, n: int) -> torch.Tensor:
    """Return `n` samples spread evenly over `images` (test splits are often ordered by class), as floats."""
    index = torch.linspace(0, len(images) - 1, min(n, len(images))).long()
    return to_float(images[index])


def sample_images(model, n: int, seed: int = 0) -> torch.Tensor:
    """Decodings of `n` prior codes, the same draw for the same seed (models that can sample)."""
    return model.sample(n, generator=torch.Generator().manual_seed(seed))


def interpolation_images(model, x: torch.Tensor, steps: int) -> torch.Tensor:
    """One row of `steps` decodings per pair of consecutive images of `x`, ends included, flattened to a batch."""
    pairs = len(x) // 2
    return model.interpolate(x[0 : 2 * pairs : 2], x[1 : 2 * pairs : 2], steps).flatten(0, 1)


def traversal_images(model, x: torch.Tensor, rows: int, steps: int, span: float) -> torch.Tensor:
    """One row per code dimension (those varying most over `x`): the first image's code moved along it."""
    codes = model.encode(x)
    flat = codes.flatten(1)
    dims = flat.var(0).argsort(descending=True)[:rows]
    values = torch.linspace(-span, span, steps, device=flat.device)
    z = flat[:1].repeat(len(dims) * steps, 1).view(len(dims), steps, -1)
    for row, dim in enumerate(dims):
        z[row, :, dim] = values
    return model.decode(z.flatten(0, 1).view(-1, *codes.shape[1:]))


def save_grid(trainer, path: Path, images: torch.Tensor, nrow: int) -> Path:
    """Save a batch of images [N, C, H, W] in [0, 1] as one grid PNG and log it; return the file."""
    grid = make_grid(images.detach().float().clamp(0, 1).cpu(), nrow=nrow, padding=2, pad_value=1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(grid, path)
    if trainer is not None:
        log_image(trainer, f"analyses/{path.stem}", grid)
    return path


def figure():
    """Return a new matplotlib figure and axes of the fixed analysis size, drawn off screen."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=FIGURE_INCHES, dpi=FIGURE_DPI, layout="constrained")


def save_figure(trainer, path: Path, fig) -> Path:
    """Save a matplotlib figure as a PNG of FIGURE_INCHES at FIGURE_DPI, close it, and log it; return the file."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=FIGURE_DPI)
    plt.close(fig)
    if trainer is not None:
        log_image(trainer, f"analyses/{path.stem}", read_image(str(path), ImageReadMode.RGB).float() / 255)
    return path
