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

    callbacks = [
        c
        for c in instantiate_group(config)
        if model is None or not hasattr(c, "applies_to") or c.applies_to(model, datamodule)
    ]
    return callbacks if progress_bar else [c for c in callbacks if not isinstance(c, ProgressBar)]


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
