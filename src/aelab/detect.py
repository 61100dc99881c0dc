"""aelab-detect: score series with a trained checkpoint; write scores.csv, metrics.json and detection.png.

The checkpoint carries the data settings, the normalisation statistics and (from the
`SeriesAnomalyScores` callback) the validation score quantiles and the PCA baseline, so new
series are scored without the training files.
"""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig, OmegaConf

from aelab.train import CONFIGS
from aelab.utils.cli import hydra_main


def build_series_datamodule(cfg: DictConfig, checkpoint: dict):
    """Rebuild the checkpoint's series data module (patched by data overrides) with its stored statistics."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate

    from aelab.callbacks.record import CHECKPOINT_KEY
    from aelab.data.timeseries import SeriesDataModule
    from aelab.eval import data_config
    from aelab.utils.errors import require

    saved = OmegaConf.create(checkpoint[CHECKPOINT_KEY]["config"])
    stats = checkpoint.get("datamodule_hyper_parameters") or {}
    require(
        stats.get("mean") is not None,
        f"{cfg.ckpt_path} was not trained on series (it holds no normalisation statistics); "
        "aelab-detect scores time series: use aelab-eval for images.",
    )
    config = data_config(saved.data, cfg.data, list(HydraConfig.get().overrides.task))
    if config.get("window") == "auto":  # the window the training run picked
        config.window = stats["window"]
    datamodule = instantiate(config, mean=stats["mean"], std=stats["std"], _convert_="all")
    require(
        isinstance(datamodule, SeriesDataModule),
        "aelab-detect scores series: data=synthetic_ts, ecg5000, csv, ucr_anomaly, nab, nasa or tsb_ad.",
    )
    datamodule.prepare_data()
    datamodule.setup("test")
    return datamodule


def scores_table(scores, thresholds: dict[str, float], series):
    """Return one row per scored step (or series): where, score, label if known, prediction, each baseline's."""
    import pandas as pd

    model = scores["model"]
    columns = {"series": [series.names[i] for i in model.series], "step": model.step}
    if series.times is not None:
        columns["time"] = [series.times[i][t] for i, t in zip(model.series, model.step)]
    columns |= {"score": model.score}
    if (model.label >= 0).any():
        columns["label"] = model.label
    columns["prediction"] = (model.score > thresholds["model"]).astype(int)
    for name, baseline in scores.items():
        if name != "model":
            columns |= {f"{name}_score": baseline.score, f"{name}_prediction": (baseline.score > thresholds[name]) * 1}
    return pd.DataFrame(columns)


def plot_detection(path, scores, thresholds: dict[str, float], series, max_series: int = 3) -> None:
    """Draw the series, the score and the threshold, with true (red) and detected (orange) anomalies."""
    from matplotlib.figure import Figure

    model = scores["model"]
    if model.step.any():  # per-step scores: the first few series over time
        shown = list(dict.fromkeys(model.series.tolist()))[:max_series]
        figure = Figure(figsize=(12, 4 * len(shown)), dpi=90)
        for row, i in enumerate(shown):
            at = model.series == i
            steps, label, score = model.step[at], model.label[at], model.score[at]
            values = series.values[i][steps]
            top = figure.add_subplot(2 * len(shown), 1, 2 * row + 1)
            top.plot(steps, values, linewidth=0.8)
            top.set_ylabel("value (normalised)")
            top.set_title(series.names[i], fontsize=9)
            bottom = figure.add_subplot(2 * len(shown), 1, 2 * row + 2, sharex=top)
            bottom.plot(steps, score, color="black", linewidth=0.8, label="score")
            bottom.axhline(thresholds["model"], color="tab:orange", linestyle="--", label="threshold")
            bottom.set_ylabel("score")
            for axes in (top, bottom):
                span = axes.get_xaxis_transform()
                axes.fill_between(
                    steps, 0, 1, where=label == 1, color="tab:red", alpha=0.2, transform=span, label="true anomaly"
                )
                axes.fill_between(
                    steps,
                    0,
                    0.08,
                    where=score > thresholds["model"],
                    color="tab:orange",
                    transform=span,
                    label="detected",
                )
            bottom.legend(loc="upper right", fontsize=7)
    else:  # one score per series (heartbeats): the score of each, coloured by label
        figure = Figure(figsize=(12, 4), dpi=90)
        axes = figure.add_subplot(1, 1, 1)
        colours = np.where(model.label == 1, "tab:red", np.where(model.label == 0, "tab:blue", "grey"))
        axes.scatter(np.arange(len(model.score)), model.score, c=colours, s=4)
        axes.axhline(thresholds["model"], color="tab:orange", linestyle="--")
        axes.set_yscale("log")
        axes.set_xlabel("series (red: anomalous, blue: normal, grey: unlabelled)")
        axes.set_ylabel("score (dashed: threshold)")
    figure.tight_layout()
    figure.savefig(path)


def detect_task(cfg: DictConfig) -> dict[str, float]:
    """Score the checkpoint's (or the overridden) test series and write the results; return the model's metrics."""
    from rich.console import Console

    from aelab.callbacks.series import SERIES_KEY
    from aelab.checkpoint import load_model, read_checkpoint
    from aelab.metrics.detector import detect, reference
    from aelab.train import quiet_lightning
    from aelab.utils.errors import require
    from aelab.utils.task import output_dir, write_json

    quiet_lightning()
    checkpoint = read_checkpoint(cfg.ckpt_path)
    datamodule = build_series_datamodule(cfg, checkpoint)
    model = load_model(cfg.ckpt_path)
    shape = [datamodule.hparams.window, datamodule.channels]
    require(
        list(model.input_shape) == shape,
        f"The checkpoint's model takes windows of shape {list(model.input_shape)}, not {shape}; "
        "keep the data.window and value columns it was trained with.",
    )
    require(len(datamodule.test_x) > 0, "There is nothing to score: give the series with data.test=<file or glob>.")
    # A checkpoint saved without the SeriesAnomalyScores callback: rebuild its reference from the training data.
    stored = checkpoint.get(SERIES_KEY) or reference(model, datamodule, cfg.pca_components, names=cfg.baselines)
    scores, thresholds, report = detect(
        model, datamodule, stored, cfg.threshold.quantile, cfg.threshold.value, cfg.vus_window, cfg.top1_margin
    )
    folder = output_dir()
    folder.mkdir(parents=True, exist_ok=True)
    series = datamodule.series("test")
    scores_table(scores, thresholds, series).to_csv(folder / "scores.csv", index=False)
    write_json(folder / "metrics.json", report)
    plot_detection(folder / "detection.png", scores, thresholds, series, cfg.plot_series)
    found = report["model"]
    summary = f"flagged {found['detected_fraction']:.1%} of the {'steps' if report['level'] == 'step' else 'series'}"
    if "auroc" in found:
        summary += f", AUROC {found['auroc']:.3f}" + (f" (PCA {report['pca']['auroc']:.3f})" if "pca" in report else "")
        summary += f", F1 {found['f1']:.3f}"
    if "vus_pr" in found:
        summary += f", VUS-PR {found['vus_pr']:.3f}, top-1 {found['top1']:.2f}"
    Console(stderr=True).print(f"aelab-detect: {summary} → {folder}")
    return {k: v for k, v in found.items() if isinstance(v, float)}


@hydra_main(str(CONFIGS), "detect", "aelab-detect")
def main(cfg: DictConfig) -> None:
    """Entry point of `aelab-detect`."""
    from aelab.utils.task import run_task

    run_task(detect_task, cfg)


if __name__ == "__main__":
    main()
