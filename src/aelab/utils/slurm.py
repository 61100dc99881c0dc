"""Runs inside SLURM jobs: who requeues, what a signal saves first, and where a requeued job resumes.

submitit (the `hydra/launcher=slurm` launcher) owns resubmission: on the time-limit signal (USR2,
`signal_delay_s` before the limit) it requeues the job and counts it against `max_num_timeout`, and
SLURM itself requeues a pre-empted job (`scontrol requeue`, PreemptMode=REQUEUE; the job gets SIGTERM).
Lightning's SLURM environment would requeue on its own signal too, without a count, so aelab turns its
auto-requeue off: one layer resubmits. aelab's part is to save before the job goes (SIGTERM and USR2
both stop training at the next step and save `interrupted.ckpt`) and, in the requeued job, to resume
from the last finished epoch (`last.ckpt` in the job's folder), which ends with the same metrics as a
run never stopped; a mid-epoch checkpoint would not (the data order within an epoch is not restored).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("aelab")

# submitit's signal (`#SBATCH --signal=USR2@<signal_delay_s>`, env SUBMITIT_PREEMPT_SIGNAL to change it).
SUBMITIT_SIGNAL = getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"), signal.SIGUSR2)


def in_slurm_job() -> bool:
    """Return whether this process is a task of a SLURM batch job (not an interactive allocation)."""
    from lightning_fabric.plugins.environments import SLURMEnvironment

    return SLURMEnvironment.detect()


def cluster_plugins() -> list:
    """Lightning's SLURM environment without its auto-requeue, in a SLURM job; nothing elsewhere."""
    if not in_slurm_job():
        return []
    from lightning_fabric.plugins.environments import SLURMEnvironment

    return [SLURMEnvironment(auto_requeue=False)]


def restart_count() -> int:
    """How often SLURM has requeued this job (0 for its first run)."""
    return int(os.environ.get("SLURM_RESTART_COUNT") or 0)


def requeued_checkpoint(run_dir: Path) -> str | None:
    """In a requeued SLURM job, the job folder's checkpoint of the last finished epoch (None: start afresh)."""
    restarts = restart_count()
    if restarts == 0 or not in_slurm_job():
        return None
    checkpoints = Path(run_dir) / "checkpoints"
    last = checkpoints / "last.ckpt"
    interrupted = checkpoints / "interrupted.ckpt"
    if not last.is_file():
        if interrupted.is_file():
            # Stopped within the first epoch: its interrupt checkpoint is mid-epoch, which a resume would take for
            # a finished one. Keep it under another name and start afresh.
            interrupted.rename(checkpoints / f"interrupted_before_restart{restarts}.ckpt")
        log.info("Requeued SLURM job (restart %d): no finished epoch in %s, starting afresh.", restarts, run_dir)
        return None
    log.info("Requeued SLURM job (restart %d): resuming from %s.", restarts, last)
    return str(last)


@contextlib.contextmanager
def save_before_requeue() -> Iterator[None]:
    """Under submitit, make its requeue signal stop training at the next step and save, then let submitit requeue."""
    requeue = signal.getsignal(SUBMITIT_SIGNAL)
    if os.environ.get("SUBMITIT_EXECUTOR") != "slurm" or not callable(requeue):
        yield
        return
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    idle = signal.getsignal(signal.SIGTERM)  # submitit's; Lightning installs its own while fit or test runs
    pending: list[int] = []

    def on_signal(signum: int, frame) -> None:
        if signal.getsignal(signal.SIGTERM) is idle:  # between Lightning's loops: nothing to save, requeue now
            requeue(signum, frame)
            return
        log.info("Signal %s: saving a checkpoint at the next step before the job is requeued.", signum)
        pending.append(signum)
        signal.raise_signal(signal.SIGTERM)  # Lightning stops at the next step; interrupted.ckpt is saved

    signal.signal(SUBMITIT_SIGNAL, on_signal)
    try:
        yield
    except SIGTERMException:
        signal.signal(SUBMITIT_SIGNAL, requeue)
        if pending:  # submitit requeues and exits, or ends the job when it has timed out too often
            requeue(pending[0], None)
        raise
    except BaseException:
        signal.signal(SUBMITIT_SIGNAL, requeue)
        raise
    # The work is done: a signal now would requeue a finished job, or kill it on its way out (Python restores
    # the default action, termination, while it shuts down) and SLURM would record it as failed.
    signal.signal(SUBMITIT_SIGNAL, signal.SIG_IGN)
