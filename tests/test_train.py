"""Training end to end: short fits over the combinations, checkpoints, resume, loggers, the Python API."""

from __future__ import annotations

import json

import pytest
import torch

import aelab
from aelab.utils.errors import find_user_error

COMBINATIONS = [
    *[("net=" + net, "data=" + data) for net in ("mlp", "conv") for data in ("digits", "mnist_5k")],
    *[("data=digits", "optimizer=" + opt) for opt in ("sgd", "momentum", "rmsprop", "adam", "adamw")],
    *[("data=digits", "loss=" + loss) for loss in ("bce", "mse", "l1")],
    ("data=digits", "scheduler=cosine"),
    ("data=digits", "scheduler=plateau"),
    ("data=digits", "net.norm=batch", "net.dropout=0.1", "model.weight_l2=1e-4"),
    ("data=digits", "net=conv", "net.batch_norm=true", "model.weight_l1=1e-5"),
]


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=[",".join(c) for c in COMBINATIONS])
def test_short_fit_lowers_the_loss(loss_falls, overrides):
    loss_falls(*overrides, steps=25)


def test_train_returns_and_writes_metrics(compose, tmp_path):
    cfg = compose("data=digits", "callbacks=default", "logger=many")
    metrics = aelab.train(cfg)
    run = tmp_path / "run"
    written = json.loads((run / "metrics.json").read_text())
    for key in ("train/loss", "val/loss", "val/loss_best", "test/loss", "test/mse", "test/psnr", "test/ssim"):
        assert key in metrics and key in written
    assert 0 < metrics["test/mse"] < 0.2 and metrics["test/ssim"] > 0
    record = json.loads((run / "record.json").read_text())
    assert record["seed"] == 42 and len(record["data_fingerprint"]) == 16 and record["versions"]["torch"]
    checkpoints = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert "last.ckpt" in checkpoints and any(p.startswith("epoch_") for p in checkpoints)
    assert all("=" not in name for name in checkpoints)
    # Pictures, and the three loggers' files read back.
    from PIL import Image

    grid = Image.open(run / "images" / "reconstruction_epoch_001.png")
    assert grid.size[0] > 8 * 8 and grid.size[1] > 4 * 8
    import pandas as pd

    csv = pd.read_csv(run / "csv" / "metrics.csv")
    assert csv["val/loss"].notna().sum() == 2
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard")).Reload()
    assert "val/loss" in events.Tags()["scalars"] and "test/mse" in events.Tags()["scalars"]
    assert any(tag.startswith("images/") for tag in events.Tags()["images"])
    offline = list((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 1 and list(offline[0].glob("*.wandb"))


def test_checkpoint_carries_config_and_record_and_loads_safely(compose, tmp_path):
    aelab.train(compose("data=digits", "model.latent_dim=5"))
    path = tmp_path / "run" / "checkpoints" / "last.ckpt"
    raw = torch.load(path, weights_only=True)  # plain values only: no pickled objects
    assert raw["aelab"]["config"]["model"]["latent_dim"] == 5 and raw["aelab"]["record"]["seed"] == 42
    model = aelab.load_model(str(path))
    x = torch.rand(3, 1, 8, 8)
    code = model.encode(x)
    assert code.shape == (3, 5) and model.decode(code).shape == x.shape
    assert 0 <= model(x).min() and model(x).max() <= 1


def test_resume_continues_the_epoch_count(compose, tmp_path):
    aelab.train(compose("data=digits", "trainer.max_epochs=1", "test=false"))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 0
    aelab.train(compose("data=digits", "trainer.max_epochs=3", "ckpt_path=last", "test=false"))
    assert torch.load(last, weights_only=True)["epoch"] == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("data=digits", "model.latent_dim=100"), "larger than the input"),
        (("data=digits", "model.latent_dim=0"), "must be positive"),
        (("data=digits", "loss=bce", "data.output_activation=identity"), "needs a sigmoid output"),
        (("data=digits", "net=conv", "net.min_size=8"), "wider than net.min_size"),
        (("data=digits", "ckpt_path=/nowhere/x.ckpt"), "does not exist"),
        (("data=digits", "data.on_device=true", "data.in_memory=false"), "needs data.in_memory=true"),
    ],
)
def test_bad_settings_are_one_clear_error(compose, overrides, message):
    with pytest.raises(Exception) as raised:
        aelab.train(compose(*overrides))
    error = find_user_error(raised.value)
    assert error is not None and message in str(error), repr(raised.value)


@pytest.mark.parametrize("debug", ["fdr", "limit", "overfit"])
def test_debug_modes_run(compose, debug):
    overrides = ("data=digits", f"debug={debug}", "callbacks=early_stopping", "trainer.enable_progress_bar=false")
    metrics = aelab.train(compose(*overrides, "trainer.max_epochs=2", fast=False))
    assert metrics["test/mse"] > 0  # fast_dev_run saves no checkpoint: the current weights are tested


@pytest.mark.parametrize(
    "overrides",
    [
        ("net=conv", "model.channels_last=true"),
        ("trainer.precision=bf16-mixed",),
        ("model.compile=true",),
        ("data.on_device=true",),
        ("trainer.profiler=simple",),
    ],
    ids=["channels_last", "bf16_mixed", "compile", "on_device", "lightning_profiler"],
)
def test_speed_switches_train_on_cpu(compose, overrides):
    net = ("net.channels=[8,16]",) if "net=conv" in overrides else ("net.hidden_dims=[32]",)
    cfg = compose("data=digits", *overrides, *net, "trainer.max_epochs=1", "test=false")
    metrics = aelab.train(cfg)
    assert metrics["val/loss"] > 0


def test_speed_switches_change_the_modules(compose):
    from aelab.train import build_datamodule, build_model

    cfg = compose("data=digits", "net=conv", "model.channels_last=true", "model.compile=true")
    model = build_model(cfg, build_datamodule(cfg.data))
    keys = list(model.state_dict())
    model.configure_model()
    conv = next(m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert model.encoder._compiled_call_impl is not None and model.decoder._compiled_call_impl is not None
    assert list(model.state_dict()) == keys  # checkpoints stay loadable without compiling
