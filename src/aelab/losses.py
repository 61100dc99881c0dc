"""Reconstruction likelihoods and weight regularisers.

Every reconstruction term is summed over the dimensions of one sample and returned per
sample; the model averages over the batch (the ELBO convention).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from aelab.utils.errors import require

OUTPUT_ACTIVATIONS = ("sigmoid", "identity")


def _flat_sum(values: torch.Tensor) -> torch.Tensor:
    return values.flatten(1).sum(1)


class ReconstructionLoss(nn.Module):
    """Maps decoder outputs (pre-activation) to a reconstruction and a per-sample error."""

    name = "base"

    def __init__(self, output_activation: str = "sigmoid") -> None:
        super().__init__()
        require(
            output_activation in OUTPUT_ACTIVATIONS,
            f"data.output_activation must be one of {OUTPUT_ACTIVATIONS}, not {output_activation!r}.",
        )
        self.output_activation = output_activation

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        """Return the reconstruction in data space."""
        return torch.sigmoid(logits) if self.output_activation == "sigmoid" else logits

    def error(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Return the per-sample reconstruction term that a plain autoencoder minimises."""
        raise NotImplementedError

    def nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Return the per-sample negative log-likelihood in nats (used by the VAE family)."""
        raise NotImplementedError


class BernoulliLoss(ReconstructionLoss):
    """Binary cross-entropy: a Bernoulli likelihood for data in [0, 1]."""

    name = "bce"

    def __init__(self, output_activation: str = "sigmoid") -> None:
        super().__init__(output_activation)
        require(
            output_activation == "sigmoid",
            "loss=bce is a Bernoulli likelihood for data in [0, 1] and needs a sigmoid output; "
            "use loss=mse for standardised data.",
        )

    def error(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return _flat_sum(F.binary_cross_entropy_with_logits(logits, x, reduction="none"))

    def nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.error(logits, x)


class GaussianLoss(ReconstructionLoss):
    """Squared error; as a likelihood a Gaussian with fixed or learned standard deviation."""

    name = "mse"

    def __init__(self, output_activation: str = "sigmoid", sigma: float = 1.0, learn_sigma: bool = False) -> None:
        super().__init__(output_activation)
        require(sigma > 0, f"loss.sigma must be positive, not {sigma}.")
        log_sigma = torch.tensor(math.log(sigma))
        if learn_sigma:
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)

    def error(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return _flat_sum((self.mean(logits) - x) ** 2)

    def nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        dims = x[0].numel()
        scaled = self.error(logits, x) * torch.exp(-2 * self.log_sigma) / 2
        return scaled + dims * (self.log_sigma + 0.5 * math.log(2 * math.pi))


class LaplaceLoss(ReconstructionLoss):
    """Absolute error; as a likelihood a Laplace distribution with scale `scale`."""

    name = "l1"

    def __init__(self, output_activation: str = "sigmoid", scale: float = 1.0) -> None:
        super().__init__(output_activation)
        require(scale > 0, f"loss.scale must be positive, not {scale}.")
        self.scale = scale

    def error(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return _flat_sum((self.mean(logits) - x).abs())

    def nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        dims = x[0].numel()
        return self.error(logits, x) / self.scale + dims * math.log(2 * self.scale)


LOSSES = {cls.name: cls for cls in (BernoulliLoss, GaussianLoss, LaplaceLoss)}


def build_loss(config: dict, output_activation: str) -> ReconstructionLoss:
    """Build the reconstruction loss named by a `loss` config."""
    options = dict(config)
    name = options.pop("name")
    require(name in LOSSES, f"Unknown loss {name!r}: choose one of {sorted(LOSSES)}.")
    return LOSSES[name](output_activation=output_activation, **options)


def weight_penalty(module: nn.Module, l1: float = 0.0, l2: float = 0.0) -> torch.Tensor | None:
    """Return l1 * sum|w| + l2 * sum w^2 over the weight matrices (not biases), or None if both are 0."""
    if not l1 and not l2:
        return None
    weights = [p for name, p in module.named_parameters() if p.dim() > 1 and "weight" in name]
    total = weights[0].new_zeros(())
    for w in weights:
        if l1:
            total = total + l1 * w.abs().sum()
        if l2:
            total = total + l2 * w.pow(2).sum()
    return total


IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def imq_mmd(codes: torch.Tensor, prior: torch.Tensor, scales: tuple[float, ...] = IMQ_SCALES) -> torch.Tensor:
    """Return the unbiased MMD^2 between two samples [n, d] under the inverse multiquadratic kernel C / (C + |x - y|^2).

    As in Tolstikhin et al. (2018): C = 2 d s for each scale s (a unit-variance Gaussian prior), the kernels summed.
    """
    n, d = codes.shape
    require(n >= 2, "The MMD needs at least two samples per batch: raise data.batch_size.")
    both = torch.cat([codes, prior])
    squared = torch.cdist(both, both).pow(2)
    kernel = sum(2 * d * s / (2 * d * s + squared) for s in scales)
    within = ~torch.eye(n, dtype=torch.bool, device=codes.device)
    k_qq, k_pp, k_qp = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    return k_qq[within].mean() + k_pp[within].mean() - 2 * k_qp.mean()
