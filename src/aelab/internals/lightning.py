"""Lightning's private classes, attributes and behaviours aelab relies on, each with its reason.

Functional (no public API does the job):
- DDP inside Hydra multiruns: Lightning's `_SubprocessScriptLauncher` starts rank k by re-running the whole
  command line (through its module function `_hydra_subprocess_cmd` when Hydra runs), so every rank of a
  sweep's job would run the whole sweep. aelab subclasses the launcher, swaps that function for the job's
  own command while the ranks start, watches them with Lightning's `_ChildProcessObserver`, and installs the
  launcher as `strategy._launcher` (`JobLauncher`, `RankObserver` here; Hydra's side in `aelab.utils.ddp`).

Speed (measured alone by `benchmarks/internals.py` on the tiny MLP, where per-step costs show most):
- `FastHookName`: Lightning sets `LightningModule._current_fx_name` around every hook call, ~40 times a
  step; `nn.Module.__setattr__` searches the parameter, buffer and submodule registries each time.
- `write_train_metrics`: training metrics handed to the loggers and written into `trainer.callback_metrics`
  (which checkpointing and early stopping read) directly, instead of `LightningModule.log`, whose call
  costs about half a millisecond on a CPU, as much as a small model's step.
- `attached_trainer`: `LightningModule.trainer` raises when the module is not attached to a Trainer (a model
  used on its own, in analyses and tests); the models ask whether one is attached through `_trainer`.
- `skip_gpu_probe_on_cpu`: Lightning sets `PYTORCH_NVML_BASED_CUDA_CHECK=1` at import; until CUDA starts,
  torch's Adam then loads NVML on every step (~30 µs). A CPU run never starts CUDA.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytorch_lightning as pl
import torch
from lightning_fabric.strategies.launchers.subprocess_script import _ChildProcessObserver
from lightning_fabric.utilities.distributed import _set_num_threads_if_needed
from pytorch_lightning.strategies.launchers import subprocess_script

log = logging.getLogger("aelab")

SubprocessScriptLauncher = subprocess_script._SubprocessScriptLauncher
ChildProcessObserver = _ChildProcessObserver
set_num_threads_if_needed = _set_num_threads_if_needed
# The attribute Lightning sets on the module around each hook call.
HOOK_NAME_ATTRIBUTE = "_current_fx_name"
# What Lightning's launcher sets for one job's ranks: left behind, `LOCAL_RANK` makes the next job
# believe its ranks were started externally, and its rank 0 waits for peers that never come.
RANK_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")
# How long a failed rank waits for rank 0 to end the job itself before the process is killed.
GRACE_S = 30.0


@contextlib.contextmanager
def rank_commands_from(command: Callable[[int], tuple[list[str], str]]) -> Iterator[None]:
    """While starting ranks, have Lightning take rank k's command and working folder from `command(k)`."""
    original = subprocess_script._hydra_subprocess_cmd
    subprocess_script._hydra_subprocess_cmd = command
    try:
        yield
    finally:
        subprocess_script._hydra_subprocess_cmd = original


def strategy_launcher(trainer: pl.Trainer):
    """The launcher the trainer's strategy will start its processes with."""
    return trainer.strategy.launcher


def replace_launcher(trainer: pl.Trainer, launcher) -> None:
    """Make the trainer's strategy start its processes with `launcher` (the strategy has no public setter)."""
    trainer.strategy._launcher = launcher


class RankObserver(ChildProcessObserver):
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


class JobLauncher(SubprocessScriptLauncher):
    """Lightning's subprocess launcher whose rank k runs `command(k)`, started once per job and released after it."""

    def __init__(
        self,
        launcher: SubprocessScriptLauncher,
        command: Callable[[int], tuple[list[str], str]],
        job_dir: str,
        on_start: Callable[[JobLauncher], None] = lambda launcher: None,
    ) -> None:
        super().__init__(launcher.cluster_environment, launcher.num_processes, launcher.num_nodes)
        self.command, self.job_dir, self.on_start = command, job_dir, on_start
        self.saved_env: dict[str, str | None] = {}
        self.observer: RankObserver | None = None

    def launch(self, function, *args, trainer=None, **kwargs):
        """Start the other ranks (once per job), then run `function` as rank 0."""
        # Lightning's own `launch`, but with this job's command and a watchdog that can be stopped.
        self.cluster_environment.validate_settings(num_devices=self.num_processes, num_nodes=self.num_nodes)
        if not self.cluster_environment.creates_processes_externally:
            self.saved_env = {name: os.environ.get(name) for name in RANK_VARIABLES}
            self.on_start(self)
            with rank_commands_from(self.command):
                self._call_children_scripts()
            self.observer = RankObserver(self.procs, self.job_dir)
            self.observer.start()
        set_num_threads_if_needed(num_processes=self.num_processes)
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


class FastHookName:
    """Mixin for a LightningModule: Lightning's per-hook name goes straight to the instance dictionary."""

    def __setattr__(self, name: str, value) -> None:
        if name == HOOK_NAME_ATTRIBUTE:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


def attached_trainer(module: pl.LightningModule) -> pl.Trainer | None:
    """The module's Trainer, or None when it is not attached to one (the public property raises then)."""
    return module._trainer


def write_train_metrics(trainer: pl.Trainer, metrics: dict[str, torch.Tensor], prog_bar: bool = False) -> None:
    """Hand metrics to every logger at the current step, to the monitors (checkpoints, early stopping) and the bar."""
    values = {name: value.detach() for name, value in metrics.items()}
    trainer.callback_metrics.update(values)
    scalars = {name: float(value) for name, value in values.items()}
    if prog_bar:
        trainer.progress_bar_metrics.update(scalars)
    for logger in trainer.loggers:  # each logger writes on global rank zero only
        logger.log_metrics({**scalars, "epoch": trainer.current_epoch}, step=trainer.global_step)


def skip_gpu_probe_on_cpu(trainer: pl.Trainer) -> None:
    """On a CPU run, let torch answer `cuda.is_available()` from its cached count instead of probing NVML."""
    if trainer.strategy.root_device.type == "cpu":
        os.environ.pop("PYTORCH_NVML_BASED_CUDA_CHECK", None)


class NoProfiler(pl.profilers.Profiler):
    """Lightning's default when no profiler is asked for, without a generator context per hook call.

    Lightning wraps every hook of every callback in `profiler.profile(...)`; its pass-through profiler
    builds a `contextlib.contextmanager` generator each time, several microseconds on each of ~80 calls a step.
    """

    def start(self, action_name: str) -> None:
        """Record nothing."""

    def stop(self, action_name: str) -> None:
        """Record nothing."""

    def profile(self, action_name: str) -> contextlib.nullcontext:
        """Return a shared do-nothing context."""
        return _NO_CONTEXT


_NO_CONTEXT = contextlib.nullcontext()
