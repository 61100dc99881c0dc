"""The features analysis: a linear probe and k-means on frozen codes, against raw pixels and PCA codes."""

from __future__ import annotations

import numpy as np

from aelab.metrics.evaluation import Evaluation


def probe_accuracy(
    train: np.ndarray, train_y: np.ndarray, test: np.ndarray, test_y: np.ndarray, max_iter: int = 1000, C: float = 1.0
) -> float:
    """Return the test accuracy of a logistic regression on standardised features fitted to the training split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, C=C))
    return float(probe.fit(train, train_y).score(test, test_y))


def cluster_accuracy(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Return the accuracy of clusters mapped one-to-one onto labels by the Hungarian algorithm."""
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics.cluster import contingency_matrix

    counts = contingency_matrix(labels, clusters)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(labels))


def cluster_scores(features: np.ndarray, labels: np.ndarray, seed: int = 0, n_init: int = 10) -> dict[str, float]:
    """Return NMI, ARI and Hungarian accuracy of k-means (k = number of classes) against the labels."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    k = len(np.unique(labels))
    clusters = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(features)
    return {
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "ari": float(adjusted_rand_score(labels, clusters)),
        "accuracy": cluster_accuracy(labels, clusters),
    }


def features(ev: Evaluation) -> dict[str, float]:
    """Probe accuracy and k-means NMI / ARI / accuracy for the model's codes, raw pixels and PCA codes."""
    settings = ev.settings("features")
    sources = {
        "ae": (ev.train_codes.flatten(1).numpy(), ev.test_codes.flatten(1).numpy()),
        "pixels": (ev.train_x.flatten(1).numpy(), ev.test_x.flatten(1).numpy()),
        "pca": (ev.pca.encode(ev.train_x).numpy(), ev.pca.encode(ev.test_x).numpy()),
    }
    test_y = ev.test_y
    chance = np.bincount(test_y).max() / len(test_y)  # always answering the most frequent class
    metrics = {"probe/chance": float(chance)}
    for name, (train, test) in sources.items():
        metrics[f"probe/{name}_accuracy"] = probe_accuracy(
            train, ev.train_y, test, test_y, int(settings.get("max_iter", 1000)), float(settings.get("C", 1.0))
        )
        scores = cluster_scores(test, test_y, ev.seed, int(settings.get("kmeans_init", 10)))
        metrics.update({f"cluster/{name}_{key}": value for key, value in scores.items()})
    return metrics
