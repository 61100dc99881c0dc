"""R independent autoencoders trained in one step: stacked weights, one vectorised forward, one optimizer.

The replicas' weights are stacked along a first dimension of size R (`torch.func.stack_module_state`);
a training step runs the model's own `_shared_step` on each replica's weights and batch under
`torch.func.vmap`, and one optimizer updates the stacked tensors. Adam, SGD, momentum, RMSProp and Adagrad
are elementwise, so that is exactly R independent optimizers. What couples replicas in Lightning's loop
is done here per replica: gradient clipping (a norm per replica), the finiteness check (naming the
replica), early stopping and best-weight selection (a stopped replica's weights and optimizer state are
restored after every step, so momentum does not move it on). Each replica's random draws come from a
generator of its own, seeded as a single run with its seed seeds its model's (`aelab.noise`).
"""

from __future__ import annotations

import copy
import math

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torch import nn

from aelab import noise
from aelab.internals.lightning import write_train_metrics
from aelab.models.base import SCHEDULER_KEYS
from aelab.utils.errors import UserError

# What a checkpoint of the replicas keeps beside their stacked weights (seeds: to check a resumed run's).
SAVED = (
    "seeds",
    "best",
    "best_epoch",
    "best_weights",
    "best_noise",
    "stopping_best",
    "waited",
    "stopped",
    "stopped_noise",
    "stopped_metrics",
)


class StepOf(nn.Module):
    """A model's training step as a module call, so that `functional_call` can run it on any replica's weights."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, stage: str) -> dict[str, torch.Tensor]:
        loss, out, _ = self.model._shared_step(x, stage)
        return {
            "loss": loss,
            **{f"term/{k}": v for k, v in out.terms.items()},
            **{f"stat/{k}": v for k, v in out.stats.items()},
        }


class EpochSums:
    """Per-replica, batch-size-weighted sums of named values [R], for epoch means."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, values: dict[str, torch.Tensor], weight: int) -> None:
        """Add one batch's per-replica values."""
        for name, value in values.items():
            value = value.detach().to(torch.promote_types(value.dtype, torch.float32)) * weight  # float64 stays
            self.sums[name] = self.sums[name] + value if name in self.sums else value
        self.count += weight

    def means(self) -> dict[str, torch.Tensor]:
        """Each value's mean over the samples seen, per replica."""
        return {name: total / max(self.count, 1) for name, total in self.sums.items()}


class Replicas(pl.LightningModule):
    """R replicas of one variant, one per seed, trained in one vectorised step (see the module's docstring)."""

    # The picture callbacks draw one model's images: replicas leave them out (as runs do for models they
    # do not apply to); each replica's folder can be evaluated with aelab-eval instead.
    can_sample = False
    input_shape: tuple[int, ...] = ()
    comparable_val_loss = True  # the mean val/loss over replicas: the stacked run's own checkpoints are chosen on it

    def __init__(
        self,
        models: list[nn.Module],
        seeds: list[int],
        clip_val: float | None = None,
        clip_algorithm: str = "norm",
        checkpoint_on: str | None = "val/loss",
        patience: int | None = None,
        min_delta: float = 0.0,
    ) -> None:
        super().__init__()
        self.seeds = list(seeds)
        params, buffers = torch.func.stack_module_state([StepOf(m) for m in models])
        self.names, self.buffer_names = list(params), list(buffers)
        trainable = {name: p.requires_grad for name, p in StepOf(models[0]).named_parameters()}
        self.weights = nn.ParameterList(
            [nn.Parameter(params[n].detach().clone(), requires_grad=trainable[n]) for n in self.names]
        )
        for i, name in enumerate(self.buffer_names):
            self.register_buffer(f"buffer_{i}", buffers[name].detach().clone())
        self._template = [copy.deepcopy(StepOf(models[0])).to("meta")]  # not a submodule: weights come from above
        self.optimizer_config = dict(models[0].hparams.optimizer)
        self.scheduler_config = dict(models[0].hparams.scheduler or {})
        self.clip_val, self.clip_algorithm = clip_val, clip_algorithm
        # "val/loss", "latest" (a checkpoint with no monitor) or None (no checkpoint: a replica tests its last weights).
        self.checkpoint_on, self.patience, self.min_delta = checkpoint_on, patience, min_delta
        replicas = len(self.seeds)
        # The best checkpoint's epoch, val/loss, weights and noise streams.
        self.best = torch.full((replicas,), math.inf)
        self.best_epoch = torch.full((replicas,), -1, dtype=torch.long)
        self.best_weights: list[dict[str, torch.Tensor] | None] = [None] * replicas
        self.best_noise: list[dict[str, torch.Tensor] | None] = [None] * replicas
        # As EarlyStopping: its own best (improving by more than min_delta), epochs waited, and where it stopped.
        self.stopping_best = torch.full((replicas,), math.inf)
        self.waited = torch.zeros(replicas, dtype=torch.long)
        self.stopped = torch.zeros(replicas, dtype=torch.bool)
        self.stopped_noise: list[dict[str, torch.Tensor] | None] = [None] * replicas
        self.stopped_metrics: list[dict[str, float] | None] = [None] * replicas  # its single run's final ones
        self.generators: dict[str, list[torch.Generator]] = {}
        self.plans: dict[tuple, list] = {}

    # -- the vectorised step ------------------------------------------------------------------------------------
    def replica_generators(self, device: torch.device) -> list[torch.Generator]:
        """Each replica's noise generator on `device`, seeded as a single run's model seeds its own."""
        key = device.type
        if key not in self.generators:
            self.generators[key] = [noise.generator_for(s, device) for s in self.seeds]
        return self.generators[key]

    def noise_state(self, replica: int) -> dict[str, torch.Tensor]:
        """One replica's noise streams, by device kind (as its single run's checkpoint holds its model's)."""
        return {kind: generators[replica].get_state() for kind, generators in self.generators.items()}

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The stacked weights and buffers, by the single model's names."""
        params = dict(zip(self.names, self.weights))
        buffers = {name: getattr(self, f"buffer_{i}") for i, name in enumerate(self.buffer_names)}
        return params, buffers

    def plan(self, stage: str, x: torch.Tensor) -> list:
        """The draws one step makes on a batch of this shape (recorded once, on the first replica, drawing nothing)."""
        key = (stage, tuple(x.shape[1:]))
        if key not in self.plans:
            params, buffers = self.state()
            first = ({n: p[0] for n, p in params.items()}, {n: b[0] for n, b in buffers.items()})
            with torch.no_grad(), noise.recording() as record:
                torch.func.functional_call(self._template[0], first, (x[0], stage))
            self.plans[key] = record.draws
        return self.plans[key]

    def run(self, x: torch.Tensor, stage: str) -> dict[str, torch.Tensor]:
        """Every replica's step on its batch of x [R, B, ...]: each output [R]."""
        params, buffers = self.state()
        generators = self.replica_generators(x.device)
        if self.trainer.sanity_checking:  # as a single run's model: the check never moves the runs' streams
            generators = [noise.sanity_generator(s, x.device) for s in self.seeds]
        drawn = [noise.make(self.plan(stage, x), g, x.device) for g in generators]
        tapes = [torch.stack(values) for values in zip(*drawn)]
        template = self._template[0]
        if template.training != (stage == "train"):  # as Lightning sets a single run's model (k-sparse: alpha * k)
            template.train(stage == "train")

        def one(p, b, tape, batch):
            with noise.replaying(tape):
                return torch.func.functional_call(template, (p, b), (batch, stage))

        return torch.func.vmap(one)(params, buffers, tapes, x)

    # -- training -----------------------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        self._template[0].model.trainer = self.trainer  # the step count that warm-ups and capacity schedules read

    def on_train_epoch_start(self) -> None:
        self.train_sums = EpochSums()

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x = batch[0]
        out = self.run(x, "train")
        self.train_sums.add(out, x.shape[1])
        if (self.global_step + 1) % self.trainer.log_every_n_steps == 0:
            self.check_finite(out, f"by step {self.global_step} (epoch {self.current_epoch})")
            write_train_metrics(self.trainer, {"train/loss_step": out["loss"].mean()}, prog_bar=True)
            write_train_metrics(self.trainer, {f"train/loss_step_replica{r}": v for r, v in enumerate(out["loss"])})
        return out["loss"].sum()  # the replicas' weights are disjoint: each gradient is its own loss's

    def on_train_epoch_end(self) -> None:
        means = self.train_sums.means()
        if means:
            self.check_finite(means, f"by the end of epoch {self.current_epoch}")
            write_train_metrics(self.trainer, self.named("train", means))
        # Stopped this epoch: its single run ends here (early stopping checks at the end of the training epoch).
        for replica in self.stopped.nonzero().flatten().tolist():
            if self.stopped_metrics[replica] is None:
                self.stopped_metrics[replica] = self.final_metrics(replica)

    def final_metrics(self, replica: int) -> dict[str, float]:
        """A replica's latest epoch metrics, by a single run's names (and what all replicas share)."""
        if self.stopped_metrics[replica] is not None:
            return self.stopped_metrics[replica]
        logged, suffix = self.trainer.callback_metrics, f"_replica{replica}"
        own = {key.removesuffix(suffix): float(v) for key, v in logged.items() if key.endswith(suffix)}
        shared = {k: float(v) for k, v in logged.items() if "_replica" not in k and f"{k}_replica0" not in logged}
        return own | shared  # shared: the learning rate, logged once

    def check_finite(self, values: dict[str, torch.Tensor], when: str) -> None:
        """Stop the run, naming the replica (its seed) and the term, when a replica's objective is not finite."""
        objective = {k: v for k, v in values.items() if not k.startswith("stat/")}
        bad = ~torch.isfinite(torch.stack(list(objective.values()))).all(0)
        if bool(bad.any()):
            replica = int(bad.nonzero()[0])
            terms = [
                k.removeprefix("term/") for k, v in objective.items() if k != "loss" and not torch.isfinite(v[replica])
            ]
            raise UserError(
                f"The loss of replica {replica} (seed {self.seeds[replica]}) became {float(values['loss'][replica])} "
                f"{when} in the {', '.join(terms) or 'loss'} term: lower optimizer.lr or set "
                "trainer.gradient_clip_val=1.0; the last good checkpoint stays in checkpoints/last.ckpt."
            )

    def named(self, stage: str, means: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Metrics as loggers get them: each value's mean over replicas, and each replica's own."""
        named = {}
        for key, values in means.items():
            name = f"{stage}/{key.split('/', 1)[-1]}"
            named[name] = values.mean()
            named |= {f"{name}_replica{r}": value for r, value in enumerate(values)}
        return named

    def on_before_optimizer_step(self, optimizer) -> None:
        """Clip each replica's gradients on its own, as its single run would."""
        grads = [p.grad for p in self.weights if p.grad is not None]
        if not self.clip_val or not grads:
            return
        if self.clip_algorithm == "value":
            for grad in grads:
                grad.clamp_(-self.clip_val, self.clip_val)
            return
        norms = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads]).sum(0).sqrt()  # [R]
        scale = (self.clip_val / (norms + 1e-6)).clamp(max=1.0)  # as torch.nn.utils.clip_grad_norm_
        for grad in grads:
            grad.mul_(scale.view(-1, *[1] * (grad.dim() - 1)))

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer, optimizer_closure=None) -> None:
        """Step every replica, then put stopped replicas' weights and optimizer state back as they were."""
        stopped = self.stopped.nonzero().flatten().tolist()
        if not stopped:
            return super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        kept = [
            (
                p.data[stopped].clone(),
                {
                    k: v[stopped].clone()
                    for k, v in optimizer.state.get(p, {}).items()
                    if torch.is_tensor(v) and v.dim() and len(v) == len(self.seeds)
                },
            )
            for p in self.weights
        ]
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        for p, (weights, state) in zip(self.weights, kept):
            p.data[stopped] = weights
            for key, value in state.items():
                optimizer.state[p][key][stopped] = value

    # -- validation: per-replica early stopping and best weights ----------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self.val_sums = EpochSums()

    def validation_step(self, batch, batch_idx: int) -> None:
        out = self.run(batch[0], "val")
        self.val_sums.add(out, batch[0].shape[1])

    def on_validation_epoch_end(self) -> None:
        means = self.val_sums.means()
        if not means:
            return
        write_train_metrics(self.trainer, self.named("val", means))
        if self.trainer.sanity_checking:
            return
        loss = means["loss"].cpu()
        if self.checkpoint_on is not None:  # as ModelCheckpoint: the strictly lowest val/loss, or the latest epoch
            improved = ~self.stopped if self.checkpoint_on == "latest" else (loss < self.best) & ~self.stopped
            for replica in improved.nonzero().flatten().tolist():
                self.best_weights[replica] = self.replica_state(replica)
                self.best_noise[replica] = self.noise_state(replica)
            self.best = torch.where(improved, loss, self.best)
            self.best_epoch = torch.where(improved, torch.tensor(self.current_epoch), self.best_epoch)
        if self.patience is None:
            return
        improved = (loss < self.stopping_best - self.min_delta) & ~self.stopped
        self.stopping_best = torch.where(improved, loss, self.stopping_best)
        self.waited = torch.where(improved | self.stopped, torch.zeros_like(self.waited), self.waited + 1)
        stopping = (self.waited >= self.patience) & ~self.stopped
        for replica in stopping.nonzero().flatten().tolist():
            self.stopped_noise[replica] = self.noise_state(replica)  # later steps still draw from its streams
        self.stopped |= stopping
        if bool(self.stopped.all()):
            self.trainer.should_stop = True

    def replica_state(self, replica: int) -> dict[str, torch.Tensor]:
        """One replica's weights and buffers (CPU copies) under the single model's state_dict names."""
        params, buffers = self.state()
        return {
            name.removeprefix("model."): t[replica].detach().cpu().clone() for name, t in {**params, **buffers}.items()
        }

    def claim_trainer_options(self, trainer_config) -> dict:
        """The Trainer does not clip: a norm over all replicas would couple them (`on_before_optimizer_step` clips)."""
        return {"gradient_clip_val": None}

    # -- optimizer, checkpoints ------------------------------------------------------------------------------
    def configure_optimizers(self):
        optimizer = instantiate(self.optimizer_config)(params=self.weights)
        if not self.scheduler_config:
            return optimizer
        options = dict(self.scheduler_config)
        extra = {k: options.pop(k) for k in SCHEDULER_KEYS if k in options}
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": instantiate(options)(optimizer=optimizer), **extra},
        }

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["aelab_replicas"] = {
            **{name: getattr(self, name) for name in SAVED},
            "generators": {kind: [g.get_state() for g in gens] for kind, gens in self.generators.items()},
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        saved = checkpoint["aelab_replicas"]
        for name in SAVED:
            setattr(self, name, saved[name])
        for kind, states in saved["generators"].items():
            if kind != "cpu" and not torch.cuda.is_available():
                continue  # a GPU run resumed on a machine without one: its CPU streams still resume
            for generator, state in zip(self.replica_generators(torch.device(kind)), states):
                generator.set_state(state)
