"""The finetune and self_taught analyses: learnt features put to work on labels, beside scratch, pixels and PCA."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import aelab
from aelab.metrics.finetune import DEFAULTS, train_classifier
from aelab.utils.errors import find_user_error

QUIET = ["data=digits", "trainer=cpu", "trainer.max_epochs=6", "eval.enabled=true", "data.batch_size=32"]
SDA = [
    "model=stacked",
    "net.hidden_dims=[]",
    "net.init=glorot",
    "net.init_gain=4",
    "model.tied_weights=true",
    "model.layer_dims=[100]",
    "model.latent_dim=100",
    "optimizer=sgd",
    "optimizer.lr=0.05",
    "trainer.limit_train_batches=1.0",
]


def test_finetuning_beats_chance_leaves_the_model_alone_and_reports_scratch_and_pca(compose):
    from aelab.checkpoint import load_model

    cfg = compose(*QUIET, *SDA, "eval.analyses=[finetune]", "eval.finetune.max_epochs=8", "callbacks=default")
    metrics = aelab.train(cfg)
    for prefix in ("", "scratch_", "pca_"):
        assert metrics[f"finetune/{prefix}error"] < 0.3, prefix  # chance: 0.9
        assert 1 <= metrics[f"finetune/{prefix}best_epoch"] <= metrics[f"finetune/{prefix}epochs"] <= 8
    # The evaluated model is not the one fine-tuned: its weights are those of the checkpoint.
    saved = load_model(f"{cfg.paths.output_dir}/checkpoints/last.ckpt")
    weights = saved.state_dict()
    from aelab.train import build_datamodule, build_model

    model = build_model(cfg, build_datamodule(cfg.data))
    model.load_state_dict(weights)
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(model.encode(x), saved.encode(x))


class Constant(nn.Module):
    """A classifier that learns nothing: its validation error never improves after the first epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(x), 3) * 0


def test_early_stopping_follows_the_tutorials_patience():
    x, y = torch.rand(40, 4), torch.arange(40) % 3
    splits = {"train": (x, y), "val": (x, y), "test": (x, y)}
    settings = {**DEFAULTS, "max_epochs": 50, "patience": 4, "batch_size": 10}
    found = train_classifier(Constant(), splits, settings, torch.device("cpu"), seed=0)
    assert found["epochs"] == 4 and found["best_epoch"] == 1  # no improvement after the first: stops at the patience
    # A classifier that keeps improving runs on: patience grows to twice the epoch of each improvement.
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(300, 5, generator=generator)
    y = (x @ torch.randn(5, 3, generator=generator)).argmax(1)
    splits = {split: (x, y) for split in ("train", "val", "test")}
    torch.manual_seed(0)
    found = train_classifier(nn.Linear(5, 3), splits, {**settings, "lr": 0.005}, torch.device("cpu"), seed=0)
    assert found["epochs"] == 50 and found["best_epoch"] > 25 and found["error"] < 0.1


def test_self_taught_features_learnt_on_five_digits_classify_the_other_five(compose):
    cfg = compose(
        *QUIET, "model=sparse_ae", "net.hidden_dims=[]", "model.latent_dim=48", "data.normal_classes=[5,6,7,8,9]",
        "data.val_fraction=0", "callbacks.model_checkpoint.monitor=null", "eval.analyses=[self_taught]",
        "optimizer=lbfgs", "data.batch_size=2000", "trainer.max_epochs=20", "loss=mse", "model.sparsity_target=0.1",
    )  # fmt: skip
    metrics = aelab.train(cfg)
    from aelab.train import build_datamodule

    data = build_datamodule(cfg.data)
    labelled = int((data.arrays.train_y < 5).sum())
    assert metrics["self_taught/labelled"] == labelled and metrics["self_taught/test_images"] == 180
    for prefix in ("", "pixels_", "pca_"):
        assert metrics[f"self_taught/{prefix}accuracy"] > 0.8, prefix  # chance: 0.2
        assert metrics[f"self_taught/{prefix}official_accuracy"] > 0.8, prefix


def test_self_taught_needs_the_classes_the_features_were_learnt_on(compose):
    with pytest.raises(Exception) as caught:
        aelab.train(compose(*QUIET, "eval.analyses=[self_taught]"))
    assert "needs data.normal_classes" in str(find_user_error(caught.value))
