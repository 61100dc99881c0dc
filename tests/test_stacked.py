"""model=stacked: greedy layer-wise pretraining of any variant, one layer at a time on the codes of those below."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

import aelab
from aelab.utils.errors import find_user_error

STACK = [
    "data=digits",
    "model=stacked",
    "net.hidden_dims=[]",
    "model.layer_dims=[32,24]",
    "model.latent_dim=16",
    "model.tied_weights=true",
    "model.epochs_per_layer=1",
    "trainer.max_epochs=3",
    "trainer.limit_train_batches=3",
    "optimizer=sgd",
    "optimizer.lr=0.05",
]
LAYERS = "model.layers=[{_target_: aelab.models.DenoisingAE, noise: masking, noise_level: 0.1}, " + (
    "{_target_: aelab.models.ContractiveAE, code_activation: sigmoid, contraction_weight: 0.1}, "
    "{_target_: aelab.models.SparseAE, sparsity_weight: 0.1}]"
)


class Weights(pl.Callback):
    """The stack's layer weights at the end of every training epoch."""

    def __init__(self) -> None:
        self.epochs: list[list[torch.Tensor]] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.epochs.append([layer.encoder[0][1].weight.detach().clone() for layer in pl_module.layers])


def test_each_epoch_trains_one_layer_on_the_frozen_codes_below(compose):
    from aelab.train import build_datamodule, build_model

    cfg = compose(*STACK, LAYERS)
    data = build_datamodule(cfg.data)
    model = build_model(cfg, data)
    assert [type(layer).__name__ for layer in model.layers] == ["DenoisingAE", "ContractiveAE", "SparseAE"]
    assert [layer.hparams.latent_dim for layer in model.layers] == [32, 24, 16]
    assert model.layers[0].hparams.noise_level == 0.1 and model.layers[1].method() == "closed_form"
    before = [layer.encoder[0][1].weight.detach().clone() for layer in model.layers]
    weights = Weights()
    trainer = pl.Trainer(
        accelerator="cpu", max_epochs=3, limit_train_batches=3, limit_val_batches=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[weights],
    )  # fmt: skip
    trainer.fit(model, datamodule=data)
    for epoch, after in enumerate(weights.epochs):
        previous = before if epoch == 0 else weights.epochs[epoch - 1]
        changed = [not torch.equal(a, b) for a, b in zip(after, previous)]
        assert changed == [k == epoch for k in range(3)], epoch
    # The stack encodes through every layer and decodes back down; tied layers reuse their encoders' weights.
    x = next(iter(data.test_dataloader()))[0]
    assert model.encode(x).shape == (len(x), 16) and model(x).shape == x.shape
    assert model.layers[0].decoder[0].weight.data_ptr() == model.layers[0].encoder[0][1].weight.data_ptr()
    assert ((model.encode(x) > 0) & (model.encode(x) < 1)).all()  # sigmoid codes


def test_the_run_keeps_its_latest_weights_and_refuses_early_stopping(compose, tmp_path):
    cfg = compose(*STACK, "callbacks=default", "trainer.max_epochs=2", "model.layer_dims=[32]", "model.layers="
                  "[{_target_: aelab.models.DenoisingAE}, {_target_: aelab.models.DenoisingAE}]")  # fmt: skip
    aelab.train(cfg)
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("*.ckpt")) == ["epoch_001.ckpt", "last.ckpt"]
    with pytest.raises(Exception) as caught:
        aelab.train(compose(*STACK, LAYERS, "callbacks=early_stopping", run="stopped"))
    assert "whose meaning changes" in str(find_user_error(caught.value))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("trainer.max_epochs=2",), "set trainer.max_epochs=3"),
        (("model.layers=[{_target_: aelab.models.DenoisingAE}]",), "one variant (a _target_ and its options) per"),
        (("model.layers=[{_target_: aelab.models.VQVAE}, {_target_: aelab.models.AE}, {_target_: aelab.models.AE}]",),
         "cannot be stacked"),
    ],
)  # fmt: skip
def test_a_stack_that_cannot_train_as_asked_is_refused(compose, overrides, message):
    with pytest.raises(Exception) as caught:
        aelab.train(compose(*STACK, LAYERS, *overrides))
    assert message in str(find_user_error(caught.value))
