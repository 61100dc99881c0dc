"""Training throughput of aelab against a plain PyTorch loop on the same model, data and optimizer.

Three sizes: a tiny MLP on `digits`, an MLP on `mnist_5k`, a conv autoencoder on `mnist_5k`. Both
contenders use one thread, the same in-memory batches and Adam; aelab runs with its per-step logging,
a CSV logger and the progress bar (validation and checkpointing off, as in the plain loop). Epochs are
alternated between the two and the median epoch time of each is compared. Prints JSON.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import warnings

import torch

CASES = {
    "tiny_mlp_digits": ["data=digits", "net.hidden_dims=[128]", "model.latent_dim=32", "data.batch_size=64"],
    "mlp_mnist_5k": ["data=mnist_5k", "data.batch_size=64"],
    "conv_mnist_5k": ["data=mnist_5k", "net=conv", "data.batch_size=64"],
}


def plain_epoch(model, loader, optimizer) -> float:
    """One epoch of a hand-written loop over the same modules; returns seconds."""
    start = time.perf_counter()
    for x, _ in loader:
        logits = model.decoder(model.encoder(x))
        loss = model.recon_loss.error(logits, x).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


class EpochTimer:
    """A Lightning callback recording the wall time of each training epoch."""

    def __init__(self) -> None:
        import pytorch_lightning as pl

        class _Timer(pl.Callback):
            def __init__(inner) -> None:
                inner.times: list[float] = []

            def on_train_epoch_start(inner, trainer, pl_module) -> None:
                inner.start = time.perf_counter()

            def on_train_epoch_end(inner, trainer, pl_module) -> None:
                inner.times.append(time.perf_counter() - inner.start)

        self.callback = _Timer()


def measure(name: str, overrides: list[str], rounds: int, workdir: str) -> dict:
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import RichProgressBar
    from pytorch_lightning.loggers import CSVLogger

    import aelab
    from aelab.train import build_datamodule, build_model

    cfg = aelab.compose([*overrides, f"paths.data_dir={workdir}/data"], output_dir=f"{workdir}/{name}")
    datamodule = build_datamodule(cfg.data)
    torch.manual_seed(0)
    plain_model = build_model(cfg, datamodule)
    ours = build_model(cfg, datamodule)
    optimizer = torch.optim.Adam(plain_model.parameters(), lr=1e-3)
    loader = datamodule.train_dataloader()
    steps = len(loader)
    plain_epoch(plain_model, loader, optimizer)  # warm-up
    plain, aelab_times = [], []
    for _ in range(rounds):  # alternated: one plain epoch, then one aelab epoch
        plain.append(plain_epoch(plain_model, loader, optimizer))
        timer = EpochTimer().callback
        trainer = pl.Trainer(
            accelerator="cpu", max_epochs=2, limit_val_batches=0, num_sanity_val_steps=0,
            enable_checkpointing=False, enable_model_summary=False, log_every_n_steps=10,
            logger=CSVLogger(f"{workdir}/{name}", name="csv"), callbacks=[timer, RichProgressBar()],
        )
        trainer.fit(ours, datamodule=datamodule)
        aelab_times.append(timer.times[-1])  # the second epoch: no first-epoch set-up in it
    plain_s, aelab_s = statistics.median(plain), statistics.median(aelab_times)
    return {
        "steps_per_epoch": steps,
        "plain_steps_per_s": round(steps / plain_s, 1),
        "aelab_steps_per_s": round(steps / aelab_s, 1),
        "ratio": round(plain_s / aelab_s, 3),
    }


def main(rounds: int = 5) -> dict:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    from aelab.train import quiet_lightning

    quiet_lightning()
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as workdir:
        results = {name: measure(name, overrides, rounds, workdir) for name, overrides in CASES.items()}
    return {"benchmark": "framework_overhead", "threads": 1, "targets": {"tiny_mlp_digits": 0.7,
            "mlp_mnist_5k": 0.9, "conv_mnist_5k": 0.97}, "results": results}


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(json.dumps(main(rounds), indent=2))
