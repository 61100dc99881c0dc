"""The adversarial autoencoder (Makhzani et al. 2016): a discriminator on codes against the prior, stepped apart."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aelab.models.base import Autoencoder, StepOutput
from aelab.utils.errors import require


class AdversarialAE(Autoencoder):
    """A deterministic encoder trained to reconstruct and to make its codes indistinguishable from prior samples.

    Two optimizer groups, each stepped in turn per batch: the autoencoder (encoder and decoder) on
    recon + adversarial_weight * BCE(D(z), real), which fools the discriminator, and the discriminator D on
    BCE(D(prior sample), real) + BCE(D(z), fake). As D stops telling codes from prior samples
    (`disc_accuracy` towards 0.5), decoded prior samples become images (`can_sample`).
    """

    can_sample = True

    def __init__(
        self,
        adversarial_weight: float = 1.0,
        discriminator_dims: list[int] = (256, 256),
        discriminator_lr: float | None = None,
        **kwargs: Any,
    ) -> None:
        require(adversarial_weight >= 0, f"model.adversarial_weight must be >= 0, not {adversarial_weight}.")
        require(all(d > 0 for d in discriminator_dims), "model.discriminator_dims must be positive sizes.")
        require(discriminator_lr is None or discriminator_lr > 0, "model.discriminator_lr must be positive.")
        super().__init__(**kwargs)

    def build(self) -> None:
        super().build()
        sizes = [self.latent_dim, *[int(d) for d in self.hparams.discriminator_dims]]
        layers: list[nn.Module] = []
        for size_in, size_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(size_in, size_out), nn.LeakyReLU(0.2)]
        self.discriminator = nn.Sequential(*layers, nn.Linear(sizes[-1], 1))

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        judged = {id(p) for p in self.discriminator.parameters()}
        return {
            "autoencoder": [p for p in self.parameters() if id(p) not in judged],
            "discriminator": list(self.discriminator.parameters()),
        }

    def optimizer_overrides(self) -> dict[str, dict]:
        lr = self.hparams.discriminator_lr
        return {"discriminator": {"lr": lr}} if lr is not None else {}

    def prior_codes(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return `n` codes drawn from the prior N(0, I)."""
        return torch.randn(n, self.latent_dim, generator=generator)

    def judge(self, code: torch.Tensor) -> torch.Tensor:
        """The discriminator's logit that a code [batch, latent] came from the prior."""
        return self.discriminator(code.flatten(1)).squeeze(1)

    def step_output(self, x: torch.Tensor, stage: str) -> StepOutput:
        out = super().step_output(x, stage)
        fool = F.binary_cross_entropy_with_logits(self.judge(out.code), torch.ones(len(x), device=x.device))
        out.terms["adversarial"] = self.hparams.adversarial_weight * fool
        with torch.no_grad():
            prior = self.randn_like(out.code)
            right = torch.cat([self.judge(prior) > 0, self.judge(out.code) <= 0]).float()
        out.stats["disc_accuracy"] = right.mean()
        return out

    def group_terms(self, group: str, x: torch.Tensor, out: StepOutput) -> dict[str, torch.Tensor]:
        codes = out.code.detach()
        real, fake = self.judge(self.randn_like(codes)), self.judge(codes)
        loss = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(
            fake, torch.zeros_like(fake)
        )
        return {"loss": loss}
