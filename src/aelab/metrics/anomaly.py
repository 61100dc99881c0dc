"""Anomaly detection on windowed series: scores, thresholds and metrics, for a model and a PCA baseline.

A window's score is its squared reconstruction error summed over steps and channels, or the
negative ELBO for models that have one. A step's score averages, over the windows covering it,
the error at that step (the ELBO spread evenly over the window's steps); a series' score (a
heartbeat) averages its windows' scores. Scores are compared at the data's label level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aelab.data.timeseries import SeriesDataModule, SeriesSet, Windows, to_steps

QUANTILE_GRID = np.linspace(0, 1, 1001)
DETECTORS = ("model", "pca")


@dataclass
class LevelScores:
    """Scores with their labels at the label level: one per time step, or one per series."""

    score: np.ndarray
    label: np.ndarray  # 1 anomaly, 0 normal, -1 unknown
    series: np.ndarray  # index of the series each score belongs to
    step: np.ndarray  # time step within the series (0 for per-series scores)


def negative_elbo(model, x: torch.Tensor) -> torch.Tensor | None:
    """Return -ELBO per sample at the posterior mean for models that have one, else None."""
    if hasattr(model, "negative_elbo"):
        return model.negative_elbo(x)
    if hasattr(model, "posterior"):
        mu, logvar = model.posterior(x)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return model.recon_loss.nll(model.decoder(mu), x) + kl
    return None


@torch.no_grad()
def model_errors(model, x: torch.Tensor, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Return a model's window scores [N] and per-step errors [N, W] (which sum to the window scores)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    steps = []
    for batch in x.split(batch_size):
        batch = batch.to(device)
        elbo = negative_elbo(model, batch)
        if elbo is None:
            steps.append((model(batch) - batch).pow(2).flatten(2).sum(2).cpu())
        else:
            steps.append((elbo[:, None] / batch.shape[1]).expand(-1, batch.shape[1]).cpu())
    model.train(was_training)
    errors = torch.cat(steps).double().numpy() if steps else np.zeros((0, x.shape[1]))
    return errors.sum(1), errors


class PCADetector:
    """The baseline: reconstruction error of windows projected on the first principal components of training windows."""

    def __init__(self, components: int = 2, mean: list[float] | None = None, basis: list[list[float]] | None = None):
        self.components = components
        self.mean = None if mean is None else np.asarray(mean)
        self.basis = None if basis is None else np.asarray(basis)

    def fit(self, windows: torch.Tensor) -> PCADetector:
        """Fit the components on training windows [N, W, C]."""
        from sklearn.decomposition import PCA

        flat = windows.flatten(1).double().numpy()
        pca = PCA(min(self.components, *flat.shape)).fit(flat)
        self.mean, self.basis = pca.mean_, pca.components_
        return self

    def errors(self, windows: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Return window scores [N] and per-step errors [N, W], as `model_errors` does."""
        centred = windows.flatten(1).double().numpy() - self.mean
        residual = centred - centred @ self.basis.T @ self.basis
        errors = (residual**2).reshape(*windows.shape[:2], -1).sum(2)
        return errors.sum(1), errors

    def state(self) -> dict:
        """Plain values for a checkpoint."""
        return {"components": len(self.basis), "mean": self.mean.tolist(), "basis": self.basis.tolist()}


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


def score_split(model, pca: PCADetector, datamodule: SeriesDataModule, split: str) -> dict[str, LevelScores]:
    """Score one split with the model and the PCA baseline, at the data's label level."""
    windows, series = datamodule.windows(split), datamodule.series(split)
    errors = {"model": model_errors(model, windows.x), "pca": pca.errors(windows.x)}
    return {name: at_level(*errors[name], windows, series, datamodule.label_level) for name in DETECTORS}


def threshold_at(quantiles: list[float], quantile: float) -> float:
    """Return the `quantile` of the validation scores from their stored quantile grid."""
    return float(np.interp(quantile, QUANTILE_GRID, quantiles))


def reference(model, datamodule: SeriesDataModule, pca_components: int = 2, pca: PCADetector | None = None) -> dict:
    """What scoring new data needs besides weights: the fitted PCA and both detectors' validation score quantiles."""
    pca = pca or PCADetector(pca_components).fit(datamodule.windows("train").x)
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
    pca = PCADetector(**stored["pca"])
    scores = score_split(model, pca, datamodule, "test")
    thresholds = {name: threshold_at(stored["quantiles"][name], quantile) for name in DETECTORS}
    if value is not None:
        thresholds["model"] = float(value)  # a fixed value is the model's; PCA keeps its validation quantile
    report = {
        "level": datamodule.label_level,
        "threshold": {"quantile": quantile, "value": value, **thresholds},
        "pca_components": pca.components,
        **{name: detection_metrics(scores[name], thresholds[name]) for name in DETECTORS},
    }
    return scores, thresholds, report
