"""Hydra callbacks for sweeps: Optuna set up, failed jobs summarised with a non-zero exit, fail-fast, DDP released."""

from __future__ import annotations

import atexit
import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

SQLITE = "sqlite:///"
ABSENT = object()


class OptunaSetup(Callback):
    """Hydra callback: check an Optuna search space against the config, and create its SQLite database's folder."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        """Refuse a search over keys the config lacks; create the folder of a `sqlite:///` storage."""
        params = OmegaConf.select(config, "hydra.sweeper.params") or {}
        missing = [k for k in params if k[0] not in "+~" and OmegaConf.select(config, k, default=ABSENT) is ABSENT]
        if missing:
            model = OmegaConf.select(config, "hydra.runtime.choices.model")
            print(
                f"Error: the search space has {', '.join(missing)}, which this config (model={model}) does not have: "
                "pick options that have it (model.beta: model=vae or beta_vae) or drop it from hydra.sweeper.params.",
                file=sys.stderr,
            )
            sys.exit(2)
        storage = OmegaConf.select(config, "hydra.sweeper.storage")
        if isinstance(storage, str) and storage.startswith(SQLITE) and storage != SQLITE + ":memory:":
            Path(storage[len(SQLITE) :]).expanduser().parent.mkdir(parents=True, exist_ok=True)


@dataclass
class Failure:
    """A failed job: its folder, overrides, error and log file."""

    job_dir: Path
    overrides: list[str]
    error: str
    log: Path | None

    def lines(self, command: str) -> str:
        """The failure as it appears in the summary: what failed, how to run it alone, where its log is."""
        rerun = shlex.join([command, *self.overrides])
        return f"  job {self.job_dir.name}: {self.error}\n    rerun: {rerun}\n    log:   {self.log or self.job_dir}"


def read_failure(job_dir: Path, since: float = 0.0) -> Failure | None:
    """Return the failure a job recorded in its folder (after `since`), or None if it did not fail."""
    path = job_dir / "failure.json"
    if not path.is_file() or path.stat().st_mtime < since:
        return None
    record = json.loads(path.read_text())
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    overrides = list(OmegaConf.load(overrides_file)) if overrides_file.is_file() else []
    logs = sorted(p for p in job_dir.glob("*.log") if "_rank" not in p.name)
    return Failure(job_dir, overrides, f"{record.get('type')}: {record.get('error')}", logs[0] if logs else None)


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Return the job folders of a sweep (those with a `.hydra` folder), in job order."""
    found = {p.parent.parent for p in sweep_dir.rglob(".hydra/overrides.yaml")}
    # A run that trained vectorised replicas (seeds=[...]) is summarised by its replicas, one folder per seed.
    holders = {d.parent.parent for d in found if d.parent.name == "replicas"}
    return sorted(found - holders, key=_job_order)


def _job_order(path: Path) -> tuple:
    number = int(path.name) if path.name.isdigit() else -1
    return len(path.parts), number, path.name


def summary(failures: list[Failure], n_jobs: int, sweep_dir: Path, stopped: bool = False) -> str:
    """The message a sweep with failed jobs ends with."""
    head = "A job failed and fail_fast=true: sweep stopped" if stopped else f"{len(failures)} of {n_jobs} jobs failed"
    command = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "aelab-train"
    return "\n".join([f"{head} (sweep folder {sweep_dir}):", *(f.lines(command) for f in failures)])


class FailureReport(Callback):
    """Hydra callback: end a sweep with a summary of its failed jobs and exit 1; with fail_fast=true, at the first."""

    def __init__(self) -> None:
        self.started = self.job_started = time.time()
        self.sweep_dir: Path | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        """Note the sweep's folder and start, so that failures left there by an earlier sweep are not counted."""
        self.started = time.time() - 1.0  # file times may be rounded to the second
        # None when the sweep fails before Hydra is set up (a sweeper plugin that cannot load): nothing to report.
        sweep_dir = OmegaConf.select(config, "hydra.sweep.dir", throw_on_resolution_failure=False)
        if sweep_dir is None:
            return
        self.sweep_dir = Path(sweep_dir)
        # A sweeper that raises (Optuna when every trial failed) never calls on_multirun_end.
        atexit.register(self.report, exit_code=None)

    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        """Note the job's start."""
        self.job_started = time.time() - 1.0

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs) -> None:
        """With fail_fast=true, stop the sweep at the first failed job."""
        if not config.get("fail_fast") or config.hydra.mode != RunMode.MULTIRUN:
            return
        job_dir = Path(config.hydra.runtime.output_dir)
        failure = read_failure(job_dir, since=self.job_started)
        if failure is None and job_return.status == JobStatus.FAILED:
            failure = Failure(job_dir, list(config.hydra.overrides.task), repr(job_return._return_value), None)
        if failure is not None:
            self.sweep_dir = None  # reported here
            print(summary([failure], 1, Path(config.hydra.sweep.dir), stopped=True), file=sys.stderr)
            sys.exit(1)  # SystemExit passes Hydra's callback and job guards, so no further job starts

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        """Print the failed jobs and exit 1 if there are any."""
        self.report(exit_code=1)

    def report(self, exit_code: int | None) -> None:
        """Print the summary once, if any job of this sweep failed; then exit with `exit_code` unless None."""
        if self.sweep_dir is None:
            return
        sweep_dir, self.sweep_dir = self.sweep_dir, None
        jobs = [d for d in job_dirs(sweep_dir) if (d / ".hydra").stat().st_mtime >= self.started]
        failures = [f for d in jobs if (f := read_failure(d, since=self.started)) is not None]
        if failures:
            print(summary(failures, len(jobs), sweep_dir), file=sys.stderr)
            if exit_code is not None:
                sys.exit(exit_code)


class ReleaseRanks(Callback):
    """Hydra callback: after each job, release the DDP ranks it started, so that the next job starts clean."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs) -> None:
        """Release the job's ranks (only a job that trained has loaded the DDP module)."""
        ddp = sys.modules.get("aelab.utils.ddp")
        if ddp is not None:
            ddp.release_ranks()
