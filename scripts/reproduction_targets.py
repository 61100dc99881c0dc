"""The numbers and verdicts of the one-class rows (Ruff et al. 2018) and the learnt-features rows of REPRODUCTION.md."""

from __future__ import annotations

import statistics
from collections import defaultdict

from papers import RUFF_ROWS, Paper

DIGIT_TOLERANCE = 0.05  # every digit within this of the paper's row (DCAE)
MEAN_TOLERANCE = 0.02  # the mean within this of the paper's (DCAE)
SVDD_TARGET = 0.93  # Deep SVDD's mean at least this
ERROR_TARGET = 0.016  # fine-tuned test error at most this (SdA, CAE)
SELF_TAUGHT_TARGET = 0.97  # softmax accuracy on digits 0-4 at least this (UFLDL)
FINETUNED = ("vincent2010_dae_mnist", "rifai2011_cae_mnist", "rifai2011_ae_mnist", "rifai2011_dae_mnist")


def data_notes(data: dict) -> str:
    """What a run's data config keeps or changes besides the split: classes trained on, preprocessing."""
    notes = []
    if data.get("normal_classes") is not None:
        classes = ", ".join(str(c) for c in data["normal_classes"])
        notes.append(f" (training on digit{'s' if len(data['normal_classes']) > 1 else ''} {classes} only)")
    if data.get("contrast_norm"):
        scaled = " and min-max scaling by the training images" if data.get("minmax_scale") else ""
        notes.append(f"; global contrast normalisation ({data['contrast_norm']}){scaled}")
    return "".join(notes)


def by_digit(runs: list, metric: str) -> dict[int, list[float]]:
    """The metric of each run, grouped by its normal digit (several seeds of a digit in one list)."""
    found = defaultdict(list)
    for run in runs:
        if metric in run.metrics:
            found[int(run.config["data"]["normal_classes"][0])].append(float(run.metrics[metric]))
    return dict(sorted(found.items()))


def digit_mean(runs: list, metric: str) -> float | None:
    """The mean over digits of each digit's mean over its seeds."""
    digits = by_digit(runs, metric)
    return statistics.fmean(statistics.fmean(v) for v in digits.values()) if digits else None


def metric(paper: Paper, runs: list) -> float | None:
    """The row's number where it is not the plain mean over runs (one-class rows: digits first), else None."""
    return digit_mean(runs, paper.metric) if paper.experiment in RUFF_ROWS else None


def cell(paper: Paper, runs: list, ours: float | None) -> str | None:
    """The 'ours' cell of these rows, or None for the others."""
    if ours is None:
        return None
    if paper.experiment in RUFF_ROWS:
        digits = by_digit(runs, paper.metric)
        rows = RUFF_ROWS[paper.experiment]
        parts = []
        for digit, values in digits.items():
            spread = f" ± {statistics.stdev(values):.3f} over {len(values)} seeds" if len(values) > 1 else ""
            parts.append(f"{digit}: {statistics.fmean(values):.3f}{spread} (paper {rows[digit] / 100:.3f})")
        return f"mean {ours:.4f} over {len(digits)} digits; " + "; ".join(parts)
    if paper.experiment in FINETUNED:
        epochs = [int(run.metrics.get("finetune/epochs", 0)) for run in runs]
        best = [int(run.metrics.get("finetune/best_epoch", 0)) for run in runs]
        ran, chosen = ", ".join(map(str, epochs)), ", ".join(map(str, best))
        return f"{ours:.2%} test error (fine-tuned {ran} epochs, best at {chosen})"
    if paper.experiment == "ng_sparse_ae_mnist":
        official = statistics.fmean(run.metrics.get("self_taught/official_accuracy", float("nan")) for run in runs)
        return f"{ours:.2%} (official test images of 0-4: {official:.2%})"
    return None


def passes_note(runs: list) -> str:
    """Say how far a stopped run got, empty when every run ran its full setting."""
    if all(run.full for run in runs):
        return ""
    passes = sorted({run.passes for run in runs})
    ran = f"{passes[0]:,}" if len(passes) == 1 else f"{passes[0]:,}-{passes[-1]:,}"
    return f"; at the budget ({ran} of {runs[0].total:,} passes), not the paper's setting"


def mean_of(everything: dict, experiment: str, key: str) -> float | None:
    """A metric's mean over another experiment's runs (digits first for one-class rows)."""
    runs = everything.get(experiment) or []
    if experiment in RUFF_ROWS:
        return digit_mean(runs, key)
    values = [float(run.metrics[key]) for run in runs if key in run.metrics]
    return statistics.fmean(values) if values else None


def verdict(paper: Paper, runs: list, ours: float | None, everything: dict) -> str | None:
    """The verdict of these rows against the issue's targets, or None for the other rows."""
    if ours is None:
        return None
    note = passes_note(runs)
    name = paper.experiment
    if name == "ruff2018_oneclass_mnist":
        rows = RUFF_ROWS[name]
        digits = {d: statistics.fmean(v) for d, v in by_digit(runs, paper.metric).items()}
        off = {d: v - rows[d] / 100 for d, v in digits.items() if abs(v - rows[d] / 100) > DIGIT_TOLERANCE}
        gap = ours - paper.reference
        mean_ok = abs(gap) <= MEAN_TOLERANCE and len(digits) == 10
        parts = [f"mean {'within' if mean_ok else 'not within'} 0.02 ({gap:+.4f}, {len(digits)} of 10 digits)"]
        parts.append(
            "every digit within 0.05"
            if not off
            else "outside 0.05: " + ", ".join(f"{d} ({v:+.3f})" for d, v in sorted(off.items()))
        )
        pca = digit_mean(runs, paper.baseline)
        met = mean_ok and not off
        return f"{'target met' if met else 'target missed'}: " + "; ".join(parts) + f"; PCA's mean {pca:.4f}" + note
    if name == "ruff2018_deep_svdd_mnist":
        dcae = mean_of(everything, "ruff2018_oneclass_mnist", "anomaly/auroc")
        pca = digit_mean(runs, paper.baseline)
        met = ours >= SVDD_TARGET and len(by_digit(runs, paper.metric)) == 10
        missed = "" if met else f" by {SVDD_TARGET - ours:.4f}" if ours < SVDD_TARGET else " (not all ten digits)"
        beside = f"PCA's mean {pca:.4f}" + (f", the DCAE's {dcae:.4f}" if dcae is not None else "")
        return f"{'target met' if met else 'target missed'}{missed} (mean ≥ {SVDD_TARGET}); {beside}" + note
    if name in ("vincent2010_dae_mnist", "rifai2011_cae_mnist"):
        scratch = statistics.fmean(run.metrics.get("finetune/scratch_error", float("nan")) for run in runs)
        met = ours <= ERROR_TARGET
        missed = "" if met else f" by {ours - ERROR_TARGET:.2%}"
        beside = [f"the same network without pretraining {scratch:.2%}"]
        if name == "rifai2011_cae_mnist":
            for other, label in (("rifai2011_ae_mnist", "plain AE"), ("rifai2011_dae_mnist", "DAE")):
                value = mean_of(everything, other, "finetune/error")
                beside.append(f"{label} {value:.2%}" if value is not None else f"{label} not run")
        return f"{'target met' if met else 'target missed'}{missed} (≤ {ERROR_TARGET:.1%}); " + ", ".join(beside) + note
    if name in ("rifai2011_ae_mnist", "rifai2011_dae_mnist"):
        cae = mean_of(everything, "rifai2011_cae_mnist", "finetune/error")
        return ("the CAE's row compares" + (f": CAE {cae:.2%}" if cae is not None else "")) + note
    if name == "ng_sparse_ae_mnist":
        pixels = statistics.fmean(run.metrics.get(paper.baseline, float("nan")) for run in runs)
        met = ours >= SELF_TAUGHT_TARGET
        missed = "" if met else f" by {SELF_TAUGHT_TARGET - ours:.2%}"
        return f"{'target met' if met else 'target missed'}{missed} (≥ 97%); raw pixels {pixels:.2%}" + note
    return None
