"""The series anomaly detector: scores, thresholds and metrics, for a model and its baselines side by side.

A window's score is the sum of the model's `anomaly_map` over its steps and channels (the squared
reconstruction error, or the negative ELBO spread over the values for a VAE). A step's score averages,
over the windows covering it, that window's contributions at the step (baselines with one score per
window place it at the window's centre); a series' score (a heartbeat) averages its windows' scores.
Scores are compared at the data's label level. Per-step scores also get the field's per-series metrics
(VUS, range-AUC, UCR top-1: `aelab.metrics.series_metrics`), averaged over the labelled test series. The
one-class image analysis (`aelab.metrics.oneclass`) scores images with the same functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from aelab.data.period import dominant_period
from aelab.data.timeseries import SeriesDataModule, SeriesSet, Windows, centred_steps, to_steps
from aelab.metrics.baselines import BASELINES, fit_baselines, load_baselines
from aelab.metrics.pca import PCA
from aelab.metrics.series_metrics import TOP1_MARGIN, range_auc, top1_hit, vus

QUANTILE_GRID = np.linspace(0, 1, 1001)
# What every detector reports, in this order (aelab-benchmark's columns, the loggers' test/<name>[_<baseline>]).
METRICS = ("auroc", "auprc", "best_f1", "f1", "vus_pr", "vus_roc", "range_auc_roc", "range_auc_pr", "top1")


@dataclass
class LevelScores:
    """Scores with their labels at the label level: one per time step, or one per series."""

    score: np.ndarray
    label: np.ndarray  # 1 anomaly, 0 normal, -1 unknown
    series: np.ndarray  # index of the series each score belongs to
    step: np.ndarray  # time step within the series (0 for per-series scores)


@torch.no_grad()
def model_errors(model, x: torch.Tensor, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Return a model's scores [N] and per-step contributions [N, W] (summed over channels; they add up to scores)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    steps = [model.anomaly_map(batch.to(device)).flatten(2).sum(2).double().cpu() for batch in x.split(batch_size)]
    model.train(was_training)
    errors = torch.cat(steps).numpy() if steps else np.zeros((0, x.shape[1]))
    return errors.sum(1), errors


def pca_errors(pca: PCA, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The PCA baseline's scores and per-step contributions, as `model_errors` gives them."""
    errors = pca.error_map(x).reshape(*x.shape[:2], -1).sum(2)
    return errors.sum(1), errors


def at_level(
    window_scores: np.ndarray, step_errors: np.ndarray | None, windows: Windows, series: SeriesSet, level: str
) -> LevelScores:
    """Turn window scores into scores per step (overlapping windows averaged, or centred) or per series."""
    n = len(series)
    if level == "series":
        counts = np.bincount(windows.series, minlength=n)
        score = np.bincount(windows.series, weights=window_scores, minlength=n) / np.maximum(counts, 1)
        label = np.array([1 if (lab == 1).any() else (-1 if (lab == -1).any() else 0) for lab in series.labels])
        keep = counts > 0
        zeros = np.zeros(keep.sum(), np.int64)
        return LevelScores(score[keep], label[keep].astype(np.int64), np.flatnonzero(keep), zeros)
    steps = to_steps(step_errors, windows) if step_errors is not None else centred_steps(window_scores, windows)
    score = np.concatenate(steps) if steps else np.zeros(0)
    label = np.concatenate(series.labels) if n else np.zeros(0, np.int64)
    ids = np.concatenate([np.full(len(s), i) for i, s in enumerate(steps)]) if n else np.zeros(0, np.int64)
    step = np.concatenate([np.arange(len(s)) for s in steps]) if n else np.zeros(0, np.int64)
    keep = ~np.isnan(score)  # steps no window covers (in windows left out of training)
    return LevelScores(score[keep], label[keep], ids[keep], step[keep])


def score_split(
    model, baselines: dict, datamodule: SeriesDataModule, split: str, seconds: dict | None = None
) -> dict[str, LevelScores]:
    """Score one split with the model (None: leave it out) and each baseline, at the data's label level.

    `seconds`, when given, receives each detector's scoring time.
    """
    windows, series = datamodule.windows(split), datamodule.series(split)
    detectors = ({"model": None} if model is not None else {}) | baselines
    scores = {}
    for name, detector in detectors.items():
        started = time.perf_counter()
        errors = model_errors(model, windows.x) if name == "model" else detector.errors(windows.x)
        scores[name] = at_level(*errors, windows, series, datamodule.label_level)
        if seconds is not None:
            seconds[name] = time.perf_counter() - started
    return scores


def threshold_at(quantiles: list[float], quantile: float) -> float:
    """Return the `quantile` of the validation scores from their stored quantile grid."""
    return float(np.interp(quantile, QUANTILE_GRID, quantiles))


def validation_quantiles(scores: dict[str, LevelScores]) -> dict[str, list[float]]:
    """Each detector's validation scores on the quantile grid (what thresholds are read from)."""
    return {name: np.quantile(s.score, QUANTILE_GRID).tolist() for name, s in scores.items()}


def reference(
    model,
    datamodule: SeriesDataModule,
    pca_components: int = 2,
    baselines: dict | None = None,
    names=BASELINES,
    known: dict[str, list[float]] | None = None,
) -> dict:
    """What scoring new data needs besides weights: the fitted baselines and every detector's validation quantiles.

    `baselines` already fitted (else `names` are fitted on the training windows); `known`: their validation
    quantiles when computed before (they do not change as the model trains).
    """
    if baselines is None:
        baselines, _ = fit_baselines(names, datamodule.windows("train").x, pca_components)
    known = known or {}
    val = score_split(model, {n: b for n, b in baselines.items() if n not in known}, datamodule, "val")
    return {
        "level": datamodule.label_level,
        "baselines": {name: b.state() for name, b in baselines.items()},
        "quantiles": validation_quantiles(val) | known,
    }


def point_adjust(prediction: np.ndarray, label: np.ndarray, series: np.ndarray) -> np.ndarray:
    """Mark a whole labelled anomaly segment detected when any of its steps is (inflates F1: reported apart)."""
    adjusted = prediction.copy()
    anomalous = label == 1
    # A segment starts where an anomalous step follows a normal step or another series.
    starts = anomalous & ~np.concatenate([[False], anomalous[:-1] & (series[1:] == series[:-1])])
    segment = np.cumsum(starts)
    hit = np.bincount(segment[anomalous], weights=prediction[anomalous], minlength=segment.max() + 1) > 0
    adjusted[anomalous] |= hit[segment[anomalous]]
    return adjusted


def series_windows(datamodule: SeriesDataModule, vus_window: int | str = "auto") -> list[int]:
    """The buffer length VUS and range-AUC use for each test series: a number, or `auto`, its dominant period.

    TSB-AD uses the series' period (`find_length`) there too.
    """
    series = datamodule.series("test")
    if vus_window == "auto":
        return [dominant_period(values) for values in series.values]
    return [int(vus_window)] * len(series)


def range_metrics(scores: LevelScores, windows: list[int], margin: int = TOP1_MARGIN) -> dict[str, float]:
    """VUS-PR/ROC, range-AUC-ROC/PR and top-1 accuracy, averaged over the test series with both kinds of steps."""
    rows = []
    for i in np.unique(scores.series):
        mine = scores.series == i
        label, score = scores.label[mine], scores.score[mine]
        known = label >= 0
        label, score = label[known], score[known]
        if not (label == 1).any() or (label == 1).all():
            continue
        vus_roc, vus_pr = vus(label, score, windows[i])
        range_roc, range_pr = range_auc(label, score, windows[i])
        rows.append([vus_pr, vus_roc, range_roc, range_pr, top1_hit(label, score, margin)])
    if not rows:
        return {}
    means = np.mean(rows, axis=0)
    names = ("vus_pr", "vus_roc", "range_auc_roc", "range_auc_pr", "top1")
    return {name: float(v) for name, v in zip(names, means)} | {"series_scored": len(rows)}


def detection_metrics(
    scores: LevelScores, threshold: float, windows: list[int] | None = None, margin: int = TOP1_MARGIN
) -> dict[str, float]:
    """AUROC, AUPRC, best F1 and F1 at `threshold` (plus point-adjusted F1 per step), where labels are known.

    With `windows` (VUS buffer lengths per series), per-step scores also get the range metrics.
    """
    from sklearn.metrics import average_precision_score, f1_score, precision_recall_curve, roc_auc_score

    known = scores.label >= 0
    y, s = scores.label[known], scores.score[known]
    prediction = s > threshold
    metrics = {"detected_fraction": float(prediction.mean()) if len(s) else 0.0}
    if len(np.unique(y)) < 2:
        return metrics  # metrics need normal and anomalous labels both
    precision, recall, _ = precision_recall_curve(y, s)
    best = np.max(2 * precision * recall / np.maximum(precision + recall, 1e-12))
    metrics.update(
        auroc=float(roc_auc_score(y, s)),
        auprc=float(average_precision_score(y, s)),
        best_f1=float(best),
        f1=float(f1_score(y, prediction)),
        precision=float((y[prediction] == 1).mean()) if prediction.any() else 0.0,
        recall=float(prediction[y == 1].mean()),
        anomaly_fraction=float(y.mean()),
    )
    per_step = len(scores.step) and scores.step.any()  # per-step scores: segments exist
    if per_step:
        metrics["f1_point_adjusted"] = float(f1_score(y, point_adjust(prediction, y, scores.series[known])))
    if per_step and windows is not None:
        metrics.update(range_metrics(scores, windows, margin))
    return metrics


def detect(
    model,
    datamodule: SeriesDataModule,
    stored: dict,
    quantile: float = 0.99,
    value: float | None = None,
    vus_window: int | str = "auto",
    top1_margin: int = TOP1_MARGIN,
) -> tuple[dict[str, LevelScores], dict[str, float], dict]:
    """Score the test split; return the scores, each detector's threshold and a report of metrics side by side.

    `model` None scores the baselines alone (aelab-benchmark does so once per series).
    """
    baselines = load_baselines(stored)
    seconds: dict[str, float] = {}
    scores = score_split(model, baselines, datamodule, "test", seconds)
    thresholds = {name: threshold_at(stored["quantiles"][name], quantile) for name in scores}
    if value is not None and model is not None:
        thresholds["model"] = float(value)  # a fixed value is the model's; baselines keep their validation quantile
    windows = series_windows(datamodule, vus_window) if datamodule.label_level == "step" else None
    report = {
        "level": datamodule.label_level,
        "score": model.anomaly_score if model is not None else None,
        "threshold": {"quantile": quantile, "value": value, **thresholds},
        "vus_window": vus_window,
        "detectors": list(scores),
    }
    if "pca" in baselines:
        report["pca_components"] = baselines["pca"].pca.components
    for name in scores:
        report[name] = detection_metrics(scores[name], thresholds[name], windows, top1_margin)
        report[name]["score_seconds"] = seconds[name]
    return scores, thresholds, report
