"""Vectorised replicas (`seeds=[...]`) against R sequential aelab runs and a plain loop: replica-steps per second.

Training time alone, in-process, one thread: for each case and R, a replicas fit (`seeds=[0..R-1]`) and, in the
same round, one single aelab fit and one epoch of a hand-written loop over the same model (`overhead.py`'s),
each timed per epoch (the first epoch is warm-up; medians over the rest). R sequential aelab runs do R
single steps per step of the replicas, so their replica-steps per second is the single run's steps per
second. Whole processes: an R-seed study of the default `digits` run as one `aelab-train seeds=[...]` against
R sequential `aelab-train seed=k` processes (wall time, start-up included), with each process's peak memory.
Prints JSON.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import torch
from common import REPO, child_env, emit, train_command

CASES = {
    "tiny_mlp_digits": ["data=digits", "net.hidden_dims=[128]", "model.latent_dim=32", "data.batch_size=64"],
    "mlp_mnist_5k": ["data=mnist_5k", "data.batch_size=64"],
    "conv_mnist_5k": ["data=mnist_5k", "net=conv", "data.batch_size=64"],
}
REPLICAS = (1, 2, 4, 8, 16)
TARGETS = {  # from the issue that asked for replicas, on this CPU
    "tiny_mlp_digits": {"8": {"vs_sequential": 2.0, "vs_plain": 1.2}, "16": {"vs_plain": 1.5}},
}
STUDY_TARGET = 4.0  # an 8-seed study of the default digits run against 8 sequential processes


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


def fit_seconds(cfg, module, datamodule, epochs: int) -> float:
    """Median seconds per training epoch of a fit as aelab-train builds it (validation and checkpoints off)."""
    from aelab.train import build_trainer

    timer = epoch_timer()
    trainer = build_trainer(
        cfg,
        module,
        datamodule,
        [timer],
        job_name="replicas_bench",
        max_epochs=epochs + 1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        enable_checkpointing=False,
    )
    trainer.fit(module, datamodule=datamodule)
    return statistics.median(timer.seconds[1:])


def replicas_seconds(cfg, replicas: int, epochs: int) -> tuple[float, int]:
    """Seconds per epoch of a replicas fit with seeds 0..R-1; and its steps per epoch."""
    import pytorch_lightning as pl

    from aelab.replicas import replica_config
    from aelab.replicas.data import ReplicaDataModule
    from aelab.replicas.module import Replicas
    from aelab.train import build_datamodule, build_model

    seeds = list(range(replicas))
    modules, models = [], []
    for seed in seeds:
        single = replica_config(cfg, seed)
        pl.seed_everything(seed, verbose=False)
        modules.append(build_datamodule(single.data))
        models.append(build_model(single, modules[-1]))
        models[-1].seed_noise(seed)
    data = ReplicaDataModule(modules)
    return fit_seconds(cfg, Replicas(models, seeds), data, epochs), len(modules[0].train_dataloader())


def single_and_plain_seconds(cfg, epochs: int) -> tuple[float, float]:
    """Seconds per epoch of one aelab fit and of the plain loop (overhead.py's) over the same model and batches."""
    from hydra.utils import instantiate
    from overhead import plain_epoch

    from aelab.train import build_datamodule, build_model

    datamodule = build_datamodule(cfg.data)
    torch.manual_seed(0)
    model = build_model(cfg, datamodule)
    single = fit_seconds(cfg, model, datamodule, epochs)
    torch.manual_seed(0)
    plain_model = build_model(cfg, datamodule)
    optimizer = instantiate(cfg.optimizer)(params=plain_model.parameters())
    loader = datamodule.train_dataloader()
    plain = [plain_epoch(plain_model, loader, optimizer) for _ in range(epochs + 1)][1:]
    return single, statistics.median(plain)


def study(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak MiB of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=child_env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr.decode()[-3000:]}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def studies(replicas: int, rounds: int, workdir: Path) -> dict:
    """An R-seed study of the default digits run: one replicas process against R sequential processes."""
    settings = ["data=digits", "trainer=cpu", "trainer.enable_progress_bar=false", "print_config=false"]
    seeds = ",".join(map(str, range(replicas)))
    together, sequential, peak_together, peak_single = [], [], [], []
    for round_ in range(rounds):
        seconds, peak = study(train_command(workdir / f"together{round_}", *settings, f"seeds=[{seeds}]"))
        together.append(seconds)
        peak_together.append(peak)
        total = 0.0
        for seed in range(replicas):
            seconds, peak = study(train_command(workdir / f"single{round_}_{seed}", *settings, f"seed={seed}"))
            total += seconds
            peak_single.append(peak)
        sequential.append(total)
    return {
        "replicas": replicas,
        "run": "aelab-train data=digits (defaults: MLP, 30 epochs)",
        "seconds_one_process": round(statistics.median(together), 1),
        "seconds_sequential_processes": round(statistics.median(sequential), 1),
        "speedup": round(statistics.median(sequential) / statistics.median(together), 2),
        "target_speedup": STUDY_TARGET,
        "peak_mib_one_process": round(statistics.median(peak_together), 1),
        "peak_mib_single_process": round(statistics.median(peak_single), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="timed epochs per fit")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of every measurement, alternated")
    parser.add_argument("--quick", action="store_true", help="a smoke run, not a measurement")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES), help="models to time")
    args = parser.parse_args()
    epochs, rounds = (2, 1) if args.quick else (args.epochs, args.rounds)
    sizes = (1, 4) if args.quick else REPLICAS
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    import aelab
    from aelab.train import quiet_lightning

    quiet_lightning()
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    results: dict = {}
    with tempfile.TemporaryDirectory() as workdir:
        for name, overrides in CASES.items():
            if name not in args.cases or (args.quick and name != "tiny_mlp_digits"):
                continue
            cfg = aelab.compose(
                [
                    *overrides,
                    "~callbacks.model_checkpoint",
                    f"paths.data_dir={workdir}/data",
                    "trainer.enable_progress_bar=false",
                ],
                output_dir=f"{workdir}/{name}",
            )
            rows: dict = {}
            single_s, plain_s = [], []
            timed: dict[int, list[float]] = {r: [] for r in sizes}
            for _ in range(rounds):
                for replicas in sizes:
                    seconds, steps = replicas_seconds(cfg, replicas, epochs)
                    timed[replicas].append(seconds)
                one, plain = single_and_plain_seconds(cfg, epochs)
                single_s.append(one)
                plain_s.append(plain)
            single_rate = steps / statistics.median(single_s)
            plain_rate = steps / statistics.median(plain_s)
            for replicas, seconds in timed.items():
                rate = replicas * steps / statistics.median(seconds)
                rows[str(replicas)] = {
                    "replica_steps_per_s": round(rate, 1),
                    "vs_sequential": round(rate / single_rate, 2),
                    "vs_plain": round(rate / plain_rate, 2),
                }
                for key, target in TARGETS.get(name, {}).get(str(replicas), {}).items():
                    rows[str(replicas)][f"target_{key}"] = target
            results[name] = {
                "steps_per_epoch": steps,
                "single_steps_per_s": round(single_rate, 1),
                "plain_steps_per_s": round(plain_rate, 1),
                "replicas": rows,
            }
        study_result = studies(2 if args.quick else 8, 1 if args.quick else rounds, Path(workdir))
    emit(
        {
            "benchmark": "replicas",
            "threads": 1,
            "epochs": epochs,
            "rounds": rounds,
            "ratio": "replica-steps per second / the contender's steps per second (> 1: replicas are faster)",
            "results": results,
            "study": study_result,
        }
    )


if __name__ == "__main__":
    main()
