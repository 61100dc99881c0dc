"""TSB-AD's curated series (Liu & Paparrizos, NeurIPS 2024): CSV files of value columns and a `Label` column.

The training length is in the name, `<NNN>_<dataset>_..._tr_<n>_1st_<m>.csv` (the first n steps are
normal; m is where the first anomaly starts). As TSB-AD's own evaluation does, the whole file is scored.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from aelab.data.labelled_files import LabelledFilesDataModule, LabelledSeries, matching_files
from aelab.utils.errors import UserError, require

NAME = re.compile(r"^(?P<number>\d+)_(?P<dataset>[^_]+)_.*_tr_(?P<train>\d+)_1st_(?P<first>\d+)\.csv$")
PATTERN = "<NNN>_<dataset>_<name>_tr_<n>_1st_<m>.csv"


def read_tsb_ad(path: Path) -> LabelledSeries:
    """One TSB-AD CSV as a labelled series, its training length from the name."""
    import pandas as pd

    match = NAME.match(path.name)
    require(
        match is not None,
        f"{path.name} is not named as TSB-AD names its files ({PATTERN}): the name gives the training length; "
        "rename it, or read it with data=csv.",
    )
    try:
        table = pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise UserError(f"{path} is not a readable CSV with a header row.") from error
    require("Label" in table.columns, f"{path} has no Label column (TSB-AD files end with one; it has {list(table)}).")
    columns = [c for c in table.columns if c != "Label"]
    require(bool(columns), f"{path} has no value columns before its Label column.")
    try:
        values = table[columns].to_numpy(dtype=np.float64)
    except ValueError as error:
        raise UserError(f"{path} has value columns that are not numeric; TSB-AD files hold numbers only.") from error
    require(bool(np.isfinite(values).all()), f"{path} holds missing or infinite values; clean them.")
    labels = table["Label"].to_numpy()
    require(bool(np.isin(labels, (0, 1)).all()), f"The Label column of {path} holds values other than 0 and 1.")
    train_end = int(match["train"])
    require(
        0 < train_end < len(values),
        f"{path.name} names a training length of {train_end} steps, which does not fit its {len(values)} steps.",
    )
    selector = {"path": str(path)}
    return LabelledSeries(
        values.astype(np.float32), labels.astype(np.int64), train_end, path.stem, match["dataset"], selector
    )


class TSBADDataModule(LabelledFilesDataModule):
    """TSB-AD CSV files (`data.path`: a file or a glob): trains on each file's first n steps, scores the whole file."""

    score_prefix = True

    def __init__(self, *args, path: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()

    def read_series(self) -> list[LabelledSeries]:
        files = matching_files(self.hparams.path, "path", f"a TSB-AD CSV file or a glob of them ({PATTERN})")
        return [read_tsb_ad(f) for f in files]
