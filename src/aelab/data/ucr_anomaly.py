"""The UCR time-series anomaly archive (KDD Cup 2021): one series per file, its training prefix and anomaly in the name.

A file `NNN_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt` holds the values without a header, one per line
or all on one line separated by whitespace (both occur in the archive). Values 1..trainEnd (1-based) are
normal training data; the one anomaly spans values begin..end (1-based, inclusive) and lies after trainEnd.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from aelab.data.labelled_files import LabelledFilesDataModule, LabelledSeries, dataset_of, matching_files
from aelab.utils.errors import UserError, require

NAME = re.compile(r"^(?P<number>\d+)_UCR_Anomaly_(?P<name>.+)_(?P<train>\d+)_(?P<begin>\d+)_(?P<end>\d+)\.txt$")
PATTERN = "NNN_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt"


def read_values(path: Path) -> np.ndarray:
    """The numbers of a UCR anomaly file, whatever whitespace separates them."""
    words = path.read_text(errors="replace").split()
    try:
        values = np.array(words, dtype=np.float64)
    except ValueError:
        bad = next(w for w in words if not _number(w))
        raise UserError(
            f"{path} is not a UCR anomaly file: {bad[:20]!r} is not a number (it holds one value per line, "
            "or all values on one line, and no header)."
        ) from None
    require(len(values) > 0, f"{path} holds no values.")
    require(bool(np.isfinite(values).all()), f"{path} holds missing or infinite values; clean them.")
    return values.astype(np.float32)


def _number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def read_ucr_anomaly(path: Path) -> LabelledSeries:
    """One UCR anomaly file as a labelled series, checked against the indices in its name."""
    match = NAME.match(path.name)
    require(
        match is not None,
        f"{path.name} is not named as the UCR anomaly archive names its files ({PATTERN}): the name gives the "
        "training prefix and the anomaly; rename it, or read it with data=csv.",
    )
    values = read_values(path)
    train_end, begin, end = (int(match[k]) for k in ("train", "begin", "end"))
    require(
        0 < train_end < begin <= end <= len(values),
        f"{path.name} names training values 1..{train_end} and an anomaly at {begin}..{end}, which do not fit its "
        f"{len(values)} values (the archive's indices are 1-based, the anomaly after the training part).",
    )
    labels = np.zeros(len(values), np.int64)
    labels[begin - 1 : end] = 1
    name = match["name"]
    return LabelledSeries(values[:, None], labels, train_end, path.stem, dataset_of(name), {"path": str(path)})


class UCRAnomalyDataModule(LabelledFilesDataModule):
    """UCR anomaly archive files (`data.path`: a file or a glob): trains on each prefix, scores the rest."""

    def __init__(self, *args, path: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()

    def read_series(self) -> list[LabelledSeries]:
        files = matching_files(self.hparams.path, "path", f"a UCR anomaly file or a glob of them ({PATTERN})")
        return [read_ucr_anomaly(f) for f in files]
