"""aelab-eval: test a checkpoint; its saved config rebuilds the model and the data module."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from aelab.train import CONFIGS
from aelab.utils.cli import hydra_main


def data_config(saved: DictConfig, composed: DictConfig, overrides: list[str]) -> DictConfig:
    """Return the checkpoint's data config, replaced by `data=...` or patched by `data.key=...` overrides."""
    if any(o.lstrip("+~").startswith("data=") for o in overrides):
        return composed
    patched = saved.copy()
    for override in overrides:
        key = override.lstrip("+~").split("=", 1)[0]
        if key.startswith("data."):
            OmegaConf.update(patched, key.removeprefix("data."), OmegaConf.select(composed, key.removeprefix("data.")))
    return patched


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Run the test split through a checkpoint and write metrics.json; return the metrics."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate

    from aelab.callbacks.record import CHECKPOINT_KEY
    from aelab.checkpoint import model_class, read_checkpoint
    from aelab.metrics.analyses import run_analyses
    from aelab.train import build_datamodule, plain, quiet_lightning
    from aelab.utils.instantiate import instantiate_loggers
    from aelab.utils.task import output_dir, write_json
    from aelab.utils.validate import check_data_fits

    quiet_lightning()
    checkpoint = read_checkpoint(cfg.ckpt_path)
    saved = OmegaConf.create(checkpoint[CHECKPOINT_KEY]["config"])
    overrides = list(HydraConfig.get().overrides.task)
    datamodule = build_datamodule(data_config(saved.data, cfg.data, overrides))
    model = model_class(checkpoint).load_from_checkpoint(cfg.ckpt_path, map_location="cpu", weights_only=True)
    check_data_fits(model, datamodule, cfg.ckpt_path)
    loggers = instantiate_loggers(cfg.get("logger"), job_name="eval", group=None)
    trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    (results,) = trainer.test(model, datamodule=datamodule)
    metrics = {k: float(v) for k, v in results.items()}
    metrics.update(run_analyses(plain(cfg.eval), model, datamodule, trainer, output_dir(), seed=cfg.seed))
    write_json(output_dir() / "metrics.json", metrics)
    return metrics


@hydra_main(str(CONFIGS), "eval", "aelab-eval")
def main(cfg: DictConfig) -> None:
    """Entry point of `aelab-eval`."""
    from aelab.utils.task import run_task

    run_task(evaluate, cfg)


if __name__ == "__main__":
    main()
