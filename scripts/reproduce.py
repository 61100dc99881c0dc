"""Run the papers' experiment configs and write REPRODUCTION.md: our numbers beside the papers'.

    python scripts/reproduce.py [--quick] [--only NAME ...] [--out logs/reproduce] [-- more overrides]

The default runs each paper's full setting (`aelab-train -m experiment=<name>`, data under data/).
--quick scales every run down to minutes on a CPU and to the data available offline: the embedded
mnist_5k for MNIST, the real MNIST test images (split into training and test) for the one-class
table, the real ECG5000 files; CIFAR-10 experiments are skipped when its files are absent. Each
run's result goes to <out>/<name>/result.json, and REPRODUCTION.md is rebuilt from every result
there, so experiments can be run one at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf
from sweeps import run_sweep

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
TABLE = REPO / "REPRODUCTION.md"


@dataclass(frozen=True)
class Paper:
    """One experiment config, the metric it is judged by and the paper's number for it."""

    experiment: str
    paper: str
    target: str  # the table or figure, and what the number is
    metric: str  # a key of the runs' metrics.json (mean over the runs of a multirun)
    reference: float | None  # the paper's number in the metric's units; None where it gives none
    baseline: str | None = None  # our own baseline metric from the same runs, reported beside ours
    data: str = "MNIST"  # the full setting's data
    quick: tuple[str, ...] = ()  # overrides of --quick besides the epochs
    quick_epochs: int = 10
    needs: str | None = None  # a data folder (under the data root) without which --quick skips the run
    extra: tuple[str, ...] = field(default=())  # overrides of both modes


MNIST_5K = ("data=mnist_5k",)
PAPERS = [
    Paper(
        "kingma2014_vae_mnist",
        "Kingma & Welling 2014",
        "Fig. 2 (ELBO curves, N_z=20; no table)",
        "test/elbo",
        None,
        quick=MNIST_5K,
        quick_epochs=30,
    ),
    Paper(
        "burda2016_vae_mnist",
        "Burda et al. 2016",
        "Table 1, VAE k=1, test NLL (nats, k=5000)",
        "test/nll_iwae",
        86.76,
        quick=(*MNIST_5K, "model.iwae_samples=1000"),
        quick_epochs=20,
    ),
    Paper(
        "burda2016_iwae_mnist",
        "Burda et al. 2016",
        "Table 1, IWAE k=50, test NLL (nats, k=5000)",
        "test/nll_iwae",
        84.78,
        quick=(*MNIST_5K, "model.iwae_samples=1000"),
        quick_epochs=10,
    ),
    Paper(
        "vincent2010_dae_mnist",
        "Vincent et al. 2010 (SdA tutorial)",
        "test accuracy, 1.3% error after fine-tuning; ours: linear probe on frozen codes",
        "probe/ae_accuracy",
        0.987,
        "probe/pixels_accuracy",
        quick=MNIST_5K,
        quick_epochs=3,
    ),
    Paper(
        "ng_sparse_ae_mnist",
        "Ng 2011 (UFLDL)",
        "filters only (no number); ours: linear probe on codes",
        "probe/ae_accuracy",
        None,
        "probe/pixels_accuracy",
        quick=MNIST_5K,
        quick_epochs=30,
    ),
    Paper(
        "rifai2011_cae_mnist",
        "Rifai et al. 2011",
        "test accuracy, CAE 1.14% error fine-tuned; ours: linear probe",
        "probe/ae_accuracy",
        0.9886,
        "probe/pixels_accuracy",
        quick=MNIST_5K,
        quick_epochs=10,
    ),
    Paper(
        "higgins2017_beta_vae",
        "Higgins et al. 2017",
        "dSprites disentanglement metric (not implemented); ours: ELBO",
        "test/elbo",
        None,
        data="mnist_5k stand-in for dSprites",
        quick_epochs=20,
    ),
    Paper(
        "vandenoord2017_vqvae_cifar10",
        "van den Oord et al. 2017",
        "Table 1, 4.67 bits/dim; ours: MSE (not comparable)",
        "test/mse",
        None,
        data="CIFAR-10",
        quick_epochs=5,
        needs="cifar-10-batches-py",
    ),
    Paper(
        "ruff2018_oneclass_mnist",
        "Ruff et al. 2018",
        "Table 1, DCAE, AUROC mean over the 10 normal digits",
        "anomaly/auroc",
        0.8965,
        "anomaly/pca_auroc",
        quick=("data.test_only=true",),
        quick_epochs=60,
    ),
    Paper(
        "malhotra2016_encdec_ad_ecg",
        "Malhotra et al. 2016 (EncDec-AD)",
        "ECG5000 AUROC; reference: PCA detector (README benchmark), not the paper's data",
        "test/auroc",
        0.9930,
        "test/auroc_pca",
        data="ECG5000",
        quick_epochs=150,
        extra=("callbacks=default",),
    ),  # series AUROC comes from the series_scores callback
]
BY_NAME = {paper.experiment: paper for paper in PAPERS}


def mnist_test_root(out: Path) -> Path:
    """Return a data root whose MNIST/raw links the shared real MNIST test files (never copied)."""
    raw = out / "mnist_test_root" / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for source in (SHARED / "mnist").glob("t10k-*.gz"):
        link = raw / source.name
        if not link.exists():
            link.symlink_to(source)
    return raw.parents[1]


def local_data(paper: Paper) -> list[str]:
    """Return overrides reading the real ECG5000 files from the shared folder, where it is (both modes)."""
    if paper.data == "ECG5000" and (SHARED / "ecg5000").is_dir():
        return [f"data.root={SHARED / 'ecg5000'}", "data.test=ECG5000_TEST_reconstructed.txt.gz"]
    return []


def quick_overrides(paper: Paper, out: Path) -> list[str]:
    """Return the --quick overrides: CPU, fewer epochs, offline data."""
    settings = ["trainer=cpu", f"trainer.max_epochs={paper.quick_epochs}", *paper.quick]
    if "data.test_only=true" in paper.quick and (SHARED / "mnist").is_dir():
        settings.append(f"data.root={mnist_test_root(out)}")
    return settings


def quick_data(paper: Paper, overrides: list[str]) -> str:
    """Describe the data a quick run used."""
    if "data=mnist_5k" in overrides:
        return "mnist_5k (5,000 embedded MNIST images) stand-in"
    if "data.test_only=true" in overrides:
        return "real MNIST test images only, split 80/20 into training and test"
    if any(o.startswith("data.root=") and "ecg5000" in o for o in overrides):
        return "real ECG5000 (UCR split)"
    return paper.data


def hardware() -> str:
    """Describe the machine the runs use."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({os.cpu_count()} cores, {platform.machine()})"


def run(paper: Paper, quick: bool, out: Path, more: list[str]) -> dict:
    """Run one experiment (a multirun where its config sweeps) and return its result record."""
    folder = out / paper.experiment
    shutil.rmtree(folder / "runs", ignore_errors=True)  # stale jobs of an earlier run would be collected
    settings = [*(quick_overrides(paper, out) if quick else []), *local_data(paper)]
    start = time.perf_counter()
    jobs = run_sweep([f"experiment={paper.experiment}", *settings, *paper.extra, *more], folder / "runs")
    done = jobs.frame[jobs.frame.status == "finished"]
    scores = done[paper.metric].astype(float) if paper.metric in done else None
    baseline = done[paper.baseline].astype(float) if paper.baseline in done else None
    config = OmegaConf.load(Path(done.job.iloc[0]) / ".hydra" / "config.yaml") if len(done) else None
    result = {
        "experiment": paper.experiment,
        "mode": "quick" if quick else "full",
        "jobs": len(done),
        "ours": None if scores is None else float(scores.mean()),
        "baseline": None if baseline is None else float(baseline.mean()),
        "data": quick_data(paper, settings),
        "epochs": config.trainer.max_epochs if config else "–",
        "hardware": hardware(),
        "overrides": [*settings, *more],
        "minutes": round((time.perf_counter() - start) / 60, 1),
        "date": time.strftime("%Y-%m-%d"),
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(result, indent=2))
    return result


def number(value: float | None) -> str:
    """Format a number to 4 significant digits, a dash where there is none."""
    return "–" if value is None else f"{value:.4g}"


def row(paper: Paper, result: dict | None) -> str:
    """One Markdown row: paper, metric, the paper's number, ours, our baseline, the setting and the gap."""
    if result is None:
        cells = [number(paper.reference), "not run", "–", "–", "–"]
    else:
        ours, reference = result["ours"], paper.reference
        gap = "–" if ours is None or reference is None else f"{ours - reference:+.3g}"
        label = "**quick**, not the paper's setting" if result["mode"] == "quick" else "full"
        setting = (
            f"{label}; {result['data']}; {result['epochs']} epochs; {result['jobs']} run(s); "
            f"{result['hardware']}; {result['minutes']} min"
        )
        cells = [number(reference), number(ours), number(result["baseline"]), setting, gap]
    name = f"{paper.paper} (`experiment={paper.experiment}`)"
    return "| " + " | ".join([name, f"{paper.target}: `{paper.metric}`", *cells]) + " |"


def write_table(out: Path, skipped: dict[str, str]) -> str:
    """Rebuild REPRODUCTION.md from every result under `out`; return its text."""
    lines = [
        "# Paper reproduction",
        "",
        "Written by `python scripts/reproduce.py` from the runs under "
        f"`{out.relative_to(REPO) if out.is_relative_to(REPO) else out}`. Each experiment's setting and its "
        "deviations from the paper are in its config, `src/aelab/configs/experiment/<name>.yaml`.",
        "Rows marked **quick** ran scaled down (fewer epochs, CPU, offline stand-in data): they check that the "
        "setting trains and show the trend, and are not reproductions of the paper's number.",
        "Gap = ours − paper, in the metric's units; baseline = our own reference from the same runs "
        "(linear probe on raw pixels, PCA detector).",
        "",
        "| paper | metric | paper's number | ours | our baseline | setting | gap |",
        "|---|---|---|---|---|---|---|",
    ]
    for paper in PAPERS:
        path = out / paper.experiment / "result.json"
        lines.append(row(paper, json.loads(path.read_text()) if path.is_file() else None))
    lines += ["", *(f"- `{name}` not run: {why}" for name, why in skipped.items())]
    text = "\n".join(lines).rstrip() + "\n"
    TABLE.write_text(text)
    return text


def main(argv: list[str] | None = None) -> None:
    """Run the chosen experiments one after another, then write REPRODUCTION.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="minutes on a CPU, on the data available offline")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(BY_NAME),
        default=list(BY_NAME),
        metavar="NAME",
        help="experiments to run (default: all)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "logs" / "reproduce")
    parser.add_argument("overrides", nargs="*", help="more aelab-train overrides for every run, after --")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    skipped = {}
    for name in args.only:
        paper = BY_NAME[name]
        if args.quick and paper.needs and not (REPO / "data" / paper.needs).is_dir():
            skipped[name] = f"its data (data/{paper.needs}) is not on this machine"
            continue
        result = run(paper, args.quick, out, args.overrides)
        print(f"{name}: {paper.metric} = {number(result['ours'])} (paper: {number(paper.reference)})")
    print(write_table(out, skipped))


if __name__ == "__main__":
    main()
