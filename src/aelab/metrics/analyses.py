"""The analyses `aelab-eval` runs after testing (and `aelab-train` with eval.enabled=true): choose, run, report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from aelab.metrics.codes import codes
from aelab.metrics.compression import compression
from aelab.metrics.denoising import denoising
from aelab.metrics.evaluation import Evaluation
from aelab.metrics.features import features
from aelab.metrics.finetune import finetune
from aelab.metrics.generation import generation
from aelab.metrics.latents import latents
from aelab.metrics.oneclass import oneclass
from aelab.metrics.reconstruction import reconstruction
from aelab.metrics.selftaught import self_taught
from aelab.utils.errors import UserError

log = logging.getLogger("aelab")


def _needs_classes(model, datamodule) -> str | None:
    train_y, test_y = datamodule.train_y, datamodule.test_y
    if len(set(train_y[train_y >= 0].tolist())) < 2 or bool((test_y < 0).any()):
        return "needs class labels on the training and test splits, which this data does not have"
    return None


def _needs_normal_classes(model, datamodule) -> str | None:
    from aelab.data.timeseries import SeriesDataModule

    if isinstance(datamodule, SeriesDataModule) or "normal_classes" not in datamodule.hparams:
        return "is for labelled images; score series with aelab-detect"
    if datamodule.hparams.normal_classes is None:
        return "needs data.normal_classes (e.g. data.normal_classes=[0]), the classes the model was trained on"
    return None


def _needs_other_classes(model, datamodule) -> str | None:
    if "normal_classes" not in datamodule.hparams or datamodule.hparams.normal_classes is None:
        return "needs data.normal_classes: the classes the model learnt its features on (e.g. [5,6,7,8,9])"
    pool = datamodule.arrays.train_y
    others = pool[(pool >= 0) & ~torch.isin(pool, torch.as_tensor(datamodule.hparams.normal_classes))]
    if len(set(others.tolist())) < 2:
        return "needs labelled images of at least two classes outside data.normal_classes in the training files"
    return None


def _needs_decoder(model, datamodule) -> str | None:
    if not model.can_decode:
        return f"compares reconstructions with their inputs, and {type(model).__name__} has no decoder"
    return None


def _needs_prior(model, datamodule) -> str | None:
    if not model.can_sample:
        return f"needs a model that samples from a prior (e.g. model=vae, wae or aae), not {type(model).__name__}"
    if not model.has_likelihood and len(datamodule.shape) != 3:
        return f"draws pictures of images and {type(model).__name__} has no likelihood bound to report on series"
    return None


@dataclass(frozen=True)
class Analysis:
    """One analysis: its function and a check that returns why it does not apply (None when it does)."""

    run: Callable[[Evaluation], dict[str, float]]
    unmet: Callable[..., str | None] = lambda model, datamodule: None  # (model, datamodule) -> reason


ANALYSES = {
    "reconstruction": Analysis(reconstruction, _needs_decoder),
    "denoising": Analysis(denoising, _needs_decoder),
    "compression": Analysis(compression, _needs_decoder),
    "codes": Analysis(codes),
    "features": Analysis(features, _needs_classes),
    "finetune": Analysis(finetune, _needs_classes),
    "self_taught": Analysis(self_taught, _needs_other_classes),
    "anomaly": Analysis(oneclass, _needs_normal_classes),
    "generation": Analysis(generation, _needs_prior),
    "latents": Analysis(latents),
}
DEFAULT = ("reconstruction", "generation", "anomaly")  # each where it applies


def select_analyses(requested, model, datamodule) -> list[str]:
    """Return the analyses to run: a list as given, `default` (those of DEFAULT that apply) or `all` that apply."""
    if requested in (None, "default", "all"):
        pool = DEFAULT if requested != "all" else tuple(ANALYSES)
        return [name for name in pool if ANALYSES[name].unmet(model, datamodule) is None]
    names = [requested] if isinstance(requested, str) else list(requested)
    for name in names:
        if name not in ANALYSES:
            raise UserError(
                f"Unknown analysis {name!r} in eval.analyses: choose among {list(ANALYSES)}, or default, or all."
            )
        reason = ANALYSES[name].unmet(model, datamodule)
        if reason is not None:
            raise UserError(f"The {name} analysis {reason}: drop it from eval.analyses.")
    return list(dict.fromkeys(names))


def run_analyses(options: dict, model, datamodule, trainer, out_dir: str | Path, seed: int = 0) -> dict[str, float]:
    """Run the configured analyses; write pictures and files to <out_dir>/analyses; log, print and return metrics."""
    names = select_analyses(options.get("analyses"), model, datamodule)
    ev = Evaluation(model, datamodule, trainer, Path(out_dir) / "analyses", options, seed)
    metrics: dict[str, float] = {}
    for name in names:
        torch.manual_seed(seed)  # each analysis draws the same noise whatever ran before it
        start = time.perf_counter()
        metrics.update(ANALYSES[name].run(ev))
        log.info("Analysis %s took %.1f s", name, time.perf_counter() - start)
    if trainer is not None and metrics:
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
            logger.save()
    if metrics:
        print_table(metrics)
    return metrics


def print_table(metrics: dict[str, float]) -> None:
    """Print the metrics as a short table, each PCA figure beside the model's."""
    from rich.console import Console
    from rich.table import Table

    baselines = {}
    for key in metrics:
        if "pca_" in key:
            for model_key in (key.replace("pca_", "", 1), key.replace("pca_", "ae_", 1)):
                if model_key in metrics:
                    baselines[model_key] = key
    table = Table(title="analyses", title_justify="left")
    for column in ("metric", "model", "PCA"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    folded = set(baselines.values())
    for key, value in metrics.items():
        if key not in folded:
            baseline = metrics.get(baselines.get(key, ""), None)
            table.add_row(key, f"{value:.4g}", "" if baseline is None else f"{baseline:.4g}")
    Console(stderr=True).print(table)
