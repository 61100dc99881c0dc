"""Seconds per training epoch and test loss of aelab against pythae (the optional `bench` extra) on the same VAE.

Both train the same VAE on `digits` and `mnist_5k`: aelab's MLP net (hidden sizes [512, 256], ReLU, sigmoid
output), latent 16, batch 64, Adam with lr 1e-3, the same epochs, the same train/val/test split, the same
initial weights, on the CPU with one thread. pythae's objective, half the summed squared error (a unit-variance
Gaussian likelihood) plus the KL, collapses the posterior on this data; it is a benchmark-only setting, run
identically on both. In aelab it is `loss=mse loss.sigma=1`, whose negative ELBO is pythae's loss plus the
constant D/2 log(2 pi) (D values per sample), so the gradients are the same; the script checks this on one
batch with shared weights and the same noise draw, and reports the difference.

aelab runs as `aelab-train` builds it: its Trainer, callbacks (checkpointing of the best and last weights,
learning-rate monitor, progress bar, run record), CSV logger and in-memory batches; the picture callbacks are
left out (pythae draws none by default). pythae runs through its own `TrainingPipeline`: its per-sample
DataLoader, `BaseTrainer` (progress bars, keeping the best model in memory), and its outputs in a temporary
folder. Both validate every epoch on the same validation split and keep the weights with the lowest
validation loss.

Timing: an epoch is the wall time from the start of one training epoch to the start of the next, so it holds
the training steps, the validation and each library's per-epoch bookkeeping; the first epoch (warm-up) and
the last (its end is mixed with each library's wrap-up) are not counted. The two alternate run by run
(aelab, pythae, aelab, ...) for several rounds, and the median epoch of each is compared:
ratio = pythae seconds per epoch / aelab seconds per epoch (> 1: aelab is faster).

Test loss: one function scores both best-on-validation models on the same test split, per sample
0.5 * sum((x - x_hat)^2) + KL(q(z|x) || N(0, I)), averaged over the test set, where x_hat decodes one
reparameterised sample z = mu + sigma * eps with eps drawn from a fixed seed (the same eps for both models).
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

from aelab.utils.extras import installed, missing_sentence

EPOCHS = {"digits": 20, "mnist_5k": 10}
QUICK_EPOCHS = 3  # the fewest that leave one timed epoch
OVERRIDES = [
    "model=vae",
    "model.latent_dim=16",
    "data.batch_size=64",
    "loss=mse",
    "loss.sigma=1.0",
    "loss.learn_sigma=false",
    "optimizer=adam",
    "optimizer.lr=0.001",
    "trainer=cpu",
    # Pictures every epoch have no counterpart in pythae's default loop.
    "~callbacks.reconstruction_grid",
    "~callbacks.sample_grid",
    "~callbacks.interpolation_grid",
    "~callbacks.latent_traversal",
]
TARGETS = {
    "digits": "report the ratio (a tiny model exposes Lightning's per-step cost)",
    "mnist_5k": "ratio >= 1 and aelab_test_loss <= pythae_test_loss",
}
TEST_SEED = 0


def compose(dataset: str, epochs: int, workdir: Path, name: str):
    """Compose the aelab config of one run, with its outputs in its own folder."""
    import aelab

    overrides = [f"data={dataset}", *OVERRIDES, f"trainer.max_epochs={epochs}", f"paths.data_dir={workdir}/data"]
    return aelab.compose(overrides, output_dir=str(workdir / name))


def fresh_model(cfg, datamodule):
    """Build aelab's VAE with the run's seed, so every build starts from the same weights."""
    import pytorch_lightning as pl

    from aelab.train import build_model

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    return build_model(cfg, datamodule)


def splits(datamodule) -> dict[str, torch.Tensor]:
    """Return the train, val and test inputs as float32 tensors in [0, 1]."""
    from aelab.data.batches import to_float

    return {split: to_float(getattr(datamodule, f"{split}_x")) for split in ("train", "val", "test")}


def negative_elbo(posterior, decode, x: torch.Tensor, seed: int = TEST_SEED) -> torch.Tensor:
    """Return per sample 0.5 * sum((x - x_hat)^2) + KL at one reparameterised sample drawn from `seed`."""
    mu, logvar = posterior(x)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed))
    x_hat = decode(mu + eps * (0.5 * logvar).exp())
    recon = 0.5 * (x_hat - x).pow(2).flatten(1).sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return recon + kl


def aelab_test_loss(model, x: torch.Tensor) -> float:
    """Return the shared test loss of an aelab VAE."""
    with torch.no_grad():
        return float(negative_elbo(model.eval().posterior, model.decode, x).mean())


def pythae_test_loss(model, x: torch.Tensor) -> float:
    """Return the shared test loss of a pythae VAE."""

    def posterior(inputs):
        out = model.encoder(inputs)
        return out.embedding, out.log_covariance

    with torch.no_grad():
        model.eval()
        return float(negative_elbo(posterior, lambda z: model.decoder(z).reconstruction, x).mean())


def pythae_vae(aelab_model):
    """Return a pythae VAE over the encoder and decoder layers of `aelab_model` (the same modules, not copies)."""
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class Encoder(BaseEncoder):
        """aelab's encoder layers; the halves of its output are the mean and log-variance, as in aelab."""

        def __init__(self, layers: torch.nn.Module) -> None:
            super().__init__()
            self.layers = layers

        def forward(self, x: torch.Tensor) -> ModelOutput:
            mu, logvar = self.layers(x).chunk(2, dim=1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        """aelab's decoder layers and the sigmoid aelab applies to them for images in [0, 1]."""

        def __init__(self, layers: torch.nn.Module) -> None:
            super().__init__()
            self.layers = layers

        def forward(self, z: torch.Tensor) -> ModelOutput:
            return ModelOutput(reconstruction=torch.sigmoid(self.layers(z)))

    config = VAEConfig(input_dim=aelab_model.input_shape, latent_dim=aelab_model.latent_dim, reconstruction_loss="mse")
    return VAE(config, encoder=Encoder(aelab_model.encoder), decoder=Decoder(aelab_model.decoder))


def check_objectives(cfg, datamodule, x: torch.Tensor) -> dict:
    """Compare aelab's and pythae's training loss on one batch, with shared weights and the same noise draw."""
    model = fresh_model(cfg, datamodule)
    assert model.recon_loss.output_activation == "sigmoid", "pythae's decoder above applies a sigmoid"
    peer = pythae_vae(model)
    with torch.no_grad():
        torch.manual_seed(TEST_SEED)
        ours = float(sum(model.step_output(x, "val").terms.values()))
        torch.manual_seed(TEST_SEED)  # both draw one eps shaped like the mean: the same eps
        theirs = float(peer({"data": x}).loss)
    constant = x[0].numel() * 0.5 * math.log(2 * math.pi)
    difference = ours - constant - theirs
    assert abs(difference) < 1e-4 * abs(theirs), f"the objectives differ by {difference} beyond the constant"
    return {
        "aelab_loss": round(ours, 4),
        "pythae_loss": round(theirs, 4),
        "constant_d_half_log_2pi": round(constant, 4),
        "difference_beyond_constant": float(f"{difference:.2g}"),
    }


def timed_epochs(starts: list[float]) -> list[float]:
    """Return epoch durations from epoch start times, without the first (warm-up) and last epochs."""
    return [b - a for a, b in zip(starts, starts[1:])][1:]


def epoch_starts_callback():
    """A Lightning callback recording when each training epoch starts."""
    import pytorch_lightning as pl

    class EpochStarts(pl.Callback):
        def __init__(self) -> None:
            self.starts: list[float] = []

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self.starts.append(time.perf_counter())

    return EpochStarts()


def pythae_epoch_starts_callback():
    """A pythae training callback recording when each epoch starts."""
    from pythae.trainers.training_callbacks import TrainingCallback

    class EpochStarts(TrainingCallback):
        def __init__(self) -> None:
            self.starts: list[float] = []

        def on_epoch_begin(self, training_config, **kwargs) -> None:
            self.starts.append(time.perf_counter())

    return EpochStarts()


def aelab_trainer(cfg, model, datamodule, extra_callbacks: list):
    """Build the Trainer as `aelab-train` does: the config's callbacks, run record, loggers and profiler."""
    from aelab.callbacks.record import RunRecordCallback
    from aelab.train import build_trainer, plain
    from aelab.utils.record import run_record

    record = run_record(cfg.seed, datamodule.fingerprint(), cwd=cfg.paths.root_dir)
    callbacks = [RunRecordCallback(plain(cfg), record), *extra_callbacks]
    return build_trainer(cfg, model, datamodule, callbacks, job_name="pythae_vae")


def run_aelab(cfg, datamodule, test_x: torch.Tensor) -> tuple[list[float], float]:
    """Fit aelab; return its timed epochs and the test loss of its best checkpoint."""
    import aelab
    from aelab.train import model_checkpoint

    model = fresh_model(cfg, datamodule)
    timer = epoch_starts_callback()
    trainer = aelab_trainer(cfg, model, datamodule, [timer])
    trainer.fit(model, datamodule=datamodule)
    best = aelab.load_model(model_checkpoint(trainer).best_model_path)
    return timed_epochs(timer.starts), aelab_test_loss(best, test_x)


def silence_pythae() -> None:
    """Turn off pythae's console loggers (each module adds its own handler at INFO)."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("pythae"):
            logging.getLogger(name).disabled = True


def run_pythae(cfg, datamodule, data: dict[str, torch.Tensor], epochs: int, workdir: Path):
    """Fit pythae from the same initial weights; return its timed epochs, its best model's test loss, its steps."""
    from pythae.models import VAE
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig

    model = pythae_vae(fresh_model(cfg, datamodule))
    config = BaseTrainerConfig(
        output_dir=str(workdir),
        num_epochs=epochs,
        learning_rate=1e-3,
        per_device_train_batch_size=64,
        per_device_eval_batch_size=64,
        optimizer_cls="Adam",
        seed=cfg.seed,
        no_cuda=True,
    )
    pipeline = TrainingPipeline(model=model, training_config=config)
    silence_pythae()
    timer = pythae_epoch_starts_callback()
    pipeline(train_data=data["train"], eval_data=data["val"], callbacks=[timer])
    best = VAE.load_from_folder(os.path.join(pipeline.trainer.training_dir, "final_model"))
    return timed_epochs(timer.starts), pythae_test_loss(best, data["test"]), len(pipeline.trainer.train_loader)


def measure(dataset: str, epochs: int, rounds: int, workdir: Path) -> dict:
    """Alternate aelab and pythae runs on one dataset; return medians, the ratio and the test losses."""
    from aelab.train import build_datamodule

    cfg = compose(dataset, epochs, workdir, f"{dataset}/check")
    datamodule = build_datamodule(cfg.data)
    data = splits(datamodule)
    objective = check_objectives(cfg, datamodule, data["train"][: cfg.data.batch_size])
    times: dict[str, list[float]] = {"aelab": [], "pythae": []}
    losses: dict[str, list[float]] = {"aelab": [], "pythae": []}
    for index in range(rounds):
        cfg = compose(dataset, epochs, workdir, f"{dataset}/aelab_{index}")
        datamodule = build_datamodule(cfg.data)
        epoch_times, loss = run_aelab(cfg, datamodule, data["test"])
        times["aelab"] += epoch_times
        losses["aelab"].append(loss)
        epoch_times, loss, steps = run_pythae(cfg, datamodule, data, epochs, workdir / dataset / f"pythae_{index}")
        times["pythae"] += epoch_times
        losses["pythae"].append(loss)
    assert steps == len(datamodule.train_dataloader()), "both must take the same steps per epoch"
    ours, theirs = statistics.median(times["aelab"]), statistics.median(times["pythae"])
    result = {
        "epochs": epochs,
        "rounds": rounds,
        "steps_per_epoch": steps,
        "timed_epochs_each": len(times["aelab"]),
        "aelab_s_per_epoch": round(ours, 4),
        "pythae_s_per_epoch": round(theirs, 4),
        "ratio": round(theirs / ours, 3),
        "aelab_test_loss": round(statistics.median(losses["aelab"]), 3),
        "pythae_test_loss": round(statistics.median(losses["pythae"]), 3),
        "objective_check": objective,
        "target": TARGETS[dataset],
    }
    if dataset == "mnist_5k":
        result["met"] = result["ratio"] >= 1 and result["aelab_test_loss"] <= result["pythae_test_loss"]
    return result


def quiet() -> None:
    """Hide Lightning's tips and info lines and the libraries' warnings; the JSON is the output."""
    import pytorch_lightning  # noqa: F401  (it sets its loggers' levels on import, so import it first)

    from aelab.train import quiet_lightning

    warnings.filterwarnings("ignore")
    quiet_lightning()
    for name in ("pytorch_lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help=f"epochs per run (default: {EPOCHS})")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contender per dataset, alternated")
    parser.add_argument("--quick", action="store_true", help="one short round: a smoke run, not a measurement")
    args = parser.parse_args()
    if not installed("pythae"):
        print(json.dumps({"benchmark": "pythae_vae", "skipped": missing_sentence("bench")}))
        return
    epochs = {name: QUICK_EPOCHS if args.quick else args.epochs or default for name, default in EPOCHS.items()}
    rounds = 1 if args.quick else args.rounds
    torch.set_num_threads(1)
    quiet()
    with tempfile.TemporaryDirectory() as workdir:
        results = {name: measure(name, epochs[name], rounds, Path(workdir)) for name in EPOCHS}
    print(
        json.dumps(
            {
                "benchmark": "pythae_vae",
                "threads": 1,
                "ratio": "pythae seconds per epoch / aelab seconds per epoch (> 1: aelab is faster)",
                "test_loss": "0.5 * sum((x - x_hat)^2) + KL per test sample, one fixed-seed draw of z",
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
