"""Global contrast normalisation and min-max scaling of images (Ruff et al. 2018), fitted on training images only."""

from __future__ import annotations

import torch

from aelab.data.batches import to_float
from aelab.utils.errors import require

NORMS = (None, "l1", "l2")


def global_contrast_normalize(x: torch.Tensor, norm: str) -> torch.Tensor:
    """Return each image minus its own mean, divided by its l1 or l2 norm (unit norm per image, floats)."""
    flat = to_float(x).flatten(1)
    centred = flat - flat.mean(1, keepdim=True)
    scale = centred.abs().sum(1) if norm == "l1" else centred.norm(dim=1)
    # A blank image has nothing to normalise: it stays at zero rather than turning into NaNs.
    return (centred / scale.clamp_min(torch.finfo(centred.dtype).tiny)[:, None]).view(x.shape)


class ImagePreprocessing:
    """Per-image contrast normalisation, then min-max scaling to [0, 1] by the training images' extremes."""

    def __init__(self, contrast_norm: str | None = None, minmax_scale: bool = False) -> None:
        require(contrast_norm in NORMS, f"data.contrast_norm must be l1, l2 or null, not {contrast_norm!r}.")
        self.contrast_norm, self.minmax_scale = contrast_norm, minmax_scale
        self.low: float | None = None
        self.high: float | None = None

    @property
    def active(self) -> bool:
        """Whether any step is switched on."""
        return self.contrast_norm is not None or self.minmax_scale

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return global_contrast_normalize(x, self.contrast_norm) if self.contrast_norm else to_float(x)

    def fit(self, train: torch.Tensor) -> ImagePreprocessing:
        """Take the minimum and maximum of the normalised training images (never the test images)."""
        if self.minmax_scale:
            values = self._normalise(train)
            self.low, self.high = float(values.min()), float(values.max())
            require(self.high > self.low, "data.minmax_scale=true needs training images that are not all equal.")
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Return the preprocessed images as floats; images outside the training range fall outside [0, 1]."""
        values = self._normalise(x)
        return (values - self.low) / (self.high - self.low) if self.minmax_scale else values
