"""Training end to end: short fits over the combinations, checkpoints, resume, loggers, the Python API."""

from __future__ import annotations

import json

import pytest
import pytorch_lightning as pl
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


def test_testing_without_training_tests_the_checkpoint_given(compose, tmp_path):
    trained = aelab.train(compose("data=digits", run="trained"))
    best = next((tmp_path / "trained" / "checkpoints").glob("epoch_*.ckpt"))
    tested = aelab.train(compose("data=digits", "train=false", f"ckpt_path={best}", run="tested"))
    assert tested["test/loss"] == pytest.approx(trained["test/loss"], rel=1e-6)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("data=digits", "model.latent_dim=100"), "larger than the input"),
        (("data=digits", "model.latent_dim=0"), "must be positive"),
        (("data=digits", "loss=bce", "data.output_activation=identity"), "needs a sigmoid output"),
        (("data=digits", "net=conv", "net.min_size=8"), "wider than net.min_size"),
        (("data=digits", "ckpt_path=/nowhere/x.ckpt"), "does not exist"),
        (("data=digits", "data.on_device=true", "data.in_memory=false"), "needs data.in_memory=true"),
        (("data=digits", "data.binarize=dynamic", "data.in_memory=false"), "set data.in_memory=true"),
    ],
)
def test_bad_settings_are_one_clear_error(compose, overrides, message):
    with pytest.raises(Exception) as raised:
        aelab.train(compose(*overrides))
    error = find_user_error(raised.value)
    assert error is not None and message in str(error), repr(raised.value)


def fit_as_aelab_trains(cfg, callbacks=()):
    """Build the data, model and Trainer as aelab-train does; return them after validating, fitting, validating."""
    import pytorch_lightning as pl

    from aelab.train import build_datamodule, build_model, build_trainer

    pl.seed_everything(cfg.seed, verbose=False)
    datamodule = build_datamodule(cfg.data)
    model = build_model(cfg, datamodule)
    trainer = build_trainer(cfg, model, datamodule, callbacks)
    (before,) = trainer.validate(model, datamodule=datamodule, verbose=False)
    trainer.fit(model, datamodule=datamodule)
    (after,) = trainer.validate(model, datamodule=datamodule, verbose=False)
    return trainer, model, datamodule, before["val/loss"], after["val/loss"]


class BatchLosses(pl.Callback):
    """Records the training loss of every batch."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.batches: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))
        self.batches.append(batch[1].clone())


def test_fast_dev_run_runs_one_batch_of_each_stage_and_writes_nothing(compose, tmp_path):
    metrics = aelab.train(compose("data=digits", "debug=fdr", "callbacks=default", fast=False))
    assert "test/mse" in metrics and "val/loss" in metrics
    assert not list((tmp_path / "run").rglob("*.ckpt")) and not (tmp_path / "run" / "csv").exists()
    trainer, _, _, _, _ = fit_as_aelab_trains(compose("data=digits", "debug=fdr", fast=False, run="inspect"))
    assert trainer.global_step == 1 and trainer.num_val_batches == [1]


def test_limit_mode_runs_its_few_batches_for_two_epochs(compose):
    trainer, _, _, _, _ = fit_as_aelab_trains(compose("data=digits", "debug=limit", "callbacks=none", fast=False))
    assert trainer.current_epoch == 2 and trainer.global_step == 2 * 5 and trainer.num_val_batches == [2]


def test_overfit_mode_drives_the_loss_on_one_batch_towards_zero(compose):
    losses = BatchLosses()
    cfg = compose("data=digits", "debug=overfit", "callbacks=none", "trainer.enable_progress_bar=false", fast=False)
    trainer, *_ = fit_as_aelab_trains(cfg, [losses])
    assert trainer.num_training_batches == 1 and len(losses.losses) == cfg.trainer.max_epochs
    assert all(torch.equal(labels, losses.batches[0]) for labels in losses.batches)  # one batch, every epoch
    # Learnt by heart: the Bernoulli loss falls to near its floor, the entropy of the batch's own intensities.
    x = next(iter(trainer.datamodule.train_dataloader()))[0]
    floor = float(torch.special.entr(x).add(torch.special.entr(1 - x)).flatten(1).sum(1).mean())
    assert losses.losses[-1] - floor < 0.1 * (losses.losses[0] - floor), (floor, losses.losses[::20])


@pytest.mark.parametrize(
    "overrides",
    [
        ("net=conv", "model.channels_last=true"),
        ("trainer.precision=bf16-mixed",),
        ("model.compile=true",),
        ("trainer.profiler=simple",),
    ],
    ids=["channels_last", "bf16_mixed", "compile", "lightning_profiler"],
)
def test_speed_switches_take_effect_and_the_model_learns(compose, overrides):
    # Two convolutions (8x8 -> 4x4 -> 2x2), so a weight has several input channels to lay out.
    net = ("net.channels=[8,16]", "net.min_size=2") if "net=conv" in overrides else ("net.hidden_dims=[32]",)
    cfg = compose("data=digits", *overrides, *net, "trainer.max_epochs=3", "optimizer.lr=0.005")
    dtypes = set()
    trainer, model, _, before, after = fit_as_aelab_trains(cfg)
    assert after < 0.98 * before, (before, after)
    if "model.channels_last=true" in overrides:
        conv = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        assert conv.in_channels > 1 and conv.weight.is_contiguous(memory_format=torch.channels_last)
        assert not conv.weight.is_contiguous()  # laid out channels last, not in torch's default order
    if "trainer.precision=bf16-mixed" in overrides:
        hook = model.decoder.register_forward_hook(lambda module, args, output: dtypes.add(output.dtype))
        with trainer.precision_plugin.forward_context():
            model._shared_step(next(iter(trainer.datamodule.val_dataloader())), "val")
        hook.remove()
        assert dtypes == {torch.bfloat16}
    if "model.compile=true" in overrides:
        assert model.encoder._compiled_call_impl is not None and model.decoder._compiled_call_impl is not None
    if "trainer.profiler=simple" in overrides:
        assert any("run_training_epoch" in action for action in trainer.profiler.recorded_durations)


def test_on_device_moves_every_split_once_to_the_trainers_device(compose):
    from types import SimpleNamespace

    from aelab.train import build_datamodule

    datamodule = build_datamodule(compose("data=digits", "data.on_device=true").data)
    datamodule.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("meta")), overfit_batches=0)
    loader = datamodule.train_dataloader()
    assert loader.inputs.device.type == "meta"  # batches are cut where the data already is
    assert all(getattr(datamodule, f"{s}_x").device.type == "meta" for s in ("train", "val", "test"))


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
