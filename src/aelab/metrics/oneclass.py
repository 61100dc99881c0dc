"""The anomaly analysis on images: the one-class protocol of Ruff et al. (2018).

The model trained on the classes in `data.normal_classes` only; every test image is scored by
its reconstruction error (the negative ELBO for VAEs), and images of the other classes are the
anomalies. Scoring and metrics are those of the series detector (`aelab.metrics.detector`), so
images and series report the same figures; PCA with as many components is the baseline.
"""

from __future__ import annotations

import numpy as np
import torch

from aelab.metrics.detector import LevelScores, detection_metrics, model_errors, pca_errors
from aelab.metrics.evaluation import Evaluation
from aelab.metrics.pictures import figure, save_figure, save_grid


def anomaly_labels(labels: np.ndarray, normal_classes: list[int]) -> np.ndarray:
    """Return 1 for samples outside the normal classes, 0 for normal ones."""
    return (~np.isin(labels, normal_classes)).astype(np.int64)


def scored(score: np.ndarray, label: np.ndarray) -> LevelScores:
    """Wrap per-image scores as the detector's per-series scores (one image, one series)."""
    return LevelScores(score, label, np.arange(len(score)), np.zeros(len(score), np.int64))


def oneclass(ev: Evaluation) -> dict[str, float]:
    """AUROC, AUPRC and F1 (threshold: a quantile of the normal validation, else training, scores): model and PCA."""
    quantile = float(ev.settings("anomaly").get("quantile", 0.95))
    label = anomaly_labels(ev.test_y, np.atleast_1d(ev.datamodule.hparams.normal_classes).tolist())
    # Without a validation split (data.val_fraction=0) the threshold comes from the normal training images.
    normal = ev.val_x if len(ev.val_x) else ev.train_x
    scores = {
        "": (model_errors(ev.model, ev.test_x, ev.batch_size)[0], model_errors(ev.model, normal, ev.batch_size)[0]),
        "pca_": (pca_errors(ev.pca, ev.test_x)[0], pca_errors(ev.pca, normal)[0]),
    }
    metrics = {}
    for prefix, (test, val) in scores.items():
        found = detection_metrics(scored(test, label), float(np.quantile(val, quantile)))
        metrics.update({f"anomaly/{prefix}{key}": value for key, value in found.items()})
    model_scores = scores[""][0]
    fig, ax = figure()
    bins = np.histogram_bin_edges(model_scores, bins=50)
    ax.hist(model_scores[label == 0], bins=bins, alpha=0.6, density=True, label="normal")
    ax.hist(model_scores[label == 1], bins=bins, alpha=0.6, density=True, label="anomalous")
    ax.set(xlabel="anomaly score", ylabel="density", title=f"AUROC {metrics.get('anomaly/auroc', float('nan')):.3f}")
    ax.legend()
    save_figure(ev.trainer, ev.path("anomaly_scores.png"), fig)
    if ev.is_image:
        row = int(ev.options.get("num_images", 8))
        worst = torch.from_numpy(np.argsort(-model_scores)[: 2 * row].copy())  # two rows of the highest scores
        save_grid(ev.trainer, ev.path("anomaly_top.png"), ev.test_x[worst], nrow=row)
    return metrics
