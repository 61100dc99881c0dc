"""Windowed time series for anomaly detection: normal training series, labelled test series.

A series is an array [steps, channels] with a label per step (1 anomaly, 0 normal, -1 unknown).
Series are normalised per channel with statistics of the training split only, then cut into
windows [window, channels]: the samples the nets see (`data.shape`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from aelab.data.base import Arrays, InMemoryDataModule
from aelab.data.period import dominant_period
from aelab.utils.errors import require

log = logging.getLogger("aelab")

TEST_STAGES = ("test", "predict")
AUTO = "auto"  # data.window=auto: the window is the training series' dominant period


@dataclass
class SeriesSet:
    """The series of one split: values [T, C] float32 and labels [T] per series, with names for messages."""

    values: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    times: list[np.ndarray] | None = None  # the user's time column, kept for the scores file

    def __len__(self) -> int:
        return len(self.values)

    @property
    def lengths(self) -> list[int]:
        """Number of steps of each series."""
        return [len(v) for v in self.values]

    def take(self, index, start: int = 0, stop: int | None = None) -> SeriesSet:
        """Return the series at `index` (a list), each cut to steps [start, stop)."""
        cut = slice(start, stop)
        return SeriesSet(
            [self.values[i][cut] for i in index],
            [self.labels[i][cut] for i in index],
            [self.names[i] for i in index],
            None if self.times is None else [self.times[i][cut] for i in index],
        )

    @staticmethod
    def concat(parts: list[SeriesSet]) -> SeriesSet:
        """Join several sets into one."""
        joined = SeriesSet()
        for part in parts:
            joined.values += part.values
            joined.labels += part.labels
            joined.names += part.names
        times = [part.times for part in parts]
        joined.times = None if any(t is None for t in times) else [t for ts in times for t in ts]
        return joined


@dataclass
class Windows:
    """Windows cut from a SeriesSet: inputs [N, W, C], labels [N], source series and first step of each."""

    x: torch.Tensor
    y: torch.Tensor
    series: np.ndarray
    start: np.ndarray
    lengths: list[int]  # of the source series, to put steps back together

    @property
    def window(self) -> int:
        """Steps per window."""
        return self.x.shape[1]


def window_starts(length: int, window: int, stride: int) -> np.ndarray:
    """First steps of the windows of a series; a last window ends on the final step so every step is covered."""
    starts = np.arange(0, length - window + 1, stride)
    return starts if starts[-1] == length - window else np.append(starts, length - window)


def window_labels(step_labels: np.ndarray) -> np.ndarray:
    """Label windows [N, W] of step labels: 1 if any step is anomalous, else -1 if any is unknown, else 0."""
    return np.where((step_labels == 1).any(1), 1, np.where((step_labels == -1).any(1), -1, 0))


@dataclass
class SeriesSource:
    """One series of a benchmark: its name, its dataset, and the data settings that select it alone."""

    name: str
    dataset: str
    overrides: dict[str, Any]


def require_window(length: int, window: int, name: str) -> None:
    """Refuse a series shorter than one window, naming the longest window it allows."""
    require(
        length >= window,
        f"The series {name} has {length} steps, fewer than data.window={window}; "
        f"data.window={length} or lower fits it (or give longer series).",
    )


def cut_windows(series: SeriesSet, window: int, stride: int, channels: int) -> Windows:
    """Cut every series into windows of `window` steps, `stride` apart."""
    require(stride > 0, f"data.stride must be positive, not {stride}.")
    xs, ys, ids, starts = [np.zeros((0, window, channels), np.float32)], [np.zeros(0, np.int64)], [], []
    for i, (values, labels, name) in enumerate(zip(series.values, series.labels, series.names)):
        require_window(len(values), window, name)
        first = window_starts(len(values), window, stride)
        index = first[:, None] + np.arange(window)
        xs.append(values[index])
        ys.append(window_labels(labels[index]))
        ids.append(np.full(len(first), i))
        starts.append(first)
    return Windows(
        torch.from_numpy(np.concatenate(xs).astype(np.float32)),
        torch.from_numpy(np.concatenate(ys)).long(),
        np.concatenate(ids) if ids else np.zeros(0, np.int64),
        np.concatenate(starts) if starts else np.zeros(0, np.int64),
        series.lengths,
    )


def to_steps(values: np.ndarray, windows: Windows) -> list[np.ndarray]:
    """Average per-window values [N, W] over the windows covering each step (NaN where none); one array per series."""
    offsets = np.concatenate([[0], np.cumsum(windows.lengths)]).astype(np.int64)
    position = (offsets[windows.series] + windows.start)[:, None] + np.arange(values.shape[1])
    total, count = np.zeros(offsets[-1]), np.zeros(offsets[-1])
    np.add.at(total, position.ravel(), np.asarray(values, dtype=np.float64).ravel())
    np.add.at(count, position.ravel(), 1)
    return np.split(np.where(count > 0, total / np.maximum(count, 1), np.nan), offsets[1:-1])


def centred_steps(scores: np.ndarray, windows: Windows) -> list[np.ndarray]:
    """Place one score per window at its centre (TSB-AD's alignment) and fill each series' steps from them.

    A window starting at step a sits at a + ceil((W - 1) / 2); steps between centres are interpolated
    (exact with stride 1), steps before the first centre or after the last take the nearest one's score.
    """
    offset = -(-(windows.window - 1) // 2)
    steps = []
    for i, length in enumerate(windows.lengths):
        mine = windows.series == i
        if not mine.any():
            steps.append(np.full(length, np.nan))
            continue
        order = np.argsort(windows.start[mine], kind="stable")
        centres = windows.start[mine][order] + offset
        steps.append(np.interp(np.arange(length), centres, np.asarray(scores, np.float64)[mine][order]))
    return steps


def fit_normalisation(series: SeriesSet) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation over the normal steps of a set of series."""
    steps = np.concatenate([v[lab != 1] for v, lab in zip(series.values, series.labels)]).astype(np.float64)
    require(len(steps) > 0, "The training series have no normal steps to learn from.")
    std = steps.std(0)
    # A constant channel keeps a scale of 1 rather than dividing by zero.
    std = np.where(std > 1e-8, std, 1.0)
    return [float(m) for m in steps.mean(0)], [float(s) for s in std]


class SeriesDataModule(InMemoryDataModule):
    """Normal training series and labelled test series, cut into windows [window, channels].

    Subclasses implement `read_train()` and `read_test()`. The validation split is held out
    in time (`split_val`), never by shuffling windows: overlapping windows of one series would
    otherwise leak into it. Windows containing labelled anomalies are dropped from training and
    validation. `mean` and `std` (per channel) are fitted on the training split and kept in the
    hyperparameters, so checkpoints carry them and new data is scored without the training files.
    """

    # "step": a label per time step (scores per step); "series": one label per series (a heartbeat).
    label_level = "step"

    def __init__(
        self,
        *args,
        window: int | str = 64,
        stride: int = 1,
        test_stride: int | None = None,
        normalize: bool = True,
        mean: list[float] | None = None,
        std: list[float] | None = None,
        output_activation: str = "identity",
        **kwargs,
    ) -> None:
        super().__init__(*args, output_activation=output_activation, **kwargs)
        self.save_hyperparameters()
        require(
            window == AUTO or (isinstance(window, int) and not isinstance(window, bool) and window > 1),
            f"data.window must be a number of steps (at least 2) or auto, not {window!r}.",
        )
        if window == AUTO:
            self.hparams.shape = None  # the samples' shape follows the window picked from the data
        else:
            self._check_test_stride()
        require(stride > 0, f"data.stride must be positive, not {stride}.")
        require((mean is None) == (std is None), "data.mean and data.std go together: give both or neither.")
        self.sets: dict[str, SeriesSet] = {}
        self.windows_of: dict[str, Windows] = {}
        self._with_train = False

    def _check_test_stride(self) -> None:
        stride, window = self.hparams.test_stride or self.hparams.stride, self.hparams.window
        require(
            stride <= window,
            f"data.test_stride={stride} is longer than data.window={window}, so steps between test "
            "windows would get no score; set data.test_stride to at most the window.",
        )

    # -- what a subclass provides ----------------------------------------------------------
    def read_train(self) -> SeriesSet:
        """Return the training series (labelled anomalies in them are left out of training)."""
        raise NotImplementedError

    def read_test(self) -> SeriesSet:
        """Return the series to score, labelled where labels are known."""
        raise NotImplementedError

    def sources(self) -> list[SeriesSource]:
        """The series a benchmark scores one by one; by default the whole data is one."""
        name = type(self).__name__.removesuffix("DataModule")
        return [SeriesSource(name, name, {})]

    def _cut(self, length: int) -> int:
        return int(round(length * (1 - self.hparams.val_fraction)))

    def split_val(self, train: SeriesSet) -> tuple[SeriesSet, SeriesSet]:
        """Hold out the last `val_fraction` of every training series as the validation split."""
        heads, tails = [], []
        fraction, window = self.hparams.val_fraction, self.hparams.window
        for i, length in enumerate(train.lengths):
            require_window(length, window, train.names[i])
            cut = self._cut(length)
            require(
                length - cut >= window,
                f"The validation part of {train.names[i]} ({length - cut} steps, data.val_fraction={fraction}) "
                f"is shorter than data.window={window}; data.window={length - cut} or lower fits, or raise "
                "data.val_fraction or give longer series.",
            )
            require(
                cut >= window,
                f"The training part of {train.names[i]} ({cut} steps once data.val_fraction={fraction} is held "
                f"out) is shorter than data.window={window}; data.window={cut} or lower fits, or give longer series.",
            )
            heads.append(train.take([i], 0, cut))
            tails.append(train.take([i], cut))
        return SeriesSet.concat(heads), SeriesSet.concat(tails)

    def longest_window(self, train: SeriesSet, test: SeriesSet) -> int:
        """The longest window every training part, validation part and test series holds."""
        parts = [min(self._cut(n), n - self._cut(n)) for n in train.lengths] + test.lengths
        return min(parts) if parts else 0

    def pick_window(self, train: SeriesSet, test: SeriesSet) -> int:
        """The median dominant period of the training series (TSB-AD's `find_length`), capped to fit every series."""
        period = int(np.median([dominant_period(v) for v in train.values]))
        longest = self.longest_window(train, test)
        window = max(2, min(period, longest))
        capped = f", capped to {window}, the longest window every series holds" if window < period else ""
        log.info(
            "data.window=auto: picked %d steps (the training series' dominant period %d%s).", window, period, capped
        )
        return window

    # -- shared machinery -------------------------------------------------------------------
    @property
    def channels(self) -> int | None:
        """Number of channels, known once data or stored statistics are there."""
        return len(self.hparams.mean) if self.hparams.mean is not None else None

    def normalise(self, series: SeriesSet) -> SeriesSet:
        """Return the series scaled with the stored per-channel statistics."""
        mean = np.asarray(self.hparams.mean, np.float32)
        std = np.asarray(self.hparams.std, np.float32)
        for values, name in zip(series.values, series.names):
            require(
                values.shape[1] == len(mean),
                f"{name} has {values.shape[1]} channels but the model was trained on {len(mean)}; "
                "give series with the same value columns.",
            )
        return SeriesSet([(v - mean) / std for v in series.values], series.labels, series.names, series.times)

    def _windows(self, split: str, series: SeriesSet, stride: int, normal_only: bool) -> Windows:
        series = self.normalise(series)
        windows = cut_windows(series, self.hparams.window, stride, self.channels)
        if normal_only:
            keep = (windows.y != 1).numpy()
            if not keep.all():
                log.info("Left %d %s windows with labelled anomalies out.", int((~keep).sum()), split)
            windows = Windows(
                windows.x[keep], windows.y[keep], windows.series[keep], windows.start[keep], windows.lengths
            )
            require(len(windows.x) > 0, f"No normal {split} windows remain once labelled anomalies are left out.")
        self.sets[split], self.windows_of[split] = series, windows
        return windows

    def _statistics(self, train: SeriesSet) -> tuple[list[float], list[float]]:
        if self.hparams.normalize:
            return fit_normalisation(train)
        channels = train.values[0].shape[1]
        return [0.0] * channels, [1.0] * channels

    def setup(self, stage: str | None = None) -> None:
        # Scoring new data needs no training files once the statistics are known (from a checkpoint).
        with_train = stage not in TEST_STAGES or self.hparams.mean is None
        if self.arrays is not None and (self._with_train or not with_train):
            return
        train = self.read_train() if with_train else SeriesSet()
        test = self.read_test()
        if self.hparams.window == AUTO:
            require(with_train, "data.window=auto picks the window from the training series: give them.")
            self.hparams.window = self.pick_window(train, test)
            self._check_test_stride()
        if with_train:
            train, val = self.split_val(train)
            if self.hparams.mean is None:
                # Statistics of the training split only: nothing leaks from validation or test data.
                self.hparams.mean, self.hparams.std = self._statistics(train)
        else:
            val = SeriesSet()
        stride = self.hparams.stride
        train_w = self._windows("train", train, stride, normal_only=with_train)
        val_w = self._windows("val", val, stride, normal_only=with_train)
        test_w = self._windows("test", test, self.hparams.test_stride or stride, normal_only=False)
        arrays = Arrays(train_w.x, train_w.y, test_w.x, test_w.y)
        self._check(arrays)
        self.train_x, self.train_y = train_w.x, train_w.y
        self.val_x, self.val_y = val_w.x, val_w.y
        self.test_x, self.test_y = test_w.x, test_w.y
        self.arrays, self._with_train = arrays, with_train

    def windows(self, split: str) -> Windows:
        """Return the windows of `split` (train, val or test)."""
        self.setup("fit" if split != "test" else "test")
        return self.windows_of[split]

    def series(self, split: str) -> SeriesSet:
        """Return the normalised series of `split`."""
        self.windows(split)
        return self.sets[split]
