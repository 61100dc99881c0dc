"""Several optimizers in one variant (an adversarial autoencoder), stepped as Lightning steps one.

Lightning refuses gradient clipping and accumulation from the Trainer once a module steps its own
optimizers, and steps no schedulers for it. A model whose `optimizer_groups()` names more than one group
therefore takes `trainer.gradient_clip_val`, `gradient_clip_algorithm` and `accumulate_grad_batches` over
(`claim`), and this class applies them per optimizer, steps the schedulers at their interval, and keeps
the NaN check and the training metrics of the automatic path. Each group's loss is computed with the other
groups' parameters frozen (`toggle_optimizer`), so no group's backward pass touches another's gradients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from aelab.models.base import Autoencoder

CLAIMED = ("gradient_clip_val", "gradient_clip_algorithm", "accumulate_grad_batches")


class ManualOptimization:
    """Clipping, accumulation and schedules for a model that steps several optimizers itself."""

    def __init__(self, model: Autoencoder) -> None:
        self.model = model
        self.clip_val: float | None = None
        self.clip_algorithm = "norm"
        self.accumulate = 1

    def claim(self, trainer_config) -> dict:
        """Take clipping and accumulation from the Trainer's settings; return what the Trainer gets instead."""
        self.clip_val = trainer_config.get("gradient_clip_val")
        self.clip_algorithm = trainer_config.get("gradient_clip_algorithm") or "norm"
        self.accumulate = int(trainer_config.get("accumulate_grad_batches") or 1)
        return {"gradient_clip_val": None, "accumulate_grad_batches": 1}

    def steps_now(self, batch_idx: int) -> bool:
        """Whether this batch ends an accumulation window (the epoch's last batch always does, as in Lightning)."""
        last = batch_idx + 1 == self.model.trainer.num_training_batches
        return (batch_idx + 1) % self.accumulate == 0 or last

    def step(self, optimizer, index: int, batch_idx: int) -> None:
        """Clip and step one optimizer at the end of an accumulation window; step its per-step schedulers."""
        if not self.steps_now(batch_idx):
            return
        if self.clip_val:
            self.model.clip_gradients(
                optimizer, gradient_clip_val=self.clip_val, gradient_clip_algorithm=self.clip_algorithm
            )
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        for config in self.schedulers(index, "step"):
            config.scheduler.step()

    def schedulers(self, index: int, interval: str) -> list:
        """The scheduler configs of optimizer `index` that step every `interval`."""
        configs = self.model.trainer.lr_scheduler_configs
        return [c for i, c in enumerate(configs) if i == index and c.interval == interval]

    def training_step(self, batch, batch_idx: int) -> None:
        """Each group's loss, backward pass and step in turn; the metrics and checks of the automatic path."""
        model = self.model
        optimizers = model.optimizers()
        groups = list(model.optimizer_groups())
        step = model.steps_taken()  # before this batch's steps
        model.toggle_optimizer(optimizers[0])
        loss, out, x = model._shared_step(batch, "train")
        model.manual_backward(loss / self.accumulate)
        self.step(optimizers[0], 0, batch_idx)
        model.untoggle_optimizer(optimizers[0])
        terms = dict(out.terms)
        for index, group in enumerate(groups[1:], start=1):
            model.toggle_optimizer(optimizers[index])
            group_terms = model.group_terms(group, x, out)
            model.manual_backward(torch.stack(list(group_terms.values())).sum() / self.accumulate)
            self.step(optimizers[index], index, batch_idx)
            model.untoggle_optimizer(optimizers[index])
            terms |= {f"{group}_{name}": value for name, value in group_terms.items()}
        model._record_train_step(loss, terms, out.stats, x.shape[0], step=step)

    def epoch_end(self) -> None:
        """Step the per-epoch schedulers (a monitored one with the value it monitors, once that is known)."""
        trainer = self.model.trainer
        for index in range(len(trainer.optimizers)):
            for config in self.schedulers(index, "epoch"):
                if config.monitor is None:
                    config.scheduler.step()
                elif config.monitor in trainer.callback_metrics:
                    config.scheduler.step(trainer.callback_metrics[config.monitor])
