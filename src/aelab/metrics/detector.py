"""The series anomaly detector: scores, thresholds and metrics, for a model and its PCA baseline.

A window's score is the sum of the model's `anomaly_map` over its steps and channels (the squared
reconstruction error, or the negative ELBO spread over the values for a VAE). A step's score averages,
over the windows covering it, that window's contributions at the step; a series' score (a heartbeat)
averages its windows' scores. Scores are compared at the data's label level. The one-class image
analysis (`aelab.metrics.oneclass`) scores images with the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aelab.data.timeseries import SeriesDataModule, SeriesSet, Windows, to_steps
from aelab.metrics.pca import PCA

QUANTILE_GRID = np.linspace(0, 1, 1001)
DETECTORS = ("model", "pca")


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
    window_scores: np.ndarray, step_errors: np.ndarray, windows: Windows, series: SeriesSet, level: str
) -> LevelScores:
    """Turn window scores into scores per step (overlapping windows averaged) or per series."""
    n = len(series)
    if level == "series":
        counts = np.bincount(windows.series, minlength=n)
        score = np.bincount(windows.series, weights=window_scores, minlength=n) / np.maximum(counts, 1)
        label = np.array([1 if (lab == 1).any() else (-1 if (lab == -1).any() else 0) for lab in series.labels])
        keep = counts > 0
        zeros = np.zeros(keep.sum(), np.int64)
        return LevelScores(score[keep], label[keep].astype(np.int64), np.flatnonzero(keep), zeros)
    steps = to_steps(step_errors, windows)
    score = np.concatenate(steps) if steps else np.zeros(0)
    label = np.concatenate(series.labels) if n else np.zeros(0, np.int64)
    ids = np.concatenate([np.full(len(s), i) for i, s in enumerate(steps)]) if n else np.zeros(0, np.int64)
    step = np.concatenate([np.arange(len(s)) for s in steps]) if n else np.zeros(0, np.int64)
    keep = ~np.isnan(score)  # steps no window covers (in windows left out of training)
    return LevelScores(score[keep], label[keep], ids[keep], step[keep])


def score_split(model, pca: PCA, datamodule: SeriesDataModule, split: str) -> dict[str, LevelScores]:
    """Score one split with the model and the PCA baseline, at the data's label level."""
    windows, series = datamodule.windows(split), datamodule.series(split)
    errors = {"model": model_errors(model, windows.x), "pca": pca_errors(pca, windows.x)}
    return {name: at_level(*errors[name], windows, series, datamodule.label_level) for name in DETECTORS}


def threshold_at(quantiles: list[float], quantile: float) -> float:
    """Return the `quantile` of the validation scores from their stored quantile grid."""
    return float(np.interp(quantile, QUANTILE_GRID, quantiles))


def reference(model, datamodule: SeriesDataModule, pca_components: int = 2, pca: PCA | None = None) -> dict:
    """What scoring new data needs besides weights: the fitted PCA and both detectors' validation score quantiles."""
    pca = pca or PCA.fit(datamodule.windows("train").x, pca_components)
    val = score_split(model, pca, datamodule, "val")
    return {
        "level": datamodule.label_level,
        "pca": pca.state(),
        "quantiles": {name: np.quantile(val[name].score, QUANTILE_GRID).tolist() for name in DETECTORS},
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


def detection_metrics(scores: LevelScores, threshold: float) -> dict[str, float]:
    """AUROC, AUPRC, best F1 and F1 at `threshold` (plus point-adjusted F1 per step), where labels are known."""
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
    if len(scores.step) and scores.step.any():  # per-step scores: segments exist
        metrics["f1_point_adjusted"] = float(f1_score(y, point_adjust(prediction, y, scores.series[known])))
    return metrics


def detect(
    model, datamodule: SeriesDataModule, stored: dict, quantile: float = 0.99, value: float | None = None
) -> tuple[dict[str, LevelScores], dict[str, float], dict]:
    """Score the test split; return the scores, each detector's threshold and a report of metrics side by side."""
    pca = PCA(stored["pca"]["mean"], stored["pca"]["basis"])
    scores = score_split(model, pca, datamodule, "test")
    thresholds = {name: threshold_at(stored["quantiles"][name], quantile) for name in DETECTORS}
    if value is not None:
        thresholds["model"] = float(value)  # a fixed value is the model's; PCA keeps its validation quantile
    report = {
        "level": datamodule.label_level,
        "score": model.anomaly_score,
        "threshold": {"quantile": quantile, "value": value, **thresholds},
        "pca_components": pca.components,
        **{name: detection_metrics(scores[name], thresholds[name]) for name in DETECTORS},
    }
    return scores, thresholds, report
