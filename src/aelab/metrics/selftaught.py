"""The self-taught analysis (Raina et al. 2007; the UFLDL exercise): features learnt on some classes, used on others.

The model trained on the classes in `data.normal_classes` only (unlabelled data: UFLDL's digits 5-9). The images of
the other classes in the training files are the labelled set, in file order: the first half trains a softmax
regression on the model's codes, the second half tests it (the exercise's split), and so do the official test images
of those classes. Beside it the same softmax on raw pixels and on PCA codes of the same size (PCA fitted on the
unlabelled training images). The softmax has no bias term and the exercise's cost, the mean cross-entropy plus
`weight_decay`/2 times the squared weights, minimised by L-BFGS for `max_iter` iterations (scikit-learn's).
"""

from __future__ import annotations

import numpy as np
import torch

from aelab.metrics.evaluation import Evaluation

DEFAULTS = {"weight_decay": 1e-4, "max_iter": 100}


def softmax_accuracies(train, train_y, tests: dict, weight_decay: float, max_iter: int) -> dict[str, float]:
    """Fit the softmax regression on (train, train_y); return its accuracy on each named (features, labels) pair."""
    from sklearn.linear_model import LogisticRegression

    # scikit-learn minimises C * sum(loss) + |w|^2 / 2: the exercise's mean loss + lambda/2 |w|^2 when C = 1/(lambda m).
    softmax = LogisticRegression(C=1 / (weight_decay * len(train)), fit_intercept=False, max_iter=max_iter)
    softmax.fit(train, train_y)
    return {name: float(softmax.score(x, y)) for name, (x, y) in tests.items()}


def self_taught(ev: Evaluation) -> dict[str, float]:
    """Softmax accuracy on the other classes' images from the model's codes, from raw pixels and from PCA codes."""
    settings = {**DEFAULTS, **ev.settings("self_taught")}
    data = ev.datamodule
    unlabelled = np.atleast_1d(data.hparams.normal_classes).tolist()
    pool_y = data.arrays.train_y.cpu()
    chosen = torch.nonzero(~torch.isin(pool_y, torch.tensor(unlabelled))).flatten()  # file order
    half = round(len(chosen) / 2)
    images = data.preprocessed(data.arrays.train_x.cpu()[chosen])
    labels = pool_y[chosen].numpy()
    test_mask = ~np.isin(ev.test_y, unlabelled)
    test_x, test_y = ev.test_x[torch.from_numpy(test_mask)], ev.test_y[test_mask]
    sources = {
        "": lambda x: ev.apply(ev.model.encode, x).flatten(1).numpy(),
        "pixels_": lambda x: x.flatten(1).numpy(),
        "pca_": lambda x: ev.pca.encode(x).numpy(),
    }
    metrics = {"self_taught/labelled": float(len(chosen)), "self_taught/test_images": float(len(test_y))}
    for prefix, features in sources.items():
        labelled = features(images)
        found = softmax_accuracies(
            labelled[:half],
            labels[:half],
            {"accuracy": (labelled[half:], labels[half:]), "official_accuracy": (features(test_x), test_y)},
            float(settings["weight_decay"]),
            int(settings["max_iter"]),
        )
        metrics |= {f"self_taught/{prefix}{key}": value for key, value in found.items()}
    return metrics
