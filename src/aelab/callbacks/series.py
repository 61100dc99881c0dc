"""Series callbacks: anomaly scores kept in checkpoints and logged at test end; reconstructed windows drawn.

Both do nothing unless the run's data module is a `SeriesDataModule`, so they can sit in the
default callbacks for every run.
"""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch

from aelab.callbacks.images import ReconstructionGrid
from aelab.data.timeseries import SeriesDataModule
from aelab.metrics.detector import detect, reference
from aelab.metrics.pca import PCA

SERIES_KEY = "aelab_series"  # the checkpoint entry aelab-detect reads (apart from `aelab`, which the run record owns)
LOGGED = ("auroc", "auprc", "best_f1", "f1")


def series_datamodule(trainer: pl.Trainer) -> SeriesDataModule | None:
    """Return the trainer's data module when it holds series, else None."""
    datamodule = getattr(trainer, "datamodule", None)
    return datamodule if isinstance(datamodule, SeriesDataModule) else None


def figure_to_image(figure) -> torch.Tensor:
    """Render a matplotlib figure to an image [3, H, W] in [0, 1]."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return torch.from_numpy(rgba[..., :3].copy()).permute(2, 0, 1).float() / 255


class SeriesAnomalyScores(pl.Callback):
    """Stores what `aelab-detect` needs in every checkpoint and logs test/auroc (and more) beside a PCA baseline.

    The stored entry holds the quantiles of the validation (normal) scores, for thresholds, and a PCA
    fitted on the training windows. At test end the test split is scored per step (or per series for
    one label per series, like heartbeats) and `test/auroc`, `test/auprc`, `test/best_f1`, `test/f1`
    are logged with their `_pca` counterparts, when the test split has labels.
    """

    def __init__(self, quantile: float = 0.99, pca_components: int = 2) -> None:
        self.quantile, self.pca_components = quantile, pca_components
        self._pca: PCA | None = None
        self._saved: tuple[int, dict] | None = None  # (step, reference): the best and last checkpoints share one

    def applies_to(self, pl_module: pl.LightningModule, datamodule) -> bool:
        """Return whether the run's data are series (runs leave this callback out otherwise)."""
        return isinstance(datamodule, SeriesDataModule)

    def _reference(self, datamodule: SeriesDataModule, pl_module: pl.LightningModule) -> dict:
        if self._pca is None:  # the training windows never change: fit the baseline once
            self._pca = PCA.fit(datamodule.windows("train").x, self.pca_components)
        return reference(pl_module, datamodule, pca=self._pca)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        datamodule = series_datamodule(trainer)
        if datamodule is None:
            return
        if self._saved is None or self._saved[0] != trainer.global_step:
            self._saved = (trainer.global_step, self._reference(datamodule, pl_module))
        checkpoint[SERIES_KEY] = self._saved[1]

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        datamodule = series_datamodule(trainer)
        if datamodule is None or len(datamodule.test_x) == 0:
            return
        _, _, report = detect(pl_module, datamodule, self._reference(datamodule, pl_module), self.quantile)
        values = {f"test/{k}": report["model"][k] for k in LOGGED if k in report["model"]}
        values |= {f"test/{k}_pca": report["pca"][k] for k in LOGGED if k in report["pca"]}
        if "f1_point_adjusted" in report["model"]:
            values["test/f1_point_adjusted"] = report["model"]["f1_point_adjusted"]
        if values:
            pl_module.log_dict(values)


class SeriesReconstructionPlot(ReconstructionGrid):
    """A few validation windows (black) against their reconstructions (red), saved as a PNG in the run folder."""

    applies_to = SeriesAnomalyScores.applies_to

    def images(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> torch.Tensor | None:
        from matplotlib.figure import Figure

        datamodule = series_datamodule(trainer)
        if datamodule is None or len(datamodule.val_x) == 0:
            return None
        x = datamodule.val_x
        index = np.linspace(0, len(x) - 1, min(self.num_images, len(x))).round().astype(int)
        x = x[index].to(pl_module.device)
        recon = pl_module(x).cpu().numpy()
        x = x.cpu().numpy()
        figure = Figure(figsize=(8, 1.6 * len(x)), dpi=80)
        for row, (original, rebuilt) in enumerate(zip(x, recon)):
            axes = figure.add_subplot(len(x), 1, row + 1)
            axes.plot(original, color="black", linewidth=1)
            axes.plot(rebuilt, color="tab:red", linewidth=1)
            axes.set_ylabel(f"window {index[row]}", fontsize=7)
            axes.tick_params(labelsize=6)
        figure.suptitle(
            f"validation windows (black) and reconstructions (red), epoch {trainer.current_epoch}", fontsize=8
        )
        figure.tight_layout()
        return figure_to_image(figure)[None]
