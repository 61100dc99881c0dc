"""What each private-API speed path of aelab gains, measured alone: the run with that one path on public API.

Variants, each a whole fit of the tiny MLP on `digits` as `aelab-train` builds it (validation and checkpoints off):
- `aelab`: as shipped; `aelab_again`: the same, a second time (the A/A pair says how large the noise is);
- `no_setattr_fast_path`: `nn.Module.__setattr__` for Lightning's per-hook `_current_fx_name` writes;
- `lightning_profiler`: Lightning's own pass-through profiler instead of `NoProfiler`;
- `self_log`: training metrics through `LightningModule.log` (on logging steps and at the epoch end) instead of
  the direct writes to the loggers and `trainer.callback_metrics`.
The variants run in turn, round after round (rotated), so slow phases of a loaded machine hit them alike; each
reports the median over rounds of (its median epoch time / `aelab`'s in the same round). Prints JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import tempfile
import time
import warnings

import torch
from common import emit

OVERRIDES = ["data=digits", "net.hidden_dims=[128]", "model.latent_dim=32", "data.batch_size=64"]
VARIANTS = ("aelab", "aelab_again", "no_setattr_fast_path", "lightning_profiler", "self_log")


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


def self_log(model) -> None:
    """Make `model` log its training metrics through `LightningModule.log`, the public path (in place)."""
    from aelab.models.training_metrics import RunningSums

    def training_step(batch, batch_idx):
        loss, out, x = model._shared_step(batch, "train")
        model._train_sums.add({"loss": loss, **out.terms, **out.stats}, x.shape[0])
        if (model.global_step + 1) % model.trainer.log_every_n_steps == 0:
            model.log("train/loss_step", loss, prog_bar=True)
        return loss

    def on_train_epoch_start():
        model._train_sums = RunningSums()

    def on_train_epoch_end():
        means = model._train_sums.means(model.trainer.strategy)
        model.log_dict({f"train/{name}": value for name, value in means.items()}, on_step=False, on_epoch=True)

    model.training_step, model.on_train_epoch_start, model.on_train_epoch_end = (
        training_step,
        on_train_epoch_start,
        on_train_epoch_end,
    )


@contextlib.contextmanager
def variant_of(name: str, model_class):
    """Switch one speed path off for the duration of a fit."""
    if name == "no_setattr_fast_path":
        model_class.__setattr__ = torch.nn.Module.__setattr__
    try:
        yield
    finally:
        if "__setattr__" in vars(model_class):
            delattr(model_class, "__setattr__")


def fit(name: str, cfg, datamodule, epochs: int) -> float:
    """Fit one variant for `epochs` + 1 epochs; return its median epoch time (the first epoch is warm-up)."""
    from pytorch_lightning.profilers import PassThroughProfiler

    from aelab.models.base import Autoencoder
    from aelab.train import build_model, build_trainer

    torch.manual_seed(0)
    model = build_model(cfg, datamodule)
    if name == "self_log":
        self_log(model)
    timer = epoch_timer()
    options = dict(max_epochs=epochs + 1, limit_val_batches=0, num_sanity_val_steps=0, enable_checkpointing=False)
    if name == "lightning_profiler":
        options["profiler"] = PassThroughProfiler()
    trainer = build_trainer(cfg, model, datamodule, [timer], job_name="internals", **options)
    with variant_of(name, Autoencoder):
        trainer.fit(model, datamodule=datamodule)
    return statistics.median(timer.seconds[1:])


def bootstrap_interval(ratios: list[float], draws: int = 2000) -> tuple[float, float]:
    """A 95 % bootstrap interval of the median ratio over rounds (resampled rounds, a fixed seed)."""
    import random

    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(draws))
    return medians[int(0.025 * draws)], medians[int(0.975 * draws) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="timed epochs per fit")
    parser.add_argument("--rounds", type=int, default=7, help="fits of every variant, alternated")
    parser.add_argument("--quick", action="store_true", help="a smoke run, not a measurement")
    args = parser.parse_args()
    epochs, rounds = (3, 1) if args.quick else (args.epochs, args.rounds)

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    import aelab
    from aelab.train import build_datamodule, quiet_lightning

    quiet_lightning()
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as workdir:
        cfg = aelab.compose(
            [*OVERRIDES, "~callbacks.model_checkpoint", f"paths.data_dir={workdir}/data"], output_dir=f"{workdir}/run"
        )
        datamodule = build_datamodule(cfg.data)
        steps = len(datamodule.train_dataloader())
        for round_ in range(rounds):
            order = VARIANTS[round_ % len(VARIANTS) :] + VARIANTS[: round_ % len(VARIANTS)]
            for name in order:
                times[name].append(fit(name, cfg, datamodule, epochs))
    results = {}
    for name in VARIANTS:
        ratios = [t / base for t, base in zip(times[name], times["aelab"])]
        low, high = bootstrap_interval(ratios)
        results[name] = {
            "steps_per_s": round(steps / statistics.median(times[name]), 1),
            "time_ratio": round(statistics.median(ratios), 3),
            "time_ratio_95": [round(low, 3), round(high, 3)],
        }
        if name not in ("aelab", "aelab_again"):  # the references: nothing to keep
            results[name]["kept"] = low > 1.0
    emit(
        {
            "benchmark": "private_api_gains",
            "case": "tiny_mlp_digits",
            "threads": 1,
            "steps_per_epoch": steps,
            "epochs": epochs,
            "rounds": rounds,
            "time_ratio": "variant seconds per epoch / aelab's in the same round (> 1: the private path saves time)",
            "kept": "the 95 % interval of the median ratio lies above 1: the gain stands above the noise",
            "results": results,
        }
    )


if __name__ == "__main__":
    main()
