"""The Numenta Anomaly Benchmark (NAB): `data/<family>/<name>.csv` (timestamp, value), `labels/combined_windows.json`.

The labels file maps each series (`<family>/<name>.csv`) to its anomaly windows, [start, end] timestamps;
steps whose timestamp lies in a window (ends included) are anomalous. A training prefix comes first:
`probation`, NAB's probationary period (min(floor(0.15 n), 750) steps, as NAB's `getProbationPeriod`),
a fraction of the series, or a number of steps; the rest is scored.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from aelab.data.labelled_files import LabelledFilesDataModule, LabelledSeries, prefix_end
from aelab.utils.errors import UserError, require

LABELS = Path("labels") / "combined_windows.json"
PROBATION = 0.15


def probation_period(length: int) -> int:
    """NAB's probationary period for a series of `length` steps."""
    return int(min(math.floor(PROBATION * length), PROBATION * 5000))


def read_windows(root: Path) -> dict:
    """The labels file: series (relative to data/) -> list of [start, end] timestamps."""
    path = root / LABELS
    require(path.is_file(), f"{path} is missing: data.root must be a NAB checkout (with data/ and labels/).")
    try:
        windows = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise UserError(
            f"{path} is not JSON: NAB's labels file maps each series to its [start, end] windows."
        ) from error
    require(
        isinstance(windows, dict) and all(isinstance(w, list) for w in windows.values()),
        f"{path} does not map series to lists of [start, end] windows, as NAB's labels file does.",
    )
    return windows


def read_nab(root: Path, key: str, windows: list, train_end) -> LabelledSeries:
    """One NAB series with its labels."""
    import pandas as pd

    path = root / "data" / key
    try:
        table = pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise UserError(f"{path} is not a readable CSV (NAB series have a timestamp,value header).") from error
    require(
        {"timestamp", "value"} <= set(table.columns),
        f"{path} has columns {list(table.columns)}, not NAB's timestamp and value.",
    )
    times = pd.to_datetime(table["timestamp"], errors="coerce")
    values = pd.to_numeric(table["value"], errors="coerce")
    require(
        not times.isna().any(), f"{path} has timestamps that cannot be read (row {int(times.isna().argmax()) + 1})."
    )
    require(not values.isna().any(), f"{path} has values that are not numbers (row {int(values.isna().argmax()) + 1}).")
    labels = np.zeros(len(table), np.int64)
    for window in windows:
        start, end = pd.to_datetime(window, errors="coerce") if len(window) == 2 else (pd.NaT, pd.NaT)
        require(
            not (pd.isna(start) or pd.isna(end)) and start <= end,
            f"{LABELS} gives {key} a window {window}, not a [start, end] pair of timestamps.",
        )
        inside = ((times >= start) & (times <= end)).to_numpy()
        require(inside.any(), f"{LABELS} gives {key} a window {window} outside its timestamps.")
        labels[inside] = 1
    length = len(table)
    end = probation_period(length) if train_end == "probation" else prefix_end(train_end, length, key)
    require(0 < end < length, f"{key} has {length} steps: too few for a training prefix and a part to score.")
    family = key.split("/")[0]
    return LabelledSeries(
        values.to_numpy(np.float32)[:, None],
        labels,
        end,
        key.removesuffix(".csv"),
        family,
        {"series": key},
        table["timestamp"].astype(str).to_numpy(),
    )


class NABDataModule(LabelledFilesDataModule):
    """NAB series under `data.root` (a checkout), chosen by `data.series`, a glob under data/ (realKnownCause/*)."""

    def __init__(self, *args, series: str = "*/*.csv", train_end: str | int | float = "probation", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()
        require(
            train_end == "probation" or isinstance(train_end, (int, float)),
            f"data.train_end={train_end!r} must be probation, a fraction in (0, 1) or a number of steps.",
        )

    def read_series(self) -> list[LabelledSeries]:
        root = Path(self.root)
        labelled = read_windows(root)
        pattern = self.hparams.series
        keys = sorted(str(p.relative_to(root / "data")) for p in (root / "data").glob(pattern) if p.is_file())
        require(
            bool(keys), f"data.series={pattern} matches no file under {root / 'data'}: give a glob such as */*.csv."
        )
        unlabelled = [k for k in keys if k not in labelled]
        if unlabelled:
            raise UserError(
                f"{root / LABELS} names no series {unlabelled[0]} ({len(unlabelled)} of the {len(keys)} chosen are "
                "not in it); choose labelled series with data.series or fix the labels file."
            )
        return [read_nab(root, key, labelled[key], self.hparams.train_end) for key in keys]
