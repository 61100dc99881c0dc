"""Deep SVDD (Ruff et al. 2018): an encoder trained to map normal data close to a fixed centre c; no decoder.

The one-class objective is the mean of ||phi(x) - c||^2; the soft-boundary one is R^2 + (1/nu) mean(max(0,
||phi(x) - c||^2 - R^2)), with R set to the (1 - nu)-quantile of the training distances every `radius_every` epochs
after `warm_up_epochs`. The weight decay of the paper is the optimizer's (`optimizer.weight_decay`). Two of the
paper's conditions against the trivial solution (a network mapping everything to c) are built in: c is fixed from an
initial forward pass over the training data (a buffer, never trained), and the encoder has no bias terms (the net's
bias terms and batch-norm shifts are removed, Sec. 3.3). The encoder can start from a trained autoencoder's
(`init_from`, as the paper pretrains with a DCAE). The anomaly score is the squared distance to c (minus R^2 for
the soft boundary).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from aelab.models.base import Autoencoder, StepOutput
from aelab.utils.errors import UserError, require

OBJECTIVES = ("one-class", "soft-boundary")
NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)


def remove_biases(module: nn.Module) -> None:
    """Drop every bias term and every normalisation's affine parameters from a module, in place."""
    for layer in module.modules():
        require(
            not isinstance(layer, nn.RNNBase),
            "model=deep_svdd needs an encoder without bias terms, and a recurrent net keeps its own: "
            "use net=lenet, mlp, conv or conv1d.",
        )
        if isinstance(layer, NORMS):
            layer.weight, layer.bias = None, None
            if isinstance(layer, nn.LayerNorm):
                layer.elementwise_affine = False
            else:
                layer.affine = False
        elif isinstance(getattr(layer, "bias", None), nn.Parameter):
            layer.bias = None
    left = [name for name, _ in module.named_parameters() if name.endswith("bias")]
    require(not left, f"model=deep_svdd could not remove the encoder's bias terms {left}: use net=lenet or net=mlp.")


def load_encoder(encoder: nn.Module, path: str) -> None:
    """Copy the encoder weights (and batch-norm statistics) of an autoencoder's checkpoint into `encoder`."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as error:
        raise UserError(f"model.init_from={path} is not a readable checkpoint: pass an autoencoder's .ckpt.") from error
    weights = checkpoint.get("state_dict", {}) if isinstance(checkpoint, dict) else {}
    state = {k.removeprefix("encoder."): v for k, v in weights.items() if k.startswith("encoder.")}
    # The net's bias terms were removed here: the autoencoder must have had none either.
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise UserError(
            f"The encoder in model.init_from={path} does not match this one: pretrain the autoencoder with the same "
            "net options, model.latent_dim and no bias terms (net=lenet)."
        ) from error


class DeepSVDD(Autoencoder):
    """One-class and soft-boundary Deep SVDD; declares that it cannot decode and scores by the distance to c."""

    can_decode: ClassVar[bool] = False
    anomaly_score: ClassVar[str] = "squared distance of the code to the centre c"

    def __init__(
        self,
        objective: str = "one-class",
        nu: float = 0.1,
        center_eps: float = 0.1,
        warm_up_epochs: int = 10,
        radius_every: int = 5,
        init_from: str | None = None,
        **kwargs: Any,
    ) -> None:
        require(objective in OBJECTIVES, f"model.objective must be one of {OBJECTIVES}, not {objective!r}.")
        require(0 < nu <= 1, f"model.nu must be in (0, 1], not {nu}.")
        require(center_eps >= 0, f"model.center_eps must be >= 0, not {center_eps}.")
        require(radius_every >= 1, f"model.radius_every must be >= 1 epoch, not {radius_every}.")
        super().__init__(**kwargs)
        self.register_buffer("center", torch.zeros(self.latent_dim))
        self.register_buffer("center_set", torch.tensor(False))
        self.register_buffer("radius", torch.tensor(0.0))
        self._distances: list[torch.Tensor] = []

    def build(self) -> None:
        self.encoder = self.net.encoder(self.latent_dim)
        remove_biases(self.encoder)
        self.decoder = None

    # -- the interface: a code and a distance, no reconstruction ------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the codes phi(x) (Deep SVDD has no decoder)."""
        return self.encode(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise UserError("Deep SVDD has no decoder: it maps inputs to codes near a centre and cannot reconstruct them.")

    def reconstruct(self, x: torch.Tensor, out: StepOutput | None = None) -> torch.Tensor:
        return self.decode(x)

    def distance(self, code: torch.Tensor) -> torch.Tensor:
        """Return the squared distance of each code to the centre c."""
        code = code.flatten(1)
        # Training fixes c at its start; a model evaluated before (untrained) measures from its batch's mean code.
        center = self.center if bool(self.center_set) else self.clear_of_zero(code.detach().mean(0))
        return (code - center).pow(2).sum(1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Return each sample's anomaly score: its squared distance to c (minus R^2 for the soft boundary)."""
        distance = self.distance(self.encode(x))
        return distance - self.radius**2 if self.hparams.objective == "soft-boundary" else distance

    def anomaly_map(self, x: torch.Tensor) -> torch.Tensor:
        """The score spread evenly over the sample's values (the distance has no per-value parts), so it sums to it."""
        score = self.score(x)
        return (score / x[0].numel()).view(-1, *[1] * (x.dim() - 1)).expand_as(x)

    def step_output(self, x: torch.Tensor, stage: str) -> StepOutput:
        code = self.encoder(x)
        distance = self.distance(code)
        if stage == "train":
            self._distances.append(distance.detach())
        if self.hparams.objective == "one-class":
            terms = {"distance": distance.mean()}
        else:
            squared_radius = self.radius**2
            outside = torch.relu(distance - squared_radius).mean() / self.hparams.nu
            terms = {"radius": squared_radius, "outside": outside}
        stats = {"mean_distance": distance.detach().mean(), "radius_value": self.radius.detach().clone()}
        return StepOutput(code, code, terms, stats)

    # -- the centre, the radius and the pretrained start -----------------------------------------------
    def on_train_start(self) -> None:
        if bool(self.center_set):  # resumed, or trained before: c stays where it was fixed
            return
        if self.hparams.init_from:
            load_encoder(self.encoder, self.hparams.init_from)
        self.center.copy_(self.initial_center())
        self.center_set.fill_(True)

    @torch.no_grad()
    def initial_center(self) -> torch.Tensor:
        """The mean code of the training data in one forward pass (eval mode), kept clear of 0."""
        was_training = self.training
        self.eval()
        total, count = torch.zeros_like(self.center), 0
        for batch in self.trainer.train_dataloader:
            x = (batch[0] if isinstance(batch, (tuple, list)) else batch).to(self.device)
            total += self.encoder(x).flatten(1).sum(0)
            count += len(x)
        self.train(was_training)
        return self.clear_of_zero(total / max(count, 1))

    def clear_of_zero(self, center: torch.Tensor) -> torch.Tensor:
        """Move the coordinates within center_eps of 0 out to +-center_eps (zero weights alone would reach 0)."""
        eps = self.hparams.center_eps
        return torch.where(center.abs() < eps, torch.where(center < 0, -eps, eps), center)

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        self._distances = []

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        epoch = self.current_epoch + 1
        if (
            self.hparams.objective == "soft-boundary"
            and self._distances
            and epoch >= self.hparams.warm_up_epochs
            and epoch % self.hparams.radius_every == 0
        ):
            # The R minimising the soft-boundary objective for these distances: their (1 - nu)-quantile's root.
            distances = torch.cat(self._distances).float()
            self.radius.fill_(float(torch.quantile(distances.sqrt(), 1 - self.hparams.nu)))
        self._distances = []

    # -- testing: the objective's terms, no reconstruction metrics -------------------------------------
    def test_step(self, batch, batch_idx: int) -> None:
        loss, out, x = self._shared_step(batch, "test")
        self._log_terms("test", loss, out, x.shape[0])
