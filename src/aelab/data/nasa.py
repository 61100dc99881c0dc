"""NASA's SMAP and MSL telemetry (Hundman et al., KDD 2018): train/<chan>.npy, test/<chan>.npy, labeled_anomalies.csv.

Each channel's arrays are [T, C]: the first column is the telemetry value, the others encoded commands
(`data.commands=true` models them too). `labeled_anomalies.csv` (chan_id, spacecraft, anomaly_sequences,
class, num_values) gives the test series' anomalies as [start, end] index pairs. Published loaders
disagree on their convention; in the file every end is at most num_values - 1 and many equal it (an
anomaly running to the last value), so they are read as 0-based and inclusive: steps start..end.
A channel listed twice (SMAP's P-2 is) gets the union of its rows' ranges.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import numpy as np

from aelab.data.timeseries import SeriesDataModule, SeriesSet, SeriesSource
from aelab.utils.errors import UserError, require

log = logging.getLogger("aelab")
SPACECRAFT = ("SMAP", "MSL")
COLUMNS = ("chan_id", "spacecraft", "anomaly_sequences", "num_values")


def read_ranges(text: str, channel: str) -> list[tuple[int, int]]:
    """The [start, end] pairs of one row's anomaly_sequences."""
    try:
        pairs = ast.literal_eval(str(text))
        ranges = [(int(a), int(b)) for a, b in pairs]
    except (ValueError, SyntaxError, TypeError) as error:
        raise UserError(
            f"labeled_anomalies.csv gives channel {channel} anomaly_sequences {text!r}, not a list of [start, end]."
        ) from error
    return ranges


def read_labels(root: Path, spacecraft: str) -> dict[str, tuple[list[tuple[int, int]], int]]:
    """Each channel of the spacecraft: its anomaly ranges and num_values."""
    import pandas as pd

    path = root / "labeled_anomalies.csv"
    require(path.is_file(), f"{path} is missing: data.root must hold labeled_anomalies.csv, train/ and test/.")
    try:
        table = pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise UserError(f"{path} is not a readable CSV.") from error
    missing = [c for c in COLUMNS if c not in table.columns]
    require(not missing, f"{path} has no column {', '.join(missing)} (the NASA labels file has {', '.join(COLUMNS)}).")
    channels: dict[str, tuple[list[tuple[int, int]], int]] = {}
    for row in table[table.spacecraft == spacecraft].itertuples():
        ranges = read_ranges(row.anomaly_sequences, row.chan_id)
        if row.chan_id in channels:
            log.warning("labeled_anomalies.csv lists %s twice: its ranges are joined.", row.chan_id)
            ranges = channels[row.chan_id][0] + ranges
        channels[row.chan_id] = (ranges, int(row.num_values))
    require(bool(channels), f"{path} lists no {spacecraft} channel.")
    return channels


def load_channel(path: Path, commands: bool) -> np.ndarray:
    """One channel's array as float32 [T, C] (the telemetry value alone unless `commands`)."""
    require(path.is_file(), f"{path} is missing: NASA channels need train/<chan>.npy and test/<chan>.npy.")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise UserError(f"{path} is not a readable .npy file.") from error
    require(array.ndim in (1, 2) and len(array) > 0, f"{path} holds an array of shape {array.shape}, not [T, C].")
    array = array.reshape(len(array), -1).astype(np.float32)
    require(bool(np.isfinite(array).all()), f"{path} holds missing or infinite values.")
    return array if commands else array[:, :1]


def step_labels(channel: str, ranges: list[tuple[int, int]], num_values: int, length: int) -> np.ndarray:
    """Test labels from 0-based inclusive ranges, checked against num_values and the test series."""
    require(
        num_values == length,
        f"test/{channel}.npy has {length} values but labeled_anomalies.csv says num_values={num_values}.",
    )
    labels = np.zeros(length, np.int64)
    for start, end in ranges:
        require(
            0 <= start <= end < num_values,
            f"labeled_anomalies.csv gives channel {channel} the range [{start}, {end}], outside its {num_values} "
            "values (0-based, ends included).",
        )
        labels[start : end + 1] = 1
    return labels


class NASADataModule(SeriesDataModule):
    """SMAP or MSL channels under `data.root`: trains on each channel's train/ array, scores its test/ array."""

    def __init__(
        self, *args, spacecraft: str = "SMAP", channels: str | list[str] = "all", commands: bool = False, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()
        require(spacecraft in SPACECRAFT, f"data.spacecraft must be SMAP or MSL, not {spacecraft!r}.")
        self._labels: dict | None = None

    def labels(self) -> dict:
        """The spacecraft's channels and their labels, read once."""
        if self._labels is None:
            self._labels = read_labels(Path(self.root), self.hparams.spacecraft)
        return self._labels

    def chosen(self) -> list[str]:
        """The channels `data.channels` names (all: every channel of the spacecraft)."""
        known = self.labels()
        wanted = self.hparams.channels
        if wanted == "all":
            return sorted(known)
        wanted = [wanted] if isinstance(wanted, str) else [str(c) for c in wanted]
        unknown = [c for c in wanted if c not in known]
        require(
            not unknown,
            f"labeled_anomalies.csv lists no {self.hparams.spacecraft} channel {', '.join(unknown)}; "
            f"choose among {', '.join(sorted(known)[:8])}, ... or all.",
        )
        return wanted

    def _read(self, part: str) -> SeriesSet:
        root, commands = Path(self.root), self.hparams.commands
        values, labels, names = [], [], []
        for channel in self.chosen():
            array = load_channel(root / part / f"{channel}.npy", commands)
            if part == "train":
                labels.append(np.zeros(len(array), np.int64))  # the training arrays hold no labelled anomaly
            else:
                ranges, num_values = self.labels()[channel]
                labels.append(step_labels(channel, ranges, num_values, len(array)))
            values.append(array)
            names.append(f"{self.hparams.spacecraft} {channel}")
        return SeriesSet(values, labels, names)

    def read_train(self) -> SeriesSet:
        return self._read("train")

    def read_test(self) -> SeriesSet:
        return self._read("test")

    def sources(self) -> list[SeriesSource]:
        return [SeriesSource(c, self.hparams.spacecraft, {"channels": [c]}) for c in self.chosen()]
