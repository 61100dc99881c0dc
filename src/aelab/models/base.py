"""The LightningModule every autoencoder variant builds on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torchmetrics import MeanSquaredError
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from aelab import noise
from aelab.internals.lightning import FastHookName, attached_trainer, write_train_metrics
from aelab.losses import build_loss, weight_penalty
from aelab.models.manual import ManualOptimization
from aelab.models.training_metrics import RunningSums
from aelab.utils.errors import UserError, require

SCHEDULER_KEYS = ("interval", "frequency", "monitor")


@dataclass
class StepOutput:
    """What one forward pass of a variant produces."""

    logits: torch.Tensor
    code: torch.Tensor
    terms: dict[str, torch.Tensor]  # weighted terms whose sum is the loss
    stats: dict[str, torch.Tensor] = field(default_factory=dict)  # logged, not optimised


def uniformity(code: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """Return log E exp(-t |u - v|^2) over pairs of L2-normalised codes (Wang & Isola 2020); lower is more spread."""
    z = torch.nn.functional.normalize(code.flatten(1), dim=1)
    if len(z) < 2:
        return z.new_zeros(())
    # |u - v|^2 = 2 - 2 u.v on the unit sphere; unlike pdist this has a gradient at u = v.
    i, j = torch.triu_indices(len(z), len(z), offset=1, device=z.device)
    squared = 2 - 2 * (z @ z.T)[i, j]
    return torch.logsumexp(-t * squared, 0) - math.log(len(squared))


def inputs_of(batch) -> torch.Tensor:
    """Return the inputs of a batch that is either a tensor or an (inputs, labels) pair."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


class Autoencoder(FastHookName, pl.LightningModule):
    """Encoder, latent and decoder with a dict of named loss terms; variants override `step_output`.

    What a variant can do is declared once, by the class attributes below and the methods they name;
    callbacks and analyses ask these, never `hasattr`. The defaults are honest for a plain autoencoder:
    it decodes (so it interpolates in code space), has no prior to sample from and no likelihood bound,
    and scores anomalies by its squared reconstruction error.
    """

    # Codes can be drawn from a prior: `prior_codes()` (and so `sample()`) work.
    can_sample: ClassVar[bool] = False
    # A bound on -log p(x) in nats: `negative_elbo()` and `iwae_nll()` work.
    has_likelihood: ClassVar[bool] = False
    # Codes are maps of codebook indices: `encode_indices()` works.
    quantised: ClassVar[bool] = False
    # The variant works on a net's spatial feature map (net=conv, conv1d), not on a flat code.
    needs_spatial_features: ClassVar[bool] = False
    # A regulariser (noise, sparsity, contraction) keeps an overcomplete code from copying its input.
    overcomplete: ClassVar[bool] = False
    # What `anomaly_map()` adds up, as reports name it.
    anomaly_score: ClassVar[str] = "squared reconstruction error"
    # `seeds=[...]` may train it as vectorised replicas: its step is a function of its weights, the batch, the
    # trainer's step count and `randn_like`/`rand_like` draws, with no state updated in place and one optimizer.
    vectorisable: ClassVar[bool] = False
    # Codes decode back to inputs: `decode()`, `reconstruct()` and `interpolate()` work (Deep SVDD has no decoder).
    can_decode: ClassVar[bool] = True
    # val/loss means the same in every epoch, so the best checkpoint is chosen on it (not so for greedy layer-wise
    # pretraining, whose validation loss is each layer's own in turn: its runs keep the last weights).
    comparable_val_loss: ClassVar[bool] = True

    def __init__(
        self,
        net: dict,
        loss: dict,
        optimizer: dict,
        scheduler: dict | None = None,
        input_shape: list[int] = (1, 28, 28),
        latent_dim: int = 32,
        output_activation: str = "sigmoid",
        weight_l1: float = 0.0,
        weight_l2: float = 0.0,
        weight_uniformity: float = 0.0,
        uniformity_t: float = 2.0,
        compile: bool = False,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        # Plain values only: checkpoints must load with torch.load(weights_only=True). Not logged by Lightning:
        # aelab-train logs the whole config itself, and Lightning's merge of the model's and the data's
        # hyperparameters refuses keys they share with other values (noise of denoising_ae and of synthetic_ts).
        self.save_hyperparameters(logger=False)
        self.input_shape = tuple(int(s) for s in input_shape)
        input_dim = math.prod(self.input_shape)
        require(latent_dim > 0, f"model.latent_dim must be positive, not {latent_dim}.")
        require(
            latent_dim <= input_dim or self.overcomplete,
            f"model.latent_dim={latent_dim} is larger than the input ({input_dim} values); "
            "choose a smaller latent, or a regularised model (denoising_ae, sparse_ae, contractive_ae).",
        )
        require(weight_l1 >= 0 and weight_l2 >= 0, "model.weight_l1 and model.weight_l2 must be >= 0.")
        require(weight_uniformity >= 0, "model.weight_uniformity must be >= 0 (0 turns it off).")
        self.latent_dim = latent_dim
        self.recon_loss = build_loss(loss, output_activation)
        self.net = instantiate(net, input_shape=list(self.input_shape))
        self.build()
        self._noise_seed: int | None = None  # None: draws come from torch's global generator (see seed_noise)
        self._generators: dict[str, torch.Generator] = {}
        self._recorded_batch: tuple[int, int] | None = None  # the last batch whose training step was recorded
        # One optimizer: Lightning's automatic optimisation. Several (an adversarial variant): the base steps them.
        self.automatic_optimization = len(self.optimizer_groups()) == 1
        self.manual = ManualOptimization(self)
        self.test_mse = MeanSquaredError()
        unit_range = output_activation == "sigmoid"
        # PSNR needs a known data range: [0, 1] data only (standardised series have none).
        self.test_psnr = PeakSignalNoiseRatio(data_range=1.0) if unit_range else None
        self.test_ssim = self._ssim() if len(self.input_shape) == 3 else None

    def configure_model(self) -> None:
        """Apply the speed switches once, after the model reaches its device."""
        if getattr(self, "_switched", False):
            return
        self._switched = True
        if self.hparams.channels_last and len(self.input_shape) == 3:
            self.to(memory_format=torch.channels_last)
        if self.hparams.compile:
            # In place, so state_dict keys (and checkpoints) are the same as without compiling.
            for part in (self.encoder, self.decoder):
                if part is not None:
                    part.compile()

    def build(self) -> None:
        """Create the encoder and decoder; variants with another code size override this."""
        self.encoder = self.net.encoder(self.latent_dim)
        self.decoder = self.net.decoder(self.latent_dim)

    def _ssim(self) -> StructuralSimilarityIndexMeasure | None:
        side = min(self.input_shape[1:])
        kernel = min(11, side - 1 if side % 2 == 0 else side)
        return StructuralSimilarityIndexMeasure(data_range=1.0, kernel_size=kernel) if kernel >= 3 else None

    # -- the interface shared by every variant ---------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Return the latent code of a batch of inputs."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Return the reconstruction (in data space) of a batch of codes."""
        return self.recon_loss.mean(self.decoder(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the reconstruction of a batch of inputs."""
        return self.decode(self.encode(x))

    def interpolate(self, x1: torch.Tensor, x2: torch.Tensor, steps: int = 8) -> torch.Tensor:
        """Return [batch, steps, ...]: decodings along the straight line between the codes of x1 and x2."""
        z1, z2 = self.encode(x1), self.encode(x2)
        weights = torch.linspace(0, 1, steps, device=z1.device).view(1, steps, *[1] * (z1.dim() - 1))
        z = (1 - weights) * z1[:, None] + weights * z2[:, None]
        return self.decode(z.flatten(0, 1)).unflatten(0, (len(x1), steps))

    def prior_codes(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return `n` codes drawn from the prior (models with `can_sample`)."""
        raise UserError(f"{type(self).__name__} has no prior to draw codes from: use a model that can sample.")

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return the decodings of `n` codes drawn from the prior (models with `can_sample`)."""
        return self.decode(self.prior_codes(n, generator).to(self.device, self.dtype))

    def encode_indices(self, x: torch.Tensor) -> torch.Tensor:
        """Return the codebook indices of a batch (models with `quantised`)."""
        raise UserError(f"{type(self).__name__} has no codebook: its codes are real numbers.")

    def anomaly_map(self, x: torch.Tensor) -> torch.Tensor:
        """Return per-value contributions to each sample's anomaly score (shaped like x; they sum to the score)."""
        return (self(x) - x).pow(2)

    def seed_noise(self, seed: int) -> None:
        """Draw this model's noise from a generator of its own, seeded from the run's seed (see `aelab.noise`)."""
        self._noise_seed, self._generators = int(seed), {}

    def noise_generator(self, device: torch.device) -> torch.Generator | None:
        """The model's noise generator on `device` (None before `seed_noise`: torch's global generator)."""
        if self._noise_seed is None:
            return None
        trainer = attached_trainer(self)
        if trainer is not None and trainer.sanity_checking:
            # Lightning's sanity check runs again when a run resumes: it must not move the run's stream.
            return noise.sanity_generator(self._noise_seed, device)
        key = device.type  # by kind, so that a checkpoint from cuda:1 resumes on cuda:0 or on the CPU's twin
        if key not in self._generators:
            self._generators[key] = noise.generator_for(self._noise_seed, device)
        return self._generators[key]

    def randn_like(self, tensor: torch.Tensor) -> torch.Tensor:
        """Standard normal noise shaped like `tensor`: every random draw of a variant goes through here or rand_like."""
        return noise.draw("normal", tensor, self.noise_generator(tensor.device))

    def rand_like(self, tensor: torch.Tensor) -> torch.Tensor:
        """Uniform [0, 1) noise shaped like `tensor`."""
        return noise.draw("uniform", tensor, self.noise_generator(tensor.device))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The noise generators' states, so that a resumed run draws what an uninterrupted one would.
        if self._generators:
            checkpoint["aelab_noise"] = {key: g.get_state() for key, g in self._generators.items()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        for key, state in checkpoint.get("aelab_noise", {}).items():
            kind = torch.device(key).type
            if kind != "cpu" and not torch.cuda.is_available():
                continue  # a GPU run's stream resumed on a machine without one: its CPU stream still resumes
            generator = self.noise_generator(torch.device(kind))
            if generator is not None:
                generator.set_state(state)

    def optimizer_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        """The parameters each optimizer updates, by name; the first group's is the loss `step_output` returns."""
        return {"model": list(self.parameters())}

    def optimizer_overrides(self) -> dict[str, dict]:
        """Optimizer settings that differ for a group (e.g. a discriminator's learning rate), by group name."""
        return {}

    def group_terms(self, group: str, x: torch.Tensor, out: StepOutput) -> dict[str, torch.Tensor]:
        """The weighted terms of another optimizer group's loss, given the first group's step output."""
        raise NotImplementedError(f"{type(self).__name__} declares the optimizer group {group!r} but no terms for it")

    def step_output(self, x: torch.Tensor, stage: str) -> StepOutput:
        """Run the model on `x` and return its loss terms; the plain autoencoder has one."""
        code = self.encoder(x)
        logits = self.decoder(code)
        return StepOutput(logits, code, {"recon": self.recon_loss.error(logits, x).mean()})

    # -- Lightning hooks --------------------------------------------------------------------
    def _shared_step(self, batch, stage: str) -> tuple[torch.Tensor, StepOutput, torch.Tensor]:
        x = inputs_of(batch)
        if self.hparams.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        out = self.step_output(x, stage)
        penalty = weight_penalty(self.penalised(), self.hparams.weight_l1, self.hparams.weight_l2)
        if penalty is not None:
            out.terms["weight_penalty"] = penalty
        if self.hparams.weight_uniformity:
            spread = uniformity(out.code, self.hparams.uniformity_t)
            out.terms["uniformity"] = self.hparams.weight_uniformity * spread
        loss = torch.stack(list(out.terms.values())).sum()
        return loss, out, x

    def penalised(self) -> torch.nn.Module:
        """The module whose weight matrices `weight_l1` and `weight_l2` penalise (a stack: the layer in training)."""
        return self

    def _log_terms(self, stage: str, loss: torch.Tensor, out: StepOutput, batch_size: int) -> None:
        """Log validation or test terms as epoch means, averaged over DDP ranks."""
        terms = {f"{stage}/{name}": value.detach() for name, value in {**out.terms, **out.stats}.items()}
        values = {f"{stage}/loss": loss, **terms}
        show = stage == "val"
        self.log_dict(values, on_step=False, on_epoch=True, batch_size=batch_size, sync_dist=True, prog_bar=show)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor | None:
        if not self.automatic_optimization:
            return self.manual.training_step(batch, batch_idx)
        loss, out, x = self._shared_step(batch, "train")
        # An optimizer with a closure (L-BFGS and its line search) evaluates one batch several times per step: the
        # epoch's sums and the finiteness check take its first evaluation, the loss before the step, once.
        if self._recorded_batch != (self.current_epoch, batch_idx):
            self._recorded_batch = (self.current_epoch, batch_idx)
            self._record_train_step(loss, out.terms, out.stats, x.shape[0])
        return loss

    def _record_train_step(
        self, loss: torch.Tensor, terms: dict, stats: dict, batch_size: int, step: int | None = None
    ) -> None:
        """Add a step to the epoch's sums; on the steps the loggers write, log it and check it is finite.

        `step`: the training steps before this one (by default those taken so far).
        """
        self._objective = ("loss", *terms)  # what the finiteness check looks at: never the stats
        self._train_sums.add({"loss": loss, **terms, **stats}, batch_size)
        step = self.steps_taken() if step is None else step
        # Step values, and the finiteness check (a device sync on GPUs), only on the steps the loggers write.
        if (step + 1) % self.trainer.log_every_n_steps == 0:
            self._check_finite({"loss": loss, **terms}, f"by step {step} (epoch {self.current_epoch})")
            write_train_metrics(self.trainer, {"train/loss_step": loss}, prog_bar=True)

    def steps_taken(self) -> int:
        """Training steps taken: Lightning's `global_step` counts each optimizer's, so several make one round."""
        return self.global_step if self.automatic_optimization else self.global_step // len(self.optimizer_groups())

    def on_train_epoch_start(self) -> None:
        self._train_sums = RunningSums()

    def on_train_epoch_end(self) -> None:
        means = self._train_sums.means(self.trainer.strategy)
        if means:
            self._check_finite(means, f"by the end of epoch {self.current_epoch} (step {self.steps_taken()})")
            write_train_metrics(self.trainer, {f"train/{name}": value for name, value in means.items()})
        if not self.automatic_optimization:
            self.manual.epoch_end()

    def optimizer_steps_per_epoch(self) -> int:
        """Optimizer steps in one training epoch (batches over gradient accumulation; 1 while unknown)."""
        trainer = attached_trainer(self)
        batches = trainer.num_training_batches if trainer is not None else float("inf")
        if not math.isfinite(batches):
            return 1
        accumulate = self.manual.accumulate if not self.automatic_optimization else trainer.accumulate_grad_batches
        return max(1, math.ceil(int(batches) / accumulate))

    def claim_trainer_options(self, trainer_config) -> dict:
        """Trainer arguments to override because this model applies them itself (several optimizers)."""
        return {} if self.automatic_optimization else self.manual.claim(trainer_config)

    def _check_finite(self, values: dict[str, torch.Tensor], when: str) -> None:
        """Stop the run, naming the non-finite terms, when the objective is not finite (stats alone never stop it)."""
        objective = [values[name] for name in self._objective if name in values]
        if bool(torch.isfinite(torch.stack(objective)).all()):
            return
        bad = [n for n in self._objective[1:] if n in values and not torch.isfinite(values[n])] or ["loss"]
        raise UserError(
            f"The loss became {float(values['loss'])} {when} in the {', '.join(bad)} term: lower optimizer.lr "
            "or set trainer.gradient_clip_val=1.0; the last good checkpoint stays in checkpoints/last.ckpt."
        )

    def validation_step(self, batch, batch_idx: int) -> None:
        loss, out, x = self._shared_step(batch, "val")
        self._log_terms("val", loss, out, x.shape[0])

    def test_step(self, batch, batch_idx: int) -> None:
        loss, out, x = self._shared_step(batch, "test")
        self._log_terms("test", loss, out, x.shape[0])
        recon = self.reconstruct(x, out)
        self.test_mse(recon, x)
        self.log("test/mse", self.test_mse, batch_size=x.shape[0])
        if self.test_psnr is not None:
            self.test_psnr(recon, x)
            self.log("test/psnr", self.test_psnr, batch_size=x.shape[0])
        if self.test_ssim is not None:
            self.test_ssim(recon.clamp(0, 1), x)
            self.log("test/ssim", self.test_ssim, batch_size=x.shape[0])

    def reconstruct(self, x: torch.Tensor, out: StepOutput | None = None) -> torch.Tensor:
        """Return the deterministic reconstruction used for test metrics."""
        return self.recon_loss.mean(out.logits) if out is not None else self(x)

    def configure_optimizers(self):
        trainer = attached_trainer(self)
        configured = []
        overrides = self.optimizer_overrides()
        for group, params in self.optimizer_groups().items():
            options = {**self.hparams.optimizer, **overrides.get(group, {})}
            # Under 16-bit loss scaling a fused optimizer unscales gradients itself, so Lightning cannot clip first.
            if options.get("fused") and trainer and trainer.precision == "16-mixed" and trainer.gradient_clip_val:
                options["fused"] = False
            optimizer = instantiate(options)(params=params)
            if not self.hparams.scheduler:
                configured.append({"optimizer": optimizer})
                continue
            options = dict(self.hparams.scheduler)
            extra = {k: options.pop(k) for k in SCHEDULER_KEYS if k in options}
            scheduler = instantiate(options)(optimizer=optimizer)
            configured.append({"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, **extra}})
        if len(configured) == 1:
            return configured[0] if self.hparams.scheduler else configured[0]["optimizer"]
        return configured
