"""The field's per-series detection metrics: VUS-PR and VUS-ROC, range-AUC, and the UCR archive's top-1 accuracy.

VUS (Paparrizos et al., VLDB 2022) averages, over buffer lengths 0..L, the areas under range-based ROC and
PR curves whose labels ramp up around each anomaly (sqrt(1 - d / w) at d steps from it). These functions
compute what `vus` 0.0.6 and `tsb-ad` 1.5 compute (`RangeAUC_volume_opt`, `RangeAUC`; tests/test_series_metrics.py
compares them), vectorised over the thresholds: 250 of them, every (n - 1) / 249-th score in descending order.
"""

from __future__ import annotations

import numpy as np

THRESHOLDS = 250
TOP1_MARGIN = 100  # the KDD Cup 2021 counted a location within 100 steps of the anomaly as found


def segments(labels: np.ndarray) -> np.ndarray:
    """Return the [start, end] (inclusive) of each run of non-zero labels, as an array [S, 2]."""
    marked = np.concatenate([[False], np.asarray(labels) != 0, [False]])
    edges = np.flatnonzero(np.diff(marked.astype(np.int8)))
    return np.stack([edges[0::2], edges[1::2] - 1], axis=1) if len(edges) else np.zeros((0, 2), np.int64)


def thresholds(score: np.ndarray, count: int = THRESHOLDS) -> np.ndarray:
    """The reference implementations' thresholds: `count` scores picked evenly from the sorted (descending) scores."""
    ranked = np.sort(score)[::-1]
    return ranked[np.linspace(0, len(score) - 1, count).astype(int)]


def ramped_labels(labels: np.ndarray, runs: np.ndarray, window: int) -> np.ndarray:
    """Labels with a ramp sqrt(1 - d / window) over `window // 2` steps on each side of every anomaly, at most 1."""
    n, half = len(labels), window // 2
    ramped = (np.asarray(labels) != 0).astype(np.float64)
    for start, end in runs:
        after = np.arange(end + 1, min(end + half + 1, n))
        ramped[after] += np.sqrt(1 - (after - end) / window)
        before = np.arange(max(start - half, 0), start)
        ramped[before] += np.sqrt(1 - (start - before) / window)
    return np.minimum(ramped, 1.0)


def merged_spans(runs: np.ndarray, window: int, n: int) -> np.ndarray:
    """The anomalies widened by `window // 2` on each side, overlapping ones merged (the references' `new_sequence`)."""
    half = window // 2
    spans, start = [], max(int(runs[0, 0]) - half, 0)
    for (_, end), (next_start, _) in zip(runs[:-1], runs[1:]):
        if end + half < next_start - half:
            spans.append((start, end + half))
            start = next_start - half
    spans.append((start, min(int(runs[-1, 1]) + half, n - 1)))
    return np.asarray(spans)


def spans_hit(score: np.ndarray, spans: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Count, for each threshold, the spans holding a score at or above it: [K]."""
    peaks = np.array([score[a : b + 1].max() for a, b in spans])
    return (peaks[None, :] >= levels[:, None]).sum(1)


def above(score: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Count the scores at or above each threshold: [K]."""
    ranked = np.sort(score)
    return len(score) - np.searchsorted(ranked, levels, side="left")


def curve_areas(tpr: np.ndarray, fpr: np.ndarray, precision: np.ndarray, pr_trapezoid: bool) -> tuple[float, float]:
    """Areas under the ROC curve (trapezoids) and the PR curve from (0, 0), K points and (1, 1)."""
    tpr = np.concatenate([[0.0], tpr, [1.0]])
    fpr = np.concatenate([[0.0], fpr, [1.0]])
    precision = np.concatenate([[1.0], precision])
    roc = float(np.dot(np.diff(fpr), (tpr[1:] + tpr[:-1]) / 2))
    # vus's range-AUC takes trapezoids under the PR curve, VUS (in both packages) steps.
    heights = (precision[1:] + precision[:-1]) / 2 if pr_trapezoid else precision[1:]
    return roc, float(np.dot(tpr[1:-1] - tpr[:-2], heights))


def _check(labels: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, score = np.asarray(labels).astype(np.int64), np.asarray(score, dtype=np.float64)
    if len(labels) != len(score) or not (labels == 1).any() or (labels == 1).all():
        raise ValueError("range metrics need as many scores as labels, and both normal and anomalous steps")
    return labels, score


def vus(labels: np.ndarray, score: np.ndarray, window: int, count: int = THRESHOLDS) -> tuple[float, float]:
    """VUS-ROC and VUS-PR of one series' scores, over buffer lengths 0..`window`."""
    labels, score = _check(labels, score)
    n, runs = len(labels), segments(labels)
    anomalous = labels == 1
    levels = thresholds(score, count)
    predicted = above(score, levels).astype(np.float64)
    found = above(score[anomalous], levels).astype(np.float64)  # anomalous steps at or above each threshold
    positives = float(anomalous.sum())
    # Every ramp lies within the widest buffer's spans: score only those steps once.
    near = np.concatenate([np.arange(a, b + 1) for a, b in merged_spans(runs, window, n)])
    near = near[~anomalous[near]]
    over = score[near][None, :] >= levels[:, None]  # [K, steps near an anomaly]
    rocs, prs = [], []
    for w in range(window + 1):
        ramp = ramped_labels(labels, runs, w)[near]
        partial = over @ ramp  # the ramp's weight of the predicted steps near anomalies
        true_positive = found + partial
        positive = positives + partial / 2  # the references' P_new: halfway to the ramped label mass
        recall = np.minimum(true_positive / positive, 1.0)
        spans = merged_spans(runs, w, n)
        tpr = recall * spans_hit(score, spans, levels) / len(spans)
        fpr = (predicted - true_positive) / (n - positive)
        roc, pr = curve_areas(tpr, fpr, true_positive / predicted, pr_trapezoid=False)
        rocs.append(roc)
        prs.append(pr)
    return float(np.mean(rocs)), float(np.mean(prs))


def range_auc(labels: np.ndarray, score: np.ndarray, window: int, count: int = THRESHOLDS) -> tuple[float, float]:
    """Range-AUC-ROC and range-AUC-PR of one series' scores, with a buffer of `window` (vus 0.0.6's `RangeAUC`)."""
    labels, score = _check(labels, score)
    n = len(labels)
    ramp = ramped_labels(labels, segments(labels), window)
    levels = thresholds(score, count)
    predicted = above(score, levels).astype(np.float64)
    marked = np.flatnonzero(ramp > 0)
    true_positive = (score[marked][None, :] >= levels[:, None]) @ ramp[marked]
    positive = (labels.sum() + ramp.sum()) / 2
    recall = np.minimum(true_positive / positive, 1.0)
    spans = segments(ramp)
    tpr = recall * spans_hit(score, spans, levels) / len(spans)
    fpr = (predicted - true_positive) / (n - positive)
    return curve_areas(tpr, fpr, true_positive / predicted, pr_trapezoid=True)


def top1_hit(labels: np.ndarray, score: np.ndarray, margin: int = TOP1_MARGIN) -> float:
    """1.0 if the highest score lies within `margin` steps of an anomalous step, else 0.0 (the UCR archive's rule)."""
    labels, score = _check(labels, score)
    peak = int(np.argmax(score))
    anomalous = np.flatnonzero(labels == 1)
    return float(np.abs(anomalous - peak).min() <= margin)
