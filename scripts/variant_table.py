"""The variant table of the README: every model option trained alike, its test MSE and its own figures.

    python scripts/variant_table.py [--epochs 30] [--data mnist_5k] [--out logs/variants] [-- more overrides]

Trains each variant (`net=mlp`; `net=conv` for those that need a feature map) with its defaults on the same
data and epochs, one after another through `aelab-train -m`, then writes results/variants.md and
results/variants.json, which README.md copies (`python scripts/readme_sync.py`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hydra.utils import get_class
from omegaconf import OmegaConf
from sweeps import run_sweep

from aelab.collect import load_jobs
from aelab.train import CONFIGS
from results import write_result

# Each variant's own figures, as (metrics.json key, label, format); the test MSE comes first for all.
FIGURES = {
    "sparse_ae": [("test/mean_activation", "mean activation", "{:.3f}")],
    "denoising_ae": [
        ("test/recon_noisy", "recon from noisy input {} nats", "{:.1f}"),
        ("test/recon", "clean input {}", "{:.1f}"),
    ],
    "contractive_ae": [("test/jacobian_norm", "Jacobian norm", "{:.3g}")],
    "vae": [
        ("test/elbo", "ELBO {} nats", "{:.1f}"),
        ("test/nll_iwae", "−log p(x) ≤ {} (IWAE, k=64)", "{:.1f}"),
        ("test/kl", "KL {}", "{:.1f}"),
    ],
    "beta_vae": [
        ("test/elbo", "ELBO {} nats", "{:.1f}"),
        ("test/nll_iwae", "−log p(x) ≤ {} (IWAE, k=64)", "{:.1f}"),
        ("test/kl", "KL {}", "{:.1f}"),
    ],
    "vq_vae": [("test/perplexity", "perplexity {} of 512 codes", "{:.0f}"), ("test/usage", "usage {}", "{:.2f}")],
    "wae": [("test/mmd_raw", "MMD² to the prior", "{:.3g}")],
    "aae": [("test/disc_accuracy", "discriminator accuracy", "{:.2f}")],
    "ksparse_ae": [],
}


def variants() -> list[str]:
    """Every model option that reconstructs (the table compares test MSEs), in name order."""
    names = sorted(p.stem for p in (CONFIGS / "model").glob("*.yaml") if not p.stem.startswith("_"))
    return [name for name in names if get_class(OmegaConf.load(CONFIGS / "model" / f"{name}.yaml")._target_).can_decode]


def net_for(variant: str) -> str:
    """The net a variant trains on here."""
    target = OmegaConf.load(CONFIGS / "model" / f"{variant}.yaml")._target_
    return "conv" if get_class(target).needs_spatial_features else "mlp"


def figures(variant: str, metrics: dict) -> str:
    """The variant's own figures as one cell."""
    parts = []
    for key, label, form in FIGURES.get(variant, []):
        if key in metrics:
            value = form.format(metrics[key])
            parts.append(label.format(value) if "{}" in label else f"{label} {value}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> None:
    """Train every variant, then write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--data", default="mnist_5k")
    parser.add_argument("--out", type=Path, default=Path("logs/variants"))
    parser.add_argument("--reuse", action="store_true", help="write the table from the runs already under --out")
    parser.add_argument("overrides", nargs="*", help="more aelab-train overrides, after --")
    args = parser.parse_args(argv)
    rows, raw, runs = [], {}, []
    for variant in variants():
        if args.reuse and not (args.out / variant).is_dir():
            continue  # a variant added since the runs: the table shows those that ran
        net = net_for(variant)
        settings = [
            f"data={args.data}",
            f"model={variant}",
            f"net={net}",
            "trainer=cpu",
            f"trainer.max_epochs={args.epochs}",
            *args.overrides,
        ]
        jobs = load_jobs([args.out / variant]) if args.reuse else run_sweep(settings, args.out / variant)
        job = jobs.frame.iloc[0]
        runs.append(Path(job.job))
        metrics = json.loads((Path(job.job) / "metrics.json").read_text())
        raw[variant] = {"net": net, **{k: v for k, v in metrics.items() if k.startswith("test/")}}
        rows.append([f"`{variant}`", f"`{net}`", f"{metrics['test/mse']:.4f}", figures(variant, metrics)])
    write_result(
        "variants",
        ["model", "net", "test MSE", "its own figures"],
        rows,
        raw,
        f"python scripts/variant_table.py --epochs {args.epochs} --data {args.data}",
        f"each variant with its defaults on `{args.data}`, {args.epochs} epochs, CPU, one thread, seed 42",
        runs=runs,
    )


if __name__ == "__main__":
    main()
