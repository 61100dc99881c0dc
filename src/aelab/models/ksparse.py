"""The k-sparse autoencoder (Makhzani & Frey 2014): only the k largest code units stay active."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aelab.models.base import Autoencoder
from aelab.utils.errors import require


def keep_top_k(code: torch.Tensor, k: int) -> torch.Tensor:
    """Return `code` [batch, units] with all but each row's k largest values set to zero (gradients pass the k)."""
    mask = torch.zeros_like(code).scatter_(1, code.topk(k, dim=1).indices, 1.0)
    return code * mask


class TopK(nn.Module):
    """Keeps each sample's k largest units (round(alpha * k) outside training, at most the code's size)."""

    def __init__(self, k: int, alpha: float, units: int) -> None:
        super().__init__()
        self.k, self.alpha, self.units = k, alpha, units

    def active(self) -> int:
        """The number of units this layer keeps in its current mode."""
        return self.k if self.training else min(self.units, round(self.alpha * self.k))

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return keep_top_k(code.flatten(1), self.active()).view_as(code)


class KSparseAE(Autoencoder):
    """A linear code of which each sample keeps its k largest units; the rest are zeroed, in training and after.

    `alpha` > 1 keeps alpha * k units when encoding outside training, as the paper does for features.
    """

    vectorisable = True
    overcomplete = True

    def __init__(self, k: int | None = None, alpha: float = 1.0, **kwargs: Any) -> None:
        require(k is None or k >= 1, f"model.k must be at least 1, not {k}.")
        require(alpha >= 1, f"model.alpha must be >= 1 (units kept outside training: alpha * k), not {alpha}.")
        latent_dim = kwargs.get("latent_dim", 32)
        require(k is None or k <= latent_dim, f"model.k={k} is larger than the code (model.latent_dim={latent_dim}).")
        super().__init__(**kwargs)

    @property
    def k(self) -> int:
        """Units kept per sample in training: model.k, or a quarter of the code when it is null."""
        return self.hparams.k or max(1, self.latent_dim // 4)

    def build(self) -> None:
        super().build()
        self.encoder = nn.Sequential(self.encoder, TopK(self.k, self.hparams.alpha, self.latent_dim))
