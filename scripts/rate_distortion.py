"""Rate-distortion of an autoencoder beside PCA: test PSNR against bits per image over a latent-size sweep.

    python scripts/rate_distortion.py [--quick] [--out logs/rate_distortion] [-- more aelab-train overrides]

Trains one model per latent size (`aelab-train -m model.latent_dim=...`, the compression analysis on),
then draws the PSNR of the model's codes and of PCA's, each stored at --bits bits per value, against
bits per image, and writes rate_distortion.png, .csv and .md into --out. Extra overrides after `--`
(e.g. `-- model=vae net=conv seed=1,2,3`) go to every job; several seeds give mean ± std.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from sweeps import run_sweep

from aelab.collect import markdown, summarise

LATENTS = [2, 4, 8, 16, 32, 64]
QUICK = {"latents": [2, 8, 32], "epochs": 15}


def plot(table: pd.DataFrame, bits: int, raw_bits: float, path: Path) -> Path:
    """Draw PSNR against bits per image for the model and PCA; return the file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), layout="constrained")
    x = table[f"compress/bits_{bits} mean"]
    curves = ((f"compress/psnr_{bits}", "autoencoder", "o"), (f"compress/pca_psnr_{bits}", "PCA", "s"))
    for column, label, marker in curves:
        ax.errorbar(
            x, table[f"{column} mean"], yerr=table[f"{column} std"].fillna(0), marker=marker, capsize=3, label=label
        )
    for xi, yi, latent in zip(x, table[f"compress/psnr_{bits} mean"], table["model.latent_dim"]):
        ax.annotate(f"d={latent}", (xi, yi), textcoords="offset points", xytext=(0, 6), fontsize="x-small", ha="center")
    ax.set_xscale("log", base=2)
    ax.set(
        xlabel=f"bits per image (code at {bits} bits per value; raw image {raw_bits:.0f} bits)",
        ylabel="test PSNR (dB)",
        title="rate-distortion",
    )
    ax.legend()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    """Run the sweep, then write the table and the plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 latent sizes, 15 epochs, CPU: about a minute")
    parser.add_argument("--latents", type=int, nargs="+", help=f"latent sizes (default {LATENTS})")
    parser.add_argument("--bits", type=int, default=8, help="bits per stored code value (32, 16 or 1-15)")
    parser.add_argument("--data", default="mnist_5k")
    parser.add_argument("--epochs", type=int, help="epochs per model (default: the trainer's, 30)")
    parser.add_argument("--out", type=Path, default=Path("logs/rate_distortion"))
    parser.add_argument("overrides", nargs="*", help="more aelab-train overrides, after --")
    args = parser.parse_args(argv)
    latents = args.latents or (QUICK["latents"] if args.quick else LATENTS)
    epochs = args.epochs or (QUICK["epochs"] if args.quick else None)
    settings = [
        f"data={args.data}",
        "model.latent_dim=" + ",".join(map(str, latents)),
        "eval.enabled=true",
        "eval.analyses=[compression]",
        f"eval.compression.bits=[{args.bits}]",
        *(["trainer=cpu"] if args.quick else []),
        *([f"trainer.max_epochs={epochs}"] if epochs else []),
        *args.overrides,
    ]
    jobs = run_sweep(settings, args.out / "runs")
    metrics = [f"compress/bits_{args.bits}", f"compress/psnr_{args.bits}", f"compress/pca_psnr_{args.bits}"]
    table = summarise(jobs, metrics).sort_values("model.latent_dim", key=pd.to_numeric, ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "rate_distortion.csv", index=False)
    keys = [k for k in jobs.varying if k != "seed"]
    text = markdown(table, keys, metrics, jobs.fixed)
    (args.out / "rate_distortion.md").write_text(text)
    raw_bits = float(jobs.frame["compress/raw_bits"].iloc[0])
    picture = plot(table, args.bits, raw_bits, args.out / "rate_distortion.png")
    print(text)
    print(f"plot: {picture}", file=sys.stderr)


if __name__ == "__main__":
    main()
