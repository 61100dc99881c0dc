"""aelab-benchmark's summary: per dataset and detector, mean and median metrics, wins against PCA, failures, time;
and a rank plot with Nemenyi's critical difference (Demšar 2006) over the series every detector scored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SCORED = ("finished", "time_limit")  # rows whose metrics count (time_limit: training was cut, then scored)
# Nemenyi's two-tailed q at alpha = 0.05 for 2..10 detectors (Demšar 2006, Table 5).
Q_05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164}


def per_series(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One value per series and detector: the mean over seeds of the scored rows. [series, detector]"""
    scored = rows[rows.status.isin(SCORED)]
    return scored.pivot_table(index="series", columns="detector", values=metric, aggfunc="mean")


def average_ranks(table: pd.DataFrame) -> tuple[pd.Series, int]:
    """Average rank (1 best, ties shared) of each detector over the series all of them scored; and how many."""
    complete = table.dropna()
    ranks = complete.rank(axis=1, ascending=False).mean().sort_values()
    return ranks, len(complete)


def critical_difference(detectors: int, series: int) -> float | None:
    """Nemenyi's critical difference of average ranks at alpha = 0.05 (None where it is not defined)."""
    if detectors not in Q_05 or series == 0:
        return None
    return Q_05[detectors] * float(np.sqrt(detectors * (detectors + 1) / (6 * series)))


def fmt(value: float) -> str:
    """A metric to three decimals, a dash where there is none."""
    return "–" if value is None or not np.isfinite(value) else f"{value:.3f}"


def summary_rows(rows: pd.DataFrame, metric: str, reference: str = "pca") -> list[list[str]]:
    """Rows of the summary table: dataset, detector, series, runs, mean, median, wins vs PCA, failures, seconds."""
    table = []
    for dataset, part in rows.groupby("dataset", sort=True):
        values = per_series(part, metric)
        for detector in list(dict.fromkeys(part.detector)):
            mine = part[part.detector == detector]
            scored = mine[mine.status.isin(SCORED)]
            column = values[detector] if detector in values else pd.Series(dtype=float)
            wins = "–"
            if detector != reference and reference in values and detector in values:
                both = values[[detector, reference]].dropna()
                wins = f"{int((both[detector] > both[reference]).sum())}/{len(both)}"
            seconds = (scored.fit_seconds.fillna(0) + scored.score_seconds.fillna(0)).sum()
            table.append(
                [
                    dataset,
                    f"`{detector}`",
                    str(int(column.notna().sum())),
                    str(len(scored)),
                    fmt(column.mean()),
                    fmt(column.median()),
                    wins,
                    str(len(mine) - len(scored)),
                    f"{seconds:.0f}",
                ]
            )
    return table


def markdown(rows: pd.DataFrame, metrics: tuple[str, ...] = ("vus_pr", "auroc"), plot: str | None = None) -> str:
    """The summary as Markdown: one table per metric, the average ranks, and the plot's file name."""
    from aelab.metrics.detector import METRICS

    header = ["dataset", "detector", "series", "runs", "mean", "median", "wins vs `pca`", "failed", "seconds"]
    lines = []
    for metric in metrics:
        lines += [f"### {metric}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in summary_rows(rows, metric)]
        lines.append("")
    ranks, count = average_ranks(per_series(rows, metrics[0]))
    if len(ranks):
        cd = critical_difference(len(ranks), count)
        listed = ", ".join(f"`{d}` {r:.2f}" for d, r in ranks.items())
        lines.append(f"Average {metrics[0]} rank over the {count} series every detector scored (1 = best): {listed}.")
        if cd is not None:
            lines.append(f"Nemenyi critical difference at alpha = 0.05: {cd:.2f}.")
        lines.append("")
    if plot:
        lines += [f"![average ranks]({plot})", ""]
    failed = rows[~rows.status.isin(SCORED)]
    if len(failed):
        lines.append(f"{len(failed)} runs did not finish: " + ", ".join(sorted(set(failed.status))) + ".")
    lines.append(
        "Mean and median over series (neural detectors: the mean over seeds first); wins: series where the detector "
        "beats `pca`; seconds: fitting and scoring, summed over runs. Metrics: " + ", ".join(METRICS) + "."
    )
    return "\n".join(lines) + "\n"


def rank_plot(rows: pd.DataFrame, path: Path, metric: str = "vus_pr") -> Path | None:
    """Draw the detectors' average ranks on a line with the critical difference as a bar; None if nothing to rank."""
    from matplotlib.figure import Figure

    ranks, count = average_ranks(per_series(rows, metric))
    if len(ranks) < 2:
        return None
    cd = critical_difference(len(ranks), count)
    figure = Figure(figsize=(7, 1.2 + 0.3 * len(ranks)), dpi=110)
    axes = figure.add_subplot(1, 1, 1)
    positions = np.arange(len(ranks))[::-1]
    axes.scatter(ranks.to_numpy(), positions, color="black", zorder=3)
    for (name, rank), y in zip(ranks.items(), positions):
        axes.annotate(f"{name} ({rank:.2f})", (rank, y), xytext=(6, -3), textcoords="offset points", fontsize=8)
    if cd is not None:
        best = float(ranks.iloc[0])
        axes.plot([best, best + cd], [len(ranks) - 0.4] * 2, color="tab:red", linewidth=3)
        axes.text(best, len(ranks) - 0.25, f"critical difference {cd:.2f}", color="tab:red", fontsize=8)
    axes.set_xlim(0.8, len(ranks) + 0.8)
    axes.set_ylim(-0.8, len(ranks) + 0.2)
    axes.set_yticks([])
    axes.set_xlabel(f"average {metric} rank over {count} series (1 = best)")
    figure.tight_layout()
    figure.savefig(path)
    return path
