"""Shared fixtures: configs composed as the CLI would, each run in its own folder, data cached once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "src" / "aelab" / "configs"
SHARED_DATA = REPO.parent / "shared" / "data"
BIN = Path(sys.executable).parent

# Small and quick: CPU, a few batches, no progress bar or pictures unless a test asks.
FAST = [
    "trainer=cpu",
    "trainer.max_epochs=2",
    "+trainer.limit_train_batches=4",
    "+trainer.limit_val_batches=2",
    "+trainer.limit_test_batches=2",
    "trainer.enable_progress_bar=false",
    "callbacks=none",
    "print_config=false",
]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """One data folder for the whole session, so embedded datasets are cached once."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def compose(tmp_path, data_dir):
    """Return a function composing the train (or eval) config with overrides, outputs in tmp_path."""
    from hydra.core.global_hydra import GlobalHydra

    import aelab

    def make(*overrides: str, fast: bool = True, config_name: str = "train", run: str = "run"):
        GlobalHydra.instance().clear()
        base = [*FAST] if fast else []
        return aelab.compose(
            [*base, f"paths.data_dir={data_dir}", *overrides],
            output_dir=str(tmp_path / run),
            config_name=config_name,
        )

    yield make
    GlobalHydra.instance().clear()


def first_batch_loss(model, datamodule) -> float:
    """The model's loss on the first validation batch, without gradients."""
    import torch

    model.eval()
    batch = next(iter(datamodule.val_dataloader()))
    with torch.no_grad():
        loss = model._shared_step(batch, "val")[0]
    model.train()
    return float(loss)


@pytest.fixture
def loss_falls(compose):
    """Train a config for a few steps and assert that the validation loss went down."""

    def check(*overrides: str, steps: int = 20) -> float:
        import pytorch_lightning as pl

        from aelab.train import build_datamodule, build_model

        cfg = compose(*overrides)
        pl.seed_everything(0, verbose=False)
        datamodule = build_datamodule(cfg.data)
        model = build_model(cfg, datamodule)
        before = first_batch_loss(model, datamodule)
        trainer = pl.Trainer(
            accelerator="cpu",
            max_steps=steps,
            limit_val_batches=2,
            num_sanity_val_steps=0,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(model, datamodule=datamodule)
        after = first_batch_loss(model, datamodule)
        assert after < before, f"loss did not fall: {before:.4f} -> {after:.4f} for {overrides}"
        return after

    return check


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run an aelab console script (e.g. 'aelab-train', ...) in `cwd` and capture its output."""
    command, *rest = args
    return subprocess.run(
        [str(BIN / command), *rest],
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
