"""The series detectors side by side with the field's metrics, on data made here: writes results/series_benchmark.md.

    python scripts/series_benchmark.py [--seeds 0 1] [--epochs 10] [--out logs/series_benchmark]

The public benchmarks' files cannot be downloaded here, so this runs `aelab-benchmark` on the embedded
synthetic series (per-step labels) and on small files written in each format (UCR anomaly archive, NAB,
NASA SMAP/MSL, TSB-AD; tests/series_files.py writes them from aelab's generator, each with level-shift
anomalies of 4 standard deviations). Running it again resumes: scored rows are kept.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

from results import REPO, write_result

sys.path.insert(0, str(REPO / "tests"))
from series_files import write_nab, write_nasa, write_tsb_ad, write_ucr_anomaly  # noqa: E402

NETS = ["mlp", "conv1d", "lstm"]
BASELINES = ["pca", "tsb_pca", "iforest"]
METRICS = {"vus_pr": "VUS-PR", "vus_roc": "VUS-ROC", "auroc": "AUROC", "range_auc_pr": "range-AUC-PR", "top1": "top-1"}


def write_files(folder: Path) -> dict[str, list[str]]:
    """Small files in each format; return each benchmark's data overrides."""
    ucr = folder / "ucr"
    for i, (begin, seed) in enumerate([(1500, 0), (1700, 1), (1300, 2)], start=1):
        write_ucr_anomaly(ucr, number=i, name=f"Seasonal{i}", length=2400, train_end=1000, begin=begin,
                          end=begin + 40, seed=seed)  # fmt: skip
    write_nab(
        folder / "nab", {"realA/a.csv": (4000, [(2500, 2560)]), "realB/b.csv": (3600, [(2000, 2030), (3000, 3060)])}
    )
    write_nasa(
        folder / "nasa", {"P-1": ("SMAP", 2000, 1800, [(900, 960)]), "E-1": ("SMAP", 2000, 1600, [(1200, 1230)])}
    )
    for i, seed in enumerate([3, 4], start=1):
        write_tsb_ad(folder / "tsb", number=i, length=2500, train=1000, spans=((1500, 1540), (2100, 2120)), seed=seed)
    return {
        "synthetic_ts": ["data=synthetic_ts", "data.window=auto", "data.stride=1", "data.test_stride=1"],
        "ucr_anomaly": ["data=ucr_anomaly", f"data.path={ucr}/*.txt"],
        "nab": ["data=nab", f"data.root={folder / 'nab'}", "data.train_end=0.25"],
        "nasa": ["data=nasa", f"data.root={folder / 'nasa'}", "data.window=auto"],
        "tsb_ad": ["data=tsb_ad", f"data.path={folder / 'tsb'}/*.csv"],
    }


def run(name: str, data: list[str], out: Path, seeds: list[int], epochs: int) -> pd.DataFrame:
    """One aelab-benchmark command (resumable); return its rows."""
    train = ",".join(f"'{o}'" for o in ["trainer=cpu", f"trainer.max_epochs={epochs}", "model.latent_dim=16"])
    command = [
        str(Path(sys.executable).parent / "aelab-benchmark"),
        *data,
        f"detectors=[{','.join(NETS + BASELINES)}]",
        f"seeds=[{','.join(map(str, seeds))}]",
        f"train=[{train}]",
        f"out={out / name}",
        f"hydra.run.dir={out / name / 'log'}",
    ]
    subprocess.run(command, check=True)
    return pd.read_csv(out / name / "results.csv").assign(benchmark=name)


def table(rows: pd.DataFrame) -> tuple[list[str], list[list]]:
    """One row per benchmark and detector: series scored, mean metrics (seeds averaged first), wins, failures."""
    header = ["data", "detector", "series", *METRICS.values(), "VUS-PR wins vs `pca`", "failed", "s / run"]
    body = []
    for name, part in rows.groupby("benchmark", sort=False):
        scored = part[part.status.isin(("finished", "time_limit"))]
        per_series = scored.groupby(["series", "detector"])[list(METRICS)].mean()
        pca = per_series.xs("pca", level="detector")["vus_pr"] if "pca" in set(part.detector) else None
        for detector in [*NETS, *BASELINES]:
            mine = part[part.detector == detector]
            if mine.empty:
                continue
            values = per_series.xs(detector, level="detector") if detector in set(scored.detector) else None
            cells = [f"{values[m].mean():.3f}" if values is not None else "–" for m in METRICS]
            wins = "–"
            if detector != "pca" and values is not None and pca is not None:
                both = pd.concat([values["vus_pr"], pca], axis=1, keys=["me", "pca"]).dropna()
                wins = f"{int((both.me > both.pca).sum())}/{len(both)}"
            done = mine[mine.status.isin(("finished", "time_limit"))]
            seconds = (done.fit_seconds.fillna(0) + done.score_seconds.fillna(0)).mean()
            count = 0 if values is None else len(values)
            body.append([f"`{name}`", f"`{detector}`", count, *cells, wins, len(mine) - len(done), f"{seconds:.1f}"])
    return header, body


def main(argv: list[str] | None = None) -> None:
    """Write the files, run the benchmarks and write results/series_benchmark.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=REPO / "logs" / "series_benchmark")
    args = parser.parse_args(argv)
    benchmarks = write_files(args.out / "files")
    rows = pd.concat([run(n, d, args.out, args.seeds, args.epochs) for n, d in benchmarks.items()], ignore_index=True)
    header, body = table(rows)
    raw = {f"{r[0]} {r[1]}": dict(zip(header[2:], r[2:])) for r in body}  # the table's cells, for checking
    notes = [
        "Mean over series of each detector's metric (a neural detector's seeds averaged first); VUS and range-AUC use "
        "each series' dominant period as the buffer, top-1 counts the highest score within 100 steps of an anomaly. "
        "The files are small stand-ins written in each format from aelab's generator (level shifts of 4 standard "
        "deviations), not the benchmarks' data: they show the pipeline and the metrics, not how the detectors rank "
        "on UCR, NAB, NASA or TSB-AD.",
    ]
    setting = f"nets {NETS} x seeds {args.seeds}, {args.epochs} epochs, model.latent_dim=16, CPU"
    command = "python scripts/series_benchmark.py" + (f" --seeds {' '.join(map(str, args.seeds))}")
    write_result("series_benchmark", header, body, raw, command, setting, notes)


if __name__ == "__main__":
    main()
