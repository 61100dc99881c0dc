"""A series' dominant period from its autocorrelation: TSB-AD's `find_length`, for `data.window=auto` and VUS."""

from __future__ import annotations

import numpy as np

MAX_STEPS, MAX_LAG, FIRST_LAG = 20_000, 400, 3
FALLBACK = 125  # TSB-AD's answer when no period between 3 and 300 steps stands out


def autocorrelation(values: np.ndarray, lags: int) -> np.ndarray:
    """The sample autocorrelation at lags 0..`lags` (statsmodels' `acf(fft=True)`: biased, mean removed)."""
    centred = np.asarray(values, dtype=np.float64) - np.mean(values)
    size = 1 << int(2 * len(centred) - 1).bit_length()
    spectrum = np.fft.rfft(centred, size)
    covariance = np.fft.irfft(spectrum * np.conj(spectrum), size)[: lags + 1] / len(centred)
    with np.errstate(invalid="ignore", divide="ignore"):
        return covariance / covariance[0]


def dominant_period(values: np.ndarray) -> int:
    """The lag (3..303) of the highest local maximum of the autocorrelation of the first channel; else 125."""
    series = np.asarray(values, dtype=np.float64)
    series = (series[:, 0] if series.ndim > 1 else series)[:MAX_STEPS]
    if len(series) <= FIRST_LAG + 2:
        return FALLBACK
    correlation = autocorrelation(series, min(MAX_LAG, len(series) - 1))[FIRST_LAG:]
    inner = correlation[1:-1]
    peaks = np.flatnonzero((inner > correlation[:-2]) & (inner > correlation[2:])) + 1
    if not len(peaks):
        return FALLBACK
    best = int(peaks[np.argmax(correlation[peaks])])
    return best + FIRST_LAG if 3 <= best <= 300 else FALLBACK
