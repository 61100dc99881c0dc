"""Benchmark files that each hold one labelled series whose first steps are for training (UCR, NAB, TSB-AD)."""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aelab.data.timeseries import SeriesDataModule, SeriesSet, SeriesSource
from aelab.utils.errors import require


@dataclass
class LabelledSeries:
    """One benchmark series: values [T, C], step labels [T], the end of its training prefix, where it came from."""

    values: np.ndarray
    labels: np.ndarray
    train_end: int
    name: str
    dataset: str
    selector: dict  # the data settings that select this series alone (aelab-benchmark's jobs)
    times: np.ndarray | None = None


def matching_files(pattern: str | None, key: str, hint: str) -> list[Path]:
    """The files a path or glob names, sorted; a pattern matching none is a user error."""
    require(pattern is not None, f"data.{key} is not set: give {hint}.")
    found = sorted(glob.glob(str(pattern))) if glob.has_magic(str(pattern)) else [str(pattern)]
    files = [Path(f) for f in found if Path(f).is_file()]
    require(bool(files), f"data.{key}={pattern} matches no file: give {hint}.")
    return files


def prefix_end(train_end: int | float, length: int, name: str) -> int:
    """A training prefix given as a fraction in (0, 1) or a number of steps, checked against the series."""
    if isinstance(train_end, float):
        require(0 < train_end < 1, f"data.train_end={train_end} must be a fraction in (0, 1) or a number of steps.")
        end = int(np.floor(train_end * length))
    else:
        end = int(train_end)
    require(
        0 < end < length,
        f"data.train_end={train_end} leaves no training or no test steps in {name} ({length} steps); "
        f"give a number of steps between 1 and {length - 1} or a fraction.",
    )
    return end


def dataset_of(name: str) -> str:
    """A series' dataset: its name without the trailing number (InternalBleeding16 -> InternalBleeding)."""
    return re.sub(r"[_-]?\d+$", "", name) or name


class LabelledFilesDataModule(SeriesDataModule):
    """Files of labelled series with a training prefix: trains on each prefix, scores what follows it.

    Subclasses implement `read_series()`. `score_prefix` scores the whole file instead (TSB-AD's protocol);
    labelled steps inside a prefix are left out of training as usual.
    """

    score_prefix = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._series: list[LabelledSeries] | None = None

    def read_series(self) -> list[LabelledSeries]:
        """Return every series the settings name."""
        raise NotImplementedError

    def all_series(self) -> list[LabelledSeries]:
        """The series, read once."""
        if self._series is None:
            self._series = self.read_series()
        return self._series

    def _set(self, part: str) -> SeriesSet:
        chosen = []
        for s in self.all_series():
            cut = slice(0, s.train_end) if part == "train" else slice(0 if self.score_prefix else s.train_end, None)
            chosen.append((s.values[cut], s.labels[cut], None if s.times is None else s.times[cut], s.name))
        times = [t for _, _, t, _ in chosen]
        return SeriesSet(
            [v for v, _, _, _ in chosen],
            [lab for _, lab, _, _ in chosen],
            [n for _, _, _, n in chosen],
            None if any(t is None for t in times) else times,
        )

    def read_train(self) -> SeriesSet:
        return self._set("train")

    def read_test(self) -> SeriesSet:
        return self._set("test")

    def sources(self) -> list[SeriesSource]:
        return [SeriesSource(s.name, s.dataset, s.selector) for s in self.all_series()]
