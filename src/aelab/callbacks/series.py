"""Series callbacks: anomaly scores kept in checkpoints and logged at test end; reconstructed windows drawn.

Both do nothing unless the run's data module is a `SeriesDataModule`, so they can sit in the
default callbacks for every run.
"""

from __future__ import annotations

import time

import numpy as np
import pytorch_lightning as pl
import torch

from aelab.callbacks.images import ReconstructionGrid
from aelab.data.timeseries import SeriesDataModule
from aelab.metrics.baselines import BASELINES, fit_baselines
from aelab.metrics.detector import METRICS, detect, reference, score_split, validation_quantiles
from aelab.metrics.series_metrics import TOP1_MARGIN

SERIES_KEY = "aelab_series"  # the checkpoint entry aelab-detect reads (apart from `aelab`, which the run record owns)
LOGGED = METRICS


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
    """Stores what `aelab-detect` needs in every checkpoint and logs test/auroc (and more) beside the baselines.

    The stored entry holds the quantiles of the validation (normal) scores, for thresholds, and the
    baselines fitted on the training windows. At test end the test split is scored per step (or per
    series for one label per series, like heartbeats) and `test/auroc`, `test/auprc`, `test/best_f1`,
    `test/f1` (per-step data also `test/vus_pr`, `test/vus_roc`, `test/range_auc_roc`, `test/range_auc_pr`,
    `test/top1`) are logged with each baseline's counterparts (`test/auroc_pca`, `test/vus_pr_iforest`, ...),
    when the test split has labels, and `test/fit_seconds`, `test/score_seconds` (the model's).
    """

    def __init__(
        self,
        quantile: float = 0.99,
        pca_components: int = 2,
        baselines: list[str] | tuple[str, ...] = BASELINES,
        vus_window: int | str = "auto",
        top1_margin: int = TOP1_MARGIN,
    ) -> None:
        self.quantile, self.pca_components = quantile, pca_components
        self.baseline_names, self.vus_window, self.top1_margin = list(baselines), vus_window, top1_margin
        self._baselines: dict | None = None
        self._known: dict[str, list[float]] = {}  # the baselines' validation quantiles: they never change
        self._saved: tuple[int, dict] | None = None  # (step, reference): the best and last checkpoints share one
        self._fit_started: float | None = None
        self._fit_seconds: float | None = None

    def applies_to(self, pl_module: pl.LightningModule, datamodule) -> bool:
        """Return whether the run's data are series (runs leave this callback out otherwise)."""
        return isinstance(datamodule, SeriesDataModule)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._fit_started = time.perf_counter()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._fit_started is not None:
            self._fit_seconds = time.perf_counter() - self._fit_started

    def _reference(self, datamodule: SeriesDataModule, pl_module: pl.LightningModule) -> dict:
        if self._baselines is None:  # the training windows never change: fit the baselines once
            self._baselines, _ = fit_baselines(self.baseline_names, datamodule.windows("train").x, self.pca_components)
            self._known = validation_quantiles(score_split(None, self._baselines, datamodule, "val"))
        return reference(pl_module, datamodule, baselines=self._baselines, known=self._known)

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
        stored = self._reference(datamodule, pl_module)
        _, _, report = detect(
            pl_module, datamodule, stored, self.quantile, vus_window=self.vus_window, top1_margin=self.top1_margin
        )
        values = {f"test/{k}": report["model"][k] for k in LOGGED if k in report["model"]}
        for name in report["detectors"][1:]:
            values |= {f"test/{k}_{name}": report[name][k] for k in LOGGED if k in report[name]}
        if "f1_point_adjusted" in report["model"]:
            values["test/f1_point_adjusted"] = report["model"]["f1_point_adjusted"]
        values["test/score_seconds"] = report["model"]["score_seconds"]
        if self._fit_seconds is not None:
            values["test/fit_seconds"] = self._fit_seconds
        pl_module.log_dict(values)


class SeriesReconstructionPlot(ReconstructionGrid):
    """A few validation windows (black) against their reconstructions (red), saved as a PNG in the run folder."""

    def applies_to(self, pl_module: pl.LightningModule, datamodule) -> bool:
        return isinstance(datamodule, SeriesDataModule) and pl_module.can_decode

    def images(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> torch.Tensor | None:
        from matplotlib.figure import Figure

        datamodule = series_datamodule(trainer)
        if datamodule is None or len(datamodule.val_x) == 0:
            return None
        x = datamodule.val_x
        index = np.linspace(0, len(x) - 1, min(self.num_images, len(x))).round().astype(int)
        x = x[index].to(pl_module.device, pl_module.dtype)
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
