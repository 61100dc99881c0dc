"""The per-step savings keep what they replace: metrics, monitors, callbacks and optimizer semantics."""

from __future__ import annotations

import types

import pandas as pd
import pytest
import torch

import aelab
from aelab.callbacks import ProgressBar, ReconstructionGrid, SampleGrid, SeriesAnomalyScores
from aelab.internals.lightning import NoProfiler, skip_gpu_probe_on_cpu
from aelab.models.training_metrics import RunningSums
from aelab.utils.instantiate import instantiate_callbacks


def test_running_sums_give_the_mean_over_samples_with_unequal_batches():
    sums = RunningSums()
    batches = [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([5.0]), torch.tensor([10.0, 20.0])]
    for batch in batches:
        sums.add({"a": batch.mean(), "b": (2 * batch).mean()}, len(batch))
    strategy = types.SimpleNamespace(reduce=lambda tensor, reduce_op: tensor)
    means = sums.means(strategy)
    assert list(means) == ["a", "b"]
    assert float(means["a"]) == pytest.approx(torch.cat(batches).mean().item())
    assert float(means["b"]) == pytest.approx(2 * torch.cat(batches).mean().item())


def test_training_metrics_reach_loggers_monitors_and_every_epoch(compose, tmp_path):
    cfg = compose(
        "data=digits",
        "trainer.max_epochs=3",
        "trainer.log_every_n_steps=2",
        "callbacks=default",
        "callbacks.model_checkpoint.monitor=train/loss",
        "test=false",
    )
    metrics = aelab.train(cfg)
    assert metrics["train/loss"] > 0 and metrics["train/recon"] == pytest.approx(metrics["train/loss"])
    assert "train/loss_best" in metrics  # the checkpoint callback could monitor a training metric
    csv = pd.read_csv(tmp_path / "run" / "csv" / "metrics.csv")
    epochs = csv.dropna(subset=["train/loss"])
    assert epochs["epoch"].tolist() == [0, 1, 2] and epochs["step"].tolist() == [4, 8, 12]
    steps = csv.dropna(subset=["train/loss_step"])
    assert steps["step"].tolist() == [1, 3, 5, 7, 9, 11]  # every log_every_n_steps (4 batches an epoch)


def test_a_nan_between_logging_steps_is_caught_at_the_epoch_end(compose):
    cfg = compose(
        "data=digits",
        "loss=mse",
        "data.output_activation=identity",
        "optimizer=sgd",
        "optimizer.lr=1e4",
        "trainer.log_every_n_steps=1000",
    )
    with pytest.raises(Exception) as raised:
        aelab.train(cfg)
    assert "by the end of epoch 0" in str(raised.value) and "in the recon term" in str(raised.value)


def test_callbacks_that_do_nothing_for_a_run_are_left_out(compose):
    from aelab.train import build_datamodule, build_model

    def kinds(*overrides):
        cfg = compose(*overrides, "callbacks=default")
        datamodule = build_datamodule(cfg.data)
        callbacks = instantiate_callbacks(cfg.callbacks, True, build_model(cfg, datamodule), datamodule)
        return {type(c) for c in callbacks}

    images_ae = kinds("data=digits")
    assert ReconstructionGrid in images_ae and ProgressBar in images_ae
    assert SampleGrid not in images_ae and SeriesAnomalyScores not in images_ae
    assert SampleGrid in kinds("data=digits", "model=vae")
    series = kinds("data=synthetic_ts", "net=conv1d")
    assert SeriesAnomalyScores in series and ReconstructionGrid not in series


def test_profiler_hooks_cost_nothing_and_a_real_profiler_can_be_asked_for():
    profiler = NoProfiler()
    with profiler.profile("a"), profiler.profile("b"):  # shared and re-entrant
        pass
    assert profiler.profile("a") is profiler.profile("b")


@pytest.mark.parametrize(("device", "kept"), [("cpu", False), ("cuda", True)])
def test_lightnings_nvml_probe_is_turned_off_only_on_cpu_runs(monkeypatch, device, kept):
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    trainer = types.SimpleNamespace(strategy=types.SimpleNamespace(root_device=torch.device(device)))
    skip_gpu_probe_on_cpu(trainer)
    import os

    assert ("PYTORCH_NVML_BASED_CUDA_CHECK" in os.environ) is kept


def test_fused_optimizer_is_dropped_only_where_lightning_cannot_clip_it(compose):
    from aelab.train import build_datamodule, build_model

    cfg = compose("data=digits")
    model = build_model(cfg, build_datamodule(cfg.data))
    assert model.configure_optimizers().defaults["fused"] is True
    model._trainer = types.SimpleNamespace(precision="16-mixed", gradient_clip_val=1.0)
    assert model.configure_optimizers().defaults["fused"] is False
    model._trainer = types.SimpleNamespace(precision="bf16-mixed", gradient_clip_val=1.0)
    assert model.configure_optimizers().defaults["fused"] is True
