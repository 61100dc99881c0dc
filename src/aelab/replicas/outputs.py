"""Each replica's folder, as a single run with its seed leaves one: config, overrides, checkpoints, metrics.json."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf


def finish_replica(
    k: int,
    single: DictConfig,
    model,
    datamodule,
    replicas,
    run_dir: Path,
    overrides: list[str],
    test: bool,
    trainer_config: DictConfig,
) -> dict[str, float]:
    """Test replica k on its best weights as its single run would; write its folder; return its metrics."""
    import pytorch_lightning as pl
    from hydra.utils import instantiate

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
    callbacks = [RunRecordCallback(plain(single), record)]
    series = (single.get("callbacks") or {}).get("series_scores")
    if series and series.get("_target_"):
        callbacks.append(instantiate(series))  # test/auroc and the detector's reference, as in a single run
    trainer = pl.Trainer(
        accelerator=trainer_config.get("accelerator", "auto"),
        devices=1,
        logger=False,
        callbacks=callbacks,
        default_root_dir=str(folder),
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_test_batches=trainer_config.get("limit_test_batches", 1.0),
    )
    last = replicas.replica_state(k)
    best = replicas.best_weights[k] if replicas.best_weights[k] is not None else last
    model.load_state_dict(best)
    for device, generators in replicas.generators.items():  # its noise goes on where training left it
        model.noise_generator(torch.device(device)).set_state(generators[k].get_state())
    metrics: dict[str, float] = {}
    if test:
        (results,) = trainer.test(model, datamodule=datamodule, verbose=False)
        metrics |= {key: float(value) for key, value in results.items()}
    else:
        trainer.strategy.connect(model)  # so that the checkpoints below can be written
    checkpoints = folder / "checkpoints"
    trainer.save_checkpoint(checkpoints / f"epoch_{max(int(replicas.best_epoch[k]), 0):03d}.ckpt")
    model.load_state_dict(last)
    trainer.save_checkpoint(checkpoints / "last.ckpt")
    if bool(replicas.best_epoch[k] >= 0):
        metrics["val/loss_best"] = float(replicas.best[k])
    epoch = {
        key.removesuffix(f"_replica{k}"): float(value)
        for key, value in replicas.trainer.callback_metrics.items()
        if key.endswith(f"_replica{k}")
    }
    metrics |= {key: value for key, value in epoch.items() if key not in metrics}
    write_json(folder / "metrics.json", metrics)
    return metrics
