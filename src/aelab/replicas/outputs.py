"""Each replica's folder, as a single run with its seed leaves one: config, overrides, checkpoints, metrics.json."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf


def finish_replica(
    k: int, single: DictConfig, model, datamodule, replicas, run_dir: Path, overrides: list[str]
) -> dict[str, float]:
    """Test replica k on its best weights as its single run would; write its folder; return its metrics."""
    from aelab.callbacks.record import RunRecordCallback
    from aelab.train import plain
    from aelab.utils.record import run_record
    from aelab.utils.task import write_json

    folder = run_dir / "replicas" / str(k)
    (folder / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(single, folder / ".hydra" / "config.yaml", resolve=True)
    OmegaConf.save(OmegaConf.create(overrides), folder / ".hydra" / "overrides.yaml")
    record = run_record(single.seed, datamodule.fingerprint(), cwd=single.paths.root_dir) | {"replica": k}
    write_json(folder / "record.json", record)
    trainer = replica_trainer(single, folder, [RunRecordCallback(plain(single), record)])
    trainer.strategy.connect(model)  # so that its checkpoints can be written before it is tested
    checkpoints = folder / "checkpoints"
    has_best = replicas.best_weights[k] is not None
    if has_best:  # its best checkpoint, as its single run wrote it: the weights and noise streams of that epoch
        load(model, replicas.best_weights[k], replicas.best_noise[k])
        trainer.save_checkpoint(checkpoints / f"epoch_{int(replicas.best_epoch[k]):03d}.ckpt", weights_only=False)
    metrics: dict[str, float] = {}
    last_noise = replicas.stopped_noise[k] or replicas.noise_state(k)
    if single.get("test"):
        if not has_best:  # as a single run with no best checkpoint: it tests its last weights
            load(model, replicas.replica_state(k), last_noise)
        (results,) = trainer.test(model, datamodule=datamodule, verbose=False)
        metrics |= {key: float(value) for key, value in results.items()}
    if single.get("eval") and single.eval.get("enabled"):
        from aelab.metrics.analyses import run_analyses

        metrics |= run_analyses(plain(single.eval), model, datamodule, trainer, folder, seed=single.seed)
    load(model, replicas.replica_state(k), last_noise)
    trainer.save_checkpoint(checkpoints / "last.ckpt", weights_only=False)
    if has_best and replicas.checkpoint_on == "val/loss":  # as a single run reports its monitor's best
        metrics["val/loss_best"] = float(replicas.best[k])
    metrics |= {key: value for key, value in replicas.final_metrics(k).items() if key not in metrics}
    write_json(folder / "metrics.json", metrics)
    return metrics


def load(model, weights: dict[str, torch.Tensor], streams: dict[str, torch.Tensor]) -> None:
    """Give a replica's model its weights and noise streams."""
    model.load_state_dict(weights, assign=True)  # their dtype too: a float64 run's weights are not rounded
    for kind, state in streams.items():
        model.noise_generator(torch.device(kind)).set_state(state)


def replica_trainer(single: DictConfig, folder: Path, callbacks: list):
    """A Trainer as the replica's single run builds it (accelerator, precision, test batches), to test and save."""
    from hydra.utils import instantiate

    series = (single.get("callbacks") or {}).get("series_scores")
    if series and series.get("_target_"):
        callbacks.append(instantiate(series))  # test/auroc and the detector's reference, as in a single run
    return instantiate(
        single.trainer,
        devices=1,
        logger=False,
        callbacks=callbacks,
        default_root_dir=str(folder),
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        _convert_="all",
    )
