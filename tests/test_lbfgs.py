"""optimizer=lbfgs: full-batch L-BFGS (line search) through Lightning's closure, as a plain torch loop runs it."""

from __future__ import annotations

import pandas as pd
import pytorch_lightning as pl
import torch

import aelab

FULL_BATCH = [
    "data=digits",
    "data.val_fraction=0",
    "data.batch_size=5000",
    "model=sparse_ae",
    "net.hidden_dims=[]",
    "model.latent_dim=24",
    "loss=mse",
    "optimizer=lbfgs",
    "trainer.max_epochs=12",
    "trainer.log_every_n_steps=1",
    "callbacks.model_checkpoint.monitor=null",
    "logger=csv",
]


def test_each_epoch_is_one_lbfgs_iteration_of_a_plain_torch_loop(compose, tmp_path):
    from aelab.train import build_datamodule, build_model

    cfg = compose(*FULL_BATCH)
    aelab.train(cfg)
    logged = pd.read_csv(tmp_path / "run" / "csv" / "metrics.csv").dropna(subset=["train/loss"])["train/loss"]

    # The same model from the same seed, stepped by torch's L-BFGS with a closure of the model's own loss.
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    data = build_datamodule(cfg.data)
    model = build_model(cfg, data)
    model.seed_noise(cfg.seed)
    x = next(iter(data.train_dataloader()))[0]
    options = {k: v for k, v in cfg.optimizer.items() if not k.startswith("_")}
    optimizer = torch.optim.LBFGS(model.parameters(), **options)

    def closure():
        optimizer.zero_grad()
        loss = model._shared_step(x, "train")[0]
        loss.backward()
        return loss

    before = [float(optimizer.step(closure)) for _ in range(12)]  # step() returns the loss before the step
    # One record per epoch, the loss before the step, however often the line search evaluated the closure.
    assert len(logged) == 12
    torch.testing.assert_close(torch.tensor(logged.to_list()), torch.tensor(before), rtol=1e-4, atol=1e-4)
    assert before[-1] < 0.5 * before[0]
