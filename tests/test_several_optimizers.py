"""A variant with several optimizers (the adversarial autoencoder): clipping, accumulation, schedules and the NaN check
behave as on Lightning's automatic path, each optimizer on its own."""

from __future__ import annotations

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

import aelab
from aelab.utils.errors import find_user_error

AAE = ["data=digits", "model=aae", "net.hidden_dims=[64]", "model.discriminator_dims=[32]"]


@pytest.fixture
def steps():
    """Record, at every optimizer step, which optimizer stepped and the norm of the gradients it applied."""
    seen: list[tuple[int, float]] = []

    def record(optimizer, args, kwargs) -> None:
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        seen.append((id(optimizer), float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))))

    handle = register_optimizer_step_pre_hook(record)
    yield seen
    handle.remove()


def test_each_optimizer_steps_once_a_batch_and_the_model_learns(compose, steps):
    from aelab.train import build_datamodule, build_model, build_trainer

    cfg = compose(*AAE, "trainer.max_epochs=3")
    datamodule = build_datamodule(cfg.data)
    model = build_model(cfg, datamodule)
    trainer = build_trainer(cfg, model, datamodule)
    (before,) = trainer.validate(model, datamodule=datamodule, verbose=False)
    trainer.fit(model, datamodule=datamodule)
    trained = set(trainer.callback_metrics)
    (after,) = trainer.validate(model, datamodule=datamodule, verbose=False)
    assert len({optimizer for optimizer, _ in steps}) == 2
    assert len(steps) == 2 * 3 * 4  # two optimizers, 3 epochs of 4 batches
    assert after["val/recon"] < 0.97 * before["val/recon"], (before, after)
    assert {"train/discriminator_loss", "train/adversarial", "train/disc_accuracy"} <= trained


def test_gradient_clipping_applies_to_each_optimizer(compose, steps):
    aelab.train(compose(*AAE, "trainer.gradient_clip_val=0.01", "trainer.max_epochs=1"))
    assert len(steps) == 2 * 4 and max(norm for _, norm in steps) <= 0.01 * (1 + 1e-4), steps


def test_gradient_accumulation_steps_every_second_batch(compose, steps):
    aelab.train(compose(*AAE, "trainer.accumulate_grad_batches=2", "trainer.max_epochs=1"))
    assert len(steps) == 2 * 2  # 4 batches, a step every second one, for each optimizer


def test_learning_rate_schedules_step_for_each_optimizer(compose):
    from aelab.train import build_datamodule, build_model, build_trainer

    cfg = compose(*AAE, "scheduler=cosine", "trainer.max_epochs=2")
    datamodule = build_datamodule(cfg.data)
    model = build_model(cfg, datamodule)
    trainer = build_trainer(cfg, model, datamodule)
    trainer.fit(model, datamodule=datamodule)
    rates = [group["lr"] for optimizer in trainer.optimizers for group in optimizer.param_groups]
    assert len(rates) == 2 and all(rate == pytest.approx(0.0, abs=1e-12) for rate in rates)  # cosine to 0 at T_max


def test_a_diverging_loss_is_caught_on_the_several_optimizers_path(compose):
    cfg = compose(*AAE, "optimizer=sgd", "optimizer.lr=1e8", "trainer.log_every_n_steps=1")
    with pytest.raises(Exception) as raised:
        aelab.train(cfg)
    error = find_user_error(raised.value)
    assert error is not None and "The loss became" in str(error), repr(raised.value)


def test_step_values_are_logged_every_n_rounds_of_the_optimizers(compose, monkeypatch):
    # 4 batches x 2 epochs, each batch one round of both optimizers: logged after rounds 2, 4, 6 and 8.
    import aelab.models.base as base

    written = []
    monkeypatch.setattr(base, "write_train_metrics", lambda trainer, metrics, **kw: written.append(sorted(metrics)))
    aelab.train(compose(*AAE, "trainer.log_every_n_steps=2", "test=false"))
    assert written.count(["train/loss_step"]) == 4, written
