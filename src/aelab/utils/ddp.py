"""DDP in Hydra runs and sweeps: the other ranks of a job run that job's own single-run command, in its folder.

Lightning's subprocess launcher starts rank k by re-running the whole command line, so inside a
multirun every rank would run the whole sweep (new sweep folders, other jobs' parameters). Here a
job's ranks run the single-run command of that job (`aelab-train <the job's overrides>
hydra.run.dir=<the job's folder>`), and after each job the process group, the rank processes and
the environment variables Lightning set are released, so that the next job starts its own ranks.
"""

from __future__ import annotations

import logging
import shlex
import sys

import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig

from aelab.internals.lightning import JobLauncher, SubprocessScriptLauncher, replace_launcher, strategy_launcher
from aelab.utils.errors import require

log = logging.getLogger("aelab")

# Hydra settings each rank gets its own value of.
RANK_SETTINGS = ("hydra.mode", "hydra.run.dir", "hydra.output_subdir", "hydra.job.name")
# Launchers whose job processes cannot start DDP ranks (joblib's pool workers are not our script).
NO_DDP_LAUNCHERS = ("joblib",)

_active: list[JobLauncher] = []


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def rank_command(local_rank: int, entry: str = "aelab.train") -> tuple[list[str], str]:
    """Return the single-run command of the current Hydra job for one more rank, and its working folder."""
    hydra = HydraConfig.get()
    flags = [f"--config-name={hydra.job.config_name}"]
    flags += [f"--config-dir={s.path}" for s in hydra.runtime.config_sources if s.provider == "command-line"]
    own_hydra = [o for o in hydra.overrides.hydra if _key(o) not in RANK_SETTINGS]
    settings = [
        "hydra.mode=RUN",
        f'hydra.run.dir="{hydra.runtime.output_dir}"',
        "hydra.output_subdir=null",  # the job's .hydra folder is rank 0's
        f"hydra.job.name={hydra.job.name}_rank{local_rank}",  # a log file of its own in the job's folder
    ]
    # `-c` rather than `-m`: `import aelab` already imports aelab.train, which runpy warns about.
    start = [sys.executable, "-c", f"from {entry} import main; main()"]
    return [*start, *flags, *hydra.overrides.task, *own_hydra, *settings], hydra.runtime.cwd


def bind_to_job(trainer, entry: str = "aelab.train") -> None:
    """Make the trainer's extra DDP ranks run the current job's command in its folder; refuse where they cannot."""
    launcher = strategy_launcher(trainer)
    if (
        not isinstance(launcher, SubprocessScriptLauncher)
        or launcher.cluster_environment.creates_processes_externally
        or launcher.num_processes < 2
        or not HydraConfig.initialized()
    ):
        return
    hydra_launcher = HydraConfig.get().runtime.choices.get("hydra/launcher")
    require(
        hydra_launcher not in NO_DDP_LAUNCHERS,
        f"{type(trainer.strategy).__name__} cannot start its {launcher.num_processes} processes inside "
        f"hydra/launcher={hydra_launcher}'s workers: drop hydra/launcher={hydra_launcher} (the basic launcher "
        "runs DDP jobs one after another) or use hydra/launcher=submitit_local.",
    )

    def command(local_rank: int) -> tuple[list[str], str]:
        line, cwd = rank_command(local_rank, entry)
        log.info("DDP rank %d of %d: %s", local_rank, launcher.num_processes, shlex.join(line))
        return line, cwd

    job_dir = str(HydraConfig.get().runtime.output_dir)
    replace_launcher(trainer, JobLauncher(launcher, command, job_dir, on_start=_active.append))


def release_ranks(timeout: float = 30.0) -> None:
    """End this process's DDP job: close the process group, wait for its ranks, restore the environment."""
    launchers = list(_active)
    _active.clear()
    for launcher in launchers:
        launcher.stop_watching()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    for launcher in launchers:
        launcher.release(timeout)
