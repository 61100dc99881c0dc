"""Building callbacks and loggers from their config groups."""

from __future__ import annotations

import logging
import os

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def instantiate_group(config: DictConfig | None) -> list:
    """Instantiate every entry of a group that has a `_target_`."""
    if not config:
        return []
    return [instantiate(entry) for entry in config.values() if isinstance(entry, DictConfig) and "_target_" in entry]


def instantiate_callbacks(config: DictConfig | None, progress_bar: bool = True, model=None, datamodule=None) -> list:
    """Instantiate the callbacks, leaving out progress bars when the Trainer's bar is switched off.

    Callbacks with an `applies_to(model, datamodule)` test (pictures for images, series scores) are left out
    of runs they do nothing for: Lightning calls every callback's hooks around every training step.
    """
    from pytorch_lightning.callbacks import ProgressBar

    if model is not None and not model.comparable_val_loss:
        config = last_weights(config, type(model).__name__)
    callbacks = [
        c
        for c in instantiate_group(config)
        if model is None or not hasattr(c, "applies_to") or c.applies_to(model, datamodule)
    ]
    return callbacks if progress_bar else [c for c in callbacks if not isinstance(c, ProgressBar)]


def last_weights(config: DictConfig | None, model: str) -> DictConfig | None:
    """The callbacks of a model whose validation loss changes meaning during training: no monitored checkpoint.

    A monitored checkpoint would keep the epoch with the lowest loss of any stage (a greedy stack's first layer);
    the checkpoint keeps the latest weights instead, and early stopping, which would stop on the same, is refused.
    """
    from hydra.utils import get_class
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    from aelab.utils.errors import require

    if not config:
        return config
    config = config.copy()
    for name, entry in config.items():
        if not isinstance(entry, DictConfig) or "_target_" not in entry or not entry.get("monitor"):
            continue
        kind = get_class(entry._target_)
        require(
            not issubclass(kind, EarlyStopping),
            f"callbacks.{name} stops on {entry.monitor}, whose meaning changes while {model} trains (each stage "
            f"reports its own loss): use callbacks=default.",
        )
        if issubclass(kind, ModelCheckpoint):
            log.info("%s: callbacks.%s keeps the latest weights, not the lowest %s.", model, name, entry.monitor)
            entry.monitor = None
    return config


def wandb_has_credentials() -> bool:
    """Return whether W&B can log in without asking (an API key or a netrc entry)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = os.path.expanduser("~/.netrc")
    return os.path.exists(netrc) and "api.wandb.ai" in open(netrc).read()


def instantiate_loggers(config: DictConfig | None, job_name: str | None, group: str | None) -> list:
    """Instantiate the loggers; W&B gets the job's name and sweep group, and goes offline without a login."""
    if not config:
        return []
    loggers = []
    for key, entry in config.items():
        if not isinstance(entry, DictConfig) or "_target_" not in entry:
            continue
        if key == "wandb":
            entry = OmegaConf.to_container(entry, resolve=True)
            entry["name"] = entry.get("name") or job_name
            entry["group"] = entry.get("group") or group
            if not entry.get("offline") and os.environ.get("WANDB_MODE") is None and not wandb_has_credentials():
                log.info("No W&B login found: logging offline (upload later with `wandb sync`).")
                entry["offline"] = True
        loggers.append(instantiate(entry))
    return loggers
