"""The sparse autoencoder: a reconstruction term plus a sparsity penalty on the latent code."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aelab.models.base import Autoencoder, StepOutput
from aelab.nets.base import activation
from aelab.utils.errors import require

PENALTIES = ("l1", "kl")


def bernoulli_kl(target: float, rate: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Return KL(Bernoulli(target) || Bernoulli(rate)) elementwise, for rates in (0, 1)."""
    rate = rate.clamp(eps, 1 - eps)
    return target * torch.log(target / rate) + (1 - target) * torch.log((1 - target) / (1 - rate))


class SparseAE(Autoencoder):
    """An autoencoder whose code is pushed towards sparsity: L1 on the code, or KL(rho || mean activation).

    The KL penalty (Ng 2011) needs activations in (0, 1), so it requires `code_activation=sigmoid`;
    the L1 penalty works with any code activation.
    """

    vectorisable = True
    overcomplete = True

    def __init__(
        self,
        sparsity: str = "kl",
        sparsity_weight: float = 1.0,
        sparsity_target: float = 0.05,
        code_activation: str = "sigmoid",
        **kwargs: Any,
    ) -> None:
        require(sparsity in PENALTIES, f"model.sparsity must be one of {PENALTIES}, not {sparsity!r}.")
        require(sparsity_weight >= 0, f"model.sparsity_weight must be >= 0, not {sparsity_weight}.")
        require(0 < sparsity_target < 1, f"model.sparsity_target must be in (0, 1), not {sparsity_target}.")
        require(
            sparsity != "kl" or code_activation == "sigmoid",
            "model.sparsity=kl needs activations in (0, 1): set model.code_activation=sigmoid or model.sparsity=l1.",
        )
        super().__init__(**kwargs)

    def build(self) -> None:
        super().build()
        self.encoder = nn.Sequential(self.encoder, activation(self.hparams.code_activation))

    def sparsity_penalty(self, code: torch.Tensor) -> torch.Tensor:
        """Return the unweighted penalty: sum |h| per sample (batch mean), or sum_j KL(rho || mean_batch h_j)."""
        if self.hparams.sparsity == "l1":
            return code.flatten(1).abs().sum(1).mean()
        # The KL penalty is on each unit's average activation over the batch, not per sample.
        return bernoulli_kl(self.hparams.sparsity_target, code.flatten(1).mean(0)).sum()

    def step_output(self, x: torch.Tensor, stage: str) -> StepOutput:
        out = super().step_output(x, stage)
        out.terms["sparsity"] = self.hparams.sparsity_weight * self.sparsity_penalty(out.code)
        out.stats["mean_activation"] = out.code.abs().mean()
        return out
