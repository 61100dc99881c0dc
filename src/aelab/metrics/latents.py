"""The latents analysis: a 2-D picture of the test codes coloured by label (PCA or t-SNE)."""

from __future__ import annotations

import numpy as np
import torch

from aelab.metrics.evaluation import Evaluation
from aelab.metrics.pictures import figure, save_figure
from aelab.utils.errors import require

METHODS = ("pca", "tsne")


def embed(codes: np.ndarray, method: str, seed: int = 0) -> tuple[np.ndarray, dict[str, float]]:
    """Return 2-D coordinates of codes [N, D] and a figure of how faithful they are."""
    if method == "tsne":
        from sklearn.manifold import TSNE

        tsne = TSNE(n_components=2, init="pca", perplexity=min(30.0, (len(codes) - 1) / 3), random_state=seed)
        return tsne.fit_transform(codes), {"latents/tsne_kl": float(tsne.kl_divergence_)}
    from sklearn.decomposition import PCA

    pca = PCA(n_components=min(2, codes.shape[1]), random_state=seed)
    points = pca.fit_transform(codes)
    if points.shape[1] == 1:  # a 1-D code: spread it along x only
        points = np.column_stack([points[:, 0], np.zeros(len(points))])
    return points, {"latents/pca_variance_2d": float(pca.explained_variance_ratio_.sum())}


def latents(ev: Evaluation) -> dict[str, float]:
    """Draw latents.png: the test codes (at most `max_points`, a fixed subset) in 2-D, one colour per label."""
    settings = ev.settings("latents")
    method = str(settings.get("method", "pca"))
    require(method in METHODS, f"eval.latents.method must be one of {METHODS}, not {method!r}.")
    codes, labels = ev.test_codes.flatten(1).numpy(), ev.test_y
    cap = int(settings.get("max_points", 2000))
    if len(codes) > cap:
        keep = torch.randperm(len(codes), generator=torch.Generator().manual_seed(0))[:cap].numpy()
        codes, labels = codes[keep], labels[keep]
    points, metrics = embed(codes, method, ev.seed)
    fig, ax = figure()
    for label in np.unique(labels):
        mine = labels == label
        ax.scatter(points[mine, 0], points[mine, 1], s=6, alpha=0.7, label=str(label) if label >= 0 else "unlabelled")
    ax.set(title=f"test codes ({method})", xticks=[], yticks=[])
    if len(np.unique(labels)) <= 20:
        ax.legend(markerscale=3, fontsize="small", loc="best")
    save_figure(ev.trainer, ev.path("latents.png"), fig)
    metrics["latents/points"] = float(len(points))
    return metrics
