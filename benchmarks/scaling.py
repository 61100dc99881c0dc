"""Seconds per training epoch of the default model as the training samples, the latent size and the net width grow.

The default run (`mnist_5k`, MLP autoencoder with hidden sizes [512, 256], latent 32, batch 128) is built in
this process as `aelab-train` builds it (its callbacks, CSV logger and profiler), one thread,
with validation, checkpointing and the progress bar off (stdout carries the JSON). Samples are the first n of
the training and validation images together (4,000 in all). Latent and width points train on all 4,000.
Every point is one fit of a few epochs, the first of which (warm-up) is not counted; the points alternate
round by round and the median epoch of each is reported. For the samples, a least-squares line says whether
the cost grows linearly: its slope, intercept, R^2 and time(largest) / time(smallest) against the sample ratio.
Prints JSON.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings

import torch
from common import emit, median

SAMPLES = (500, 1000, 2000, 4000)
LATENTS = (8, 32, 128)
WIDTHS = {"0.5x": [256, 128], "1x": [512, 256], "2x": [1024, 512]}
TARGET_R2 = 0.99


def points() -> dict[str, tuple[int, list[str]]]:
    """Every measured point: name → (training samples, overrides)."""
    out = {f"samples_{n}": (n, []) for n in SAMPLES}
    out |= {f"latent_{d}": (max(SAMPLES), [f"model.latent_dim={d}"]) for d in LATENTS}
    out |= {f"width_{w}": (max(SAMPLES), [f"net.hidden_dims=[{','.join(map(str, h))}]"]) for w, h in WIDTHS.items()}
    return out


def epoch_timer():
    """A callback recording the seconds of each training epoch."""
    import pytorch_lightning as pl

    class EpochTimer(pl.Callback):
        def __init__(self) -> None:
            self.seconds: list[float] = []

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            self.seconds.append(time.perf_counter() - self.start)

    return EpochTimer()


def fit(cfg, datamodule, epochs: int) -> list[float]:
    """Fit the configured model for `epochs` + 1 epochs as aelab-train builds it; return the timed epochs."""
    from aelab.train import build_model, build_trainer

    torch.manual_seed(0)
    model = build_model(cfg, datamodule)
    timer = epoch_timer()
    trainer = build_trainer(
        cfg,
        model,
        datamodule,
        [timer],
        job_name="scaling",
        max_epochs=epochs + 1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )
    trainer.fit(model, datamodule=datamodule)
    return timer.seconds[1:]


def measure(epochs: int, rounds: int, workdir: str) -> dict[str, float]:
    """Alternate the points round by round; return the median seconds per epoch of each."""
    import aelab
    from aelab.train import build_datamodule

    base = ["trainer=cpu", "~callbacks.model_checkpoint", f"paths.data_dir={workdir}/data"]  # no checkpoints
    datamodule = build_datamodule(aelab.compose(base, output_dir=f"{workdir}/data_run").data)
    pool_x = torch.cat([datamodule.train_x, datamodule.val_x])
    pool_y = torch.cat([datamodule.train_y, datamodule.val_y])
    seconds: dict[str, list[float]] = {name: [] for name in points()}
    for round_ in range(rounds):
        for name, (samples, extra) in points().items():
            # Composed per fit: the output folder resolves from Hydra's global state, i.e. the latest compose.
            cfg = aelab.compose([*base, *extra], output_dir=f"{workdir}/{name}_{round_}")
            datamodule.train_x, datamodule.train_y = pool_x[:samples], pool_y[:samples]
            seconds[name] += fit(cfg, datamodule, epochs)
    return {name: median(values, 4) for name, values in seconds.items()}


def linear_fit(x: list[float], y: list[float]) -> dict[str, float]:
    """Least-squares line through (samples, seconds): slope per 1,000 samples, intercept, R^2, end-to-end ratio."""
    slope, intercept = statistics.linear_regression(x, y)
    return {
        "slope_s_per_1000_samples": round(1000 * slope, 4),
        "intercept_s": round(intercept, 4),
        "r2": round(statistics.correlation(x, y) ** 2, 4),
        "target_r2": TARGET_R2,
        "time_ratio_largest_to_smallest": round(y[-1] / y[0], 2),
        "ideal_ratio": x[-1] / x[0],
    }


def main() -> None:
    """Time every point and print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per point and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all points")
    parser.add_argument("--quick", action="store_true", help="one round of one timed epoch: a smoke run")
    args = parser.parse_args()
    epochs, rounds = (1, 1) if args.quick else (args.epochs, args.rounds)

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    from aelab.train import quiet_lightning

    quiet_lightning()
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as workdir:
        seconds = measure(epochs, rounds, workdir)
    fit_ = linear_fit(list(SAMPLES), [seconds[f"samples_{n}"] for n in SAMPLES])
    emit(
        {
            "benchmark": "scaling",
            "threads": 1,
            "timed_epochs_per_point": epochs * rounds,
            "seconds_per_epoch": {
                "samples": {str(n): seconds[f"samples_{n}"] for n in SAMPLES},
                "latent_dim": {str(d): seconds[f"latent_{d}"] for d in LATENTS},
                "hidden_dims": {f"{w} {h}": seconds[f"width_{w}"] for w, h in WIDTHS.items()},
            },
            "samples_linear_fit": fit_,
            "linear": fit_["r2"] >= TARGET_R2,
        }
    )


if __name__ == "__main__":
    main()
