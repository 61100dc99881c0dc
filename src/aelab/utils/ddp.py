"""DDP in Hydra runs and sweeps: the other ranks of a job run that job's own single-run command, in its folder.

Lightning's subprocess launcher starts rank k by re-running the whole command line, so inside a
multirun every rank would run the whole sweep (new sweep folders, other jobs' parameters). Here a
job's ranks run the single-run command of that job (`aelab-train <the job's overrides>
hydra.run.dir=<the job's folder>`), and after each job the process group, the rank processes and
the environment variables Lightning set are released, so that the next job starts its own ranks.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import threading
from unittest import mock

import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig
from lightning_fabric.strategies.launchers.subprocess_script import _ChildProcessObserver
from lightning_fabric.utilities.distributed import _set_num_threads_if_needed
from pytorch_lightning.strategies.launchers import subprocess_script

from aelab.utils.errors import require

log = logging.getLogger("aelab")

# What Lightning's launcher sets for one job's ranks: left behind, `LOCAL_RANK` makes the next job
# believe its ranks were started externally, and its rank 0 waits for peers that never come.
RANK_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")
# Hydra settings each rank gets its own value of.
RANK_SETTINGS = ("hydra.mode", "hydra.run.dir", "hydra.output_subdir", "hydra.job.name")
# Launchers whose job processes cannot start DDP ranks (joblib's pool workers are not our script).
NO_DDP_LAUNCHERS = ("joblib",)
# How long a failed rank waits for rank 0 to end the job itself before the process is killed.
GRACE_S = 30.0

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


class RankObserver(_ChildProcessObserver):
    """Lightning's watchdog over the other ranks, which first lets a failed job end by itself."""

    def __init__(self, procs: list[subprocess.Popen], job_dir: str) -> None:
        super().__init__(main_pid=os.getpid(), child_processes=procs)
        self.job_dir = job_dir
        self.stopped = threading.Event()

    def stop(self) -> None:
        """Stop watching: the job has ended."""
        self.stopped.set()

    def _run(self) -> bool:
        return self.stopped.is_set() or super()._run()

    def _terminate_all(self) -> None:
        # A rank usually fails on rank 0 too, which ends the job and lets the sweep go on; only a
        # rank 0 still waiting for the dead rank after the grace period is killed, as Lightning does.
        if self.stopped.wait(GRACE_S):
            return
        print(f"A DDP rank of the job in {self.job_dir} died and rank 0 is stuck: ending the process.", file=sys.stderr)
        super()._terminate_all()


class JobLauncher(subprocess_script._SubprocessScriptLauncher):
    """Lightning's subprocess launcher whose ranks run the current job's single-run command in its folder."""

    def __init__(self, launcher: subprocess_script._SubprocessScriptLauncher, entry: str = "aelab.train") -> None:
        super().__init__(launcher.cluster_environment, launcher.num_processes, launcher.num_nodes)
        self.entry = entry
        self.saved_env: dict[str, str | None] = {}
        self.observer: RankObserver | None = None

    def _command(self, local_rank: int) -> tuple[list[str], str]:
        command, cwd = rank_command(local_rank, self.entry)
        log.info("DDP rank %d of %d: %s", local_rank, self.num_processes, shlex.join(command))
        return command, cwd

    def launch(self, function, *args, trainer=None, **kwargs):
        """Start the other ranks (once per job), then run `function` as rank 0."""
        # Lightning's own `launch`, but with this job's command and a watchdog that can be stopped.
        self.cluster_environment.validate_settings(num_devices=self.num_processes, num_nodes=self.num_nodes)
        if not self.cluster_environment.creates_processes_externally:
            self.saved_env = {name: os.environ.get(name) for name in RANK_VARIABLES}
            _active.append(self)
            # Lightning builds a rank's command in this module function: swap in the job's command.
            with mock.patch.object(subprocess_script, "_hydra_subprocess_cmd", self._command):
                self._call_children_scripts()
            self.observer = RankObserver(self.procs, str(HydraConfig.get().runtime.output_dir))
            self.observer.start()
        _set_num_threads_if_needed(num_processes=self.num_processes)
        return function(*args, **kwargs)

    def stop_watching(self) -> None:
        """Stop the watchdog, so that ranks ending now cannot kill this process."""
        if self.observer is not None:
            self.observer.stop()

    def release(self, timeout: float) -> None:
        """Wait for the other ranks (ending those still running after `timeout`) and restore the environment."""
        for proc in self.procs:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("DDP rank process %d did not end with its job: killing it.", proc.pid)
                proc.kill()
                proc.wait()
        for name, value in self.saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def bind_to_job(trainer, entry: str = "aelab.train") -> None:
    """Make the trainer's extra DDP ranks run the current job's command in its folder; refuse where they cannot."""
    launcher = trainer.strategy.launcher
    if (
        not isinstance(launcher, subprocess_script._SubprocessScriptLauncher)
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
    trainer.strategy._launcher = JobLauncher(launcher, entry)


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
