"""The PCA table of the README: autoencoders against PCA with as many components, on mnist_5k and the real MNIST.

    python scripts/pca_ratio.py [--latent 16] [--epochs 30] [--out logs/pca_ratio]

For each dataset (the embedded mnist_5k; the full MNIST from ../shared/data when it is there) it trains a plain
AE (`net=mlp`), a linear AE (`net=linear`, at --epochs and at 100 epochs: its optimum is the PCA subspace, so
its ratio should approach 1) and a VAE, each running the reconstruction and features analyses, and writes
results/pca_ratio.md and results/pca_ratio.json, which README.md copies (`python scripts/readme_sync.py`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sweeps import run_sweep

from aelab.collect import load_jobs
from results import REPO, write_result

SHARED_MNIST = REPO.parent / "shared" / "data"
RUNS = {  # name: overrides
    "ae": ["model=ae", "net=mlp"],
    "linear": ["model=ae", "net=linear"],
    "linear_100": ["model=ae", "net=linear", "trainer.max_epochs=100"],
    "vae": ["model=vae", "net=mlp"],
}


def datasets() -> dict[str, list[str]]:
    """The data each column uses: mnist_5k always, the full MNIST when the shared files are there."""
    found = {"`mnist_5k`": ["data=mnist_5k"]}
    if (SHARED_MNIST / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file():
        found["real MNIST (60,000 / 10,000)"] = ["data=mnist", f"data.root={SHARED_MNIST}"]
    return found


def ratio(metrics: dict, prefix: str = "") -> str:
    """The model/PCA MSE ratio, on the test split or (prefix `train_`) the training split."""
    return f"{metrics[f'recon/{prefix}pca_ratio']:.4f}"


def main(argv: list[str] | None = None) -> None:
    """Train the four models on each dataset, then write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latent", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("logs/pca_ratio"))
    parser.add_argument("--reuse", action="store_true", help="write the table from the runs already under --out")
    args = parser.parse_args(argv)
    columns = datasets()
    found: dict[str, dict[str, dict]] = {}
    runs: list[Path] = []
    for column, data in columns.items():
        for name, overrides in RUNS.items():
            settings = [
                *data,
                *overrides,
                f"model.latent_dim={args.latent}",
                "trainer=cpu",
                "eval.enabled=true",
                "eval.analyses=[reconstruction,features]",
            ]
            if "trainer.max_epochs=100" not in overrides:
                settings.append(f"trainer.max_epochs={args.epochs}")
            folder = args.out / column.strip("`").split()[0] / name
            jobs = load_jobs([folder]) if args.reuse else run_sweep(settings, folder)
            runs.append(Path(jobs.frame.iloc[0].job))
            found.setdefault(column, {})[name] = json.loads((runs[-1] / "metrics.json").read_text())

    def row(label: str, cell) -> list[str]:
        return [label, *(cell(found[column]) for column in columns)]

    rows = [
        row("AE/PCA MSE ratio, `net=mlp`", lambda m: ratio(m["ae"])),
        row(
            f"AE/PCA MSE ratio, `net=linear`, {args.epochs} epochs (train split)",
            lambda m: f"{ratio(m['linear'])} ({ratio(m['linear'], 'train_')})",
        ),
        row(
            "AE/PCA MSE ratio, `net=linear`, 100 epochs (train split)",
            lambda m: f"{ratio(m['linear_100'])} ({ratio(m['linear_100'], 'train_')})",
        ),
        row("VAE/PCA MSE ratio", lambda m: ratio(m["vae"])),
        row(
            "probe accuracy AE / VAE / PCA codes (pixels; chance)",
            lambda m: (
                f"{m['ae']['probe/ae_accuracy']:.3f} / {m['vae']['probe/ae_accuracy']:.3f} / "
                f"{m['ae']['probe/pca_accuracy']:.3f} ({m['ae']['probe/pixels_accuracy']:.3f}; "
                f"{m['ae']['probe/chance']:.2f})"
            ),
        ),
    ]
    raw = {
        column: {name: {k: v for k, v in m.items() if k.startswith(("recon/", "probe/"))} for name, m in runs.items()}
        for column, runs in found.items()
    }
    write_result(
        "pca_ratio",
        ["", *columns],
        rows,
        raw,
        f"python scripts/pca_ratio.py --latent {args.latent} --epochs {args.epochs}",
        f"latent {args.latent}, {args.epochs} epochs unless stated, CPU, one thread, seed 42; PCA fitted on the "
        "training split with as many components",
        runs=runs,
    )


if __name__ == "__main__":
    main()
