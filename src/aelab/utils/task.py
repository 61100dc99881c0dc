"""The wrapper around every entry point: clean errors, W&B always finished, sweeps survive a failed job."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from aelab.utils.errors import find_user_error
from aelab.utils.slurm import save_before_requeue

log = logging.getLogger("aelab")


def output_dir() -> Path:
    """The folder of the current run (or of the current job of a multirun)."""
    return Path(HydraConfig.get().runtime.output_dir)


def in_multirun() -> bool:
    """Return whether this job is one of a Hydra multirun."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def write_json(path: Path, values: dict) -> None:
    """Write a dict as indented JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2, sort_keys=True, default=str) + "\n")


def finish_wandb(exit_code: int = 0) -> None:
    """Finish the W&B run if one is open, so no run is left hanging."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish(exit_code=exit_code)


def run_task(task: Callable[[DictConfig], float | None], cfg: DictConfig) -> float | None:
    """Run `task`; a user error ends in one sentence, a failed multirun job is logged and skipped."""
    full_error = os.environ.get("HYDRA_FULL_ERROR") == "1"
    failed = True
    try:
        with save_before_requeue():  # under submitit, its time-limit signal saves a checkpoint before the requeue
            value = task(cfg)
        failed = False
        return value
    except Exception as caught:
        error = find_user_error(caught)
        if error is None or full_error:
            log.exception("Job failed in %s", output_dir())
            if in_multirun() and not full_error:
                write_json(output_dir() / "failure.json", {"error": repr(caught), "type": type(caught).__name__})
                return None  # not NaN: Optuna's sweeper crashes on NaN, and records None as a failed trial
            raise
        if in_multirun():
            log.error("Job failed: %s", error)
            write_json(output_dir() / "failure.json", {"error": str(error), "type": "UserError"})
            return None
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(2)
    except SystemExit as stop:
        # Lightning ends a SIGTERM'd run with a bare SystemExit subclass (code 0); report it as 128 + 15.
        if type(stop).__name__ == "SIGTERMException":
            sys.exit(143)
        raise
    finally:
        finish_wandb(exit_code=1 if failed else 0)
