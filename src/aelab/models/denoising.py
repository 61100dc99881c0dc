"""The denoising autoencoder: reconstruct the clean input from a corrupted copy (Vincent et al. 2008)."""

from __future__ import annotations

from typing import Any

import torch

from aelab.models.base import Autoencoder, StepOutput
from aelab.utils.errors import require

NOISES = ("gaussian", "masking", "salt_pepper")


def corrupt(
    x: torch.Tensor, noise: str, level: float, randn_like=torch.randn_like, rand_like=torch.rand_like
) -> torch.Tensor:
    """Return a corrupted copy of `x`: Gaussian noise of std `level`, or a fraction `level` of values masked/salted."""
    if noise == "gaussian":
        return x + level * randn_like(x)
    hit = rand_like(x) < level
    if noise == "masking":
        return x.masked_fill(hit, 0.0)
    # Salt and pepper: the hit values go to the batch's minimum or maximum with equal odds.
    salt = rand_like(x) < 0.5
    low, high = x.min(), x.max()
    return torch.where(hit, torch.where(salt, high, low), x)


class DenoisingAE(Autoencoder):
    """An autoencoder trained to map corrupted inputs to clean ones; the corruption is applied in training only."""

    vectorisable = True
    overcomplete = True

    def __init__(self, noise: str = "gaussian", noise_level: float = 0.3, **kwargs: Any) -> None:
        require(noise in NOISES, f"model.noise must be one of {NOISES}, not {noise!r}.")
        require(noise_level >= 0, f"model.noise_level must be >= 0, not {noise_level}.")
        require(
            noise == "gaussian" or noise_level <= 1,
            f"model.noise_level is a fraction of values for noise={noise}: choose one in [0, 1], not {noise_level}.",
        )
        super().__init__(**kwargs)

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """Return `x` with this model's corruption applied."""
        return corrupt(x, self.hparams.noise, self.hparams.noise_level, self.randn_like, self.rand_like)

    def _reconstruct_from(self, source: torch.Tensor, target: torch.Tensor) -> StepOutput:
        code = self.encoder(source)
        logits = self.decoder(code)
        return StepOutput(logits, code, {"recon": self.recon_loss.error(logits, target).mean()})

    def step_output(self, x: torch.Tensor, stage: str) -> StepOutput:
        if stage == "train":
            return self._reconstruct_from(self.corrupt(x), x)
        out = self._reconstruct_from(x, x)
        # What the model is for: the reconstruction error from corrupted inputs, reported beside the clean one.
        out.stats["recon_noisy"] = self._reconstruct_from(self.corrupt(x), x).terms["recon"]
        return out
