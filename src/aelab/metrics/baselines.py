"""The non-neural detectors scored beside every series model, fitted on its training windows.

- `pca`: aelab's PCA baseline, the squared reconstruction error of a few principal components (as before).
- `tsb_pca`: TSB-AD's windowed PCA (its `models/PCA.py`, from pyod): standardised windows, every component,
  a window's score the sum over components of its distance to the component divided by the component's
  explained variance ratio. Unlike TSB-AD, which fits it on the series it scores, it is fitted on the
  training windows; columns constant in training are left out when scoring too (TSB-AD drops them only
  when fitting, and then cannot score).
- `iforest`: scikit-learn's Isolation Forest on standardised windows (TSB-AD's choice of 200 trees, one feature
  per split), fitted on up to `SAMPLE` training windows drawn once with a fixed seed; the draw is kept in
  checkpoints, so aelab-detect refits the same forest.

Each gives window scores; `pca` also per-step contributions, the others one score per window (placed at the
window's centre, as TSB-AD does).
"""

from __future__ import annotations

import numpy as np
import torch

from aelab.metrics.pca import PCA

SAMPLE = 2048
IFOREST_TREES = 200
BASELINES = ("pca", "tsb_pca", "iforest")


def channel_major(x: torch.Tensor) -> np.ndarray:
    """Flatten windows [N, W, C] as TSB-AD's `Window` does: each channel's W steps in turn."""
    return x.double().permute(0, 2, 1).reshape(len(x), -1).numpy()


def fitted_scaler(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (1 where a column is constant, as scikit-learn's StandardScaler)."""
    scale = flat.std(0)
    return flat.mean(0), np.where(scale > 0, scale, 1.0)


class ReconstructionPCA:
    """aelab's PCA baseline: window scores and per-step contributions from the squared residual."""

    per_step = True

    def __init__(self, pca: PCA) -> None:
        self.pca = pca

    @classmethod
    def fit(cls, x: torch.Tensor, components: int = 2) -> ReconstructionPCA:
        """Fit `components` principal components of the training windows."""
        return cls(PCA.fit(x, components))

    @classmethod
    def from_state(cls, state: dict) -> ReconstructionPCA:
        """Rebuild from `state()`."""
        return cls(PCA(state["mean"], state["basis"]))

    def state(self) -> dict:
        """Plain values for a checkpoint."""
        return self.pca.state()

    def errors(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Window scores [N] and per-step contributions [N, W]."""
        errors = self.pca.error_map(x).reshape(*x.shape[:2], -1).sum(2)
        return errors.sum(1), errors


class WindowedPCA:
    """TSB-AD's windowed PCA scoring (see the module docstring)."""

    per_step = False

    def __init__(self, mean, scale, keep, components, weights) -> None:
        self.mean, self.scale = np.asarray(mean, np.float64), np.asarray(scale, np.float64)
        self.keep, self.components = np.asarray(keep, bool), np.asarray(components, np.float64)
        self.weights = np.asarray(weights, np.float64)

    @classmethod
    def fit(cls, x: torch.Tensor, components: int = 2) -> WindowedPCA:
        """Fit on training windows (every component: `components` is aelab's PCA's, not used here)."""
        from sklearn.decomposition import PCA as SklearnPCA

        flat = channel_major(x)
        mean, scale = fitted_scaler(flat)
        standard = (flat - mean) / scale
        keep = (standard != 0).any(0)
        pca = SklearnPCA(random_state=0).fit(standard[:, keep])
        return cls(mean, scale, keep, pca.components_, pca.explained_variance_ratio_)

    @classmethod
    def from_state(cls, state: dict) -> WindowedPCA:
        """Rebuild from `state()`."""
        return cls(*(state[k].numpy() for k in ("mean", "scale", "keep", "components", "weights")))

    def state(self) -> dict:
        """Tensors for a checkpoint (a window of W steps and C channels keeps a [WC, WC] basis)."""
        names = ("mean", "scale", "keep", "components", "weights")
        return {k: torch.from_numpy(np.asarray(getattr(self, k))) for k in names}

    def errors(self, x: torch.Tensor) -> tuple[np.ndarray, None]:
        """Window scores [N]."""
        from scipy.spatial.distance import cdist

        standard = ((channel_major(x) - self.mean) / self.scale)[:, self.keep]
        weights = np.where(self.weights > 0, self.weights, np.inf)  # a component explaining nothing adds nothing
        return (cdist(standard, self.components) / weights).sum(1), None


class WindowIForest:
    """Isolation Forest on standardised windows (see the module docstring)."""

    per_step = False

    def __init__(self, sample: torch.Tensor) -> None:
        from sklearn.ensemble import IsolationForest

        self.sample = sample
        flat = sample.double().numpy()
        self.mean, self.scale = fitted_scaler(flat)
        forest = IsolationForest(n_estimators=IFOREST_TREES, max_features=1.0, random_state=0, n_jobs=1)
        self.forest = forest.fit((flat - self.mean) / self.scale)

    @classmethod
    def fit(cls, x: torch.Tensor, components: int = 2) -> WindowIForest:
        """Fit on up to `SAMPLE` training windows drawn with a fixed seed."""
        flat = x.flatten(1).float()
        if len(flat) > SAMPLE:
            flat = flat[torch.randperm(len(flat), generator=torch.Generator().manual_seed(0))[:SAMPLE].sort().values]
        return cls(flat.contiguous())

    @classmethod
    def from_state(cls, state: dict) -> WindowIForest:
        """Refit the same forest from the stored draw."""
        return cls(state["sample"])

    def state(self) -> dict:
        """The training windows it was fitted on, as a tensor."""
        return {"sample": self.sample}

    def errors(self, x: torch.Tensor) -> tuple[np.ndarray, None]:
        """Window scores [N]: higher for windows isolated in fewer splits."""
        flat = x.flatten(1).double().numpy()
        return -self.forest.decision_function((flat - self.mean) / self.scale), None


KINDS = {"pca": ReconstructionPCA, "tsb_pca": WindowedPCA, "iforest": WindowIForest}


def fit_baselines(names, x: torch.Tensor, pca_components: int = 2) -> tuple[dict, dict[str, float]]:
    """Fit the named baselines on training windows; return them and each one's fitting seconds."""
    import time

    from aelab.utils.errors import require

    unknown = [n for n in names if n not in KINDS]
    require(not unknown, f"Unknown baselines {unknown}: choose among {list(KINDS)}.")
    fitted, seconds = {}, {}
    for name in names:
        started = time.perf_counter()
        fitted[name] = KINDS[name].fit(x, pca_components)
        seconds[name] = time.perf_counter() - started
    return fitted, seconds


def load_baselines(stored: dict) -> dict:
    """Rebuild the baselines a checkpoint stores (older checkpoints hold the PCA alone, under `pca`)."""
    states = stored["baselines"] if "baselines" in stored else {"pca": stored["pca"]}
    return {name: KINDS[name].from_state(state) for name, state in states.items()}
