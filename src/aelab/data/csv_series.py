"""The user's own series: CSV or .npy files, chosen columns as channels, an optional label column.

A CSV whose first row holds numbers only has no header: its columns are named 0, 1, ... as in .npy files.
A file with one column needs no data.value_columns. `data.train_end` splits each training file in two
(the first steps train, the rest is scored) instead of a separate data.test.
"""

from __future__ import annotations

import glob
import logging
from pathlib import Path

import numpy as np

from aelab.data.labelled_files import prefix_end
from aelab.data.timeseries import SeriesDataModule, SeriesSet
from aelab.utils.errors import UserError, require

log = logging.getLogger("aelab")

MISSING = ("refuse", "interpolate", "ffill", "zero")


def expand(pattern: str | None, key: str) -> list[Path]:
    """Return the files a path or glob names; a pattern matching nothing is a user error."""
    require(pattern is not None, f"data=csv needs data.{key}=<a .csv or .npy file, or a glob of them>.")
    files = sorted(glob.glob(str(pattern))) if glob.has_magic(str(pattern)) else [str(pattern)]
    files = [Path(f) for f in files if Path(f).is_file()]
    require(bool(files), f"data.{key}={pattern} matches no file; give a .csv or .npy file or a glob of them.")
    return files


class CSVSeriesDataModule(SeriesDataModule):
    """The user's series: one CSV (or .npy) file per series, chosen columns as channels, an optional label column.

    In .npy files [T] or [T, C], columns are named by their index: `value_columns=[0, 2]`.
    """

    def __init__(
        self,
        *args,
        train: str | None = None,
        test: str | None = None,
        value_columns: list[str] | None = None,
        time_column: str | None = None,
        label_column: str | None = None,
        missing: str = "refuse",
        train_end: int | float | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()
        require(missing in MISSING, f"data.missing must be one of {list(MISSING)}, not {missing!r}.")
        require(
            train_end is None or test is None,
            "data.train_end splits each data.train file into a training and a test part, so data.test must stay "
            "unset (set data.train_end=null to score data.test instead).",
        )

    @staticmethod
    def _table(path: Path):
        import pandas as pd

        try:
            if path.suffix == ".npy":
                array = np.load(path, allow_pickle=False)
                require(array.ndim in (1, 2), f"{path} holds a {array.ndim}-D array; save [steps] or [steps, columns].")
                array = array.reshape(len(array), -1)
                return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])
            with open(path, errors="replace") as stream:
                first = stream.readline().strip().split(",")
            headerless = all(_number(field) for field in first)
            table = pd.read_csv(path, header=None if headerless else "infer")
        except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
            raise UserError(f"{path} is not a readable CSV (with or without a header row) or .npy file.") from error
        table.columns = [str(c) for c in table.columns]
        return table

    def _numeric(self, path: Path, table, column: str) -> np.ndarray:
        import pandas as pd

        raw = table[column]
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = numbers.isna() & raw.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise UserError(
                f"Column {column!r} of {path} is not numeric ({raw.iloc[row]!r} in data row {row + 1}); "
                "data.value_columns and data.label_column must name numeric columns."
            )
        return numbers.to_numpy(dtype=np.float64)

    def _fill(self, path: Path, values: np.ndarray, columns: list[str]) -> np.ndarray:
        gaps = np.isnan(values)
        if not gaps.any():
            return values
        column = columns[int(np.flatnonzero(gaps.any(0))[0])]
        row = int(np.flatnonzero(gaps.any(1))[0])
        mode = self.hparams.missing
        require(
            mode != "refuse",
            f"{path} has {int(gaps.sum())} missing values (first in column {column!r}, data row {row + 1}); "
            "fill them, or set data.missing=interpolate (or ffill, zero) to have them filled.",
        )
        import pandas as pd

        frame = pd.DataFrame(values)
        if mode == "zero":
            frame = frame.fillna(0.0)
        else:
            frame = frame.interpolate(limit_direction="both") if mode == "interpolate" else frame.ffill().bfill()
        require(not frame.isna().any().any(), f"Column {column!r} of {path} has no values at all to fill from.")
        log.warning("Filled %d missing values in %s (data.missing=%s).", int(gaps.sum()), path, mode)
        return frame.to_numpy()

    def _value_columns(self, path: Path, table) -> list[str]:
        h = self.hparams
        if h.value_columns:
            return [str(c) for c in h.value_columns]
        others = [c for c in table.columns if c not in (str(h.time_column), str(h.label_column))]
        require(
            len(others) == 1,
            f"data=csv needs data.value_columns=[name, ...]: the columns to model ({path} has "
            f"{', '.join(map(repr, table.columns))}).",
        )
        return others

    def _read_file(self, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        h = self.hparams
        table = self._table(path)
        columns = self._value_columns(path, table)
        wanted = [*columns, *([str(h.time_column)] if h.time_column is not None else [])]
        absent = [c for c in wanted if c not in table.columns]
        require(
            not absent,
            f"{path} has no column {', '.join(map(repr, absent))} (it has {', '.join(map(repr, table.columns))}); "
            "every train and test file needs the columns named by data.value_columns and data.time_column.",
        )
        values = np.stack([self._numeric(path, table, c) for c in columns], axis=1)
        values = self._fill(path, values, columns).astype(np.float32)
        require(bool(np.isfinite(values).all()), f"{path} holds infinite values; clean them.")
        labels = np.full(len(values), -1, np.int64)
        if h.label_column is not None and str(h.label_column) not in table.columns:
            # New data to score usually has no labels yet: its steps stay unlabelled.
            log.info("%s has no label column %r: its steps are unlabelled.", path, str(h.label_column))
        elif h.label_column is not None:
            marks = self._numeric(path, table, str(h.label_column))
            odd = marks[~np.isin(marks, (0, 1))]
            if len(odd):
                raise UserError(
                    f"Column {str(h.label_column)!r} of {path} holds values other than 0 and 1 (e.g. {odd[0]:g}); "
                    "data.label_column must mark anomalies with 1 and normal steps with 0."
                )
            labels = marks.astype(np.int64)
        times = table[str(h.time_column)].astype(str).to_numpy() if h.time_column is not None else None
        return values, labels, times

    def _read(self, key: str) -> SeriesSet:
        split = self.hparams.train_end is not None
        pattern = self.hparams["train" if split else key]
        if key == "test" and pattern is None:
            log.warning("data.test is not set: there is no test split to score.")
            return SeriesSet()
        files = expand(pattern, "train" if split else key)
        parts = [self._read_file(path) for path in files]
        times = None if self.hparams.time_column is None else [t for _, _, t in parts]
        series = SeriesSet([v for v, _, _ in parts], [lab for _, lab, _ in parts], [str(f) for f in files], times)
        if not split:
            return series
        cut = [prefix_end(self.hparams.train_end, n, name) for n, name in zip(series.lengths, series.names)]
        pieces = [series.take([i], *((0, c) if key == "train" else (c, None))) for i, c in enumerate(cut)]
        return SeriesSet.concat(pieces)

    def read_train(self) -> SeriesSet:
        return self._read("train")

    def read_test(self) -> SeriesSet:
        return self._read("test")


def _number(field: str) -> bool:
    """Whether a CSV field reads as a number (a header row has at least one that does not)."""
    try:
        float(field)
    except ValueError:
        return False
    return True
