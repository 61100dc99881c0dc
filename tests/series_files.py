"""Writers of small files in the public anomaly benchmarks' formats: UCR anomaly archive, NAB, NASA SMAP/MSL, TSB-AD."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from aelab.data.synthetic_series import synthetic_series


def seasonal(length: int, seed: int = 0, channels: int = 1) -> np.ndarray:
    """A normal seasonal series [length, channels] from aelab's generator (no anomalies)."""
    return synthetic_series(length, channels=channels, seed=seed, part="test", num_anomalies=0)[0]


def with_anomaly(values: np.ndarray, start: int, stop: int, size: float = 4.0) -> np.ndarray:
    """The series with a level shift of `size` on steps [start, stop) of the first channel."""
    shifted = values.copy()
    shifted[start:stop, 0] += size
    return shifted


def write_ucr_anomaly(
    folder: Path, number: int = 1, name: str = "Seasonal1", length: int = 1200, train_end: int = 500,
    begin: int = 800, end: int = 830, one_line: bool = False, seed: int = 0,
) -> Path:  # fmt: skip
    """Write a UCR anomaly file: no header, one value per line (or all on one line); anomaly at begin..end (1-based)."""
    values = with_anomaly(seasonal(length, seed), begin - 1, end)[:, 0]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{number:03d}_UCR_Anomaly_{name}_{train_end}_{begin}_{end}.txt"
    words = [f"{v:.6f}" for v in values]
    path.write_text(("  ".join(words) if one_line else "\n".join(words)) + "\n")
    return path


NAB_START = pd.Timestamp("2014-04-01 00:00:00")


def write_nab(root: Path, series: dict[str, tuple[int, list[tuple[int, int]]]], seed: int = 0) -> Path:
    """Write a NAB checkout: data/<family>/<name>.csv (timestamp,value, 5-minute steps), labels/combined_windows.json.

    `series` maps "<family>/<name>.csv" to its length and its anomaly windows as [start, end] step indices.
    """
    windows = {}
    for i, (key, (length, spans)) in enumerate(series.items()):
        times = NAB_START + pd.to_timedelta(np.arange(length) * 5, unit="min")
        values = seasonal(length, seed + i)
        for start, end in spans:
            values = with_anomaly(values, start, end + 1)
        path = root / "data" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"timestamp": times.strftime("%Y-%m-%d %H:%M:%S"), "value": values[:, 0]}).to_csv(
            path, index=False
        )
        windows[key] = [
            [times[a].strftime("%Y-%m-%d %H:%M:%S.%f"), times[b].strftime("%Y-%m-%d %H:%M:%S.%f")] for a, b in spans
        ]
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows, indent=4))
    return root


def write_nasa(root: Path, channels: dict[str, tuple[str, int, int, list[tuple[int, int]]]], columns: int = 5) -> Path:
    """Write NASA SMAP/MSL files: train/<chan>.npy, test/<chan>.npy [T, columns] and labeled_anomalies.csv.

    `channels` maps a channel id to (spacecraft, train length, test length, anomaly ranges, 0-based inclusive).
    """
    rows = []
    for i, (channel, (craft, n_train, n_test, ranges)) in enumerate(channels.items()):
        commands = np.random.default_rng(i).integers(0, 2, (n_train + n_test, columns - 1)).astype(np.float64)
        values = np.column_stack([seasonal(n_train + n_test, i)[:, 0], commands])
        train, test = values[:n_train], values[n_train:]
        for start, end in ranges:
            test = with_anomaly(test, start, end + 1)
        for part, array in (("train", train), ("test", test)):
            (root / part).mkdir(parents=True, exist_ok=True)
            np.save(root / part / f"{channel}.npy", array)
        kinds = "[" + ", ".join("point" for _ in ranges) + "]"
        rows.append([channel, craft, json.dumps([list(r) for r in ranges]), kinds, n_test])
    table = pd.DataFrame(rows, columns=["chan_id", "spacecraft", "anomaly_sequences", "class", "num_values"])
    table.to_csv(root / "labeled_anomalies.csv", index=False)
    return root


def write_tsb_ad(
    folder: Path, number: int = 1, dataset: str = "Synth", length: int = 1500, train: int = 600,
    spans: tuple[tuple[int, int], ...] = ((900, 930), (1200, 1215)), channels: int = 1, seed: int = 0,
) -> Path:  # fmt: skip
    """Write a TSB-AD CSV: value columns then Label; the training length and first anomaly in the name."""
    values = seasonal(length, seed, channels)
    labels = np.zeros(length, np.int64)
    for start, stop in spans:
        values = with_anomaly(values, start, stop)
        labels[start:stop] = 1
    names = ["Data"] if channels == 1 else [f"Value_{c}" for c in range(channels)]
    table = pd.DataFrame(values, columns=names).assign(Label=labels)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{number:03d}_{dataset}_id_{number}_Seasonal_tr_{train}_1st_{spans[0][0]}.csv"
    table.to_csv(path, index=False)
    return path
