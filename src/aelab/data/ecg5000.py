"""UCR ECG5000 heartbeats: the standard benchmark for LSTM-autoencoder anomaly detection."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import torch

from aelab.data.timeseries import SeriesDataModule, SeriesSet
from aelab.utils.errors import UserError, require


def read_ucr(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a UCR text file (gzipped or not): one row per series, the class first; return (classes, values)."""
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as stream:
            first = stream.readline().decode()
        table = np.loadtxt(path, delimiter="," if "," in first else None, ndmin=2)
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as error:
        raise UserError(f"{path} is not a UCR text file (one row per series: the class, then the values).") from error
    require(table.shape[1] > 1, f"{path} has no values after the class column.")
    return table[:, 0], table[:, 1:].astype(np.float32)


class ECG5000DataModule(SeriesDataModule):
    """UCR ECG5000: heartbeats of 140 samples; class 1 is normal. Trains on normal beats; one beat is one series."""

    label_level = "series"
    name = "ECG5000"
    urls = (
        "https://www.timeseriesclassification.com/aeon-toolkit/ECG5000.zip",
        "http://www.timeseriesclassification.com/Downloads/ECG5000.zip",
    )

    def __init__(
        self, *args, train: str = "ECG5000_TRAIN.txt", test: str = "ECG5000_TEST.txt", download: bool = False, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()

    def _find(self, name: str) -> Path | None:
        path = self.root / name
        for candidate in (path, Path(f"{path}.gz"), path.with_suffix("") if path.suffix == ".gz" else path):
            if candidate.is_file():
                return candidate
        return None

    def _missing_message(self, names: list[str]) -> str:
        folders = {(self.root / name).resolve().parent for name in names}
        files = ", ".join(Path(name).name for name in names)
        verb = "is" if len(names) == 1 else "are"
        return (
            f"{self.name} {files} {verb} missing in {', '.join(map(str, sorted(folders)))}: place the file(s) there "
            "(UCR text format, gzipped or not, from the UCR archive), or set data.download=true on a machine "
            "with a network."
        )

    def prepare_data(self) -> None:
        names = [self.hparams.train, self.hparams.test]
        missing = [n for n in names if self._find(n) is None]
        if not self.hparams.download or not missing:
            return
        import urllib.request

        self.root.mkdir(parents=True, exist_ok=True)
        archive = self.root / f"{self.name}.zip"
        error: Exception | None = None
        for url in self.urls:
            try:
                urllib.request.urlretrieve(url, archive)
                with zipfile.ZipFile(archive) as packed:
                    for member in packed.namelist():
                        if Path(member).name in names:
                            (self.root / Path(member).name).write_bytes(packed.read(member))
                break
            except (OSError, zipfile.BadZipFile) as failure:
                error = failure
        archive.unlink(missing_ok=True)
        still = [n for n in names if self._find(n) is None]
        if still:
            reason = f" ({type(error).__name__})" if error else ""
            raise UserError(f"Could not download {self.name}{reason}. {self._missing_message(still)}")

    def _read(self, name: str) -> SeriesSet:
        path = self._find(name)
        if path is None:
            # Training needs both files: name every one that is missing, not only the first.
            needed = [self.hparams.train, self.hparams.test] if name == self.hparams.train else [name]
            raise UserError(self._missing_message([n for n in needed if self._find(n) is None]))
        classes, beats = read_ucr(path)
        anomalous = (classes != 1).astype(np.int64)
        return SeriesSet(
            [beat[:, None] for beat in beats],
            [np.full(beats.shape[1], a) for a in anomalous],
            [f"beat {i} of {path.name}" for i in range(len(beats))],
        )

    def read_train(self) -> SeriesSet:
        # Normal beats only, before the validation split, so that val_fraction counts normal beats.
        beats = self._read(self.hparams.train)
        return beats.take([i for i, labels in enumerate(beats.labels) if labels[0] == 0])

    def read_test(self) -> SeriesSet:
        return self._read(self.hparams.test)

    def split_val(self, train: SeriesSet) -> tuple[SeriesSet, SeriesSet]:
        """Hold out a seeded `val_fraction` of the beats: beats are independent, so no split in time."""
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(self.hparams.seed)).tolist()
        n_val = max(1, round(len(train) * self.hparams.val_fraction))
        return train.take(sorted(order[n_val:])), train.take(sorted(order[:n_val]))
