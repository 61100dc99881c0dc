"""Training throughput of aelab against a plain PyTorch loop on the same model, data and optimizer.

Three sizes: a tiny MLP on `digits`, an MLP on `mnist_5k`, a conv autoencoder on `mnist_5k`. aelab runs
as `aelab-train` builds it (its callbacks, CSV logger, progress bar, per-step and per-epoch training
metrics), with validation and checkpointing off because the plain loop has neither. The plain loop is
written by hand over the same modules, batches and optimizer config, one thread each. After every aelab
epoch the plain loop runs one epoch inside the same process, so the two alternate epoch by epoch; the
medians are compared (the first epoch of each is warm-up). A bare Lightning module (no logging, no
callbacks, Lightning's defaults) is measured the same way, as Lightning's own floor. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
import warnings

import torch

CASES = {
    "tiny_mlp_digits": ["data=digits", "net.hidden_dims=[128]", "model.latent_dim=32", "data.batch_size=64"],
    "mlp_mnist_5k": ["data=mnist_5k", "data.batch_size=64"],
    "conv_mnist_5k": ["data=mnist_5k", "net=conv", "data.batch_size=64"],
}
# The fused optimizer (aelab's default) shortens the plain loop's step too, which lowers the ratio of a tiny
# model; the per-tensor Adam most hand-written loops use is measured beside it.
CASES["tiny_mlp_digits_per_tensor_adam"] = [*CASES["tiny_mlp_digits"], "optimizer.fused=false"]
TARGETS = {"tiny_mlp_digits": 0.7, "mlp_mnist_5k": 0.9, "conv_mnist_5k": 0.97, "tiny_mlp_digits_per_tensor_adam": 0.7}


def plain_step(model, x: torch.Tensor, optimizer) -> None:
    """One optimizer step as a hand-written loop takes it."""
    loss = model.recon_loss.error(model.decoder(model.encoder(x)), x).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def plain_epoch(model, loader, optimizer) -> float:
    """One epoch of the hand-written loop; returns seconds."""
    start = time.perf_counter()
    for x, _ in loader:
        plain_step(model, x, optimizer)
    return time.perf_counter() - start


def alternating_timer(plain_model, loader, optimizer):
    """A callback timing each training epoch, then running (and timing) one plain epoch after it."""
    import pytorch_lightning as pl

    class AlternatingTimer(pl.Callback):
        def __init__(self) -> None:
            self.framework: list[float] = []
            self.plain: list[float] = []

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            self.framework.append(time.perf_counter() - self.start)
            self.plain.append(plain_epoch(plain_model, loader, optimizer))

    return AlternatingTimer()


def bare_lightning_module(model):
    """Lightning's own floor: the same modules in a LightningModule that logs nothing."""
    import pytorch_lightning as pl

    class Bare(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def training_step(self, batch, batch_idx):
            x = batch[0]
            return self.model.recon_loss.error(self.model.decoder(self.model.encoder(x)), x).mean()

        def configure_optimizers(self):
            from hydra.utils import instantiate

            return instantiate(self.model.hparams.optimizer)(params=self.parameters())

    return Bare()


def fit_alternating(contender: str, cfg, datamodule, epochs: int, workdir: str) -> tuple[list[float], list[float]]:
    """Fit `contender` (aelab or bare Lightning) for `epochs` + 1 epochs, alternating plain epochs; return times."""
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from aelab.train import build_model, build_trainer

    torch.manual_seed(0)
    plain_model = build_model(cfg, datamodule)
    optimizer = instantiate(cfg.optimizer)(params=plain_model.parameters())
    timer = alternating_timer(plain_model, datamodule.train_dataloader(), optimizer)
    common = dict(max_epochs=epochs + 1, limit_val_batches=0, num_sanity_val_steps=0, enable_checkpointing=False)
    torch.manual_seed(0)
    model = build_model(cfg, datamodule)
    if contender == "aelab":
        # As aelab-train builds it. On the CPU it also turns off Lightning's NVML probe, process-wide, so the
        # plain loop and bare Lightning run without it too, as a hand-written loop without Lightning would.
        trainer = build_trainer(cfg, model, datamodule, [timer], job_name="overhead", **common)
    else:
        model = bare_lightning_module(model)
        trainer = pl.Trainer(
            accelerator="cpu",
            callbacks=[timer],
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            **common,
        )
    trainer.fit(model, datamodule=datamodule)
    return timer.framework[1:], timer.plain[1:]


def measure(name: str, overrides: list[str], epochs: int, workdir: str) -> dict:
    """Return steps per second of the plain loop, aelab and bare Lightning, and the ratios, for one case."""
    import aelab
    from aelab.train import build_datamodule

    # No checkpoints: the plain loop writes none.
    cfg = aelab.compose(
        [*overrides, "~callbacks.model_checkpoint", f"paths.data_dir={workdir}/data"], output_dir=f"{workdir}/{name}"
    )
    datamodule = build_datamodule(cfg.data)
    steps = len(datamodule.train_dataloader())
    result: dict = {"steps_per_epoch": steps, "epochs": epochs, "target": TARGETS[name]}
    plain_all = []
    for contender in ("aelab", "lightning_bare"):
        framework, plain = fit_alternating(contender, cfg, datamodule, epochs, workdir)
        plain_all += plain
        result[f"{contender}_steps_per_s"] = round(steps / statistics.median(framework), 1)
        result[f"{contender}_ratio"] = round(statistics.median(plain) / statistics.median(framework), 3)
    result["plain_steps_per_s"] = round(steps / statistics.median(plain_all), 1)
    result["met"] = result["aelab_ratio"] >= TARGETS[name]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="timed epochs per contender and case")
    parser.add_argument("--quick", action="store_true", help="a few epochs: a smoke run, not a measurement")
    args = parser.parse_args()
    epochs = 3 if args.quick else args.epochs

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    from aelab.train import quiet_lightning

    quiet_lightning()
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as workdir:
        results = {name: measure(name, overrides, epochs, workdir) for name, overrides in CASES.items()}
    print(
        json.dumps(
            {
                "benchmark": "framework_overhead",
                "threads": 1,
                "ratio": "plain-loop seconds per epoch / framework seconds per epoch (1.0 = no overhead)",
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
