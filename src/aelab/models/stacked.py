"""Greedy layer-wise pretraining: a stack of autoencoders of any variant, each trained on the codes of those below.

Bengio et al. (2007) and Vincent et al. (2010): layer k is an autoencoder of its own (the variant and options of
`layers[k]`, e.g. each layer's noise level) whose input is the code of layers 0..k-1, which stay frozen while it
trains. Layer 0 is built on the run's net; the layers above are one-layer MLPs on the codes below. Training runs
the layers in turn, `epochs_per_layer` epochs each; the stack then encodes through every layer and decodes back down.
Fine-tuning the whole encoder with a classifier on top is the `finetune` analysis.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from hydra.utils import get_class
from torch import nn

from aelab.internals.lightning import attached_trainer
from aelab.models.base import Autoencoder, StepOutput
from aelab.nets.base import activation
from aelab.nets.tied import tie_decoder
from aelab.utils.errors import require


class OutputOf(nn.Module):
    """A layer's output in data space (its likelihood's mean: a sigmoid, or nothing), as a module of a decoder."""

    def __init__(self, layer: Autoencoder) -> None:
        super().__init__()
        self._layer = [layer]  # a list: the layer is registered once, by the stack

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return self._layer[0].recon_loss.mean(logits)


class StackedAE(Autoencoder):
    """Autoencoders stacked and trained greedily, one layer at a time.

    Training and validation report the objective of the layer the epoch trains (so val/loss changes meaning from
    layer to layer, and the run keeps its latest weights); testing reports the whole stack's reconstruction.
    """

    overcomplete: ClassVar[bool] = True
    comparable_val_loss: ClassVar[bool] = False

    def __init__(
        self,
        layers: list[dict] = (),
        layer_dims: list[int] = (),
        epochs_per_layer: int | None = None,
        code_activation: str = "sigmoid",
        tied_weights: bool = False,
        **kwargs: Any,
    ) -> None:
        require(all(int(d) > 0 for d in layer_dims), f"model.layer_dims must be positive, not {list(layer_dims)}.")
        require(
            len(layers) == len(layer_dims) + 1 and all("_target_" in spec for spec in layers),
            f"model.layers needs one variant (a _target_ and its options) per layer: {len(layer_dims) + 1} for "
            f"model.layer_dims={list(layer_dims)}, not {len(layers)}.",
        )
        require(epochs_per_layer is None or epochs_per_layer >= 1, "model.epochs_per_layer must be >= 1, or null.")
        super().__init__(**kwargs)
        self._active = len(self.layers) - 1

    # -- building the stack ------------------------------------------------------------------------
    def build(self) -> None:
        options = self.hparams
        sizes = [*(int(d) for d in options.layer_dims), self.latent_dim]
        layers, inputs = [], [list(self.input_shape), *[[d] for d in sizes[:-1]]]
        for k, (size, shape) in enumerate(zip(sizes, inputs)):
            layers.append(self._layer(k, size, shape))
        self.layers = nn.ModuleList(layers)
        self.encoder = nn.Sequential(*(layer.encoder for layer in layers))
        parts: list[nn.Module] = []
        for layer in reversed(layers):
            parts += [layer.decoder, OutputOf(layer)]
        self.decoder = nn.Sequential(*parts[:-1])  # the bottom layer's logits: the stack's likelihood applies its mean

    def _layer(self, k: int, size: int, shape: list[int]) -> Autoencoder:
        """Layer k: the stacked variant on the run's net (k = 0) or on a one-layer MLP over the codes below."""
        options = self.hparams
        settings = dict(options.layers[k])
        variant = get_class(settings.pop("_target_"))
        require(
            issubclass(variant, Autoencoder) and variant.can_decode and not variant.needs_spatial_features,
            f"model.layers[{k}] is {variant.__name__}, which cannot be stacked: choose a variant that decodes flat "
            "codes (aelab.models.DenoisingAE, SparseAE, ContractiveAE, ...).",
        )
        net, loss, output = options.net, options.loss, options.output_activation
        if k > 0:
            net = {**net, "hidden_dims": []} if net["_target_"] == "aelab.nets.MLP" else {"_target_": "aelab.nets.MLP"}
            net["hidden_dims"] = []
            # Codes in (0, 1) are rebuilt with the run's likelihood through a sigmoid; other codes by squared error.
            if options.code_activation != "sigmoid":
                loss, output = {"name": "mse"}, "identity"
            else:
                output = "sigmoid"
        layer = variant(
            net=net,
            loss=loss,
            optimizer=options.optimizer,
            input_shape=shape,
            latent_dim=size,
            output_activation=output,
            **settings,
        )
        if options.tied_weights and "tied_weights" not in layer.hparams:
            tie_decoder(layer.encoder, layer.decoder)
        if "code_activation" not in layer.hparams:  # a variant's own code activation wins
            layer.encoder = nn.Sequential(layer.encoder, activation(options.code_activation))
        # Every layer draws from the stack's generator, so the run has one noise stream, checkpointed as one.
        layer.noise_generator = self.noise_generator
        return layer

    # -- greedy training -----------------------------------------------------------------------------
    def epochs_per_layer(self) -> int:
        """Epochs each layer trains: the option, or the run's epochs split evenly over the layers."""
        if self.hparams.epochs_per_layer:
            return int(self.hparams.epochs_per_layer)
        trainer = attached_trainer(self)
        total = trainer.max_epochs if trainer is not None else None
        return max(1, math.ceil(total / len(self.layers))) if total and total > 0 else 1

    def layer_in_training(self) -> int:
        """The layer the current epoch trains; outside training, the layer the last epoch trained (else the first)."""
        epoch, trainer = self.current_epoch, attached_trainer(self)
        fitting = trainer is not None and trainer.state.fn == "fit" and trainer.state.status == "running"
        if not fitting and epoch > 0:
            epoch -= 1  # a finished (or interrupted) run has counted the epoch it stopped in
        return min(epoch // self.epochs_per_layer(), len(self.layers) - 1)

    def on_fit_start(self) -> None:
        total, each, layers = self.trainer.max_epochs, self.hparams.epochs_per_layer, len(self.layers)
        if each and total is not None and total >= 0:
            require(
                total == layers * each,
                f"model=stacked trains each of its {layers} layers for model.epochs_per_layer={each} epochs: set "
                f"trainer.max_epochs={layers * each}, or model.epochs_per_layer=null to split the run's epochs evenly.",
            )

    def step_output(self, x: torch.Tensor, stage: str) -> StepOutput:
        if stage == "test":
            # The finished stack: the input rebuilt through every layer, up and back down.
            self._active = len(self.layers) - 1
            code = self.encoder(x)
            logits = self.decoder(code)
            return StepOutput(logits, code, {"recon": self.recon_loss.error(logits, x).mean()})
        # Training and validation: the layer the epoch trains, on the codes of the frozen layers below.
        k = self.layer_in_training()
        self._active = k
        lower = self.encoder[:k]
        was_training = lower.training
        lower.eval()  # frozen: their batch-norm statistics (if any) stay as trained
        with torch.no_grad():
            below = lower(x)
        lower.train(was_training)
        # The layer's own step, with its own weight penalty and uniformity term when its options set them.
        _, out, _ = self.layers[k]._shared_step(below, stage)
        out.stats["layer"] = torch.tensor(float(k), device=x.device)
        return out

    def penalised(self) -> nn.Module:
        return self.layers[self._active]
