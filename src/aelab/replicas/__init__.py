"""Many seeds in one process: `aelab-train seeds=[0,1,2,3,4]` trains one replica per seed in one vectorised step.

Replica k starts from the weights, has the validation split and the batch order, and draws the noise of
the single run `seed=<k's seed>`; after training, each replica is tested on its own best weights as that
single run would be, and leaves a folder `<run>/replicas/<k>/` like a single run's (config, overrides,
checkpoints, metrics.json), which `aelab-eval`, `aelab-detect`, `aelab.load_model` and `aelab-collect` read
as they read a single run's. The run's own metrics.json holds each metric's mean, std and per-replica values.
"""

from __future__ import annotations

import logging
import statistics
from pathlib import Path

from omegaconf import DictConfig, open_dict

log = logging.getLogger("aelab")


def replica_config(cfg: DictConfig, seed: int) -> DictConfig:
    """The config of the single run a replica stands for: the same settings with `seed` and no `seeds`."""
    single = cfg.copy()
    with open_dict(single):
        single.seed, single.seeds = seed, None
    return single


def replica_overrides(overrides: list[str], seed: int) -> list[str]:
    """The command-line overrides of a replica's single run: `seeds=...` becomes `seed=<its seed>`."""
    kept = [o for o in overrides if not o.lstrip("+~").startswith(("seeds=", "seed="))]
    return [*kept, f"seed={seed}"]


def summary(per_replica: list[dict[str, float]]) -> dict[str, float]:
    """Each metric's mean and (over two or more replicas) std, and each replica's value."""
    out: dict[str, float] = {}
    for key in sorted(set().union(*per_replica)):
        values = [m[key] for m in per_replica if key in m]
        out[key] = statistics.fmean(values)
        if len(values) > 1:
            out[f"{key}_std"] = statistics.stdev(values)
        out |= {f"{key}_replica{r}": m[key] for r, m in enumerate(per_replica) if key in m}
    return out


def train_replicas(cfg: DictConfig) -> dict[str, float]:
    """Train the replicas of `cfg.seeds` together; test each as its single run; write their folders."""
    import pytorch_lightning as pl
    from hydra.core.hydra_config import HydraConfig

    from aelab.callbacks.record import RunRecordCallback
    from aelab.replicas.checks import check_callbacks, check_replicas, checkpoint_on
    from aelab.replicas.data import ReplicaDataModule
    from aelab.replicas.module import Replicas
    from aelab.replicas.outputs import finish_replica
    from aelab.train import announce_run, build_datamodule, build_model, build_trainer, job_identity, plain, prepare_run
    from aelab.utils.errors import require
    from aelab.utils.record import run_record
    from aelab.utils.task import write_json

    run_dir, ckpt_path = prepare_run(cfg)
    seeds = check_replicas(cfg)
    configs = [replica_config(cfg, seed) for seed in seeds]
    datamodules, models = [], []
    for single in configs:  # as each single run does: seed, then the data, then the model
        pl.seed_everything(single.seed, workers=True, verbose=False)
        datamodules.append(build_datamodule(single.data))
        models.append(build_model(single, datamodules[-1]))
        models[-1].seed_noise(single.seed)
    if cfg.get("eval") and cfg.eval.get("enabled"):
        from aelab.metrics.analyses import select_analyses

        select_analyses(cfg.eval.analyses, models[0], datamodules[0])  # a wrong analysis fails before training
    data = ReplicaDataModule(datamodules)
    require(
        data.lockstep(),
        f"The replicas' splits differ in size for seeds={seeds} (e.g. with data.normal_classes), "
        "so their batches cannot line up: train the seeds as a sweep (seed=0,1,2 -m).",
    )
    stopping = (cfg.get("callbacks") or {}).get("early_stopping") or {}
    module = Replicas(
        models,
        seeds,
        clip_val=cfg.trainer.get("gradient_clip_val"),
        clip_algorithm=cfg.trainer.get("gradient_clip_algorithm") or "norm",
        checkpoint_on=checkpoint_on(cfg),
        patience=stopping.get("patience"),
        min_delta=float(stopping.get("min_delta") or 0.0),
    )
    run_cfg = cfg.copy()
    with open_dict(run_cfg):  # the module stops each replica itself
        run_cfg.callbacks = {k: v for k, v in (cfg.get("callbacks") or {}).items() if k != "early_stopping"}
    config = plain(cfg)
    record = run_record(cfg.seed, None, cwd=cfg.paths.root_dir) | {"replica_seeds": seeds}
    trainer = build_trainer(run_cfg, module, data, [RunRecordCallback(config, record)], *job_identity(run_dir))
    check_callbacks(trainer.callbacks)
    announce_run(trainer, config, record, run_dir)
    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    overrides = list(HydraConfig.get().overrides.task)
    per_replica = [
        finish_replica(k, single, model, datamodule, module, run_dir, replica_overrides(overrides, single.seed))
        for k, (single, model, datamodule) in enumerate(zip(configs, models, datamodules))
    ]
    metrics = summary(per_replica)
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=trainer.global_step)
        logger.save()
    write_json(run_dir / "metrics.json", metrics)
    log.info("Trained %d replicas (seeds %s): their folders are %s/replicas/<k>.", len(seeds), seeds, run_dir)
    return metrics


def replica_dirs(run_dir: Path) -> list[Path]:
    """The replica folders of a run that trained replicas (none for a single run)."""
    return sorted(
        (p for p in (run_dir / "replicas").glob("*") if (p / "metrics.json").is_file()),
        key=lambda p: int(p.name) if p.name.isdigit() else -1,
    )


__all__ = ["replica_config", "replica_dirs", "replica_overrides", "summary", "train_replicas"]
