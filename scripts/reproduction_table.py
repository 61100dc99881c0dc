"""REPRODUCTION.md and its figures, written from the runs' records (metrics.json, config, sessions, curves), which are
copied from the run folders into the project so that the table can be rebuilt on any checkout."""

from __future__ import annotations

import gzip
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import reproduction_targets
from omegaconf import OmegaConf
from papers import BY_NAME, PAPERS, Paper

BUDGET_TARGET_NLL = 90.5  # the VAE's target at a budget of at most 90 minutes (nats)
FULL_TOLERANCE_NATS = 1.0
FIGURES = Path("results") / "reproduction"
RECORDS = FIGURES / "runs"  # each job's record, kept with the project: the table is rebuilt from these
CARRIED = "‡"


@dataclass
class Run:
    """One finished session's view of a job folder."""

    folder: Path
    config: dict
    metrics: dict
    sessions: list[dict]
    passes: int

    @property
    def total(self) -> int:
        """The passes of the paper's full setting."""
        return int(self.config["trainer"]["max_epochs"])

    @property
    def full(self) -> bool:
        """Whether every pass of the full setting ran."""
        return self.passes >= self.total

    def minutes(self, key: str) -> float:
        """Minutes summed over the sessions (`train_minutes` or `wall_minutes`)."""
        return sum(session[key] for session in self.sessions)

    @property
    def budget(self) -> float | None:
        """The minutes of training the sessions were given, None when one ran without a budget."""
        budgets = [session["budget_minutes"] for session in self.sessions]
        return None if any(b is None for b in budgets) else sum(budgets)

    def curve(self) -> pd.DataFrame:
        """One row per pass: the sessions' logged metrics, the later session winning where two logged a pass."""
        files = sorted((self.folder / "curves").glob("session_*.csv*"))
        if not files:
            return pd.DataFrame(columns=["epoch", "train/elbo", "test_curve/elbo", "test_curve/samples_seen"])
        rows = pd.concat([pd.read_csv(f).assign(session=i) for i, f in enumerate(files)], ignore_index=True)
        rows = rows.dropna(subset=["epoch"])
        per_pass = rows.groupby(["epoch", "session"]).last().reset_index().sort_values(["epoch", "session"])
        return per_pass.groupby("epoch").last().reset_index()


def read_run(folder: Path) -> Run | None:
    """Return the job's run, or None when it has not finished a session."""
    metrics, sessions, config = folder / "metrics.json", folder / "sessions.json", folder / "config.yaml"
    if not (metrics.is_file() and sessions.is_file() and config.is_file()):
        return None
    history = json.loads(sessions.read_text())
    return Run(
        folder,
        OmegaConf.to_container(OmegaConf.load(config), resolve=False),
        json.loads(metrics.read_text()),
        history,
        history[-1]["passes_after"],
    )


def archive(out: Path, records: Path) -> None:
    """Copy each job's record under `out` (config, metrics, sessions, curves) into `records`, replacing older ones."""
    for root in (out, out / "quick"):
        for folder in sorted(root.glob("*/*")):
            files = [folder / ".hydra" / "config.yaml", folder / "metrics.json", folder / "sessions.json"]
            if not all(f.is_file() for f in files):
                continue
            target = records / folder.relative_to(out)
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            for file in files:
                shutil.copy(file, target / file.name)
            for curve in sorted((folder / "curves").glob("session_*.csv")):
                (target / "curves").mkdir(exist_ok=True)
                kept = target / "curves" / f"{curve.name}.gz"
                with open(curve, "rb") as source, gzip.GzipFile(kept, "wb", mtime=0) as packed:  # same bytes each time
                    shutil.copyfileobj(source, packed)


def carried_over(doc: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The previous table's rows (by experiment) and sections (by heading), for experiments without a record."""
    if not doc.is_file():
        return {}, {}
    text = doc.read_text()
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and "(`experiment=" in line:
            rows[line.split("`experiment=")[1].split("`")[0]] = line.strip().strip("|").strip().split(" | ")
    sections = {part.split("\n", 1)[0]: "## " + part.rstrip() for part in text.split("\n## ")[1:]}
    return rows, sections


def carried_row(cells: list[str] | None) -> list[str] | None:
    """A previous row that holds a result, marked as carried over (None when it holds none)."""
    if cells is None or len(cells) < 9 or cells[3] in ("–", "not run at the paper's setting"):
        return None
    return cells if cells[3].endswith(CARRIED) else [*cells[:3], f"{cells[3]} {CARRIED}", *cells[4:]]


def runs_of(root: Path) -> list[Run]:
    """The runs of one experiment folder, by job name."""
    if not root.is_dir():
        return []
    return [run for run in (read_run(folder) for folder in sorted(root.iterdir()) if folder.is_dir()) if run]


def number(value: float | None, digits: int = 4) -> str:
    """Format a number to `digits` significant digits, a dash where there is none."""
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def idx_count(folder: Path, name: str) -> int | None:
    """The number of samples in an IDX file of `folder` (gzipped or not), from its header alone."""
    import gzip
    import struct

    from aelab.data.idx import find_idx

    path = find_idx(folder, name)
    if not path.is_file():
        return None
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as file:
        return struct.unpack(">I", file.read(8)[4:])[0]


def describe_data(run: Run) -> str:
    """Say which data the run read: its config, and the sizes in the data's own files."""
    data = run.config["data"]
    target = data["_target_"].rsplit(".", 1)[-1]
    binarize = data.get("binarize")
    loss = run.config.get("loss", {}).get("name", "bce")
    binarised = {
        None: "intensities as Bernoulli targets" if loss == "bce" else f"intensities as targets ({loss})",
        "static": "one fixed binarisation (seeded apart from the run), test images binarised once",
        "dynamic": "binarised afresh at every draw, test images once with a fixed seed",
    }[binarize]
    if target == "MNISTDataModule" and data.get("test_only"):
        return f"real MNIST test images only, split {1 - data['test_fraction']:.0%}/{data['test_fraction']:.0%}"
    if target == "MNISTDataModule":
        raw = Path(data["root"]) / "MNIST" / "raw"
        n_train, n_test = idx_count(raw, "train-images-idx3-ubyte"), idx_count(raw, "t10k-images-idx3-ubyte")
        if n_train is None or n_test is None:
            return f"MNIST under {data['root']} (its files are not there now); {binarised}"
        n_val = max(1, round(n_train * data["val_fraction"])) if data["val_fraction"] else 0  # as the module splits
        held = f", {n_val:,} held out for validation" if n_val else ", no validation split"
        images = f"{n_train - n_val:,} of its {n_train:,} training images{held}; its {n_test:,} test images"
        return f"MNIST: {images}{reproduction_targets.data_notes(data)}; {binarised}"
    if target == "MNIST5kDataModule":
        return f"mnist_5k stand-in (5,000 embedded MNIST images); {binarised}"
    if target == "ECG5000DataModule":
        if str(data.get("test", "")).endswith("_reconstructed.txt.gz"):
            return (
                "ECG5000: the UCR training split; the test file is a reconstruction that lost the UCR row order and "
                "the 5-class labels (normal or abnormal only)"
            )
        return "ECG5000 (UCR splits)"
    return target.removesuffix("DataModule")


def describe_setting(runs: list[Run]) -> str:
    """Full or budget, the passes run of the paper's, the minutes of training and of the whole sessions."""
    passes = ", ".join(f"{run.passes:,}" for run in runs)
    each = " (one run each)" if len(runs) > 1 else ""
    ran = f"{passes} of the paper's {runs[0].total:,} passes{each}"
    train = sum(run.minutes("train_minutes") for run in runs)
    wall = sum(run.minutes("wall_minutes") for run in runs)
    sessions = max(len(run.sessions) for run in runs)
    budgets = [run.budget for run in runs]
    if all(run.full for run in runs):
        label = "**full**"
    elif all(b is not None for b in budgets):
        label = f"**budget** of {sum(budgets):.3g} min of training"
    else:
        label = "**stopped early**"
    # Training minutes come from the budget's timer: a run without a budget has only its wall time.
    trained = f"{train:.3g} min of training, " if all(b is not None for b in budgets) else ""
    return f"{label}; {ran}; {trained}{wall:.3g} min in all with the tests; {sessions} session(s) on one CPU core"


def metric_of(runs: list[Run], metric: str) -> float | None:
    """The metric's mean over the runs that report it."""
    values = [run.metrics[metric] for run in runs if metric in run.metrics]
    return sum(values) / len(values) if values else None


def heading(curve: pd.DataFrame, share: float = 0.1) -> str:
    """Say how much the test ELBO rose over the last `share` of the passes run: where a stopped run was heading."""
    if "test_curve/elbo" not in curve or curve["test_curve/elbo"].notna().sum() < 10:
        return ""
    values = curve.dropna(subset=["test_curve/elbo"])
    tail = max(5, round(len(values) * share))
    window = min(5, tail)
    start = values["test_curve/elbo"].iloc[-tail - window : -tail].mean()
    end = values["test_curve/elbo"].iloc[-window:].mean()
    change = end - start
    trend = "still rising" if change > 0.1 else "falling" if change < -0.1 else "levelling off"
    return (
        f"over its last {tail} passes the test ELBO moved by {change:+.2f} nats to {end:.2f} "
        f"(means of {window} passes): {trend}"
    )


def judge(paper: Paper, runs: list[Run], ours: float | None, everything: dict[str, list[Run]]) -> str:
    """The verdict against the row's tolerance."""
    if ours is None:
        return "no result"
    found = reproduction_targets.verdict(paper, runs, ours, everything)
    if found is not None:
        return found
    full = all(run.full for run in runs)
    if paper.experiment.startswith("burda2016"):
        gap = ours - paper.reference
        why = heading(runs[0].curve())
        if full:
            within = abs(gap) <= FULL_TOLERANCE_NATS
            return f"{'reproduced' if within else 'not reproduced'}: {gap:+.2f} nats from the paper"
        stopped = f"not the paper's number ({runs[0].passes:,} of {runs[0].total:,} passes)"
        if paper.experiment == "burda2016_vae_mnist":
            missed = ours - BUDGET_TARGET_NLL
            target = (
                f"budget target met ({ours:.2f} ≤ {BUDGET_TARGET_NLL})"
                if missed <= 0
                else f"budget target missed by {missed:.2f} nats"
            )
            return f"{target}; {stopped}" + (f"; {why}" if why else "")
        if paper.experiment == "burda2016_iwae_k5_mnist":
            vae = everything.get("burda2016_vae_mnist", [])
            vae_nll = metric_of(vae, paper.metric)
            if vae_nll is None:
                return f"{stopped}; no VAE run to compare with"
            same = vae[0].budget == runs[0].budget
            budget = "the same budget" if same else f"a different budget ({vae[0].budget} min)"
            order = "lower" if ours < vae_nll else "not lower"
            held = "the paper's ordering holds" if ours < vae_nll else "the paper's ordering does not hold"
            return (
                f"{order} than the VAE's {vae_nll:.2f} at {budget} ({runs[0].passes:,} passes against "
                f"{vae[0].passes:,}): {held}; {stopped}" + (f"; {why}" if why else "")
            )
        return stopped
    if paper.experiment == "kingma2014_vae_mnist":
        finals = {int(run.config["model"]["latent_dim"]): run.metrics.get(paper.metric) for run in runs}
        if 3 not in finals or len(finals) < 2:
            return "needs the N_z = 3 run and another"
        lowest = min(finals, key=lambda nz: finals[nz])
        stopped = "" if full else "; at the budget, not the paper's 1e8 samples"
        return ("holds" if lowest == 3 else f"does not hold: N_z = {lowest} is lowest") + stopped
    if paper.baseline and paper.reference is None:
        base = metric_of(runs, paper.baseline)
        return "no paper number" if base is None else f"no paper number; {ours - base:+.4f} against our PCA bar"
    return "–"


def ours_cell(paper: Paper, runs: list[Run], ours: float | None) -> str:
    """Our number, with what it depends on (k of the test bound, each latent size, each digit)."""
    found = reproduction_targets.cell(paper, runs, ours)
    if found is not None:
        return found
    if paper.experiment == "kingma2014_vae_mnist":
        by_nz = sorted((int(run.config["model"]["latent_dim"]), run.metrics.get(paper.metric)) for run in runs)
        return "; ".join(f"N_z = {nz}: {number(value)}" for nz, value in by_nz)
    if paper.metric == "test/nll_iwae":
        ks = sorted({int(run.config["model"]["iwae_samples"]) for run in runs})
        return f"{number(ours)} (k = {', '.join(f'{k:,}' for k in ks)} in the test bound, from the run's config)"
    return number(ours)


def row(paper: Paper, runs: list[Run], everything: dict[str, list[Run]]) -> list[str]:
    """One row of the main table."""
    name = f"{paper.paper} (`experiment={paper.experiment}`)"
    reference = number(paper.reference)
    if paper.not_reproduced:
        return [name, paper.target, reference, "–", "**not reproduced**: " + paper.not_reproduced, "–", "–", "–", "–"]
    if not runs:
        return [name, paper.target, reference, "not run at the paper's setting", "–", "–", "–", paper.tolerance, "–"]
    ours = reproduction_targets.metric(paper, runs) or metric_of(runs, paper.metric)
    gap = "–" if ours is None or paper.reference is None else f"{ours - paper.reference:+.3g}"
    metric = f"{paper.target}: `{paper.metric}`"
    base = metric_of(runs, paper.baseline) if paper.baseline else None
    if base is not None and paper.experiment in reproduction_targets.RUFF_ROWS:
        base = reproduction_targets.digit_mean(runs, paper.baseline)
    if base is not None:
        metric += f"; our baseline `{paper.baseline}` = {number(base)}"
    verdict = judge(paper, runs, ours, everything)
    cells = [ours_cell(paper, runs, ours), describe_setting(runs), describe_data(runs[0]), gap]
    return [name, metric, reference, *cells, paper.tolerance, verdict]


def smoke_row(paper: Paper, runs: list[Run]) -> list[str]:
    """One row of the smoke table: what the scaled-down run gave, never compared with the paper."""
    ours = metric_of(runs, paper.metric)
    minutes = sum(run.minutes("wall_minutes") for run in runs)
    setting = f"{runs[0].total} epochs; {len(runs)} run(s); {minutes:.1f} min"
    return [f"`{paper.experiment}`", f"`{paper.metric}`", number(ours), describe_data(runs[0]), setting]


def markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cells) + " |" for cells in rows]


def write_table(out: Path, doc: Path, repo: Path) -> str:
    """Copy the records of the runs under `out` into the project, rebuild `doc` (REPRODUCTION.md) and its figures
    from every record; return its text."""
    from reproduction_figures import burda_curves, kingma_figure

    records = doc.parent / RECORDS
    archive(out, records)
    everything = {paper.experiment: runs_of(records / paper.experiment) for paper in PAPERS}
    quick = {paper.experiment: runs_of(records / "quick" / paper.experiment) for paper in PAPERS}
    old_rows, old_sections = carried_over(doc)
    shown = out.relative_to(repo) if out.is_relative_to(repo) else out
    figures = doc.parent / FIGURES
    lines = [
        "# Paper reproduction",
        "",
        f"Written by `python scripts/reproduce.py` from the run records under `{RECORDS}`, each copied there from",
        f"a run's folder under `{shown}`: each number is read from a run's `metrics.json`, its setting from the",
        "run's `config.yaml` and `sessions.json` (passes, minutes), its curves from the run's `curves/`; `--table`",
        "rebuilds this file from the records alone. Each experiment's setting, and what it still does differently",
        "from the paper, is in `src/aelab/configs/experiment/<name>.yaml`. A **budget** row ran the paper's setting",
        "for the minutes given and stopped at the end of a pass: it is not the paper's number, and its verdict",
        "is against the budget target beside it. Gap = ours − paper, in the metric's units.",
        "",
    ]
    header = ["paper", "compared", "paper's number", "ours", "setting", "data", "gap", "tolerance", "verdict"]
    rows = []
    for paper in PAPERS:
        runs = everything[paper.experiment]
        kept = None if runs or paper.not_reproduced else carried_row(old_rows.get(paper.experiment))
        rows.append(kept or row(paper, runs, everything))
    lines += markdown(header, rows)
    if any(cells[3].endswith(CARRIED) for cells in rows):
        lines += [
            "",
            f"{CARRIED} Written by this script from runs of an earlier session whose records were not kept (before",
            f"`{RECORDS}` existed): carried over unchanged from the previous table until the experiment runs again.",
        ]
    lines += ["", "Where the papers' numbers come from:", ""]
    lines += [f"- `{paper.experiment}`: {paper.source}" for paper in PAPERS if paper.source]
    burda = {name: everything[name] for name in ("burda2016_vae_mnist", "burda2016_iwae_k5_mnist") if everything[name]}
    burda_heading = "Burda et al. 2016: where the budget runs were heading"
    kingma_heading = "Kingma & Welling 2014, Figure 2"
    if not burda and burda_heading in old_sections:
        lines += ["", old_sections[burda_heading]]
    if burda:
        references = {name: BY_NAME[name].reference for name in burda}
        path = burda_curves(burda, references, figures / "burda2016_curves.png")
        lines += ["", f"## {burda_heading}", ""]
        lines += [f"![test ELBO per pass]({path.relative_to(doc.parent)})", ""]
        lines += [
            "The test images' ELBO (one draw of q(z|x), fixed noise) after every pass, the final test NLL "
            "(the importance-weighted bound) of each run, and the paper's NLL at the end of its schedule."
        ]
    if not everything["kingma2014_vae_mnist"] and kingma_heading in old_sections:
        lines += ["", old_sections[kingma_heading]]
    if everything["kingma2014_vae_mnist"]:
        path = kingma_figure(everything["kingma2014_vae_mnist"], figures / "kingma2014_figure2.png")
        lines += ["", f"## {kingma_heading}", ""]
        lines += [f"![lower bound against training samples seen]({path.relative_to(doc.parent)})", ""]
        lines += [
            "Train: the mean ELBO of each pass's minibatches while training; test: the test images' ELBO after "
            "each pass (one draw of q(z|x), fixed noise). The paper's axis runs to 1e8 samples."
        ]
    smoke = [smoke_row(paper, quick[paper.experiment]) for paper in PAPERS if quick[paper.experiment]]
    if smoke:
        lines += ["", "## Smoke runs (`--quick`): scaled down, not reproductions", ""]
        lines += ["A few epochs on stand-in data, to check that each setting trains; never compared with a paper.", ""]
        lines += markdown(["experiment", "metric", "value", "data", "setting"], smoke)
    text = "\n".join(lines).rstrip() + "\n"
    doc.write_text(text)
    return text
