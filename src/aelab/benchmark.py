"""aelab-benchmark: every series of a benchmark x neural detector x seed, with the baselines once per series.

    aelab-benchmark data=ucr_anomaly data.path='UCR/*.txt' detectors=[mlp,conv1d,lstm,pca,iforest] seeds=[0,1,2]

The neural detectors (nets) run as one `aelab-train -m` sweep over series, nets and seeds (so `launcher=joblib`
or `launcher=slurm` apply, and a failed job is recorded in its folder, not fatal); the baselines are fitted
here on each series' training windows. Every run is a row of `results.csv` in `out` (series, dataset,
detector, seed, status, every metric, fit and score seconds), summarised in `summary.md` and `ranks.png`.
The same command again skips the rows already there.
"""

from __future__ import annotations

import logging
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from aelab.train import CONFIGS
from aelab.utils.cli import hydra_main

log = logging.getLogger("aelab")
KEYS = ["series", "dataset", "detector", "seed", "status"]


def hydra_value(value) -> str:
    """A value as a Hydra override writes it: strings quoted, lists in brackets."""
    if isinstance(value, list | tuple):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


def split_detectors(names: list[str]) -> tuple[list[str], list[str]]:
    """Nets (one training job per series and seed) and baselines; an unknown name is a user error."""
    from aelab.metrics.baselines import KINDS
    from aelab.utils.errors import require

    nets = sorted(p.stem for p in (CONFIGS / "net").glob("*.yaml"))
    unknown = [n for n in names if n not in nets and n not in KINDS]
    require(
        not unknown,
        f"Unknown detectors {unknown}: choose nets ({', '.join(nets)}) and baselines ({', '.join(KINDS)}).",
    )
    return [n for n in names if n in nets], [n for n in names if n in KINDS]


def read_results(path: Path) -> pd.DataFrame:
    """The rows written so far (none when the file is absent)."""
    if path.is_file():
        return pd.read_csv(path, dtype={"series": str, "detector": str})
    return pd.DataFrame(columns=KEYS)


def done(rows: pd.DataFrame, retry_failed: bool) -> set[tuple]:
    """(series, detector, seed) keys already in the results (failed ones too unless retried)."""
    kept = rows if not retry_failed else rows[rows.status.isin(("finished", "time_limit"))]
    return {(r.series, r.detector, _seed(r.seed)) for r in kept.itertuples()}


def _seed(value) -> int | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)


def sweeps(pending: dict[str, set[tuple[str, int]]]) -> list[tuple[list[str], list[str], list[int]]]:
    """Group pending (net, seed) jobs per series into as few product sweeps as possible: (series, nets, seeds)."""
    groups: dict[tuple, list[str]] = {}
    for series, jobs in pending.items():
        nets, seeds = sorted({n for n, _ in jobs}), sorted({s for _, s in jobs})
        if len(jobs) == len(nets) * len(seeds):
            groups.setdefault((tuple(nets), tuple(seeds)), []).append(series)
        else:
            for net in nets:
                mine = tuple(sorted(s for n, s in jobs if n == net))
                groups.setdefault(((net,), mine), []).append(series)
    return [(names, list(nets), list(seeds)) for (nets, seeds), names in groups.items()]


def baseline_rows(cfg: DictConfig, source, names: list[str]) -> list[dict]:
    """Fit the baselines on one series' training windows and score its test split; one row each."""
    from hydra.utils import instantiate

    from aelab.metrics.baselines import fit_baselines
    from aelab.metrics.detector import METRICS, detect, score_split, validation_quantiles
    from aelab.utils.errors import find_user_error

    base = {"series": source.name, "dataset": source.dataset, "seed": None}
    try:
        config = cfg.data.copy()
        for key, value in source.overrides.items():
            OmegaConf.update(config, key, value, merge=False)
        datamodule = instantiate(config, _convert_="all")
        datamodule.prepare_data()
        datamodule.setup("fit")
        fitted, fit_seconds = fit_baselines(names, datamodule.windows("train").x, cfg.pca_components)
        known = validation_quantiles(score_split(None, fitted, datamodule, "val"))
        stored = {"baselines": {n: b.state() for n, b in fitted.items()}, "quantiles": known}
        _, _, report = detect(None, datamodule, stored, cfg.quantile, None, cfg.vus_window, cfg.top1_margin)
    except Exception as error:  # a series that cannot be scored is counted, not fatal
        user = find_user_error(error)
        if user is None:
            log.exception("Baselines failed on %s", source.name)
        reason = str(user) if user is not None else repr(error)
        return [base | {"detector": n, "status": "failed", "error": reason} for n in names]
    rows = []
    for name in names:
        metrics = {m: report[name].get(m) for m in METRICS}
        seconds = {"fit_seconds": fit_seconds[name], "score_seconds": report[name]["score_seconds"]}
        rows.append(base | {"detector": name, "status": "finished", **metrics, **seconds})
    return rows


def selected(config: DictConfig, keys: list[str]) -> tuple:
    """The values a job's config has for the selector keys (data.path, ...), as a comparable key."""
    values = [OmegaConf.select(config, k) for k in keys]
    return tuple(repr(OmegaConf.to_container(v) if OmegaConf.is_config(v) else v) for v in values)


def job_row(job: Path, by_selector: dict, keys: list[str], job_minutes: float | None) -> dict | None:
    """One finished (or failed) sweep job as a row; None for a folder that is not one of this benchmark's jobs."""
    import json

    from aelab.metrics.detector import METRICS
    from aelab.utils.sweep import read_failure

    config = OmegaConf.load(job / ".hydra" / "config.yaml")
    choices = OmegaConf.load(job / ".hydra" / "hydra.yaml").hydra.runtime.choices
    source = by_selector.get(selected(config, keys))
    if source is None:
        return None
    row = {"series": source.name, "dataset": source.dataset, "detector": choices.net, "seed": int(config.seed)}
    failure = read_failure(job)
    metrics_file = job / "metrics.json"
    if failure is not None:
        return row | {"status": "failed", "error": failure.error}
    if not metrics_file.is_file():
        return row | {"status": "unfinished", "error": f"no metrics.json in {job} (killed, or out of time)"}
    found = json.loads(metrics_file.read_text())
    fit = found.get("test/fit_seconds")
    limited = job_minutes is not None and fit is not None and fit >= 60 * job_minutes
    metrics = {m: found.get(f"test/{m}") for m in METRICS}
    seconds = {"fit_seconds": fit, "score_seconds": found.get("test/score_seconds")}
    return row | {"status": "time_limit" if limited else "finished", **metrics, **seconds, "job": str(job)}


def train_command(cfg: DictConfig, data_overrides: list[str], sweep: tuple, sweep_dir: Path) -> list[str]:
    """The `aelab-train -m` command line of one sweep over series, nets and seeds."""
    series_overrides, nets, seeds = sweep
    by_key: dict[str, list[str]] = {}
    for key, value in series_overrides:
        by_key.setdefault(key, []).append(hydra_value(value))
    command = [str(Path(sys.executable).parent / "aelab-train"), "-m", *data_overrides]
    command += [f"{key}={','.join(values)}" for key, values in by_key.items()]
    command += [f"net={','.join(nets)}", f"seed={','.join(map(str, seeds))}"]
    command += [
        "callbacks.series_scores.baselines=[]",  # the baselines run once per series, here
        f"callbacks.series_scores.vus_window={cfg.vus_window}",
        f"callbacks.series_scores.top1_margin={cfg.top1_margin}",
        f"callbacks.series_scores.quantile={cfg.quantile}",
        "trainer.enable_progress_bar=false",
        "callbacks.progress_bar=null",
        "print_config=false",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    if cfg.job_minutes is not None:
        seconds = int(60 * cfg.job_minutes)
        command.append(f"++trainer.max_time={{seconds: {seconds}}}")
    if cfg.launcher:
        command.append(f"hydra/launcher={cfg.launcher}")
    return [*command, *cfg.train]


def benchmark(cfg: DictConfig) -> dict[str, float]:
    """Score every pending series x detector x seed, append the rows to results.csv, rewrite the summary."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate
    from rich.console import Console

    from aelab.metrics.benchmark_summary import markdown, rank_plot
    from aelab.utils.errors import require
    from aelab.utils.sweep import job_dirs

    nets, baselines = split_detectors(list(cfg.detectors))
    require(not nets or bool(cfg.seeds), "seeds is empty: give seeds=[0,1,2] for the neural detectors.")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.csv"
    rows = read_results(results)
    finished = done(rows, cfg.retry_failed)
    if cfg.retry_failed:
        rows = rows[rows.status.isin(("finished", "time_limit"))]
    sources = instantiate(cfg.data, _convert_="all").sources()
    console = Console(stderr=True)
    console.print(f"aelab-benchmark: {len(sources)} series, detectors {list(cfg.detectors)} → {out}")

    new_rows = []
    for source in sources:
        todo = [b for b in baselines if (source.name, b, None) not in finished]
        if todo:
            new_rows += baseline_rows(cfg, source, todo)
    pending: dict[str, set[tuple[str, int]]] = {}
    for source in sources:
        jobs = {(n, int(s)) for n in nets for s in cfg.seeds if (source.name, n, int(s)) not in finished}
        if jobs:
            pending[source.name] = jobs
    by_name = {s.name: s for s in sources}
    keys = sorted({f"data.{k}" for s in sources for k in s.overrides})  # what tells the series' jobs apart
    by_selector = {tuple(repr(s.overrides[k.removeprefix("data.")]) for k in keys): s for s in sources}
    task = list(HydraConfig.get().overrides.task)
    data_choice = HydraConfig.get().runtime.choices.data
    passed = [o for o in task if o.lstrip("+~").startswith(("data.", "paths."))]
    passed = [o for o in passed if o.lstrip("+~").split("=", 1)[0] not in keys]
    stamp = pd.Timestamp.now().strftime("%Y-%m-%d_%H-%M-%S")
    for i, (names, sweep_nets, seeds) in enumerate(sweeps(pending)):
        selectors = [(f"data.{k}", v) for n in names for k, v in by_name[n].overrides.items()]
        sweep_dir = out / "runs" / f"{stamp}_{i}"
        command = train_command(cfg, [f"data={data_choice}", *passed], (selectors, sweep_nets, seeds), sweep_dir)
        console.print(f"aelab-benchmark: {len(names)} series x {sweep_nets} x seeds {seeds} → {sweep_dir}")
        # A sweep with failed jobs exits 1 after running the others: their folders say what failed.
        subprocess.run(command, check=False)
        jobs = job_dirs(sweep_dir) if sweep_dir.is_dir() else []
        found = [r for r in (job_row(j, by_selector, keys, cfg.job_minutes) for j in jobs) if r is not None]
        seen = {(r["series"], r["detector"], r["seed"]) for r in found}
        missing = [(n, net, s) for n in names for net in sweep_nets for s in seeds if (n, net, s) not in seen]
        found += [
            {"series": n, "dataset": by_name[n].dataset, "detector": net, "seed": s, "status": "unfinished"}
            for n, net, s in missing
        ]
        new_rows += found
    table = pd.concat([rows, pd.DataFrame(new_rows)], ignore_index=True) if new_rows else rows
    columns = [*KEYS, *[c for c in table.columns if c not in KEYS and c not in ("error", "job")], "error", "job"]
    table = table.reindex(columns=columns)
    table.to_csv(results, index=False)
    plot = rank_plot(table, out / "ranks.png")
    (out / "summary.md").write_text(markdown(table, plot=plot.name if plot else None))
    scored = table[table.status.isin(("finished", "time_limit"))]
    console.print(f"aelab-benchmark: {len(new_rows)} new rows, {len(scored)} of {len(table)} scored → {results}")
    return {"rows": float(len(table)), "scored": float(len(scored))}


@hydra_main(str(CONFIGS), "benchmark", "aelab-benchmark")
def main(cfg: DictConfig) -> None:
    """Entry point of `aelab-benchmark`."""
    from aelab.utils.task import run_task

    run_task(benchmark, cfg)


if __name__ == "__main__":
    main()
