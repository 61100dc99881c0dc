"""The variational autoencoder (Kingma & Welling 2014) and the beta-VAE (Higgins et al. 2017, Burgess et al. 2018).

The decoder's likelihood is the `loss` group's: Bernoulli for `bce`, Gaussian for `mse` (fixed
`loss.sigma`, or learned with `loss.learn_sigma=true`), Laplace for `l1`. Every term is in nats,
summed over the dimensions of one sample and averaged over the batch, so no weight depends on
the dataset's size.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from aelab.internals.lightning import attached_trainer
from aelab.models.base import Autoencoder, StepOutput
from aelab.utils.errors import require


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Return KL(N(mu, exp(logvar)) || N(0, I)) per latent dimension, elementwise (always >= 0)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)


def gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Return log N(z; mu, exp(logvar)) summed over the last dimension."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


# Draws of q(z|x) in the negative ELBO that scores anomalies.
ANOMALY_SAMPLES = 16


class VAE(Autoencoder):
    """A Gaussian encoder q(z|x), a standard normal prior and the decoder likelihood p(x|z); maximises the ELBO.

    Training-only options (validation and test losses are always the beta-weighted negative ELBO, so
    checkpoints compare across epochs): `kl_warmup_epochs` ramps the KL weight linearly from 0 to beta,
    and `free_bits` stops pushing each latent dimension's batch-mean KL below that many nats
    (Kingma et al. 2016). At test time `iwae_samples` > 1 adds the importance-weighted bound
    `test/nll_iwae` (Burda et al. 2016), an upper bound on -log p(x) at least as tight as -ELBO, and
    `train_samples` > 1 trains on that bound with k = train_samples (the IWAE) instead of the ELBO.
    """

    vectorisable = True

    def __init__(
        self,
        beta: float = 1.0,
        kl_warmup_epochs: float = 0.0,
        free_bits: float = 0.0,
        iwae_samples: int = 64,
        train_samples: int = 1,
        **kwargs: Any,
    ) -> None:
        require(beta >= 0, f"model.beta must be >= 0, not {beta}.")
        require(kl_warmup_epochs >= 0, f"model.kl_warmup_epochs must be >= 0, not {kl_warmup_epochs}.")
        require(free_bits >= 0, f"model.free_bits must be >= 0 nats per latent dimension, not {free_bits}.")
        require(iwae_samples >= 1, f"model.iwae_samples must be >= 1 (1 turns the bound off), not {iwae_samples}.")
        require(train_samples >= 1, f"model.train_samples must be >= 1 (1 trains on the ELBO), not {train_samples}.")
        require(
            train_samples == 1 or beta == 1,
            "model.train_samples > 1 trains the IWAE bound, which has no KL weight: set model.beta=1.",
        )
        super().__init__(**kwargs)

    can_sample = True
    has_likelihood = True
    anomaly_score = f"negative ELBO ({ANOMALY_SAMPLES} samples of q(z|x))"

    def build(self) -> None:
        self.encoder = self.net.encoder(2 * self.latent_dim)
        self.decoder = self.net.decoder(self.latent_dim)

    # -- the generative interface -------------------------------------------------------------
    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the mean and log-variance of q(z|x)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Return the posterior mean."""
        return self.posterior(x)[0]

    def reconstruct(self, x: torch.Tensor, out: StepOutput | None = None) -> torch.Tensor:
        """Return the decoder mean at the posterior mean (not at the sampled code the loss used)."""
        return self.decode(out.code if out is not None else self.encode(x))

    def prior_codes(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return `n` codes drawn from the prior N(0, I)."""
        return torch.randn(n, self.latent_dim, generator=generator)

    def negative_elbo(
        self, x: torch.Tensor, samples: int = 1, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Return -ELBO per sample in nats: the reconstruction NLL over `samples` draws of q(z|x), plus the KL."""
        mu, logvar = self.posterior(x)
        nll = x.new_zeros(len(x))
        for _ in range(samples):
            noise = torch.randn(mu.shape, generator=generator).to(mu) if generator is not None else self.randn_like(mu)
            nll = nll + self.recon_loss.nll(self.decoder(mu + noise * (0.5 * logvar).exp()), x)
        return nll / samples + gaussian_kl(mu, logvar).sum(1)

    def anomaly_map(self, x: torch.Tensor) -> torch.Tensor:
        """The negative ELBO (ANOMALY_SAMPLES draws, the same noise every call) spread evenly over the values."""
        score = self.negative_elbo(x, ANOMALY_SAMPLES, torch.Generator().manual_seed(0))
        return (score / x[0].numel()).view(-1, *[1] * (x.dim() - 1)).expand_as(x)

    # -- the objective ----------------------------------------------------------------------------
    def kl_weight(self, stage: str) -> float:
        """Return beta, ramped up linearly over the warm-up epochs (counted in optimizer steps) during training."""
        warmup = self.hparams.kl_warmup_epochs
        if stage != "train" or not warmup or attached_trainer(self) is None:
            return self.hparams.beta
        return self.hparams.beta * min(1.0, self.global_step / (warmup * self.optimizer_steps_per_epoch()))

    def kl_penalty(self, kl_per_dim: torch.Tensor, stage: str) -> torch.Tensor:
        """Return the weighted KL term from the per-sample, per-dimension KL [batch, latent_dim]."""
        if stage == "train" and self.hparams.free_bits:
            # Free bits: each dimension's batch-mean KL counts as at least `free_bits` nats.
            kl = kl_per_dim.mean(0).clamp_min(self.hparams.free_bits).sum()
        else:
            kl = kl_per_dim.sum(1).mean()
        return self.kl_weight(stage) * kl

    def step_output(self, x: torch.Tensor, stage: str) -> StepOutput:
        mu, logvar = self.posterior(x)
        z = mu + self.randn_like(mu) * (0.5 * logvar).exp()
        logits = self.decoder(z)
        nll = self.recon_loss.nll(logits, x).mean()
        kl_per_dim = gaussian_kl(mu, logvar)
        kl = kl_per_dim.sum(1).mean()
        stats = {"kl": kl, "elbo": -(nll + kl)}
        if stage == "train":
            stats["kl_weight"] = kl.new_tensor(self.kl_weight(stage))
        if stage == "test" and self.hparams.iwae_samples > 1:
            stats["nll_iwae"] = self.iwae_nll(x, self.hparams.iwae_samples, mu, logvar).mean()
        if stage == "train" and self.hparams.train_samples > 1:
            # The IWAE objective (Burda et al. 2016) replaces the ELBO: k importance samples per input.
            bound = self.iwae_nll(x, self.hparams.train_samples, mu, logvar).mean()
            return StepOutput(logits, mu, {"iwae": bound}, stats)
        return StepOutput(logits, mu, {"recon": nll, "kl_penalty": self.kl_penalty(kl_per_dim, stage)}, stats)

    def iwae_nll(
        self, x: torch.Tensor, k: int, mu: torch.Tensor | None = None, logvar: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return -log (1/k) sum_i p(x, z_i) / q(z_i|x) per sample, z_i ~ q(z|x): the IWAE bound on -log p(x)."""
        if mu is None or logvar is None:
            mu, logvar = self.posterior(x)
        log_weights = []
        for _ in range(k):  # one decoder pass per sample keeps memory at one batch
            z = mu + self.randn_like(mu) * (0.5 * logvar).exp()
            log_prior = gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))
            log_weights.append(log_prior - self.recon_loss.nll(self.decoder(z), x) - gaussian_log_prob(z, mu, logvar))
        return -(torch.logsumexp(torch.stack(log_weights), 0) - math.log(k))


class BetaVAE(VAE):
    """A VAE with a KL weight beta != 1 (Higgins et al. 2017), or capacity annealing (Burgess et al. 2018).

    With `capacity_max` > 0 the KL term is gamma * |KL - C|, where C rises linearly from 0 to
    `capacity_max` nats over `capacity_steps` training steps (validation and test use C = capacity_max).
    """

    def __init__(
        self, capacity_max: float = 0.0, capacity_steps: int = 100000, gamma: float = 1000.0, **kwargs: Any
    ) -> None:
        require(capacity_max >= 0, f"model.capacity_max must be >= 0 nats (0 turns annealing off), not {capacity_max}.")
        require(capacity_steps >= 1, f"model.capacity_steps must be >= 1, not {capacity_steps}.")
        require(gamma >= 0, f"model.gamma must be >= 0, not {gamma}.")
        super().__init__(**kwargs)

    def capacity(self, stage: str) -> float:
        """Return the target KL C in nats at the current training step."""
        if stage != "train":
            return self.hparams.capacity_max
        return self.hparams.capacity_max * min(1.0, self.global_step / self.hparams.capacity_steps)

    def kl_penalty(self, kl_per_dim: torch.Tensor, stage: str) -> torch.Tensor:
        if not self.hparams.capacity_max:
            return super().kl_penalty(kl_per_dim, stage)
        return self.hparams.gamma * (kl_per_dim.sum(1).mean() - self.capacity(stage)).abs()

    def step_output(self, x: torch.Tensor, stage: str) -> StepOutput:
        out = super().step_output(x, stage)
        if stage == "train" or not self.hparams.capacity_max:
            return out
        # Checkpoints are chosen on val/loss: with a capacity target that is the negative ELBO, not gamma |KL - C|,
        # which rewards any KL near C_max; the objective is reported beside it.
        out.stats["objective"] = out.terms["recon"] + out.terms.pop("kl_penalty")
        out.terms["kl"] = out.stats["kl"]
        return out
