"""Pictures of the analyses: PNG files in the run folder, also sent to loggers that take images."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.io import ImageReadMode, read_image
from torchvision.utils import make_grid, save_image

from aelab.callbacks.images import log_image

FIGURE_INCHES = (6.0, 6.0)
FIGURE_DPI = 100  # with FIGURE_INCHES: every figure is 600 x 600 pixels


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
