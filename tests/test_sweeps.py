"""Sweeps through the real command line: launchers, Optuna, DDP inside a multirun, W&B, failures, one table out."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import torch
import yaml
from conftest import run_cli

from aelab.data.batches import IndexBatches

# Scaled down hard: each job is a few batches of the embedded digits.
FAST = [
    "data=digits",
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=3",
    "+trainer.limit_val_batches=1",
    "+trainer.limit_test_batches=1",
    "callbacks=none",
    "trainer.enable_progress_bar=false",
    "print_config=false",
]


def multirun(tmp_path: Path, *overrides: str, env: dict | None = None, timeout: int = 300):
    """Run `aelab-train -m` in tmp_path; return the result and the job folders of its one sweep folder."""
    result = run_cli(
        "aelab-train",
        "-m",
        *FAST,
        f"paths.log_dir={tmp_path / 'logs'}",
        *overrides,
        cwd=tmp_path,
        env=env,
        timeout=timeout,
    )
    sweeps = sorted((tmp_path / "logs" / "train" / "multiruns").iterdir())
    assert len(sweeps) == 1, f"expected one sweep folder, found {sweeps}\n{result.stderr[-3000:]}"
    jobs = sorted((p for p in sweeps[0].iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    return result, jobs


def overrides_of(job: Path) -> list[str]:
    return yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())


def override_value(job: Path, key: str) -> str:
    return next(o.split("=", 1)[1] for o in overrides_of(job) if o.startswith(f"{key}="))


def proto_string(field: int, text: str) -> bytes:
    """A string field of W&B's run record as protobuf writes it (6: group, 8: display name)."""
    data, length, size = text.encode(), b"", len(text.encode())
    while True:
        length += bytes([size & 0x7F | (0x80 if size > 0x7F else 0)])
        size >>= 7
        if not size:
            return bytes([field << 3 | 2]) + length + data


def metrics_of(job: Path) -> dict[str, float]:
    return json.loads((job / "metrics.json").read_text())


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """A 2 x 2 sweep on the basic launcher: two latent sizes, two seeds each."""
    tmp_path = tmp_path_factory.mktemp("grid")
    result, jobs = multirun(tmp_path, "model.latent_dim=4,8", "seed=1,2")
    assert result.returncode == 0, result.stderr[-3000:]
    return jobs


@pytest.mark.slow
def test_basic_grid_leaves_one_folder_per_job_with_its_overrides_and_metrics(grid):
    assert len(grid) == 4
    combos = set()
    for job in grid:
        swept = [o for o in overrides_of(job) if o.startswith(("model.latent_dim=", "seed="))]
        combos.add(tuple(swept))
        metrics = metrics_of(job)  # one epoch: the best validation loss is that epoch's
        assert metrics["val/loss_best"] == pytest.approx(metrics["val/loss"]) and not (job / "failure.json").exists()
        saved = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
        assert f"model.latent_dim={saved['model']['latent_dim']}" in swept and f"seed={saved['seed']}" in swept
    assert combos == {(f"model.latent_dim={d}", f"seed={s}") for d in (4, 8) for s in (1, 2)}


@pytest.mark.slow
def test_collect_makes_one_row_per_setting_with_mean_and_std_over_seeds(grid, tmp_path):
    result = run_cli("aelab-collect", str(grid[0].parent), "--out", str(tmp_path / "table"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    import pandas as pd

    jobs = pd.read_csv(tmp_path / "table" / "jobs.csv")
    assert len(jobs) == 4 and set(jobs["status"]) == {"finished"}
    table = pd.read_csv(tmp_path / "table" / "results.csv")
    assert list(table["model.latent_dim"]) == [4, 8] and list(table["n"]) == [2, 2]
    for latent, (_, row) in zip((4, 8), table.iterrows()):
        scores = [metrics_of(j)["val/loss_best"] for j in grid if f"model.latent_dim={latent}" in overrides_of(j)]
        assert row["val/loss_best mean"] == pytest.approx(sum(scores) / 2)
        assert row["val/loss_best std"] == pytest.approx(abs(scores[0] - scores[1]) / 2**0.5)  # sample std
    markdown = (tmp_path / "table" / "results.md").read_text()
    assert "| model.latent_dim | n | " in markdown and markdown.count(" ± ") >= 2
    assert (tmp_path / "table" / "val_loss_best_vs_model.latent_dim.png").stat().st_size > 1000


@pytest.mark.slow
def test_joblib_runs_two_jobs_in_parallel(tmp_path):
    result, jobs = multirun(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=1,2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(jobs) == 2 and "n_jobs=2" in result.stdout + result.stderr
    started = max((job / ".hydra").stat().st_mtime for job in jobs)
    assert started < min((job / "metrics.json").stat().st_mtime for job in jobs), "the jobs ran one after another"


@pytest.mark.slow
def test_optuna_runs_three_trials_in_its_search_space_in_memory(tmp_path):
    result, jobs = multirun(tmp_path, "hparams_search=optuna", "hydra.sweeper.n_trials=3")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(jobs) == 3
    for job in jobs:
        assert 1e-4 <= float(override_value(job, "optimizer.lr")) <= 1e-2
        assert override_value(job, "model.latent_dim") in {"8", "16", "32", "64"}
    best = yaml.safe_load((jobs[0].parent / "optimization_results.yaml").read_text())["best_value"]
    assert best == pytest.approx(min(metrics_of(job)["val/loss_best"] for job in jobs))


@pytest.mark.slow
def test_optuna_sqlite_study_resumes_by_name_and_a_new_sweep_starts_a_new_study(tmp_path):
    import optuna

    database = tmp_path / "not" / "yet" / "optuna.db"  # its folder does not exist yet
    storage = f"sqlite:///{database}"
    common = ["hparams_search=optuna", f"hydra.sweeper.storage={storage}"]
    for n_trials, total in ((3, 3), (1, 4)):
        result = run_cli(
            "aelab-train",
            "-m",
            *FAST,
            f"paths.log_dir={tmp_path / 'logs' / str(total)}",
            *common,
            "hydra.sweeper.study_name=ae_search",
            f"hydra.sweeper.n_trials={n_trials}",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        study = optuna.load_study(study_name="ae_search", storage=storage)
        assert len(study.get_trials(states=[optuna.trial.TrialState.COMPLETE])) == total
    result = run_cli(
        "aelab-train",
        "-m",
        *FAST,
        f"paths.log_dir={tmp_path / 'logs' / 'new'}",
        *common,
        "hydra.sweeper.n_trials=1",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(optuna.get_all_study_summaries(storage)) == 2


@pytest.mark.slow
def test_ddp_in_a_multirun_leaves_one_folder_per_job_and_ranks_run_their_own_job(tmp_path):
    result, jobs = multirun(tmp_path, "trainer=ddp_cpu", "model.latent_dim=4,8")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [job.name for job in jobs] == ["0", "1"]
    assert not (tmp_path / "logs" / "train" / "runs").exists()
    for job, latent in zip(jobs, (4, 8)):
        overrides = overrides_of(job)
        assert f"model.latent_dim={latent}" in overrides and "trainer=ddp_cpu" in overrides
        assert metrics_of(job)["val/loss_best"] > 0
        assert {p.name for p in (job / "checkpoints").iterdir()} == {"epoch_000.ckpt", "last.ckpt"}
        # rank 1 ran the single-run command of this job, in this folder
        logged = next(line for line in (job / "train.log").read_text().splitlines() if "DDP rank 1 of 2:" in line)
        command = shlex.split(logged.split("DDP rank 1 of 2: ", 1)[1])
        assert "-m" not in command and "hydra.mode=RUN" in command
        assert [a for a in command if a in overrides] == overrides
        assert f'hydra.run.dir="{job}"' in command
        assert "GLOBAL_RANK: 1" in (job / "train_rank1.log").read_text()


@pytest.mark.slow
def test_ddp_single_run_writes_one_folder_once(tmp_path):
    run = tmp_path / "run"
    result = run_cli("aelab-train", *FAST, "trainer=ddp_cpu", f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert metrics_of(run)["val/loss_best"] > 0 and (run / "train_rank1.log").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.slow
def test_joblib_refuses_ddp_in_one_sentence_instead_of_hanging(tmp_path):
    result, jobs = multirun(
        tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=1", "trainer=ddp_cpu", "seed=1", timeout=120
    )
    assert result.returncode == 1
    error = json.loads((jobs[0] / "failure.json").read_text())["error"]
    assert "hydra/launcher=joblib" in error and "basic launcher" in error


@pytest.mark.slow
def test_wandb_offline_logs_one_finished_run_per_job_grouped_by_sweep(tmp_path):
    result, jobs = multirun(tmp_path, "logger=wandb", "seed=1,2", env={"WANDB_MODE": "offline"})
    assert result.returncode == 0, result.stderr[-3000:]
    for job in jobs:
        runs = list((job / "wandb").glob("offline-run-*"))
        assert len(runs) == 1, runs
        record = next(runs[0].glob("*.wandb")).read_bytes()
        assert proto_string(8, ",".join(overrides_of(job))) in record  # the run's name: the job's overrides
        assert proto_string(6, job.parent.name) in record  # its group: the sweep folder
        debug = (runs[0] / "logs" / "debug.log").read_text()
        assert f"'seed': {override_value(job, 'seed')}" in debug and "finishing run" in debug  # config, finished


@pytest.mark.slow
def test_a_failing_job_is_reported_and_the_sweep_goes_on_and_exits_nonzero(tmp_path):
    result, jobs = multirun(tmp_path, "model.latent_dim=8,100000")
    assert result.returncode == 1
    assert metrics_of(jobs[0])["val/loss_best"] > 0
    failure = json.loads((jobs[1] / "failure.json").read_text())
    assert failure["type"] == "UserError" and "latent_dim=100000" in failure["error"]
    assert "1 of 2 jobs failed" in result.stderr and "job 1: UserError" in result.stderr
    assert f"log:   {jobs[1] / 'train.log'}" in result.stderr and "model.latent_dim=100000" in result.stderr


@pytest.mark.slow
def test_fail_fast_stops_the_sweep_at_the_first_failure(tmp_path):
    result, jobs = multirun(tmp_path, "fail_fast=true", "model.latent_dim=100000,8")
    assert result.returncode == 1 and "fail_fast=true: sweep stopped" in result.stderr
    assert [job.name for job in jobs] == ["0"]


def test_a_search_over_a_key_the_model_lacks_is_refused_before_any_job(tmp_path):
    result = run_cli("aelab-train", "-m", "hparams_search=optuna_beta", "model=ae", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "model.beta" in result.stderr and "model=ae" in result.stderr
    assert not (tmp_path / "logs").exists()


def hydra_of(compose, *overrides: str):
    from hydra.core.hydra_config import HydraConfig

    compose(*overrides)
    return HydraConfig.get()


SUBMITIT = "hydra_plugins.hydra_submitit_launcher"  # the optional `slurm` extra


@pytest.mark.parametrize(
    "launcher, target, plugin",
    [
        ("basic", "BasicLauncher", "hydra"),
        ("joblib", "JoblibLauncher", "hydra_plugins.hydra_joblib_launcher"),
        ("submitit_local", "LocalLauncher", SUBMITIT),
        ("submitit_slurm", "SlurmLauncher", SUBMITIT),
        ("slurm", "SlurmLauncher", SUBMITIT),
    ],
)
def test_launchers_compose(compose, launcher, target, plugin):
    pytest.importorskip(plugin)
    assert hydra_of(compose, f"hydra/launcher={launcher}").launcher._target_.endswith(target)


def test_slurm_launcher_asks_one_task_per_device_on_every_node(compose):
    pytest.importorskip(SUBMITIT)
    settings = hydra_of(compose, "hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2")
    assert (settings.launcher.nodes, settings.launcher.tasks_per_node, settings.launcher.gpus_per_node) == (2, 4, 4)


def test_optuna_searches_lr_and_latent_size_and_beta_where_the_model_has_one(compose):
    sweeper = hydra_of(compose, "hparams_search=optuna").sweeper
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler" and sweeper.storage is None
    assert set(sweeper.params) == {"optimizer.lr", "model.latent_dim"}
    beta = hydra_of(compose, "hparams_search=optuna_beta", "model=vae").sweeper
    assert set(beta.params) == {"optimizer.lr", "model.latent_dim", "model.beta"}


@pytest.mark.parametrize("n, batch_size, shuffle", [(103, 8, True), (100, 10, False), (7, 4, True)])
def test_in_memory_batches_shard_across_two_ranks(monkeypatch, n, batch_size, shuffle):
    inputs, labels = torch.arange(n).unsqueeze(1), torch.arange(n)
    orders = []
    for epoch in range(2):
        seen = []
        for rank in range(2):
            monkeypatch.setattr(IndexBatches, "_rank_and_world", staticmethod(lambda rank=rank: (rank, 2)))
            loader = IndexBatches(inputs, labels, batch_size, shuffle=shuffle, seed=3)
            loader.set_epoch(epoch)
            batches = list(loader)
            assert len(batches) == len(loader)
            assert all(torch.equal(x.squeeze(1).long(), y) for x, y in batches)
            seen.append(torch.cat([y for _, y in batches]))
        assert len(seen[0]) == len(seen[1])  # equal steps on both ranks
        both = torch.cat(seen).tolist()
        assert len(set(both)) == len(both), "a sample was seen twice in one epoch"
        assert n - len(both) == n % 2, "samples were skipped beyond the remainder"
        orders.append(both)
    assert (orders[0] != orders[1]) == shuffle
