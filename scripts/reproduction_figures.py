"""The figures of REPRODUCTION.md, drawn from the runs' learning curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def kingma_figure(runs: list, path: Path) -> Path:
    """Kingma & Welling 2014, Fig. 2: train and test ELBO against training samples seen, one colour per N_z."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    finals = []
    for run in sorted(runs, key=lambda r: int(r.config["model"]["latent_dim"])):
        curve = run.curve().dropna(subset=["test_curve/samples_seen"])
        seen = curve["test_curve/samples_seen"]
        (line,) = axes.plot(seen, curve["train/elbo"], label=f"$N_z$ = {run.config['model']['latent_dim']}")
        axes.plot(seen, curve["test_curve/elbo"], "--", color=line.get_color())
        finals += [float(curve["test_curve/elbo"].iloc[-1]), float(curve["train/elbo"].iloc[-1])]
    axes.plot([], [], "k-", label="train")
    axes.plot([], [], "k--", label="test")
    axes.set_xscale("log")
    axes.set_xlabel("training samples evaluated")
    axes.set_ylabel("lower bound per image (nats)")
    axes.set_ylim(min(finals) - 40, max(finals) + 15)  # the first passes' climb would flatten the rest
    axes.set_title("MNIST, AEVB (Kingma & Welling 2014, Fig. 2), aelab")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(ncol=2, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def burda_curves(runs: dict[str, list], references: dict[str, float], path: Path) -> Path:
    """The test -ELBO per pass of each Burda run, its final test NLL at its last pass, the paper's at its last."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    finals = []
    for name, (run, *_) in runs.items():
        curve = run.curve().dropna(subset=["test_curve/elbo"])
        label = name.removeprefix("burda2016_").removesuffix("_mnist")
        (line,) = axes.plot(curve["epoch"] + 1, -curve["test_curve/elbo"], label=f"{label}: test −ELBO")
        finals.append(-float(curve["test_curve/elbo"].iloc[-1]))
        nll, k = run.metrics.get("test/nll_iwae"), int(run.config["model"]["iwae_samples"])
        if nll is not None:
            axes.plot([run.passes], [nll], "o", color=line.get_color(), label=f"{label}: test NLL, k = {k:,}")
        axes.plot([run.total], [references[name]], "x", color=line.get_color(), label=f"{label}: the paper's NLL")
    axes.set_xscale("log")
    axes.set_xlabel("passes over the training images")
    axes.set_ylabel("nats per test image (lower is better)")
    axes.set_ylim(top=min(axes.get_ylim()[1], max(finals) + 20))  # the first passes' fall would flatten the rest
    axes.set_title("Burda et al. 2016 setting at a budget, aelab")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
