"""aelab-collect: turn multirun folders into a table of overrides against final metrics, and a plot.

    aelab-collect logs/train/multiruns/2026-01-01_12-00-00 [more folders] [--x optimizer.lr]

writes jobs.csv (one row per job), results.csv and results.md (one row per setting, mean ± std over
seeds) and a plot of one metric against a swept value, into --out (default: the first folder).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from aelab.utils.errors import UserError, require
from aelab.utils.sweep import job_dirs, read_failure

SEED = "seed"
DEFAULT_METRIC = "val/loss_best"


@dataclass
class Jobs:
    """One row per job: its folder, status, error, override values and final metrics."""

    frame: pd.DataFrame
    overrides: list[str]  # override keys, in the order first seen
    metrics: list[str]  # metric names, in the order first seen

    @property
    def varying(self) -> list[str]:
        """The override keys whose value differs between jobs."""
        return [k for k in self.overrides if self.frame[k].fillna("").nunique() > 1]

    @property
    def fixed(self) -> dict[str, str]:
        """The override keys with one value in every job."""
        return {k: self.frame[k].iloc[0] for k in self.overrides if k not in self.varying}


def parse_overrides(overrides: list[str]) -> dict[str, str]:
    """Return {key: value} from Hydra override strings (`+key=value`, `key=value`, `~key`)."""
    pairs = {}
    for override in overrides:
        key, _, value = override.lstrip("+").partition("=")
        pairs[key] = value if not key.startswith("~") else "(deleted)"
    return pairs


def read_job(job: Path) -> tuple[dict[str, str], dict[str, str], dict[str, float]]:
    """Return a job folder's status (and error), override values and final metrics."""
    values = parse_overrides(list(OmegaConf.load(job / ".hydra" / "overrides.yaml")))
    scores = json.loads((job / "metrics.json").read_text()) if (job / "metrics.json").is_file() else {}
    failure = read_failure(job)
    status = "failed" if failure else "finished" if scores else "unfinished"
    return {"job": str(job), "status": status, "error": failure.error if failure else ""}, values, scores


def load_jobs(folders: list[Path]) -> Jobs:
    """Read every job folder under the given multirun (or run) folders."""
    rows, overrides, metrics = [], {}, {}
    for folder in folders:
        require(folder.is_dir(), f"{folder} is not a folder: pass multirun folders (logs/train/multiruns/<date>).")
        jobs = job_dirs(folder)
        require(bool(jobs), f"{folder} holds no job folders (none has .hydra/overrides.yaml): pass a multirun folder.")
        for job in jobs:
            status, values, scores = read_job(job)
            rows.append({**status, **values, **scores})
            overrides.update(dict.fromkeys(values))
            metrics.update(dict.fromkeys(scores))
    return Jobs(pd.DataFrame(rows), list(overrides), list(metrics))


def _sortable(column: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(column, errors="coerce")
    return numbers if numbers.notna().all() else column.fillna("").astype(str)


def summarise(jobs: Jobs, metrics: list[str]) -> pd.DataFrame:
    """One row per setting (the varying overrides except the seed): n finished, failed, mean and std per metric."""
    keys = [k for k in jobs.varying if k != SEED]
    frame = jobs.frame.fillna({k: "" for k in keys})
    groups = frame.groupby(keys, sort=False) if keys else [((), frame)]
    rows = []
    for values, group in groups:
        done = group[group.status == "finished"]
        row = dict(zip(keys, values if isinstance(values, tuple) else (values,)))
        row.update(n=len(done), failed=int((group.status == "failed").sum()))
        for metric in metrics:
            scores = pd.to_numeric(done[metric], errors="coerce") if metric in done else pd.Series(dtype=float)
            row[f"{metric} mean"] = scores.mean()
            row[f"{metric} std"] = scores.std(ddof=1)  # over seeds; NaN for one seed
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values(keys, key=_sortable, kind="stable", ignore_index=True) if keys else table


def mean_std(mean: float, std: float) -> str:
    """Format a mean to 4 significant digits and a spread to 2 ("42.56 ± 0.32"); a dash where there is none."""
    if math.isnan(mean):
        return "–"
    return f"{mean:.4g}" if math.isnan(std) else f"{mean:.4g} ± {std:.2g}"


def markdown(table: pd.DataFrame, keys: list[str], metrics: list[str], fixed: dict[str, str]) -> str:
    """Render the summary as a Markdown table, mean ± std per metric."""
    header = [*keys, "n", *metrics] + (["failed"] if table["failed"].any() else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        cells = [str(row[k]) for k in keys] + [str(int(row["n"]))]
        cells += [mean_std(row[f"{m} mean"], row[f"{m} std"]) for m in metrics]
        if "failed" in header:
            cells.append(str(int(row["failed"])))
        lines.append("| " + " | ".join(cells) + " |")
    settings = " ".join(f"`{k}={v}`" for k, v in fixed.items())
    note = "Mean ± standard deviation over seeds; n = finished jobs."
    return "\n".join([*([f"Common settings: {settings}", ""] if settings else []), *lines, "", note]) + "\n"


def plot(table: pd.DataFrame, x: str, metric: str, keys: list[str], path: Path) -> Path:
    """Plot `metric` (mean ± std over seeds) against the swept value `x`, one line per other setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    others = [k for k in keys if k != x]
    figure, axes = plt.subplots(figsize=(5, 3.5))
    lines = table.groupby(others, sort=False) if others else [((), table)]
    for values, line in lines:
        line = line.sort_values(x, key=_sortable)
        xs = _sortable(line[x])
        label = ", ".join(f"{k}={v}" for k, v in zip(others, values if isinstance(values, tuple) else (values,)))
        axes.errorbar(
            xs, line[f"{metric} mean"], yerr=line[f"{metric} std"].fillna(0), marker="o", capsize=3, label=label or None
        )
    numeric = pd.to_numeric(table[x], errors="coerce")
    if numeric.notna().all() and numeric.min() > 0 and numeric.max() / numeric.min() > 100:
        axes.set_xscale("log")
    axes.set_xlabel(x)
    axes.set_ylabel(metric)
    axes.set_title("mean ± std over seeds", fontsize="small")
    if others:
        axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


def collect(
    folders: list[Path], out: Path, metrics: list[str] | None = None, x: str | None = None, metric: str | None = None
) -> dict[str, Path]:
    """Write jobs.csv, results.csv, results.md and a plot into `out`; return their paths."""
    jobs = load_jobs(folders)
    require(bool(jobs.metrics), f"No job in {[str(f) for f in folders]} finished: see failure.json in its folders.")
    metrics = metrics or [m for m in jobs.metrics if m == DEFAULT_METRIC or m.startswith("test/")] or jobs.metrics
    metric = metric or (DEFAULT_METRIC if DEFAULT_METRIC in metrics else metrics[0])
    metrics = metrics if metric in metrics else [*metrics, metric]
    missing = [m for m in metrics if m not in jobs.metrics]
    require(not missing, f"No job reported {missing}: choose metrics among {jobs.metrics}.")
    keys = [k for k in jobs.varying if k != SEED]
    table = summarise(jobs, metrics)
    out.mkdir(parents=True, exist_ok=True)
    written = {"jobs": out / "jobs.csv", "csv": out / "results.csv", "markdown": out / "results.md"}
    jobs.frame.to_csv(written["jobs"], index=False)
    table.to_csv(written["csv"], index=False)
    written["markdown"].write_text(markdown(table, keys, metrics, jobs.fixed))
    numeric = [k for k in keys if pd.to_numeric(table[k], errors="coerce").notna().all()]
    x = x or next(iter(numeric or keys), None)
    if x is not None:
        require(x in keys, f"--x {x} is not a swept value: choose one of {keys}.")
        written["plot"] = plot(table, x, metric, keys, out / f"{metric.replace('/', '_')}_vs_{x}.png")
    return written


def main(argv: list[str] | None = None) -> None:
    """Entry point of `aelab-collect`."""
    parser = argparse.ArgumentParser(prog="aelab-collect", description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="multirun folders (or single run folders)")
    parser.add_argument("--out", type=Path, help="where to write the tables and plot (default: the first folder)")
    parser.add_argument("--metrics", help="comma-separated metrics for the table (default: val/loss_best and test/*)")
    parser.add_argument("--x", help="the swept override to plot against (default: the first numeric one)")
    parser.add_argument("--metric", help=f"the metric to plot (default: {DEFAULT_METRIC})")
    args = parser.parse_args(argv)
    try:
        written = collect(
            args.folders,
            args.out or args.folders[0],
            args.metrics.split(",") if args.metrics else None,
            args.x,
            args.metric,
        )
    except UserError as error:
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(2)
    print(written["markdown"].read_text())
    for kind, path in written.items():
        print(f"{kind}: {path}")


if __name__ == "__main__":
    main()
