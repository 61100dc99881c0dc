"""What vectorised replicas can train, and one sentence for what they cannot."""

from __future__ import annotations

from hydra.utils import get_class
from omegaconf import DictConfig, ListConfig

from aelab.utils.errors import require

SWEEP = "train the seeds as a sweep (seed=0,1,2 -m)"
# Elementwise optimizers: one over stacked weights is exactly one per replica.
ELEMENTWISE_OPTIMIZERS = ("Adam", "AdamW", "Adamax", "NAdam", "RAdam", "SGD", "RMSprop", "Adagrad")
# Early stopping's settings that replicas apply per replica (others would change when it stops).
STOPPING_OPTIONS = {"_target_", "monitor", "mode", "patience", "min_delta", "verbose", "check_finite", "strict"}
STOPPING_OPTIONS |= {"check_on_train_epoch_end", "log_rank_zero_only"}


def short(target: str) -> str:
    """The class name of a `_target_`."""
    return str(target).rpartition(".")[2]


def check_replicas(cfg: DictConfig) -> list[int]:
    """Return the replicas' seeds; refuse, in one sentence, a setting they cannot train exactly."""
    seeds = cfg.seeds
    require(
        isinstance(seeds, ListConfig | list | tuple) and len(seeds) >= 1 and all(type(s) is int for s in seeds),
        f"seeds={seeds} should be a list of whole numbers, e.g. seeds=[0,1,2].",
    )
    seeds = list(seeds)
    require(len(set(seeds)) == len(seeds), f"seeds={seeds} repeats a seed: each replica needs its own.")
    require(
        bool(cfg.get("train")),
        "seeds=[...] trains its replicas together: with train=false, test each replica's folder instead "
        "(aelab-eval ckpt_path=<run>/replicas/<k>/checkpoints/last.ckpt).",
    )
    model = short(cfg.model._target_)
    require(
        getattr(get_class(cfg.model._target_), "vectorisable", False),
        f"model={model} cannot be trained as vectorised replicas (its step keeps state outside its weights, "
        f"steps several optimizers or differentiates inside the step): {SWEEP}.",
    )
    require(
        getattr(get_class(cfg.net._target_), "vectorisable", False),
        f"net={short(cfg.net._target_)} cannot be vectorised (recurrent layers, or a net that does not declare "
        f"vectorisable = True): use net=mlp, linear, conv or conv1d with seeds=[...], or {SWEEP}.",
    )
    require(
        not cfg.net.get("dropout"),
        "net.dropout > 0 draws from torch's global generator, which replicas cannot share: set net.dropout=0 "
        f"with seeds=[...], or {SWEEP}.",
    )
    require(
        not cfg.net.get("batch_norm") and cfg.net.get("norm", "none") in (None, "none", "layer"),
        "batch norm keeps running statistics in place, which replicas cannot: use net.norm=none or layer "
        f"(net.batch_norm=false), or {SWEEP}.",
    )
    optimizer = short(cfg.optimizer._target_)
    require(
        optimizer in ELEMENTWISE_OPTIMIZERS,
        f"optimizer {optimizer} is not elementwise, so it would couple the replicas: use adam, adamw, sgd, "
        "momentum, rmsprop or adagrad with seeds=[...].",
    )
    scheduler = short(cfg.scheduler.get("_target_", "")) if cfg.get("scheduler") else ""
    require(
        scheduler != "ReduceLROnPlateau",
        f"scheduler=plateau would need one learning rate per replica: use scheduler=cosine or none with seeds=[...], "
        f"or {SWEEP}.",
    )
    require(not cfg.model.get("compile"), "model.compile=true does not apply to replicas: leave it false.")
    check_trainer(cfg.trainer)
    check_stopping(cfg)
    check_checkpoint_monitor(cfg)
    return seeds


def check_trainer(trainer: DictConfig) -> None:
    """Refuse Trainer settings under which replicas would not train as their single runs."""
    require(
        str(trainer.get("strategy", "auto")) in ("auto", "None", "single_device"),
        f"seeds=[...] trains its replicas in one process: drop trainer=ddp (or {SWEEP}).",
    )
    require(
        str(trainer.get("devices", "auto")) in ("1", "auto") and int(trainer.get("num_nodes") or 1) == 1,
        f"seeds=[...] trains its replicas on one device: set trainer.devices=1 (or {SWEEP}).",
    )
    require(
        str(trainer.get("precision", "32")) not in ("16", "16-mixed"),
        "trainer.precision=16-mixed scales the loss of all replicas together and skips a step for all when one "
        f"overflows: use bf16-mixed or 32 with seeds=[...], or {SWEEP}.",
    )
    require(
        not trainer.get("fast_dev_run"),
        "trainer.fast_dev_run (debug=fdr) writes no checkpoints, which replicas' folders are made of: "
        "use debug=default with seeds=[...].",
    )


def check_stopping(cfg: DictConfig) -> None:
    """Refuse early stopping settings replicas do not apply per replica."""
    stopping = (cfg.get("callbacks") or {}).get("early_stopping") or {}
    if not stopping:
        return
    require(
        stopping.get("monitor", "val/loss") == "val/loss" and stopping.get("mode", "min") == "min",
        "With seeds=[...], early stopping watches each replica's val/loss (mode min): drop its monitor override.",
    )
    unknown = sorted(k for k, v in stopping.items() if k not in STOPPING_OPTIONS and v is not None)
    require(
        not unknown,
        f"callbacks.early_stopping.{unknown[0] if unknown else ''} is not applied per replica: with seeds=[...], "
        "early stopping takes patience and min_delta.",
    )


def check_checkpoint_monitor(cfg: DictConfig) -> None:
    """Refuse a best checkpoint chosen on anything but val/loss (each replica keeps its own best on it)."""
    checkpoint = (cfg.get("callbacks") or {}).get("model_checkpoint") or {}
    monitor = checkpoint.get("monitor") if checkpoint else None
    require(
        monitor is None or monitor == "val/loss" and checkpoint.get("mode", "min") == "min",
        f"callbacks.model_checkpoint.monitor={monitor}: with seeds=[...], each replica keeps its weights of "
        "lowest val/loss (monitor=val/loss, mode=min) or its last (monitor=null).",
    )


def checkpoint_on(cfg: DictConfig) -> str | None:
    """What a replica's best checkpoint holds, as its single run's: val/loss, the latest epoch, or none at all."""
    checkpoint = (cfg.get("callbacks") or {}).get("model_checkpoint") or {}
    if not checkpoint or not checkpoint.get("_target_") or cfg.trainer.get("enable_checkpointing") is False:
        return None
    return checkpoint.get("monitor") or "latest"


def check_callbacks(callbacks: list) -> None:
    """Refuse a callback that would act on the stacked replicas as on one model."""
    from pytorch_lightning.callbacks import Checkpoint, LearningRateMonitor, ModelSummary, ProgressBar, Timer

    from aelab.callbacks.checkpoints import InterruptCheckpoint
    from aelab.callbacks.record import RunRecordCallback

    safe = (Checkpoint, LearningRateMonitor, ModelSummary, ProgressBar, Timer, InterruptCheckpoint, RunRecordCallback)
    for callback in callbacks:
        require(
            isinstance(callback, safe),
            f"The callback {type(callback).__name__} works on one model, not on stacked replicas: with seeds=[...] "
            f"leave it out (callbacks.<name>=null), or {SWEEP}.",
        )
