"""The vector-quantised autoencoder (van den Oord et al. 2017) on a net's spatial features.

Each position of the encoder's feature map (2-D for images, 1-D for series) is replaced by its
nearest of K codebook vectors; gradients pass the quantiser straight through. The codebook is
learned by its own loss term or, with `ema=true`, by exponential moving averages (Razavi et al.
2019); codes unused for `restart_after` training steps restart at random encoder outputs.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from aelab.models.base import Autoencoder, StepOutput
from aelab.utils.errors import require

SPATIAL_MEMBERS = ("feature_encoder", "feature_decoder", "feature_shape")


def conv1x1(in_channels: int, out_channels: int, spatial_dims: int) -> nn.Module:
    """Return a 1x1 convolution over 1, 2 or 3 spatial dimensions."""
    return {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[spatial_dims](in_channels, out_channels, 1)


def flatten_positions(z: torch.Tensor) -> torch.Tensor:
    """Return [batch * positions, dim] from a feature map [batch, dim, *positions]."""
    return z.movedim(1, -1).reshape(-1, z.shape[1])


def synced_sum(values: torch.Tensor) -> torch.Tensor:
    """Return `values` summed over DDP ranks (unchanged in a single process), so every rank's codebook agrees."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(values)
    return values


def per_sample_sum(values: torch.Tensor) -> torch.Tensor:
    """Return the sum over each sample's values, averaged over the batch."""
    return values.flatten(1).sum(1).mean()


class VectorQuantizer(nn.Module):
    """Maps [batch, dim, *positions] to the nearest codebook vectors; returns the straight-through code."""

    def __init__(self, num_codes: int, dim: int, ema: bool = True, decay: float = 0.99, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_codes, self.dim, self.ema, self.decay, self.eps = num_codes, dim, ema, decay, eps
        codebook = torch.empty(num_codes, dim).uniform_(-1 / num_codes, 1 / num_codes)
        if ema:
            self.register_buffer("codebook", codebook)
            self.register_buffer("cluster_size", torch.ones(num_codes))
            self.register_buffer("embed_sum", codebook.clone())
        else:
            self.codebook = nn.Parameter(codebook)
        self.register_buffer("steps_unused", torch.zeros(num_codes, dtype=torch.long))
        self.register_buffer("initialised", torch.tensor(False))

    @torch.no_grad()
    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Return the index of the nearest codebook vector for each row of [N, dim]."""
        distances = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.T + self.codebook.pow(2).sum(1)
        return distances.argmin(1)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Return the codebook vectors [batch, dim, *positions] for indices [batch, *positions]."""
        return self.codebook[indices].movedim(-1, 1)

    def quantize(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the indices [batch, *positions] and codebook vectors [batch, dim, *positions] nearest to z_e."""
        indices = self.nearest(flatten_positions(z_e).detach()).view(z_e.shape[0], *z_e.shape[2:])
        return indices, self.lookup(indices)

    def forward(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (straight-through code, indices, codebook vectors); in training also update the codebook."""
        if self.training and not self.initialised:
            # Codes start on encoder outputs of the first batch, not far from them where none would be chosen.
            self.move(torch.arange(self.num_codes, device=z_e.device), flatten_positions(z_e).detach())
            self.initialised.fill_(True)
        indices, z_q = self.quantize(z_e)
        if self.training:
            self.update(flatten_positions(z_e).detach(), indices.flatten())
        return z_e + (z_q - z_e).detach(), indices, z_q

    @torch.no_grad()
    def update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        """Apply the EMA codebook update (when on) and count how long each code has gone unused."""
        one_hot = F.one_hot(indices, self.num_codes).type_as(flat)
        counts = synced_sum(one_hot.sum(0))
        if self.ema:
            self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
            self.embed_sum.mul_(self.decay).add_(synced_sum(one_hot.T @ flat), alpha=1 - self.decay)
            # Laplace smoothing keeps codes that no vector chose from dividing by zero.
            n = self.cluster_size.sum()
            size = (self.cluster_size + self.eps) / (n + self.num_codes * self.eps) * n
            self.codebook.copy_(self.embed_sum / size[:, None])
        self.steps_unused.add_(1).masked_fill_(counts > 0, 0)

    @torch.no_grad()
    def restart(self, flat: torch.Tensor, after: int) -> int:
        """Move codes unused for `after` steps onto random rows of [N, dim]; return how many moved."""
        dead = (self.steps_unused >= after).nonzero().squeeze(1)
        if len(dead):
            self.move(dead, flat)
        return len(dead)

    @torch.no_grad()
    def move(self, codes: torch.Tensor, flat: torch.Tensor) -> None:
        """Put the given codes on random rows of [N, dim] and reset their statistics."""
        picks = flat[torch.randint(len(flat), (len(codes),), device=flat.device)]
        if dist.is_available() and dist.is_initialized():
            dist.broadcast(picks, src=0)  # rank 0's picks everywhere, as the ranks' `codes` already agree
        self.codebook.data[codes] = picks
        if self.ema:
            self.cluster_size[codes] = 1.0
            self.embed_sum[codes] = picks
        self.steps_unused[codes] = 0


def usage_stats(indices: torch.Tensor, num_codes: int) -> dict[str, torch.Tensor]:
    """Return the codebook perplexity exp(H(p)) of the codes' frequencies and the fraction of codes used."""
    p = torch.bincount(indices.flatten(), minlength=num_codes).float()
    p = p / p.sum()
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
    return {"perplexity": entropy.exp(), "usage": (p > 0).float().mean()}


class VQVAE(Autoencoder):
    """An encoder's feature map quantised to a codebook of `num_codes` vectors of size `latent_dim`.

    Loss per sample: recon + ||sg[z_e] - e||^2 (the codebook term, absent with EMA updates)
    + commitment_weight * ||z_e - sg[e]||^2, summed over positions and dimensions.
    """

    needs_spatial_features = True  # nets must expose SPATIAL_MEMBERS
    quantised = True

    def __init__(
        self,
        num_codes: int = 512,
        commitment_weight: float = 0.25,
        ema: bool = True,
        ema_decay: float = 0.99,
        restart_after: int = 50,
        **kwargs: Any,
    ) -> None:
        require(num_codes >= 2, f"model.num_codes must be >= 2, not {num_codes}.")
        require(commitment_weight >= 0, f"model.commitment_weight must be >= 0, not {commitment_weight}.")
        require(0 < ema_decay < 1, f"model.ema_decay must be in (0, 1), not {ema_decay}.")
        require(restart_after >= 0, f"model.restart_after must be >= 0 steps (0: no restarts), not {restart_after}.")
        super().__init__(**kwargs)

    def build(self) -> None:
        net = self.net
        require(
            all(hasattr(net, member) for member in SPATIAL_MEMBERS),
            f"model=vq_vae quantises spatial features, which net {type(net).__name__} does not expose: "
            "use net=conv for images or net=conv1d for series.",
        )
        channels, *positions = net.feature_shape
        self.encoder = nn.Sequential(net.feature_encoder(), conv1x1(channels, self.latent_dim, len(positions)))
        self.decoder = nn.Sequential(conv1x1(self.latent_dim, channels, len(positions)), net.feature_decoder())
        hp = self.hparams
        self.quantizer = VectorQuantizer(hp.num_codes, self.latent_dim, ema=hp.ema, decay=hp.ema_decay)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Return the quantised feature map [batch, latent_dim, *positions]."""
        return self.quantizer.quantize(self.encoder(x))[1]

    def encode_indices(self, x: torch.Tensor) -> torch.Tensor:
        """Return the code indices [batch, *positions] of a batch of inputs."""
        return self.quantizer.quantize(self.encoder(x))[0]

    def step_output(self, x: torch.Tensor, stage: str) -> StepOutput:
        z_e = self.encoder(x)
        z_st, indices, z_q = self.quantizer(z_e)
        if stage == "train" and self.hparams.restart_after:
            self.quantizer.restart(flatten_positions(z_e).detach(), self.hparams.restart_after)
        logits = self.decoder(z_st)
        terms = {
            "recon": self.recon_loss.error(logits, x).mean(),
            "commitment": self.hparams.commitment_weight * per_sample_sum((z_e - z_q.detach()).pow(2)),
        }
        if not self.hparams.ema:
            terms["codebook"] = per_sample_sum((z_e.detach() - z_q).pow(2))
        return StepOutput(logits, z_e, terms, usage_stats(indices, self.hparams.num_codes))
