"""The contractive autoencoder: a reconstruction term plus lambda * ||J_f(x)||_F^2 (Rifai et al. 2011)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aelab.models.base import Autoencoder, StepOutput
from aelab.nets.base import activation
from aelab.nets.tied import tie_decoder
from aelab.utils.errors import require

METHODS = ("auto", "closed_form", "exact", "hutchinson")


def sigmoid_jacobian_sq(weight: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Return ||J||_F^2 per sample for h = sigmoid(W x + b): sum_j (h_j (1 - h_j))^2 sum_i W_ji^2."""
    return ((code * (1 - code)) ** 2 * weight.pow(2).sum(1)).sum(1)


def jacobian_sq(
    encoder: nn.Module, x: torch.Tensor, projections: int | None = None, randn_like=torch.randn_like
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (code, ||J||_F^2 per sample) by vector-Jacobian products, differentiable in the encoder's weights.

    With `projections=None` it sums ||J^T e_k||^2 over the code's basis vectors (exact); otherwise it
    averages ||J^T v||^2 over that many Gaussian vectors v (unbiased, as E[v v^T] = I), drawn by `randn_like`
    (a model passes its own, so that the draws follow its seed).
    Samples must not interact inside the encoder (no batch norm in training mode).
    """
    x = x.detach().requires_grad_(True)
    code = encoder(x)
    flat = code.flatten(1)
    if projections is None:
        directions = torch.eye(flat.shape[1], device=x.device, dtype=x.dtype)[:, None].expand(-1, len(x), -1)
    else:
        directions = randn_like(flat.detach().expand(projections, *flat.shape))
    total = x.new_zeros(len(x))
    for v in directions:
        (vjp,) = torch.autograd.grad(flat, x, grad_outputs=v, create_graph=True)
        total = total + vjp.flatten(1).pow(2).sum(1)
    return code, total / (1 if projections is None else projections)


class ContractiveAE(Autoencoder):
    """An autoencoder whose encoder is made locally insensitive to its input by a Jacobian penalty.

    `jacobian=auto` uses the closed form for a one-layer sigmoid encoder (net=mlp with net.hidden_dims=[]
    and code_activation=sigmoid), the exact autograd norm for inputs up to `exact_max_dim` values, and
    `projections` random projections (Hutchinson) beyond.
    """

    overcomplete = True

    def __init__(
        self,
        contraction_weight: float = 0.1,
        code_activation: str = "identity",
        tied_weights: bool = True,
        jacobian: str = "auto",
        exact_max_dim: int = 256,
        projections: int = 4,
        **kwargs: Any,
    ) -> None:
        require(contraction_weight >= 0, f"model.contraction_weight must be >= 0, not {contraction_weight}.")
        require(jacobian in METHODS, f"model.jacobian must be one of {METHODS}, not {jacobian!r}.")
        require(projections >= 1, f"model.projections must be >= 1, not {projections}.")
        super().__init__(**kwargs)
        require(
            jacobian != "closed_form" or self.one_layer_sigmoid() is not None,
            "model.jacobian=closed_form needs a one-layer sigmoid encoder: use net=mlp net.hidden_dims=[] "
            "model.code_activation=sigmoid, or model.jacobian=auto.",
        )

    def build(self) -> None:
        super().build()
        if self.hparams.tied_weights:
            # Without tied weights the encoder can shrink its code and the decoder grow to match: the penalty
            # then falls with no contraction of what the decoder sees.
            tie_decoder(self.encoder, self.decoder)
        self.encoder = nn.Sequential(self.encoder, activation(self.hparams.code_activation))

    def one_layer_sigmoid(self) -> nn.Linear | None:
        """Return the encoder's only Linear layer when the encoder is sigmoid(W x + b), else None."""
        layers = [m for m in self.encoder.modules() if len(list(m.children())) == 0]
        layers = [m for m in layers if not isinstance(m, nn.Flatten)]
        if len(layers) == 2 and isinstance(layers[0], nn.Linear) and isinstance(layers[1], nn.Sigmoid):
            return layers[0]
        return None

    def method(self) -> str:
        """Return how the Jacobian norm is computed for this encoder and input size."""
        if self.hparams.jacobian != "auto":
            return self.hparams.jacobian
        if self.one_layer_sigmoid() is not None:
            return "closed_form"
        return "exact" if self.net.input_dim <= self.hparams.exact_max_dim else "hutchinson"

    def code_and_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the code and ||J_f(x)||_F^2 per sample."""
        method = self.method()
        if method == "closed_form":
            code = self.encoder(x)
            return code, sigmoid_jacobian_sq(self.one_layer_sigmoid().weight, code)
        return jacobian_sq(self.encoder, x, None if method == "exact" else self.hparams.projections, self.randn_like)

    def step_output(self, x: torch.Tensor, stage: str) -> StepOutput:
        # Validation and testing run under inference mode, where autograd is off; the Jacobian needs it.
        with torch.inference_mode(False), torch.enable_grad():
            code, jac = self.code_and_jacobian(x.clone())
        if stage != "train":
            code, jac = code.detach(), jac.detach()
        logits = self.decoder(code)
        terms = {
            "recon": self.recon_loss.error(logits, x).mean(),
            "contraction": self.hparams.contraction_weight * jac.mean(),
        }
        return StepOutput(logits, code, terms, {"jacobian_norm": jac.detach().clamp_min(0).sqrt().mean()})
