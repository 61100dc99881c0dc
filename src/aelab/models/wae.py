"""The Wasserstein autoencoder with an MMD penalty (WAE-MMD, Tolstikhin et al. 2018)."""

from __future__ import annotations

from typing import Any

import torch

from aelab.losses import imq_mmd
from aelab.models.base import Autoencoder, StepOutput
from aelab.utils.errors import require


class WAE(Autoencoder):
    """A deterministic encoder whose batch of codes is pulled towards the prior N(0, I) by an MMD penalty.

    Loss: recon + mmd_weight * MMD^2(codes, prior samples) under the inverse multiquadratic kernel, one fresh
    prior sample per batch. The prior is matched in aggregate, not per sample, so decoded prior samples are
    images (`can_sample`); there is no likelihood bound.
    """

    vectorisable = True
    can_sample = True

    def __init__(
        self, mmd_weight: float = 10.0, kernel_scales: list[float] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0), **kwargs: Any
    ) -> None:
        require(mmd_weight >= 0, f"model.mmd_weight must be >= 0, not {mmd_weight}.")
        require(
            len(kernel_scales) > 0 and all(s > 0 for s in kernel_scales),
            f"model.kernel_scales must be positive numbers, not {list(kernel_scales)}.",
        )
        super().__init__(**kwargs)

    def prior_codes(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return `n` codes drawn from the prior N(0, I)."""
        return torch.randn(n, self.latent_dim, generator=generator)

    def step_output(self, x: torch.Tensor, stage: str) -> StepOutput:
        out = super().step_output(x, stage)
        mmd = imq_mmd(out.code, self.randn_like(out.code), tuple(self.hparams.kernel_scales))
        out.terms["mmd"] = self.hparams.mmd_weight * mmd
        out.stats["mmd_raw"] = mmd.detach()
        return out
