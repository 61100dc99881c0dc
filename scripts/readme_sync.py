"""Copy the generated tables into README.md, so that every figure there comes from a script's output.

    python scripts/readme_sync.py [--check]

1. Renders results/bench_<name>.md from the JSON that `make bench` wrote into BENCHMARKS.md.
2. Replaces each README block `<!-- results/NAME.md ... -->` ... `<!-- end results/NAME.md -->` with that
   file (written by the result scripts: scripts/variant_table.py, pca_ratio.py, oneclass_table.py, or by 1.).

`--check` changes nothing and exits 1 naming every table that would change (tests/test_docs.py runs it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from results import RESULTS, markdown_table

REPO = Path(__file__).resolve().parents[1]
README, BENCHMARKS = REPO / "README.md", REPO / "BENCHMARKS.md"
BLOCK = re.compile(r"(<!-- (results/[\w.-]+\.md)[^\n]*-->\n)(.*?)(<!-- end \2 -->)", re.S)


def benchmark_json() -> dict[str, dict]:
    """Each benchmark's JSON from BENCHMARKS.md, by script name."""
    text = BENCHMARKS.read_text() if BENCHMARKS.is_file() else ""
    found = {}
    for chunk in text.split("\n## ")[1:]:
        raw = re.search(r"```json\n(.*?)\n```", chunk, re.S)
        if raw:
            found[chunk.split("\n", 1)[0].strip()] = json.loads(raw.group(1))
    return found


def mean_std(value: float, std: float | None, digits: int = 4) -> str:
    """`value ± std` at the given digits."""
    return f"{value:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def overhead(data: dict) -> list[list]:
    """benchmarks/overhead.py: aelab and bare Lightning against a plain loop."""
    names = {
        "tiny_mlp_digits": "64-128-32 MLP on `digits`",
        "tiny_mlp_digits_per_tensor_adam": "same, per-tensor Adam",
        "mlp_mnist_5k": "MLP on `mnist_5k`",
        "conv_mnist_5k": "conv autoencoder on `mnist_5k`",
    }
    header = ["case", "plain loop steps/s", "aelab", "aelab / plain (target)", "bare Lightning / plain"]
    rows = [
        [
            names.get(k, k),
            r["plain_steps_per_s"],
            r["aelab_steps_per_s"],
            f"{r['aelab_ratio']} ({r['target']})",
            r["lightning_bare_ratio"],
        ]
        for k, r in data["results"].items()
    ]
    return [header, rows]


def pythae(data: dict) -> list[list]:
    """benchmarks/pythae_vae.py: seconds per epoch and test loss against pythae's."""
    header = ["data", "pythae s/epoch / aelab s/epoch", "aelab test loss", "pythae test loss"]
    rows = [[f"`{k}`", r["ratio"], r["aelab_test_loss"], r["pythae_test_loss"]] for k, r in data["results"].items()]
    return [header, rows]


def sweep_launchers(data: dict) -> list[list]:
    """benchmarks/sweep_launchers.py: wall time of one sweep per launcher."""
    settings = " ".join(s for s in data["settings"] if not s.startswith(("callbacks", "trainer.enable", "print")))
    header = ["launcher", f"wall s ({data['jobs']} jobs: {settings}; median of {len(data['wall_s_all']['basic'])})"]
    rows = [[name, seconds] for name, seconds in data["wall_s_median"].items()]
    return [header, [*rows, ["joblib speed-up", data["speedup_joblib"]]]]


def ecg5000(data: dict) -> list[list]:
    """benchmarks/ecg5000.py: per-beat AUROC and AUPRC of each net and PCA over the seeds."""
    header = ["detector", "AUROC", "AUPRC", "s / epoch"]
    rows = [
        [
            f"`{net}` ({' '.join(r['overrides'][1:])})",
            mean_std(r["auroc"], r["auroc_std"]),
            mean_std(r["auprc"], r["auprc_std"]),
            r["seconds_per_epoch"],
        ]
        for net, r in data["nets"].items()
    ]
    rows += [
        [f"PCA, {k} component(s)", mean_std(r["auroc"], None), mean_std(r["auprc"], None), "–"]
        for k, r in data["pca"].items()
    ]
    for net, r in data.get("held_out", {}).items():
        rows.append(
            [
                f"`{net}` on held-out seeds {r['seeds']}",
                mean_std(r["auroc"], r["auroc_std"]),
                mean_std(r["auprc"], r["auprc_std"]),
                "–",
            ]
        )
    return [header, rows]


def internals(data: dict) -> list[list]:
    """benchmarks/internals.py: what each private-API speed path gains, alone."""
    header = ["variant (one path on public API)", "seconds per epoch vs aelab", "95 % interval", "path kept"]
    rows = [
        [f"`{name}`", r["time_ratio"], "–".join(map(str, r["time_ratio_95"])), "yes" if r.get("kept") else "–"]
        for name, r in data["results"].items()
        if name != "aelab"
    ]
    return [header, rows]


def data_path(data: dict) -> list[list]:
    """benchmarks/data_path.py: the in-memory batches against torchvision's per-sample pipeline."""
    return [
        ["path", "samples/s"],
        [
            ["index batches (aelab)", data["index_samples_per_s"]],
            ["torchvision per-sample `ToTensor`", data["torchvision_samples_per_s"]],
            ["ratio", data["ratio"]],
        ],
    ]


def with_target(row: dict, key: str) -> str:
    """A value, with its target in brackets where it has one."""
    target = row.get(f"target_{key}")
    return f"{row[key]}" + (f" ({target})" if target is not None else "")


def replicas(data: dict) -> list[list]:
    """benchmarks/replicas.py: replica-steps per second against sequential runs and the plain loop."""
    names = {
        "tiny_mlp_digits": "64-128-32 MLP, `digits`",
        "mlp_mnist_5k": "MLP, `mnist_5k`",
        "conv_mnist_5k": "conv, `mnist_5k`",
    }
    header = ["case", "R", "replica-steps/s", "vs R sequential aelab runs (target)", "vs the plain loop (target)"]
    rows = []
    for case, r in data["results"].items():
        for replicas_, row in r["replicas"].items():
            rows.append(
                [
                    names.get(case, case),
                    replicas_,
                    row["replica_steps_per_s"],
                    with_target(row, "vs_sequential"),
                    with_target(row, "vs_plain"),
                ]
            )
    study = data["study"]
    rows.append(
        [
            f"{study['replicas']}-seed study, whole processes",
            study["replicas"],
            f"{study['seconds_one_process']} s vs {study['seconds_sequential_processes']} s",
            f"{study['speedup']} ({study['target_speedup']})",
            f"peak {study['peak_mib_one_process']} MiB vs {study['peak_mib_single_process']} MiB a process",
        ]
    )
    return [header, rows]


RENDERERS = {
    "overhead": overhead,
    "pythae_vae": pythae,
    "sweep_launchers": sweep_launchers,
    "ecg5000": ecg5000,
    "internals": internals,
    "data_path": data_path,
    "replicas": replicas,
}


def rendered() -> dict[Path, str]:
    """The bench tables as they should stand under results/, from BENCHMARKS.md."""
    found = {}
    for name, data in benchmark_json().items():
        if name in RENDERERS and "skipped" not in data:
            header, rows = RENDERERS[name](data)
            note = f"From `make bench` (`benchmarks/{name}.py`), as recorded in BENCHMARKS.md."
            found[RESULTS / f"bench_{name}.md"] = "\n".join([*markdown_table(header, rows), "", note]) + "\n"
    return found


def synced_readme(text: str) -> tuple[str, list[str]]:
    """README text with every block replaced by its file; the blocks whose file is missing."""
    missing = []

    def fill(match: re.Match) -> str:
        path = REPO / match.group(2)
        if not path.is_file():
            missing.append(match.group(2))
            return match.group(0)
        return match.group(1) + path.read_text() + match.group(4)

    return BLOCK.sub(fill, text), missing


def main(argv: list[str] | None = None) -> None:
    """Render the bench tables and fill the README's blocks (or, with --check, say what is stale)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is stale")
    args = parser.parse_args(argv)
    stale = [str(p.relative_to(REPO)) for p, text in rendered().items() if not p.is_file() or p.read_text() != text]
    if not args.check:
        for path, text in rendered().items():
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
    readme = README.read_text()
    synced, missing = synced_readme(readme)
    if synced != readme:
        stale.append("README.md")
        if not args.check:
            README.write_text(synced)
    if missing:
        sys.exit(f"Error: README.md copies {', '.join(missing)}, which no script has written yet: run its script.")
    if args.check and stale:
        sys.exit(f"Error: stale generated tables: {', '.join(stale)}; run python scripts/readme_sync.py.")


if __name__ == "__main__":
    main()
