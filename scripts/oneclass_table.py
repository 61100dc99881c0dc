"""The one-class anomaly table (Ruff et al. 2018): AUROC per normal digit for autoencoders and PCA.

    python scripts/oneclass_table.py [--quick] [--models ae vae] [--out logs/oneclass] [-- more overrides]

For each class c of the data, trains on class c only (`data.normal_classes=[c]`), scores every test
image (reconstruction error; the negative ELBO for VAEs) and reports the AUROC of telling the other
classes apart; PCA with as many components as the first model's latent is the baseline. Writes
oneclass.md and oneclass.csv into --out, and results/oneclass.md (which README.md copies) with --results.
Several seeds (`-- seed=1,2,3`) give mean ± std.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sweeps import run_sweep

from aelab.collect import mean_std, summarise
from results import write_result

QUICK = {"epochs": 10}
NORMAL = "data.normal_classes"


def table_of(summary: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Return one row per normal class with a mean and std AUROC column per model and for PCA, plus a mean row."""
    summary = summary.assign(normal=summary[NORMAL].str.strip("[]").astype(int))
    if "model" not in summary:  # a single model: the sweep does not vary it
        summary["model"] = models[0]
    rows = {}
    for model in models:
        mine = summary[summary["model"] == model].set_index("normal")
        rows[model], rows[f"{model} std"] = mine["anomaly/auroc mean"], mine["anomaly/auroc std"]
        if "PCA" not in rows:
            rows["PCA"], rows["PCA std"] = mine["anomaly/pca_auroc mean"], mine["anomaly/pca_auroc std"]
    columns = [*models, "PCA"]
    table = pd.DataFrame(rows)[[c for column in columns for c in (column, f"{column} std")]].sort_index()
    table.loc["mean"] = table.mean()
    return table


def markdown(table: pd.DataFrame, columns: list[str]) -> str:
    """Render the AUROC table, mean ± std over seeds where there are several."""
    lines = ["| normal class | " + " | ".join(f"{c} AUROC" for c in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for normal, row in table.iterrows():
        lines.append(f"| {normal} | " + " | ".join(mean_std(row[c], row[f"{c} std"]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Run the sweep over normal classes (and models), then write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK['epochs']} epochs per model on the CPU")
    parser.add_argument("--models", nargs="+", default=["ae", "vae"], help="model options to compare")
    parser.add_argument("--data", default="mnist_5k")
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--epochs", type=int, help="epochs per model (default: the trainer's, 30)")
    parser.add_argument("--out", type=Path, default=Path("logs/oneclass"))
    parser.add_argument("--results", action="store_true", help="also write results/oneclass.md for the README")
    parser.add_argument("overrides", nargs="*", help="more aelab-train overrides, after --")
    args = parser.parse_args(argv)
    epochs = args.epochs or (QUICK["epochs"] if args.quick else None)
    settings = [
        f"data={args.data}",
        "model=" + ",".join(args.models),
        f"{NORMAL}=choice(" + ",".join(f"[{c}]" for c in args.classes) + ")",
        "eval.enabled=true",
        "eval.analyses=[anomaly]",
        *(["trainer=cpu"] if args.quick else []),
        *([f"trainer.max_epochs={epochs}"] if epochs else []),
        *args.overrides,
    ]
    jobs = run_sweep(settings, args.out / "runs")
    table = table_of(summarise(jobs, ["anomaly/auroc", "anomaly/pca_auroc"]), args.models)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "oneclass.csv", index_label="normal_class")
    text = markdown(table, [*args.models, "PCA"])
    (args.out / "oneclass.md").write_text(text)
    print(text)
    if args.results:
        columns = [*args.models, "PCA"]
        rows = [[normal, *(mean_std(row[c], row[f"{c} std"]) for c in columns)] for normal, row in table.iterrows()]
        command = " ".join(
            [
                "python scripts/oneclass_table.py",
                *(["--quick"] if args.quick else []),
                "--models",
                *args.models,
                "--data",
                args.data,
                "--results",
            ]
        )
        write_result(
            "oneclass",
            ["normal class", *(f"{c} AUROC" for c in columns)],
            rows,
            table.reset_index().to_dict(orient="records"),
            command,
            f"`{args.data}`, {epochs or 30} epochs, latent as configured, PCA with as many components",
            runs=[Path(job) for job in jobs.frame.job],
        )


if __name__ == "__main__":
    main()
