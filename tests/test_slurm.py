"""SLURM for real: `aelab-train -m hydra/launcher=slurm` on the one-node cluster `.ci/slurm.sh start` runs.

Sweeps as job arrays, a pre-empted job that resumes in its folder with the metrics of a run never stopped,
a job outliving its time limit that is resubmitted and finishes, a failed job in the sweep summary, DDP
ranks started by SLURM. Skipped where no cluster answers (`sinfo`), e.g. on a laptop.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import torch
from conftest import BIN, run_cli

RUN = [
    "data=digits",
    "trainer=cpu",
    "trainer.enable_progress_bar=false",
    "print_config=false",
    "callbacks=none",
    "data.batch_size=32",
]


def cluster_state() -> str | None:
    """Why no cluster can run the tests here, or None when one answers with a usable node."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the slurm extra is not installed")
    if shutil.which("sbatch") is None:
        return "no SLURM here (sbatch missing): start one with .ci/slurm.sh start"
    try:
        nodes = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return "the SLURM controller does not answer: .ci/slurm.sh status"
    states = set(nodes.stdout.split())
    if nodes.returncode != 0 or not states & {"idle", "mixed", "allocated"}:
        return f"no SLURM node is up ({nodes.stderr.strip() or ' '.join(states)}): .ci/slurm.sh start"
    return None


@pytest.fixture(scope="module")
def cluster():
    """Skip the tests that need a cluster where none answers."""
    reason = cluster_state()
    if reason:
        pytest.skip(reason)


def on_cluster(seconds: int):
    """Mark a test as one that needs the cluster (slow), failing when it runs longer than `seconds`."""

    def decorate(test):
        @pytest.mark.slow
        @pytest.mark.usefixtures("cluster")
        @functools.wraps(test)
        def limited(*args, **kwargs):
            def expire(signum, frame):
                raise TimeoutError(f"{test.__name__} ran past its limit of {seconds} s")

            previous = signal.signal(signal.SIGALRM, expire)
            signal.alarm(seconds)
            try:
                return test(*args, **kwargs)
            finally:
                signal.alarm(0)
                signal.signal(signal.SIGALRM, previous)

        return limited

    return decorate


@pytest.fixture
def name():
    """A SLURM job name of this test's own; its jobs are cancelled afterwards, whatever happened."""
    job_name = f"aelab-test-{uuid.uuid4().hex[:8]}"
    yield job_name
    subprocess.run(["scancel", f"--name={job_name}"], capture_output=True, timeout=30)


def sweep_command(sweep: Path, name: str, *overrides: str) -> list[str]:
    """The aelab-train command of a SLURM sweep into `sweep`."""
    launcher = ["-m", "hydra/launcher=slurm", f"hydra.launcher.name={name}", f"hydra.sweep.dir={sweep}"]
    return [str(BIN / "aelab-train"), *launcher, *RUN, *overrides]


def start_sweep(sweep: Path, name: str, *overrides: str) -> subprocess.Popen:
    """Start a SLURM sweep in the background (the submitting process waits for its jobs)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    return subprocess.Popen(
        sweep_command(sweep, name, *overrides),
        cwd=sweep.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float) -> tuple[int, str]:
    """Wait for a sweep to end; return its exit code and its stderr."""
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        raise AssertionError(f"the sweep did not end within {timeout} s:\n{stderr[-3000:]}") from None
    return process.returncode, stderr


def accounting(job_id: str, timeout: float = 30) -> list[tuple[str, str]]:
    """(job id, state) of each run of a job, requeued runs included, once SLURM's accounting has them all ended."""
    deadline = time.time() + timeout
    while True:
        result = subprocess.run(
            ["sacct", "-n", "-P", "-X", "-D", "-j", job_id, "-o", "jobid,state"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        runs = [tuple(line.split("|")[:2]) for line in result.stdout.split()]
        # The sweep ends when the results are written; the job's own end is recorded a moment later.
        if runs and not {state for _, state in runs} & {"PENDING", "RUNNING", "COMPLETING"}:
            return runs
        if time.time() > deadline:
            raise AssertionError(f"job {job_id} has not ended in SLURM's accounting: {runs}")
        time.sleep(0.5)


def job_ids(sweep: Path) -> list[str]:
    """The SLURM job ids submitit used for a sweep's jobs (its folders under .submitit)."""
    return sorted(p.name for p in (sweep / ".submitit").iterdir() if p.is_dir())


def submitit_logs(sweep: Path) -> str:
    """Everything the sweep's jobs wrote to their stdout and stderr."""
    return "\n".join(p.read_text(errors="replace") for p in sorted((sweep / ".submitit").glob("*/*_log.*")))


def wait_for_epoch(checkpoint: Path, epoch: int, process: subprocess.Popen, timeout: float) -> None:
    """Wait until `checkpoint` holds at least `epoch` finished epochs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None, process.communicate()[1][-3000:]
        try:
            if checkpoint.exists() and torch.load(checkpoint, weights_only=True)["epoch"] >= epoch:
                return
        except (RuntimeError, EOFError, OSError, KeyError):
            pass  # caught between the write of the temporary file and its rename
        time.sleep(0.3)
    raise AssertionError(f"{checkpoint} did not reach epoch {epoch} within {timeout} s")


def epochs_logged(job: Path) -> list[int]:
    """The epochs of the validation rows in a job's metrics.csv, in order."""
    with (job / "csv" / "metrics.csv").open(newline="") as file:
        return [int(float(row["epoch"])) for row in csv.DictReader(file) if row.get("val/loss")]


@on_cluster(120)
def test_a_sweep_runs_as_a_job_array_and_aelab_collect_summarises_it(tmp_path, name):
    sweep = tmp_path / "sweep"
    code, stderr = finish(start_sweep(sweep, name, "trainer.max_epochs=2", "seed=1,2,3"), timeout=110)
    assert code == 0, stderr[-3000:]

    (array,) = {job_id.split("_")[0] for job_id in job_ids(sweep)}  # one array, one task per job
    assert "#SBATCH --array=0-2" in (sweep / ".submitit" / array / f"{array}_submission.sh").read_text()
    assert "#SBATCH --gpus-per-node" not in (sweep / ".submitit" / array / f"{array}_submission.sh").read_text()
    assert sorted(accounting(array)) == [(f"{array}_{k}", "COMPLETED") for k in range(3)]
    for k in range(3):
        job = sweep / str(k)
        assert (job / ".hydra" / "config.yaml").is_file() and (job / "checkpoints" / "last.ckpt").is_file()
        assert json.loads((job / "metrics.json").read_text())["test/loss"] > 0

    collected = run_cli("aelab-collect", str(sweep), cwd=tmp_path, timeout=60)
    assert collected.returncode == 0, collected.stderr[-2000:]
    with (sweep / "jobs.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted(row["seed"] for row in rows) == ["1", "2", "3"] and {row["status"] for row in rows} == {"finished"}
    assert "| 3 |" in (sweep / "results.md").read_text()  # one setting, three seeds


@on_cluster(180)
def test_a_preempted_job_resumes_in_its_folder_and_ends_like_an_uninterrupted_run(tmp_path, name):
    settings = ["trainer.deterministic=true", "trainer.max_epochs=30"]
    reference = subprocess.Popen(  # the run never stopped, on this machine meanwhile
        [str(BIN / "aelab-train"), *RUN, *settings, f"hydra.run.dir={tmp_path / 'reference'}"],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    sweep = tmp_path / "sweep"
    process = start_sweep(sweep, name, *settings)
    wait_for_epoch(sweep / "0" / "checkpoints" / "last.ckpt", 2, process, timeout=90)
    (job_id,) = job_ids(sweep)
    subprocess.run(["scontrol", "requeue", job_id], check=True, timeout=30)  # what pre-emption with REQUEUE does

    code, stderr = finish(process, timeout=120)
    assert code == 0, stderr[-3000:]
    assert reference.wait(timeout=60) == 0, reference.stderr.read()[-2000:]
    assert [state for _, state in accounting(job_id)] == ["REQUEUED", "COMPLETED"]
    logs = submitit_logs(sweep)
    assert "Interrupted at epoch" in logs and "saved" in logs and "interrupted.ckpt" in logs
    job = sweep / "0"
    assert [p.name for p in sweep.iterdir() if p.name.isdigit()] == ["0"]  # back in the same folder
    assert f"resuming from {job / 'checkpoints' / 'last.ckpt'}" in (job / "train.log").read_text()

    expected = json.loads((tmp_path / "reference" / "metrics.json").read_text())
    got = json.loads((job / "metrics.json").read_text())
    for key in ("val/loss_best", "test/mse", "test/loss"):
        assert abs(got[key] - expected[key]) <= 1e-6 * abs(expected[key]), (key, got[key], expected[key])
    assert epochs_logged(job) == list(range(30))  # the history of both parts, each epoch once


@on_cluster(240)
def test_a_job_past_its_time_limit_is_signalled_checkpointed_resubmitted_and_finishes(tmp_path, name):
    # 55 s of training cannot fit before the signal of a 1-minute limit (SLURM checks limits every 30 s and
    # signals 5 s before the end at the latest: 25-55 s into each run); Lightning's timer goes on across runs.
    sweep = tmp_path / "sweep"
    limits = ["hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=5", "hydra.launcher.max_num_timeout=3"]
    settings = ["trainer.max_epochs=100000", "+trainer.max_time=00:00:00:55"]
    code, stderr = finish(start_sweep(sweep, name, *limits, *settings), timeout=230)
    assert code == 0, stderr[-3000:]

    (job_id,) = job_ids(sweep)
    states = [state for _, state in accounting(job_id)]
    assert states[-1] == "COMPLETED" and set(states[:-1]) == {"REQUEUED"} and len(states) >= 2, states
    job = sweep / "0"
    train_log = (job / "train.log").read_text()  # submitit's messages included
    assert train_log.count("this job is timed-out") == len(states) - 1  # each requeue was submitit's, on the limit
    assert "saving a checkpoint at the next step" in train_log and "Interrupted at epoch" in submitit_logs(sweep)
    assert f"resuming from {job / 'checkpoints' / 'last.ckpt'}" in train_log
    assert "Time limit reached." in train_log  # Lightning's timer, not SLURM's limit, ended the training
    epochs = epochs_logged(job)
    assert epochs == list(range(len(epochs))) and len(epochs) > 10  # nothing lost, nothing twice
    assert json.loads((job / "metrics.json").read_text())["test/loss"] > 0


@on_cluster(120)
def test_a_failed_job_is_reported_with_its_log_and_the_others_finish(tmp_path, name):
    sweep = tmp_path / "sweep"
    code, stderr = finish(start_sweep(sweep, name, "trainer.max_epochs=2", "model.latent_dim=8,100000"), timeout=110)
    assert code == 1
    assert "1 of 2 jobs failed" in stderr and "model.latent_dim=100000 is larger than the input" in stderr
    assert f"log:   {sweep / '1' / 'train.log'}" in stderr
    assert "is larger than the input" in (sweep / "1" / "train.log").read_text()
    assert (sweep / "0" / "metrics.json").is_file() and not (sweep / "1" / "metrics.json").exists()


@on_cluster(120)
def test_ddp_ranks_are_started_by_slurm_and_write_one_job_folder(tmp_path, name):
    sweep = tmp_path / "sweep"
    code, stderr = finish(start_sweep(sweep, name, "trainer=ddp_cpu", "trainer.max_epochs=2"), timeout=110)
    assert code == 0, stderr[-3000:]

    (job_id,) = job_ids(sweep)
    assert "#SBATCH --ntasks-per-node=2" in (sweep / ".submitit" / job_id / f"{job_id}_submission.sh").read_text()
    assert sorted(p.name for p in sweep.iterdir() if not p.name.startswith(".")) == ["0", "multirun.yaml"]
    job = sweep / "0"
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in (job / "train.log").read_text()
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in (job / "train_rank1.log").read_text()  # SLURM's task 1, not a child
    assert "DDP rank 1 of 2:" not in (job / "train.log").read_text()  # aelab started no rank itself
    assert json.loads((job / "metrics.json").read_text())["test/loss"] > 0


@on_cluster(60)
def test_resources_the_cluster_lacks_are_refused_in_one_sentence(tmp_path, name):
    result = subprocess.run(
        [*sweep_command(tmp_path / "sweep", name, "hydra.launcher.gpus_per_node=1", "seed=1,2")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Error: SLURM refused the sweep's jobs (Invalid generic resource" in result.stderr
    assert "hydra.launcher.partition, gpus_per_node" in result.stderr


# Without a cluster: the launcher's defaults, the resume rule of requeued jobs, the CSV history.


def launcher_of(compose, *overrides: str):
    from hydra.core.hydra_config import HydraConfig

    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the slurm extra is not installed")
    compose("hydra/launcher=slurm", *overrides)
    return HydraConfig.get().launcher


def test_cpu_trainers_ask_slurm_for_no_gpu_and_one_core_per_rank(compose):
    cpu, ddp_cpu, gpu = (launcher_of(compose, f"trainer={t}") for t in ("cpu", "ddp_cpu", "gpu"))
    assert (cpu.gpus_per_node, cpu.tasks_per_node, cpu.cpus_per_task, cpu.mem_gb) == (None, 1, 1, 4)
    assert (ddp_cpu.gpus_per_node, ddp_cpu.tasks_per_node, ddp_cpu.cpus_per_task) == (None, 2, 1)
    assert (gpu.gpus_per_node, gpu.tasks_per_node, gpu.cpus_per_task, gpu.mem_gb) == (1, 1, 8, 32)


def test_a_requeued_job_resumes_from_its_last_epoch_and_a_first_run_from_nothing(tmp_path, monkeypatch):
    from aelab.utils.slurm import requeued_checkpoint

    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / "interrupted.ckpt").write_bytes(b"mid-epoch")
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_JOB_NAME", "train")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "0")
    assert requeued_checkpoint(tmp_path) is None  # a first run starts as configured
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert requeued_checkpoint(tmp_path) is None  # stopped within the first epoch: afresh, not mid-epoch
    assert not (checkpoints / "interrupted.ckpt").exists()  # else Lightning would resume from it by itself
    assert (checkpoints / "interrupted_before_restart1.ckpt").read_bytes() == b"mid-epoch"
    (checkpoints / "last.ckpt").write_bytes(b"end of an epoch")
    assert requeued_checkpoint(tmp_path) == str(checkpoints / "last.ckpt")
    monkeypatch.delenv("SLURM_NTASKS")
    assert requeued_checkpoint(tmp_path) is None  # not in a SLURM job


def test_a_resumed_run_keeps_the_csv_history_of_its_first_part(compose, tmp_path):
    import aelab

    aelab.train(compose("trainer.max_epochs=2", "logger=csv"))
    aelab.train(compose("trainer.max_epochs=4", "logger=csv", "ckpt_path=last"))
    assert epochs_logged(tmp_path / "run") == [0, 1, 2, 3]
