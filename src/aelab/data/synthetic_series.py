"""An embedded generator of seasonal series with injected anomalies: the default series data."""

from __future__ import annotations

import numpy as np

from aelab.data.timeseries import SeriesDataModule, SeriesSet
from aelab.utils.errors import require

ANOMALY_KINDS = ("spike", "level_shift", "frequency", "noise", "flat")
ANOMALY_LENGTHS = {"spike": (1, 4), "level_shift": (30, 60), "frequency": (40, 80), "noise": (30, 60), "flat": (30, 60)}
PARTS = {"train": 1, "test": 2}


def synthetic_series(
    length: int,
    channels: int = 1,
    seed: int = 0,
    part: str = "train",
    num_anomalies: int = 0,
    kinds: tuple[str, ...] = ANOMALY_KINDS,
    noise: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Seasonal + trend + noise channels with injected anomalies; returns values [T, C] and step labels [T].

    `seed` fixes the system (periods, amplitudes, phases, trend), shared by every part; `part`
    draws the noise and the anomalies, so the train and test series differ but come from one system.
    """
    unknown = sorted(set(kinds) - set(ANOMALY_KINDS))
    require(not unknown, f"Unknown anomaly kinds {unknown}: choose from {list(ANOMALY_KINDS)}.")
    require(num_anomalies == 0 or len(kinds) > 0, "data.anomaly_kinds is empty but data.num_anomalies > 0.")
    system = np.random.default_rng(seed)
    periods = system.uniform(15, 40, (2, channels)) * np.array([[1.0], [2.7]])
    amplitudes = system.uniform(0.8, 1.2, (2, channels)) * np.array([[1.0], [0.5]])
    phases = system.uniform(0, 2 * np.pi, (2, channels))
    slope = system.uniform(-1, 1, channels)
    rng = np.random.default_rng([seed, PARTS[part]])
    t = np.arange(length)[:, None]

    def seasonal(speed: float = 1.0) -> np.ndarray:
        waves = amplitudes[:, None] * np.sin(2 * np.pi * speed * t[None] / periods[:, None] + phases[:, None])
        return waves.sum(0)

    # A linear trend scaled to the series, so test and train series span the same range.
    trend = slope * (t - length / 2) / length
    values = seasonal() + trend + rng.normal(0, noise, (length, channels))
    labels = np.zeros(length, np.int64)
    slot = length // max(num_anomalies, 1)
    order = rng.permutation(num_anomalies) % len(kinds) if num_anomalies else []
    for i, k in enumerate(order):
        kind = kinds[k]
        low, high = ANOMALY_LENGTHS[kind]
        size = int(rng.integers(low, high))
        require(slot > size + 20, f"{length} steps cannot hold {num_anomalies} anomalies; lower data.num_anomalies.")
        start = i * slot + 10 + int(rng.integers(0, slot - size - 20))
        span, c = slice(start, start + size), int(rng.integers(channels))
        scale = amplitudes[:, c].sum()
        if kind == "spike":
            values[span, c] += rng.choice([-1, 1]) * rng.uniform(3, 5) * scale
        elif kind == "level_shift":
            values[span, c] += rng.choice([-1, 1]) * rng.uniform(1.5, 2.5) * scale
        elif kind == "frequency":
            values[span, c] += seasonal(rng.uniform(2.5, 4))[span, c] - seasonal()[span, c]
        elif kind == "noise":
            values[span, c] += rng.normal(0, rng.uniform(0.5, 1.0) * scale, size)
        else:  # flat: the sensor sticks at its last value
            values[span, c] = values[start - 1, c]
        labels[span] = 1
    return values.astype(np.float32), labels


class SyntheticSeriesDataModule(SeriesDataModule):
    """An embedded generator: normal series for training, series with injected anomalies for testing."""

    def __init__(
        self,
        *args,
        channels: int = 1,
        train_length: int = 4000,
        test_length: int = 3000,
        num_anomalies: int = 12,
        anomaly_kinds: list[str] = ANOMALY_KINDS,
        noise: float = 0.1,
        generator_seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()
        require(channels > 0, f"data.channels must be positive, not {channels}.")

    def _series(self, part: str, length: int, num_anomalies: int) -> SeriesSet:
        h = self.hparams
        values, labels = synthetic_series(
            length, h.channels, h.generator_seed, part, num_anomalies, tuple(h.anomaly_kinds), h.noise
        )
        return SeriesSet([values], [labels], [f"synthetic {part} series"])

    def read_train(self) -> SeriesSet:
        return self._series("train", self.hparams.train_length, 0)

    def read_test(self) -> SeriesSet:
        return self._series("test", self.hparams.test_length, self.hparams.num_anomalies)
