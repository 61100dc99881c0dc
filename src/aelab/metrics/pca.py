"""The PCA baseline beside every analysis and detector: principal components of the training split."""

from __future__ import annotations

import numpy as np
import torch


class PCA:
    """Principal components of flattened training samples (fitted by scikit-learn): an encoder, decoder and detector.

    Analyses fit it with as many components as the model's code; the series detector with a few, and keeps
    its `state()` in checkpoints so that new data is scored without the training files.
    """

    def __init__(self, mean: np.ndarray | list, basis: np.ndarray | list) -> None:
        self.mean, self.basis = np.asarray(mean, dtype=np.float64), np.asarray(basis, dtype=np.float64)

    @classmethod
    def fit(cls, samples: torch.Tensor, components: int, seed: int = 0) -> PCA:
        """Fit `components` components (at most the number of samples or values: PCA is exact there)."""
        from sklearn.decomposition import PCA as SklearnPCA

        flat = samples.flatten(1).double().numpy()
        fitted = SklearnPCA(n_components=max(1, min(int(components), *flat.shape)), random_state=seed).fit(flat)
        return cls(fitted.mean_, fitted.components_)

    @property
    def components(self) -> int:
        """The number of principal components kept."""
        return len(self.basis)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Return the PCA codes [N, components] of samples."""
        return torch.from_numpy((x.flatten(1).double().numpy() - self.mean) @ self.basis.T).float()

    def decode(self, codes: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        """Return samples of `shape` (one sample's) from PCA codes."""
        flat = codes.double().numpy() @ self.basis + self.mean
        return torch.from_numpy(flat).float().view(-1, *shape)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Return the projections of samples onto the principal subspace."""
        return self.decode(self.encode(x), tuple(x.shape[1:]))

    def error_map(self, x: torch.Tensor) -> np.ndarray:
        """Return the squared residual of each value (shaped like x), as a model's `anomaly_map`."""
        centred = x.flatten(1).double().numpy() - self.mean
        return ((centred - centred @ self.basis.T @ self.basis) ** 2).reshape(x.shape)

    def state(self) -> dict:
        """Plain values for a checkpoint; `PCA(**state)` rebuilds it."""
        return {"mean": self.mean.tolist(), "basis": self.basis.tolist()}
