"""Every paper's experiment config composes and trains a few steps, on offline stand-ins for its data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import CONFIGS, SHARED_DATA
from formats import bypass_cifar10_checks, write_fake_cifar10
from hydra.utils import get_class

EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
ECG = SHARED_DATA / "ecg5000"
# Small enough for a CPU: few importance samples, short probes, no iterations of a sweep.
SMALL = {"iwae_samples": "model.iwae_samples=2", "train_samples": "model.train_samples=2"}
SMALL_EVAL = [
    "eval.max_train=256",
    "eval.features.max_iter=50",
    "eval.features.kmeans_init=1",
    "eval.finetune.max_epochs=1",
]


def offline_data(target: str, tmp_path: Path, monkeypatch) -> list[str]:
    """Return overrides that swap a data module for one that is available offline."""
    if target.endswith("CIFAR10DataModule"):
        write_fake_cifar10(tmp_path / "cifar", n_train=100, n_test=40)
        bypass_cifar10_checks(monkeypatch)
        return [f"data.root={tmp_path / 'cifar'}"]
    if target.endswith("ECG5000DataModule"):
        if ECG.is_dir():
            return [f"data.root={ECG}", "data.test=ECG5000_TEST_reconstructed.txt.gz"]
        return ["data=synthetic_ts"]
    if "MNIST" in target:
        return ["data=mnist_5k"]
    return []


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_and_trains(name, compose, tmp_path, monkeypatch):
    import aelab

    cfg = compose(f"experiment={name}")
    assert "paper" in cfg.tags, f"{name} should tag its runs as a paper's"
    overrides = offline_data(cfg.data._target_, tmp_path, monkeypatch)
    overrides += [value for key, value in SMALL.items() if cfg.model.get(key, 1) > 1]
    cfg = compose(f"experiment={name}", *overrides, *SMALL_EVAL, "trainer.max_epochs=5")
    metrics = aelab.train(cfg)
    assert all(value == value for value in metrics.values()), metrics  # no NaN
    if not get_class(cfg.model._target_).can_decode:
        # A detector without a decoder (Deep SVDD) has no test loss that falls as it learns (anomalies should move
        # away): its training objective does.
        losses = pd.read_csv(Path(cfg.paths.output_dir) / "csv" / "metrics.csv")["train/loss"].dropna()
        assert losses.iloc[-1] < losses.iloc[0], losses.to_list()
        return
    assert metrics["test/loss"] < untrained_test_loss(cfg), metrics  # a few steps of the paper's setting learn


def untrained_test_loss(cfg) -> float:
    """The test loss of the run's model before training (the same seed, so the same initial weights)."""
    import pytorch_lightning as pl

    from aelab.train import build_datamodule, build_model

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build_datamodule(cfg.data)
    model = build_model(cfg, datamodule)
    trainer = pl.Trainer(
        accelerator="cpu",
        limit_test_batches=cfg.trainer.limit_test_batches,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return trainer.test(model, datamodule=datamodule, verbose=False)[0]["test/loss"]
