"""aelab-train: build the data, model, callbacks, loggers and Trainer; fit; test the best checkpoint."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from aelab.utils.cli import hydra_main

log = logging.getLogger("aelab")
CONFIGS = Path(__file__).resolve().parent / "configs"


def plain(config) -> dict | list | None:
    """Return a resolved config node as plain Python values (what checkpoints may hold)."""
    if config is None:
        return None
    return OmegaConf.to_container(config, resolve=True) if OmegaConf.is_config(config) else config


def build_datamodule(config: DictConfig):
    """Instantiate the data module and load its data now, so data errors come before any banner."""
    from hydra.utils import instantiate

    datamodule = instantiate(config, _convert_="all")
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def build_model(cfg: DictConfig, datamodule=None):
    """Instantiate the variant with its net, loss, optimizer and scheduler as plain configs."""
    from hydra.utils import get_class

    options = plain(cfg.model)
    model_class = get_class(options.pop("_target_"))
    if options.get("input_shape") is None and datamodule is not None:
        options["input_shape"] = datamodule.shape  # data.shape: null means "as loaded"
    return model_class(
        **options,
        net=plain(cfg.net),
        loss=plain(cfg.loss),
        optimizer=plain(cfg.optimizer),
        scheduler=plain(cfg.scheduler) or None,
    )


def build_trainer(
    cfg: DictConfig,
    model,
    datamodule,
    extra_callbacks=(),
    job_name: str = "default",
    group: str | None = None,
    **trainer_options,
):
    """Build the Trainer from the config: its callbacks (those the run uses) and loggers, aelab's profiler."""
    from hydra.utils import instantiate
    from pytorch_lightning.callbacks import Checkpoint

    from aelab.internals.lightning import NoProfiler, skip_gpu_probe_on_cpu
    from aelab.utils.instantiate import instantiate_callbacks, instantiate_loggers
    from aelab.utils.slurm import cluster_plugins

    progress_bar = trainer_options.get("enable_progress_bar", cfg.trainer.get("enable_progress_bar", True))
    callbacks = [*instantiate_callbacks(cfg.get("callbacks"), progress_bar, model, datamodule), *extra_callbacks]
    if not trainer_options.get("enable_checkpointing", cfg.trainer.get("enable_checkpointing", True)):
        callbacks = [c for c in callbacks if not isinstance(c, Checkpoint)]  # Lightning refuses them then
    # A model with several optimizers applies clipping and accumulation itself (Lightning refuses them then).
    trainer_options = {**model.claim_trainer_options(cfg.trainer), **trainer_options}
    loggers = instantiate_loggers(cfg.get("logger"), job_name=job_name, group=group)
    if not cfg.trainer.get("profiler"):
        trainer_options.setdefault("profiler", NoProfiler())
    if not cfg.trainer.get("plugins"):
        trainer_options.setdefault("plugins", cluster_plugins())  # in SLURM jobs: submitit requeues, not Lightning
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, **trainer_options)
    skip_gpu_probe_on_cpu(trainer)
    return trainer


def resolve_ckpt_path(ckpt_path: str | None, run_dir) -> str | None:
    """Resolve `last` to this run folder's last checkpoint; check that a given path exists."""
    from pathlib import Path

    from aelab.utils.errors import require

    if ckpt_path is None:
        return None
    path = Path(run_dir) / "checkpoints" / "last.ckpt" if ckpt_path == "last" else Path(ckpt_path)
    require(
        path.is_file(),
        f"The checkpoint {path} does not exist: pass an existing ckpt_path, or hydra.run.dir=<run folder> "
        "with ckpt_path=last.",
    )
    return str(path)


def print_choices(cfg: DictConfig) -> None:
    """Print the option chosen in each config group."""
    from hydra.core.hydra_config import HydraConfig
    from rich.console import Console

    choices = HydraConfig.get().runtime.choices
    groups = ("data", "model", "net", "loss", "optimizer", "scheduler", "trainer", "logger", "callbacks")
    picked = "  ".join(f"[bold]{g}[/]={choices.get(g)}" for g in groups if choices.get(g))
    Console(stderr=True).print(f"aelab-train  {picked}  seed={cfg.seed}  → {cfg.paths.output_dir}")


def quiet_lightning() -> None:
    """Hide Lightning's advertising tip and a deprecation warning from its own internals."""
    import warnings

    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(lambda r: "Tip:" not in r.getMessage())


def prepare_run(cfg: DictConfig) -> tuple[Path, str | None]:
    """The run's folder and the checkpoint it resumes from (checked to hold this run's model), or None."""
    from aelab.utils.slurm import requeued_checkpoint
    from aelab.utils.task import output_dir
    from aelab.utils.validate import check_checkpoint_fits, check_config_types

    quiet_lightning()
    run_dir = output_dir()
    # A requeued SLURM job goes on from its own last epoch, also when it started from a given ckpt_path.
    ckpt_path = requeued_checkpoint(run_dir) or resolve_ckpt_path(cfg.get("ckpt_path"), run_dir)
    check_config_types(cfg)
    if ckpt_path:
        check_checkpoint_fits(ckpt_path, cfg)
    return run_dir, ckpt_path


def job_identity(run_dir: Path) -> tuple[str, str | None]:
    """The job's name (its overrides) and, in a multirun, its sweep's group: what W&B names the run."""
    from hydra.core.hydra_config import HydraConfig

    from aelab.utils.task import in_multirun

    return ",".join(HydraConfig.get().overrides.task) or "default", run_dir.parent.name if in_multirun() else None


def announce_run(trainer, config: dict, record: dict, run_dir: Path) -> None:
    """Give the loggers the run's config and record; write record.json (once, on the first rank)."""
    from aelab.utils.task import write_json

    for logger in trainer.loggers:
        logger.log_hyperparams({"config": config, "record": record})
    if trainer.is_global_zero:
        write_json(run_dir / "record.json", record)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train and test one configuration (or, with `seeds`, its vectorised replicas); return its final metrics."""
    if cfg.get("seeds"):
        from aelab.replicas import train_replicas

        return train_replicas(cfg)
    import pytorch_lightning as pl

    from aelab.callbacks.record import RunRecordCallback
    from aelab.utils.ddp import bind_to_job
    from aelab.utils.record import run_record
    from aelab.utils.task import write_json

    run_dir, ckpt_path = prepare_run(cfg)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build_datamodule(cfg.data)
    model = build_model(cfg, datamodule)
    model.seed_noise(cfg.seed)
    analyses = bool(cfg.get("eval") and cfg.eval.get("enabled"))
    if analyses:
        from aelab.metrics.analyses import run_analyses, select_analyses

        select_analyses(cfg.eval.analyses, model, datamodule)  # a wrong analysis fails before training, not after
    if cfg.get("print_config") and os.environ.get("LOCAL_RANK", "0") == "0":  # once, not per DDP rank
        print_choices(cfg)

    record = run_record(cfg.seed, datamodule.fingerprint(), cwd=cfg.paths.root_dir)
    config = plain(cfg)
    trainer = build_trainer(cfg, model, datamodule, [RunRecordCallback(config, record)], *job_identity(run_dir))
    bind_to_job(trainer)  # DDP ranks run this job in its folder, not the whole command line
    announce_run(trainer, config, record, run_dir)

    metrics: dict[str, float] = {}
    if cfg.get("train"):
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics.update(_floats(trainer.callback_metrics))
    if cfg.get("test"):
        checkpoints = model_checkpoint(trainer)
        # Not trained here: the weights to test are those of the checkpoint given.
        best = (checkpoints.best_model_path if checkpoints else "") if cfg.get("train") else ckpt_path
        if not best:
            log.warning("No best checkpoint was saved: testing the current weights.")
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None, weights_only=True)
        metrics.update(_floats(trainer.callback_metrics))
    if analyses and trainer.is_global_zero:
        metrics.update(run_analyses(plain(cfg.eval), model, datamodule, trainer, run_dir, seed=cfg.seed))
    checkpoints = model_checkpoint(trainer)
    if checkpoints and checkpoints.best_model_score is not None:
        metrics[f"{checkpoints.monitor}_best"] = float(checkpoints.best_model_score)
    if trainer.is_global_zero:
        write_json(run_dir / "metrics.json", metrics)
    return metrics


def model_checkpoint(trainer):
    """The run's ModelCheckpoint (the best and last checkpoints), or None; not the interrupt checkpoint."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    return next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)), None)


def _floats(values) -> dict[str, float]:
    return {k: float(v) for k, v in values.items()}


def objective(cfg: DictConfig) -> float | None:
    """Train, then return the metric a sweeper optimises (`optimized_metric`)."""
    metrics = train(cfg)
    name = cfg.get("optimized_metric")
    return metrics.get(name) if name else None


@hydra_main(str(CONFIGS), "train", "aelab-train")
def main(cfg: DictConfig) -> float | None:
    """Entry point of `aelab-train`."""
    from aelab.utils.task import run_task

    return run_task(objective, cfg)


if __name__ == "__main__":
    main()
