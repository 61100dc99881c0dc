"""Lightning's CSV logger, keeping the rows of the run it resumes (Lightning's empties metrics.csv when it starts)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers import CSVLogger as LightningCSVLogger
from pytorch_lightning.utilities import rank_zero_only


class CSVLogger(LightningCSVLogger):
    """`csv/metrics.csv` holds a resumed run's whole history: the earlier rows up to the epoch it goes on from."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._earlier = _read_rows(self._metrics_file())  # before the writer deletes the file
        self._first_step: int | None = None

    def _metrics_file(self) -> Path:
        return Path(self.log_dir) / "metrics.csv"

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Log as Lightning does; the first rows that name their epoch bring back the earlier epochs' rows first."""
        if self._first_step is None and step is not None:
            self._first_step = step
        if self._earlier and "epoch" in metrics:
            self._restore(int(metrics["epoch"]))
        super().log_metrics(metrics, step)

    def _restore(self, epoch: int) -> None:
        """Put the earlier rows of epochs before `epoch` (and epoch-less rows before this run's first step) first."""
        first = self._first_step if self._first_step is not None else float("inf")
        kept = [
            row
            for row in self._earlier
            if (int(float(row["epoch"])) < epoch if row.get("epoch") else int(float(row.get("step") or 0)) < first)
        ]
        self._earlier = []
        writer = self.experiment
        written = _read_rows(Path(writer.metrics_file_path))  # anything this run saved already goes after them
        Path(writer.metrics_file_path).unlink(missing_ok=True)
        writer.metrics[:0] = [{k: v for k, v in row.items() if v != ""} for row in [*kept, *written]]


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="") as file:
        return list(csv.DictReader(file))
