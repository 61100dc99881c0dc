"""The PCA baseline: principal components of the training split, at an autoencoder's code size."""

from __future__ import annotations

import numpy as np
import torch


class PCABaseline:
    """sklearn's PCA on flattened training samples, used as an encoder and decoder beside the model."""

    def __init__(self, train_x: torch.Tensor, components: int, seed: int = 0) -> None:
        from sklearn.decomposition import PCA

        flat = train_x.flatten(1).double().numpy()
        self.shape = tuple(train_x.shape[1:])
        # More components than samples or values has no meaning: PCA is exact there.
        self.components = max(1, min(int(components), *flat.shape))
        self.pca = PCA(n_components=self.components, random_state=seed).fit(flat)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Return the PCA codes [N, components] of samples."""
        return torch.from_numpy(self.pca.transform(x.flatten(1).double().numpy())).float()

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Return samples (in the data's shape) from PCA codes."""
        flat = self.pca.inverse_transform(codes.double().numpy())
        return torch.from_numpy(flat).float().view(-1, *self.shape)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Return the projections of samples onto the principal subspace."""
        return self.decode(self.encode(x))

    @property
    def mean(self) -> np.ndarray:
        """The training mean, flattened."""
        return self.pca.mean_

    @property
    def basis(self) -> np.ndarray:
        """The principal axes [components, values]."""
        return self.pca.components_
