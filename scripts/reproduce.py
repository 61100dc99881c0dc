"""Run the papers' experiment configs and write REPRODUCTION.md from the runs' records.

    python scripts/reproduce.py --only NAME [NAME ...] [--budget-minutes N] [--data-root DIR] [-- overrides]
    python scripts/reproduce.py --table                 # rebuild REPRODUCTION.md from the kept records
    python scripts/reproduce.py --quick [--only ...]    # smoke runs: minutes on a CPU, stand-in data

Each experiment runs the paper's full setting, one `aelab-train` run per job of its sweep (Kingma's five
latent sizes, Ruff's ten digits), in <out>/<name>/<job>/, reading the data under --data-root. With
--budget-minutes N the jobs share N minutes of training (each stops at the end of the pass that reaches its
share; the test afterwards is extra) and the row says how many passes ran. Running the same command again
resumes every unfinished job from its last checkpoint with a fresh budget, so a long run is continued in
sessions; `<job>/sessions.json` records each session. A paper may add jobs to its sweep (more seeds of some
digits) and start each job from another experiment's job of the same name (`model.init_from`: Deep SVDD from its
DCAE). --quick runs the smoke setting into <out>/quick, whose rows go to a separate table. After each command every
run's record under --out (config, metrics, sessions, curves) is copied into results/reproduction/runs beside the
--doc, and REPRODUCTION.md is rebuilt from those records.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf
from papers import BY_NAME, PAPERS, Paper

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "src" / "aelab" / "configs" / "experiment"
QUIET = ["callbacks=none", "trainer.enable_progress_bar=false", "print_config=false"]
# The shared copy's test file: a reconstruction that lost the UCR row order and the 5-class labels (normal or
# abnormal only); REPRODUCTION.md says so in every row that reads it.
ECG_TEST = "ECG5000_TEST_reconstructed.txt.gz"


@dataclass(frozen=True)
class Job:
    """One run of an experiment: the sweep overrides that pick it and its folder."""

    overrides: tuple[str, ...]
    folder: Path


def sweep_jobs(paper: Paper, root: Path, extra: bool = True) -> list[Job]:
    """Expand the experiment's `hydra.sweeper.params` into one job per combination (one job without a sweep),
    followed by the paper's extra jobs (more seeds of some) unless `extra` is false."""
    from itertools import product

    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = OmegaConf.select(OmegaConf.load(EXPERIMENTS / f"{paper.experiment}.yaml"), "hydra.sweeper.params")
    extra_jobs = [Job(c, root / "_".join(job_name(o) for o in c)) for c in paper.extra_jobs] if extra else []
    if not params:
        return [Job((), root / "run"), *extra_jobs]
    parsed = OverridesParser.create().parse_overrides([f"{key}={value}" for key, value in params.items()])
    choices = [[f"{o.key_or_group}={v}" for v in o.sweep_string_iterator()] for o in parsed]
    return [Job(combo, root / "_".join(job_name(o) for o in combo)) for combo in product(*choices)] + extra_jobs


def pretrained(paper: Paper, job: Job) -> list[str]:
    """The override starting a job from its pretraining job's last checkpoint (none when the paper has none)."""
    if not paper.init_from:
        return []
    checkpoint = job.folder.parent.parent / paper.init_from / job.folder.name / "checkpoints" / "last.ckpt"
    if not checkpoint.is_file():
        raise SystemExit(
            f"{paper.experiment} {job.folder.name} starts from {checkpoint}: run --only {paper.init_from} first."
        )
    return [f"model.init_from={checkpoint}"]


def job_name(override: str) -> str:
    """A folder name for one override: `model.latent_dim=3` -> `latent_dim_3`."""
    key, value = override.split("=", 1)
    return f"{key.split('.')[-1]}_{re.sub(r'[^0-9A-Za-z.-]+', '', value)}"


def data_overrides(paper: Paper, data_root: Path) -> list[str]:
    """Return the overrides that read the full setting's data under `data_root`."""
    if paper.data == "ecg5000":
        folder = data_root / "ecg5000"
        test = [f"data.test={ECG_TEST}"] if (folder / ECG_TEST).is_file() else []
        return [f"data.root={folder}", *test]
    return [] if paper.data == "embedded" else [f"data.root={data_root}"]


def quick_overrides(paper: Paper, data_root: Path) -> list[str]:
    """Return the --quick overrides: CPU, a few epochs, offline stand-in data."""
    settings = ["trainer=cpu", f"trainer.max_epochs={paper.quick_epochs}", *paper.quick]
    if "data.test_only=true" in paper.quick:
        settings.append(f"data.root={data_root}")
    return settings


def checkpoint_progress(folder: Path) -> tuple[int, float]:
    """Return the passes finished and the seconds trained by the job's last checkpoint (0, 0 when it has none)."""
    import torch

    last = folder / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return 0, 0.0
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    timer = checkpoint.get("callbacks", {}).get("Timer", {})
    return int(checkpoint["epoch"]) + 1, float(timer.get("time_elapsed", {}).get("train", 0.0))


def max_epochs(folder: Path) -> int | None:
    """The passes of the job's full setting, from the config it last ran with."""
    config = folder / ".hydra" / "config.yaml"
    return int(OmegaConf.load(config).trainer.max_epochs) if config.is_file() else None


def finished(folder: Path) -> bool:
    """Whether the job ran its full setting and was tested."""
    total = max_epochs(folder)
    return total is not None and (folder / "metrics.json").is_file() and checkpoint_progress(folder)[0] >= total


def budget_override(seconds: float) -> str:
    """A Lightning Timer that stops training at the end of the pass by which `seconds` of training have passed."""
    seconds = max(1, round(seconds))
    days, rest = divmod(seconds, 86400)
    duration = f"{days:02d}:{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f'+callbacks.budget={{_target_:pytorch_lightning.callbacks.Timer,duration:"{duration}",interval:epoch}}'


def run_job(paper: Paper, job: Job, settings: list[str], budget_s: float | None, resume: bool) -> dict:
    """Run (or resume) one job for one session and append the session to its sessions.json."""
    folder = job.folder
    folder.mkdir(parents=True, exist_ok=True)
    passes_before, trained_before = checkpoint_progress(folder) if resume else (0, 0.0)
    command = [str(Path(sys.executable).parent / "aelab-train"), f"experiment={paper.experiment}", *QUIET]
    command += [*paper.extra, *job.overrides, *settings, f"hydra.run.dir={folder}"]
    if resume and passes_before:
        command.append("ckpt_path=last")
    if budget_s is not None:
        command.append(budget_override(trained_before + budget_s))
    print("$", " ".join(command), file=sys.stderr, flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "WANDB_MODE": "offline"}
    start = time.perf_counter()
    with open(folder / "reproduce.log", "a") as log:
        result = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{paper.experiment} failed (exit {result.returncode}): see {folder / 'reproduce.log'}.")
    passes, trained = checkpoint_progress(folder)
    sessions_file = folder / "sessions.json"
    sessions = json.loads(sessions_file.read_text()) if sessions_file.is_file() else []
    session = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "budget_minutes": None if budget_s is None else round(budget_s / 60, 2),
        "passes_before": passes_before,
        "passes_after": passes,
        "train_minutes": round((trained - trained_before) / 60, 2),
        "wall_minutes": round(wall / 60, 2),
        "resumed": bool(resume and passes_before),
    }
    sessions.append(session)
    sessions_file.write_text(json.dumps(sessions, indent=2))
    # The CSV logger starts its file afresh when a run resumes: keep each session's learning curve.
    curve = folder / "csv" / "metrics.csv"
    if curve.is_file():
        (folder / "curves").mkdir(exist_ok=True)
        shutil.copy(curve, folder / "curves" / f"session_{len(sessions):03d}.csv")
    return session


def run_paper(paper: Paper, out: Path, data_root: Path, budget_minutes: float | None, more: list[str]) -> None:
    """Run or resume every unfinished job of one experiment, sharing the budget equally among them."""
    data = data_overrides(paper, data_root)
    jobs = [job for job in sweep_jobs(paper, out / paper.experiment) if not finished(job.folder)]
    if not jobs:
        print(f"{paper.experiment}: every job has run its full setting", file=sys.stderr)
        return
    share = None if budget_minutes is None else budget_minutes * 60 / len(jobs)
    for job in jobs:
        session = run_job(paper, job, [*data, *pretrained(paper, job), *more], share, resume=True)
        print(f"{paper.experiment} {job.folder.name}: {session}", file=sys.stderr, flush=True)


def run_quick(paper: Paper, out: Path, data_root: Path, more: list[str]) -> None:
    """Run the smoke setting of one experiment afresh into <out>/quick."""
    root = out / "quick" / paper.experiment
    shutil.rmtree(root, ignore_errors=True)
    for job in sweep_jobs(paper, root, extra=False):
        run_job(paper, job, [*quick_overrides(paper, data_root), *pretrained(paper, job), *more], None, resume=False)


def main(argv: list[str] | None = None) -> None:
    """Run the chosen experiments one after another, then rebuild REPRODUCTION.md."""
    from reproduction_table import write_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(BY_NAME), metavar="NAME", help="experiments to run")
    parser.add_argument("--budget-minutes", type=float, help="minutes of training per experiment and command")
    parser.add_argument("--quick", action="store_true", help="smoke runs on offline stand-in data (own table)")
    parser.add_argument("--table", action="store_true", help="only rebuild REPRODUCTION.md from the kept records")
    parser.add_argument("--data-root", type=Path, default=REPO / "data", help="where MNIST/raw, ecg5000/ lie")
    parser.add_argument("--out", type=Path, default=REPO / "logs" / "reproduce")
    parser.add_argument("--doc", type=Path, default=REPO / "REPRODUCTION.md", help="the table to write")
    parser.add_argument("overrides", nargs="*", help="more aelab-train overrides for every run, after --")
    args = parser.parse_args(argv)
    if args.budget_minutes is not None and args.budget_minutes <= 0:
        parser.error("--budget-minutes must be positive.")
    if not args.table and not args.only and not args.quick:
        parser.error("name the experiments to run with --only (a full setting takes hours), or pass --table.")
    out, data_root = args.out.resolve(), args.data_root.resolve()
    if not args.table:
        for paper in [BY_NAME[name] for name in args.only] if args.only else PAPERS:
            if paper.not_reproduced and not args.quick:
                print(f"{paper.experiment}: not run ({paper.not_reproduced})", file=sys.stderr)
            elif args.quick:
                if paper.data == "cifar10" and not (data_root / "cifar-10-batches-py").is_dir():
                    print(f"{paper.experiment}: skipped, no CIFAR-10 under {data_root}", file=sys.stderr)
                    continue
                run_quick(paper, out, data_root, args.overrides)
            else:
                run_paper(paper, out, data_root, args.budget_minutes, args.overrides)
    print(write_table(out, args.doc, REPO))


if __name__ == "__main__":
    main()
